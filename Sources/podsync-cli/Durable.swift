import Glibc
import PodSyncCore

// `podsync inspect` of a durable store's files (docs/FORMAT.md, "Files"): a checkpoint or log
// segment block by block, or a whole directory file by file with what podsync_store_open would
// restore. Read through PodSyncCore's DurableFileSummary, which reads blocks with the store's own
// reader, so torn and corrupt mean here what they mean to a store.

enum DurableInput {
    case file
    case directory
}

/// Whether `path` names a directory, or a regular file starting with a durable magic (peeked
/// without consuming anything; pipes and standard input are left to FrameSource, which refuses a
/// durable file with a hint).
func durableInput(_ path: String) -> DurableInput? {
    guard path != "-" else { return nil }
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    if info.st_mode & S_IFMT == S_IFDIR { return .directory }
    guard info.st_mode & S_IFMT == S_IFREG else { return nil }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var prefix = [UInt8](repeating: 0, count: 8)
    let n = prefix.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 8, 0) }
    guard n == 8 else { return nil }
    return prefix.withUnsafeBytes { DurableFileSummary.kind(ofPrefix: $0) } != nil ? .file : nil
}

// MARK: Names

func historyText(_ history: TermHistory) -> String {
    history.entries.map { "term \($0.term) from version \($0.startVersion) after term \($0.previousTerm)" }.joined(separator: ", ")
}

func historyJSON(_ history: TermHistory) -> JSON {
    .array(history.entries.map {
        .object([("term", .int($0.term)), ("start_version", .int($0.startVersion)), ("previous_term", .int($0.previousTerm))])
    })
}

func roleName(_ role: Role) -> String { role == .writer ? "writer" : "replica" }

/// "writer of stream 4444444444444444", "replica of no stream yet".
func whoText(_ role: Role, _ stream: UInt64) -> String {
    "\(roleName(role)) of \(stream == 0 ? "no stream yet" : "stream " + hex16(stream))"
}

func policyName(_ policy: LogPolicy, json: Bool = false) -> String {
    switch policy {
    case .none: "none"
    case .everyFrame: json ? "every_frame" : "every frame"
    case .interval: "interval"
    case .os: json ? "os" : "OS"
    }
}

func errorJSON(_ error: PodSyncError) -> JSON {
    .object([("status", .string(statusName(error.code))), ("code", .int(error.code)), ("message", .string(error.message))])
}

/// Where reading stopped: "end", or "torn" / "corrupt" with the offset, the reason and the bytes
/// from there to the end of the file (what a store replaying a log drops).
func stopJSON(_ stop: DurableFileSummary.Stop, size: Int) -> JSON {
    switch stop {
    case .end:
        return .object([("status", .string("end")), ("offset", .null), ("reason", .null), ("bytes_after", .int(0))])
    case .torn(let offset, let reason), .corrupt(let offset, let reason):
        let status = if case .torn = stop { "torn" } else { "corrupt" }
        return .object([("status", .string(status)), ("offset", .int(offset)), ("reason", .string(reason)),
                        ("bytes_after", .int(size - offset))])
    }
}

/// "torn at byte 680: the file ends ...; a store drops these 20 bytes" (a log; a checkpoint is
/// refused whole, which its restore line says).
func stopText(_ stop: DurableFileSummary.Stop, size: Int, kind: DurableFileSummary.FileKind) -> String? {
    let drops = { (offset: Int) in kind == .log ? "; a store drops these \(counted(size - offset, "byte"))" : "" }
    switch stop {
    case .end: return nil
    case .torn(let offset, let reason): return "torn at byte \(offset): \(reason)" + drops(offset)
    case .corrupt(let offset, let reason): return "corrupt at byte \(offset): \(reason)" + drops(offset)
    }
}

func stateJSON(_ s: DurableFileSummary.State) -> JSON {
    .object([
        ("role", .string(roleName(s.role))), ("diverged", .bool(s.diverged)), ("stream_id", .hex(s.streamID)),
        ("version", .int(s.version)), ("digest", .hex(s.digest)), ("sequence", .int(s.sequence)),
        ("catchup_floor", .int(s.catchupFloor)), ("term", .int(s.term)), ("term_history", historyJSON(s.history)),
        ("log_segment", .int(s.logSegment)), ("log_offset", .int(s.logOffset)), ("policy", .string(policyName(s.policy, json: true))),
    ])
}

// MARK: One file

/// Frame bytes copied out of the file into 64-byte-aligned memory (the alignment frames are read
/// at everywhere else), as a RawFrame for the frame-describing code.
func withAlignedFrame<R>(_ body: UnsafeRawBufferPointer, source: String, index: Int, offset: Int,
                         _ use: (RawFrame) throws -> R) rethrows -> R {
    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(body.count, 1), alignment: 64)
    defer { copy.deallocate() }
    if let base = body.baseAddress { copy.copyMemory(from: base, byteCount: body.count) }
    return try use(RawFrame(source: source, index: index, offset: UInt64(offset), bytes: UnsafeRawBufferPointer(start: copy, count: body.count)))
}

/// `podsync inspect` of a checkpoint or log segment. Returns the exit status: 1 when the file is
/// not whole, a checkpoint does not restore, or a frame or dictionary in it is refused (each
/// problem is also written to standard error).
func inspectDurableFile(_ path: String, json: Bool, schema: Schema?, decoder: Decoder, out: Output) throws -> Int32 {
    let summary: DurableFileSummary
    do throws(PodSyncError) {
        summary = try DurableFileSummary.read(path: path)
    } catch {
        throw Failure("\(path): \(statusName(error.code)): \(error.message)")
    }
    let kindText = summary.kind == .checkpoint ? "checkpoint" : "log segment"
    var problems: [String] = []
    var blockJSON: [JSON] = []
    var frames = 0
    var lastPuts: Int? = nil
    var text: [String] = []

    if !json {
        out.line("\(kindText) \(path): \(counted(summary.size, "byte"))" + (summary.header.map { ", file format \($0.fileVersion), header \($0.headerLength) bytes" } ?? ""))
        if let h = summary.header {
            out.line("  schema \(hex16(h.schemaHash)), stream \(hex16(h.streamID)), version \(h.version)\(h.problem.map { ": CORRUPT: \($0)" } ?? "")")
        }
    }
    for block in summary.blocks {
        var members: [(String, JSON)] = [
            ("index", .int(block.index)), ("offset", .int(block.offset)), ("kind", .string(block.kindName)),
            ("kind_code", .int(block.kind)), ("length", .int(block.length)), ("verified", .bool(block.verified)),
        ]
        let head = "block \(block.index) at byte \(block.offset): \(block.kindName), \(counted(block.length, "byte"))"
        var frameSummary: FrameSummary? = nil
        var frameFailure: FrameFailure? = nil
        text = []
        switch block.content {
        case .unread:
            switch summary.stop {
            case .torn: text.append(head + ": TORN")
            default: text.append(head + ": CORRUPT")
            }
        case .malformed(let why):
            text.append(head + ": MALFORMED: " + why)
            members.append(("malformed", .string(why)))
            problems.append("block \(block.index) at byte \(block.offset) (\(block.kindName)): \(why)")
        case .schema(let hash, let tables):
            let mismatch = summary.header.map { $0.schemaHash != hash } ?? false
            text.append(head + ": hash \(hex16(hash)), \(counted(tables.count, "table")) (\(tables.map(String.init).joined(separator: ", ")))" +
                        (mismatch ? " (NOT the header's schema hash)" : ""))
            members.append(("schema", .object([("hash", .hex(hash)), ("tables", .array(tables.map { .int($0) }))])))
        case .state(let s):
            text.append(head + ": \(whoText(s.role, s.streamID)) at version \(s.version), term \(s.term)\(s.diverged ? ", DIVERGED" : "")")
            text.append("  digest \(hex16(s.digest)), sequence \(s.sequence), catch-up floor \(s.catchupFloor), log policy \(policyName(s.policy))")
            if s.term != 0 { text.append("  history \(historyText(s.history))") }
            if summary.kind == .log, block.index == 0, let h = summary.header, h.version != s.version || h.streamID != s.streamID {
                // A segment's header and first STATE are written together from the same state.
                let why = "the file header (version \(h.version), stream \(hex16(h.streamID))) and this STATE (version \(s.version), stream \(hex16(s.streamID))) disagree"
                text.append("  MISMATCH: " + why)
                problems.append("block 0 at byte \(block.offset) (STATE): " + why)
            }
            if summary.kind == .checkpoint {
                text.append(s.logSegment == 0 ? "  no log segment continues it"
                                              : "  the log continues in segment \(s.logSegment) (log-\(hex16(s.logSegment)).psl) at byte \(s.logOffset)")
            }
            members.append(("state", stateJSON(s)))
        case .dictionary(let id):
            // Loaded, so the frames after it that were compressed with it decode.
            var loaded: UInt32? = nil
            var failure: String? = nil
            let result = summary.withBody(block) { body in
                Result { () throws(PodSyncError) -> UInt32 in try decoder.engine.loadDictionary(body) }
            }
            switch result {
            case .success(let id):
                loaded = id
            case .failure(let error):
                failure = "\(statusName(error.code)): \(error.message)"
                problems.append("block \(block.index) at byte \(block.offset) (DICTIONARY): \(failure!)")
            }
            text.append(head + ": zstd dictionary id \(id)" + (loaded != nil ? " (loaded for the frames after it)" : ": REFUSED: \(failure ?? "")"))
            members.append(("dictionary", .object([("id", .int(id)), ("error", failure.map { .string($0) } ?? .null)])))
        case .tombstones(let tables):
            let parts = tables.map { t in
                "table \(t.table): \(counted(t.count, "deletion"))" + (t.count == 0 ? "" : t.oldest == t.newest ? " (version \(t.oldest))" : " (versions \(t.oldest)..\(t.newest))")
            }
            text.append(head + ": " + (parts.isEmpty ? "none" : parts.joined(separator: "; ")))
            members.append(("tombstones", .array(tables.map {
                .object([("table", .int($0.table)), ("count", .int($0.count)), ("oldest", .int($0.oldest)), ("newest", .int($0.newest))])
            })))
        case .frame:
            text.append(head)
            let index = frames
            frames += 1
            do {
                frameSummary = try summary.withBody(block) { body in
                    try withAlignedFrame(body, source: path, index: index, offset: block.bodyOffset) { frame in
                        try decoder.decode(frame, schema: schema) { FrameSummary(frame, $0, $1) }
                    }
                }
                lastPuts = frameSummary?.puts
            } catch let failure as FrameFailure {
                frameFailure = failure
                lastPuts = nil
                problems.append(failure.text)
                members.append(("frame_error", .object([
                    ("frame", .int(failure.index)), ("offset", .int(failure.offset)), ("status", .string(failure.status)),
                    ("code", failure.code.map { .int($0) } ?? .null), ("message", .string(failure.message)),
                ])))
            }
            if let frameSummary { members.append(("frame", frameSummary.json)) }
        case .versions(let count, let oldest, let newest):
            var line = head + ": " + (count == 0 ? "no record versions" : "\(counted(count, "record version")), " + (oldest == newest ? "\(oldest!)" : "\(oldest!)..\(newest!)"))
            if let puts = lastPuts, puts != count { line += " (NOT the \(puts) records the chunk before it puts)" }
            text.append(line)
            members.append(("versions", .object([("count", .int(count)), ("oldest", oldest.map { .int($0) } ?? .null),
                                                 ("newest", newest.map { .int($0) } ?? .null)])))
        case .end(let endFrames, let records):
            text.append(head + ": \(counted(endFrames, "frame")), \(counted(records, "record"))" +
                        (endFrames != UInt64(frames) ? " (NOT the \(frames) FRAME blocks before it)" : ""))
            members.append(("end", .object([("frames", .int(endFrames)), ("records", .int(records))])))
        }
        if json {
            blockJSON.append(.object(members))
        } else {
            for l in text { out.line(l) }
            if let frameSummary { frameSummary.printText(out, indent: "  ") }
            if let frameFailure { out.line("  \(frameFailure.text)") }
            if !block.verified, let stop = stopText(summary.stop, size: summary.size, kind: summary.kind) { out.line("  " + stop) }
        }
    }
    if let stop = stopText(summary.stop, size: summary.size, kind: summary.kind) {
        if summary.blocks.last?.verified ?? true, !json { out.line(stop) }  // not shown under a block
        // A checkpoint's restore failure below says the same.
        if case .fails = summary.restore {} else { problems.append(stop) }
    }
    var restoreJSON = JSON.null
    var verdict = ""
    switch summary.restore {
    case .notApplicable:
        verdict = summary.isWhole && problems.isEmpty ? "whole" : "NOT whole"
    case .restores(let version, let digest, let records):
        verdict = "restores version \(version), digest \(hex16(digest)), \(counted(records, "record"))"
        restoreJSON = .object([("ok", .bool(true)), ("version", .int(version)), ("digest", .hex(digest)), ("records", .int(records))])
    case .fails(let error):
        verdict = "does NOT restore: \(statusName(error.code)): \(error.message)"
        restoreJSON = .object([("ok", .bool(false)), ("status", .string(statusName(error.code))), ("code", .int(error.code)),
                               ("message", .string(error.message))])
        problems.append("does not restore: \(statusName(error.code)): \(error.message)")
    }
    let ok = problems.isEmpty && summary.isWhole
    if json {
        let header: JSON = summary.header.map { h in
            .object([("file_version", .int(h.fileVersion)), ("header_length", .int(h.headerLength)), ("checksum", .hex(h.checksum)),
                     ("schema_hash", .hex(h.schemaHash)), ("stream_id", .hex(h.streamID)), ("version", .int(h.version)),
                     ("problem", h.problem.map { .string($0) } ?? .null)])
        } ?? .null
        out.line(JSON.object([
            ("file", .string(path)), ("kind", .string(summary.kind.rawValue)), ("size", .int(summary.size)), ("header", header),
            ("blocks", .array(blockJSON)), ("frames", .int(frames)), ("stop", stopJSON(summary.stop, size: summary.size)),
            ("restore", restoreJSON), ("ok", .bool(ok)),
        ]).text)
    } else {
        out.line("\(path): \(kindText), \(counted(summary.blocks.filter { $0.verified }.count, "block")) (\(counted(frames, "frame"))), \(counted(summary.size, "byte")): \(verdict)")
    }
    if !ok {
        out.flush()
        for p in problems { printError("podsync inspect: \(path): \(p)") }
        return 1
    }
    return 0
}

// MARK: A directory

/// `podsync inspect DIR`: each checkpoint and log segment on a line, then what
/// podsync_store_open would restore. Exit status 1 when a file is not whole or a checkpoint does
/// not restore, or when open would fail.
func inspectDurableDirectory(_ path: String, json: Bool, out: Output) throws -> Int32 {
    let listing: DurableDirectoryListing
    let preview: DurableOpenPreview
    do throws(PodSyncError) {
        listing = try DurableFileSummary.listDirectory(path: path)
        preview = try DurableFileSummary.previewOpen(directory: path)
    } catch {
        throw Failure("\(path): \(statusName(error.code)): \(error.message)")
    }
    if listing.checkpoints.isEmpty && listing.logs.isEmpty {
        throw Failure("\(path) holds no checkpoint or log segment of a durable store")
    }
    var problems: [String] = []
    if preview.creates {
        problems.append("no checkpoint: podsync_store_open would create a new store and remove the \(counted(listing.logs.count, "log segment"))")
    }
    var checkpointJSON: [JSON] = []
    var logJSON: [JSON] = []
    var unrestorable: Set<UInt64> = []
    if !json {
        out.line("durable store \(path): \(counted(listing.checkpoints.count, "checkpoint")), \(counted(listing.logs.count, "log segment"))")
    }

    func read(_ entry: DurableDirectoryListing.Entry) -> DurableFileSummary? {
        do throws(PodSyncError) {
            return try DurableFileSummary.read(path: entry.path)
        } catch {
            problems.append("\(entry.name): \(statusName(error.code)): \(error.message)")
            if !json { out.line("\(entry.name): \(statusName(error.code)): \(error.message)") }
            return nil
        }
    }

    for entry in listing.checkpoints {
        guard let s = read(entry) else { continue }
        let state: DurableFileSummary.State? = s.blocks.lazy.compactMap { if case .state(let st) = $0.content { st } else { nil } }.first
        var line = "\(entry.name): "
        if let state {
            line += "version \(state.version), \(whoText(state.role, state.streamID)), term \(state.term), \(counted(s.size, "byte"))"
        } else {
            line += (s.header.map { "version \($0.version), " } ?? "") + "no STATE, \(counted(s.size, "byte"))"
        }
        var restore = JSON.null
        switch s.restore {
        case .restores(_, let digest, let records):
            line += ": restores (digest \(hex16(digest)), \(counted(records, "record")))"
            restore = .object([("ok", .bool(true)), ("digest", .hex(digest)), ("records", .int(records))])
        case .fails(let error):
            line += ": does NOT restore: \(statusName(error.code)): \(error.message)"
            problems.append("\(entry.name) does not restore: \(statusName(error.code)): \(error.message)")
            unrestorable.insert(entry.number)
            restore = .object([("ok", .bool(false)), ("status", .string(statusName(error.code))), ("code", .int(error.code)),
                               ("message", .string(error.message))])
        case .notApplicable:
            break
        }
        if let state, state.logSegment != 0 {
            line += "; log from segment \(state.logSegment) at byte \(state.logOffset)"
            // The segment it names, when listed, must hold that offset.
            if let log = listing.logs.first(where: { $0.number == state.logSegment }) {
                var info = stat()
                if stat(log.path, &info) == 0, state.logOffset > UInt64(info.st_size) {
                    line += " (PAST the end of \(log.name), \(counted(Int(info.st_size), "byte")))"
                    problems.append("\(entry.name): its log offset \(state.logOffset) is past the end of \(log.name) (\(counted(Int(info.st_size), "byte")))")
                }
            }
        }
        if json {
            checkpointJSON.append(.object([
                ("number", .int(entry.number)), ("file", .string(entry.name)), ("size", .int(s.size)),
                ("version", s.header.map { .int($0.version) } ?? .null), ("state", state.map(stateJSON) ?? .null),
                ("stop", stopJSON(s.stop, size: s.size)), ("restore", restore), ("ok", .bool(s.isWhole)),
            ]))
        } else {
            out.line(line)
        }
    }

    for entry in listing.logs {
        guard let s = read(entry) else { continue }
        var first: DurableFileSummary.State? = nil
        var laterStates: [DurableFileSummary.State] = []
        var frames = 0, dictionaries = 0, malformed = 0
        var low = UInt64.max, high: UInt64 = 0
        var terms: [UInt64] = []
        for block in s.blocks {
            switch block.content {
            case .state(let st):
                if first == nil && block.index == 0 { first = st } else { laterStates.append(st) }
            case .frame(let h):
                frames += 1
                low = min(low, h.stateVersion)
                high = max(high, h.stateVersion)
                if !terms.contains(h.term) { terms.append(h.term) }
            case .dictionary:
                dictionaries += 1
            case .malformed:
                malformed += 1
            default:
                break
            }
        }
        terms.sort()
        var line = "\(entry.name): from version \(s.header.map { String($0.version) } ?? "?")"
        if let first { line += ", \(whoText(first.role, first.streamID)), term \(first.term), policy \(policyName(first.policy))" }
        line += ", \(counted(s.size, "byte")): "
        var parts: [String] = []
        if dictionaries > 0 { parts.append(counted(dictionaries, "dictionary", "dictionaries")) }
        if frames == 0 {
            parts.append("no frames")
        } else {
            let versions = low == high ? "version \(low)" : "versions \(low)..\(high)"
            let termText = terms.count == 1 ? (terms[0] == 0 ? "" : ", term \(terms[0])") : ", terms " + terms.map(String.init).joined(separator: ", ")
            parts.append("\(counted(frames, "frame")) (\(versions)\(termText))")
        }
        for st in laterStates { parts.append("STATE: \(whoText(st.role, st.streamID)), term \(st.term)") }
        if malformed > 0 { parts.append("\(malformed) MALFORMED") }
        line += parts.joined(separator: ", ")
        if let stop = stopText(s.stop, size: s.size, kind: .log) {
            line += "; " + stop
            problems.append("\(entry.name): \(stop)")
        } else if malformed > 0 || s.header?.problem != nil {
            problems.append("\(entry.name): not whole")
        } else {
            line += "; ends cleanly"
        }
        if json {
            logJSON.append(.object([
                ("number", .int(entry.number)), ("file", .string(entry.name)), ("size", .int(s.size)),
                ("version", s.header.map { .int($0.version) } ?? .null), ("stream_id", s.header.map { .hex($0.streamID) } ?? .null),
                ("state", first.map(stateJSON) ?? .null), ("frames", .int(frames)),
                ("first_version", frames == 0 ? .null : .int(low)), ("last_version", frames == 0 ? .null : .int(high)),
                ("frame_terms", .array(terms.map { .int($0) })), ("states", .array(laterStates.map(stateJSON))),
                ("dictionaries", .int(dictionaries)), ("stop", stopJSON(s.stop, size: s.size)), ("ok", .bool(s.isWhole)),
            ]))
        } else {
            out.line(line)
        }
    }

    if !json {
        for name in listing.temporary { out.line("\(name): a checkpoint being written or cut short (open removes it)") }
        if !listing.others.isEmpty { out.line("other files: " + listing.others.joined(separator: ", ")) }
    }

    // What podsync_store_open would do.
    let checkpointName = { (n: UInt64) in "checkpoint-\(hex16(n)).psc" }
    let logName = { (n: UInt64) in "log-\(hex16(n)).psl" }
    for s in preview.skipped where !unrestorable.contains(s.number) {
        // A checkpoint that restores by itself but not as the store finds it (its file name).
        problems.append("open skips \(checkpointName(s.number)): \(statusName(s.error.code)): \(s.error.message)")
    }
    if let failure = preview.failure { problems.append("open fails: \(statusName(failure.code)): \(failure.message)") }
    if preview.failure == nil && preview.droppedBytes > 0 {
        problems.append("open drops \(counted(preview.droppedBytes, "byte")) of the log")
    }
    if json {
        var open: [(String, JSON)] = [
            ("creates", .bool(preview.creates)), ("failure", preview.failure.map(errorJSON) ?? .null),
            ("skipped", .array(preview.skipped.map { s in
                .object([("number", .int(s.number)), ("status", .string(statusName(s.error.code))), ("code", .int(s.error.code)),
                         ("message", .string(s.error.message))])
            })),
            ("checkpoint", preview.checkpoint.map { .int($0) } ?? .null), ("checkpoint_version", .int(preview.checkpointVersion)),
            ("segments", .array(preview.segments.map { g in
                .object([("number", .int(g.number)), ("from", .int(g.from)), ("frames", .int(g.frames)),
                         ("dropped_bytes", .int(g.dropped)), ("torn", .bool(g.torn)), ("broken", .bool(g.broken))])
            })),
        ]
        if preview.checkpoint != nil && preview.failure == nil {
            open += [
                ("role", .string(roleName(preview.role ?? .replica))), ("stream_id", .hex(preview.streamID)),
                ("restored_version", .int(preview.restoredVersion)), ("digest", .hex(preview.digest)),
                ("log_frames", .int(preview.logFrames)), ("dropped_bytes", .int(preview.droppedBytes)),
                ("term", .int(preview.term)), ("new_term", .bool(preview.newTerm)),
                ("opened_term", .int(preview.newTerm ? preview.term + 1 : preview.term)),
            ]
        }
        out.line(JSON.object([
            ("directory", .string(path)), ("checkpoints", .array(checkpointJSON)), ("logs", .array(logJSON)),
            ("temporary", .array(listing.temporary.map { .string($0) })), ("others", .array(listing.others.map { .string($0) })),
            ("open", .object(open)), ("ok", .bool(problems.isEmpty)),
        ]).text)
    } else if preview.creates {
        out.line("open: no checkpoint: podsync_store_open creates a new store here" +
                 (listing.logs.isEmpty ? "" : " (and removes the \(counted(listing.logs.count, "log segment")))"))
    } else {
        for s in preview.skipped {
            out.line("open: skips \(checkpointName(s.number)): \(statusName(s.error.code)): \(s.error.message)")
        }
        if let failure = preview.failure {
            out.line("open: FAILS: \(statusName(failure.code)): \(failure.message)")
        } else if let n = preview.checkpoint {
            var line = "open: restores \(checkpointName(n)) (version \(preview.checkpointVersion))"
            if let start = preview.segments.first {
                line += " and replays \(counted(preview.logFrames, "log frame")) from \(logName(start.number)) at byte \(start.from) on"
            } else {
                line += "; no log continues it"
            }
            line += ": \(whoText(preview.role ?? .replica, preview.streamID)) at version \(preview.restoredVersion), digest \(hex16(preview.digest)), term \(preview.term)"
            if preview.droppedBytes > 0 {
                let stops = preview.segments.filter { $0.dropped > 0 }.map { logName($0.number) }
                line += "; drops \(counted(preview.droppedBytes, "byte")) (\(stops.joined(separator: ", ")))"
            }
            if preview.newTerm {
                line += "; as a writer it starts term \(preview.term + 1) (it cannot prove it lost no frame it handed out)"
            }
            out.line(line)
        }
    }
    if !problems.isEmpty {
        out.flush()
        for p in problems { printError("podsync inspect: \(path): \(p)") }
        return 1
    }
    return 0
}
