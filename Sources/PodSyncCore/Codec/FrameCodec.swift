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
        /// One section's records as sent with FIELDS (before TRANSPOSE).
        var fields = ByteBuffer()
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
        _ plain: UnsafeRawBufferPointer, bases: [[UnsafeRawPointer?]]?, ranks: [[UInt32]?]? = nil, schema: Schema?,
        transforms allowed: UInt8, level: Int32,
        output: inout ByteBuffer, scratch: inout Scratch, zstd: inout ZstdContexts, advice: inout ColumnAdvice
    ) -> Packed? {
        scratch.streamLength = 0
        guard let header = try? FrameReader.peek(plain) else { return nil }
        var transforms = allowed & (header.formatVersion == 2 ? FrameLayout.knownTransforms : FrameLayout.knownTransformsV1)
        if bases == nil || header.isReset || schema == nil { transforms &= ~FrameLayout.transformFields }
        if bases == nil || header.isReset { transforms &= ~FrameLayout.transformXOR }
        // KEY_RANKS: the sections whose puts the writer ranked (a delta from v to v + 1).
        var rankedSections = 0
        if let ranks, header.formatVersion == 2, !header.isReset, header.subscription == nil, header.chunk == nil,
           header.stateVersion == header.baseVersion &+ 1 {
            for r in ranks where r != nil { rankedSections &+= 1 }
        }
        if rankedSections == 0 || transforms & FrameLayout.transformKeyGaps == 0 { transforms &= ~FrameLayout.transformKeyRanks }
        let ranked = transforms & FrameLayout.transformKeyRanks != 0
        if transforms & FrameLayout.transformTranspose == 0 { transforms &= ~FrameLayout.transformColumns }
        let xor = transforms & FrameLayout.transformXOR != 0
        let transpose = transforms & FrameLayout.transformTranspose != 0
        let split = transforms & FrameLayout.transformColumns != 0
        let gaps = transforms & FrameLayout.transformKeyGaps != 0
        var sections: [SectionView] = []
        var position = header.headerLength
        for _ in 0..<header.totalSectionCount {
            guard let (section, next) = try? FrameReader.readSection(plain, at: position, schema: nil) else { return nil }
            sections.append(section)
            position = next
        }
        // FIELDS: each changes section's field modes, chosen from its records; the frame goes
        // without FIELDS when no field of any section is sent as DIFF.
        var fieldModes: [[UInt8]] = []
        if transforms & FrameLayout.transformFields != 0, let schema, let bases {
            var anyDiff = false
            for (k, s) in sections.enumerated() {
                guard let t = schema.tableIndex(of: s.tableID), schema.tables[t].recordSize == s.recordSize else { return nil }
                let table = schema.tables[t]
                var modes = [UInt8](repeating: FieldDiff.modePlain, count: table.fields.count)
                if k < header.sectionCount && k < bases.count && bases[k].count == s.putCount {
                    modes = FieldDiff.choose(table: table, records: s.records, bases: bases[k], size: s.recordSize)
                    anyDiff = anyDiff || modes.contains(FieldDiff.modeDiff)
                }
                fieldModes.append(modes)
            }
            if !anyDiff {
                transforms &= ~FrameLayout.transformFields
                fieldModes = []
            }
        }
        // Bounds: LEB128 of a 64-bit gap takes at most 10 bytes.
        var streamBound = 0, tailBound = 0, columnsBound = 0, fieldsBound = 0
        for (k, s) in sections.enumerated() {
            let records = s.putCount &* s.recordSize
            streamBound &+= FrameLayout.packedSectionHeaderSize &+ (split ? (s.recordSize &+ 3) / 4 : 0)
                &+ 10 &* (s.putCount &+ s.deleteCount &+ 1) &+ records
                &+ (k < fieldModes.count ? FieldDiff.mapBytes(fieldCount: fieldModes[k].count) : 0)
            if split { tailBound &+= records; columnsBound = max(columnsBound, records) }
            if k < fieldModes.count { fieldsBound = max(fieldsBound, records) }
        }
        guard scratch.stream.reserve(streamBound, preserving: 0), scratch.tail.reserve(tailBound, preserving: 0),
              scratch.columns.reserve(columnsBound, preserving: 0), scratch.fields.reserve(fieldsBound, preserving: 0) else { return nil }
        var out = scratch.stream.base
        var tailOut = scratch.tail.base
        var savedByKeyGaps = 0, savedByZeroColumns = 0
        for (k, s) in sections.enumerated() {
            let size = s.recordSize
            let n = s.putCount
            let headerAt = out
            out += FrameLayout.packedSectionHeaderSize
            var runs: [FieldRun] = []
            if k < fieldModes.count, let schema, let t = schema.tableIndex(of: s.tableID) {
                out += FieldDiff.writeMap(fieldModes[k], to: out)
                runs = FieldDiff.runs(table: schema.tables[t], modes: fieldModes[k])
            }
            let map = out
            let mapBytes = split ? (size &+ 3) / 4 : 0
            map.initializeMemory(as: UInt8.self, repeating: 0, count: mapBytes)
            out += mapBytes
            let keysStart = out
            let order: [Int]
            if ranked, n > 0, k < header.sectionCount, let ranks, k < ranks.count, let sectionRanks = ranks[k], sectionRanks.count == n {
                // Every put ranked, in ascending rank; the deletes as keys.
                var values = [UInt64](repeating: 0, count: n)
                for j in 0..<n { values[j] = UInt64(sectionRanks[j]).littleEndian }
                order = values.withUnsafeBytes { KeyCoding.sortedOrder($0.baseAddress!, count: n) }
                var sorted = [UInt64](repeating: 0, count: n)
                for j in 0..<n { sorted[j] = UInt64(sectionRanks[order[j]]) }
                out = KeyCoding.writeVarint(UInt64(n), to: out)
                out = sorted.withUnsafeBufferPointer { KeyCoding.writeRankGaps($0.baseAddress!, count: n, to: out) }
                out = KeyCoding.writeGaps(s.deleteKeys, order: KeyCoding.sortedOrder(s.deleteKeys, count: s.deleteCount), to: out)
            } else if gaps {
                if ranked { out = KeyCoding.writeVarint(0, to: out) }
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
            var records = s.records
            if xor, let bases, k < bases.count, k < header.sectionCount {  // a refresh slice is absolute
                let b = bases[k]
                guard b.count == n else { return nil }
                sectionBases = b
                var present = 0
                for base in b where base != nil { present &+= 1 }
                mostlyXOR = 2 &* present > n
            }
            if !runs.isEmpty, let bases {
                // The records as sent (XOR and DIFF applied), then transposed without bases.
                FieldDiff.encode(s.records, bases: bases[k], xor: sectionBases != nil, runs: runs, size: size, into: scratch.fields.base)
                records = UnsafeRawPointer(scratch.fields.base)
                sectionBases = nil
            }
            if !transpose {
                order.withUnsafeBufferPointer { order in
                    for j in 0..<n {
                        let target = out + j &* size
                        target.copyMemory(from: records + order[j] &* size, byteCount: size)
                        if let base = sectionBases?[order[j]] { xorRecord(target, with: base, size: size) }
                    }
                }
                out += n &* size
            } else if !split {
                Transpose.forward(records, order: order, bases: sectionBases, size: size, into: out)
                out += n &* size
            } else {
                let columns = scratch.columns.base
                Transpose.forward(records, order: order, bases: sectionBases, size: size, into: columns)
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
        // A format-2 header grows by payload_length's LEB128 (and may change with frame_length):
        // compress after the largest header it can become, move the body once its size is known.
        let plainHeaderLength = header.headerLength
        let v2 = header.formatVersion == 2
        var fields = FrameBuilder.HeaderFields(header)
        let room = v2 ? plainHeaderLength &+ 24 : plainHeaderLength
        let capacity = ZSTD_compressBound(streamLength)
        guard output.reserve(room &+ capacity &+ tailLength &+ 8, preserving: 0) else { return nil }
        var headerLength = room
        let useDictionary = zstd.current != nil
        var body = zstd.compress(output.base + headerLength, capacity: capacity, scratch.stream.base, count: streamLength,
                                 level: level, useDictionary: useDictionary)
        guard ZSTD_isError(body) == 0 else { return nil }
        var codec = FrameLayout.codecZstd
        if body >= streamLength {  // zstd does not pay: send the transformed stream as it is
            // ... unless no transform applies: a frame with codec 0 and transforms 0 is plain by
            // definition, and the plain frame is already what would be sent.
            guard transforms != 0 else { return nil }
            codec = FrameLayout.codecNone
            body = streamLength
            (output.base + headerLength).copyMemory(from: scratch.stream.base, byteCount: streamLength)
        }
        fields.codec = codec
        fields.transforms = transforms
        if v2 {
            var needed = HeaderV2.headerLength(fields, frameLength: UInt64(alignUp(plainHeaderLength &+ body &+ tailLength, 8)), payloadLength: UInt64(streamLength))
            while true {
                let total = UInt64(alignUp(needed &+ body &+ tailLength, 8))
                let again = HeaderV2.headerLength(fields, frameLength: total, payloadLength: UInt64(streamLength))
                if again <= needed { break }
                needed = again
            }
            guard needed <= room else { return nil }
            (output.base + needed).copyMemory(from: output.base + room, byteCount: body)  // may overlap: memmove
            headerLength = needed
        }
        let length = alignUp(headerLength &+ body &+ tailLength, 8)
        guard length &* 20 <= plain.count &* 19 else { return nil }  // at least 5% smaller, or not at all
        (output.base + headerLength + body).copyMemory(from: scratch.tail.base, byteCount: tailLength)
        let end = headerLength &+ body &+ tailLength
        (output.base + end).initializeMemory(as: UInt8.self, repeating: 0, count: length &- end)
        if v2 {
            HeaderV2.write(output.base, headerLength: headerLength, frameLength: UInt64(length), payloadLength: UInt64(streamLength), fields)
        } else {
            FrameBuilder.writeHeaderV1(output.base, length: length, header: fields, sectionCount: header.sectionCount,
                                       payloadLength: UInt64(streamLength))
        }
        FrameBuilder.seal(output.base, length: length)
        let compressed = codec == FrameLayout.codecZstd
        return Packed(length: length, streamLength: streamLength, savedByKeyGaps: savedByKeyGaps,
                      savedByZeroColumns: savedByZeroColumns, rawColumnBytes: tailLength,
                      savedByCompression: compressed ? streamLength &- body : 0, compressed: compressed,
                      dictionaryID: compressed && useDictionary ? zstd.current?.id ?? 0 : 0)
    }
}
