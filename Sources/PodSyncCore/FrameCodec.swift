import CZstd

/// Compression and transforms of frame payloads (docs/FORMAT.md, "Codecs and transforms").
///
/// The encoder writes every frame in the plain layout first, then `pack` re-encodes its payload:
/// keys sorted and stored as LEB128 gaps, records XOR-ed with the receiver's record at the base
/// version and byte-transposed, the result compressed with zstd. The packed frame replaces the
/// plain one only where it is at least 5% smaller. `unpack` reverses it into a scratch buffer with
/// every count, length and size checked before it is used or allocated.
/// zstd contexts kept for a store's lifetime: creating one per frame costs more than compressing a
/// small frame.
struct ZstdContexts: ~Copyable {
    private var compression: OpaquePointer? = nil
    private var decompression: OpaquePointer? = nil

    init() {}

    deinit {
        if let compression { ZSTD_freeCCtx(compression) }
        if let decompression { ZSTD_freeDCtx(decompression) }
    }

    mutating func compressor() -> OpaquePointer? {
        if compression == nil { compression = ZSTD_createCCtx() }
        return compression
    }

    mutating func decompressor() -> OpaquePointer? {
        if decompression == nil { decompression = ZSTD_createDCtx() }
        return decompression
    }
}

enum FrameCodec {
    /// Largest decoded payload accepted by default (and by store-less validation).
    static let defaultMaxDecodedBytes: UInt64 = 1 << 30

    // MARK: Encoding

    /// What packing a frame produced.
    struct Packed {
        var length: Int
        var savedByKeyGaps: Int
        var savedByCompression: Int
    }

    /// Packs the plain frame `plain` into `output`. `bases[k]` holds, for batch frames, the
    /// receiver's record (or nil: zeros) for each put of section k in frame order; nil disables
    /// the XOR transform. Returns the packed frame, or nil when packing does not pay.
    static func pack(
        _ plain: UnsafeRawBufferPointer, bases: [[UnsafeRawPointer?]]?, transforms allowed: UInt8,
        level: Int32, output: inout ByteBuffer, scratch: inout ByteBuffer, zstd: inout ZstdContexts
    ) -> Packed? {
        guard let header = try? FrameReader.peek(plain) else { return nil }
        var transforms = allowed & FrameLayout.knownTransforms
        if bases == nil || header.isReset { transforms &= ~FrameLayout.transformXOR }
        var sections: [SectionView] = []
        var position = header.headerLength
        for _ in 0..<header.sectionCount {
            guard let (section, next) = try? FrameReader.readSection(plain, at: position, schema: nil) else { return nil }
            sections.append(section)
            position = next
        }
        // Packed payload: at most the plain payload plus 2 bytes a key (LEB128 of 64-bit gaps).
        var bound = 0
        for s in sections {
            bound += FrameLayout.packedSectionHeaderSize + 10 * (s.putCount + s.deleteCount) + s.putCount * s.recordSize
        }
        scratch.reserve(bound, preserving: 0)
        var out = scratch.base
        var savedByKeyGaps = 0
        for (k, s) in sections.enumerated() {
            let headerAt = out
            out += FrameLayout.packedSectionHeaderSize
            let keysStart = out
            var order = Array(0..<s.putCount)
            if transforms & FrameLayout.transformKeyGaps != 0 {
                order = sortedOrder(s.putKeys, count: s.putCount)
                out = writeGaps(s.putKeys, order: order, to: out)
                out = writeGaps(s.deleteKeys, order: sortedOrder(s.deleteKeys, count: s.deleteCount), to: out)
            } else {
                out.copyMemory(from: s.putKeys, byteCount: 8 * (s.putCount + s.deleteCount))
                out += 8 * (s.putCount + s.deleteCount)
            }
            headerAt.storeLE(s.tableID, at: 0)
            headerAt.storeLE(UInt32(s.recordSize), at: 4)
            headerAt.storeLE(UInt64(s.putCount), at: 8)
            headerAt.storeLE(UInt64(s.deleteCount), at: 16)
            headerAt.storeLE(UInt64(out - keysStart), at: 24)
            savedByKeyGaps += 8 * (s.putCount + s.deleteCount) - (out - keysStart)
            let size = s.recordSize
            let n = s.putCount
            let sectionBases = transforms & FrameLayout.transformXOR != 0 ? bases?[k] : nil
            let transpose = transforms & FrameLayout.transformTranspose != 0
            // Each record goes through a temporary copy (XOR-ed a word at a time), then to its
            // place: contiguous, or one byte into each of `size` rows when transposing.
            let temp = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer { temp.deallocate() }
            order.withUnsafeBufferPointer { order in
                for j in 0..<n {
                    let i = order[j]
                    temp.copyMemory(from: s.records + i &* size, byteCount: size)
                    if let base = sectionBases?[i] { xorRecord(temp, with: base, size: size) }
                    if transpose {
                        var target = out + j
                        for b in 0..<size {
                            target.storeBytes(of: temp.load(fromByteOffset: b, as: UInt8.self), as: UInt8.self)
                            target += n
                        }
                    } else {
                        (out + j &* size).copyMemory(from: temp, byteCount: size)
                    }
                }
            }
            out += n * size
        }
        let packedLength = out - scratch.base
        let capacity = ZSTD_compressBound(packedLength)
        let headerLength = header.headerLength
        output.reserve(headerLength + capacity + 8, preserving: 0)
        guard let context = zstd.compressor() else { return nil }
        let compressed = ZSTD_compressCCtx(context, output.base + headerLength, capacity, scratch.base, packedLength, level)
        guard ZSTD_isError(compressed) == 0 else { return nil }
        let length = alignUp(headerLength + compressed, 8)
        guard length * 20 <= plain.count * 19 else { return nil }  // at least 5% smaller, or not at all
        (output.base + headerLength + compressed).initializeMemory(as: UInt8.self, repeating: 0, count: length - headerLength - compressed)
        output.base.copyMemory(from: plain.baseAddress!, byteCount: headerLength)
        output.base.storeLE(UInt64(length), at: FrameLayout.offFrameLength)
        output.base.storeLE(FrameLayout.codecZstd, at: FrameLayout.offCodec)
        output.base.storeLE(transforms, at: FrameLayout.offTransforms)
        output.base.storeLE(UInt64(packedLength), at: FrameLayout.offPayloadLength)
        FrameBuilder.seal(output.base, length: length)
        return Packed(length: length, savedByKeyGaps: savedByKeyGaps, savedByCompression: packedLength - compressed)
    }

    /// Positions 0..<count ordered by the little-endian u64 at `keys + 8*i`: LSD radix sort on
    /// bytes with all eight histograms taken in one pass, skipping bytes every key shares (keys of
    /// a dense id space need two or three passes), and no sort at all when already ascending.
    static func sortedOrder(_ keys: UnsafeRawPointer, count n: Int) -> [Int] {
        var order = Array(0..<n)
        guard n > 1 else { return order }
        var ascending = true
        var previous = keys.le(0, as: UInt64.self)
        for i in 1..<n {
            let key = keys.le(8 * i, as: UInt64.self)
            if key < previous { ascending = false; break }
            previous = key
        }
        if ascending { return order }
        var histogram = [Int](repeating: 0, count: 8 * 256)
        var pairs = [(key: UInt64, index: Int)](repeating: (0, 0), count: n)
        var spare = pairs
        histogram.withUnsafeMutableBufferPointer { h in
            pairs.withUnsafeMutableBufferPointer { p in
                for i in 0..<n {
                    let key = keys.le(8 * i, as: UInt64.self)
                    p[i] = (key, i)
                    var v = key
                    for d in 0..<8 {
                        h[d &* 256 &+ Int(truncatingIfNeeded: v & 0xFF)] &+= 1
                        v >>= 8
                    }
                }
            }
            for d in 0..<8 {
                let base = d * 256
                if h[base + Int(truncatingIfNeeded: (pairs[0].key >> UInt64(8 * d)) & 0xFF)] == n { continue }
                var total = 0
                for b in 0..<256 { let c = h[base + b]; h[base + b] = total; total += c }
                pairs.withUnsafeBufferPointer { src in
                    spare.withUnsafeMutableBufferPointer { dst in
                        for item in src {
                            let slot = base + Int(truncatingIfNeeded: (item.key >> UInt64(8 * d)) & 0xFF)
                            dst[h[slot]] = item
                            h[slot] &+= 1
                        }
                    }
                }
                swap(&pairs, &spare)
            }
        }
        for i in 0..<n { order[i] = pairs[i].index }
        return order
    }

    /// Writes the keys in `order` as LEB128: the first key, then each gap to the previous.
    static func writeGaps(_ keys: UnsafeRawPointer, order: [Int], to start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var out = start
        var previous: UInt64 = 0
        for (j, i) in order.enumerated() {
            let key = keys.le(8 * i, as: UInt64.self)
            var value = j == 0 ? key : key &- previous
            previous = key
            repeat {
                let byte = UInt8(truncatingIfNeeded: value & 0x7F)
                value >>= 7
                out.storeBytes(of: value == 0 ? byte : byte | 0x80, as: UInt8.self)
                out += 1
            } while value != 0
        }
        return out
    }

    // MARK: Decoding

    /// Decodes the payload of a compressed or transformed frame into `decoded` and returns its
    /// sections (keys as little-endian u64 arrays, records un-transposed; records of an XOR frame
    /// still XOR-ed). Everything is validated; nothing is allocated beyond `maxDecoded` bytes plus
    /// what the validated counts need.
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
        guard header.payloadLength <= maxDecoded else {
            throw PodSyncError(Status.frameTooLarge, "frame decodes to \(header.payloadLength) bytes, more than the \(maxDecoded) allowed")
        }
        let payloadLength = Int(header.payloadLength)
        let payload = frame.baseAddress! + header.headerLength
        let payloadBytes = frame.count - header.headerLength
        let packed: UnsafeRawPointer
        if header.codec == FrameLayout.codecZstd {
            let content = ZSTD_getFrameContentSize(payload, payloadBytes)
            guard content == UInt64(payloadLength) else {
                throw .malformed("zstd frame content size \(content) disagrees with payload length \(payloadLength)")
            }
            let compressedSize = ZSTD_findFrameCompressedSize(payload, payloadBytes)
            guard ZSTD_isError(compressedSize) == 0, payloadBytes - compressedSize < 8,
                  FrameReader.isZero(payload + compressedSize, payloadBytes - compressedSize) else {
                throw .malformed("the zstd payload is corrupt or followed by more than zero padding")
            }
            packedBuffer.reserve(payloadLength, preserving: 0)
            guard let context = zstd.decompressor() else {
                throw PodSyncError(Status.noMemory, "cannot allocate a zstd decompression context")
            }
            let written = ZSTD_decompressDCtx(context, packedBuffer.base, payloadLength, payload, compressedSize)
            guard ZSTD_isError(written) == 0, written == payloadLength else {
                throw .malformed("the zstd payload does not decompress to its \(payloadLength) bytes")
            }
            packed = UnsafeRawPointer(packedBuffer.base)
        } else {
            // The packed payload as is, then zero padding (under 8 bytes) to the frame's length.
            guard payloadLength <= payloadBytes, payloadBytes - payloadLength < 8,
                  FrameReader.isZero(payload + payloadLength, payloadBytes - payloadLength) else {
                throw .malformed("payload length \(payloadLength) disagrees with the frame length")
            }
            packed = UnsafeRawPointer(payload)
        }

        // First pass: validate the section headers and size the output.
        struct Packed { var tableID: UInt32; var recordSize: Int; var puts: Int; var deletes: Int; var keys: Int; var at: Int; var tableIndex: Int }
        var list: [Packed] = []
        var position = 0
        var outputSize = 0
        var previousTable: UInt32? = nil
        let gaps = transforms & FrameLayout.transformKeyGaps != 0
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
            let remaining = UInt64(payloadLength - position - FrameLayout.packedSectionHeaderSize)
            // Each key takes at least one byte (eight without gaps): counts above that are lies.
            guard keysLength <= remaining, puts <= keysLength, deletes <= keysLength - puts,
                  gaps || keysLength == 8 * (puts + deletes) else {
                throw .malformed("packed section for table \(tableID): \(puts)/\(deletes) keys do not fit \(keysLength) key bytes")
            }
            let (recordBytes, overflow) = puts.multipliedReportingOverflow(by: UInt64(recordSize))
            guard !overflow, recordBytes <= remaining - keysLength else {
                throw .malformed("packed section for table \(tableID): records do not fit the payload")
            }
            if header.isReset && deletes != 0 { throw .malformed("a RESET frame cannot carry deletions") }
            if header.stateVersion == 0 && puts != 0 { throw .malformed("a frame of version 0 cannot carry records") }
            list.append(Packed(tableID: tableID, recordSize: recordSize, puts: Int(puts), deletes: Int(deletes), keys: Int(keysLength),
                               at: position + FrameLayout.packedSectionHeaderSize, tableIndex: tableIndex))
            outputSize += 8 * Int(puts + deletes) + Int(recordBytes)
            position += FrameLayout.packedSectionHeaderSize + Int(keysLength) + Int(recordBytes)
        }
        guard position == payloadLength else { throw .malformed("\(payloadLength - position) bytes after the last packed section") }

        // Second pass: decode keys and records into `decoded`.
        decoded.reserve(outputSize, preserving: 0)
        var out = decoded.base
        var sections: [SectionView] = []
        let transpose = transforms & FrameLayout.transformTranspose != 0
        for s in list {
            let keysIn = packed + s.at
            let putKeys = out
            if gaps {
                var read = 0
                try readGaps(keysIn, length: s.keys, count: s.puts, into: putKeys, read: &read)
                try readGaps(keysIn + read, length: s.keys - read, count: s.deletes, into: putKeys + 8 * s.puts, read: &read)
                guard read == s.keys else { throw .malformed("table \(s.tableID): \(s.keys - read) key bytes left over") }
            } else {
                putKeys.copyMemory(from: keysIn, byteCount: s.keys)
            }
            out += 8 * (s.puts + s.deletes)
            let recordsIn = keysIn + s.keys
            let size = s.recordSize
            if transpose {
                // Record by record, so the writes are sequential; the reads stride through the rows.
                let rows = s.puts
                var target = out
                for j in 0..<rows {
                    var source = recordsIn + j
                    for _ in 0..<size {
                        target.storeBytes(of: source.load(as: UInt8.self), as: UInt8.self)
                        target += 1
                        source += rows
                    }
                }
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

    /// Decodes `count` LEB128 keys (first key, then gaps of at least 1) from `input`, advancing `read`.
    static func readGaps(
        _ input: UnsafeRawPointer, length: Int, count: Int, into output: UnsafeMutableRawPointer, read: inout Int
    ) throws(PodSyncError) {
        var at = 0
        var previous: UInt64 = 0
        for j in 0..<count {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard at < length else { throw .malformed("key gaps are truncated") }
                let byte = input.load(fromByteOffset: at, as: UInt8.self)
                at += 1
                guard shift < 64, shift < 63 || byte <= 1 else { throw .malformed("a key gap overflows 64 bits") }
                value |= UInt64(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            if j > 0 {
                guard value != 0 else { throw .malformed("keys are not strictly ascending") }
                let (key, overflow) = previous.addingReportingOverflow(value)
                guard !overflow else { throw .malformed("a key gap overflows 64 bits") }
                value = key
            }
            output.storeLE(value, at: 8 * j)
            previous = value
        }
        read += at
    }
}
