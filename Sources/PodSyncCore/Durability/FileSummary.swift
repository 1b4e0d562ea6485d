import CZstd

/// A read-only look at one file of a durable store (docs/FORMAT.md, "Files"), for tools that
/// describe them (`podsync inspect`): its header, each block in order as a store reads it, where
/// and why reading stopped, and for a checkpoint whether it restores as `podsync_store_open`
/// restores one. Nothing is written, locked or removed; a store may have the directory open.
///
/// Blocks are read with the store's own reader (`DurableFormat.readBlock`), so what is whole, torn
/// or corrupt here is exactly what a store sees.
public struct DurableFileSummary {
    public enum FileKind: String, Sendable {
        case checkpoint
        case log
    }

    /// The 48-byte file header as written; `problem` says why a store would refuse it.
    public struct Header: Sendable, Equatable {
        public var fileVersion: UInt32
        public var headerLength: UInt32
        public var checksum: UInt64
        public var schemaHash: UInt64
        public var streamID: UInt64
        /// Checkpoint: the version it holds. Log: the store's version when the segment began.
        public var version: UInt64
        /// nil when the header passes the store's checks (version, length, checksum).
        public var problem: String?
    }

    /// A STATE block (who the store is; in a checkpoint, where its log continues).
    public struct State: Sendable, Equatable {
        public var role: Role
        public var diverged: Bool
        public var streamID: UInt64
        public var version: UInt64
        public var digest: UInt64
        public var sequence: UInt64
        public var catchupFloor: UInt64
        public var term: UInt64
        public var history: TermHistory
        /// Checkpoint: the log segment (0: none) and the offset in it where the changes after
        /// this state begin. 0 in a log.
        public var logSegment: UInt64
        public var logOffset: UInt64
        /// The log policy of the segment this STATE begins.
        public var policy: LogPolicy
    }

    /// The remembered deletions of one table in a TOMBSTONES block.
    public struct Tombstones: Sendable, Equatable {
        public var table: UInt32
        public var count: UInt64
        /// The versions of the oldest and newest deletion (0 when count is 0).
        public var oldest: UInt64
        public var newest: UInt64
    }

    /// What a block's body holds, decoded as far as its kind says.
    public enum Content: Sendable {
        case schema(hash: UInt64, tables: [UInt32])
        case state(State)
        /// A zstd dictionary and its id (0: a raw-content dictionary without one).
        case dictionary(id: UInt32)
        case tombstones([Tombstones])
        /// A frame: its header as peeked (the body is `bodyRange`; decode it with `withBody`).
        case frame(FrameHeader)
        /// The record versions of the preceding chunk: how many, and the oldest and newest
        /// (nil when there are none), from the file header's version.
        case versions(count: Int, oldest: UInt64?, newest: UInt64?)
        case end(frames: UInt64, records: UInt64)
        /// The block verified but its body does not parse as its kind says: why.
        case malformed(String)
        /// The block did not verify (torn or corrupt): its body was not read.
        case unread
    }

    public struct Block: Sendable {
        /// Position among the file's blocks, from 0.
        public var index: Int
        /// The kind as written (1 SCHEMA ... 7 END; another value in a damaged block).
        public var kind: UInt32
        /// Offset of the block's 24-byte header in the file.
        public var offset: Int
        /// The body's length as written (without padding).
        public var length: UInt64
        /// The block passed every check (fits, reserved 0, checksum, known kind, zero padding).
        public var verified: Bool
        public var content: Content

        public var kindName: String { DurableFileSummary.kindName(kind) }
        /// Offset of the body in the file.
        public var bodyOffset: Int { offset &+ DurableFormat.blockHeaderSize }
        /// The body's bytes in the file; nil for a block that did not verify.
        public var bodyRange: Range<Int>? { verified ? bodyOffset..<(bodyOffset + Int(length)) : nil }
    }

    /// Where reading stopped.
    public enum Stop: Sendable, Equatable {
        /// The file ends after a whole block (or after its header when it has none).
        case end
        /// The file ends inside a block or the header: an append (or creation) that did not
        /// complete. A store drops these bytes.
        case torn(offset: Int, reason: String)
        /// The header or a block fails a check. A store drops the bytes from here on.
        case corrupt(offset: Int, reason: String)

        public var offset: Int? {
            switch self {
            case .end: nil
            case .torn(let offset, _), .corrupt(let offset, _): offset
            }
        }
    }

    /// The outcome of restoring a checkpoint as `podsync_store_open` restores one.
    public enum Restore: Sendable, Equatable {
        /// A log segment: it is checked only together with the checkpoint it continues
        /// (`DurableOpenPreview`).
        case notApplicable
        /// Every block verifies, the chunks apply to an empty replica in order and make the state
        /// STATE describes, the record versions and tombstones are in range, END counts the chunks.
        case restores(version: UInt64, digest: UInt64, records: Int)
        /// Why a store would skip this checkpoint (the engine's status and message).
        case fails(PodSyncError)
    }

    public let path: String
    public let kind: FileKind
    /// The file's size in bytes.
    public let size: Int
    /// nil when the file ends inside its 48-byte header.
    public let header: Header?
    public let blocks: [Block]
    public let stop: Stop
    public let restore: Restore
    let bytes: FileBytes

    /// True when the header and every block verify, every body parses, the file ends cleanly and,
    /// for a checkpoint, it restores.
    public var isWhole: Bool {
        guard header?.problem == nil, stop == .end else { return false }
        for b in blocks {
            if case .malformed = b.content { return false }
        }
        if case .fails = restore { return false }
        return true
    }

    /// Calls `body` with a verified block's body, in place in the file's bytes (8-byte aligned, so
    /// a FRAME's body can be validated and decoded as it is). A block that did not verify gives an
    /// empty buffer.
    public func withBody<R>(_ block: Block, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard let range = block.bodyRange, range.upperBound <= bytes.count, let base = bytes.base else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try body(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    /// "SCHEMA", "STATE", ... or "kind 9".
    public static func kindName(_ kind: UInt32) -> String {
        switch DurableFormat.Kind(rawValue: kind) {
        case .schema: "SCHEMA"
        case .state: "STATE"
        case .dictionary: "DICTIONARY"
        case .tombstones: "TOMBSTONES"
        case .frame: "FRAME"
        case .versions: "VERSIONS"
        case .end: "END"
        case nil: "kind \(kind)"
        }
    }

    /// The kind of durable file `prefix` (the first 8 bytes of a file or more) starts like, by
    /// its magic ("PSYNCKPT", "PSYNCLOG"), or nil.
    public static func kind(ofPrefix prefix: UnsafeRawBufferPointer) -> FileKind? {
        guard prefix.count >= 8, let p = prefix.baseAddress else { return nil }
        switch p.le(0, as: UInt64.self) {
        case DurableFormat.checkpointMagic: return .checkpoint
        case DurableFormat.logMagic: return .log
        default: return nil
        }
    }

    /// Reads a checkpoint (`checkpoint-*.psc`) or log segment (`log-*.psl`) by its magic.
    /// Throws only when the file cannot be read (`PODSYNC_E_IO`) or is neither kind
    /// (`PODSYNC_E_FILE_CORRUPT`); damage inside it is described in the summary.
    public static func read(path: String) throws(PodSyncError) -> DurableFileSummary {
        let bytes = try FileIO.read(path)
        let all = bytes.buffer
        guard let kind = kind(ofPrefix: all) else {
            throw PodSyncError(Status.fileCorrupt, "\(path) is not a PodSync checkpoint or log segment (its first bytes are not PSYNCKPT or PSYNCLOG)")
        }
        let magic = kind == .checkpoint ? DurableFormat.checkpointMagic : DurableFormat.logMagic
        let restore: Restore
        if kind == .checkpoint {
            // Exactly what podsync_store_open does with a checkpoint (the file is read again).
            do throws(PodSyncError) {
                var state: DurableState? = nil
                let store = try Store.restoreCheckpoint(path, schema: nil, options: StoreOptions(), state: &state)
                var records = 0
                for t in 0..<store.tableCount { records &+= store.tables[t].count }
                restore = .restores(version: store.version, digest: store.digest, records: records)
            } catch {
                restore = .fails(error)
            }
        } else {
            restore = .notApplicable
        }

        guard all.count >= DurableFormat.fileHeaderSize, let b = all.baseAddress else {
            return DurableFileSummary(path: path, kind: kind, size: all.count, header: nil, blocks: [],
                                      stop: .torn(offset: 0, reason: "the file ends \(all.count) bytes into its \(DurableFormat.fileHeaderSize)-byte header"),
                                      restore: restore, bytes: bytes)
        }
        var header = Header(fileVersion: b.le(8, as: UInt32.self), headerLength: b.le(12, as: UInt32.self),
                            checksum: b.le(16, as: UInt64.self), schemaHash: b.le(24, as: UInt64.self),
                            streamID: b.le(32, as: UInt64.self), version: b.le(40, as: UInt64.self), problem: nil)
        if DurableFormat.readFileHeader(all, magic: magic) == nil {
            if header.fileVersion != DurableFormat.fileVersion {
                header.problem = "file format \(header.fileVersion) is not \(DurableFormat.fileVersion), the one this library reads"
            } else if header.headerLength != UInt32(DurableFormat.fileHeaderSize) {
                header.problem = "header_length \(header.headerLength) is not \(DurableFormat.fileHeaderSize)"
            } else {
                header.problem = "the file header fails its checksum"
            }
            return DurableFileSummary(path: path, kind: kind, size: all.count, header: header, blocks: [],
                                      stop: .corrupt(offset: 0, reason: header.problem!), restore: restore, bytes: bytes)
        }

        var blocks: [Block] = []
        var offset = DurableFormat.fileHeaderSize
        var stop = Stop.end
        reading: while true {
            switch DurableFormat.readBlock(all, at: offset) {
            case .end:
                break reading
            case .block(let block):
                blocks.append(Block(index: blocks.count, kind: block.kind.rawValue, offset: offset, length: UInt64(block.body.count),
                                    verified: true, content: content(of: block, fileVersion: header.version)))
                offset = block.end
            case .torn:
                let left = all.count &- offset
                if left < DurableFormat.blockHeaderSize {
                    stop = .torn(offset: offset, reason: "the file ends \(left) bytes into a block's \(DurableFormat.blockHeaderSize)-byte header")
                } else {
                    let length = b.le(offset + 8, as: UInt64.self)
                    let padded = length > UInt64(Int.max - 8) ? length : UInt64(alignUp(Int(length), 8))
                    // A length no append writes is more likely a damaged header, which a store
                    // takes for a torn append all the same.
                    let cause = length >= 1 << 40 ? "a length no append writes: a damaged block header, which a store takes for a torn append"
                                                  : "an append that did not complete"
                    stop = .torn(offset: offset, reason: "the file ends \(left &- DurableFormat.blockHeaderSize) bytes into the block's \(padded)-byte body: \(cause)")
                    blocks.append(unverified(b, at: offset, index: blocks.count))
                }
                break reading
            case .corrupt(let why):
                if all.count &- offset >= DurableFormat.blockHeaderSize { blocks.append(unverified(b, at: offset, index: blocks.count)) }
                stop = .corrupt(offset: offset, reason: why)
                break reading
            }
        }
        return DurableFileSummary(path: path, kind: kind, size: all.count, header: header, blocks: blocks, stop: stop,
                                  restore: restore, bytes: bytes)
    }

    /// A block whose 24-byte header is in the file but which did not verify.
    static func unverified(_ b: UnsafeRawPointer, at offset: Int, index: Int) -> Block {
        Block(index: index, kind: b.le(offset, as: UInt32.self), offset: offset, length: b.le(offset + 8, as: UInt64.self),
              verified: false, content: .unread)
    }

    /// Decodes a verified block's body.
    static func content(of block: DurableFormat.Block, fileVersion: UInt64) -> Content {
        let body = block.body
        switch block.kind {
        case .schema:
            do throws(PodSyncError) {
                let schema = try Schema(decoding: body)
                return .schema(hash: schema.hash, tables: schema.tables.map { $0.id })
            } catch {
                return .malformed("not a schema: \(error.message)")
            }
        case .state:
            do throws(PodSyncError) {
                let s = try DurableState(decoding: body)
                return .state(State(role: s.role, diverged: s.diverged, streamID: s.streamID, version: s.version, digest: s.digest,
                                    sequence: s.sequence, catchupFloor: s.catchupFloor, term: s.term, history: s.history,
                                    logSegment: s.logSegment, logOffset: s.logOffset, policy: s.policy))
            } catch {
                return .malformed(error.message)
            }
        case .dictionary:
            guard let base = body.baseAddress, body.count > 0 else { return .malformed("the dictionary is empty") }
            return .dictionary(id: UInt32(ZSTD_getDictID_fromDict(base, body.count)))
        case .tombstones:
            var tables: [Tombstones] = []
            var offset = 0
            guard let b = body.baseAddress else { return .tombstones([]) }
            while offset < body.count {
                guard body.count &- offset >= 16 else { return .malformed("a table's entry is cut short at byte \(offset)") }
                let table = b.le(offset, as: UInt32.self)
                let count = b.le(offset + 8, as: UInt64.self)
                offset &+= 16
                guard count <= UInt64((body.count &- offset) / 16) else {
                    return .malformed("table \(table) lists \(count) deletions, more than the block holds")
                }
                var oldest: UInt64 = 0, newest: UInt64 = 0
                for i in 0..<Int(count) {
                    let v = b.le(offset + 16 * i + 8, as: UInt64.self)
                    if i == 0 || v < oldest { oldest = v }
                    if i == 0 || v > newest { newest = v }
                }
                tables.append(Tombstones(table: table, count: count, oldest: oldest, newest: newest))
                offset &+= 16 &* Int(count)
            }
            return .tombstones(tables)
        case .frame:
            do throws(PodSyncError) {
                return .frame(try FrameReader.peek(body))
            } catch {
                return .malformed("not a frame: \(error.message)")
            }
        case .versions:
            // LEB128 numbers V - version, one per record the chunk puts.
            var count = 0
            var low = UInt64.max, high: UInt64 = 0
            var value: UInt64 = 0
            var shift: UInt64 = 0
            for i in 0..<body.count {
                let byte = body[i]
                if shift < 64 { value |= UInt64(byte & 0x7F) << shift }
                if byte & 0x80 == 0 {
                    guard shift < 64 && (shift < 63 || byte <= 1) else { return .malformed("number \(count) is wider than 64 bits") }
                    low = min(low, value)
                    high = max(high, value)
                    count &+= 1
                    value = 0
                    shift = 0
                } else {
                    shift &+= 7
                }
            }
            guard shift == 0 else { return .malformed("the last number is cut short") }
            guard count > 0 else { return .versions(count: 0, oldest: nil, newest: nil) }
            return .versions(count: count, oldest: fileVersion &- high, newest: fileVersion &- low)
        case .end:
            guard body.count == 16, let b = body.baseAddress else { return .malformed("END holds \(body.count) bytes, not 16") }
            return .end(frames: b.le(0, as: UInt64.self), records: b.le(8, as: UInt64.self))
        }
    }
}

// MARK: - Directories

/// The files of a durable store's directory, as `podsync_store_open` names them.
public struct DurableDirectoryListing: Sendable {
    public struct Entry: Sendable, Equatable {
        public var kind: DurableFileSummary.FileKind
        /// The number in the name (`checkpoint-<n>.psc`, `log-<n>.psl`).
        public var number: UInt64
        public var name: String
        public var path: String
    }

    public var directory: String
    /// Checkpoints and log segments, each in number order (the newest last).
    public var checkpoints: [Entry]
    public var logs: [Entry]
    /// `checkpoint-<n>.psc.tmp`: a checkpoint being written, or cut short (open removes them).
    public var temporary: [String]
    /// Any other name but LOCK, sorted.
    public var others: [String]
}

/// What `podsync_store_open` would restore from a directory, worked out without opening it (no
/// lock, nothing written or removed): the newest checkpoint that restores, then the log replayed
/// from the position it names, segment by segment, with the store's own code.
public struct DurableOpenPreview: Sendable {
    /// A newer checkpoint that did not restore.
    public struct Skipped: Sendable {
        public var number: UInt64
        public var error: PodSyncError
    }

    /// A log segment the replay read (or dropped).
    public struct Segment: Sendable {
        public var number: UInt64
        /// Where the replay began in it.
        public var from: Int
        /// FRAME blocks replayed (applied, or the one that stopped the replay).
        public var frames: UInt64
        /// Bytes dropped from this segment: from where the replay stopped to its end (all of it
        /// when the replay stopped before it).
        public var dropped: UInt64
        /// The replay stopped in it at a torn block (an append that never completed).
        public var torn: Bool
        /// The replay stopped in it for another reason (corrupt block, a frame that does not
        /// apply as it did, a segment that does not continue the store's version), or before it.
        public var broken: Bool
    }

    /// The directory holds no checkpoint: open creates a new store (and removes these logs).
    public var creates = false
    /// Open fails with this (no checkpoint restores, a log of another schema or stream).
    public var failure: PodSyncError? = nil
    public var skipped: [Skipped] = []
    /// The checkpoint restored.
    public var checkpoint: UInt64? = nil
    public var checkpointVersion: UInt64 = 0
    public var segments: [Segment] = []
    public var role: Role? = nil
    public var streamID: UInt64 = 0
    public var restoredVersion: UInt64 = 0
    public var digest: UInt64 = 0
    /// As podsync_open_info: log frames replayed and bytes dropped.
    public var logFrames: UInt64 = 0
    public var droppedBytes: UInt64 = 0
    /// The term of the files after the replay.
    public var term: UInt64 = 0
    /// A writer cannot prove it lost nothing it handed out: it starts a new term, `term + 1`
    /// (unless the host passes `new_term`).
    public var newTerm = false
}

extension DurableFileSummary {
    /// The checkpoints and log segments of a durable store's directory, in number order.
    public static func listDirectory(path: String) throws(PodSyncError) -> DurableDirectoryListing {
        let names = try FileIO.list(path)
        var listing = DurableDirectoryListing(directory: path, checkpoints: [], logs: [], temporary: [], others: [])
        for name in names.sorted() {
            if let n = DurableFiles.number(in: name, prefix: "checkpoint-", suffix: ".psc") {
                listing.checkpoints.append(.init(kind: .checkpoint, number: n, name: name, path: FileIO.join(path, name)))
            } else if let n = DurableFiles.number(in: name, prefix: "log-", suffix: ".psl") {
                listing.logs.append(.init(kind: .log, number: n, name: name, path: FileIO.join(path, name)))
            } else if name.hasSuffix(".psc.tmp") {
                listing.temporary.append(name)
            } else if name != "LOCK" {
                listing.others.append(name)
            }
        }
        listing.checkpoints.sort { ($0.number, $0.name) < ($1.number, $1.name) }
        listing.logs.sort { ($0.number, $0.name) < ($1.number, $1.name) }
        return listing
    }

    /// What `podsync_store_open(directory, NULL schema, role 0, default options, default
    /// durability)` would restore, following the steps of `Store.open` (docs/FORMAT.md, "Opening"
    /// and "What a reopened writer proves") with the same checkpoint and segment readers, but
    /// reading only. Throws only when the directory cannot be listed.
    public static func previewOpen(directory: String) throws(PodSyncError) -> DurableOpenPreview {
        let listing = try listDirectory(path: directory)
        var preview = DurableOpenPreview()
        let checkpointNumbers = listing.checkpoints.map { $0.number }
        let logNumbers = listing.logs.map { $0.number }
        guard !checkpointNumbers.isEmpty else {
            preview.creates = true
            return preview
        }
        var restored: Store? = nil
        var restoredState: DurableState? = nil
        // The store reads each file under the name it makes from the number (DurableFiles), which
        // is not always the name listed (digits in upper case or with a sign parse too).
        for entry in listing.checkpoints.reversed() {
            do throws(PodSyncError) {
                var found: DurableState? = nil
                let path = FileIO.join(directory, DurableFiles.checkpointName(entry.number))
                let candidate = try Store.restoreCheckpoint(path, schema: nil, options: StoreOptions(), state: &found)
                restored = consume candidate
                restoredState = found
                preview.checkpoint = entry.number
                break
            } catch {
                if error.code == Status.noMemory {
                    preview.failure = error
                    return preview
                }
                preview.skipped.append(.init(number: entry.number, error: error))
            }
        }
        guard var store = restored.take(), let state = restoredState else {
            let newest = preview.skipped.first?.error.message ?? ""
            preview.failure = PodSyncError(Status.fileCorrupt, "no checkpoint in \(directory) verifies; the newest: \(newest)")
            return preview
        }
        preview.checkpointVersion = store.version

        var info = OpenInfo()
        var proven = state.logSegment != 0 && logNumbers.contains(state.logSegment)
        var stopped = false
        for entry in listing.logs where entry.number >= state.logSegment && state.logSegment != 0 {
            let path = FileIO.join(directory, DurableFiles.logName(entry.number))
            let first = entry.number == state.logSegment
            // Clamped: Store.open's Int(state.logOffset) traps on an offset past Int.max (a
            // checkpoint whose STATE verifies but lies); the segment reader refuses it as broken.
            let from = first ? Int(clamping: state.logOffset) : DurableFormat.fileHeaderSize
            guard !stopped else {
                let size = (try? FileIO.read(path).count) ?? 0
                info.droppedBytes &+= UInt64(size)
                preview.segments.append(.init(number: entry.number, from: from, frames: 0, dropped: UInt64(size), torn: false, broken: true))
                continue
            }
            let framesBefore = info.logFrames
            let outcome: Store.ReplayOutcome
            do throws(PodSyncError) {
                outcome = try store.replaySegment(path, from: from, continuing: !first, info: &info)
            } catch {
                preview.failure = error
                return preview
            }
            preview.segments.append(.init(number: entry.number, from: from, frames: info.logFrames &- framesBefore,
                                          dropped: UInt64(outcome.dropped), torn: outcome.torn, broken: outcome.broken))
            if !outcome.allEveryFrame { proven = false }
            if outcome.dropped > 0 || outcome.broken {
                stopped = true
                info.droppedBytes &+= UInt64(outcome.dropped)
                if !(outcome.torn && entry.number == logNumbers.last) { proven = false }
            }
        }
        preview.role = store.role
        preview.streamID = store.bound ? store.streamID : 0
        preview.restoredVersion = store.version
        preview.digest = store.digest
        preview.logFrames = info.logFrames
        preview.droppedBytes = info.droppedBytes
        preview.term = store.term
        preview.newTerm = store.role == .writer && !proven
        return preview
    }
}
