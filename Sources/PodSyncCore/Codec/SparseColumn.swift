/// The sparse column mode of the COLUMNS transform (docs/FORMAT.md): a byte column that is mostly
/// zero is stored as a bitmap of its nonzero rows (bit j of byte j/8 for row j) followed by the
/// nonzero bytes in row order.
enum SparseColumn {
    /// The high bit of each byte of `x` that is nonzero.
    @inline(__always) static func nonzeroBytes(_ x: UInt64) -> UInt64 {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return ((x & low7) &+ low7 | x) & ~low7
    }

    /// Nonzero bytes among `count` bytes at `p`, eight at a time; counting stops (with a result
    /// above `limit`) once it passes `limit`.
    static func nonzeroCount(_ p: UnsafeRawPointer, _ count: Int, limit: Int = .max) -> Int {
        var i = 0
        var total = 0
        while i &+ 8 <= count {
            total &+= nonzeroBytes(p.loadUnaligned(fromByteOffset: i, as: UInt64.self)).nonzeroBitCount
            i &+= 8
            if total > limit && i & 63 == 0 { return total }
        }
        while i < count {
            if p.load(fromByteOffset: i, as: UInt8.self) != 0 { total &+= 1 }
            i &+= 1
        }
        return total
    }

    /// Writes the sparse form of `rows` bytes at `column` (of which `nonzero` are nonzero) to
    /// `out`; returns the bytes written.
    static func write(_ column: UnsafeRawPointer, _ rows: Int, nonzero: Int, to out: UnsafeMutableRawPointer) -> Int {
        let bitmapBytes = (rows &+ 7) / 8
        var value = out + bitmapBytes
        for b in 0..<bitmapBytes {
            var bits: UInt8 = 0
            let first = 8 &* b
            if first &+ 8 <= rows {
                let word = column.loadUnaligned(fromByteOffset: first, as: UInt64.self)
                if word != 0 {
                    // Gather the high bits of the nonzero-byte mask into one byte.
                    bits = UInt8(truncatingIfNeeded: ((nonzeroBytes(word) >> 7) &* 0x0102_0408_1020_4080) >> 56)
                    var rest = bits
                    while rest != 0 {
                        let k = rest.trailingZeroBitCount
                        value.storeBytes(of: UInt8(truncatingIfNeeded: word >> UInt64(8 &* k)), as: UInt8.self)
                        value += 1
                        rest &= rest &- 1
                    }
                }
            } else {
                for k in 0..<(rows &- first) {
                    let byte = column.load(fromByteOffset: first &+ k, as: UInt8.self)
                    if byte != 0 {
                        bits |= 1 << UInt8(k)
                        value.storeBytes(of: byte, as: UInt8.self)
                        value += 1
                    }
                }
            }
            out.storeBytes(of: bits, toByteOffset: b, as: UInt8.self)
        }
        return value - out
    }

    /// The length of the sparse column at `p` (bitmap of `rows` bits, then one byte per set bit),
    /// or nil when its bitmap does not fit in `available` bytes, its bits past `rows` are not 0, or
    /// its bytes do not fit.
    static func validatedLength(_ p: UnsafeRawPointer, rows: Int, available: Int) -> Int? {
        let bitmapBytes = (rows &+ 7) / 8
        guard bitmapBytes <= available else { return nil }
        var set = 0
        var i = 0
        while i &+ 8 <= bitmapBytes {
            set &+= p.loadUnaligned(fromByteOffset: i, as: UInt64.self).nonzeroBitCount
            i &+= 8
        }
        while i < bitmapBytes {
            set &+= p.load(fromByteOffset: i, as: UInt8.self).nonzeroBitCount
            i &+= 1
        }
        if rows % 8 != 0, p.load(fromByteOffset: bitmapBytes &- 1, as: UInt8.self) >> UInt8(rows % 8) != 0 { return nil }
        guard set <= available &- bitmapBytes else { return nil }
        return bitmapBytes &+ set
    }

    /// Expands a validated sparse column into `rows` bytes at `out`; returns the bytes it took.
    @discardableResult
    static func expand(_ p: UnsafeRawPointer, rows: Int, into out: UnsafeMutableRawPointer) -> Int {
        let bitmapBytes = (rows &+ 7) / 8
        var value = p + bitmapBytes
        var b = 0
        while b < bitmapBytes {
            let bits = p.load(fromByteOffset: b, as: UInt8.self)
            let first = 8 &* b
            let count = min(8, rows &- first)
            if count == 8 {
                (out + first).storeBytes(of: UInt64(0), as: UInt64.self)
            } else {
                (out + first).initializeMemory(as: UInt8.self, repeating: 0, count: count)
            }
            var rest = bits
            while rest != 0 {
                let k = rest.trailingZeroBitCount
                (out + (first &+ k)).storeBytes(of: value.load(as: UInt8.self), as: UInt8.self)
                value += 1
                rest &= rest &- 1
            }
            b &+= 1
        }
        return value - p
    }
}
