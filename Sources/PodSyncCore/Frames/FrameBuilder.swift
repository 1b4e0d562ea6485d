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
    /// Assigns offsets to the sections and returns the frame's total length.
    static func layout(_ sections: inout [SectionPlan]) -> Int {
        var position = FrameLayout.headerSize
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
    }

    /// Writes the header and every section header and padding of a laid-out frame.
    static func writeFrame(_ p: UnsafeMutableRawPointer, length: Int, header h: HeaderFields, sections: [SectionPlan]) {
        p.storeLE(FrameLayout.magic, at: FrameLayout.offMagic)
        p.storeLE(FrameLayout.formatVersion, at: FrameLayout.offFormatVersion)
        p.storeLE(UInt16(FrameLayout.headerSize), at: FrameLayout.offHeaderLength)
        p.storeLE(UInt64(0), at: FrameLayout.offChecksum)
        p.storeLE(UInt64(length), at: FrameLayout.offFrameLength)
        p.storeLE(h.flags, at: FrameLayout.offFlags)
        p.storeLE(UInt16(sections.count), at: FrameLayout.offSectionCount)
        p.storeLE(FrameLayout.codecNone, at: FrameLayout.offCodec)
        p.storeLE(UInt8(0), at: FrameLayout.offTransforms)
        p.storeLE(h.schemaHash, at: FrameLayout.offSchemaHash)
        p.storeLE(h.streamID, at: FrameLayout.offStreamID)
        p.storeLE(h.sequence, at: FrameLayout.offSequence)
        p.storeLE(h.baseVersion, at: FrameLayout.offBaseVersion)
        p.storeLE(h.stateVersion, at: FrameLayout.offStateVersion)
        p.storeLE(h.flags & FrameLayout.flagHasDigest != 0 ? h.stateDigest : 0, at: FrameLayout.offStateDigest)
        p.storeLE(UInt64(length - FrameLayout.headerSize), at: FrameLayout.offPayloadLength)
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

    /// Computes and stores the checksum; call after every byte of the frame is written.
    static func seal(_ p: UnsafeMutableRawPointer, length: Int) {
        let sum = xxh3(p + FrameLayout.checksumStart, length - FrameLayout.checksumStart)
        p.storeLE(sum, at: FrameLayout.offChecksum)
    }
}
