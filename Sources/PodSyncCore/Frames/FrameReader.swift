import CZstd

/// A frame's fixed header, decoded.
public struct FrameHeader: Sendable, Equatable {
    public var formatVersion: UInt16
    public var headerLength: Int
    public var frameLength: UInt64
    public var flags: UInt32
    public var sectionCount: Int
    public var codec: UInt8
    public var schemaHash: UInt64
    public var streamID: UInt64
    public var sequence: UInt64
    public var baseVersion: UInt64
    public var stateVersion: UInt64
    public var stateDigest: UInt64
    public var payloadLength: UInt64
    public var transforms: UInt8
    /// The zstd dictionary the payload names (0: none, or the payload's start was not given).
    public var dictionaryID: UInt32 = 0
    /// The writer's term (format 2; 0 for format 1).
    public var term: UInt64 = 0
    /// Format 2: the CHUNK record of a chunk.
    public var chunk: ChunkRecord? = nil
    /// Format 2: the REFRESH_SLICE record of a frame carrying a slice of a rolling refresh.
    public var slice: SliceRecord? = nil
    /// Format 2, term > 0: the TERM_HISTORY record (entry 0 is the frame's term).
    public var history: TermHistory = TermHistory()
    /// Format 2: the REPAIR record of a repair frame.
    public var repair: RepairRecord? = nil
    /// Format 2: the SUMMARY record of a reconciliation message.
    public var summary: SummaryRecord? = nil
    /// Format 2: the SUBSCRIPTION record's hash (a frame of part of the stream), or nil.
    public var subscription: UInt64? = nil
    /// XOR needs the receiver exactly at the base: a delta from v to v + 1, or a subscription's
    /// delta, whose versions jump (applied only at exactly its base).
    var xorAllowed: Bool {
        stateVersion > baseVersion && (stateVersion == baseVersion &+ 1 || subscription != nil)
    }
    /// The records are relative to the receiver's at the base version (XOR or FIELDS).
    var isRelative: Bool { transforms & FrameLayout.relativeTransforms != 0 }

    /// Bytes of the bucket block at the start of the payload (REPAIR, SUMMARY).
    public var bucketBlockLength: Int { Int(truncatingIfNeeded: repair?.blockLength ?? summary?.blockLength ?? 0) }

    /// The frame's sections: `sectionCount` of changes, then the slice's.
    public var totalSectionCount: Int { sectionCount &+ (slice?.sectionCount ?? 0) }

    public var isReset: Bool { flags & FrameLayout.flagReset != 0 }
    public var hasDigest: Bool { flags & FrameLayout.flagHasDigest != 0 }
}

/// One table section of a validated frame; pointers into the caller's frame bytes.
public struct SectionView {
    public var tableID: UInt32
    public var recordSize: Int
    public var putCount: Int
    public var deleteCount: Int
    public var putKeys: UnsafeRawPointer     // putCount little-endian u64, maybe unaligned
    public var deleteKeys: UnsafeRawPointer  // deleteCount little-endian u64, maybe unaligned
    public var records: UnsafeRawPointer     // putCount * recordSize bytes
    /// Position of the section's table in the schema, when validated against one.
    public var tableIndex: Int
    /// The records are XOR-ed with the receiver's record at the base version (zeros if absent).
    public var xor: Bool = false
    /// FIELDS: integer elements sent as zigzag(new − old), undone against the receiver's record
    /// (Codec/FieldDiff.swift); empty when no field of the section is.
    var fieldRuns: [FieldRun] = []
    /// KEY_RANKS: the first `rankedPuts` put keys are ranks (ascending), which a store turns into
    /// its keys before anything else reads them (`Store.resolveRanks`).
    public var rankedPuts: Int = 0
    /// FIELDS: how many of the section's fields are sent as differences.
    public var diffFields: Int = 0
    /// The records or keys are relative to the receiver's (XOR, DIFF fields, ranks).
    public var isRelative: Bool { xor || !fieldRuns.isEmpty || rankedPuts != 0 }
}

/// Validates frames. Nothing is trusted: every length and count is checked against the buffer with
/// overflow-safe arithmetic before it is used, so a lying frame costs O(1) memory to reject.
public enum FrameReader {
    /// The decoded-size limit of store-less validation when the caller sets none.
    public static let defaultMaxDecodedBytes = FrameCodec.defaultMaxDecodedBytes
    /// Decodes the header from the first bytes of a frame (the rest need not be present): magic,
    /// format version, header length and (format 2) the header's fields are checked.
    public static func peek(_ frame: UnsafeRawBufferPointer) throws(PodSyncError) -> FrameHeader {
        let p = try checkPrefix(frame)
        var header: FrameHeader
        if isFormat2(p) {
            let prefix = try HeaderV2.peekPrefix(p, count: frame.count)
            header = try HeaderV2.parse(p, headerLength: prefix.headerLength, flags: prefix.flags)
        } else {
            header = try peekV1(frame)
        }
        header.dictionaryID = dictionaryID(frame, header)
        return header
    }

    /// Steps 1 to 3 (V1 to V3): the prefix, magic and a format version this library reads.
    static func checkPrefix(_ frame: UnsafeRawBufferPointer) throws(PodSyncError) -> UnsafeRawPointer {
        guard frame.count >= HeaderV2.prefixSize, let p = frame.baseAddress else {
            throw PodSyncError(Status.frameTruncated, "\(frame.count) bytes cannot hold the \(HeaderV2.prefixSize)-byte prefix of a frame")
        }
        guard p.le(FrameLayout.offMagic, as: UInt32.self) == FrameLayout.magic else {
            throw PodSyncError(Status.frameMagic, "not a PodSync frame (bad magic)")
        }
        let formatVersion = p.le(FrameLayout.offFormatVersion, as: UInt16.self)
        guard formatVersion == FrameLayout.formatVersion || isFormat2(p) else {
            throw PodSyncError(Status.frameVersion, "frame format version \(formatVersion & 0xFF) is not supported (this library reads 1 and 2)")
        }
        return p
    }

    @inline(__always) static func isFormat2(_ p: UnsafeRawPointer) -> Bool {
        p.load(fromByteOffset: FrameLayout.offFormatVersion, as: UInt8.self) == HeaderV2.formatVersion
    }

    static func dictionaryID(_ frame: UnsafeRawBufferPointer, _ header: FrameHeader) -> UInt32 {
        guard header.codec == FrameLayout.codecZstd && frame.count > header.headerLength, let p = frame.baseAddress else { return 0 }
        return ZSTD_getDictID_fromFrame(p + header.headerLength, frame.count - header.headerLength)
    }

    /// The 88-byte header of format 1.
    static func peekV1(_ frame: UnsafeRawBufferPointer) throws(PodSyncError) -> FrameHeader {
        guard frame.count >= FrameLayout.headerSize, let p = frame.baseAddress else {
            throw PodSyncError(Status.frameTruncated, "\(frame.count) bytes cannot hold the \(FrameLayout.headerSize)-byte header")
        }
        let headerLength = Int(p.le(FrameLayout.offHeaderLength, as: UInt16.self))
        guard headerLength >= FrameLayout.headerSize && headerLength % 8 == 0 else {
            throw .malformed("header length \(headerLength) is not a multiple of 8 of at least \(FrameLayout.headerSize)")
        }
        return FrameHeader(
            formatVersion: FrameLayout.formatVersion, headerLength: headerLength,
            frameLength: p.le(FrameLayout.offFrameLength, as: UInt64.self),
            flags: p.le(FrameLayout.offFlags, as: UInt32.self),
            sectionCount: Int(p.le(FrameLayout.offSectionCount, as: UInt16.self)),
            codec: p.le(FrameLayout.offCodec, as: UInt8.self),
            schemaHash: p.le(FrameLayout.offSchemaHash, as: UInt64.self),
            streamID: p.le(FrameLayout.offStreamID, as: UInt64.self),
            sequence: p.le(FrameLayout.offSequence, as: UInt64.self),
            baseVersion: p.le(FrameLayout.offBaseVersion, as: UInt64.self),
            stateVersion: p.le(FrameLayout.offStateVersion, as: UInt64.self),
            stateDigest: p.le(FrameLayout.offStateDigest, as: UInt64.self),
            payloadLength: p.le(FrameLayout.offPayloadLength, as: UInt64.self),
            transforms: p.le(FrameLayout.offTransforms, as: UInt8.self))
    }

    /// Steps 4 to 7 (V7 to V10): the frame's length against the bytes given, and the checksum.
    static func checkLengthAndChecksum(_ frame: UnsafeRawBufferPointer, frameLength: UInt64, headerLength: Int) throws(PodSyncError) {
        guard frameLength <= UInt64(frame.count) else {
            throw PodSyncError(Status.frameTruncated, "frame says it is \(frameLength) bytes but only \(frame.count) are given")
        }
        guard frameLength == UInt64(frame.count) else {
            throw .malformed("\(UInt64(frame.count) - frameLength) bytes follow the \(frameLength)-byte frame")
        }
        guard frameLength % 8 == 0, headerLength <= frame.count else {
            throw .malformed("frame length \(frameLength) is not a multiple of 8 or shorter than its header")
        }
        let base = frame.baseAddress!
        guard FrameBuilder.checksum(base, length: frame.count) == base.le(FrameLayout.offChecksum, as: UInt64.self) else {
            throw PodSyncError(Status.frameChecksum, "checksum mismatch: the frame is corrupt")
        }
    }

    /// Validates a whole frame (`frame` must be exactly one frame): header, checksum, schema hash
    /// (when `schema` is given), flags, codec and transforms, version rules and the layout of every
    /// section. A compressed or transformed payload is decoded into `decoded` (its sections point
    /// there, valid until the buffers are reused), at most `maxDecoded` bytes of it.
    static func validate(
        _ frame: UnsafeRawBufferPointer, schema: Schema?, schemaHash: UInt64, maxDecoded: UInt64, maxPuts: UInt64 = 0,
        mode: FrameCodec.UnpackMode = .decode,
        packed: inout ByteBuffer, decoded: inout ByteBuffer, zstd: inout ZstdContexts
    ) throws(PodSyncError) -> (FrameHeader, [SectionView]) {
        let p = try checkPrefix(frame)
        var header: FrameHeader
        if isFormat2(p) {
            let prefix = try HeaderV2.peekPrefix(p, count: frame.count)
            try checkLengthAndChecksum(frame, frameLength: prefix.frameLength, headerLength: prefix.headerLength)
            header = try HeaderV2.parse(p, headerLength: prefix.headerLength, flags: prefix.flags)
            if schema != nil && header.schemaHash != schemaHash {
                throw PodSyncError(Status.schemaMismatch, "frame was written for schema \(hex(header.schemaHash)), this store has \(hex(schemaHash))")
            }
            try HeaderV2.checkKind(header)
        } else {
            header = try peekV1(frame)
            try checkLengthAndChecksum(frame, frameLength: header.frameLength, headerLength: header.headerLength)
            if schema != nil && header.schemaHash != schemaHash {
                throw PodSyncError(Status.schemaMismatch, "frame was written for schema \(hex(header.schemaHash)), this store has \(hex(schemaHash))")
            }
            guard header.flags & ~FrameLayout.knownFlags == 0 else {
                throw .malformed("unknown flag bits \(hex(UInt64(header.flags & ~FrameLayout.knownFlags)))")
            }
            guard header.codec == FrameLayout.codecNone || header.codec == FrameLayout.codecZstd else {
                throw PodSyncError(Status.unsupportedCodec, "codec \(header.codec) is not supported by this library")
            }
            if !(header.codec != FrameLayout.codecNone || header.transforms != 0) {
                guard header.payloadLength == header.frameLength - UInt64(header.headerLength) else {
                    throw .malformed("payload length \(header.payloadLength) disagrees with the frame length")
                }
            }
            if header.isReset {
                guard header.baseVersion == 0 else { throw .malformed("a RESET frame must have base version 0") }
            } else {
                guard header.baseVersion < header.stateVersion else {
                    throw .malformed("delta base version \(header.baseVersion) is not below its version \(header.stateVersion)")
                }
            }
            if !header.hasDigest && header.stateDigest != 0 { throw .malformed("state digest set without HAS_DIGEST") }
        }
        header.dictionaryID = dictionaryID(frame, header)
        let encoded = header.codec != FrameLayout.codecNone || header.transforms != 0
        // Stream id 0 means "no stream": only a replica that follows none writes it, and it has
        // nothing but the empty state at version 0 to serve.
        if header.streamID == 0 && !(header.isReset && header.stateVersion == 0) && header.summary == nil {
            throw .malformed("stream id 0 is only valid for the empty snapshot at version 0 and summaries")
        }
        // REPAIR and SUMMARY (V18, V19): the bucket block starts the payload.
        let block = header.bucketBlockLength
        if header.repair != nil || header.summary != nil {
            guard UInt64(block) <= UInt64(frame.count &- header.headerLength) else {
                throw .malformed("the \(block)-byte bucket block does not fit in the frame")
            }
            let bits = header.repair?.bits ?? header.summary!.bits
            let runs = header.repair?.runCount ?? header.summary!.runCount
            let buckets = try BucketBlock.check(p, start: header.headerLength, length: block, runCount: runs, bits: bits)
            if let s = header.summary {
                let hashes = s.mode == SummaryRecord.modeRequest ? 0 : 8 &* buckets
                guard frame.count == header.headerLength &+ block &+ hashes else {
                    throw .malformed("a summary of \(buckets) buckets is \(header.headerLength &+ block &+ hashes) bytes, not \(frame.count)")
                }
                return (header, [])
            }
        }
        if encoded {
            // A repair frame's encoded payload follows its bucket block.
            var payloadHeader = header
            payloadHeader.headerLength &+= block
            let sections = try FrameCodec.unpack(frame, header: payloadHeader, schema: schema, maxDecoded: maxDecoded, maxPuts: maxPuts, mode: mode,
                                                 packed: &packed, decoded: &decoded, zstd: &zstd)
            if mode == .decode {
                try checkChunkKeys(header, sections)
                try checkSliceKeys(header, sections)
            }
            return (header, sections)
        }
        var sections: [SectionView] = []
        sections.reserveCapacity(min(header.totalSectionCount, frame.count / FrameLayout.sectionHeaderSize))
        var position = header.headerLength &+ block
        var previousTable: UInt32? = nil
        var puts: UInt64 = 0
        for k in 0..<header.totalSectionCount {
            let (section, next) = try readSection(frame, at: position, schema: schema)
            if k == header.sectionCount { previousTable = nil }  // the slice's sections start over
            if let previousTable, section.tableID <= previousTable {
                throw .malformed("section for table \(section.tableID) is out of ascending table order")
            }
            if k >= header.sectionCount && section.deleteCount != 0 { throw .malformed("a refresh slice cannot carry deletions") }
            previousTable = section.tableID
            if header.isReset && section.deleteCount != 0 { throw .malformed("a RESET frame cannot carry deletions") }
            if header.stateVersion == 0 && section.putCount != 0 { throw .malformed("a frame of version 0 cannot carry records") }
            // As for encoded frames (FrameCodec.unpack): more records than the store may hold.
            puts &+= UInt64(section.putCount)
            if maxPuts != 0 && puts > maxPuts {
                throw PodSyncError(Status.limit, "frame carries more than \(maxPuts) records, the store's max_records")
            }
            sections.append(section)
            position = next
        }
        guard position == frame.count else {
            throw .malformed("\(frame.count - position) bytes after the last of \(header.totalSectionCount) sections")
        }
        try checkChunkKeys(header, sections)
        try checkSliceKeys(header, sections)
        return (header, sections)
    }

    /// Step V21 for chunks: every key's `seed(t, k)` lies inside the chunk's range `[start, end)`
    /// of (table, seed). (That no key appears twice is checked as a replica stages the chunk: the
    /// KEY_GAPS transform reorders keys, so their order proves nothing.)
    static func checkChunkKeys(_ header: FrameHeader, _ sections: [SectionView]) throws(PodSyncError) {
        guard let chunk = header.chunk else { return }
        for s in sections where try hasRepeatedKey(s) {
            throw .malformed("chunk lists a key of table \(s.tableID) twice")
        }
        for s in sections {
            // (A RESET frame carries no deletions: step 10.)
            let before = (s.tableID, UInt64(0)) < (chunk.startTable, chunk.startKey)
            let after = !chunk.last && (s.tableID, UInt64.max) >= (chunk.endTable, chunk.endKey)
            guard before || after else { continue }  // the whole table lies inside the range
            for i in 0..<(s.putCount &+ s.deleteCount) {
                // Put keys, then delete keys (they follow each other in the section).
                let seed = keySeed(table: s.tableID, key: s.putKeys.le(8 * i, as: UInt64.self))
                if (s.tableID, seed) < (chunk.startTable, chunk.startKey) {
                    throw .malformed("chunk holds a key of table \(s.tableID) before its start")
                }
                if !chunk.last && (s.tableID, seed) >= (chunk.endTable, chunk.endKey) {
                    throw .malformed("chunk holds a key of table \(s.tableID) at or past its end")
                }
            }
        }
    }

    /// Whether a section lists a key twice (puts and deletes together). Keys in ascending seed
    /// order (PodSync's plain chunks) or ascending key order (KEY_GAPS) prove it at once; any other
    /// order is checked with a set.
    static func hasRepeatedKey(_ s: SectionView) throws(PodSyncError) -> Bool {
        let n = s.putCount &+ s.deleteCount
        guard n > 1 else { return false }
        var bySeed = true, byKey = true
        var previousKey = s.putKeys.le(0, as: UInt64.self)
        var previousSeed = keySeed(table: s.tableID, key: previousKey)
        // Puts and deletes are each in order; across the two lists the sets must not meet either.
        for i in 1..<n where i != s.putCount {
            let key = s.putKeys.le(8 &* i, as: UInt64.self)
            let seed = keySeed(table: s.tableID, key: key)
            if seed <= previousSeed { bySeed = false }
            if key <= previousKey { byKey = false }
            if !bySeed && !byKey { break }
            previousKey = key
            previousSeed = seed
        }
        if (bySeed || byKey) && (s.putCount == 0 || s.deleteCount == 0) { return false }
        var seen = KeyIndex()
        guard seen.reserve(n) else { throw PodSyncError(Status.noMemory, "cannot allocate the check of a chunk's keys") }
        for i in 0..<n where seen.insertIfAbsent(s.putKeys.le(8 &* i, as: UInt64.self), slot: 0) != nilSlot { return true }
        return false
    }

    /// Step V21 for refresh slices: every key of a slice section lies in the slice's range.
    static func checkSliceKeys(_ header: FrameHeader, _ sections: [SectionView]) throws(PodSyncError) {
        guard let slice = header.slice, sections.count > header.sectionCount else { return }
        for s in sections[header.sectionCount...] {
            for i in 0..<s.putCount {
                let position = (s.tableID, keySeed(table: s.tableID, key: s.putKeys.le(8 * i, as: UInt64.self)))
                if position < (slice.startTable, slice.startKey) || (!slice.last && position >= (slice.endTable, slice.endKey)) {
                    throw .malformed("refresh slice holds a key of table \(s.tableID) outside its range")
                }
            }
        }
    }

    /// Reads section `index` of a frame in place, re-checking bounds but not the checksum.
    public static func section(_ frame: UnsafeRawBufferPointer, index: Int) throws(PodSyncError) -> SectionView {
        let header = try peek(frame)
        guard header.frameLength == UInt64(frame.count) else {
            throw PodSyncError(header.frameLength > UInt64(frame.count) ? Status.frameTruncated : Status.frameMalformed,
                               "frame length \(header.frameLength) differs from the \(frame.count) bytes given")
        }
        guard header.codec == FrameLayout.codecNone && header.transforms == 0 else {
            throw PodSyncError(Status.unsupportedCodec, "a compressed or transformed frame cannot be read in place; apply it to a replica")
        }
        guard index >= 0 && index < header.totalSectionCount else {
            throw .invalid("section index \(index) is not below the section count \(header.totalSectionCount)")
        }
        // A repair frame's sections follow its bucket block.
        var position = header.headerLength &+ header.bucketBlockLength
        guard position <= frame.count else { throw .malformed("the bucket block does not fit in the frame") }
        var i = 0
        while true {
            let (section, next) = try readSection(frame, at: position, schema: nil)
            if i == index { return section }
            position = next
            i += 1
        }
    }

    /// Validates the section starting at `start`; returns it and where the next one starts.
    static func readSection(
        _ frame: UnsafeRawBufferPointer, at start: Int, schema: Schema?
    ) throws(PodSyncError) -> (SectionView, Int) {
        let base = frame.baseAddress!
        let available = frame.count - start
        guard available >= FrameLayout.sectionHeaderSize else {
            throw .malformed("section at byte \(start) is truncated")
        }
        let p = base + start
        let tableID = p.le(FrameLayout.secTableID, as: UInt32.self)
        let recordSize = p.le(FrameLayout.secRecordSize, as: UInt32.self)
        let putCount = p.le(FrameLayout.secPutCount, as: UInt64.self)
        let deleteCount = p.le(FrameLayout.secDeleteCount, as: UInt64.self)
        let recordsOffset = p.le(FrameLayout.secRecordsOffset, as: UInt64.self)
        let length = p.le(FrameLayout.secLength, as: UInt64.self)

        var tableIndex = -1
        var alignment = 8
        if let schema {
            guard let t = schema.tableIndex(of: tableID) else {
                throw PodSyncError(Status.unknownTable, "frame has a section for table \(tableID), which is not in the schema")
            }
            guard Int(recordSize) == schema.tables[t].recordSize else {
                throw PodSyncError(Status.recordSize, "table \(tableID): frame records are \(recordSize) bytes, the schema says \(schema.tables[t].recordSize)")
            }
            tableIndex = t
            alignment = FrameLayout.recordAlignment(schema.tables[t].alignment)
        } else {
            guard recordSize >= 1 && Int(recordSize) <= SchemaLimits.maxRecordSize else {
                throw .malformed("section at byte \(start): record size \(recordSize) is out of range")
            }
        }
        guard length >= UInt64(FrameLayout.sectionHeaderSize), length <= UInt64(available), length % 8 == 0 else {
            throw .malformed("section at byte \(start): length \(length) does not fit the frame or is not a multiple of 8")
        }
        // Each key takes 8 bytes of the section, so counts above length/8 are lies; checking that
        // first keeps every product below 2^64.
        guard putCount <= length / 8, deleteCount <= length / 8 else {
            throw .malformed("section at byte \(start): counts \(putCount)/\(deleteCount) exceed its \(length) bytes")
        }
        let keysEnd = UInt64(FrameLayout.sectionHeaderSize) + 8 * (putCount + deleteCount)
        let (recordBytes, overflow) = putCount.multipliedReportingOverflow(by: UInt64(recordSize))
        guard !overflow, keysEnd <= recordsOffset, recordsOffset <= length,
              recordBytes <= length - recordsOffset else {
            throw .malformed("section at byte \(start): keys and records do not fit its \(length) bytes")
        }
        guard (UInt64(start) + recordsOffset) % UInt64(alignment) == 0 else {
            throw .malformed("section at byte \(start): records are not aligned to \(alignment)")
        }
        let recordsEnd = recordsOffset + recordBytes
        guard isZero(p + Int(keysEnd), Int(recordsOffset - keysEnd)),
              isZero(p + Int(recordsEnd), Int(length - recordsEnd)) else {
            throw .malformed("section at byte \(start): padding bytes are not zero")
        }
        let section = SectionView(
            tableID: tableID, recordSize: Int(recordSize), putCount: Int(putCount), deleteCount: Int(deleteCount),
            putKeys: p + FrameLayout.sectionHeaderSize,
            deleteKeys: p + FrameLayout.sectionHeaderSize + 8 * Int(putCount),
            records: p + Int(recordsOffset), tableIndex: tableIndex)
        return (section, start + Int(length))
    }

    /// Whether `count` bytes at `p` are all zero, eight at a time.
    @inline(__always) static func isZero(_ p: UnsafeRawPointer, _ count: Int) -> Bool {
        var i = 0
        var acc: UInt64 = 0
        while i &+ 8 <= count {
            acc |= p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        while i < count {
            acc |= UInt64(p.load(fromByteOffset: i, as: UInt8.self))
            i &+= 1
        }
        return acc == 0
    }
}

func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
}
