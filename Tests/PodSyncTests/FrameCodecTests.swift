// The bytes of produced frames against docs/FORMAT.md, and the store-less frame readers
// (podsync_frame_peek / validate / section_get).
import CPodSync
import CXXHash
import Testing

/// Checks every rule of docs/FORMAT.md on a frame produced by the engine.
func checkFrameLayout(
    _ f: [UInt8], schema: Schema, sourceLocation: SourceLocation = #_sourceLocation
) throws -> ParsedFrame {
    let p = try parseFrame(f, sourceLocation: sourceLocation)
    #expect(p.magic == [0x50, 0x53, 0x59, 0x4E], "magic", sourceLocation: sourceLocation)
    #expect(p.formatVersion == 1, "format_version \(p.formatVersion)", sourceLocation: sourceLocation)
    #expect(p.headerLength == 88, "header_length \(p.headerLength)", sourceLocation: sourceLocation)
    #expect(p.frameLength == UInt64(f.count), "frame_length \(p.frameLength) vs \(f.count) bytes", sourceLocation: sourceLocation)
    #expect(f.count % 8 == 0, "frame length not a multiple of 8", sourceLocation: sourceLocation)
    #expect(p.checksum == frameChecksum(f), "checksum is not XXH3-64 of [16, len)", sourceLocation: sourceLocation)
    #expect(p.flags & ~(PODSYNC_FRAME_RESET | PODSYNC_FRAME_HAS_DIGEST) == 0, "unknown flags \(p.flags)", sourceLocation: sourceLocation)
    #expect(p.codec == 0 && p.reserved == 0, sourceLocation: sourceLocation)
    #expect(p.schemaHash == schema.hash(), "schema_hash", sourceLocation: sourceLocation)
    #expect(p.payloadLength == p.frameLength - UInt64(p.headerLength), "payload_length \(p.payloadLength)", sourceLocation: sourceLocation)
    if p.flags & PODSYNC_FRAME_RESET != 0 {
        #expect(p.baseVersion == 0, "RESET with base \(p.baseVersion)", sourceLocation: sourceLocation)
    } else {
        #expect(p.stateVersion > p.baseVersion, "delta \(p.baseVersion)→\(p.stateVersion)", sourceLocation: sourceLocation)
    }
    if p.flags & PODSYNC_FRAME_HAS_DIGEST == 0 {
        #expect(p.stateDigest == 0, "state_digest without HAS_DIGEST", sourceLocation: sourceLocation)
    }
    var expectedStart = Int(p.headerLength)
    var lastTable: UInt32? = nil
    for s in p.sections {
        #expect(s.start == expectedStart, sourceLocation: sourceLocation)
        #expect(s.start % 8 == 0, "section at \(s.start)", sourceLocation: sourceLocation)
        if let lastTable { #expect(s.tableID > lastTable, "tables not ascending", sourceLocation: sourceLocation) }
        lastTable = s.tableID
        let def = try #require(schema.tables.first { $0.id == s.tableID }, "section of unknown table \(s.tableID)", sourceLocation: sourceLocation)
        #expect(s.recordSize == def.size, sourceLocation: sourceLocation)
        #expect(s.recordsOffset >= 40 + 8 * (s.putCount + s.deleteCount), sourceLocation: sourceLocation)
        let align = max(Int(def.alignment), 8)
        #expect((s.start + Int(s.recordsOffset)) % align == 0, "records at \(s.start + Int(s.recordsOffset)) not \(align)-aligned", sourceLocation: sourceLocation)
        #expect(s.length % 8 == 0, "section_length \(s.length)", sourceLocation: sourceLocation)
        // The library uses the smallest records_offset and section_length (FORMAT.md).
        let keysEnd = s.start + 40 + 8 * Int(s.putCount + s.deleteCount)
        let minRecords = (keysEnd + align - 1) / align * align - s.start
        #expect(Int(s.recordsOffset) == minRecords, "records_offset \(s.recordsOffset), smallest is \(minRecords)", sourceLocation: sourceLocation)
        let minLength = (Int(s.recordsOffset) + Int(s.recordSize) * Int(s.putCount) + 7) / 8 * 8
        #expect(Int(s.length) == minLength, "section_length \(s.length), smallest is \(minLength)", sourceLocation: sourceLocation)
        #expect(s.putCount + s.deleteCount > 0, "the library writes no empty section (table \(s.tableID))", sourceLocation: sourceLocation)
        #expect(s.recordsOffset + UInt64(s.recordSize) * s.putCount <= s.length, sourceLocation: sourceLocation)
        let all = s.putKeys + s.deleteKeys
        #expect(Set(all).count == all.count, "a key appears twice in table \(s.tableID)", sourceLocation: sourceLocation)
        if p.flags & PODSYNC_FRAME_RESET != 0 {
            #expect(s.deleteCount == 0, "RESET frame with deletes", sourceLocation: sourceLocation)
        }
        expectedStart += Int(s.length)
    }
    #expect(expectedStart == f.count, "the last section ends at \(expectedStart), frame is \(f.count)", sourceLocation: sourceLocation)
    for r in paddingRanges(p) {
        #expect(f[r].allSatisfy { $0 == 0 }, "nonzero padding in \(r)", sourceLocation: sourceLocation)
    }
    return p
}

/// The frames a store's outbox borrows must be 64-byte aligned.
func expectOutboxAligned(_ s: Store, _ n: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    for i in 0..<n {
        var data: UnsafePointer<UInt8>? = nil
        var size = 0
        expectStatus(podsync_store_frame(s.handle, i, &data, &size), PODSYNC_OK, "frame \(i)", sourceLocation: sourceLocation)
        #expect(Int(bitPattern: data) % 64 == 0, "outbox frame \(i) at \(String(describing: data)) not 64-byte aligned", sourceLocation: sourceLocation)
    }
}

/// Parses a FORMAT.md hex dump ("0000: 50 53 ...") into bytes.
func hexDump(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for line in text.split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        for tok in line[line.index(after: colon)...].split(separator: " ") { out.append(UInt8(tok, radix: 16)!) }
    }
    return out
}

/// The schema of FORMAT.md's worked examples: table 1, 16-byte records, alignment 16, `pos` f64×2.
let exampleTable = TableDef(id: 1, size: 16, alignment: 16, fields: [FieldSpec("pos", PODSYNC_TYPE_F64, 0, 2)])
/// The record of the digest example: f64 1.0 and -2.5.
let exampleRecord: [UInt8] = [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0x04, 0xc0]

let exampleFrameHex = """
    0000: 50 53 59 4e 01 00 58 00 2b d3 f5 4f ae 60 75 94
    0010: b0 00 00 00 00 00 00 00 02 00 00 00 01 00 00 00
    0020: 03 79 1e 06 b5 fb 16 81 88 77 66 55 44 33 22 11
    0030: 07 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00
    0040: 07 00 00 00 00 00 00 00 0c 4d 5a 1f 93 39 cf 4f
    0050: 58 00 00 00 00 00 00 00 01 00 00 00 10 00 00 00
    0060: 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00
    0070: 48 00 00 00 00 00 00 00 58 00 00 00 00 00 00 00
    0080: 2a 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00
    0090: 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    00a0: 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 04 c0
    """

let minimalFrameHex = """
    0000: 50 53 59 4e 01 00 58 00 88 b5 a8 c5 b5 92 1e 06
    0010: 58 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00
    0020: 03 79 1e 06 b5 fb 16 81 88 77 66 55 44 33 22 11
    0030: 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    0040: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    0050: 00 00 00 00 00 00 00 00
    """

@Suite struct FrameCodecTests {
    @Test func formatDigestExample() throws {
        #expect(recordDigest(table: 1, key: 42, record: exampleRecord) == 0x4fcf_3993_1f5a_4d0c, "the test helper vs FORMAT.md")
        let s = try makeSchema([exampleTable])
        let w = try Store.writer(s)
        w.put(1, 42, exampleRecord)
        _ = try w.flushOne()
        #expect(w.digest() == 0x4fcf_3993_1f5a_4d0c, "digest of {(1, 42, r)}: \(w.digest())")
        w.put(1, 43, exampleRecord)
        _ = try w.flushOne()
        #expect(w.digest() == 0x4fcf_3993_1f5a_4d0c &+ recordDigest(table: 1, key: 43, record: exampleRecord))
    }

    /// Writer and replica of the example stream at version 6 holding keys 7 and 9; 6 frames so far.
    func exampleStreamAt6() throws -> (Schema, Store, Store) {
        let s = try makeSchema([exampleTable])
        let w = try Store.writer(s) { $0.streamID = 0x1122_3344_5566_7788 }
        let r = try Store.replica(s)
        w.put(1, 7, patternRecord(size: 16, key: 7))
        try r.applyAll([try w.flushOne()])
        w.put(1, 9, patternRecord(size: 16, key: 9))
        try r.applyAll([try w.flushOne()])
        for i in 0..<4 {
            w.put(1, 7, patternRecord(size: 16, key: 7, salt: UInt32(i + 1)))
            try r.applyAll([try w.flushOne()])
        }
        #expect(w.info().state_version == 6 && w.info().sequence == 6)
        return (s, w, r)
    }

    @Test func formatExampleFrame() throws {
        let example = hexDump(exampleFrameHex)
        try #require(example.count == 176)
        #expect(frameChecksum(example) == 0x9475_60ae_4ff5_d32b, "the example's checksum vs XXH3")
        let v = validate(example)
        expectStatus(v.status, PODSYNC_OK, "validate the FORMAT.md example frame")
        #expect(v.info.state_digest == 0x4fcf_3993_1f5a_4d0c)
        #expect(v.info.schema_hash == 0x8116_fbb5_061e_7903)
        #expect(v.info.base_version == 6 && v.info.state_version == 7 && v.info.sequence == 7)

        let (_, w, r) = try exampleStreamAt6()
        // The example frame applies to a replica of that stream at version 6.
        let (st, ver) = r.apply(example)
        expectStatus(st, PODSYNC_OK, "apply the example frame at version 6")
        #expect(ver == 7)
        #expect(r.digest() == 0x4fcf_3993_1f5a_4d0c)
        #expect(r.dump().tables[1] == [Row(key: 42, bytes: exampleRecord)])
        // The writer produces the same bytes (delete keys may come in another order).
        w.delete(1, 7)
        w.delete(1, 9)
        w.put(1, 42, exampleRecord)
        let f = try w.flushOne()
        if f != example {
            var swapped = example
            swapped.setU64(0x88, 9)
            swapped.setU64(0x90, 7)
            recomputeChecksum(&swapped)
            #expect(f == swapped, "the writer's frame differs from FORMAT.md's example beyond key order:\n\(f.map { String($0, radix: 16) })")
        }
        expectStatus(r.apply(f).status, PODSYNC_DUPLICATE, "the writer's own frame 7 after the example")
        // At version 5 or earlier: GAP.
        let (s2, _, _) = try exampleStreamAt6()
        let r5 = try Store.replica(s2)
        expectStatus(r5.apply(example).status, PODSYNC_GAP, "the example on a fresh replica (version 0)")
    }

    @Test func formatMinimalFrame() throws {
        let minimal = hexDump(minimalFrameHex)
        try #require(minimal.count == 88)
        let s = try makeSchema([exampleTable])
        let w = try Store.writer(s) { $0.streamID = 0x1122_3344_5566_7788 }
        let snap = try w.snapshotOne()
        #expect(snap == minimal, "the empty snapshot differs from FORMAT.md's minimal frame")
        let r = try Store.replica(s)
        expectStatus(r.apply(minimal).status, PODSYNC_OK, "apply the minimal frame")
        #expect(r.info().stream_id == 0x1122_3344_5566_7788)
        #expect(r.version == 0)
        expectStatus(r.apply(minimal).status, PODSYNC_DUPLICATE, "the minimal frame again")
    }

    @Test func outboxFramesStayUnchangedUntilTheNextProducingCall() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(1)...20 { w.put(tableA, k) }
        var n = 0
        expectStatus(podsync_store_flush(w.handle, &n), PODSYNC_OK, "flush")
        try #require(n == 1)
        var data: UnsafePointer<UInt8>? = nil
        var size = 0
        expectStatus(podsync_store_frame(w.handle, 0, &data, &size), PODSYNC_OK, "frame(0)")
        let p = try #require(data)
        let copy = Array(UnsafeBufferPointer(start: p, count: size))
        // Writes, reads and info calls do not touch the outbox.
        for k in UInt64(1)...50 { w.put(tableA, k, salt: 3) }
        w.delete(tableA, 2)
        _ = w.dump()
        _ = w.info()
        _ = w.flushDue()
        #expect(Array(UnsafeBufferPointer(start: p, count: size)) == copy, "the borrowed frame changed before the next flush")
        var data2: UnsafePointer<UInt8>? = nil
        var size2 = 0
        expectStatus(podsync_store_frame(w.handle, 0, &data2, &size2), PODSYNC_OK, "frame(0) again")
        #expect(data2 == data && size2 == size)
    }

    @Test func readsDoNotChangeGeneration() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(1)...5 { w.put(tableA, k) }
        let g = w.info().generation
        var p: UnsafeRawPointer? = nil
        _ = podsync_store_get(w.handle, tableA, 3, &p)
        _ = w.dump()
        _ = w.count(tableA)
        _ = w.digest()
        #expect(w.info().generation == g)
        #expect(p.map { Array(UnsafeRawBufferPointer(start: $0, count: sizeA)) } == recordA(3))
    }

    /// Table 3 has 64-byte alignment, table 4 a 12-byte record (needs tail padding).
    func codecSchema() throws -> Schema {
        try makeSchema([
            tableADef, tableBDef,
            TableDef(id: 3, size: 64, alignment: 64, fields: [FieldSpec("blob", PODSYNC_TYPE_BYTES, 0, 64)]),
            TableDef(id: 4, size: 12, alignment: 4, fields: [FieldSpec("xyz", PODSYNC_TYPE_F32, 0, 3)]),
        ])
    }

    @Test func deltaHeaderAndSectionsMatchTheFormat() throws {
        let s = try codecSchema()
        let w = try Store.writer(s) { $0.streamID = 0x1122_3344_5566_7788 }
        for k in UInt64(1)...3 { w.put(tableA, k) }
        w.put(tableB, 50)
        w.put(3, 9, patternRecord(size: 64, key: 9))
        w.put(4, 1, patternRecord(size: 12, key: 1))
        let (st, f1s) = w.flush()
        expectStatus(st, PODSYNC_OK, "flush")
        expectOutboxAligned(w, f1s.count)
        try #require(f1s.count == 1)
        let p1 = try checkFrameLayout(f1s[0], schema: s)
        #expect(p1.flags == PODSYNC_FRAME_HAS_DIGEST)
        #expect(p1.streamID == 0x1122_3344_5566_7788)
        #expect(p1.sequence == 1)
        #expect(p1.baseVersion == 0 && p1.stateVersion == 1)
        #expect(p1.stateDigest == w.info().digest)
        #expect(p1.stateDigest == expectedDigest(w.dump()))
        #expect(p1.sections.map(\.tableID) == [1, 2, 3, 4])
        #expect(p1.section(1)?.putKeys.sorted() == [1, 2, 3])
        for s1 in p1.sections {
            for (k, rec) in zip(s1.putKeys, s1.records) { #expect(w.get(s1.tableID, k) == rec, "record of \(k) in table \(s1.tableID)") }
        }
        // Byte-exact header: rebuild it from the parsed values and FORMAT.md offsets.
        var header = [UInt8](repeating: 0, count: 88)
        header.replaceSubrange(0..<4, with: [0x50, 0x53, 0x59, 0x4E])
        header.setU16(4, 1)
        header.setU16(6, 88)
        header.setU64(8, frameChecksum(f1s[0]))
        header.setU64(16, UInt64(f1s[0].count))
        header.setU32(24, PODSYNC_FRAME_HAS_DIGEST)
        header.setU16(28, 4)
        header.setU64(32, s.hash())
        header.setU64(40, 0x1122_3344_5566_7788)
        header.setU64(48, 1)
        header.setU64(56, 0)
        header.setU64(64, 1)
        header.setU64(72, w.info().digest)
        header.setU64(80, UInt64(f1s[0].count - 88))
        #expect(Array(f1s[0][0..<88]) == header)

        // Second frame: updates, deletes, one table untouched.
        w.put(tableA, 2, salt: 1)
        w.delete(tableA, 3)
        w.put(tableA, 4)
        w.delete(4, 1)
        let f2 = try w.flushOne()
        let p2 = try checkFrameLayout(f2, schema: s)
        #expect(p2.sequence == 2)
        #expect(p2.baseVersion == 1 && p2.stateVersion == 2)
        #expect(p2.stateDigest == w.info().digest)
        let a = try #require(p2.section(1))
        #expect(Set(a.putKeys) == [2, 4])
        #expect(a.deleteKeys == [3])
        #expect(p2.section(4)?.deleteKeys == [1])
        #expect(p2.section(4)?.putCount == 0)
        #expect(p2.section(2) == nil, "a table without changes has no section")
        #expect(p2.sections.map(\.tableID) == [1, 4])
    }

    @Test func snapshotHasResetFlagBaseZeroAndNoDeletes() throws {
        let s = try codecSchema()
        let w = try Store.writer(s)
        for k in UInt64(1)...10 { w.put(tableA, k) }
        w.put(3, 1, patternRecord(size: 64, key: 1))
        _ = try w.flushOne()
        w.delete(tableA, 5)
        w.delete(3, 1)
        _ = try w.flushOne()
        w.put(tableA, 77)  // pending, not in the snapshot
        let (st, frames) = w.snapshot()
        expectStatus(st, PODSYNC_OK, "snapshot")
        expectOutboxAligned(w, frames.count)
        try #require(frames.count == 1)
        let p = try checkFrameLayout(frames[0], schema: s)
        #expect(p.flags == PODSYNC_FRAME_RESET | PODSYNC_FRAME_HAS_DIGEST)
        #expect(p.baseVersion == 0)
        #expect(p.stateVersion == 2)
        #expect(p.stateDigest == w.info().digest)
        #expect(p.sections.allSatisfy { $0.deleteCount == 0 })
        #expect(Set(p.section(1)?.putKeys ?? []) == Set((1...10).filter { $0 != 5 }.map { UInt64($0) }))
        #expect(p.section(3) == nil, "the library writes no section for an empty table")
        #expect(p.sections.map(\.tableID) == [1])
        // Snapshot of an empty writer.
        let e = try Store.writer(s)
        let (st2, ef) = e.snapshot()
        expectStatus(st2, PODSYNC_OK, "snapshot of an empty store")
        try #require(ef.count == 1)
        let pe = try checkFrameLayout(ef[0], schema: s)
        #expect(pe.flags & PODSYNC_FRAME_RESET != 0)
        #expect(pe.stateVersion == 0 && pe.stateDigest == 0)
        #expect(pe.sections.isEmpty)
        #expect(ef[0].count == 88, "the empty snapshot is the 88-byte header alone")
        let r = try Store.replica(s)
        expectStatus(r.apply(ef[0]).status, PODSYNC_OK, "apply of an empty snapshot")
    }

    @Test func sequenceCountsEveryFrameOfTheStream() throws {
        // FORMAT.md "Sequence": flush frames, catch-up deltas and snapshots alike take the next number.
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        w.put(tableA, 1)
        let f1 = try w.flushOne()
        #expect(try parseFrame(f1).sequence == 1)
        let snap = try w.snapshotOne()
        #expect(try parseFrame(snap).sequence == 2)
        w.put(tableA, 2)
        let f2 = try w.flushOne()
        #expect(try parseFrame(f2).sequence == 3)
        let (st, d) = w.deltaSince(1)
        expectStatus(st, PODSYNC_OK, "delta_since(1)")
        try #require(d.count == 1)
        #expect(try parseFrame(d[0]).sequence == 4)
        #expect(w.info().sequence == 4, "info.sequence: frames produced so far")
        w.put(tableA, 3)
        let f3s = try w.flushOK()
        #expect(try parseFrame(f3s[0]).sequence == 5)
        // A replica records the sequence of the last frame it applied.
        try r.applyAll([f1])
        #expect(r.info().sequence == 1)
        try r.applyAll([d[0]])
        #expect(r.info().sequence == 4)
        try r.applyAll(f3s)
        #expect(r.info().sequence == 5)
    }

    @Test func framesWithoutDigest() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.flags = PODSYNC_OPT_MANUAL_CLOCK }
        let r = try Store.replica(s)
        w.put(tableA, 1)
        w.put(tableB, 2)
        let f = try w.flushOne()
        let p = try checkFrameLayout(f, schema: s)
        #expect(p.flags == 0)
        #expect(p.stateDigest == 0)
        expectStatus(r.apply(f).status, PODSYNC_OK, "apply")
        expectSameState(r, w)
        let snap = try checkFrameLayout(try w.snapshotOne(), schema: s)
        #expect(snap.flags == PODSYNC_FRAME_RESET)
        #expect(snap.stateDigest == 0)
    }

    @Test func peekValidateAndSectionGetAgree() throws {
        let s = try codecSchema()
        let w = try Store.writer(s) { $0.streamID = 31337 }
        for k in UInt64(1)...5 { w.put(tableA, k) }
        w.put(3, 1, patternRecord(size: 64, key: 1))
        w.put(3, 2, patternRecord(size: 64, key: 2))
        w.put(4, 1, patternRecord(size: 12, key: 1))
        _ = try w.flushOne()
        w.delete(tableA, 1)
        w.put(tableA, 6)
        w.put(tableB, 8)
        w.delete(3, 2)
        let f = try w.flushOne()
        let p = try checkFrameLayout(f, schema: s)

        let v = validate(f)
        expectStatus(v.status, PODSYNC_OK, "validate")
        let pk = peek(f, size: 88)
        expectStatus(pk.status, PODSYNC_OK, "peek with the header only")
        let pf = peek(f)
        expectStatus(pf.status, PODSYNC_OK, "peek with the whole frame")
        for info in [v.info, pk.info, pf.info] {
            #expect(info.version == UInt32(PODSYNC_FRAME_INFO_VERSION))
            #expect(info.format_version == 1)
            #expect(info.header_length == 88)
            #expect(info.flags == p.flags)
            #expect(info.section_count == UInt32(p.sectionCount))
            #expect(info.codec == 0)
            #expect(info.frame_length == UInt64(f.count))
            #expect(info.schema_hash == s.hash())
            #expect(info.stream_id == 31337)
            #expect(info.sequence == 2)
            #expect(info.base_version == 1)
            #expect(info.state_version == 2)
            #expect(info.state_digest == w.info().digest)
        }
        expectStatus(withAligned(f) { podsync_frame_validate($0, $1, nil) }, PODSYNC_OK, "validate(info NULL)")
        // peek checks steps 1-4 only: magic, format version, header length.
        let badChecksum = tampered(f, recompute: false) { $0[H.checksum] ^= 1 }
        expectStatus(peek(badChecksum, size: 88).status, PODSYNC_OK, "peek ignores the checksum")
        let longer = tampered(f) { $0.setU64(H.frameLength, 1 << 40) }
        let pl = peek(longer, size: 88)
        expectStatus(pl.status, PODSYNC_OK, "peek does not compare frame_length with the bytes it got")
        #expect(pl.info.frame_length == 1 << 40)
        expectStatus(peek(tampered(f) { $0.setU16(H.headerLength, 80) }, size: 88).status, PODSYNC_E_FRAME_MALFORMED, "peek: header_length 80")
        expectStatus(peek(tampered(f) { $0.setU16(H.headerLength, 92) }, size: 88).status, PODSYNC_E_FRAME_MALFORMED, "peek: header_length 92")
        expectStatus(peek(tampered(f) { $0[0] = 0 }, size: 88).status, PODSYNC_E_FRAME_MAGIC, "peek: magic")
        expectStatus(peek(tampered(f) { $0.setU16(H.formatVersion, 3) }, size: 88).status, PODSYNC_E_FRAME_VERSION, "peek: format version 3")
        expectStatus(peek(tampered(f) { $0.setU16(H.formatVersion, 2) }, size: 88).status, PODSYNC_E_FRAME_MALFORMED, "peek: format 2 with a 0-byte header")
        expectStatus(peek(f, size: 87).status, PODSYNC_E_FRAME_TRUNCATED, "peek of 87 bytes")
        expectStatus(peek(f, size: 0).status, PODSYNC_E_FRAME_TRUNCATED, "peek of 0 bytes")

        // section_get points into the caller's buffer, at the offsets FORMAT.md gives.
        withAligned(f) { base, n in
            for (i, ps) in p.sections.enumerated() {
                var sec = podsync_frame_section()
                sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
                let st = podsync_frame_section_get(base, n, i, &sec)
                expectStatus(st, PODSYNC_OK, "section_get(\(i))")
                guard st == PODSYNC_OK else { continue }
                #expect(sec.table_id == ps.tableID)
                #expect(sec.record_size == ps.recordSize)
                #expect(sec.put_count == ps.putCount)
                #expect(sec.delete_count == ps.deleteCount)
                if ps.putCount > 0 {
                    #expect(UnsafeRawPointer(sec.put_keys) == base + ps.start + 40, "put_keys not in place")
                    #expect(sec.records == base + ps.start + Int(ps.recordsOffset), "records not in place")
                    let align = Int(s.tables.first { $0.id == ps.tableID }!.alignment)
                    #expect(Int(bitPattern: sec.records) % align == 0, "records of table \(ps.tableID) not \(align)-aligned in place")
                    for j in 0..<Int(ps.putCount) {
                        #expect(sec.put_keys[j] == ps.putKeys[j])
                        let rec = Array(UnsafeRawBufferPointer(start: sec.records + j * Int(ps.recordSize), count: Int(ps.recordSize)))
                        #expect(rec == ps.records[j])
                        #expect(w.get(ps.tableID, ps.putKeys[j]) == rec)
                    }
                }
                if ps.deleteCount > 0 {
                    #expect(UnsafeRawPointer(sec.delete_keys) == base + ps.start + 40 + 8 * Int(ps.putCount))
                    for j in 0..<Int(ps.deleteCount) { #expect(sec.delete_keys[j] == ps.deleteKeys[j]) }
                }
            }
            var sec = podsync_frame_section()
            sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
            expectError(podsync_frame_section_get(base, n, p.sections.count, &sec), "section index == section_count")
            expectError(podsync_frame_section_get(base, n, Int.max, &sec), "section index Int.max")
        }
    }

    @Test func sectionGetDoesNotCheckTheChecksum() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        w.put(tableA, 1)
        var f = try w.flushOne()
        f[8] ^= 0xFF
        expectStatus(validate(f).status, PODSYNC_E_FRAME_CHECKSUM, "validate")
        withAligned(f) { base, n in
            var sec = podsync_frame_section()
            sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
            expectStatus(podsync_frame_section_get(base, n, 0, &sec), PODSYNC_OK, "section_get ignores the checksum")
            #expect(sec.put_count == 1)
        }
    }

    @Test func stateDigestFollowsTheFormat() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        #expect(w.digest() == 0, "the empty state's digest is 0")
        var rng = SplitMix64(seed: 7)
        for round in 0..<5 {
            for _ in 0..<50 {
                let k = rng.next() % 40
                switch rng.next() % 3 {
                case 0: w.delete(tableA, k)
                case 1: w.put(tableB, k, salt: UInt32(round))
                default: w.put(tableA, k, salt: UInt32(round))
                }
            }
            let frames = try w.flushOK()
            try r.applyAll(frames)
            let d = w.dump()
            #expect(w.digest() == expectedDigest(d), "round \(round): writer digest")
            #expect(r.digest() == expectedDigest(d), "round \(round): replica digest")
            if let last = frames.last { #expect(try parseFrame(last).stateDigest == expectedDigest(d)) }
        }
    }

    @Test func readerSkipsUnknownHeaderBytes() throws {
        // FORMAT.md: header_length >= 88, multiple of 8; readers skip bytes they do not know.
        let s = try standardSchema()
        let w = try Store.writer(s)
        w.put(tableA, 1)
        w.put(tableB, 2)
        let f = try w.flushOne()
        var g = Array(f[0..<88]) + [UInt8](repeating: 0xEE, count: 8) + Array(f[88...])
        g.setU16(H.headerLength, 96)
        g.setU64(H.frameLength, UInt64(g.count))
        g.setU64(H.payloadLength, UInt64(g.count - 96))
        recomputeChecksum(&g)
        let v = validate(g)
        expectStatus(v.status, PODSYNC_OK, "validate with header_length 96")
        #expect(v.info.header_length == 96)
        let r = try Store.replica(s)
        expectStatus(r.apply(g).status, PODSYNC_OK, "apply with header_length 96")
        expectSameState(r, w)
    }

    @Test func readerAcceptsExtraZeroPaddingAtSectionEnd() throws {
        // FORMAT.md: "zero padding up to section_length"; section_length only has to be a
        // multiple of 8 and reach the next section.
        let s = try standardSchema()
        let w = try Store.writer(s)
        w.put(tableA, 1)
        w.put(tableB, 2)
        let f = try w.flushOne()
        let p = try parseFrame(f)
        try #require(p.sections.count == 2)
        let s0 = p.sections[0]
        let cut = s0.start + Int(s0.length)
        var g = Array(f[0..<cut]) + [UInt8](repeating: 0, count: 16) + Array(f[cut...])
        g.setU64(s0.start + S.length, s0.length + 16)
        g.setU64(H.frameLength, UInt64(g.count))
        g.setU64(H.payloadLength, UInt64(g.count - 88))
        recomputeChecksum(&g)
        expectStatus(validate(g).status, PODSYNC_OK, "validate")
        let r = try Store.replica(s)
        expectStatus(r.apply(g).status, PODSYNC_OK, "apply")
        expectSameState(r, w)
    }

    @Test func emptySectionsAreAccepted() throws {
        // A RESET frame may list a table with no records; a delta may carry an empty section.
        let s = try standardSchema()
        let w = try Store.writer(s)
        w.put(tableA, 1)
        let f = try w.flushOne()
        let p = try parseFrame(f)
        try #require(p.sections.count == 1 && p.sections[0].tableID == tableA)
        var empty: [UInt8] = []
        empty.appendLE(tableB)
        empty.appendLE(UInt32(sizeB))
        empty.appendLE(UInt64(0))
        empty.appendLE(UInt64(0))
        empty.appendLE(UInt64(40))
        empty.appendLE(UInt64(40))
        var g = f + empty
        g.setU16(H.sectionCount, 2)
        g.setU64(H.frameLength, UInt64(g.count))
        g.setU64(H.payloadLength, UInt64(g.count - 88))
        recomputeChecksum(&g)
        expectStatus(validate(g).status, PODSYNC_OK, "validate a frame with an empty section")
        let r = try Store.replica(s)
        expectStatus(r.apply(g).status, PODSYNC_OK, "apply")
        expectSameState(r, w)
    }
}
