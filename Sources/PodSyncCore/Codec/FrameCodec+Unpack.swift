import CPodSyncShims
import CZstd

/// Decoding the payload of an encoded frame (docs/FORMAT.md, "Codecs and transforms").
///
/// The cost of a frame is bounded by what the receiver allows, not by what the frame claims: the
/// declared sizes are compared with the limit before anything is allocated, a large zstd payload is
/// decompressed piece by piece with each packed section's header checked as soon as its bytes
/// exist (a bomb whose first section is a lie costs one piece, not its declared size), and
/// store-less validation checks the records without decoding them.
extension FrameCodec {
    /// A zstd payload grows its buffer by at least this much at a time.
    static let decompressionPiece = 1 << 20
    /// Largest zstd window a receiver accepts (zstd's own default limit for decoders).
    static let maxWindowSize: UInt64 = 1 << 27

    /// What `unpack` does with a valid frame: decode its sections, or only check them.
    enum UnpackMode {
        case decode
        case validateOnly
    }

    /// The packed stream of a frame: stored in the frame (codec 0) or decompressed on demand.
    ///
    /// zstd is fed one block at a time, so the bytes before a corrupt block are decoded and
    /// checked first: the corruption is reported only when a check needs bytes at or past it
    /// (docs/FORMAT.md, "Validation"), the same status a decoder that decompresses everything
    /// first and then checks in order would give.
    struct PackedStream: ~Copyable {
        /// Start of the stream's bytes (moves while a zstd stream grows its buffer).
        var base: UnsafeRawPointer
        /// Bytes of the stream available at `base`.
        var available: Int
        let length: Int
        let compressed: Bool
        let source: UnsafeRawPointer
        let sourceCount: Int
        var consumed = 0
        var finished = false
        /// Where the next block header not yet fed to zstd starts.
        var nextBlock: Int
        /// The first error zstd reported, kept until bytes at or past it are needed.
        var failure: PodSyncError? = nil

        /// The end of the input to give zstd next: the next whole block (the last block with
        /// the rest of the frame, its checksum).
        mutating func nextInputEnd() -> Int {
            guard nextBlock &+ 3 <= sourceCount else { return sourceCount }
            let p = source + nextBlock
            let header = Int(p.load(as: UInt8.self)) | Int(p.load(fromByteOffset: 1, as: UInt8.self)) << 8
                | Int(p.load(fromByteOffset: 2, as: UInt8.self)) << 16
            let last = header & 1 != 0
            let type = (header >> 1) & 3
            let size = header >> 3
            let end = nextBlock &+ 3 &+ (type == 1 ? 1 : size)  // RLE blocks hold one byte
            nextBlock = end
            return last ? sourceCount : min(end, sourceCount)
        }

        /// Makes at least `needed` bytes (<= length) of the stream available. Throws when the
        /// zstd frame is corrupt before that point, ends early, or memory cannot be had.
        mutating func ensure(
            _ needed: Int, buffer: inout ByteBuffer, zstd: inout ZstdContexts
        ) throws(PodSyncError) {
            guard needed > available else { return }
            guard compressed, needed <= length else { throw .malformed("the packed payload is shorter than its sections say") }
            // Grow geometrically, a piece at a time past the first, never past the declared length.
            let target = min(length, max(needed, available &+ FrameCodec.decompressionPiece, available &* 2))
            guard buffer.reserve(target, preserving: available) else {
                throw PodSyncError(Status.noMemory, "cannot allocate \(target) bytes to decompress a frame")
            }
            var produced = available
            while produced < needed && failure == nil && !finished {
                let before = (produced, consumed)
                var inputEnd = max(consumed, nextInputEnd())
                if consumed == inputEnd { inputEnd = sourceCount }
                switch zstd.decompress(into: buffer.base, capacity: target, produced: &produced,
                                       from: source, count: inputEnd, consumed: &consumed) {
                case .success(let done): finished = done
                case .failure(let error): failure = error
                }
                if failure == nil && !finished && (produced, consumed) == before && consumed == sourceCount {
                    failure = .malformed("the zstd payload ends before its declared \(length) bytes")
                }
            }
            base = UnsafeRawPointer(buffer.base)
            available = produced
            if produced < needed {
                throw failure ?? .malformed("the zstd payload ends before its declared \(length) bytes")
            }
        }

        /// Decompresses the rest and checks the zstd frame holds exactly `length` bytes.
        mutating func finish(buffer: inout ByteBuffer, zstd: inout ZstdContexts) throws(PodSyncError) {
            guard compressed else { return }
            try ensure(length, buffer: &buffer, zstd: &zstd)
            if let failure { throw failure }
            if !finished {
                // Every byte is there; the zstd frame must end now (its epilogue, a checksum).
                var spare: UInt64 = 0
                var written = 0
                let result = withUnsafeMutableBytes(of: &spare) { one in
                    zstd.decompress(into: one.baseAddress!, capacity: 1, produced: &written,
                                    from: source, count: sourceCount, consumed: &consumed)
                }
                switch result {
                case .success(let done): finished = done
                case .failure(let error): throw error
                }
                guard finished, written == 0 else {
                    throw .malformed("the zstd payload does not decompress to exactly its \(length) bytes")
                }
            }
            guard consumed == sourceCount else { throw .malformed("the zstd frame ends before its compressed size") }
        }
    }

    /// The window size a Zstandard frame (RFC 8878: magic, then the frame header descriptor)
    /// declares, or nil when the bytes do not start a Zstandard frame.
    static func zstdWindowSize(_ p: UnsafeRawPointer, _ count: Int) -> UInt64? {
        guard count >= 6, p.le(0, as: UInt32.self) == 0xFD2F_B528 else { return nil }
        let descriptor = p.load(fromByteOffset: 4, as: UInt8.self)
        guard descriptor & 0x08 == 0 else { return nil }  // reserved bit
        if descriptor & 0x20 != 0 {
            // Single segment: the window is the content size (checked against payload_length).
            return ZSTD_getFrameContentSize(p, count)
        }
        let w = p.load(fromByteOffset: 5, as: UInt8.self)
        let base = UInt64(1) << (10 + UInt64(w >> 3))
        return base + base / 8 * UInt64(w & 7)
    }

    /// The size of a Zstandard frame's header (RFC 8878), whose descriptor byte was read.
    static func zstdHeaderSize(_ p: UnsafeRawPointer) -> Int {
        let descriptor = p.load(fromByteOffset: 4, as: UInt8.self)
        let singleSegment = descriptor & 0x20 != 0
        let dictionaryIDBytes = [0, 1, 2, 4][Int(descriptor & 3)]
        let contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][Int(descriptor >> 6)]
        return 5 + (singleSegment ? 0 : 1) + dictionaryIDBytes + contentSizeBytes
    }

    /// Decodes (or, with `.validateOnly`, only checks) the payload of a compressed or transformed
    /// frame. Decoded sections live in `decoded` (keys as little-endian u64 arrays, records
    /// un-transposed; records of an XOR frame still XOR-ed). Nothing is allocated beyond
    /// `maxDecoded` bytes for the decompressed stream, nor separately for the decoded sections.
    static func unpack(
        _ frame: UnsafeRawBufferPointer, header: FrameHeader, schema: Schema?, maxDecoded: UInt64, maxPuts: UInt64 = 0,
        mode: UnpackMode = .decode,
        packed packedBuffer: inout ByteBuffer, decoded: inout ByteBuffer, zstd: inout ZstdContexts
    ) throws(PodSyncError) -> [SectionView] {
        let transforms = header.transforms
        let known = header.formatVersion == 2 ? FrameLayout.knownTransforms : FrameLayout.knownTransformsV1
        guard transforms & ~known == 0 else {
            throw .malformed("unknown transform bits \(transforms & ~known)")
        }
        if header.isRelative && (header.isReset || !header.xorAllowed) {
            throw .malformed("the XOR and FIELDS transforms are only valid in a delta from version v to v+1 (or a subscription's delta)")
        }
        let fields = transforms & FrameLayout.transformFields != 0
        let ranks = transforms & FrameLayout.transformKeyRanks != 0
        let transpose = transforms & FrameLayout.transformTranspose != 0
        let split = transforms & FrameLayout.transformColumns != 0
        let gaps = transforms & FrameLayout.transformKeyGaps != 0
        if split && !transpose { throw .malformed("the COLUMNS transform needs TRANSPOSE") }
        if ranks && !gaps { throw .malformed("the KEY_RANKS transform needs KEY_GAPS") }
        // Beyond 2^56 bytes nothing fits in memory anyway; the cap keeps every size below in Int.
        let maxDecoded = min(maxDecoded, 1 << 56)
        guard header.payloadLength <= maxDecoded else {
            throw PodSyncError(Status.frameTooLarge, "frame decodes to \(header.payloadLength) bytes, more than the \(maxDecoded) allowed")
        }
        let payloadLength = Int(header.payloadLength)
        let payload = frame.baseAddress! + header.headerLength
        let payloadBytes = frame.count - header.headerLength
        var stream: PackedStream
        let packedEnd: Int  // where the compressed (or stored) stream ends within the payload
        if header.codec == FrameLayout.codecZstd {
            let content = ZSTD_getFrameContentSize(payload, payloadBytes)
            guard content == UInt64(payloadLength) else {
                throw .malformed("zstd frame content size \(content) disagrees with payload length \(payloadLength)")
            }
            // A Zstandard frame (not a skippable or legacy one) whose window a receiver can hold.
            guard let window = zstdWindowSize(payload, payloadBytes), window <= FrameCodec.maxWindowSize else {
                throw .malformed("the payload is not a Zstandard frame with a window of at most \(FrameCodec.maxWindowSize) bytes")
            }
            let headerSize = zstdHeaderSize(payload)
            let compressedSize = ZSTD_findFrameCompressedSize(payload, payloadBytes)
            guard ZSTD_isError(compressedSize) == 0, compressedSize <= payloadBytes else {
                throw .malformed("the zstd payload is corrupt or truncated")
            }
            try zstd.beginStream(payload, count: compressedSize)
            stream = PackedStream(base: UnsafeRawPointer(packedBuffer.base), available: 0, length: payloadLength,
                                  compressed: true, source: UnsafeRawPointer(payload), sourceCount: compressedSize,
                                  nextBlock: headerSize)
            packedEnd = compressedSize
        } else {
            guard payloadLength <= payloadBytes else {
                throw .malformed("payload length \(payloadLength) disagrees with the frame length")
            }
            stream = PackedStream(base: UnsafeRawPointer(payload), available: payloadLength, length: payloadLength,
                                  compressed: false, source: UnsafeRawPointer(payload), sourceCount: payloadLength,
                                  nextBlock: 0)
            packedEnd = payloadLength
        }

        // First pass: validate the section headers and size the output.
        struct Packed {
            var tableID: UInt32; var recordSize: Int; var puts: Int; var deletes: Int
            var map: Int; var keys: Int; var keysAt: Int; var recordsAt: Int; var tableIndex: Int; var runs: [FieldRun]
            var diffs: Int; var slice: Bool
        }
        var list: [Packed] = []
        var position = 0
        var outputSize: UInt64 = 0
        var totalPuts: UInt64 = 0
        var tailSize = 0
        var expandedSize = 0  // zero and sparse columns rebuilt in the second pass
        var previousTable: UInt32? = nil
        for k in 0..<header.totalSectionCount {
            if k == header.sectionCount { previousTable = nil }  // the slice's sections start over
            guard payloadLength - position >= FrameLayout.packedSectionHeaderSize else { throw .malformed("packed section at byte \(position) is truncated") }
            try stream.ensure(position + FrameLayout.packedSectionHeaderSize, buffer: &packedBuffer, zstd: &zstd)
            var p = stream.base + position
            let tableID = p.le(0, as: UInt32.self)
            let recordSize = Int(p.le(4, as: UInt32.self))
            let puts = p.le(8, as: UInt64.self)
            let deletes = p.le(16, as: UInt64.self)
            let keysLength = p.le(24, as: UInt64.self)
            if let previousTable, tableID <= previousTable { throw .malformed("packed section for table \(tableID) is out of ascending table order") }
            previousTable = tableID
            var tableIndex = -1
            if let schema {
                guard let t = schema.tableIndex(of: tableID) else { throw PodSyncError(Status.unknownTable, "frame has a section for table \(tableID), which is not in the schema") }
                guard recordSize == schema.tables[t].recordSize else { throw PodSyncError(Status.recordSize, "table \(tableID): frame records are \(recordSize) bytes, the schema says \(schema.tables[t].recordSize)") }
                tableIndex = t
            } else if recordSize < 1 || recordSize > SchemaLimits.maxRecordSize {
                throw .malformed("packed section for table \(tableID): record size \(recordSize) is out of range")
            }
            var remaining = payloadLength - position - FrameLayout.packedSectionHeaderSize
            // FIELDS: the field map (a count, then two bits a field).
            var fieldMapBytes = 0
            var runs: [FieldRun] = []
            var diffs = 0
            if fields {
                let at = position + FrameLayout.packedSectionHeaderSize
                guard remaining >= 4 else { throw .malformed("packed section for table \(tableID): the field map is truncated") }
                try stream.ensure(at + 4, buffer: &packedBuffer, zstd: &zstd)
                let fieldCount = Int(stream.base.le(at, as: UInt32.self))
                fieldMapBytes = FieldDiff.mapBytes(fieldCount: fieldCount)
                guard fieldMapBytes <= remaining else { throw .malformed("packed section for table \(tableID): the field map is truncated") }
                try stream.ensure(at + fieldMapBytes, buffer: &packedBuffer, zstd: &zstd)
                (runs, diffs) = try FieldDiff.readMap(stream.base + at, fieldCount: fieldCount, tableID: tableID,
                                                      table: tableIndex >= 0 ? schema?.tables[tableIndex] : nil,
                                                      absolute: k >= header.sectionCount)
                remaining -= fieldMapBytes
            }
            // The column map: two bits a column; count the columns the records block holds.
            let mapBytes = split ? (recordSize + 3) / 4 : 0
            var raw = 0
            if split {
                guard mapBytes <= remaining else { throw .malformed("packed section for table \(tableID): the column map is truncated") }
                try stream.ensure(position + FrameLayout.packedSectionHeaderSize + fieldMapBytes + mapBytes, buffer: &packedBuffer, zstd: &zstd)
                p = stream.base + position
                let map = p + FrameLayout.packedSectionHeaderSize + fieldMapBytes
                if recordSize % 4 != 0, map.load(fromByteOffset: mapBytes - 1, as: UInt8.self) >> UInt8(2 * (recordSize % 4)) != 0 {
                    throw .malformed("packed section for table \(tableID): the column map's unused bits are not 0")
                }
                remaining -= mapBytes
            }
            // Each key takes at least one byte (eight without gaps): counts above that are lies.
            guard keysLength <= UInt64(remaining), puts <= keysLength, deletes <= keysLength - puts,
                  gaps || keysLength == 8 * (puts + deletes) else {
                throw .malformed("packed section for table \(tableID): \(puts)/\(deletes) keys do not fit \(keysLength) key bytes")
            }
            // The records block: whole records, or with COLUMNS the coded and sparse columns.
            let available = remaining - Int(keysLength)
            let mapAt = position + FrameLayout.packedSectionHeaderSize + fieldMapBytes
            let recordsAt = mapAt + mapBytes + Int(keysLength)
            var recordBytes = 0
            if split {
                var zeroSeen = false
                for c in 0..<recordSize {
                    switch (stream.base.load(fromByteOffset: mapAt + c / 4, as: UInt8.self) >> UInt8(2 * (c % 4))) & 3 {
                    case columnCoded:
                        guard Int(puts) <= available - recordBytes else {
                            throw .malformed("packed section for table \(tableID): column \(c) does not fit the payload")
                        }
                        recordBytes += Int(puts)
                    case columnRaw: raw += 1
                    case columnZero:
                        if !zeroSeen { expandedSize += Int(puts) }  // one zero column per section, shared
                        zeroSeen = true
                    default:
                        // The bitmap must exist before its bits are counted.
                        let bitmapBytes = (Int(puts) + 7) / 8
                        if bitmapBytes <= available - recordBytes {
                            try stream.ensure(recordsAt + recordBytes + bitmapBytes, buffer: &packedBuffer, zstd: &zstd)
                        }
                        guard let length = SparseColumn.validatedLength(stream.base + recordsAt + recordBytes, rows: Int(puts),
                                                                        available: available - recordBytes) else {
                            throw .malformed("packed section for table \(tableID): sparse column \(c) is truncated or has bits past its rows")
                        }
                        recordBytes += length
                        expandedSize += Int(puts)
                    }
                }
            } else {
                let (bytes, overflow) = Int(puts).multipliedReportingOverflow(by: recordSize)
                guard !overflow, bytes <= available else {
                    throw .malformed("packed section for table \(tableID): records do not fit the payload")
                }
                recordBytes = bytes
            }
            if header.isReset && deletes != 0 { throw .malformed("a RESET frame cannot carry deletions") }
            if k >= header.sectionCount && deletes != 0 { throw .malformed("a refresh slice cannot carry deletions") }
            if header.stateVersion == 0 && puts != 0 { throw .malformed("a frame of version 0 cannot carry records") }
            // A store limited to max_records cannot take a frame of more records (keys in a frame
            // are distinct): refused before anything is decoded.
            totalPuts &+= puts
            if maxPuts != 0 && totalPuts > maxPuts {
                throw PodSyncError(Status.limit, "frame carries more than \(maxPuts) records, the store's max_records")
            }
            // What the section decodes to: 8 bytes a key and whole records. Zero columns cost no
            // bytes in the frame, so this is bounded separately.
            let (sectionRecords, o1) = puts.multipliedReportingOverflow(by: UInt64(recordSize))
            let (sectionOutput, o2) = sectionRecords.addingReportingOverflow(8 * (puts + deletes))
            let (total, o3) = outputSize.addingReportingOverflow(sectionOutput)
            guard !o1, !o2, !o3, total <= maxDecoded else {
                throw PodSyncError(Status.frameTooLarge, "frame decodes to more than the \(maxDecoded) bytes allowed")
            }
            outputSize = total
            let (rawBytes, o4) = Int(puts).multipliedReportingOverflow(by: raw)
            guard !o4, rawBytes <= payloadBytes - packedEnd - tailSize else {
                throw .malformed("packed section for table \(tableID): raw columns do not fit the frame")
            }
            tailSize += rawBytes
            let keysAt = mapAt + mapBytes
            list.append(Packed(tableID: tableID, recordSize: recordSize, puts: Int(puts), deletes: Int(deletes),
                               map: mapAt, keys: Int(keysLength), keysAt: keysAt,
                               recordsAt: recordsAt, tableIndex: tableIndex, runs: runs, diffs: diffs,
                               slice: k >= header.sectionCount))
            position = recordsAt + recordBytes
        }
        guard position == payloadLength else { throw .malformed("\(payloadLength - position) bytes after the last packed section") }
        try stream.finish(buffer: &packedBuffer, zstd: &zstd)
        // After the stream: the raw columns, then zero padding of fewer than 8 bytes.
        let padding = payloadBytes - packedEnd - tailSize
        guard padding < 8, FrameReader.isZero(payload + packedEnd + tailSize, padding) else {
            throw .malformed("the payload has \(padding) bytes after its stream and raw columns that are not padding")
        }
        let packed = stream.base

        if mode == .validateOnly {
            // Keys are the one thing left to check; records were checked as lengths and bitmaps.
            if gaps {
                for s in list {
                    var read = 0
                    var ranked = 0
                    if ranks {
                        ranked = try KeyCoding.readRankedCount(packed + s.keysAt, length: s.keys, puts: s.puts, slice: s.slice, read: &read)
                        try KeyCoding.readGaps(packed + s.keysAt + read, length: s.keys - read, count: ranked, into: nil, read: &read)
                    }
                    try KeyCoding.readGaps(packed + s.keysAt + read, length: s.keys - read, count: s.puts - ranked, into: nil, read: &read)
                    try KeyCoding.readGaps(packed + s.keysAt + read, length: s.keys - read, count: s.deletes, into: nil, read: &read)
                    guard read == s.keys else { throw .malformed("table \(s.tableID): \(s.keys - read) key bytes left over") }
                }
            }
            return []
        }
        var tail = UnsafeRawPointer(payload + packedEnd)

        // Second pass: decode keys and records into `decoded`.
        guard decoded.reserve(Int(outputSize), preserving: 0) else {
            throw PodSyncError(Status.noMemory, "cannot allocate \(outputSize) bytes to decode a frame")
        }
        var out = decoded.base
        var sections: [SectionView] = []
        sections.reserveCapacity(list.count)
        // Zero and sparse columns are expanded here (one zero column shared; a slot per sparse one).
        var expanded: UnsafeMutableRawPointer? = nil
        var expandedUsed = 0
        defer { if let expanded { podsync_free(expanded) } }
        if split {
            guard let memory = allocateRaw(max(expandedSize, 8), alignment: 8) else {
                throw PodSyncError(Status.noMemory, "cannot allocate \(expandedSize) bytes to decode a frame's columns")
            }
            expanded = memory
        }
        for s in list {
            let keysIn = packed + s.keysAt
            let putKeys = out
            var ranked = 0
            if gaps {
                var read = 0
                if ranks {
                    ranked = try KeyCoding.readRankedCount(keysIn, length: s.keys, puts: s.puts, slice: s.slice, read: &read)
                    try KeyCoding.readGaps(keysIn + read, length: s.keys - read, count: ranked, into: putKeys, read: &read)
                }
                try KeyCoding.readGaps(keysIn + read, length: s.keys - read, count: s.puts - ranked, into: putKeys + 8 * ranked, read: &read)
                try KeyCoding.readGaps(keysIn + read, length: s.keys - read, count: s.deletes, into: putKeys + 8 * s.puts, read: &read)
                guard read == s.keys else { throw .malformed("table \(s.tableID): \(s.keys - read) key bytes left over") }
            } else {
                putKeys.copyMemory(from: keysIn, byteCount: s.keys)
            }
            out += 8 * (s.puts + s.deletes)
            var recordsIn = packed + s.recordsAt
            let size = s.recordSize
            if s.puts == 0 {
                // No records: nothing to rebuild (a section of many empty columns costs nothing).
            } else if split {
                var columns: [UnsafeRawPointer] = []
                columns.reserveCapacity(size)
                var zeroColumn: UnsafeRawPointer? = nil
                let map = packed + s.map
                for c in 0..<size {
                    switch (map.load(fromByteOffset: c / 4, as: UInt8.self) >> UInt8(2 * (c % 4))) & 3 {
                    case columnCoded:
                        columns.append(recordsIn)
                        recordsIn += s.puts
                    case columnRaw:
                        columns.append(tail)
                        tail += s.puts
                    case columnZero:
                        if zeroColumn == nil, let expanded {
                            (expanded + expandedUsed).initializeMemory(as: UInt8.self, repeating: 0, count: s.puts)
                            zeroColumn = UnsafeRawPointer(expanded + expandedUsed)
                            expandedUsed += s.puts
                        }
                        guard let zeroColumn else { throw PodSyncError(Status.internal, "no memory set aside for a zero column") }
                        columns.append(zeroColumn)
                    default:  // sparse, validated in the first pass
                        guard let expanded else { throw PodSyncError(Status.internal, "no memory set aside for a sparse column") }
                        let target = expanded + expandedUsed
                        recordsIn += SparseColumn.expand(recordsIn, rows: s.puts, into: target)
                        columns.append(UnsafeRawPointer(target))
                        expandedUsed += s.puts
                    }
                }
                Transpose.inverse(columns: columns, rows: s.puts, size: size, into: out)
            } else if transpose {
                var columns: [UnsafeRawPointer] = []
                columns.reserveCapacity(size)
                for c in 0..<size { columns.append(recordsIn + c * s.puts) }
                Transpose.inverse(columns: columns, rows: s.puts, size: size, into: out)
            } else {
                out.copyMemory(from: recordsIn, byteCount: s.puts * size)
            }
            sections.append(SectionView(
                tableID: s.tableID, recordSize: size, putCount: s.puts, deleteCount: s.deletes,
                putKeys: UnsafeRawPointer(putKeys), deleteKeys: UnsafeRawPointer(putKeys + 8 * s.puts),
                records: UnsafeRawPointer(out), tableIndex: s.tableIndex,
                // XOR covers the changes, never a refresh slice (absolute values).
                xor: transforms & FrameLayout.transformXOR != 0 && sections.count < header.sectionCount,
                fieldRuns: s.runs, rankedPuts: ranked, diffFields: s.diffs))
            out += s.puts * size
        }
        return sections
    }
}
