/// Where one table's changes go inside a frame being written.
struct SectionPlan {
    var tableIndex: Int
    var tableID: UInt32
    var recordSize: Int
    var alignment: Int
    var putCount: Int
    var deleteCount: Int
    /// From frame start.
    var start = 0
    /// From section start.
    var recordsOffset = 0
    var length = 0

    var putKeysOffset: Int { start + FrameLayout.sectionHeaderSize }
    var deleteKeysOffset: Int { putKeysOffset + 8 * putCount }
}

/// Lays out and seals frames (docs/FORMAT.md). The caller fills keys and records at the planned
/// offsets; the builder writes headers and zero padding and computes the checksum.
enum FrameBuilder {
    /// Assigns offsets to the sections after a header of `headerLength` bytes and returns the
    /// frame's total length.
    static func layout(_ sections: inout [SectionPlan], headerLength: Int = FrameLayout.headerSize) -> Int {
        var position = headerLength
        for i in sections.indices {
            sections[i].start = position
            let keysEnd = position + FrameLayout.sectionHeaderSize + 8 * (sections[i].putCount + sections[i].deleteCount)
            let recordsStart = alignUp(keysEnd, FrameLayout.recordAlignment(sections[i].alignment))
            sections[i].recordsOffset = recordsStart - position
            let end = alignUp(recordsStart + sections[i].putCount * sections[i].recordSize, 8)
            sections[i].length = end - position
            position = end
        }
        return position
    }

    /// Lays out a plain frame with this header: returns its header length and total length. A
    /// format-2 header's size depends on the frame's length, which depends on where the records
    /// start: repeat until both agree (two or three rounds).
    static func plan(_ sections: inout [SectionPlan], header h: HeaderFields) -> (headerLength: Int, length: Int) {
        guard h.formatVersion == HeaderV2.formatVersion else {
            return (FrameLayout.headerSize, layout(&sections))
        }
        var fields = h
        fields.sectionCount = sections.count &- (h.slice?.sectionCount ?? 0)
        var headerLength = HeaderV2.headerLength(fields, frameLength: 0, payloadLength: nil)
        while true {
            let length = layout(&sections, headerLength: headerLength &+ h.bucketBlockLength)
            let needed = HeaderV2.headerLength(fields, frameLength: UInt64(length), payloadLength: nil)
            if needed <= headerLength { return (headerLength, length) }
            headerLength = needed
        }
    }

    /// Upper bound of what one more section adds to a frame, for splitting batches.
    static func sectionOverhead(alignment: Int) -> Int {
        FrameLayout.sectionHeaderSize + FrameLayout.recordAlignment(alignment) + 8
    }

    struct HeaderFields {
        var flags: UInt32
        var schemaHash: UInt64
        var streamID: UInt64
        var sequence: UInt64
        var baseVersion: UInt64
        var stateVersion: UInt64
        var stateDigest: UInt64
        /// 1 or 2.
        var formatVersion: UInt8 = 1
        /// Format 2: the CHUNK record (the CHUNK flag follows it).
        var chunk: ChunkRecord? = nil
        /// Format 2: the REFRESH_SLICE record; its sections are the last `slice.sectionCount`.
        var slice: SliceRecord? = nil
        var sectionCount = 0
        /// The writer's term (format 2 when above 0) and its TERM_HISTORY.
        var term: UInt64 = 0
        var history = TermHistory()
        var codec: UInt8 = 0
        var transforms: UInt8 = 0
        /// Format 2: the REPAIR or SUMMARY record; their bucket block (`repair.blockLength` or
        /// `summary.blockLength` bytes) starts the payload, before the sections.
        var repair: RepairRecord? = nil
        var summary: SummaryRecord? = nil
        /// Format 2: the SUBSCRIPTION record (a frame of part of the stream).
        var subscription: UInt64? = nil
        var bucketBlockLength: Int { Int(truncatingIfNeeded: repair?.blockLength ?? summary?.blockLength ?? 0) }

        init(flags: UInt32, schemaHash: UInt64, streamID: UInt64, sequence: UInt64, baseVersion: UInt64,
             stateVersion: UInt64, stateDigest: UInt64, formatVersion: UInt8 = 1, chunk: ChunkRecord? = nil) {
            self.flags = flags
            self.schemaHash = schemaHash
            self.streamID = streamID
            self.sequence = sequence
            self.baseVersion = baseVersion
            self.stateVersion = stateVersion
            self.stateDigest = stateDigest
            self.formatVersion = formatVersion
            self.chunk = chunk
        }

        /// The fields of a decoded header (to re-encode a frame).
        init(_ h: FrameHeader) {
            self.init(flags: h.flags & ~HeaderV2.flagChunk, schemaHash: h.schemaHash, streamID: h.streamID,
                      sequence: h.sequence, baseVersion: h.baseVersion, stateVersion: h.stateVersion,
                      stateDigest: h.stateDigest, formatVersion: UInt8(truncatingIfNeeded: h.formatVersion), chunk: h.chunk)
            sectionCount = h.sectionCount
            slice = h.slice
            term = h.term
            history = h.history
            codec = h.codec
            transforms = h.transforms
            subscription = h.subscription
        }
    }

    /// Writes the header (`headerLength` from `plan`) and every section header and padding of a
    /// laid-out plain frame.
    static func writeFrame(_ p: UnsafeMutableRawPointer, length: Int, headerLength: Int = FrameLayout.headerSize,
                           header h: HeaderFields, sections: [SectionPlan]) {
        if h.formatVersion == HeaderV2.formatVersion {
            var fields = h
            fields.sectionCount = sections.count &- (h.slice?.sectionCount ?? 0)
            HeaderV2.write(p, headerLength: headerLength, frameLength: UInt64(length), payloadLength: nil, fields)
        } else {
            writeHeaderV1(p, length: length, header: h, sectionCount: sections.count, payloadLength: UInt64(length - FrameLayout.headerSize))
        }
        for s in sections {
            let q = p + s.start
            q.storeLE(s.tableID, at: FrameLayout.secTableID)
            q.storeLE(UInt32(s.recordSize), at: FrameLayout.secRecordSize)
            q.storeLE(UInt64(s.putCount), at: FrameLayout.secPutCount)
            q.storeLE(UInt64(s.deleteCount), at: FrameLayout.secDeleteCount)
            q.storeLE(UInt64(s.recordsOffset), at: FrameLayout.secRecordsOffset)
            q.storeLE(UInt64(s.length), at: FrameLayout.secLength)
            let keysEnd = FrameLayout.sectionHeaderSize + 8 * (s.putCount + s.deleteCount)
            (q + keysEnd).initializeMemory(as: UInt8.self, repeating: 0, count: s.recordsOffset - keysEnd)
            let recordsEnd = s.recordsOffset + s.putCount * s.recordSize
            (q + recordsEnd).initializeMemory(as: UInt8.self, repeating: 0, count: s.length - recordsEnd)
        }
    }

    /// Writes the 88-byte header of format 1.
    static func writeHeaderV1(_ p: UnsafeMutableRawPointer, length: Int, header h: HeaderFields, sectionCount: Int, payloadLength: UInt64) {
        p.storeLE(FrameLayout.magic, at: FrameLayout.offMagic)
        p.storeLE(FrameLayout.formatVersion, at: FrameLayout.offFormatVersion)
        p.storeLE(UInt16(FrameLayout.headerSize), at: FrameLayout.offHeaderLength)
        p.storeLE(UInt64(0), at: FrameLayout.offChecksum)
        p.storeLE(UInt64(length), at: FrameLayout.offFrameLength)
        p.storeLE(h.flags, at: FrameLayout.offFlags)
        p.storeLE(UInt16(sectionCount), at: FrameLayout.offSectionCount)
        p.storeLE(h.codec, at: FrameLayout.offCodec)
        p.storeLE(h.transforms, at: FrameLayout.offTransforms)
        p.storeLE(h.schemaHash, at: FrameLayout.offSchemaHash)
        p.storeLE(h.streamID, at: FrameLayout.offStreamID)
        p.storeLE(h.sequence, at: FrameLayout.offSequence)
        p.storeLE(h.baseVersion, at: FrameLayout.offBaseVersion)
        p.storeLE(h.stateVersion, at: FrameLayout.offStateVersion)
        p.storeLE(h.flags & FrameLayout.flagHasDigest != 0 ? h.stateDigest : 0, at: FrameLayout.offStateDigest)
        p.storeLE(payloadLength, at: FrameLayout.offPayloadLength)
    }

    /// The checksum of a frame: format 1 hashes `[16, length)` with seed 0, format 2 seeds it
    /// with the prefix's first 8 bytes (so flags and header length are covered too).
    static func checksum(_ p: UnsafeRawPointer, length: Int) -> UInt64 {
        let count = length - FrameLayout.checksumStart
        if p.load(fromByteOffset: 4, as: UInt8.self) == HeaderV2.formatVersion {
            return xxh3(p + FrameLayout.checksumStart, count, seed: p.le(0, as: UInt64.self))
        }
        return xxh3(p + FrameLayout.checksumStart, count)
    }

    /// Computes and stores the checksum; call after every byte of the frame is written.
    static func seal(_ p: UnsafeMutableRawPointer, length: Int) {
        p.storeLE(checksum(p, length: length), at: FrameLayout.offChecksum)
    }
}
