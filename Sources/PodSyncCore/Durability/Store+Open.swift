/// Opening a durable store (podsync_store_open): the newest checkpoint that verifies, then the
/// log after it, record by record, to the first torn or corrupt one.
public struct OpenInfo: Sendable {
    public var created = false
    public var newTerm = false
    public var fallback = false
    public var checkpointVersion: UInt64 = 0
    public var restoredVersion: UInt64 = 0
    public var logFrames: UInt64 = 0
    public var droppedBytes: UInt64 = 0
    public var term: UInt64 = 0
    public var skippedStatus: Int32 = 0

    public init() {}
}

extension Store {
    /// Opens or creates the durable store in `directory`.
    public static func open(directory: String, schema given: Schema?, role wanted: Role?, options: StoreOptions,
                            durability: DurabilityOptions, info: inout OpenInfo) throws(PodSyncError) -> Store {
        guard !directory.isEmpty else { throw .invalid("the directory path is empty") }
        guard durability.keepCheckpoints >= 1 else { throw .invalid("keep_checkpoints must be at least 1") }
        try FileIO.makeDirectory(directory)
        let lockFD = try FileIO.lock(directory)
        let files = DurableFiles(directory: directory, options: durability, lockFD: lockFD)
        let names = try FileIO.list(directory)
        var checkpointNumbers: [UInt64] = []
        var logNumbers: [UInt64] = []
        for name in names {
            if let n = DurableFiles.number(in: name, prefix: "checkpoint-", suffix: ".psc") { checkpointNumbers.append(n) }
            if let n = DurableFiles.number(in: name, prefix: "log-", suffix: ".psl") { logNumbers.append(n) }
            if name.hasSuffix(".psc.tmp") { FileIO.remove(files.path(name)) }  // a checkpoint a crash cut short
        }
        checkpointNumbers.sort()
        logNumbers.sort()
        files.nextCheckpointNumber = (checkpointNumbers.last ?? 0) &+ 1
        files.nextLogNumber = (logNumbers.last ?? 0) &+ 1

        if checkpointNumbers.isEmpty {
            // A new store: its first checkpoint makes its stream id durable at once.
            guard let schema = given else { throw .invalid("\(directory) holds no checkpoint: a schema is needed to create a store") }
            guard let role = wanted else { throw .invalid("\(directory) holds no checkpoint: a role is needed to create a store") }
            for n in logNumbers { FileIO.remove(files.path(DurableFiles.logName(n))) }  // no checkpoint: nothing they continue
            var store = Store(schema: schema, role: role, options: options)
            store.files = files
            // The log exists before the first checkpoint, so the checkpoint names where it continues.
            try files.startSegment(schemaHash: store.schemaHash, streamID: store.bound ? store.streamID : 0, version: 0,
                                   state: store.durableState(policy: durability.logPolicy))
            try store.checkpoint()
            info.created = true
            info.term = store.term
            return store
        }

        // The newest checkpoint that verifies.
        var restored: Store? = nil
        var restoredState: DurableState? = nil
        for (k, n) in checkpointNumbers.enumerated().reversed() {
            do throws(PodSyncError) {
                var found: DurableState? = nil
                let candidate = try restoreCheckpoint(files.path(DurableFiles.checkpointName(n)), schema: given, options: options, state: &found)
                restored = consume candidate
                restoredState = found
                break
            } catch {
                if error.code == Status.schemaMismatch || error.code == Status.noMemory { throw error }
                if info.skippedStatus == 0 { info.skippedStatus = error.code }
                info.fallback = true
                if k == 0 {
                    throw PodSyncError(Status.fileCorrupt, "no checkpoint in \(directory) verifies; the newest: \(error.message)")
                }
            }
        }
        guard var store = restored.take(), let state = restoredState else {
            throw PodSyncError(Status.fileCorrupt, "no checkpoint in \(directory) verifies")
        }
        if let wanted, wanted != state.role {
            throw PodSyncError(Status.wrongRole, "\(directory) holds a \(state.role == .writer ? "writer" : "replica"), not a \(wanted == .writer ? "writer" : "replica")")
        }
        info.checkpointVersion = store.version

        // The log after it.
        var proven = state.logSegment != 0 && logNumbers.contains(state.logSegment)
        var stopped = false
        // What the replay dropped, cut from the disk before the store logs again (below), so
        // that the next open does not stop at the same place and drop what is logged after it.
        var cutSegment: (number: UInt64, keep: Int)? = nil
        var droppedSegments: [UInt64] = []
        for n in logNumbers where n >= state.logSegment && state.logSegment != 0 {
            let path = files.path(DurableFiles.logName(n))
            guard !stopped else {
                info.droppedBytes &+= UInt64(try FileIO.read(path).count)
                droppedSegments.append(n)
                continue
            }
            let first = n == state.logSegment
            let outcome = try store.replaySegment(path, from: first ? Int(state.logOffset) : DurableFormat.fileHeaderSize,
                                                  continuing: !first, info: &info)
            if !outcome.allEveryFrame { proven = false }
            if outcome.dropped > 0 || outcome.broken {
                stopped = true
                cutSegment = (n, outcome.keep)
                info.droppedBytes &+= UInt64(outcome.dropped)
                // Only a torn last record of the newest segment is a write that never completed;
                // anything else may be a frame that was handed out.
                if !(outcome.torn && n == logNumbers.last) { proven = false }
            }
        }
        if store.role == .writer && !proven {
            let newTerm = durability.newTerm > store.term ? durability.newTerm : store.term &+ 1
            store.history = store.history.starting(term: newTerm, at: store.version, after: store.term)
            store.term = newTerm
            info.newTerm = true
        }
        info.restoredVersion = store.version
        info.term = store.term
        if options.maxRecords != 0 {
            var total = 0
            for t in 0..<store.tableCount { total &+= store.tables[t].count }
            guard UInt64(total) <= options.maxRecords else {
                throw PodSyncError(Status.limit, "\(directory) holds \(total) records, more than max_records \(options.maxRecords)")
            }
        }

        // Checkpoints on disk and the segments their states continue in (for removal later).
        for n in checkpointNumbers {
            let segment = peekLogSegment(files.path(DurableFiles.checkpointName(n))) ?? 0
            files.checkpoints.append((n, segment))
        }
        var lostCheckpointSegment = false
        if let cut = cutSegment {
            // A segment keeps its whole records; one that keeps nothing past its header goes, and
            // so does the checkpoint's own segment when it no longer holds what the checkpoint
            // names (a new checkpoint below then links the state to a log again).
            let own = cut.number == state.logSegment
            if cut.keep == 0 || (own && cut.keep < Int(clamping: state.logOffset)) {
                droppedSegments.insert(cut.number, at: 0)
                lostCheckpointSegment = own
            } else {
                try FileIO.cut(files.path(DurableFiles.logName(cut.number)), to: cut.keep)
            }
            for n in droppedSegments { FileIO.remove(files.path(DurableFiles.logName(n))) }
            try FileIO.syncDirectory(directory)
        }
        files.durableVersion = store.version
        files.writtenVersion = store.version
        store.restoring = false
        store.options = options
        store.files = files
        if durability.logPolicy != .none {
            try files.startSegment(schemaHash: store.schemaHash, streamID: store.bound ? store.streamID : 0, version: store.version,
                                   state: store.durableState(policy: durability.logPolicy))
        }
        // A new term must be on disk before the writer hands out a frame of it: with no log to
        // carry it, or no log the checkpoint links to, a checkpoint does (else a second crash
        // would reopen in the same term and hand out different frames under it).
        if store.role == .writer && ((info.newTerm && durability.logPolicy == .none) || lostCheckpointSegment) {
            try store.checkpoint()
        }
        return store
    }

    /// The log segment a checkpoint's STATE names, read from the file's first 64 KiB; nil if not.
    static func peekLogSegment(_ path: String) -> UInt64? {
        guard let bytes = try? FileIO.read(path, limit: 64 << 10) else { return nil }
        let all = bytes.buffer
        guard DurableFormat.readFileHeader(all, magic: DurableFormat.checkpointMagic) != nil else { return nil }
        var offset = DurableFormat.fileHeaderSize
        for _ in 0..<2 {
            guard case .block(let block) = DurableFormat.readBlock(all, at: offset) else { return nil }
            if block.kind == .state { return (try? DurableState(decoding: block.body))?.logSegment }
            offset = block.end
        }
        return nil
    }

    struct ReplayOutcome {
        var dropped = 0
        var torn = false
        var broken = false
        var allEveryFrame = true
        /// Where the replay stopped: the segment keeps its bytes before this offset (0: the
        /// segment holds nothing worth keeping, not even a whole header and STATE).
        var keep = 0
    }

    /// Applies a log segment's records from `offset`. A segment replayed from its start must
    /// continue the store's stream at its version.
    mutating func replaySegment(_ path: String, from start: Int, continuing: Bool, info: inout OpenInfo) throws(PodSyncError) -> ReplayOutcome {
        var outcome = ReplayOutcome()
        // A segment the system cannot read is not a torn one: opening stops with its error
        // rather than drop what it holds.
        let bytes = try FileIO.read(path)
        let all = bytes.buffer
        guard let header = DurableFormat.readFileHeader(all, magic: DurableFormat.logMagic) else {
            // A segment whose header never reached the disk whole (or an empty one).
            outcome.dropped = all.count
            outcome.torn = all.count < DurableFormat.fileHeaderSize
            outcome.broken = true
            return outcome
        }
        guard header.schemaHash == schemaHash else {
            throw PodSyncError(Status.fileCorrupt, "log \(path) was written for another schema")
        }
        if continuing {
            guard !bound || header.streamID == streamID || header.streamID == 0 else {
                throw PodSyncError(Status.fileCorrupt, "log \(path) belongs to stream \(hex(header.streamID)), not \(hex(streamID))")
            }
            guard header.version == version else {
                // A segment that does not continue where the store is: something between is missing.
                outcome.dropped = all.count
                outcome.broken = true
                return outcome
            }
        }
        guard start >= DurableFormat.fileHeaderSize && start <= all.count else {
            outcome.dropped = max(all.count &- DurableFormat.fileHeaderSize, 0)
            outcome.broken = true
            outcome.keep = all.count
            return outcome
        }
        // The segment's policy is in the STATE block it starts with; a segment cut inside that
        // block holds no frame, so it proves nothing either way.
        switch DurableFormat.readBlock(all, at: DurableFormat.fileHeaderSize) {
        case .block(let first):
            if first.kind != .state || (try? DurableState(decoding: first.body))?.policy != .everyFrame { outcome.allEveryFrame = false }
        case .torn:
            outcome.dropped = all.count &- DurableFormat.fileHeaderSize
            outcome.torn = true
            return outcome
        case .end:
            outcome.keep = all.count
            return outcome  // a header alone: nothing was logged in it
        case .corrupt:
            outcome.allEveryFrame = false
        }
        var offset = start
        while true {
            outcome.keep = offset
            switch DurableFormat.readBlock(all, at: offset) {
            case .end:
                return outcome
            case .torn:
                outcome.dropped = all.count &- offset
                outcome.torn = true
                return outcome
            case .corrupt:
                outcome.dropped = all.count &- offset
                outcome.broken = true
                return outcome
            case .block(let block):
                var ok = true
                switch block.kind {
                case .frame:
                    do throws(PodSyncError) {
                        let status = try applyFrame(block.body)
                        ok = status == Status.ok || status == Status.chunkStaged || status == Status.refreshing
                    } catch {
                        ok = error.code == Status.digestMismatch
                    }
                    info.logFrames &+= 1
                case .state:
                    if let s = try? DurableState(decoding: block.body), s.streamID == (bound ? streamID : 0) || !bound,
                       s.version == version, s.term >= term {
                        if s.policy != .everyFrame { outcome.allEveryFrame = false }
                        role = s.role
                        term = s.term
                        history = s.history
                    } else {
                        ok = false
                    }
                case .dictionary:
                    ok = (try? loadDictionary(block.body)) != nil
                default:
                    ok = false
                }
                guard ok else {
                    outcome.dropped = all.count &- offset
                    outcome.broken = true
                    return outcome
                }
                offset = block.end
            }
        }
    }

    /// Rebuilds a store from one checkpoint file, verifying every block.
    static func restoreCheckpoint(_ path: String, schema given: Schema?, options: StoreOptions,
                                  state restoredState: inout DurableState?) throws(PodSyncError) -> Store {
        let bytes = try FileIO.read(path)
        let all = bytes.buffer
        func corrupt(_ what: String) -> PodSyncError { PodSyncError(Status.fileCorrupt, "checkpoint \(path): \(what)") }
        guard let header = DurableFormat.readFileHeader(all, magic: DurableFormat.checkpointMagic) else {
            throw corrupt("not a PodSync checkpoint, or its header is damaged")
        }
        var offset = DurableFormat.fileHeaderSize
        func next() throws(PodSyncError) -> DurableFormat.Block {
            switch DurableFormat.readBlock(all, at: offset) {
            case .block(let b):
                offset = b.end
                return b
            case .end: throw corrupt("ends before its END block")
            case .torn: throw corrupt("is truncated")
            case .corrupt(let why): throw corrupt(why)
            }
        }
        let schemaBlock = try next()
        guard schemaBlock.kind == .schema else { throw corrupt("does not start with its schema") }
        let schema: Schema
        do { schema = try Schema(decoding: schemaBlock.body) } catch { throw corrupt("schema: \(error.message)") }
        guard schema.hash == header.schemaHash else { throw corrupt("schema does not match its hash") }
        if let given, given.hash != schema.hash {
            throw PodSyncError(Status.schemaMismatch, "\(path) holds a store of another schema (hash \(hex(schema.hash)), not \(hex(given.hash)))")
        }
        let stateBlock = try next()
        guard stateBlock.kind == .state else { throw corrupt("has no STATE block after its schema") }
        let state = try DurableState(decoding: stateBlock.body)
        guard state.streamID == header.streamID, state.version == header.version else { throw corrupt("header and STATE disagree") }

        var restoreOptions = options
        restoreOptions.fillInPlace = true
        restoreOptions.oneWay = false
        restoreOptions.maxRecords = 0
        var store = Store(schema: schema, role: .replica, options: restoreOptions)
        store.restoring = true
        var tombstoneBody: UnsafeRawBufferPointer? = nil
        var frames: UInt64 = 0
        var before = [Int](repeating: 0, count: store.tableCount)
        var done = false
        while !done {
            let block = try next()
            switch block.kind {
            case .dictionary:
                do { _ = try store.loadDictionary(block.body) } catch { throw corrupt("dictionary: \(error.message)") }
            case .tombstones:
                tombstoneBody = block.body
            case .frame:
                for t in 0..<store.tableCount { before[t] = store.tables[t].count }
                let status: Int32
                do { status = try store.applyFrame(block.body) } catch { throw corrupt("chunk \(frames): \(error.message)") }
                guard status == Status.ok || status == Status.chunkStaged else {
                    throw corrupt("chunk \(frames) was not taken (\(Status.name(status)))")
                }
                frames &+= 1
                let versions = try next()
                guard versions.kind == .versions else { throw corrupt("chunk \(frames) has no VERSIONS block") }
                try store.assignVersions(versions.body, from: before, top: state.version, path: path)
            case .end:
                guard block.body.count == 16, let b = block.body.baseAddress, b.le(0, as: UInt64.self) == frames else {
                    throw corrupt("END block disagrees with the \(frames) chunks read")
                }
                guard case .end = DurableFormat.readBlock(all, at: offset) else { throw corrupt("has bytes after its END block") }
                done = true
            default:
                throw corrupt("has an unexpected block of kind \(block.kind.rawValue)")
            }
        }
        guard store.staging == nil, store.version == state.version, store.digest == state.digest,
              !store.bound || store.streamID == state.streamID else {
            throw corrupt("its chunks do not make the state its STATE block describes")
        }
        try store.rebuildChangeLog(floor: state.catchupFloor)
        if let body = tombstoneBody { try store.restoreTombstones(body, top: state.version, path: path) }
        if !store.bound && state.streamID != 0 {
            store.streamID = state.streamID
            store.bound = true
        }
        store.role = state.role
        store.sequence = state.sequence
        store.catchupFloor = state.catchupFloor
        store.term = state.term
        store.history = state.history
        store.diverged = state.diverged
        restoredState = state
        return store
    }

    /// Gives the records a chunk appended (slots from `from[t]` on, in the chunk's order) the
    /// versions its VERSIONS block lists.
    mutating func assignVersions(_ body: UnsafeRawBufferPointer, from: [Int], top: UInt64, path: String) throws(PodSyncError) {
        var position = 0
        let end = body.count
        for t in 0..<tableCount {
            for slot in from[t]..<tables[t].count {
                guard let base = body.baseAddress else { throw PodSyncError(Status.fileCorrupt, "checkpoint \(path): VERSIONS block is short") }
                let d: UInt64
                do { d = try HeaderV2.readVarint(base, &position, end: end, "version") } catch {
                    throw PodSyncError(Status.fileCorrupt, "checkpoint \(path): VERSIONS block is short or malformed")
                }
                guard d < top || (top == 0 && d == 0) else {
                    throw PodSyncError(Status.fileCorrupt, "checkpoint \(path): a record's version is out of range")
                }
                tables[t].meta.base[slot].version = top &- d
            }
        }
        guard position == end else { throw PodSyncError(Status.fileCorrupt, "checkpoint \(path): VERSIONS block has extra bytes") }
    }

    /// The change log of every table from its records' versions, oldest first.
    mutating func rebuildChangeLog(floor: UInt64) throws(PodSyncError) {
        for t in 0..<tableCount {
            let n = tables[t].count
            guard tables[t].log.reserve(max(n &* 2 &+ 4096, 16)) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the change log of table \(tables[t].schema.id)")
            }
            tables[t].log.removeAll()
            for s in 0..<n { tables[t].log.append(LogEntry(version: tables[t].meta[s].version, key: tables[t].keys[s])) }
            sortByVersion(tables[t].log.base, n)
            tables[t].logFloor = 0
        }
        _ = floor
    }

    /// Restores the tombstones of a TOMBSTONES block.
    mutating func restoreTombstones(_ body: UnsafeRawBufferPointer, top: UInt64, path: String) throws(PodSyncError) {
        func corrupt(_ what: String) -> PodSyncError { PodSyncError(Status.fileCorrupt, "checkpoint \(path): TOMBSTONES \(what)") }
        guard let b = body.baseAddress else { return }
        var offset = 0
        while offset < body.count {
            guard body.count - offset >= 16 else { throw corrupt("block is short") }
            let id = b.le(offset, as: UInt32.self)
            let count = b.le(offset + 8, as: UInt64.self)
            offset += 16
            guard let t = schema.tableIndex(of: id) else { throw corrupt("name table \(id), which the schema lacks") }
            guard count <= UInt64((body.count - offset) / 16) else { throw corrupt("count \(count) is more than the block holds") }
            guard tables[t].tombstones.reserve(Int(count)) else { throw PodSyncError(Status.noMemory, "cannot allocate tombstones") }
            var last: UInt64 = 0
            for i in 0..<Int(count) {
                let key = b.le(offset + 16 * i, as: UInt64.self)
                let v = b.le(offset + 16 * i + 8, as: UInt64.self)
                guard v >= last, v <= top, v >= 1, tables[t].index.find(key) == nilSlot, tables[t].tombstones.version(of: key) == nil else {
                    throw corrupt("list a deletion out of order, out of range, twice or of a key that exists")
                }
                last = v
                tables[t].tombstones.add(key: key, version: v)
            }
            offset += 16 * Int(count)
        }
    }
}

/// Sorts change-log entries by version (stable LSD radix sort over the bytes that differ).
func sortByVersion(_ a: UnsafeMutablePointer<LogEntry>, _ n: Int) {
    guard n > 1 else { return }
    var low = UInt64.max, high: UInt64 = 0
    for i in 0..<n {
        low = min(low, a[i].version)
        high = max(high, a[i].version)
    }
    let span = high &- low
    guard span > 0 else { return }
    let scratch = UnsafeMutablePointer<LogEntry>.allocate(capacity: n)
    defer { scratch.deallocate() }
    var source = a, target = scratch
    var shift: UInt64 = 0
    var counts = [Int](repeating: 0, count: 257)
    while shift < 64 && span >> shift != 0 {
        for i in 0..<257 { counts[i] = 0 }
        for i in 0..<n { counts[Int(((source[i].version &- low) >> shift) & 0xFF) &+ 1] &+= 1 }
        for i in 1..<257 { counts[i] &+= counts[i - 1] }
        for i in 0..<n {
            let digit = Int(((source[i].version &- low) >> shift) & 0xFF)
            target[counts[digit]] = source[i]
            counts[digit] &+= 1
        }
        swap(&source, &target)
        shift &+= 8
    }
    if source != a { a.update(from: source, count: n) }
}
