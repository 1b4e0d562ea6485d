// Schema definition, hashing and canonical encoding (include/podsync.h "Schema", docs/FORMAT.md
// "Schema canonical encoding").
import CPodSync
import CXXHash
import Testing

/// One rejected table definition.
struct BadTable: Sendable, CustomTestStringConvertible {
    var label: String
    var table: TableDef
    var testDescription: String { label }

    init(_ label: String, id: UInt32 = 9, size: UInt32 = 16, alignment: UInt32 = 8, _ fields: [FieldSpec] = []) {
        self.label = label
        table = TableDef(id: id, size: size, alignment: alignment, fields: fields)
    }

    static let all: [BadTable] = [
        BadTable("record size 0", size: 0, alignment: 1),
        BadTable("record size MAX+1", size: UInt32(PODSYNC_MAX_RECORD_SIZE) + 1, alignment: 1),
        BadTable("record size MAX+64 (multiple of alignment)", size: UInt32(PODSYNC_MAX_RECORD_SIZE) + 64, alignment: 64),
        BadTable("record size UInt32.max", size: .max, alignment: 1),
        BadTable("alignment 0", size: 8, alignment: 0),
        BadTable("alignment 3", size: 9, alignment: 3),
        BadTable("alignment 6", size: 12, alignment: 6),
        BadTable("alignment 128", size: 128, alignment: 128),
        BadTable("alignment 2^31", size: 8, alignment: 0x8000_0000),
        BadTable("size not a multiple of alignment", size: 40, alignment: 16),
        BadTable("size smaller than alignment", size: 4, alignment: 8),
        BadTable("duplicate table id", id: tableA, size: 16, alignment: 8),
        BadTable("overlapping fields", [FieldSpec("a", PODSYNC_TYPE_U64, 0), FieldSpec("b", PODSYNC_TYPE_U32, 4)]),
        BadTable("overlapping array fields", [FieldSpec("a", PODSYNC_TYPE_U16, 0, 3), FieldSpec("b", PODSYNC_TYPE_U8, 5)]),
        BadTable("overlapping bytes fields", [FieldSpec("a", PODSYNC_TYPE_BYTES, 0, 10), FieldSpec("b", PODSYNC_TYPE_U8, 9)]),
        BadTable("identical fields", [FieldSpec("a", PODSYNC_TYPE_U32, 0), FieldSpec("b", PODSYNC_TYPE_U32, 0)]),
        BadTable("field crossing the record end", [FieldSpec("a", PODSYNC_TYPE_U32, 14)]),
        BadTable("field starting at the record end", [FieldSpec("a", PODSYNC_TYPE_U8, 16)]),
        BadTable("array crossing the record end", [FieldSpec("a", PODSYNC_TYPE_F32, 0, 5)]),
        BadTable("bytes crossing the record end", [FieldSpec("a", PODSYNC_TYPE_BYTES, 0, 17)]),
        BadTable("offset near UInt32.max", [FieldSpec("a", PODSYNC_TYPE_U32, 0xFFFF_FFFE)]),
        BadTable("offset UInt32.max", [FieldSpec("a", PODSYNC_TYPE_U8, .max)]),
        BadTable("count UInt32.max", [FieldSpec("a", PODSYNC_TYPE_U8, 0, .max)]),
        // 8 * 0x2000_0001 wraps to 8 in 32 bits: must not look like it fits.
        BadTable("count whose byte size wraps 32 bits", [FieldSpec("a", PODSYNC_TYPE_U64, 0, 0x2000_0001)]),
        BadTable("count whose byte size wraps 32 bits at an offset", [FieldSpec("a", PODSYNC_TYPE_U32, 8, 0x4000_0001)]),
        BadTable("count 0", [FieldSpec("a", PODSYNC_TYPE_U32, 0, 0)]),
        BadTable("type 0", [FieldSpec("a", 0, 0)]),
        BadTable("type 12", [FieldSpec("a", 12, 0)]),
        BadTable("type 0xFFFFFFFF", [FieldSpec("a", -1, 0)]),
        BadTable("empty name", [FieldSpec("", PODSYNC_TYPE_U32, 0)]),
        BadTable("duplicate name", [FieldSpec("x", PODSYNC_TYPE_U32, 0), FieldSpec("x", PODSYNC_TYPE_U32, 4)]),
        BadTable("name of 256 bytes", [FieldSpec(String(repeating: "n", count: 256), PODSYNC_TYPE_U32, 0)]),
        BadTable("name of 10000 bytes", [FieldSpec(String(repeating: "n", count: 10000), PODSYNC_TYPE_U32, 0)]),
        BadTable("NULL name", [FieldSpec(nil, PODSYNC_TYPE_U32, 0)]),
        BadTable("NULL name after a valid field", [FieldSpec("a", PODSYNC_TYPE_U32, 0), FieldSpec(nil, PODSYNC_TYPE_U32, 4)]),
        BadTable("reserved 1", [FieldSpec("a", PODSYNC_TYPE_U32, 0, reserved: 1)]),
        BadTable("reserved 0x80000000", [FieldSpec("a", PODSYNC_TYPE_U32, 0, reserved: 0x8000_0000)]),
        BadTable("bad second field only", [FieldSpec("a", PODSYNC_TYPE_U32, 0), FieldSpec("b", PODSYNC_TYPE_U32, 16)]),
    ]
}

@Suite struct SchemaTests {
    @Test func validTablesAreAccepted() throws {
        let s = try Schema()
        expectStatus(s.add(tableADef), PODSYNC_OK, "table 1")
        expectStatus(s.add(tableBDef), PODSYNC_OK, "table 2")
        expectStatus(s.addTable(0, size: 1, alignment: 1), PODSYNC_OK, "table id 0, 1-byte opaque record")
        expectStatus(s.addTable(.max, size: 64, alignment: 64), PODSYNC_OK, "table id UInt32.max, alignment 64")
        expectStatus(
            s.addTable(7, size: UInt32(PODSYNC_MAX_RECORD_SIZE), alignment: UInt32(PODSYNC_MAX_ALIGNMENT)),
            PODSYNC_OK, "record of exactly MAX_RECORD_SIZE")
        let longName = String(repeating: "L", count: Int(PODSYNC_MAX_FIELD_NAME))
        expectStatus(
            s.addTable(
                8, size: 24, alignment: 4,
                [
                    FieldSpec(longName, PODSYNC_TYPE_BYTES, 20, 4), FieldSpec("u8", PODSYNC_TYPE_U8, 0),
                    FieldSpec("i8", PODSYNC_TYPE_I8, 1), FieldSpec("u16", PODSYNC_TYPE_U16, 2),
                    FieldSpec("i16", PODSYNC_TYPE_I16, 4), FieldSpec("gap_then_i32", PODSYNC_TYPE_I32, 8),
                    FieldSpec("f32", PODSYNC_TYPE_F32, 12), FieldSpec("u32", PODSYNC_TYPE_U32, 16),
                ]),
            PODSYNC_OK, "every type, a 255-byte name, fields out of order, a gap")
        expectStatus(
            s.addTable(
                10, size: 32, alignment: 8,
                [FieldSpec("u64", PODSYNC_TYPE_U64, 0), FieldSpec("i64", PODSYNC_TYPE_I64, 8), FieldSpec("f64", PODSYNC_TYPE_F64, 16, 2)]),
            PODSYNC_OK, "64-bit types")
        expectStatus(
            s.addTable(11, size: 8, alignment: 8, [FieldSpec("same", PODSYNC_TYPE_U32, 0)]), PODSYNC_OK,
            "a field name used in another table")
        expectStatus(
            s.addTable(12, size: 8, alignment: 8, [FieldSpec("same", PODSYNC_TYPE_U32, 4)]), PODSYNC_OK,
            "the same name in a third table")
        #expect(s.errmsg == "", "no error happened, errmsg is \"\(s.errmsg)\"")
        // The hash follows FORMAT.md.
        let enc = s.encode()
        #expect(enc == canonicalEncoding(s.tables))
        #expect(s.hash() == xxh3(canonicalEncoding(s.tables)))
    }

    @Test func formatWorkedExample() throws {
        // docs/FORMAT.md "Schema canonical encoding", worked example.
        let s = try makeSchema([TableDef(id: 1, size: 16, alignment: 16, fields: [FieldSpec("pos", PODSYNC_TYPE_F64, 0, 2)])])
        let want: [UInt8] = [
            0x50, 0x53, 0x59, 0x4e, 0x53, 0x43, 0x48, 0x31, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x70, 0x6f, 0x73,
        ]
        #expect(s.encode() == want)
        #expect(s.hash() == 0x8116_fbb5_061e_7903)
        #expect(xxh3(want) == 0x8116_fbb5_061e_7903, "the test's XXH3 vs FORMAT.md")
    }

    @Test func emptySchemaHashAndEncoding() throws {
        let s = try Schema()
        let want = Array("PSYNSCH1".utf8) + [0, 0, 0, 0]
        #expect(s.encode() == want)
        #expect(s.hash() == xxh3(want))
    }

    @Test(arguments: BadTable.all)
    func invalidTableIsRejectedAndLeavesSchemaUnchanged(_ bad: BadTable) throws {
        let s = try Schema()
        try #require(s.add(tableADef) == PODSYNC_OK)
        let hashBefore = s.hash()
        let encBefore = s.encode()
        let st = s.add(bad.table)
        expectStatus(st, PODSYNC_E_SCHEMA_INVALID, bad.label)
        #expect(s.errmsg != "", "no message after \(sname(st))")
        #expect(s.hash() == hashBefore, "hash changed after a rejected table")
        #expect(s.encode() == encBefore, "encoding changed after a rejected table")
        // The schema is still usable, and the rejected table id is free (unless it was the duplicate).
        if bad.table.id != tableA {
            expectStatus(s.addTable(bad.table.id, size: 8, alignment: 8), PODSYNC_OK, "valid table with the same id afterwards")
        }
        #expect(s.hash() == xxh3(canonicalEncoding(s.tables)))
    }

    @Test func tooManyFieldsAndTables() throws {
        let s = try Schema()
        let max = Int(PODSYNC_MAX_FIELDS)
        let fields = (0..<max).map { FieldSpec("f\($0)", PODSYNC_TYPE_U8, UInt32($0)) }
        expectStatus(s.addTable(1, size: UInt32(max + 8), alignment: 8, fields), PODSYNC_OK, "MAX_FIELDS fields")
        let hash = s.hash()
        let tooMany = (0...max).map { FieldSpec("f\($0)", PODSYNC_TYPE_U8, UInt32($0)) }
        expectStatus(s.addTable(2, size: UInt32(max + 8), alignment: 8, tooMany), PODSYNC_E_SCHEMA_INVALID, "MAX_FIELDS+1 fields")
        #expect(s.hash() == hash)

        let t = try Schema()
        for id in 0..<UInt32(PODSYNC_MAX_TABLES) {
            let st = t.addTable(id * 3, size: 8, alignment: 8)
            if st != PODSYNC_OK {
                Issue.record("table \(id) of MAX_TABLES rejected: \(sname(st))")
                return
            }
        }
        let hashT = t.hash()
        expectStatus(t.addTable(999_999, size: 8, alignment: 8), PODSYNC_E_SCHEMA_INVALID, "MAX_TABLES+1-th table")
        #expect(t.hash() == hashT)
        #expect(t.encode() == canonicalEncoding(t.tables))
    }

    @Test func nullArguments() throws {
        let s = try Schema()
        expectStatus(podsync_schema_create(nil), PODSYNC_E_INVALID_ARGUMENT, "create(NULL)")
        expectStatus(podsync_schema_add_table(nil, 1, 8, 8, nil, 0), PODSYNC_E_INVALID_ARGUMENT, "add_table(NULL schema)")
        expectStatus(podsync_schema_add_table(s.handle, 1, 8, 8, nil, 1), PODSYNC_E_INVALID_ARGUMENT, "fields NULL, count 1")
        #expect(s.errmsg != "")
        var h: UInt64 = 0
        expectStatus(podsync_schema_hash(nil, &h), PODSYNC_E_INVALID_ARGUMENT, "hash(NULL schema)")
        expectStatus(podsync_schema_hash(s.handle, nil), PODSYNC_E_INVALID_ARGUMENT, "hash(NULL out)")
        var size = 0
        expectStatus(podsync_schema_encode(nil, nil, 0, &size), PODSYNC_E_INVALID_ARGUMENT, "encode(NULL schema)")
        expectStatus(podsync_schema_encode(s.handle, nil, 0, nil), PODSYNC_E_INVALID_ARGUMENT, "encode(NULL size_out)")
        expectStatus(podsync_schema_encode(s.handle, nil, 64, &size), PODSYNC_E_INVALID_ARGUMENT, "encode(NULL buffer, capacity 64)")
        var out: OpaquePointer? = nil
        expectStatus(podsync_schema_decode(nil, 12, &out), PODSYNC_E_INVALID_ARGUMENT, "decode(NULL data)")
        #expect(out == nil)
        let enc = s.encode()
        enc.withUnsafeBytes { b in
            expectStatus(podsync_schema_decode(b.baseAddress, b.count, nil), PODSYNC_E_INVALID_ARGUMENT, "decode(NULL out)")
        }
        // The schema still works after all of that.
        try #require(s.add(tableADef) == PODSYNC_OK)
        #expect(s.hash() == xxh3(canonicalEncoding(s.tables)))
        podsync_schema_free(nil)
    }

    @Test func hashDependsOnEveryProperty() throws {
        let base = TableDef(
            id: 10, size: 32, alignment: 8,
            fields: [FieldSpec("a", PODSYNC_TYPE_U32, 0, 2), FieldSpec("b", PODSYNC_TYPE_U64, 16)])
        var variants: [(String, [TableDef])] = [("base", [base])]
        func v(_ label: String, _ change: (inout TableDef) -> Void) {
            var t = base
            change(&t)
            variants.append((label, [t]))
        }
        v("table id") { $0.id = 11 }
        v("record size") { $0.size = 40 }
        v("alignment") { $0.alignment = 16 }
        v("alignment 4") { $0.alignment = 4 }
        v("field type") { $0.fields[0].type = UInt32(PODSYNC_TYPE_I32) }
        v("field type f32") { $0.fields[0].type = UInt32(PODSYNC_TYPE_F32) }
        v("field offset") { $0.fields[0].offset = 4 }
        v("field count") { $0.fields[0].count = 1 }
        v("field name") { $0.fields[0].name = "c" }
        v("second field name") { $0.fields[1].name = "bb" }
        v("second field offset") { $0.fields[1].offset = 24 }
        v("extra field") { $0.fields.append(FieldSpec("z", PODSYNC_TYPE_U8, 8)) }
        v("no fields") { $0.fields = [] }
        v("bytes instead of u32×2") { $0.fields[0] = FieldSpec("a", PODSYNC_TYPE_BYTES, 0, 8) }
        variants.append(("extra table", [base, TableDef(id: 1, size: 8, alignment: 8, fields: [])]))
        variants.append(("no table", []))

        var seen: [UInt64: String] = [:]
        for (label, defs) in variants {
            let s = try makeSchema(defs)
            let h = s.hash()
            #expect(h == xxh3(canonicalEncoding(defs)), "\(label): hash is not XXH3 of the FORMAT.md encoding")
            #expect(s.encode() == canonicalEncoding(defs), "\(label): encoding differs from FORMAT.md")
            if let other = seen[h] { Issue.record("\(label) has the same hash as \(other)") }
            seen[h] = label
        }
    }

    @Test func hashIgnoresInsertionOrder() throws {
        let t1 = TableDef(
            id: 5, size: 24, alignment: 8,
            fields: [FieldSpec("x", PODSYNC_TYPE_U64, 0), FieldSpec("y", PODSYNC_TYPE_U32, 8), FieldSpec("z", PODSYNC_TYPE_F64, 16)])
        let t1Reordered = TableDef(id: 5, size: 24, alignment: 8, fields: [t1.fields[2], t1.fields[0], t1.fields[1]])
        let t2 = tableBDef
        let a = try makeSchema([t1, t2, tableADef])
        let b = try makeSchema([tableADef, t2, t1Reordered])
        let c = try makeSchema([t2, t1Reordered, tableADef])
        #expect(a.hash() == b.hash())
        #expect(a.hash() == c.hash())
        #expect(a.encode() == b.encode())
        #expect(a.encode() == canonicalEncoding([t1, t2, tableADef]))
    }

    @Test func encodeDecodeRoundTrip() throws {
        let s = try standardSchema()
        try #require(s.addTable(77, size: 64, alignment: 64, [FieldSpec("blob", PODSYNC_TYPE_BYTES, 0, 64)]) == PODSYNC_OK)
        try #require(s.addTable(3, size: 8, alignment: 4) == PODSYNC_OK)
        let enc = s.encode()
        var out: OpaquePointer? = nil
        let st = enc.withUnsafeBytes { podsync_schema_decode($0.baseAddress, $0.count, &out) }
        try #require(st == PODSYNC_OK, "decode: \(sname(st))")
        let d = Schema(adopting: try #require(out), tables: s.tables)
        #expect(d.hash() == s.hash())
        #expect(d.encode() == enc)

        // A writer on the original schema feeds a replica on the decoded one.
        let w = try Store.writer(s)
        let r = try Store.replica(d)
        w.put(tableA, 1)
        w.put(77, 5, patternRecord(size: 64, key: 5))
        let f = try w.flushOne()
        expectStatus(r.apply(f).status, PODSYNC_OK, "apply to a replica on the decoded schema")
        expectSameState(r, w)
    }

    @Test func encodeIntoTooSmallBuffer() throws {
        let s = try standardSchema()
        let enc = s.encode()
        var size = 0
        expectStatus(podsync_schema_encode(s.handle, nil, 0, &size), PODSYNC_E_BUFFER_TOO_SMALL, "capacity 0")
        #expect(size == enc.count)
        var buf = [UInt8](repeating: 0xAA, count: enc.count)
        size = 0
        let st = buf.withUnsafeMutableBytes { podsync_schema_encode(s.handle, $0.baseAddress, enc.count - 1, &size) }
        expectStatus(st, PODSYNC_E_BUFFER_TOO_SMALL, "capacity size-1")
        #expect(size == enc.count, "needed size reported \(size), want \(enc.count)")
        #expect(buf.allSatisfy { $0 == 0xAA }, "bytes written despite BUFFER_TOO_SMALL")
        var big = [UInt8](repeating: 0xAA, count: enc.count + 16)
        size = 0
        let st2 = big.withUnsafeMutableBytes { podsync_schema_encode(s.handle, $0.baseAddress, $0.count, &size) }
        expectStatus(st2, PODSYNC_OK, "larger buffer")
        #expect(size == enc.count)
        #expect(Array(big[0..<enc.count]) == enc)
    }

    private func decode(_ bytes: [UInt8]) -> (Int32, OpaquePointer?) {
        var out = OpaquePointer(bitPattern: 0x10)  // must be overwritten (NULL on failure)
        let st = withAligned(bytes) { podsync_schema_decode($0, $1, &out) }
        return (st, out)
    }

    @Test func decodeRejectsEveryTruncation() throws {
        let s = try standardSchema()
        try #require(s.addTable(9, size: 8, alignment: 8, [FieldSpec("name", PODSYNC_TYPE_U64, 0)]) == PODSYNC_OK)
        let enc = s.encode()
        for n in 0..<enc.count {
            let (st, out) = decode(Array(enc[0..<n]))
            expectStatus(st, PODSYNC_E_SCHEMA_INVALID, "truncated to \(n) of \(enc.count)")
            #expect(out == nil, "out not NULL after failure (length \(n))")
            if st == PODSYNC_OK, let out { podsync_schema_free(out) }
        }
        let (st, out) = decode(enc + [0])
        expectStatus(st, PODSYNC_E_SCHEMA_INVALID, "a trailing byte")
        if st == PODSYNC_OK, let out { podsync_schema_free(out) }
    }

    @Test func decodeSurvivesGarbage() throws {
        let s = try standardSchema()
        let enc = s.encode()
        // Every single-bit flip: rejected, or accepted only as a canonical encoding of what it says.
        var accepted = 0
        for bit in 0..<(enc.count * 8) {
            var g = enc
            g[bit / 8] ^= 1 << UInt8(bit % 8)
            let (st, out) = decode(g)
            if st == PODSYNC_OK, let out {
                accepted += 1
                let d = Schema(adopting: out)
                #expect(d.encode() == g, "bit \(bit): accepted a non-canonical encoding")
                #expect(d.hash() == xxh3(g))
            } else {
                expectStatus(st, PODSYNC_E_SCHEMA_INVALID, "bit \(bit)")
                #expect(out == nil)
            }
        }
        // Random bytes, and random bytes after a valid magic with huge counts.
        var rng = SplitMix64(seed: 42)
        for i in 0..<500 {
            let n = Int(rng.next() % 300)
            var g = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if i % 2 == 0 {
                g = Array("PSYNSCH1".utf8) + g
                if i % 4 == 0 && g.count >= 12 { g.setU32(8, UInt32.max - UInt32(i)) }
            }
            let (st, out) = decode(g)
            if st == PODSYNC_OK, let out {
                let d = Schema(adopting: out)
                #expect(d.encode() == g, "random input \(i) accepted non-canonically")
            } else {
                expectStatus(st, PODSYNC_E_SCHEMA_INVALID, "random input \(i)")
            }
        }
        // Lying counts with a valid prefix.
        var lying = Array("PSYNSCH1".utf8)
        lying.appendLE(UInt32(1))
        lying += [1, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 0]
        lying.appendLE(UInt32.max)  // field_count
        expectStatus(decode(lying).0, PODSYNC_E_SCHEMA_INVALID, "field_count UInt32.max")
        var longName = enc
        // First field's name_length of table 1: after magic(8) + count(4) + table header(16) + type, offset, count.
        longName.setU32(8 + 4 + 16 + 12, UInt32.max)
        expectStatus(decode(longName).0, PODSYNC_E_SCHEMA_INVALID, "name_length UInt32.max")
        print("schema decode: \(accepted) single-bit flips were accepted as other valid schemas")
    }

    @Test func decodeRejectsNonCanonicalInput() throws {
        let t1 = TableDef(id: 1, size: 16, alignment: 8, fields: [FieldSpec("a", PODSYNC_TYPE_U64, 0), FieldSpec("b", PODSYNC_TYPE_U64, 8)])
        let t2 = TableDef(id: 2, size: 8, alignment: 8, fields: [])
        let good = canonicalEncoding([t1, t2])
        let (st0, out0) = decode(good)
        expectStatus(st0, PODSYNC_OK, "the hand-built canonical encoding")
        if let out0, st0 == PODSYNC_OK { podsync_schema_free(out0) }

        // Tables in descending order.
        var swapped = Array("PSYNSCH1".utf8)
        swapped.appendLE(UInt32(2))
        let encT2 = Array(canonicalEncoding([t2])[12...])
        let encT1 = Array(canonicalEncoding([t1])[12...])
        swapped += encT2 + encT1
        expectStatus(decode(swapped).0, PODSYNC_E_SCHEMA_INVALID, "tables out of order")
        // The same table twice.
        var dup = Array("PSYNSCH1".utf8)
        dup.appendLE(UInt32(2))
        dup += encT2 + encT2
        expectStatus(decode(dup).0, PODSYNC_E_SCHEMA_INVALID, "duplicate table")
        // Fields out of offset order.
        var fieldsSwapped = Array("PSYNSCH1".utf8)
        fieldsSwapped.appendLE(UInt32(1))
        fieldsSwapped += [1, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0]
        fieldsSwapped += [4, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0] + Array("b".utf8)
        fieldsSwapped += [4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0] + Array("a".utf8)
        expectStatus(decode(fieldsSwapped).0, PODSYNC_E_SCHEMA_INVALID, "fields out of offset order")
        // A table the schema rules reject (alignment 3).
        var badAlign = Array("PSYNSCH1".utf8)
        badAlign.appendLE(UInt32(1))
        badAlign += [1, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
        expectStatus(decode(badAlign).0, PODSYNC_E_SCHEMA_INVALID, "alignment 3")
        // Wrong magic.
        var magic = good
        magic[7] = UInt8(ascii: "2")
        expectStatus(decode(magic).0, PODSYNC_E_SCHEMA_INVALID, "magic PSYNSCH2")
        // A name with a NUL byte, an empty name, a 256-byte name, count 0, type 12, overlap.
        func oneField(type: UInt32 = 4, offset: UInt32 = 0, count: UInt32 = 1, name: [UInt8] = Array("a".utf8), size: UInt32 = 16) -> [UInt8] {
            var e = Array("PSYNSCH1".utf8)
            e.appendLE(UInt32(1))
            e.appendLE(UInt32(1)); e.appendLE(size); e.appendLE(UInt32(8)); e.appendLE(UInt32(1))
            e.appendLE(type); e.appendLE(offset); e.appendLE(count); e.appendLE(UInt32(name.count))
            return e + name
        }
        let (okSt, okOut) = decode(oneField())
        expectStatus(okSt, PODSYNC_OK, "a valid one-field schema")
        if let okOut, okSt == PODSYNC_OK { podsync_schema_free(okOut) }
        expectStatus(decode(oneField(name: [0x61, 0x00, 0x62])).0, PODSYNC_E_SCHEMA_INVALID, "a name containing NUL")
        expectStatus(decode(oneField(name: [])).0, PODSYNC_E_SCHEMA_INVALID, "an empty name")
        expectStatus(decode(oneField(name: [UInt8](repeating: 0x61, count: 256))).0, PODSYNC_E_SCHEMA_INVALID, "a 256-byte name")
        expectStatus(decode(oneField(count: 0)).0, PODSYNC_E_SCHEMA_INVALID, "count 0")
        expectStatus(decode(oneField(type: 12)).0, PODSYNC_E_SCHEMA_INVALID, "type 12")
        expectStatus(decode(oneField(type: 0)).0, PODSYNC_E_SCHEMA_INVALID, "type 0")
        expectStatus(decode(oneField(offset: 12)).0, PODSYNC_E_SCHEMA_INVALID, "u64 at 12 in a 16-byte record")
        expectStatus(decode(oneField(count: 0x2000_0001)).0, PODSYNC_E_SCHEMA_INVALID, "count whose byte size wraps 32 bits")
        expectStatus(decode(oneField(size: 0)).0, PODSYNC_E_SCHEMA_INVALID, "record size 0")
        var tooMany = Array("PSYNSCH1".utf8)
        tooMany.appendLE(UInt32(1025))
        for id in 0..<UInt32(1025) { tooMany.appendLE(id); tooMany.appendLE(UInt32(8)); tooMany.appendLE(UInt32(8)); tooMany.appendLE(UInt32(0)) }
        expectStatus(decode(tooMany).0, PODSYNC_E_SCHEMA_INVALID, "1025 tables")
        let (maxSt, maxOut) = decode(Array(tooMany[0..<8]) + [0, 4, 0, 0] + Array(tooMany[12..<(12 + 1024 * 16)]))
        expectStatus(maxSt, PODSYNC_OK, "1024 tables")
        if let maxOut, maxSt == PODSYNC_OK { podsync_schema_free(maxOut) }
    }

    @Test(arguments: [65536, 1_048_576])
    func largeRecordsRoundTrip(_ size: Int) throws {
        let s = try Schema()
        try #require(s.addTable(7, size: UInt32(size), alignment: 8, [FieldSpec("blob", PODSYNC_TYPE_BYTES, 0, UInt32(size))]) == PODSYNC_OK)
        try #require(s.addTable(8, size: UInt32(size), alignment: 64) == PODSYNC_OK)
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        let a = patternRecord(size: size, key: 1)
        let b = patternRecord(size: size, key: 2)
        let c = patternRecord(size: size, key: 3)
        #expect(w.put(7, 1, a) >= 0)
        #expect(w.put(7, 2, b) >= 0)
        #expect(w.put(8, 3, c) >= 0)
        #expect(w.get(7, 1) == a)
        #expect(w.get(8, 3) == c)
        let frames = try w.flushOK()
        #expect(frames.count >= 1)
        for f in frames { expectStatus(validate(f).status, PODSYNC_OK, "validate") }
        try r.applyAll(frames)
        #expect(r.get(7, 1) == a)
        #expect(r.get(7, 2) == b)
        #expect(r.get(8, 3) == c)
        expectSameState(r, w)
        // A replace and a delete, then a snapshot into a second replica.
        w.put(7, 1, c)
        w.delete(7, 2)
        try r.applyAll(try w.flushOK())
        #expect(r.get(7, 1) == c)
        #expect(r.get(7, 2) == nil)
        let r2 = try Store.replica(s)
        expectStatus(r2.apply(try w.snapshotOne()).status, PODSYNC_OK, "snapshot")
        expectSameState(r2, w)
        expectSameState(r, w)
    }
}
