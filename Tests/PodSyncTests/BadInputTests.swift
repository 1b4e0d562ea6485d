// Hostile and careless input: truncated, bit-flipped and lying frames; NULL pointers; bad struct
// versions; status names. Every rejection must leave the store exactly as it was.
import CPodSync
import CXXHash
import Testing

/// A replica at version 1 and a valid version-2 delta with puts and deletes in 2 tables.
struct BadInputFixture {
    let schema: Schema
    let writer: Store
    let replica: Store
    let f1: [UInt8]
    let frame: [UInt8]
    let parsed: ParsedFrame
    let baseline: Observed

    init() throws {
        schema = try standardSchema()
        writer = try Store.writer(schema) { $0.streamID = 0xBAD }
        replica = try Store.replica(schema)
        for k in UInt64(1)...3 { writer.put(tableA, k) }
        writer.put(tableB, 10)
        writer.put(tableB, 11)
        f1 = try writer.flushOne()
        try replica.applyAll([f1])
        writer.put(tableA, 4)
        writer.put(tableA, 2, salt: 1)
        writer.delete(tableA, 3)
        writer.put(tableB, 12)
        writer.delete(tableB, 10)
        frame = try writer.flushOne()
        parsed = try parseFrame(frame)
        try #require(parsed.sections.count == 2, "fixture frame has \(parsed.sections.count) sections")
        try #require(parsed.sections[0].putCount == 2 && parsed.sections[0].deleteCount == 1)
        try #require(parsed.sections[1].putCount == 1 && parsed.sections[1].deleteCount == 1)
        baseline = Observed(replica)
    }

    /// Applies bytes (or a prefix) and expects a rejection with the state unchanged.
    @discardableResult
    func expectRejected(
        _ f: [UInt8], size: Int? = nil, _ what: String, allowed: [Int32] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int32 {
        let (st, v) = replica.apply(f, size: size)
        if allowed.isEmpty {
            expectError(st, what, sourceLocation: sourceLocation)
        } else {
            #expect(allowed.contains(st), "\(what): got \(sname(st)), expected \(allowed.map(sname).joined(separator: " or "))", sourceLocation: sourceLocation)
        }
        #expect(v == 1, "\(what): version_out \(v), the replica is at 1", sourceLocation: sourceLocation)
        let now = Observed(replica)
        #expect(now == baseline, "\(what): state changed: \(now) vs \(baseline)", sourceLocation: sourceLocation)
        return st
    }

    /// The genuine frame still applies afterwards.
    func expectGenuineApplies(sourceLocation: SourceLocation = #_sourceLocation) {
        let (st, v) = replica.apply(frame)
        expectStatus(st, PODSYNC_OK, "the genuine frame afterwards", sourceLocation: sourceLocation)
        #expect(v == 2, sourceLocation: sourceLocation)
        expectSameState(replica, writer, sourceLocation: sourceLocation)
    }
}

/// A frame field that lies, with a recomputed (valid) checksum unless said otherwise. The expected
/// statuses follow the validation order of docs/FORMAT.md ("Validation", "Section rules").
struct LieCase: Sendable, CustomTestStringConvertible {
    var label: String
    /// podsync_store_apply's status.
    var apply: Int32
    /// podsync_frame_validate's status (no schema, no stream).
    var validate: Int32
    var recompute: Bool
    var edit: @Sendable (inout [UInt8], ParsedFrame) -> Void
    var testDescription: String { label }

    init(
        _ label: String, _ apply: Int32, validate: Int32? = nil, recompute: Bool = true,
        _ edit: @escaping @Sendable (inout [UInt8], ParsedFrame) -> Void
    ) {
        self.label = label
        self.apply = apply
        self.validate = validate ?? apply
        self.recompute = recompute
        self.edit = edit
    }

    static func sec(_ i: Int, _ field: Int, _ value: UInt64) -> @Sendable (inout [UInt8], ParsedFrame) -> Void {
        { f, p in f.setU64(p.sections[i].start + field, value) }
    }
    static func sec32(_ i: Int, _ field: Int, _ value: UInt32) -> @Sendable (inout [UInt8], ParsedFrame) -> Void {
        { f, p in f.setU32(p.sections[i].start + field, value) }
    }
    static func secAdd(_ i: Int, _ field: Int, _ delta: Int64) -> @Sendable (inout [UInt8], ParsedFrame) -> Void {
        { f, p in
            let o = p.sections[i].start + field
            f.setU64(o, UInt64(bitPattern: Int64(bitPattern: f.u64(o)) &+ delta))
        }
    }

    static let all: [LieCase] = {
        let M = PODSYNC_E_FRAME_MALFORMED
        let RS = PODSYNC_E_RECORD_SIZE
        return [
            // Counts (section rule 5, 6, 7 or 9).
            LieCase("put_count 2^40", M, sec(0, S.putCount, 1 << 40)),
            LieCase("put_count 2^61 (8*count wraps to 0)", M, sec(0, S.putCount, 1 << 61)),
            LieCase("put_count UInt64.max", M, sec(0, S.putCount, .max)),
            LieCase("put_count +1", M, secAdd(0, S.putCount, 1)),
            LieCase("put_count -1 (keys become padding)", M, secAdd(0, S.putCount, -1)),
            LieCase("second section put_count 2^40", M, sec(1, S.putCount, 1 << 40)),
            LieCase("delete_count 2^40", M, sec(0, S.deleteCount, 1 << 40)),
            LieCase("delete_count 2^61", M, sec(0, S.deleteCount, 1 << 61)),
            LieCase("delete_count UInt64.max", M, sec(0, S.deleteCount, .max)),
            LieCase("delete_count +1", M, secAdd(0, S.deleteCount, 1)),
            LieCase("delete_count -1 (a key becomes padding)", M, secAdd(0, S.deleteCount, -1)),
            LieCase("put_count+1, delete_count-1 (a delete becomes a put)", M, { f, p in
                let o = p.sections[0].start
                f.setU64(o + S.putCount, f.u64(o + S.putCount) + 1)
                f.setU64(o + S.deleteCount, f.u64(o + S.deleteCount) - 1)
            }),
            // records_offset (rules 6, 7, 8).
            LieCase("records_offset +4 (misaligned)", M, secAdd(0, S.recordsOffset, 4)),
            LieCase("records_offset +8", M, secAdd(0, S.recordsOffset, 8)),
            LieCase("records_offset -8 (overlaps the keys)", M, secAdd(0, S.recordsOffset, -8)),
            LieCase("records_offset 0", M, sec(0, S.recordsOffset, 0)),
            LieCase("records_offset 40", M, sec(0, S.recordsOffset, 40)),
            LieCase("records_offset = section_length", M, { f, p in
                f.setU64(p.sections[0].start + S.recordsOffset, p.sections[0].length)
            }),
            LieCase("records_offset beyond the frame", M, sec(0, S.recordsOffset, 1 << 20)),
            LieCase("records_offset 2^63", M, sec(0, S.recordsOffset, 1 << 63)),
            LieCase("records_offset UInt64.max", M, sec(0, S.recordsOffset, .max)),
            LieCase("records_offset UInt64.max-7 (wraps when added)", M, sec(0, S.recordsOffset, .max - 7)),
            // section_length (rule 4, then 7 or 9).
            LieCase("section_length +4 (not a multiple of 8)", M, secAdd(0, S.length, 4)),
            LieCase("section_length +8 (swallows the next section's header)", M, secAdd(0, S.length, 8)),
            LieCase("section_length -8 (too short for the records)", M, secAdd(0, S.length, -8)),
            LieCase("section_length 0", M, sec(0, S.length, 0)),
            LieCase("section_length 40", M, sec(0, S.length, 40)),
            LieCase("last section_length +8 (past the frame)", M, secAdd(1, S.length, 8)),
            LieCase("last section_length -8", M, secAdd(1, S.length, -8)),
            LieCase("section_length 2^63", M, sec(0, S.length, 1 << 63)),
            LieCase("section_length UInt64.max-7 (wraps when added)", M, sec(0, S.length, .max - 7)),
            // section_count (rule 1, step 11).
            LieCase("section_count +1", M, { f, _ in f.setU16(H.sectionCount, f.u16(H.sectionCount) + 1) }),
            LieCase("section_count -1", M, { f, _ in f.setU16(H.sectionCount, f.u16(H.sectionCount) - 1) }),
            LieCase("section_count 0", M, { f, _ in f.setU16(H.sectionCount, 0) }),
            LieCase("section_count 0xFFFF", M, { f, _ in f.setU16(H.sectionCount, 0xFFFF) }),
            // record_size (rule 3: RECORD_SIZE with the schema; without it the layout breaks).
            LieCase("record_size 32 for a 40-byte table", RS, validate: M, sec32(0, S.recordSize, 32)),
            LieCase("record_size 48 for a 40-byte table", RS, validate: M, sec32(0, S.recordSize, 48)),
            LieCase("record_size 0", RS, validate: M, sec32(0, S.recordSize, 0)),
            LieCase("record_size UInt32.max", RS, validate: M, sec32(0, S.recordSize, .max)),
            LieCase("record_size 40 for the 16-byte table", RS, validate: M, sec32(1, S.recordSize, 40)),
            // table ids (rule 2 with the schema, rule 10 order).
            LieCase("unknown table id 3", PODSYNC_E_UNKNOWN_TABLE, validate: PODSYNC_OK, sec32(1, S.tableID, 3)),
            LieCase("unknown table id UInt32.max", PODSYNC_E_UNKNOWN_TABLE, validate: PODSYNC_OK, sec32(1, S.tableID, .max)),
            LieCase("table ids out of order (first = 3)", PODSYNC_E_UNKNOWN_TABLE, validate: M, sec32(0, S.tableID, 3)),
            LieCase("duplicate table id (both 2)", RS, validate: M, sec32(0, S.tableID, 2)),
            LieCase("duplicate table id (both 1)", RS, validate: M, sec32(1, S.tableID, 1)),
            // Flags, codec, reserved, digest (steps 8, 9).
            LieCase("unknown flag bit 2", M, { f, _ in f.setU32(H.flags, f.u32(H.flags) | 0x4) }),
            LieCase("unknown flag bit 31", M, { f, _ in f.setU32(H.flags, f.u32(H.flags) | 0x8000_0000) }),
            LieCase("RESET on a delta with base 1", M, { f, _ in f.setU32(H.flags, f.u32(H.flags) | PODSYNC_FRAME_RESET) }),
            LieCase("RESET with base 0 but deletes", M, { f, _ in
                f.setU32(H.flags, f.u32(H.flags) | PODSYNC_FRAME_RESET)
                f.setU64(H.baseVersion, 0)
            }),
            LieCase("HAS_DIGEST clear, state_digest nonzero", M, { f, _ in f.setU32(H.flags, f.u32(H.flags) & ~PODSYNC_FRAME_HAS_DIGEST) }),
            LieCase("codec 2", PODSYNC_E_UNSUPPORTED_CODEC, { f, _ in f[H.codec] = 2 }),
            LieCase("codec 1 (zstd) on a plain payload", PODSYNC_E_FRAME_MALFORMED, { f, _ in f[H.codec] = 1 }),
            LieCase("codec 255", PODSYNC_E_UNSUPPORTED_CODEC, { f, _ in f[H.codec] = 255 }),
            LieCase("transforms byte (formerly reserved) 1 on a plain payload", M, { f, _ in f[H.reserved] = 1 }),
            LieCase("unknown transform bit 0x08", M, { f, _ in f[H.reserved] = 0x08 }),
            // Lengths in the header (steps 4, 5, 8c).
            LieCase("header_length 80", M, { f, _ in f.setU16(H.headerLength, 80) }),
            LieCase("header_length 0", M, { f, _ in f.setU16(H.headerLength, 0) }),
            LieCase("header_length 87", M, { f, _ in f.setU16(H.headerLength, 87) }),
            LieCase("header_length 92 (not a multiple of 8)", M, { f, _ in f.setU16(H.headerLength, 92) }),
            LieCase("header_length 96 (payload_length disagrees)", M, { f, _ in f.setU16(H.headerLength, 96) }),
            LieCase("header_length 0xFFF8 (past the frame)", M, { f, _ in f.setU16(H.headerLength, 0xFFF8) }),
            LieCase("frame_length = size + 8", PODSYNC_E_FRAME_TRUNCATED, { f, _ in f.setU64(H.frameLength, UInt64(f.count + 8)) }),
            LieCase("frame_length UInt64.max", PODSYNC_E_FRAME_TRUNCATED, { f, _ in f.setU64(H.frameLength, .max) }),
            LieCase("frame_length = size - 8", M, { f, _ in f.setU64(H.frameLength, UInt64(f.count - 8)) }),
            LieCase("frame_length 0", M, { f, _ in f.setU64(H.frameLength, 0) }),
            LieCase("8 extra bytes after the frame", M, { f, _ in f += [UInt8](repeating: 0, count: 8) }),
            LieCase("4 extra bytes, frame_length and payload_length say so", M, { f, _ in
                f += [0, 0, 0, 0]
                f.setU64(H.frameLength, UInt64(f.count))
                f.setU64(H.payloadLength, UInt64(f.count - 88))
            }),
            LieCase("payload_length +8", M, { f, _ in f.setU64(H.payloadLength, f.u64(H.payloadLength) + 8) }),
            LieCase("payload_length 0", M, { f, _ in f.setU64(H.payloadLength, 0) }),
            // Versions (step 9b).
            LieCase("delta with base == state", M, { f, _ in f.setU64(H.baseVersion, f.u64(H.stateVersion)) }),
            LieCase("delta with base > state", M, { f, _ in f.setU64(H.baseVersion, f.u64(H.stateVersion) + 1) }),
            LieCase("delta with state == base", M, { f, _ in f.setU64(H.stateVersion, f.u64(H.baseVersion)) }),
            LieCase("delta with state 0", M, { f, _ in f.setU64(H.stateVersion, 0) }),
            // Identity (step 7, apply rules) and the checked-exactly fields (steps 2, 3, 6).
            LieCase("schema_hash of another schema", PODSYNC_E_SCHEMA_MISMATCH, validate: PODSYNC_OK, { f, _ in f.setU64(H.schemaHash, f.u64(H.schemaHash) ^ 1) }),
            LieCase("another stream id", PODSYNC_E_STREAM_MISMATCH, validate: PODSYNC_OK, { f, _ in f.setU64(H.streamID, f.u64(H.streamID) ^ 0x10) }),
            LieCase("magic PSYM", PODSYNC_E_FRAME_MAGIC, { f, _ in f[3] = UInt8(ascii: "M") }),
            LieCase("magic reversed", PODSYNC_E_FRAME_MAGIC, { f, _ in f.replaceSubrange(0..<4, with: Array("NYSP".utf8)) }),
            LieCase("format_version 3", PODSYNC_E_FRAME_VERSION, { f, _ in f.setU16(H.formatVersion, 3) }),
            // Byte 4 is 2: a format-2 frame whose header_units (byte 5, here 0) is below 5.
            LieCase("format_version 2", PODSYNC_E_FRAME_MALFORMED, { f, _ in f.setU16(H.formatVersion, 2) }),
            LieCase("format_version 0", PODSYNC_E_FRAME_VERSION, { f, _ in f.setU16(H.formatVersion, 0) }),
            LieCase("checksum off by one", PODSYNC_E_FRAME_CHECKSUM, recompute: false, { f, _ in f.setU64(H.checksum, f.u64(H.checksum) &+ 1) }),
            LieCase("checksum 0", PODSYNC_E_FRAME_CHECKSUM, recompute: false, { f, _ in f.setU64(H.checksum, 0) }),
            LieCase("a record byte changed, old checksum", PODSYNC_E_FRAME_CHECKSUM, recompute: false, { f, _ in f[f.count - 1] ^= 0x20 }),
            LieCase("checksum seeded instead of seed 0", PODSYNC_E_FRAME_CHECKSUM, recompute: false, { f, _ in
                let h = f.withUnsafeBytes { XXH3_64bits_withSeed($0.baseAddress! + 16, $0.count - 16, 1) }
                f.setU64(H.checksum, h)
            }),
        ]
    }()
}

/// The state a frame produces per docs/FORMAT.md "What a frame means" (deletes first, then puts in
/// order; RESET replaces everything).
func applyModel(_ state: Dump, _ p: ParsedFrame, tables: [UInt32]) -> Dump {
    var out = state
    if p.flags & PODSYNC_FRAME_RESET != 0 {
        out = Dump()
        for t in tables { out.tables[t] = [] }
    }
    for s in p.sections {
        var rows = Dictionary(uniqueKeysWithValues: (out.tables[s.tableID] ?? []).map { ($0.key, $0.bytes) })
        for k in s.deleteKeys { rows[k] = nil }
        for (k, r) in zip(s.putKeys, s.records) { rows[k] = r }
        out.tables[s.tableID] = rows.map { Row(key: $0.key, bytes: $0.value) }.sorted()
    }
    return out
}

@Suite struct BadInputTests {
    @Test func everyTruncationIsRejected() throws {
        let fx = try BadInputFixture()
        // FORMAT.md steps 1 and 5a: FRAME_TRUNCATED for every prefix.
        for n in 0..<fx.frame.count {
            fx.expectRejected(fx.frame, size: n, "truncated to \(n) of \(fx.frame.count)", allowed: [PODSYNC_E_FRAME_TRUNCATED])
            expectStatus(validate(fx.frame, size: n).status, PODSYNC_E_FRAME_TRUNCATED, "validate truncated to \(n)")
            expectStatus(peek(fx.frame, size: n).status, n < 88 ? PODSYNC_E_FRAME_TRUNCATED : PODSYNC_OK, "peek of \(n) bytes")
        }
        // The same for a snapshot, which would otherwise replace everything.
        let snap = try fx.writer.snapshotOne()
        for n in 0..<snap.count {
            fx.expectRejected(snap, size: n, "snapshot truncated to \(n) of \(snap.count)", allowed: [PODSYNC_E_FRAME_TRUNCATED])
        }
        fx.expectGenuineApplies()
    }

    @Test func everySingleBitFlipIsRejected() throws {
        let fx = try BadInputFixture()
        var seen: [Int32: Int] = [:]
        for bit in 0..<(fx.frame.count * 8) {
            var g = fx.frame
            g[bit / 8] ^= 1 << UInt8(bit % 8)
            // The status FORMAT.md's validation order gives for a flip in each field.
            let byte = bit / 8
            let want: Int32
            switch byte {
            case 0..<4: want = PODSYNC_E_FRAME_MAGIC
            case 4..<6: want = PODSYNC_E_FRAME_VERSION
            case 6..<8: want = PODSYNC_E_FRAME_MALFORMED  // header_length: step 4, 5c or 8c
            case 16..<24: want = g.u64(H.frameLength) > UInt64(g.count) ? PODSYNC_E_FRAME_TRUNCATED : PODSYNC_E_FRAME_MALFORMED
            default: want = PODSYNC_E_FRAME_CHECKSUM
            }
            let st = fx.expectRejected(g, "bit \(bit) (byte \(byte))", allowed: [want])
            seen[st, default: 0] += 1
            expectStatus(validate(g).status, want, "validate, bit \(bit)")
        }
        print("single-bit flips of a \(fx.frame.count)-byte frame: " + seen.sorted { $0.key < $1.key }.map { "\(sname($0.key)) ×\($0.value)" }.joined(separator: ", "))
        fx.expectGenuineApplies()
    }

    @Test(arguments: LieCase.all)
    func lyingFieldIsRejected(_ lie: LieCase) throws {
        let fx = try BadInputFixture()
        var g = fx.frame
        lie.edit(&g, fx.parsed)
        if lie.recompute { recomputeChecksum(&g) }
        try #require(g != fx.frame, "the edit changed nothing")
        let st = fx.expectRejected(g, lie.label, allowed: [lie.apply])
        if st != lie.apply { print("lying field \"\(lie.label)\": apply → \(sname(st)), FORMAT.md says \(sname(lie.apply))") }
        let vst = validate(g).status
        expectStatus(vst, lie.validate, "podsync_frame_validate of \(lie.label)")
        // section_get on a lying frame must not hand out pointers outside the buffer.
        withAligned(g) { base, n in
            for i in 0..<Int(min(g.u16(H.sectionCount), 4)) {
                var sec = podsync_frame_section()
                sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
                let sst = podsync_frame_section_get(base, n, i, &sec)
                guard sst == PODSYNC_OK else { continue }
                let end = base + n
                if sec.put_count > 0 {
                    #expect(sec.put_count <= UInt64(n / 8), "\(lie.label): section \(i) put_count \(sec.put_count)")
                    #expect(sec.record_size >= 1 && sec.record_size <= UInt32(PODSYNC_MAX_RECORD_SIZE), "\(lie.label): section \(i) record_size \(sec.record_size)")
                    guard sec.put_count <= UInt64(n / 8), sec.record_size <= UInt32(PODSYNC_MAX_RECORD_SIZE) else { continue }
                    #expect(UnsafeRawPointer(sec.put_keys)! >= base && UnsafeRawPointer(sec.put_keys + Int(sec.put_count)) <= end, "\(lie.label): section \(i) put keys outside the buffer")
                    #expect(sec.records >= base && sec.records + Int(sec.put_count) * Int(sec.record_size) <= end, "\(lie.label): section \(i) records outside the buffer")
                }
                if sec.delete_count > 0 {
                    #expect(sec.delete_count <= UInt64(n / 8), "\(lie.label): section \(i) delete_count \(sec.delete_count)")
                    guard sec.delete_count <= UInt64(n / 8) else { continue }
                    #expect(UnsafeRawPointer(sec.delete_keys + Int(sec.delete_count)) <= end, "\(lie.label): section \(i) delete keys outside the buffer")
                }
            }
        }
        fx.expectGenuineApplies()
    }

    @Test(arguments: ["a key both put and deleted", "a key put twice"])
    func repeatedKeysAreRejectedOrAppliedAsSpecified(_ label: String) throws {
        // FORMAT.md "Keys": a receiver MAY reject a repeated key as malformed; if it does not, it
        // MUST produce "deletes first, then puts in order". The digest is set to that state.
        let fx = try BadInputFixture()
        let s0 = fx.parsed.sections[0]
        var g = fx.frame
        if label == "a key both put and deleted" {
            g.setU64(s0.start + 40 + 8 * Int(s0.putCount), s0.putKeys[0])
        } else {
            g.setU64(s0.start + 40 + 8, s0.putKeys[0])
        }
        let model = applyModel(fx.baseline.dump, try parseFrame(g), tables: [tableA, tableB])
        g.setU64(H.stateDigest, expectedDigest(model))
        recomputeChecksum(&g)
        let (st, v) = fx.replica.apply(g)
        print("\(label): apply → \(sname(st))")
        #expect(st == PODSYNC_OK || st == PODSYNC_E_FRAME_MALFORMED, "\(label): \(sname(st))")
        if st == PODSYNC_OK {
            #expect(v == 2)
            #expect(fx.replica.dump() == model, "\(label): accepted but not applied as deletes-then-puts-in-order")
            #expect(fx.replica.info().diverged == 0)
        } else {
            #expect(Observed(fx.replica) == fx.baseline)
        }
    }

    @Test(arguments: [1, 3])
    func repeatedKeyInASnapshot(_ position: Int) throws {
        // The same rule for a RESET frame: rejected as malformed, or applied as puts in order.
        let fx = try BadInputFixture()
        for k in UInt64(20)...22 { fx.writer.put(tableA, k) }
        _ = try fx.writer.flushOne()
        let snap = try fx.writer.snapshotOne()
        let p = try parseFrame(snap)
        let a = try #require(p.section(tableA))
        try #require(a.putCount > UInt64(position))
        var g = snap
        g.setU64(a.start + 40 + 8 * position, a.putKeys[0])
        let model = applyModel(Dump(), try parseFrame(g), tables: [tableA, tableB])
        g.setU64(H.stateDigest, expectedDigest(model))
        recomputeChecksum(&g)
        let r = try Store.replica(fx.schema)
        let (st, _) = r.apply(g)
        print("snapshot with put key #\(position) repeating #0: \(sname(st))")
        #expect(st == PODSYNC_OK || st == PODSYNC_E_FRAME_MALFORMED, "\(sname(st))")
        guard st == PODSYNC_OK else { return }
        #expect(r.dump() == model, "applied, but not as puts in order")
        #expect(r.count(tableA) == model.tables[tableA]!.count)
        #expect(r.digest() == expectedDigest(model))
        #expect(r.info().diverged == 0)
        // The replica's own products describe that state.
        let r2 = try Store.replica(fx.schema)
        try r2.applyAll([try r.snapshotOne()])
        #expect(r2.dump() == model)
        let v = r.version
        let (dst, none) = r.deltaSince(v)
        expectStatus(dst, PODSYNC_OK, "delta_since(current)")
        #expect(none.isEmpty)
    }

    @Test func interestingValuesInEveryFieldNeverCrash() throws {
        // Every u16/u32/u64 field of the header and of both section headers, set to values chosen
        // to break overflow-unsafe arithmetic, with a valid checksum. Some edits make another valid
        // frame (sequence, versions, digest); the rest must be rejected with the state unchanged.
        var fx = try BadInputFixture()
        let values: [UInt64] = [
            0, 1, 2, 7, 8, 39, 40, 41, 87, 88, 0x7F, 0xFF, 0x100, 0xFFF8, 0xFFFF, 0x1_0000,
            0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFF8, 0xFFFF_FFFF, 0x1_0000_0000, 1 << 40, 1 << 61,
            1 << 63, UInt64.max - 7, UInt64.max,
        ]
        var fields: [(String, Int, Int)] = [
            ("format_version", H.formatVersion, 2), ("header_length", H.headerLength, 2),
            ("frame_length", H.frameLength, 8), ("flags", H.flags, 4), ("section_count", H.sectionCount, 2),
            ("codec", H.codec, 1), ("reserved", H.reserved, 1), ("schema_hash", H.schemaHash, 8),
            ("stream_id", H.streamID, 8), ("sequence", H.sequence, 8), ("base_version", H.baseVersion, 8),
            ("state_version", H.stateVersion, 8), ("state_digest", H.stateDigest, 8),
            ("payload_length", H.payloadLength, 8),
        ]
        for (i, sec) in fx.parsed.sections.enumerated() {
            fields += [
                ("s\(i).table_id", sec.start + S.tableID, 4), ("s\(i).record_size", sec.start + S.recordSize, 4),
                ("s\(i).put_count", sec.start + S.putCount, 8), ("s\(i).delete_count", sec.start + S.deleteCount, 8),
                ("s\(i).records_offset", sec.start + S.recordsOffset, 8), ("s\(i).length", sec.start + S.length, 8),
            ]
        }
        var outcomes: [Int32: Int] = [:]
        var accepted: [String] = []
        for (name, offset, width) in fields {
            for value in values {
                var g = fx.frame
                for b in 0..<width { g[offset + b] = UInt8(truncatingIfNeeded: value >> (8 * b)) }
                if g == fx.frame { continue }
                recomputeChecksum(&g)
                _ = validate(g)
                withAligned(g) { base, n in
                    for i in 0..<Int(min(g.u16(H.sectionCount), 3)) {
                        var sec = podsync_frame_section()
                        sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
                        _ = podsync_frame_section_get(base, n, i, &sec)
                    }
                }
                let (st, _) = fx.replica.apply(g)
                outcomes[st, default: 0] += 1
                if st >= 0 || st == PODSYNC_E_DIGEST_MISMATCH {
                    if st == PODSYNC_OK || st == PODSYNC_E_DIGEST_MISMATCH { accepted.append("\(name)=\(value):\(sname(st))") }
                    let allowed = ["sequence", "state_digest", "base_version", "state_version"]
                    #expect(allowed.contains(name) || st == PODSYNC_GAP || st == PODSYNC_DUPLICATE, "\(name) = \(value) accepted: \(sname(st))")
                    fx = try BadInputFixture()
                } else if Observed(fx.replica) != fx.baseline {
                    Issue.record("\(name) = \(value): \(sname(st)) changed the state")
                    fx = try BadInputFixture()
                }
            }
        }
        print("interesting values: " + outcomes.sorted { $0.key < $1.key }.map { "\(sname($0.key)) ×\($0.value)" }.joined(separator: ", "))
        var perField: [String: Int] = [:]
        for a in accepted { perField[String(a.prefix { $0 != "=" }), default: 0] += 1 }
        print("accepted edits per field: \(perField.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))")
    }

    @Test func hugePutCountIsRejectedFast() throws {
        let fx = try BadInputFixture()
        let g = tampered(fx.frame) { $0.setU64(fx.parsed.sections[0].start + S.putCount, 1 << 40) }
        var st: Int32 = 0
        let elapsed = ContinuousClock().measure { st = fx.replica.apply(g).status }
        expectStatus(st, PODSYNC_E_FRAME_MALFORMED, "put_count 2^40")
        #expect(elapsed < .milliseconds(50), "rejecting put_count 2^40 took \(elapsed)")
        let elapsedValidate = ContinuousClock().measure { _ = validate(g) }
        #expect(elapsedValidate < .milliseconds(50), "validate took \(elapsedValidate)")
        #expect(Observed(fx.replica) == fx.baseline)
    }

    @Test func nonzeroPaddingIsRejected() throws {
        // Table 3 (alignment 64) and table 4 (12-byte records) force padding in their sections.
        let s = try makeSchema([
            tableADef,
            TableDef(id: 3, size: 64, alignment: 64, fields: []),
            TableDef(id: 4, size: 12, alignment: 4, fields: []),
        ])
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        w.put(tableA, 1)
        try r.applyAll([try w.flushOne()])
        w.put(3, 1, patternRecord(size: 64, key: 1))
        w.put(4, 1, patternRecord(size: 12, key: 1))
        w.put(4, 2, patternRecord(size: 12, key: 2))
        w.put(4, 3, patternRecord(size: 12, key: 3))
        w.delete(tableA, 1)
        let f = try w.flushOne()
        let p = try parseFrame(f)
        let pads = paddingRanges(p)
        let padBytes = pads.flatMap { Array($0) }
        try #require(!padBytes.isEmpty, "no padding in \(p.sections)")
        let before = Observed(r)
        for i in padBytes {
            for value: UInt8 in [1, 0x80] {
                let g = tampered(f) { $0[i] = value }
                expectStatus(r.apply(g).status, PODSYNC_E_FRAME_MALFORMED, "padding byte \(i) = \(value)")
                expectStatus(validate(g).status, PODSYNC_E_FRAME_MALFORMED, "validate: padding byte \(i) = \(value)")
                #expect(Observed(r) == before, "padding byte \(i): state changed")
            }
        }
        print("nonzero padding: checked \(padBytes.count) padding bytes in ranges \(pads)")
        expectStatus(r.apply(f).status, PODSYNC_OK, "the genuine frame")
        expectSameState(r, w)
    }

    @Test func sectionsOutOfOrderOrDuplicated() throws {
        // Two tables with the same record size, so that only the order is wrong.
        let s = try makeSchema([
            TableDef(id: 1, size: 16, alignment: 8, fields: []), TableDef(id: 2, size: 16, alignment: 8, fields: []),
        ])
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        w.put(1, 1, recordB(1))
        w.put(2, 2, recordB(2))
        let f = try w.flushOne()
        let p = try parseFrame(f)
        try #require(p.sections.count == 2)
        let swapped = tampered(f) {
            $0.setU32(p.sections[0].start, 2)
            $0.setU32(p.sections[1].start, 1)
        }
        let before = Observed(r)
        expectStatus(r.apply(swapped).status, PODSYNC_E_FRAME_MALFORMED, "sections 2, 1")
        expectStatus(validate(swapped).status, PODSYNC_E_FRAME_MALFORMED, "validate: sections 2, 1")
        let dup = tampered(f) { $0.setU32(p.sections[1].start, 1) }
        expectStatus(r.apply(dup).status, PODSYNC_E_FRAME_MALFORMED, "sections 1, 1")
        expectStatus(validate(dup).status, PODSYNC_E_FRAME_MALFORMED, "validate: sections 1, 1")
        #expect(Observed(r) == before)
        expectStatus(r.apply(f).status, PODSYNC_OK, "the genuine frame")
    }

    @Test func snapshotRules() throws {
        let fx = try BadInputFixture()
        let snap = try fx.writer.snapshotOne()
        let r = try Store.replica(fx.schema)
        let before = Observed(r)
        let baseNonzero = tampered(snap) { $0.setU64(H.baseVersion, 1) }
        expectStatus(r.apply(baseNonzero).status, PODSYNC_E_FRAME_MALFORMED, "RESET with base 1 (step 9a)")
        let version0 = tampered(snap) { $0.setU64(H.stateVersion, 0) }
        expectStatus(r.apply(version0).status, PODSYNC_E_FRAME_MALFORMED, "RESET at version 0 with records (section rule 12)")
        expectStatus(validate(version0).status, PODSYNC_E_FRAME_MALFORMED, "validate: RESET at version 0 with records")
        #expect(Observed(r) == before)
        expectStatus(r.apply(snap).status, PODSYNC_OK, "the genuine snapshot")
        expectSameState(r, fx.writer)
    }

    @Test func wrongSchemaIsRejected() throws {
        let fx = try BadInputFixture()
        let other = try makeSchema([tableADef, TableDef(id: 2, size: 24, alignment: 8, fields: [])])
        let r = try Store.replica(other)
        let before = Observed(r)
        for (i, f) in [fx.f1, fx.frame, try fx.writer.snapshotOne()].enumerated() {
            expectStatus(r.apply(f).status, PODSYNC_E_SCHEMA_MISMATCH, "frame \(i) of another schema")
        }
        #expect(Observed(r) == before)
        // Same tables, different field names: also another schema.
        let renamed = try makeSchema([
            TableDef(id: 1, size: 40, alignment: 8, fields: [FieldSpec("ID", PODSYNC_TYPE_U64, 0)]), tableBDef,
        ])
        let r2 = try Store.replica(renamed)
        expectStatus(r2.apply(fx.f1).status, PODSYNC_E_SCHEMA_MISMATCH, "field renamed")
        #expect(r2.errmsg != "")
    }

    @Test func replayedAndOutOfOrderFrames() throws {
        let fx = try BadInputFixture()
        fx.writer.put(tableA, 9)
        let f3 = try fx.writer.flushOne()
        fx.writer.delete(tableA, 9)
        let f4 = try fx.writer.flushOne()
        let (st1, v1) = fx.replica.apply(fx.f1)
        expectStatus(st1, PODSYNC_DUPLICATE, "f1 replayed")
        #expect(v1 == 1)
        #expect(Observed(fx.replica) == fx.baseline)
        for (label, f) in [("f3", f3), ("f4", f4)] {
            let (st, v) = fx.replica.apply(f)
            expectStatus(st, PODSYNC_GAP, "\(label) before f2")
            #expect(v == 1)
            #expect(Observed(fx.replica) == fx.baseline)
        }
        try fx.replica.applyAll([fx.frame, f3])
        expectStatus(fx.replica.apply(fx.frame).status, PODSYNC_DUPLICATE, "f2 after f3")
        expectStatus(fx.replica.apply(fx.f1).status, PODSYNC_DUPLICATE, "f1 after f3")
        expectStatus(fx.replica.apply(f3).status, PODSYNC_DUPLICATE, "f3 again")
        expectStatus(fx.replica.apply(f4).status, PODSYNC_OK, "f4")
        expectSameState(fx.replica, fx.writer)
    }

    @Test func unalignedFrameBuffers() throws {
        // apply must not require alignment (it may copy); section_get may refuse unaligned data.
        let fx = try BadInputFixture()
        for offset in [1, 4] {
            let st = withAligned(fx.frame, offset: offset) { podsync_frame_validate($0, $1, nil) }
            expectStatus(st, PODSYNC_OK, "validate at offset \(offset)")
            let sst = withAligned(fx.frame, offset: offset) { p, n -> Int32 in
                var sec = podsync_frame_section()
                sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
                return podsync_frame_section_get(p, n, 0, &sec)
            }
            expectStatus(sst, PODSYNC_E_INVALID_ARGUMENT, "section_get of data at offset \(offset) (must be 8-byte aligned)")
        }
        let st = withAligned(fx.frame, offset: 4) { podsync_store_apply(fx.replica.handle, $0, $1, nil) }
        print("apply of a frame at a 4-byte offset: \(sname(st))")
        #expect(st == PODSYNC_OK || st == PODSYNC_E_INVALID_ARGUMENT, "apply of an unaligned frame: \(sname(st))")
        if st == PODSYNC_OK { expectSameState(fx.replica, fx.writer) } else { #expect(Observed(fx.replica) == fx.baseline) }
    }

    // MARK: - NULL pointers, zero sizes, struct versions

    @Test func nullPointersToStoreFunctions() throws {
        let fx = try BadInputFixture()
        let w = fx.writer, r = fx.replica
        let inv = PODSYNC_E_INVALID_ARGUMENT
        let rec = recordA(1)
        var n = 0
        var out: OpaquePointer? = OpaquePointer(bitPattern: 0x20)
        var o = Options().c

        // Creation.
        expectStatus(podsync_store_create(nil, UInt32(PODSYNC_ROLE_WRITER), &o, &out), inv, "create(NULL schema)")
        #expect(out == nil, "*out not NULL after a failed create")
        expectStatus(podsync_store_create(fx.schema.handle, UInt32(PODSYNC_ROLE_WRITER), &o, nil), inv, "create(NULL out)")
        for role: UInt32 in [0, 3, .max] {
            out = OpaquePointer(bitPattern: 0x20)
            expectStatus(podsync_store_create(fx.schema.handle, role, &o, &out), inv, "create(role \(role))")
            #expect(out == nil)
        }
        for version: UInt32 in [0, UInt32(PODSYNC_STORE_OPTIONS_VERSION) + 1, .max] {
            var bad = Options().c
            bad.version = version
            out = OpaquePointer(bitPattern: 0x20)
            expectStatus(podsync_store_create(fx.schema.handle, UInt32(PODSYNC_ROLE_WRITER), &bad, &out), inv, "options version \(version)")
            #expect(out == nil)
        }
        expectStatus(podsync_store_options_init(nil, 1), inv, "options_init(NULL)")
        var oi = podsync_store_options()
        expectStatus(podsync_store_options_init(&oi, 0), inv, "options_init(version 0)")
        expectStatus(podsync_store_options_init(&oi, UInt32(PODSYNC_STORE_OPTIONS_VERSION) + 1), inv, "options_init(a newer version)")

        // Writes.
        expectStatus(podsync_store_put(nil, tableA, 1, rec, 40), inv, "put(NULL store)")
        expectStatus(podsync_store_put(w.handle, tableA, 1, nil, 40), inv, "put(NULL record)")
        let zeroPut = podsync_store_put(w.handle, tableA, 1, rec, 0)
        #expect(zeroPut == PODSYNC_E_RECORD_SIZE || zeroPut == inv, "put(size 0): \(sname(zeroPut))")
        let nullZeroPut = podsync_store_put(w.handle, tableA, 1, nil, 0)
        expectError(nullZeroPut, "put(NULL, 0)")
        let keys: [UInt64] = [1, 2]
        let recs = recordA(1) + recordA(2)
        expectStatus(podsync_store_put_many(nil, tableA, keys, recs, 2, 80), inv, "put_many(NULL store)")
        expectStatus(podsync_store_put_many(w.handle, tableA, nil, recs, 2, 80), inv, "put_many(NULL keys)")
        expectStatus(podsync_store_put_many(w.handle, tableA, keys, nil, 2, 80), inv, "put_many(NULL records)")
        let emptyMany = podsync_store_put_many(w.handle, tableA, nil, nil, 0, 0)
        #expect(emptyMany == PODSYNC_OK || emptyMany == inv, "put_many(NULL, NULL, 0, 0): \(sname(emptyMany))")
        print("put_many with count 0 and NULL arrays: \(sname(emptyMany))")
        expectStatus(podsync_store_delete(nil, tableA, 1), inv, "delete(NULL store)")
        var deleted = 0
        expectStatus(podsync_store_delete_many(nil, tableA, keys, 2, &deleted), inv, "delete_many(NULL store)")
        expectStatus(podsync_store_delete_many(w.handle, tableA, nil, 2, &deleted), inv, "delete_many(NULL keys)")
        let emptyDel = podsync_store_delete_many(w.handle, tableA, nil, 0, &deleted)
        #expect(emptyDel == PODSYNC_OK || emptyDel == inv, "delete_many(NULL, 0): \(sname(emptyDel))")
        expectStatus(podsync_store_set_time(nil, 1), inv, "set_time(NULL)")
        expectStatus(podsync_store_flush_due(nil), inv, "flush_due(NULL)")

        // Frames.
        expectStatus(podsync_store_flush(nil, &n), inv, "flush(NULL store)")
        expectStatus(podsync_store_flush(w.handle, nil), inv, "flush(NULL count)")
        expectStatus(podsync_store_delta_since(nil, 0, &n), inv, "delta_since(NULL store)")
        expectStatus(podsync_store_delta_since(w.handle, 0, nil), inv, "delta_since(NULL count)")
        expectStatus(podsync_store_snapshot(nil, &n), inv, "snapshot(NULL store)")
        expectStatus(podsync_store_snapshot(w.handle, nil), inv, "snapshot(NULL count)")
        var data: UnsafePointer<UInt8>? = nil
        var size = 0
        expectStatus(podsync_store_frame(nil, 0, &data, &size), inv, "frame(NULL store)")
        expectStatus(podsync_store_snapshot(w.handle, &n), PODSYNC_OK, "snapshot")
        expectStatus(podsync_store_frame(w.handle, 0, nil, &size), inv, "frame(NULL data_out)")
        expectStatus(podsync_store_frame(w.handle, 0, &data, nil), inv, "frame(NULL size_out)")
        expectStatus(podsync_store_frame(w.handle, n, &data, &size), inv, "frame(index == count)")
        expectStatus(podsync_store_frame(w.handle, .max, &data, &size), inv, "frame(index SIZE_MAX)")
        expectStatus(podsync_store_frame(r.handle, 0, &data, &size), inv, "frame(0) of an empty outbox")

        // Apply.
        var v: UInt64 = 0
        expectStatus(podsync_store_apply(nil, fx.frame, fx.frame.count, &v), inv, "apply(NULL store)")
        expectStatus(podsync_store_apply(r.handle, nil, fx.frame.count, &v), inv, "apply(NULL frame)")
        expectError(podsync_store_apply(r.handle, nil, 0, &v), "apply(NULL, 0)")
        expectStatus(withAligned(fx.frame) { p, _ in podsync_store_apply(r.handle, p, 0, &v) }, PODSYNC_E_FRAME_TRUNCATED, "apply(frame, 0)")
        #expect(Observed(r) == fx.baseline)

        // Reads.
        var p: UnsafeRawPointer? = nil
        expectStatus(podsync_store_get(nil, tableA, 1, &p), inv, "get(NULL store)")
        expectStatus(podsync_store_get(r.handle, tableA, 1, nil), inv, "get(NULL out)")
        expectStatus(podsync_store_count(nil, tableA, &n), inv, "count(NULL store)")
        expectStatus(podsync_store_count(r.handle, tableA, nil), inv, "count(NULL out)")
        var recsOut: UnsafeRawPointer? = nil
        var keysOut: UnsafePointer<UInt64>? = nil
        expectStatus(podsync_store_table(nil, tableA, &recsOut, &keysOut, &n), inv, "table(NULL store)")
        expectStatus(podsync_store_table(r.handle, tableA, nil, &keysOut, &n), inv, "table(NULL records_out)")
        expectStatus(podsync_store_table(r.handle, tableA, &recsOut, nil, &n), inv, "table(NULL keys_out)")
        expectStatus(podsync_store_table(r.handle, tableA, &recsOut, &keysOut, nil), inv, "table(NULL count_out)")
        var d: UInt64 = 0
        expectStatus(podsync_store_digest(nil, &d), inv, "digest(NULL store)")
        expectStatus(podsync_store_digest(r.handle, nil), inv, "digest(NULL out)")
        var info = podsync_store_info()
        info.version = UInt32(PODSYNC_STORE_INFO_VERSION)
        expectStatus(podsync_store_info_get(nil, &info), inv, "info_get(NULL store)")
        expectStatus(podsync_store_info_get(r.handle, nil), inv, "info_get(NULL info)")
        // docs/ABI.md "Versioned structs": output structs accept any version >= 1; 0 is rejected.
        var zero = podsync_store_info()
        expectStatus(podsync_store_info_get(r.handle, &zero), inv, "info version 0")
        for version: UInt32 in [2, .max] {
            // A newer caller's struct is larger: the library writes only the fields it knows.
            let size = MemoryLayout<podsync_store_info>.size
            let raw = UnsafeMutableRawPointer.allocate(byteCount: size + 64, alignment: 8)
            defer { raw.deallocate() }
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            (raw + size).initializeMemory(as: UInt8.self, repeating: 0xAB, count: 64)
            let info = raw.bindMemory(to: podsync_store_info.self, capacity: 1)
            info.pointee.version = version
            expectStatus(podsync_store_info_get(r.handle, info), PODSYNC_OK, "info version \(version)")
            #expect(info.pointee.state_version == 1 && info.pointee.table_count == 2, "info version \(version) fields")
            #expect(UnsafeRawBufferPointer(start: raw + size, count: 64).allSatisfy { $0 == 0xAB }, "wrote past the v1 struct")
        }
        #expect(r.errmsg != "", "errmsg after an error")
        #expect(Observed(r) == fx.baseline)
        fx.expectGenuineApplies()

        // free(NULL) and errmsg(NULL) do not crash.
        podsync_store_free(nil)
        podsync_schema_free(nil)
        let m1: UnsafePointer<CChar>? = podsync_store_errmsg(nil)
        let m2: UnsafePointer<CChar>? = podsync_schema_errmsg(nil)
        print("errmsg(NULL): store \(m1.map { "\"\(String(cString: $0))\"" } ?? "NULL"), schema \(m2.map { "\"\(String(cString: $0))\"" } ?? "NULL")")
    }

    @Test func nullPointersToFrameFunctions() throws {
        let fx = try BadInputFixture()
        let inv = PODSYNC_E_INVALID_ARGUMENT
        var info = podsync_frame_info()
        info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
        expectStatus(podsync_frame_peek(nil, 88, &info), inv, "peek(NULL data)")
        withAligned(fx.frame) { base, n in
            expectStatus(podsync_frame_peek(base, n, nil), inv, "peek(NULL info)")
            expectStatus(podsync_frame_validate(nil, n, &info), inv, "validate(NULL data)")
            expectStatus(podsync_frame_validate(base, 0, &info), PODSYNC_E_FRAME_TRUNCATED, "validate(size 0)")
            expectStatus(podsync_frame_peek(base, 0, &info), PODSYNC_E_FRAME_TRUNCATED, "peek(size 0)")
            var bad0 = podsync_frame_info()
            expectStatus(podsync_frame_peek(base, n, &bad0), inv, "peek(info version 0)")
            expectStatus(podsync_frame_validate(base, n, &bad0), inv, "validate(info version 0)")
            var newer = podsync_frame_info()
            newer.version = 2
            expectStatus(podsync_frame_peek(base, n, &newer), PODSYNC_OK, "peek(info version 2): output structs accept newer versions")
            #expect(newer.frame_length == UInt64(n))
            newer = podsync_frame_info()
            newer.version = 2
            expectStatus(podsync_frame_validate(base, n, &newer), PODSYNC_OK, "validate(info version 2)")
            #expect(newer.state_version == 2)
            var sec = podsync_frame_section()
            sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
            expectStatus(podsync_frame_section_get(nil, n, 0, &sec), inv, "section_get(NULL data)")
            expectStatus(podsync_frame_section_get(base, n, 0, nil), inv, "section_get(NULL section)")
            expectError(podsync_frame_section_get(base, 0, 0, &sec), "section_get(size 0)")
            var bad = podsync_frame_section()
            bad.version = 0
            expectStatus(podsync_frame_section_get(base, n, 0, &bad), inv, "section_get(section version 0)")
            bad.version = 2
            bad.reserved = 0xFFFF
            expectStatus(podsync_frame_section_get(base, n, 0, &bad), PODSYNC_OK, "section_get(section version 2)")
            #expect(bad.reserved == 0, "output reserved fields are written as 0")
            #expect(bad.table_id == tableA)
            sec.reserved = 7
            expectStatus(podsync_frame_section_get(base, n, 0, &sec), PODSYNC_OK, "section_get after all that")
            #expect(sec.reserved == 0)
        }
    }

    @Test func statusNames() {
        for (code, name) in allStatuses {
            let p: UnsafePointer<CChar>? = podsync_status_name(code)
            #expect(p.map { String(cString: $0) } == name, "podsync_status_name(\(code))")
        }
        for code: Int32 in [11, 100, -8, -9, -33, -98, -100, .min, .max] {
            let p: UnsafePointer<CChar>? = podsync_status_name(code)
            #expect(p.map { String(cString: $0) } == "PODSYNC_UNKNOWN_STATUS", "podsync_status_name(\(code))")
        }
        #expect(Set(allStatuses.map(\.code)).count == allStatuses.count)
    }

    @Test func versionNumbers() {
        #expect(podsync_version_number() == 900)
        #expect(podsync_version_number() == UInt32(PODSYNC_VERSION_MAJOR * 10000 + PODSYNC_VERSION_MINOR * 100 + PODSYNC_VERSION_PATCH))
        #expect(podsync_abi_version() == UInt32(PODSYNC_ABI_VERSION))
        #expect(PODSYNC_FORMAT_VERSION == 2)
        #expect(PODSYNC_FRAME_PREFIX_SIZE == 16)
        #expect(PODSYNC_FRAME_HEADER_SIZE == 88)
    }

    @Test func errmsgIsEmptyUntilAnErrorAndNamesIt() throws {
        let s = try standardSchema()
        #expect(s.errmsg == "")
        let w = try Store.writer(s)
        #expect(w.errmsg == "")
        expectStatus(w.put(55, 1, recordA(1)), PODSYNC_E_UNKNOWN_TABLE, "put on table 55")
        let m = w.errmsg
        #expect(!m.isEmpty)
        print("errmsg after put on an unknown table: \"\(m)\"")
        expectStatus(s.addTable(1, size: 8, alignment: 8), PODSYNC_E_SCHEMA_INVALID, "duplicate table")
        #expect(!s.errmsg.isEmpty)
        print("schema errmsg after a duplicate table: \"\(s.errmsg)\"")
        let r = try Store.replica(s)
        expectStatus(r.apply([UInt8](repeating: 0, count: 96)).status, PODSYNC_E_FRAME_MAGIC, "96 zero bytes")
        #expect(!r.errmsg.isEmpty)
        print("errmsg after a zero frame: \"\(r.errmsg)\"")
    }

    @Test func garbageFramesDoNotCrash() throws {
        var fx = try BadInputFixture()
        var rng = SplitMix64(seed: 2024)
        var outcomes: [Int32: Int] = [:]
        for i in 0..<2000 {
            var g: [UInt8]
            switch i % 4 {
            case 0:  // random bytes
                g = (0..<Int(rng.next() % 400)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:  // a valid header, random body, valid checksum
                g = Array(fx.frame[0..<88]) + (0..<Int(rng.next() % 40) * 8).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                g.setU64(H.frameLength, UInt64(g.count))
                g.setU64(H.payloadLength, UInt64(g.count - 88))
                recomputeChecksum(&g)
            default:  // a few random bytes of the real frame changed, checksum recomputed
                g = fx.frame
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let at = 16 + Int(rng.next() % UInt64(g.count - 16))
                    g[at] = UInt8(truncatingIfNeeded: rng.next())
                }
                recomputeChecksum(&g)
            }
            if g == fx.frame { continue }
            let (st, _) = fx.replica.apply(g)
            outcomes[st, default: 0] += 1
            _ = validate(g)
            if st >= 0 || st == PODSYNC_E_DIGEST_MISMATCH {
                // A checksum-valid change can be a valid frame (e.g. another sequence number, or
                // another record value that the digest then catches). Only mutations of the real
                // frame may get that far.
                if i % 4 < 2 {
                    Issue.record("random frame \(i) accepted with \(sname(st))")
                    return
                }
                fx = try BadInputFixture()
                continue
            }
            let now = Observed(fx.replica)
            if now != fx.baseline {
                Issue.record("garbage frame \(i) (\(sname(st))) changed the state")
                return
            }
        }
        print("garbage frames: " + outcomes.sorted { $0.key < $1.key }.map { "\(sname($0.key)) ×\($0.value)" }.joined(separator: ", "))
        fx.expectGenuineApplies()
    }
}
