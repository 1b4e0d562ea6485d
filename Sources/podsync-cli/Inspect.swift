import ArgumentParser
import PodSyncCore

/// What one frame holds, as the engine decoded it.
struct FrameSummary {
    struct Section {
        var table: UInt32
        var recordSize: Int
        var puts: Int
        var deletes: Int
        var xor: Bool
        /// FIELDS: fields sent as differences; KEY_RANKS: puts named by rank.
        var diffFields = 0
        var rankedPuts = 0
        /// Keys (8 bytes each) and records, decoded.
        var decodedBytes: UInt64 { UInt64(8 * (puts + deletes) + puts * recordSize) }
    }

    let index: Int
    let offset: UInt64
    let length: Int
    let header: FrameHeader
    let sections: [Section]

    init(_ frame: RawFrame, _ header: FrameHeader, _ sections: [SectionView]) {
        index = frame.index
        offset = frame.offset
        length = frame.bytes.count
        self.header = header
        self.sections = sections.map {
            Section(table: $0.tableID, recordSize: $0.recordSize, puts: $0.putCount, deletes: $0.deleteCount, xor: $0.xor,
                    diffFields: $0.diffFields, rankedPuts: $0.rankedPuts)
        }
    }

    var puts: Int { sections.reduce(0) { $0 + $1.puts } }
    var deletes: Int { sections.reduce(0) { $0 + $1.deletes } }
    var decodedBytes: UInt64 { sections.reduce(0) { $0 + $1.decodedBytes } }
    var isCompressed: Bool { header.codec != FrameLayout.codecNone }
    var isPlain: Bool { header.codec == FrameLayout.codecNone && header.transforms == 0 }

    /// "snapshot at version 20" or "delta 3 -> 4"; "chunk 2 of snapshot at version 20" for a chunk.
    var kind: String {
        if let s = header.summary {
            let modes = ["hashes", "request", "responder hashes"]
            let mode = Int(s.mode) < modes.count ? modes[Int(s.mode)] : "mode \(s.mode)"
            return "summary (\(mode)) of level \(s.level), fan-out 2^\(s.fanoutBits), at version \(header.stateVersion)"
        }
        if let r = header.repair {
            return "repair of level \(r.level) buckets, fan-out 2^\(r.fanoutBits), \(header.baseVersion) -> \(header.stateVersion)"
        }
        let whole = header.isReset ? "snapshot at version \(header.stateVersion)" : "delta \(header.baseVersion) -> \(header.stateVersion)"
        guard let c = header.chunk else { return whole }
        return "chunk \(c.index)\(c.last ? " (last)" : "") of \(whole)"
    }

    /// The chunk's or refresh slice's range of positions (table, seed) as text.
    static func range(_ startTable: UInt32, _ startKey: UInt64, _ last: Bool, _ endTable: UInt32, _ endKey: UInt64) -> String {
        "(\(startTable), \(hex16(startKey))) to " + (last ? "the end" : "(\(endTable), \(hex16(endKey)))")
    }

    /// The frame as text: a first line, then its fields indented by two spaces; every line is
    /// prefixed with `indent` (a frame inside a block of a durable store's file).
    func printText(_ out: Output, indent: String = "") {
        let h = header
        let flags = flagNames(h.flags)
        let transforms = transformNames(h.transforms)
        out.line(indent + "frame \(index) at byte \(offset): \(kind), \(counted(length, "byte")), \(counted(sections.count, "section"))")
        out.line(indent + "  format \(h.formatVersion), header \(h.headerLength) bytes, flags \(flags.isEmpty ? "none" : flags.joined(separator: "|")), codec \(codecName(h.codec)), transforms \(transforms.isEmpty ? "none" : transforms.joined(separator: "|"))")
        out.line(indent + "  schema \(hex16(h.schemaHash)), stream \(hex16(h.streamID)), sequence \(h.sequence), digest \(h.hasDigest ? hex16(h.stateDigest) : "none")")
        if h.term != 0 {
            out.line(indent + "  term \(h.term), history \(historyText(h.history))")
        }
        if let s = h.subscription {
            out.line(indent + "  subscription \(hex16(s)) (a frame of part of the stream)")
        }
        out.line(indent + "  payload \(counted(h.payloadLength, "byte")), dictionary \(h.dictionaryID == 0 ? "none" : String(h.dictionaryID))")
        if let c = h.chunk {
            out.line(indent + "  chunk \(c.index) of snapshot id \(hex16(c.snapshotID)), positions \(Self.range(c.startTable, c.startKey, c.last, c.endTable, c.endKey))\(c.last ? ", \(counted(c.recordCount, "record")) in all chunks" : "")")
        }
        if let r = h.slice {
            out.line(indent + "  refresh slice \(r.index) of pass \(r.pass)\(r.last ? " (last)" : ""), positions \(Self.range(r.startTable, r.startKey, r.last, r.endTable, r.endKey)), \(counted(r.sectionCount, "section"))")
        }
        for (i, s) in sections.enumerated() {
            let slice = i >= h.sectionCount ? " (refresh slice)" : ""
            var relative: [String] = []
            if s.xor { relative.append("XOR-ed with the receiver's records") }
            if s.diffFields > 0 { relative.append("\(counted(s.diffFields, "field")) as differences to them") }
            if s.rankedPuts > 0 { relative.append("\(counted(s.rankedPuts, "put")) named by the rank of its key") }
            let note = relative.isEmpty ? "" : " (" + relative.joined(separator: "; ") + ")"
            out.line(indent + "  table \(s.table): \(s.recordSize)-byte records, \(counted(s.puts, "put")), \(counted(s.deletes, "delete"))\(note)\(slice)")
        }
    }

    var json: JSON {
        let h = header
        return .object([
            ("index", .int(index)), ("offset", .int(offset)), ("frame_length", .int(h.frameLength)),
            ("header_length", .int(h.headerLength)), ("format_version", .int(h.formatVersion)),
            ("kind", .string(h.isReset ? "snapshot" : "delta")),
            ("flags", .array(flagNames(h.flags).map { .string($0) })),
            ("codec", .string(codecName(h.codec))),
            ("transforms", .array(transformNames(h.transforms).map { .string($0) })),
            ("schema_hash", .hex(h.schemaHash)), ("stream_id", .hex(h.streamID)), ("sequence", .int(h.sequence)),
            ("term", .int(h.term)), ("term_history", historyJSON(h.history)),
            ("base_version", .int(h.baseVersion)), ("state_version", .int(h.stateVersion)),
            ("state_digest", h.hasDigest ? .hex(h.stateDigest) : .null),
            ("payload_length", .int(h.payloadLength)), ("dictionary_id", .int(h.dictionaryID)),
            ("sections", .array(sections.enumerated().map { i, s in
                .object([("table", .int(s.table)), ("record_size", .int(s.recordSize)),
                         ("puts", .int(s.puts)), ("deletes", .int(s.deletes)), ("xor", .bool(s.xor)),
                         ("diff_fields", .int(s.diffFields)), ("ranked_puts", .int(s.rankedPuts)),
                         ("refresh_slice", .bool(i >= h.sectionCount))])
            })),
            ("chunk", h.chunk.map { c in
                .object([("snapshot_id", .hex(c.snapshotID)), ("index", .int(c.index)), ("last", .bool(c.last)),
                         ("start_table", .int(c.startTable)), ("start_position", .hex(c.startKey)),
                         ("end_table", c.last ? .null : .int(c.endTable)), ("end_position", c.last ? .null : .hex(c.endKey)),
                         ("record_count", c.last ? .int(c.recordCount) : .null)])
            } ?? .null),
            ("refresh_slice", h.slice.map { r in
                .object([("pass", .int(r.pass)), ("index", .int(r.index)), ("last", .bool(r.last)),
                         ("start_table", .int(r.startTable)), ("start_position", .hex(r.startKey)),
                         ("end_table", r.last ? .null : .int(r.endTable)), ("end_position", r.last ? .null : .hex(r.endKey)),
                         ("sections", .int(r.sectionCount))])
            } ?? .null),
            ("subscription", h.subscription.map { .hex($0) } ?? .null),
        ])
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each frame's header and sections; describe a durable store's files.",
        discussion: """
            Each frame is validated and decoded by the engine (compressed and transformed frames \
            too); its header fields and, per table, the record size and the counts of puts and \
            deletes are printed. Stops with exit status 1 at the first invalid frame.

            A durable store's checkpoint (checkpoint-<n>.psc) or log segment (log-<n>.psl), \
            recognised by its magic (PSYNCKPT, PSYNCLOG), is described block by block: the file \
            header, each block's kind, offset and length, what it holds (STATE, TOMBSTONES, \
            VERSIONS, END; a FRAME as a frame above), where the file stops being whole (torn or \
            corrupt, as a store reading it sees it) and, for a checkpoint, whether it restores \
            as podsync_store_open restores one. A directory is taken as a durable store: each \
            checkpoint and log segment in one line, and what podsync_store_open would restore \
            (read only: nothing is locked, written or removed). Exit status 1 when a file is not \
            whole, a checkpoint does not restore, or a frame inside is invalid.
            """)

    @Argument(help: ArgumentHelp(
        "A file of frames back to back (- for standard input), a checkpoint or log segment of a durable store, or a durable store's directory.",
        valueName: "FILE"))
    var file: String
    @Flag(help: "One JSON object per frame (JSON lines), without the closing summary; for a durable store's file or directory, one JSON object.")
    var json = false
    @Option(help: ArgumentHelp("A schema file: the frames are also checked against it.", valueName: "SCHEMA"))
    var schema: String?
    @OptionGroup var decoding: DecodeOptions

    func run() throws {
        try runCommand("inspect") { out in
            let schema = try self.schema.map { (path) throws(Failure) in try loadSchema(path) }
            switch durableInput(file) {
            case .directory:
                return try inspectDurableDirectory(file, json: json, out: out)
            case .file:
                return try inspectDurableFile(file, json: json, schema: schema, decoder: decoding.decoder(), out: out)
            case nil:
                break
            }
            let decoder = try decoding.decoder()
            let source = try FrameSource(path: file)
            var frames = 0
            var bytes = 0
            while let frame = try source.next() {
                let summary = try decoder.decode(frame, schema: schema) { FrameSummary(frame, $0, $1) }
                if json { out.line(summary.json.text) } else { summary.printText(out) }
                frames += 1
                bytes += frame.bytes.count
            }
            if !json { out.line("\(source.name): \(counted(frames, "frame")), \(counted(bytes, "byte"))") }
            return 0
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the checksum and layout of every frame.",
        discussion: """
            Runs the engine's validation (podsync_frame_validate: header, checksum, codec, \
            transforms, the layout of every section; with --schema also the schema hash and record \
            sizes) on every frame. Prints OK and a summary, or FAIL with the first bad frame's \
            index, byte offset, status and message, and exits with status 1.
            """)

    @Argument(help: fileHelp) var file: String
    @Flag(help: "Print the result as one JSON object.") var json = false
    @Option(help: ArgumentHelp("A schema file: the frames are also checked against it.", valueName: "SCHEMA"))
    var schema: String?
    @OptionGroup var decoding: DecodeOptions

    func run() throws {
        try runCommand("verify") { out in
            let schema = try self.schema.map { (path) throws(Failure) in try loadSchema(path) }
            let decoder = try decoding.decoder()
            let source = try FrameSource(path: file)
            var frames = 0, bytes = 0, snapshots = 0, compressed = 0, transformed = 0
            var failure: FrameFailure? = nil
            do {
                while let frame = try source.next() {
                    let header = try schema == nil ? decoder.check(frame) : decoder.decode(frame, schema: schema) { h, _ in h }
                    frames += 1
                    bytes += frame.bytes.count
                    if header.isReset { snapshots += 1 }
                    if header.codec != FrameLayout.codecNone {
                        compressed += 1
                    } else if header.transforms != 0 {
                        transformed += 1
                    }
                }
            } catch let error as FrameFailure {
                failure = error
            }
            let counts = "\(counted(frames, "frame")), \(counted(bytes, "byte")) (\(counted(snapshots, "snapshot")), \(counted(frames - snapshots, "delta")); \(compressed) compressed, \(transformed) transformed, \(frames - compressed - transformed) plain)"
            if json {
                var members: [(String, JSON)] = [
                    ("ok", .bool(failure == nil)), ("file", .string(source.name)), ("frames", .int(frames)),
                    ("bytes", .int(bytes)), ("snapshots", .int(snapshots)), ("deltas", .int(frames - snapshots)),
                    ("compressed", .int(compressed)), ("transformed", .int(transformed)),
                    ("plain", .int(frames - compressed - transformed)),
                ]
                if let failure {
                    members.append(("error", .object([
                        ("frame", .int(failure.index)), ("offset", .int(failure.offset)),
                        ("status", .string(failure.status)), ("code", failure.code.map { .int($0) } ?? .null),
                        ("message", .string(failure.message)),
                    ])))
                }
                out.line(JSON.object(members).text)
            } else if let failure {
                out.line("FAIL \(source.name): \(failure.text)")
                if frames > 0 { out.line("  valid before it: \(counts)") }
            } else {
                out.line("OK \(source.name): \(counts)")
            }
            return failure == nil ? 0 : 1
        }
    }
}
