/// The FIELDS transform (docs/FORMAT.md, "The FIELDS transform (bit 4)"): numeric fields sent as
/// the zigzag of their difference to the receiver's value, so a counter or a quantized position
/// that moves by a little costs a small number instead of a noisy XOR. Floats differ as their bit
/// patterns (read as unsigned integers), which order like the values: a small move is a small
/// difference (f32 positions drifting by ±0.05 around 500: 5% fewer bytes after zstd than XOR).
///
/// A packed section with FIELDS carries a field map (field count, then two bits a field); the
/// encoder chooses DIFF per field and frame from the records it sends (`choose`), and the decoder
/// turns the map into `FieldRun`s that apply undoes against the replica's own record.
enum FieldDiff {
    static let modePlain: UInt8 = 0
    static let modeDiff: UInt8 = 1
    /// At most this many records of a section are looked at to choose the modes.
    static let sampleLimit = 256

    /// Bytes of a field map of `fieldCount` fields.
    @inline(__always)
    static func mapBytes(fieldCount: Int) -> Int { 4 &+ (fieldCount &+ 3) / 4 }

    /// Every type but BYTES (opaque) may be sent as DIFF.
    static func isNumeric(_ type: FieldType) -> Bool { type != .bytes }

    /// The DIFF fields of a section as byte runs: `count` elements of `width` bytes at `offset`.
    static func runs(table: TableSchema, modes: [UInt8]) -> [FieldRun] {
        var runs: [FieldRun] = []
        for (i, field) in table.fields.enumerated() where i < modes.count && modes[i] == modeDiff {
            runs.append(FieldRun(offset: Int(field.offset), width: field.type.elementSize, count: Int(field.count)))
        }
        return runs
    }

    // MARK: Encoding

    /// Chooses a mode for each field of `table`: DIFF for a numeric field whose zigzag differences
    /// over up to 256 sampled records need at least 1/32 fewer significant bits in total than its XOR
    /// (what zstd sees after TRANSPOSE: high bytes that stay zero). On noise the two are even
    /// (within 1% over 256 records), and DIFF costs work at apply: hence the margin. Records
    /// without a base count against zeros.
    static func choose(
        table: TableSchema, records: UnsafeRawPointer, bases: [UnsafeRawPointer?], size: Int
    ) -> [UInt8] {
        var modes = [UInt8](repeating: modePlain, count: table.fields.count)
        let n = bases.count
        guard n > 0 else { return modes }
        let step = max(1, n / sampleLimit)
        bases.withUnsafeBufferPointer { bases in
            for (f, field) in table.fields.enumerated() where isNumeric(field.type) {
                let offset = Int(field.offset), count = Int(field.count)
                let (xorBits, diffBits): (Int, Int)
                switch field.type.elementSize {
                case 1: (xorBits, diffBits) = bitCounts(UInt8.self, records, bases, size, offset, count, step)
                case 2: (xorBits, diffBits) = bitCounts(UInt16.self, records, bases, size, offset, count, step)
                case 4: (xorBits, diffBits) = bitCounts(UInt32.self, records, bases, size, offset, count, step)
                default: (xorBits, diffBits) = bitCounts(UInt64.self, records, bases, size, offset, count, step)
                }
                if diffBits &* 32 < xorBits &* 31 { modes[f] = modeDiff }
            }
        }
        return modes
    }

    /// Significant bits of `new XOR old` and of `zigzag(new − old)` over every `step`-th record's
    /// `count` elements of type `T` at `offset` (old: zeros where the base is nil).
    @inline(__always)
    private static func bitCounts<T: FixedWidthInteger & UnsignedInteger>(
        _: T.Type, _ records: UnsafeRawPointer, _ bases: UnsafeBufferPointer<UnsafeRawPointer?>, _ size: Int,
        _ offset: Int, _ count: Int, _ step: Int
    ) -> (Int, Int) {
        var xorBits = 0, diffBits = 0
        let bits = T.bitWidth
        var j = 0
        while j < bases.count {
            let new = records + (j &* size &+ offset)
            let old = bases[j].map { $0 + offset }
            for e in 0..<count {
                let at = e &* MemoryLayout<T>.size
                let a = T(littleEndian: new.loadUnaligned(fromByteOffset: at, as: T.self))
                let b = old.map { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) } ?? 0
                let x = a ^ b
                let d = a &- b
                // zigzag in T: (d << 1) ^ (d >> (bits − 1)) with the shift arithmetic.
                let z = (d &<< 1) ^ (0 &- (d >> (bits &- 1)))
                xorBits &+= bits &- x.leadingZeroBitCount
                diffBits &+= bits &- z.leadingZeroBitCount
            }
            j &+= step
        }
        return (xorBits, diffBits)
    }

    /// Writes the field map of `modes` at `p`; returns its length.
    static func writeMap(_ modes: [UInt8], to p: UnsafeMutableRawPointer) -> Int {
        p.storeLE(UInt32(truncatingIfNeeded: modes.count), at: 0)
        let bytes = (modes.count &+ 3) / 4
        (p + 4).initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        for (i, mode) in modes.enumerated() where mode != modePlain {
            let byte = p + (4 &+ i / 4)
            byte.storeBytes(of: byte.load(as: UInt8.self) | mode << UInt8(2 &* (i % 4)), as: UInt8.self)
        }
        return 4 &+ bytes
    }

    /// Writes `n` records of `size` bytes as sent: each one XOR-ed with its base (zeros when nil)
    /// when `xor`, and its DIFF elements replaced by zigzag(new − old).
    static func encode(
        _ records: UnsafeRawPointer, bases: [UnsafeRawPointer?], xor: Bool, runs: [FieldRun], size: Int,
        into target: UnsafeMutableRawPointer
    ) {
        for j in 0..<bases.count {
            let new = records + j &* size
            let out = target + j &* size
            out.copyMemory(from: new, byteCount: size)
            let old = bases[j]
            if xor, let old { xorRecord(out, with: old, size: size) }
            for run in runs {
                let bits = run.width &* 8
                for e in 0..<run.count {
                    let at = run.offset &+ e &* run.width
                    let b = old.map { load($0 + at, run.width) } ?? 0
                    store(zigzag(load(new + at, run.width) &- b, bits: bits), at: out + at, run.width)
                }
            }
        }
    }

    // MARK: Decoding

    /// Rebuilds, in place, a record from its bytes as sent: the PLAIN bytes XOR-ed with `old`
    /// (zeros when nil) when `xor`, else kept; each DIFF element `old + unzigzag(stored)`, wrapping.
    static func decodeInPlace(
        _ record: UnsafeMutableRawPointer, old: UnsafeRawPointer?, xor: Bool, runs: [FieldRun], size: Int
    ) {
        let xored = xor && old != nil
        if xored, let old { xorRecord(record, with: old, size: size) }
        for run in runs {
            let bits = run.width &* 8
            for e in 0..<run.count {
                let at = run.offset &+ e &* run.width
                let b = old.map { load($0 + at, run.width) } ?? 0
                let stored = load(record + at, run.width) ^ (xored ? b : 0)  // the XOR above covered it too
                store(b &+ unzigzag(stored, bits: bits), at: record + at, run.width)
            }
        }
    }

    /// Checks the field map of `fieldCount` fields at `p` (whose bytes exist) and returns its DIFF
    /// runs (none without the table) and how many fields are DIFF. `absolute`: a refresh slice's
    /// section, which has no DIFF.
    static func readMap(
        _ p: UnsafeRawPointer, fieldCount: Int, tableID: UInt32, table: TableSchema?, absolute: Bool
    ) throws(PodSyncError) -> (runs: [FieldRun], diffs: Int) {
        let bytes = (fieldCount &+ 3) / 4
        if fieldCount % 4 != 0, (p + 4).load(fromByteOffset: bytes &- 1, as: UInt8.self) >> UInt8(2 &* (fieldCount % 4)) != 0 {
            throw .malformed("packed section for table \(tableID): the field map's unused bits are not 0")
        }
        @inline(__always) func mode(_ i: Int) -> UInt8 { ((p + 4).load(fromByteOffset: i / 4, as: UInt8.self) >> UInt8(2 &* (i % 4))) & 3 }
        var diffs = 0
        for i in 0..<fieldCount where mode(i) != modePlain {
            guard mode(i) == modeDiff else {
                throw PodSyncError(Status.frameFeature, "packed section for table \(tableID): field \(i) has the reserved mode \(mode(i))")
            }
            diffs &+= 1
        }
        if absolute && diffs != 0 { throw .malformed("packed section for table \(tableID): a refresh slice's fields are sent as DIFF") }
        guard let table else { return ([], diffs) }
        guard fieldCount == table.fields.count else {
            throw .malformed("packed section for table \(tableID): the field map has \(fieldCount) fields, the schema \(table.fields.count)")
        }
        var runs: [FieldRun] = []
        runs.reserveCapacity(diffs)
        for i in 0..<fieldCount where mode(i) == modeDiff {
            let field = table.fields[i]
            guard isNumeric(field.type) else {
                throw .malformed("packed section for table \(tableID): field \(i) is sent as DIFF but is BYTES")
            }
            runs.append(FieldRun(offset: Int(field.offset), width: field.type.elementSize, count: Int(field.count)))
        }
        return (runs, diffs)
    }

    // MARK: Elements

    /// zigzag of the low `bits` bits of `d` read as a signed number (the result also fits `bits`).
    @inline(__always)
    static func zigzag(_ d: UInt64, bits: Int) -> UInt64 {
        let shift = UInt64(64 &- bits)
        let signed = Int64(bitPattern: d << shift) >> shift
        return (UInt64(bitPattern: signed) << 1 ^ UInt64(bitPattern: signed >> 63)) & mask(bits)
    }

    @inline(__always)
    static func unzigzag(_ z: UInt64, bits: Int) -> UInt64 {
        ((z >> 1) ^ (0 &- (z & 1))) & mask(bits)
    }

    @inline(__always)
    static func mask(_ bits: Int) -> UInt64 { bits >= 64 ? ~0 : (1 << UInt64(bits)) &- 1 }

    @inline(__always)
    static func load(_ p: UnsafeRawPointer, _ width: Int) -> UInt64 {
        switch width {
        case 1: UInt64(p.load(as: UInt8.self))
        case 2: UInt64(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
        case 4: UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        default: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
        }
    }

    /// Stores the low `width` bytes of `v`, little-endian.
    @inline(__always)
    static func store(_ v: UInt64, at p: UnsafeMutableRawPointer, _ width: Int) {
        switch width {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian, as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian, as: UInt32.self)
        default: p.storeBytes(of: v.littleEndian, as: UInt64.self)
        }
    }
}

/// `count` numeric elements of `width` bytes at byte `offset` of a record, sent as DIFF.
struct FieldRun: Equatable {
    var offset: Int
    var width: Int
    var count: Int
}
