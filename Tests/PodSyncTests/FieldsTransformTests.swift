import CPodSync
import Testing

@testable import PodSyncCore

/// The FIELDS transform (docs/FORMAT.md, "The FIELDS transform (bit 4)"): numeric fields sent as
/// the zigzag of their difference to the receiver's value (floats: of their bit patterns), chosen
/// per field and frame.
@Suite struct FieldsTransformTests {
    /// Table 5, 48 bytes: one field of every integer type (two of them arrays), a float, bytes.
    static let table: UInt32 = 5
    static let fields = [
        FieldSpec("u8", PODSYNC_TYPE_U8, 0), FieldSpec("i8", PODSYNC_TYPE_I8, 1),
        FieldSpec("u16", PODSYNC_TYPE_U16, 2), FieldSpec("i16", PODSYNC_TYPE_I16, 4, 2),
        FieldSpec("u32", PODSYNC_TYPE_U32, 8), FieldSpec("i32", PODSYNC_TYPE_I32, 12),
        FieldSpec("u64", PODSYNC_TYPE_U64, 16), FieldSpec("i64", PODSYNC_TYPE_I64, 24),
        FieldSpec("f32", PODSYNC_TYPE_F32, 32), FieldSpec("raw", PODSYNC_TYPE_BYTES, 36, 4),
        FieldSpec("u16s", PODSYNC_TYPE_U16, 40, 4),
    ]
    static func schema() throws -> Schema {
        try makeSchema([TableDef(id: table, size: 48, alignment: 8, fields: fields)])
    }

    /// Moves every numeric element of `r` by a small signed step (wrapping, so values cross 0 and
    /// the type's limits; the float's bit pattern, so it crosses signs, infinities and NaNs), and
    /// the bytes field rarely.
    static func step(_ r: inout [UInt8], _ rng: inout SplitMix64) {
        func move(_ offset: Int, _ width: Int) {
            var v: UInt64 = 0
            for b in 0..<width { v |= UInt64(r[offset + b]) << UInt64(8 * b) }
            v = v &+ (rng.next() % 7) &- 3
            for b in 0..<width { r[offset + b] = UInt8(truncatingIfNeeded: v >> UInt64(8 * b)) }
        }
        move(0, 1); move(1, 1); move(2, 2); move(4, 2); move(6, 2); move(8, 4); move(12, 4)
        move(16, 8); move(24, 8)
        for e in 0..<4 { move(40 + 2 * e, 2) }
        move(32, 4)
        if rng.next() % 8 == 0 { r[36 + Int(rng.next() % 4)] = UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// A record near the limits of its types (so steps wrap), from the key.
    static func start(_ key: UInt64) -> [UInt8] {
        var r = [UInt8](repeating: 0, count: 48)
        let edge: [UInt8] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE]
        for b in 0..<48 { r[b] = edge[Int((key &+ UInt64(b / 4)) % UInt64(edge.count))] }
        return r
    }

    @Test func everyNumericTypeRoundTripsAcrossWraps() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1; $0.frameFormat = 2 }
        let r = try Store.replica(schema)
        var rng = SplitMix64(seed: 48)
        var values = (0..<300).map { Self.start(UInt64($0)) }
        for key in 0..<300 { w.put(Self.table, UInt64(key), values[key]) }
        try r.applyAll(try w.flushOK())
        var withFields = 0
        for tick in 0..<40 {
            let changes = [3, 9, 40, 150, 300][tick % 5]
            for _ in 0..<changes {
                let k = Int(rng.next() % 300)
                Self.step(&values[k], &rng)
                w.put(Self.table, UInt64(k), values[k])
            }
            // New keys (their base is zeros) and deletions ride the same frames.
            if tick % 3 == 0 { w.put(Self.table, 1000 + UInt64(tick), Self.start(UInt64(tick))) }
            if tick % 4 == 1 { _ = w.delete(Self.table, 1000 + UInt64(tick - 1)) }
            let frames = try w.flushOK()
            for f in frames where frameInfo(f).transforms & UInt32(PODSYNC_TRANSFORM_FIELDS) != 0 { withFields += 1 }
            try r.applyAll(frames)
            #expect(r.digest() == w.digest(), "tick \(tick)")
        }
        #expect(withFields >= 20, "most ticks send integer steps as differences (\(withFields) of 40)")
        #expect(r.dump() == w.dump())
    }

    /// 12-byte quantized objects (the shape of benchmarks/c/small_records_bench.c): differences
    /// of -2..2 cost fewer bytes than their XOR.
    @Test func quantizedRecordsCostFewerBytes() throws {
        let schema = try makeSchema([TableDef(id: 2, size: 12, alignment: 2, fields: [
            FieldSpec("x", PODSYNC_TYPE_I16, 0), FieldSpec("y", PODSYNC_TYPE_I16, 2), FieldSpec("z", PODSYNC_TYPE_I16, 4),
            FieldSpec("heading", PODSYNC_TYPE_U16, 6), FieldSpec("hp", PODSYNC_TYPE_U16, 8), FieldSpec("flags", PODSYNC_TYPE_U16, 10),
        ])])
        let with = try Store.writer(schema) { $0.compressionLevel = 1; $0.frameFormat = 2 }
        let without = try Store.writer(schema) {
            $0.compressionLevel = 1
            $0.frameFormat = 2
            $0.transforms = UInt32(PODSYNC_TRANSFORM_ALL & ~PODSYNC_TRANSFORM_FIELDS)
        }
        let replica = try Store.replica(schema)
        var rng = SplitMix64(seed: 12)
        var objects = [[Int16]](repeating: [0, 0, 0, 0, 100, 0], count: 5000)
        func bytes(_ o: [Int16]) -> [UInt8] { o.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] } }
        for k in 0..<5000 {
            objects[k] = [Int16(rng.next() % 2000), Int16(rng.next() % 2000), Int16(rng.next() % 100), Int16(rng.next() % 360), 100, 0]
            with.put(2, UInt64(k), bytes(objects[k]))
            without.put(2, UInt64(k), bytes(objects[k]))
        }
        try replica.applyAll(try with.flushOK())
        _ = try without.flushOK()
        var sizeWith = 0, sizeWithout = 0
        for _ in 0..<30 {
            for _ in 0..<1000 {
                let k = Int(rng.next() % 5000)
                objects[k][0] &+= Int16(rng.next() % 5) - 2
                objects[k][1] &+= Int16(rng.next() % 5) - 2
                objects[k][3] = (objects[k][3] + Int16(rng.next() % 7)) % 360
                with.put(2, UInt64(k), bytes(objects[k]))
                without.put(2, UInt64(k), bytes(objects[k]))
            }
            let a = try with.flushOK(), b = try without.flushOK()
            sizeWith += a.reduce(0) { $0 + $1.count }
            sizeWithout += b.reduce(0) { $0 + $1.count }
            try replica.applyAll(a)
        }
        #expect(replica.digest() == with.digest())
        // Measured: about 18% fewer (1,000 changes a tick); the bound leaves room for zstd versions.
        #expect(sizeWith * 100 <= sizeWithout * 95, "\(sizeWith) bytes with FIELDS, \(sizeWithout) without")
    }

    /// Fields that change at random (where DIFF has no edge over XOR) stay PLAIN: a frame without
    /// any DIFF field goes without the FIELDS bit (and its field maps).
    @Test func noDiffFieldMeansNoFieldsBit() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1; $0.frameFormat = 2 }
        var rng = SplitMix64(seed: 9)
        for key in 0..<200 { w.put(Self.table, UInt64(key), Self.start(UInt64(key))) }
        _ = try w.flushOK()
        for _ in 0..<5 {
            for key in 0..<200 {
                var r = [UInt8](repeating: 0, count: 48)
                for b in 0..<48 { r[b] = UInt8(truncatingIfNeeded: rng.next()) }
                w.put(Self.table, UInt64(key), r)
            }
            for f in try w.flushOK() {
                #expect(frameInfo(f).transforms & UInt32(PODSYNC_TRANSFORM_FIELDS) == 0)
            }
        }
    }

    /// FIELDS records are relative: a replica not exactly at the base answers GAP, changes nothing.
    @Test func aReplicaPastTheBaseAnswersGap() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1; $0.frameFormat = 2 }
        let r = try Store.replica(schema)
        var rng = SplitMix64(seed: 5)
        var values = (0..<100).map { Self.start(UInt64($0)) }
        for key in 0..<100 { w.put(Self.table, UInt64(key), values[key]) }
        try r.applyAll(try w.flushOK())
        var ticks: [[UInt8]] = []
        for _ in 0..<2 {
            for k in 0..<100 {
                Self.step(&values[k], &rng)
                w.put(Self.table, UInt64(k), values[k])
            }
            ticks.append(try w.flushOne())
        }
        #expect(frameInfo(ticks[1]).transforms & UInt32(PODSYNC_TRANSFORM_FIELDS) != 0)
        let before = r.dump()
        expectStatus(r.apply(ticks[1]).status, PODSYNC_GAP, "version 3's delta on a replica at 1")
        #expect(r.dump() == before)
        try r.applyAll(ticks)
        #expect(r.dump() == w.dump())
    }

    @Test func zigzagRoundTripsEveryWidth() {
        var rng = SplitMix64(seed: 77)
        for bits in [8, 16, 32, 64] {
            let mask = FieldDiff.mask(bits)
            for d: Int64 in [0, 1, -1, 2, -2, 127, -128] {
                let z = FieldDiff.zigzag(UInt64(bitPattern: d) & mask, bits: bits)
                #expect(z == (d >= 0 ? UInt64(d) * 2 : UInt64(-d) * 2 - 1), "\(d) in \(bits) bits")
            }
            for _ in 0..<1000 {
                let d = rng.next() & mask
                let z = FieldDiff.zigzag(d, bits: bits)
                #expect(z & ~mask == 0)
                #expect(FieldDiff.unzigzag(z, bits: bits) == d)
            }
        }
    }

    /// Field-map rules in the order FORMAT.md's V20 gives them.
    @Test func fieldMapRules() throws {
        var schema = PodSyncCore.Schema()
        try schema.addTable(id: 1, recordSize: 8, alignment: 4, fields: [
            Field("a", .u16, offset: 0), Field("b", .bytes, offset: 4, count: 4),
        ])
        let table = schema.tables[0]
        func check(_ map: [UInt8], fields: Int, table: TableSchema?, absolute: Bool = false) -> Int32 {
            let bytes = [UInt8(fields), 0, 0, 0] + map
            return bytes.withUnsafeBytes { p in
                do {
                    _ = try FieldDiff.readMap(p.baseAddress!, fieldCount: fields, tableID: 1, table: table, absolute: absolute).runs
                    return 0
                } catch let e as PodSyncError { return e.code } catch { return Int32.min }
            }
        }
        #expect(check([0b01], fields: 2, table: table) == 0)
        #expect(check([0b01_00_00_01], fields: 2, table: table) == PODSYNC_E_FRAME_MALFORMED, "bits past the last field")
        #expect(check([0b10], fields: 2, table: table) == PODSYNC_E_FRAME_FEATURE, "reserved mode 2")
        #expect(check([0b11], fields: 2, table: nil) == PODSYNC_E_FRAME_FEATURE, "reserved mode 3, without a schema")
        #expect(check([0b01], fields: 2, table: table, absolute: true) == PODSYNC_E_FRAME_MALFORMED, "DIFF in a refresh slice")
        #expect(check([0b01], fields: 3, table: table) == PODSYNC_E_FRAME_MALFORMED, "field count differs from the schema")
        #expect(check([0b01], fields: 3, table: nil) == 0, "no schema: the count is not checked")
        #expect(check([0b0100], fields: 2, table: table) == PODSYNC_E_FRAME_MALFORMED, "DIFF on BYTES")
        let runs = ([2, 0, 0, 0, 0b01] as [UInt8]).withUnsafeBytes {
            try? FieldDiff.readMap($0.baseAddress!, fieldCount: 2, tableID: 1, table: table, absolute: false).runs
        }
        #expect(runs == [FieldRun(offset: 0, width: 2, count: 1)])
    }
}
