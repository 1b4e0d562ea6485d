/// Byte transposition of records (the TRANSPOSE transform): byte b of row j goes to b × rows + j.
///
/// Rows are moved eight at a time as 8 × 8 byte blocks: eight 64-bit loads, a three-step swap
/// network, eight 64-bit stores. The network is its own inverse, so the same block turns eight
/// column words back into eight record words. Bytes past the last whole word of a record and rows
/// past the last block of eight go one at a time.
enum Transpose {
    /// Transposes an 8 × 8 byte matrix held as eight little-endian words (word r = row r).
    @inline(__always)
    static func block(_ x: inout Block) {
        @inline(__always) func swap(_ a: inout UInt64, _ b: inout UInt64, _ shift: UInt64, _ mask: UInt64) {
            let t = ((a >> shift) ^ b) & mask
            b ^= t
            a ^= t << shift
        }
        swap(&x.0, &x.1, 8, 0x00FF_00FF_00FF_00FF); swap(&x.2, &x.3, 8, 0x00FF_00FF_00FF_00FF)
        swap(&x.4, &x.5, 8, 0x00FF_00FF_00FF_00FF); swap(&x.6, &x.7, 8, 0x00FF_00FF_00FF_00FF)
        swap(&x.0, &x.2, 16, 0x0000_FFFF_0000_FFFF); swap(&x.1, &x.3, 16, 0x0000_FFFF_0000_FFFF)
        swap(&x.4, &x.6, 16, 0x0000_FFFF_0000_FFFF); swap(&x.5, &x.7, 16, 0x0000_FFFF_0000_FFFF)
        swap(&x.0, &x.4, 32, 0x0000_0000_FFFF_FFFF); swap(&x.1, &x.5, 32, 0x0000_0000_FFFF_FFFF)
        swap(&x.2, &x.6, 32, 0x0000_0000_FFFF_FFFF); swap(&x.3, &x.7, 32, 0x0000_0000_FFFF_FFFF)
    }

    typealias Block = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    /// Stores the eight words of a block `stride` bytes apart from `p`.
    @inline(__always)
    static func store(_ x: Block, at p: UnsafeMutableRawPointer, stride: Int) {
        p.storeBytes(of: x.0, toByteOffset: 0, as: UInt64.self)
        p.storeBytes(of: x.1, toByteOffset: stride, as: UInt64.self)
        p.storeBytes(of: x.2, toByteOffset: 2 &* stride, as: UInt64.self)
        p.storeBytes(of: x.3, toByteOffset: 3 &* stride, as: UInt64.self)
        p.storeBytes(of: x.4, toByteOffset: 4 &* stride, as: UInt64.self)
        p.storeBytes(of: x.5, toByteOffset: 5 &* stride, as: UInt64.self)
        p.storeBytes(of: x.6, toByteOffset: 6 &* stride, as: UInt64.self)
        p.storeBytes(of: x.7, toByteOffset: 7 &* stride, as: UInt64.self)
    }

    /// Writes the records `records + order[j] × size` (j < order.count), each XOR-ed with
    /// `bases[order[j]]` when given and non-nil, transposed into `target` (size × rows bytes).
    static func forward(
        _ records: UnsafeRawPointer, order: [Int], bases: [UnsafeRawPointer?]?, size: Int,
        into target: UnsafeMutableRawPointer
    ) {
        let rows = order.count
        let words = size / 8
        // Rows without a base are XOR-ed with zeros, so the inner loop has no branch.
        let zeros = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer { zeros.deallocate() }
        let noBases = [UnsafeRawPointer?]()
        (bases ?? noBases).withUnsafeBufferPointer { bases in
            order.withUnsafeBufferPointer { order in
                withUnsafeTemporaryAllocation(of: UnsafeRawPointer.self, capacity: 16) { row in
                    @inline(__always) func fetch(_ j: Int, into k: Int) {
                        let i = order[j]
                        row[k] = records + i &* size
                        row[8 &+ k] = bases.isEmpty ? UnsafeRawPointer(zeros) : bases[i] ?? UnsafeRawPointer(zeros)
                    }
                    var r = 0
                    while r &+ 8 <= rows {
                        for k in 0..<8 { fetch(r &+ k, into: k) }
                        for w in 0..<words {
                            let o = 8 &* w
                            @inline(__always) func word(_ k: Int) -> UInt64 {
                                row[k].loadUnaligned(fromByteOffset: o, as: UInt64.self)
                                    ^ row[8 &+ k].loadUnaligned(fromByteOffset: o, as: UInt64.self)
                            }
                            var x = (word(0), word(1), word(2), word(3), word(4), word(5), word(6), word(7))
                            block(&x)
                            store(x, at: target + (o &* rows &+ r), stride: rows)
                        }
                        for b in (8 &* words)..<size {
                            for k in 0..<8 {
                                let v = row[k].load(fromByteOffset: b, as: UInt8.self) ^ row[8 &+ k].load(fromByteOffset: b, as: UInt8.self)
                                (target + (b &* rows &+ r &+ k)).storeBytes(of: v, as: UInt8.self)
                            }
                        }
                        r &+= 8
                    }
                    while r < rows {
                        fetch(r, into: 0)
                        for b in 0..<size {
                            let v = row[0].load(fromByteOffset: b, as: UInt8.self) ^ row[8].load(fromByteOffset: b, as: UInt8.self)
                            (target + (b &* rows &+ r)).storeBytes(of: v, as: UInt8.self)
                        }
                        r &+= 1
                    }
                }
            }
        }
    }

    /// Rebuilds `rows` records of `size` bytes at `out` from their columns: column c's `rows`
    /// bytes are at `columns[c]`.
    static func inverse(columns: [UnsafeRawPointer], rows: Int, size: Int, into out: UnsafeMutableRawPointer) {
        let words = size / 8
        columns.withUnsafeBufferPointer { columns in
            var r = 0
            while r &+ 8 <= rows {
                let record = out + r &* size
                for w in 0..<words {
                    @inline(__always) func load(_ b: Int) -> UInt64 {
                        columns[8 &* w &+ b].loadUnaligned(fromByteOffset: r, as: UInt64.self)
                    }
                    var x = (load(0), load(1), load(2), load(3), load(4), load(5), load(6), load(7))
                    block(&x)
                    store(x, at: record + 8 &* w, stride: size)
                }
                for b in (8 &* words)..<size {
                    for k in 0..<8 {
                        (record + (k &* size &+ b)).storeBytes(of: columns[b].load(fromByteOffset: r &+ k, as: UInt8.self), as: UInt8.self)
                    }
                }
                r &+= 8
            }
            while r < rows {
                for b in 0..<size {
                    (out + (r &* size &+ b)).storeBytes(of: columns[b].load(fromByteOffset: r, as: UInt8.self), as: UInt8.self)
                }
                r &+= 1
            }
        }
    }
}
