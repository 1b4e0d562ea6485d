/// The KEY_GAPS transform: keys sorted, then written as LEB128 gaps (docs/FORMAT.md, "Transforms").
enum KeyCoding {
    /// Positions 0..<count ordered by the little-endian u64 at `keys + 8*i`. Already ascending
    /// input costs one pass; otherwise an LSD radix sort over unsafe buffers visits only the bits
    /// in which the keys differ, in digits of up to 11 bits (keys of a dense id space up to 4M
    /// take two passes).
    static func sortedOrder(_ keys: UnsafeRawPointer, count n: Int) -> [Int] {
        guard n > 1 else { return Array(0..<n) }
        let first = keys.le(0, as: UInt64.self)
        var previous = first
        var ascending = true
        var varying: UInt64 = 0
        for i in 1..<n {
            let key = keys.le(8 &* i, as: UInt64.self)
            ascending = ascending && key > previous
            varying |= key ^ first
            previous = key
        }
        if ascending || varying == 0 { return Array(0..<n) }
        // Digits cover bits [low, high) of the keys: the span in which they differ.
        let low = varying.trailingZeroBitCount
        let high = 64 - varying.leadingZeroBitCount
        let passes = (high - low + 10) / 11
        let width = (high - low + passes - 1) / passes
        let mask = (UInt64(1) << UInt64(width)) &- 1
        let pairs = UnsafeMutablePointer<(key: UInt64, index: Int)>.allocate(capacity: 2 &* n)
        defer { pairs.deallocate() }
        var source = pairs
        var target = pairs + n
        for i in 0..<n { source[i] = (keys.le(8 &* i, as: UInt64.self), i) }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 1 << 11) { counts in
            for pass in 0..<passes {
                let shift = UInt64(low &+ pass &* width)
                let buckets = 1 << width
                for b in 0..<buckets { counts[b] = 0 }
                for i in 0..<n { counts[Int(truncatingIfNeeded: (source[i].key >> shift) & mask)] &+= 1 }
                var total = 0
                for b in 0..<buckets { let c = counts[b]; counts[b] = total; total &+= c }
                for i in 0..<n {
                    let item = source[i]
                    let bucket = Int(truncatingIfNeeded: (item.key >> shift) & mask)
                    target[counts[bucket]] = item
                    counts[bucket] &+= 1
                }
                swap(&source, &target)
            }
        }
        return [Int](unsafeUninitializedCapacity: n) { buffer, initialized in
            for i in 0..<n { buffer[i] = source[i].index }
            initialized = n
        }
    }

    /// Writes the keys in `order` as LEB128: the first key, then each gap to the previous.
    static func writeGaps(_ keys: UnsafeRawPointer, order: [Int], to start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var out = start
        var previous: UInt64 = 0
        order.withUnsafeBufferPointer { order in
            for j in 0..<order.count {
                let key = keys.le(8 &* order[j], as: UInt64.self)
                var value = j == 0 ? key : key &- previous
                previous = key
                while value >= 0x80 {
                    out.storeBytes(of: UInt8(truncatingIfNeeded: value) | 0x80, as: UInt8.self)
                    out += 1
                    value >>= 7
                }
                out.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
                out += 1
            }
        }
        return out
    }

    /// Decodes `count` LEB128 keys (first key, then gaps of at least 1) from `input`, advancing `read`.
    static func readGaps(
        _ input: UnsafeRawPointer, length: Int, count: Int, into output: UnsafeMutableRawPointer?, read: inout Int
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
            output?.storeLE(value, at: 8 &* j)
            previous = value
        }
        read += at
    }

    // MARK: KEY_RANKS

    /// Writes `value` as LEB128; returns the position after it.
    static func writeVarint(_ value: UInt64, to start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var out = start
        var v = value
        while v >= 0x80 {
            out.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, as: UInt8.self)
            out += 1
            v >>= 7
        }
        out.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
        return out + 1
    }

    /// Writes the ranks in ascending order as LEB128: the first rank, then each gap (KEY_GAPS values).
    static func writeRankGaps(_ sortedRanks: UnsafePointer<UInt64>, count: Int, to start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var out = start
        var previous: UInt64 = 0
        for j in 0..<count {
            let rank = sortedRanks[j]
            out = writeVarint(j == 0 ? rank : rank &- previous, to: out)
            previous = rank
        }
        return out
    }

    /// Reads a section's `ranked_puts` (minimal LEB128, at most `puts`, 0 in a slice section),
    /// advancing `read`.
    static func readRankedCount(
        _ input: UnsafeRawPointer, length: Int, puts: Int, slice: Bool, read: inout Int
    ) throws(PodSyncError) -> Int {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var at = 0
        while true {
            guard at < length else { throw .malformed("ranked_puts is truncated") }
            let byte = input.load(fromByteOffset: at, as: UInt8.self)
            at += 1
            guard shift < 63 || byte <= 1 else { throw .malformed("ranked_puts overflows 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0 {
                guard byte != 0 || at == 1 else { throw .malformed("ranked_puts is not a minimal LEB128") }
                break
            }
        }
        guard value <= UInt64(puts) else { throw .malformed("ranked_puts \(value) is above the section's \(puts) puts") }
        guard !slice || value == 0 else { throw .malformed("a refresh slice's section has ranked puts") }
        read += at
        return Int(value)
    }
}
