import CPodSyncShims
import CZstd

/// Compression and transforms of frame payloads (docs/FORMAT.md, "Codecs and transforms").
///
/// The encoder writes every frame in the plain layout first, then `pack` re-encodes its payload:
/// keys sorted and stored as LEB128 gaps, records XOR-ed with the receiver's record at the base
/// version and byte-transposed, the byte columns left out (all zero), made sparse, kept raw
/// (noise) or coded, and the packed stream compressed with zstd. The packed frame replaces the
/// plain one only where it is at least 5% smaller. `unpack` reverses it into scratch buffers with
/// every count, length and size checked before it is used or allocated.
enum FrameCodec {
    /// Largest decoded payload accepted by default (and by store-less validation).
    static let defaultMaxDecodedBytes: UInt64 = 1 << 30

    // MARK: Encoding

    /// Scratch memory of the encoder, kept by the store between frames.
    struct Scratch: ~Copyable {
        /// The packed payload zstd compresses: section headers, column maps, keys, coded columns.
        var stream = ByteBuffer()
        /// Raw columns, sent after the compressed stream.
        var tail = ByteBuffer()
        /// One section's records, transposed.
        var columns = ByteBuffer()
        /// Output of column trials.
        var trial = ByteBuffer()
        /// Bytes of the last frame's packed stream (0 when packing stopped before it was complete).
        var streamLength = 0
        init() {}
    }

    /// What packing a frame produced.
    struct Packed {
        var length: Int
        /// Bytes of the packed stream (at `Scratch.stream.base`), the input of zstd.
        var streamLength: Int
        var savedByKeyGaps: Int
        var savedByZeroColumns: Int
        var rawColumnBytes: Int
        var savedByCompression: Int
        var compressed: Bool
        var dictionaryID: UInt32
    }

    /// Column modes of the COLUMNS transform (two bits a column in the section's column map).
    static let columnCoded: UInt8 = 0, columnRaw: UInt8 = 1, columnZero: UInt8 = 2, columnSparse: UInt8 = 3

    /// Packs the plain frame `plain` into `output`. `bases[k]` holds, for batch frames, the
    /// receiver's record (or nil: zeros) for each put of section k in frame order; nil disables
    /// the XOR transform. Returns the packed frame, or nil when packing does not pay.
    static func pack(
        _ plain: UnsafeRawBufferPointer, bases: [[UnsafeRawPointer?]]?, transforms allowed: UInt8, level: Int32,
        output: inout ByteBuffer, scratch: inout Scratch, zstd: inout ZstdContexts, advice: inout ColumnAdvice
    ) -> Packed? {
        scratch.streamLength = 0
        guard let header = try? FrameReader.peek(plain) else { return nil }
        var transforms = allowed & FrameLayout.knownTransforms
        if bases == nil || header.isReset { transforms &= ~FrameLayout.transformXOR }
        if transforms & FrameLayout.transformTranspose == 0 { transforms &= ~FrameLayout.transformColumns }
        let xor = transforms & FrameLayout.transformXOR != 0
        let transpose = transforms & FrameLayout.transformTranspose != 0
        let split = transforms & FrameLayout.transformColumns != 0
        let gaps = transforms & FrameLayout.transformKeyGaps != 0
        var sections: [SectionView] = []
        var position = header.headerLength
        for _ in 0..<header.sectionCount {
            guard let (section, next) = try? FrameReader.readSection(plain, at: position, schema: nil) else { return nil }
            sections.append(section)
            position = next
        }
        // Bounds: LEB128 of a 64-bit gap takes at most 10 bytes.
        var streamBound = 0, tailBound = 0, columnsBound = 0
        for s in sections {
            let records = s.putCount &* s.recordSize
            streamBound &+= FrameLayout.packedSectionHeaderSize &+ (split ? (s.recordSize &+ 3) / 4 : 0)
                &+ 10 &* (s.putCount &+ s.deleteCount) &+ records
            if split { tailBound &+= records; columnsBound = max(columnsBound, records) }
        }
        guard scratch.stream.reserve(streamBound, preserving: 0), scratch.tail.reserve(tailBound, preserving: 0),
              scratch.columns.reserve(columnsBound, preserving: 0) else { return nil }
        var out = scratch.stream.base
        var tailOut = scratch.tail.base
        var savedByKeyGaps = 0, savedByZeroColumns = 0
        for (k, s) in sections.enumerated() {
            let size = s.recordSize
            let n = s.putCount
            let headerAt = out
            out += FrameLayout.packedSectionHeaderSize
            let map = out
            let mapBytes = split ? (size &+ 3) / 4 : 0
            map.initializeMemory(as: UInt8.self, repeating: 0, count: mapBytes)
            out += mapBytes
            let keysStart = out
            let order: [Int]
            if gaps {
                order = KeyCoding.sortedOrder(s.putKeys, count: n)
                out = KeyCoding.writeGaps(s.putKeys, order: order, to: out)
                out = KeyCoding.writeGaps(s.deleteKeys, order: KeyCoding.sortedOrder(s.deleteKeys, count: s.deleteCount), to: out)
            } else {
                order = Array(0..<n)
                out.copyMemory(from: s.putKeys, byteCount: 8 &* (n &+ s.deleteCount))
                out += 8 &* (n &+ s.deleteCount)
            }
            headerAt.storeLE(s.tableID, at: 0)
            headerAt.storeLE(UInt32(size), at: 4)
            headerAt.storeLE(UInt64(n), at: 8)
            headerAt.storeLE(UInt64(s.deleteCount), at: 16)
            headerAt.storeLE(UInt64(out - keysStart), at: 24)
            savedByKeyGaps &+= 8 &* (n &+ s.deleteCount) &- (out - keysStart)
            var sectionBases: [UnsafeRawPointer?]? = nil
            var mostlyXOR = false
            if xor, let b = bases?[k] {
                guard b.count == n else { return nil }
                sectionBases = b
                var present = 0
                for base in b where base != nil { present &+= 1 }
                mostlyXOR = 2 &* present > n
            }
            if !transpose {
                order.withUnsafeBufferPointer { order in
                    for j in 0..<n {
                        let target = out + j &* size
                        target.copyMemory(from: s.records + order[j] &* size, byteCount: size)
                        if let base = sectionBases?[order[j]] { xorRecord(target, with: base, size: size) }
                    }
                }
                out += n &* size
            } else if !split {
                Transpose.forward(s.records, order: order, bases: sectionBases, size: size, into: out)
                out += n &* size
            } else {
                let columns = scratch.columns.base
                Transpose.forward(s.records, order: order, bases: sectionBases, size: size, into: columns)
                let raw = advice.rawColumns(table: s.tableID, xor: mostlyXOR, columns: columns, rows: n, size: size,
                                            level: level, zstd: &zstd, scratch: &scratch.trial)
                for c in 0..<size {
                    let column = columns + c &* n
                    let mode: UInt8
                    let sparseLimit = n &* 3 / 8
                    let nonzero = SparseColumn.nonzeroCount(column, n, limit: sparseLimit)
                    if nonzero == 0 {
                        mode = columnZero
                        savedByZeroColumns &+= n
                    } else if nonzero <= sparseLimit {
                        // Mostly zeros: a bitmap of the nonzero rows and their bytes, a fraction
                        // of the column for zstd to read.
                        mode = columnSparse
                        let written = SparseColumn.write(column, n, nonzero: nonzero, to: out)
                        out += written
                        savedByZeroColumns &+= n &- written
                    } else if raw[c] {
                        mode = columnRaw
                        tailOut.copyMemory(from: column, byteCount: n)
                        tailOut += n
                    } else {
                        mode = columnCoded
                        out.copyMemory(from: column, byteCount: n)
                        out += n
                    }
                    let byte = map + c / 4
                    byte.storeBytes(of: byte.load(as: UInt8.self) | mode << UInt8(2 &* (c % 4)), as: UInt8.self)
                }
            }
        }
        let streamLength = out - scratch.stream.base
        let tailLength = tailOut - scratch.tail.base
        scratch.streamLength = streamLength
        let headerLength = header.headerLength
        let capacity = ZSTD_compressBound(streamLength)
        guard output.reserve(headerLength &+ capacity &+ tailLength &+ 8, preserving: 0) else { return nil }
        let useDictionary = zstd.current != nil
        var body = zstd.compress(output.base + headerLength, capacity: capacity, scratch.stream.base, count: streamLength,
                                 level: level, useDictionary: useDictionary)
        guard ZSTD_isError(body) == 0 else { return nil }
        var codec = FrameLayout.codecZstd
        if body >= streamLength {  // zstd does not pay: send the transformed stream as it is
            codec = FrameLayout.codecNone
            body = streamLength
            (output.base + headerLength).copyMemory(from: scratch.stream.base, byteCount: streamLength)
        }
        let length = alignUp(headerLength &+ body &+ tailLength, 8)
        guard length &* 20 <= plain.count &* 19 else { return nil }  // at least 5% smaller, or not at all
        (output.base + headerLength + body).copyMemory(from: scratch.tail.base, byteCount: tailLength)
        let end = headerLength &+ body &+ tailLength
        (output.base + end).initializeMemory(as: UInt8.self, repeating: 0, count: length &- end)
        output.base.copyMemory(from: plain.baseAddress!, byteCount: headerLength)
        output.base.storeLE(UInt64(length), at: FrameLayout.offFrameLength)
        output.base.storeLE(codec, at: FrameLayout.offCodec)
        output.base.storeLE(transforms, at: FrameLayout.offTransforms)
        output.base.storeLE(UInt64(streamLength), at: FrameLayout.offPayloadLength)
        FrameBuilder.seal(output.base, length: length)
        let compressed = codec == FrameLayout.codecZstd
        return Packed(length: length, streamLength: streamLength, savedByKeyGaps: savedByKeyGaps,
                      savedByZeroColumns: savedByZeroColumns, rawColumnBytes: tailLength,
                      savedByCompression: compressed ? streamLength &- body : 0, compressed: compressed,
                      dictionaryID: compressed && useDictionary ? zstd.current?.id ?? 0 : 0)
    }

    // MARK: Decoding

    /// Decodes the payload of a compressed or transformed frame into `decoded` and returns its
    /// sections (keys as little-endian u64 arrays, records un-transposed; records of an XOR frame
    /// still XOR-ed). Everything is validated; nothing is allocated beyond `maxDecoded` bytes
    /// (the decompressed stream, and separately the decoded sections).
    static func unpack(
        _ frame: UnsafeRawBufferPointer, header: FrameHeader, schema: Schema?, maxDecoded: UInt64,
        packed packedBuffer: inout ByteBuffer, decoded: inout ByteBuffer, zstd: inout ZstdContexts
    ) throws(PodSyncError) -> [SectionView] {
        let transforms = frame.baseAddress!.le(FrameLayout.offTransforms, as: UInt8.self)
        guard transforms & ~FrameLayout.knownTransforms == 0 else {
            throw .malformed("unknown transform bits \(transforms & ~FrameLayout.knownTransforms)")
        }
        if transforms & FrameLayout.transformXOR != 0 && (header.isReset || header.stateVersion != header.baseVersion &+ 1) {
            throw .malformed("the XOR transform is only valid in a delta from version v to v+1")
        }
        let transpose = transforms & FrameLayout.transformTranspose != 0
        let split = transforms & FrameLayout.transformColumns != 0
        let gaps = transforms & FrameLayout.transformKeyGaps != 0
        if split && !transpose { throw .malformed("the COLUMNS transform needs TRANSPOSE") }
        // Beyond 2^56 bytes nothing fits in memory anyway; the cap keeps every size below in Int.
        let maxDecoded = min(maxDecoded, 1 << 56)
        guard header.payloadLength <= maxDecoded else {
            throw PodSyncError(Status.frameTooLarge, "frame decodes to \(header.payloadLength) bytes, more than the \(maxDecoded) allowed")
        }
        let payloadLength = Int(header.payloadLength)
        let payload = frame.baseAddress! + header.headerLength
        let payloadBytes = frame.count - header.headerLength
        let packed: UnsafeRawPointer
        let packedEnd: Int  // where the compressed (or stored) stream ends within the payload
        if header.codec == FrameLayout.codecZstd {
            let content = ZSTD_getFrameContentSize(payload, payloadBytes)
            guard content == UInt64(payloadLength) else {
                throw .malformed("zstd frame content size \(content) disagrees with payload length \(payloadLength)")
            }
            let compressedSize = ZSTD_findFrameCompressedSize(payload, payloadBytes)
            guard ZSTD_isError(compressedSize) == 0, compressedSize <= payloadBytes else {
                throw .malformed("the zstd payload is corrupt or truncated")
            }
            guard packedBuffer.reserve(payloadLength, preserving: 0) else {
                throw PodSyncError(Status.noMemory, "cannot allocate \(payloadLength) bytes to decompress a frame")
            }
            try zstd.decompress(packedBuffer.base, capacity: payloadLength, payload, count: compressedSize)
            packed = UnsafeRawPointer(packedBuffer.base)
            packedEnd = compressedSize
        } else {
            guard payloadLength <= payloadBytes else {
                throw .malformed("payload length \(payloadLength) disagrees with the frame length")
            }
            packed = UnsafeRawPointer(payload)
            packedEnd = payloadLength
        }

        // First pass: validate the section headers and size the output.
        struct Packed {
            var tableID: UInt32; var recordSize: Int; var puts: Int; var deletes: Int
            var map: Int; var keys: Int; var keysAt: Int; var recordsAt: Int; var tableIndex: Int
        }
        var list: [Packed] = []
        var position = 0
        var outputSize: UInt64 = 0
        var tailSize = 0
        var expandedSize = 0  // zero and sparse columns rebuilt in the second pass
        var previousTable: UInt32? = nil
        for _ in 0..<header.sectionCount {
            guard payloadLength - position >= FrameLayout.packedSectionHeaderSize else { throw .malformed("packed section at byte \(position) is truncated") }
            let p = packed + position
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
            // The column map: two bits a column; count the columns the records block holds.
            let mapBytes = split ? (recordSize + 3) / 4 : 0
            var raw = 0
            if split {
                guard mapBytes <= remaining else { throw .malformed("packed section for table \(tableID): the column map is truncated") }
                let map = p + FrameLayout.packedSectionHeaderSize
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
            let recordsAt = position + FrameLayout.packedSectionHeaderSize + mapBytes + Int(keysLength)
            var recordBytes = 0
            if split {
                let map = p + FrameLayout.packedSectionHeaderSize
                var zeroSeen = false
                for c in 0..<recordSize {
                    switch (map.load(fromByteOffset: c / 4, as: UInt8.self) >> UInt8(2 * (c % 4))) & 3 {
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
                        guard let length = SparseColumn.validatedLength(packed + recordsAt + recordBytes, rows: Int(puts),
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
            if header.stateVersion == 0 && puts != 0 { throw .malformed("a frame of version 0 cannot carry records") }
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
            let keysAt = position + FrameLayout.packedSectionHeaderSize + mapBytes
            list.append(Packed(tableID: tableID, recordSize: recordSize, puts: Int(puts), deletes: Int(deletes),
                               map: position + FrameLayout.packedSectionHeaderSize, keys: Int(keysLength), keysAt: keysAt,
                               recordsAt: recordsAt, tableIndex: tableIndex))
            position = recordsAt + recordBytes
        }
        guard position == payloadLength else { throw .malformed("\(payloadLength - position) bytes after the last packed section") }
        // After the stream: the raw columns, then zero padding of fewer than 8 bytes.
        let padding = payloadBytes - packedEnd - tailSize
        guard padding < 8, FrameReader.isZero(payload + packedEnd + tailSize, padding) else {
            throw .malformed("the payload has \(padding) bytes after its stream and raw columns that are not padding")
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
            if gaps {
                var read = 0
                try KeyCoding.readGaps(keysIn, length: s.keys, count: s.puts, into: putKeys, read: &read)
                try KeyCoding.readGaps(keysIn + read, length: s.keys - read, count: s.deletes, into: putKeys + 8 * s.puts, read: &read)
                guard read == s.keys else { throw .malformed("table \(s.tableID): \(s.keys - read) key bytes left over") }
            } else {
                putKeys.copyMemory(from: keysIn, byteCount: s.keys)
            }
            out += 8 * (s.puts + s.deletes)
            var recordsIn = packed + s.recordsAt
            let size = s.recordSize
            if split {
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
                xor: transforms & FrameLayout.transformXOR != 0))
            out += s.puts * size
        }
        return sections
    }
}
