/// The files of a durable store (docs/FORMAT.md, "Files"): a 48-byte file header, then blocks of
/// a 24-byte header (kind, length, checksum) and a body padded to 8 bytes. A checkpoint holds
/// SCHEMA, STATE, DICTIONARY?, TOMBSTONES, then FRAME + VERSIONS per chunk, then END; a log holds
/// STATE, then FRAME, DICTIONARY and STATE blocks as they happen.
enum DurableFormat {
    static let checkpointMagic: UInt64 = 0x54504B_434E595350  // "PSYNCKPT"
    static let logMagic: UInt64 = 0x474F4C_434E595350         // "PSYNCLOG"
    static let fileVersion: UInt32 = 1
    static let fileHeaderSize = 48
    static let blockHeaderSize = 24

    enum Kind: UInt32 {
        case schema = 1, state = 2, dictionary = 3, tombstones = 4, frame = 5, versions = 6, end = 7
    }

    /// The checksum of a block: its body hashed with its kind and length as the seed.
    static func blockChecksum(kind: UInt32, body: UnsafeRawBufferPointer) -> UInt64 {
        let seed = (UInt64(kind) << 56) ^ UInt64(body.count) ^ 0x5053_594E_424C_4B31
        guard let base = body.baseAddress, body.count > 0 else { return emptyHash(seed: seed) }
        return xxh3(base, body.count, seed: seed)
    }

    static func emptyHash(seed: UInt64) -> UInt64 {
        var zero: UInt8 = 0
        return PodSyncCore.xxh3(&zero, 0, seed: seed)
    }

    /// The 48-byte file header.
    static func fileHeader(magic: UInt64, schemaHash: UInt64, streamID: UInt64, version: UInt64) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: fileHeaderSize)
        h.withUnsafeMutableBytes { p in
            let b = p.baseAddress!
            b.storeLE(magic, at: 0)
            b.storeLE(fileVersion, at: 8)
            b.storeLE(UInt32(fileHeaderSize), at: 12)
            b.storeLE(schemaHash, at: 24)
            b.storeLE(streamID, at: 32)
            b.storeLE(version, at: 40)
            b.storeLE(PodSyncCore.xxh3(b + 24, fileHeaderSize - 24, seed: magic), at: 16)
        }
        return h
    }

    struct FileHeader {
        var schemaHash: UInt64
        var streamID: UInt64
        var version: UInt64
    }

    /// Checks a file header: nil when the bytes are not one of `magic` (too short, other magic,
    /// version or checksum).
    static func readFileHeader(_ bytes: UnsafeRawBufferPointer, magic: UInt64) -> FileHeader? {
        guard bytes.count >= fileHeaderSize, let b = bytes.baseAddress else { return nil }
        guard b.le(0, as: UInt64.self) == magic, b.le(8, as: UInt32.self) == fileVersion,
              b.le(12, as: UInt32.self) == UInt32(fileHeaderSize),
              b.le(16, as: UInt64.self) == PodSyncCore.xxh3(b + 24, fileHeaderSize - 24, seed: magic) else { return nil }
        return FileHeader(schemaHash: b.le(24, as: UInt64.self), streamID: b.le(32, as: UInt64.self), version: b.le(40, as: UInt64.self))
    }

    /// The 24-byte header of a block with this body.
    static func blockHeader(_ kind: Kind, body: UnsafeRawBufferPointer) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockHeaderSize)
        h.withUnsafeMutableBytes { p in
            let b = p.baseAddress!
            b.storeLE(kind.rawValue, at: 0)
            b.storeLE(UInt64(body.count), at: 8)
            b.storeLE(blockChecksum(kind: kind.rawValue, body: body), at: 16)
        }
        return h
    }

    static let zeros = [UInt8](repeating: 0, count: 8)

    /// The pieces of one block: header, body, padding to 8 bytes.
    static func withBlock<R>(_ kind: Kind, _ body: UnsafeRawBufferPointer, _ use: ([UnsafeRawBufferPointer]) throws(PodSyncError) -> R) throws(PodSyncError) -> R {
        let header = blockHeader(kind, body: body)
        let pad = alignUp(body.count, 8) &- body.count
        return try withBytes(header) { (h) throws(PodSyncError) -> R in
            try withBytes(zeros) { (z) throws(PodSyncError) -> R in
                try use([h, body, UnsafeRawBufferPointer(rebasing: z[0..<pad])])
            }
        }
    }

    /// One block read from a file.
    struct Block {
        var kind: Kind
        var body: UnsafeRawBufferPointer
        /// Offset of the block's header in the file, and of the next block.
        var offset: Int
        var end: Int
    }

    enum ReadResult {
        case block(Block)
        /// Clean end of the file.
        case end
        /// The file ends inside this block (a torn append).
        case torn
        /// The block fails its checksum or structure.
        case corrupt(String)
    }

    /// The block at `offset` of a file's bytes.
    static func readBlock(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> ReadResult {
        let count = bytes.count
        if offset == count { return .end }
        guard offset < count, let b = bytes.baseAddress else { return .corrupt("block offset past the end") }
        guard count - offset >= blockHeaderSize else { return .torn }
        let rawKind = b.le(offset, as: UInt32.self)
        let reserved = b.le(offset + 4, as: UInt32.self)
        let length = b.le(offset + 8, as: UInt64.self)
        let checksum = b.le(offset + 16, as: UInt64.self)
        let start = offset + blockHeaderSize
        guard length <= UInt64(count - start) else {
            // A length beyond the file: a torn append, unless the header itself is damaged (a
            // known kind and a zero reserved field say it was written whole).
            return Kind(rawValue: rawKind) != nil && reserved == 0 ? .torn : .corrupt("block header at \(offset) is damaged")
        }
        let n = Int(length)
        let padded = alignUp(n, 8)
        guard padded <= count - start else { return .torn }
        let body = UnsafeRawBufferPointer(start: b + start, count: n)
        guard blockChecksum(kind: rawKind, body: body) == checksum else {
            return .corrupt("block at offset \(offset) fails its checksum")
        }
        guard let kind = Kind(rawValue: rawKind), reserved == 0 else { return .corrupt("block at offset \(offset) has unknown kind \(rawKind)") }
        for i in n..<padded where b.load(fromByteOffset: start + i, as: UInt8.self) != 0 {
            return .corrupt("block at offset \(offset) has non-zero padding")
        }
        return .block(Block(kind: kind, body: body, offset: offset, end: start + padded))
    }
}

/// What a STATE block records: who the store is and, in a checkpoint, where its log continues.
struct DurableState: Equatable {
    var role: Role
    var diverged: Bool
    var streamID: UInt64
    var version: UInt64
    var digest: UInt64
    var sequence: UInt64
    var catchupFloor: UInt64
    var term: UInt64
    var history: TermHistory
    /// Checkpoint: the log segment and offset where the changes after this state begin.
    var logSegment: UInt64 = 0
    var logOffset: UInt64 = 0
    /// The log policy of the segment this STATE begins (a writer reopens in its term only when
    /// every segment it replays was written frame by frame with fsync).
    var policy = LogPolicy.none

    static let fixedSize = 88

    func encoded() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: DurableState.fixedSize + 24 * history.entries.count)
        out.withUnsafeMutableBytes { p in
            let b = p.baseAddress!
            b.storeLE(role.rawValue, at: 0)
            b.storeLE(UInt32(diverged ? 1 : 0) | policy.rawValue << 8, at: 4)
            b.storeLE(streamID, at: 8)
            b.storeLE(version, at: 16)
            b.storeLE(digest, at: 24)
            b.storeLE(sequence, at: 32)
            b.storeLE(catchupFloor, at: 40)
            b.storeLE(term, at: 48)
            b.storeLE(logSegment, at: 56)
            b.storeLE(logOffset, at: 64)
            b.storeLE(UInt32(history.entries.count), at: 72)
            for (i, e) in history.entries.enumerated() {
                b.storeLE(e.term, at: 88 + 24 * i)
                b.storeLE(e.startVersion, at: 96 + 24 * i)
                b.storeLE(e.previousTerm, at: 104 + 24 * i)
            }
        }
        return out
    }

    init(role: Role, diverged: Bool, streamID: UInt64, version: UInt64, digest: UInt64, sequence: UInt64, catchupFloor: UInt64,
         term: UInt64, history: TermHistory) {
        self.role = role
        self.diverged = diverged
        self.streamID = streamID
        self.version = version
        self.digest = digest
        self.sequence = sequence
        self.catchupFloor = catchupFloor
        self.term = term
        self.history = history
    }

    /// Parses a STATE body, checking every field's range.
    init(decoding body: UnsafeRawBufferPointer) throws(PodSyncError) {
        guard body.count >= DurableState.fixedSize, let b = body.baseAddress else { throw DurableState.bad("is too short") }
        guard let role = Role(rawValue: b.le(0, as: UInt32.self)) else { throw DurableState.bad("names no role") }
        let flags = b.le(4, as: UInt32.self)
        guard flags & ~0xFF01 == 0, let policy = LogPolicy(rawValue: flags >> 8) else { throw DurableState.bad("has unknown flags") }
        self.policy = policy
        let count = Int(b.le(72, as: UInt32.self))
        guard count <= TermHistory.maxEntries, body.count == DurableState.fixedSize + 24 * count else {
            throw DurableState.bad("has a term history of the wrong size")
        }
        self.role = role
        diverged = flags & 1 == 1
        streamID = b.le(8, as: UInt64.self)
        version = b.le(16, as: UInt64.self)
        digest = b.le(24, as: UInt64.self)
        sequence = b.le(32, as: UInt64.self)
        catchupFloor = b.le(40, as: UInt64.self)
        term = b.le(48, as: UInt64.self)
        logSegment = b.le(56, as: UInt64.self)
        logOffset = b.le(64, as: UInt64.self)
        history = TermHistory()
        var expected = term
        for i in 0..<count {
            let e = TermEntry(term: b.le(88 + 24 * i, as: UInt64.self), startVersion: b.le(96 + 24 * i, as: UInt64.self),
                              previousTerm: b.le(104 + 24 * i, as: UInt64.self))
            guard e.term == expected, e.previousTerm < e.term else { throw DurableState.bad("has an inconsistent term history") }
            expected = e.previousTerm
            history.entries.append(e)
        }
        guard (term == 0) == history.isEmpty, catchupFloor <= version else { throw DurableState.bad("is inconsistent") }
    }

    static func bad(_ what: String) -> PodSyncError { PodSyncError(Status.fileCorrupt, "STATE block " + what) }
}

/// `withUnsafeBytes` for a body that throws `PodSyncError` (the standard one rethrows untyped).
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(PodSyncError) -> R) throws(PodSyncError) -> R {
    let result: Result<R, PodSyncError> = bytes.withUnsafeBytes { p in
        do throws(PodSyncError) { return .success(try body(p)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// `withUnsafeMutableBytes` for a body that throws `PodSyncError`.
func withMutableBytes<R>(_ bytes: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(PodSyncError) -> R) throws(PodSyncError) -> R {
    let result: Result<R, PodSyncError> = bytes.withUnsafeMutableBytes { p in
        do throws(PodSyncError) { return .success(try body(p)) } catch { return .failure(error) }
    }
    return try result.get()
}
