import CPodSync
import Testing

/// The COLUMNS transform (docs/FORMAT.md, "Transforms"): all-zero byte columns are left out,
/// columns zstd cannot shrink travel raw after the compressed stream, and which is which is
/// learned by trials on a fixed schedule.
@Suite struct ColumnTransformTests {
    /// Table 7, 24-byte records: an id that never changes, a counter whose low byte is the tick
    /// (its XOR with the previous tick is one value for every row: compressible), and 8 random
    /// bytes (incompressible).
    static let table: UInt32 = 7
    static func schema() throws -> Schema {
        try makeSchema([TableDef(id: table, size: 24, alignment: 8, fields: [])])
    }

    static func record(_ key: UInt64, tick: UInt8, _ rng: inout SplitMix64) -> [UInt8] {
        var r: [UInt8] = []
        r.appendLE(key)
        r.appendLE(UInt64(tick))
        r.appendLE(rng.next())
        return r
    }

    @Test func zeroCodedAndRawColumnsRoundTripWithExactCounts() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        let r = try Store.replica(schema)
        var rng = SplitMix64(seed: 24)
        // The initial state: 1,000 records of absolute values (ids below 1,000: bytes 2-7 zero;
        // counter 0: all 8 bytes zero).
        for key: UInt64 in 0..<1000 { w.put(Self.table, key, Self.record(key, tick: 0, &rng)) }
        try r.applyAll(try w.flushOK())
        // Ten ticks of 500 changed records: after XOR, bytes 0-7 and 9-15 are zero in every row.
        for tick: UInt8 in 1...10 {
            for key in stride(from: UInt64(tick % 2), to: 1000, by: 2) { w.put(Self.table, key, Self.record(key, tick: tick, &rng)) }
            let frames = try w.flushOK()
            try #require(frames.count == 1)
            let h = try parseHeader(frames[0])
            #expect(h.codec == UInt8(PODSYNC_CODEC_ZSTD), "tick \(tick) is compressed")
            // (Format 1, which these tests write, has no FIELDS nor KEY_RANKS.)
            #expect(h.transforms == UInt8(PODSYNC_TRANSFORM_ALL & ~(PODSYNC_TRANSFORM_FIELDS | PODSYNC_TRANSFORM_KEY_RANKS)), "tick \(tick) uses every transform")
            try r.applyAll(frames)
            #expect(r.digest() == w.digest(), "tick \(tick)")
        }
        #expect(r.dump() == w.dump())
        let m = MetricsTests.metrics(w)
        // Zero columns: 13 in the initial frame (6 id bytes, 7 counter bytes... and the counter's
        // low byte, all 0 at tick 0: 14) x 1,000 rows; 15 per XOR-ed row x 500 x 10.
        #expect(m.saved_by_zero_columns == 14 * 1000 + 15 * 500 * 10)
        // Raw columns: the 8 random bytes of every row, in every frame.
        #expect(m.raw_column_bytes == 8 * 1000 + 8 * 500 * 10)
        // Trials: the initial frame (absolute values), then XOR-ed frames 1, 2, 4 and 8.
        #expect(m.column_trials == 5)
        #expect(m.compressed_frames == 11)
        // Catch-up deltas and snapshots (no XOR) use COLUMNS too, and round trip.
        let late = try Store.replica(schema)
        try late.applyAll([try w.snapshotOne()])
        #expect(late.dump() == w.dump())
    }

    /// The smallest frames: one record, records whose values did not change (an all-zero XOR),
    /// all-zero records and fewer than 8 rows (the transposition's tail paths).
    @Test func smallAndUnchangedFramesRoundTrip() throws {
        let schema = try Self.schema()
        for level: Int32 in [1, -5] {
            let w = try Store.writer(schema) { $0.compressionLevel = level }
            let r = try Store.replica(schema)
            var rng = SplitMix64(seed: 3)
            for count in [1, 2, 7, 8, 9, 15, 17, 64, 65, 200] {
                var records: [[UInt8]] = []
                for key in 0..<UInt64(count) {
                    records.append(count == 17 ? [UInt8](repeating: 0, count: 24) : Self.record(key, tick: UInt8(count), &rng))
                    w.put(Self.table, key, records.last!)
                }
                try r.applyAll(try w.flushOK())
                // Changed and changed back within one batch: the frame carries the values the
                // replica holds (an all-zero XOR). (Putting the same values on clean keys would
                // send nothing: unchanged writes are not changes.)
                for key in 0..<UInt64(count) {
                    w.put(Self.table, key, Self.record(key, tick: 255, &rng))
                    w.put(Self.table, key, records[Int(key)])
                }
                let again = try w.flushOK()
                #expect(again.count == 1, "a changed-back batch is still sent")
                try r.applyAll(again)
                #expect(r.digest() == w.digest(), "level \(level), \(count) records")
            }
            #expect(r.dump() == w.dump())
        }
    }

    /// A column that changed in few rows travels sparse: a bitmap and its nonzero bytes.
    @Test func mostlyZeroColumnsTravelSparse() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        let r = try Store.replica(schema)
        var rng = SplitMix64(seed: 9)
        var records: [UInt64: [UInt8]] = [:]
        for key: UInt64 in 0..<1000 {
            records[key] = Self.record(key, tick: 0, &rng)
            w.put(Self.table, key, records[key]!)
        }
        try r.applyAll(try w.flushOK())
        let before = MetricsTests.metrics(w).saved_by_zero_columns
        // 500 rows change: the random bytes in all of them, the counter byte in every tenth.
        for key in stride(from: UInt64(0), to: 1000, by: 2) {
            var record = records[key]!
            if key % 20 == 0 { record[8] = 0x5A }
            record.replaceSubrange(16..<24, with: Self.record(key, tick: 0, &rng)[16..<24])
            w.put(Self.table, key, record)
        }
        try r.applyAll(try w.flushOK())
        #expect(r.dump() == w.dump())
        // 15 all-zero columns of 500 rows, and column 8: 500 bytes sent as a 63-byte bitmap and 50 bytes.
        #expect(MetricsTests.metrics(w).saved_by_zero_columns - before == 15 * 500 + (500 - 63 - 50))
    }

    // MARK: Hand-built COLUMNS frames

    static let columns = UInt8(PODSYNC_TRANSFORM_TRANSPOSE | PODSYNC_TRANSFORM_COLUMNS | PODSYNC_TRANSFORM_KEY_GAPS)
    /// Table 2 (16-byte records), keys 5 and 300: column 0 coded (0x11, 0x22), column 1 raw
    /// (0x33, 0x44, after the payload), columns 2-15 zero.
    static let goodMap: [UInt8] = [0xA4, 0xAA, 0xAA, 0xAA]
    static func section(puts: UInt64 = 2, map: [UInt8] = goodMap, keys: [UInt8] = [5, 0xA7, 0x02], coded: [UInt8] = [0x11, 0x22]) -> [UInt8] {
        CodecTests.packedSection(puts: puts, map: map, keys: keys, records: coded)
    }

    @Test func handBuiltColumnsFrameApplies() throws {
        let frame = try CodecTests.packedFrame(transforms: Self.columns, payload: Self.section(), tail: [0x33, 0x44])
        let r = try Store.replica(try standardSchema())
        expectStatus(r.apply(frame).status, PODSYNC_OK, "a hand-built COLUMNS frame")
        var five = [UInt8](repeating: 0, count: 16), three = five
        five[0] = 0x11; five[1] = 0x33
        three[0] = 0x22; three[1] = 0x44
        #expect(r.get(tableB, 5) == five && r.get(tableB, 300) == three && r.count(tableB) == 2)
    }

    @Test func handBuiltSparseColumnApplies() throws {
        // Column 0 sparse (row 1 only: bitmap 0b10, then 0x22), the rest zero.
        let payload = Self.section(map: [0xAB, 0xAA, 0xAA, 0xAA], coded: [0x02, 0x22])
        let r = try Store.replica(try standardSchema())
        expectStatus(r.apply(try CodecTests.packedFrame(transforms: Self.columns, payload: payload)).status, PODSYNC_OK, "sparse column")
        var three = [UInt8](repeating: 0, count: 16)
        three[0] = 0x22
        #expect(r.get(tableB, 5) == [UInt8](repeating: 0, count: 16) && r.get(tableB, 300) == three)
    }

    @Test func lyingColumnsFramesAreRejected() throws {
        let schema = try standardSchema()
        let cases: [(String, UInt8, [UInt8], [UInt8], Int32)] = [
            ("COLUMNS without TRANSPOSE", UInt8(PODSYNC_TRANSFORM_COLUMNS | PODSYNC_TRANSFORM_KEY_GAPS), Self.section(), [0x33, 0x44], PODSYNC_E_FRAME_MALFORMED),
            // Raw bytes the frame lacks read as zero padding when fewer than 8 are missing (the
            // frame is then simply another valid frame); 10 missing ones cannot be padding.
            ("10 raw column bytes missing", Self.columns, Self.section(puts: 10, keys: [UInt8](repeating: 1, count: 10), coded: [UInt8](repeating: 9, count: 10)),
             [], PODSYNC_E_FRAME_MALFORMED),
            ("8 bytes more than the raw columns", Self.columns, Self.section(), [0x33, 0x44] + [UInt8](repeating: 0, count: 8), PODSYNC_E_FRAME_MALFORMED),
            ("a nonzero byte after the raw columns", Self.columns, Self.section(), [0x33, 0x44, 0x01], PODSYNC_E_FRAME_MALFORMED),
            ("column map truncated", Self.columns, Array(Self.section()[0..<34]), [], PODSYNC_E_FRAME_MALFORMED),
            ("coded columns past the payload", Self.columns, Self.section(coded: [0x11]), [0x33, 0x44], PODSYNC_E_FRAME_MALFORMED),
            ("sparse bitmap bit past the last row", Self.columns, Self.section(map: [0xAB, 0xAA, 0xAA, 0xAA], coded: [0x06, 0x22, 0x33]), [], PODSYNC_E_FRAME_MALFORMED),
            ("sparse values missing", Self.columns, Self.section(map: [0xAB, 0xAA, 0xAA, 0xAA], coded: [0x03, 0x22]), [], PODSYNC_E_FRAME_MALFORMED),
            ("sparse bitmap missing", Self.columns, Self.section(map: [0xAB, 0xAA, 0xAA, 0xAA], coded: []), [], PODSYNC_E_FRAME_MALFORMED),
            ("every column zero, coded bytes left over", Self.columns, Self.section(map: [0xAA, 0xAA, 0xAA, 0xAA]), [], PODSYNC_E_FRAME_MALFORMED),
        ]
        for (name, transforms, payload, tail, want) in cases {
            let r = try Store.replica(schema)
            let before = Observed(r)
            let st = r.apply(try CodecTests.packedFrame(transforms: transforms, payload: payload, tail: tail)).status
            expectStatus(st, want, name)
            #expect(Observed(r) == before, "\(name): state unchanged")
        }
    }

    /// Random lies in every byte after the header of uncompressed COLUMNS frames (checksum
    /// recomputed, so the decoder itself must catch them): never a crash, and a rejected frame
    /// leaves the replica as it was.
    @Test func mutatedColumnsFramesNeverCrashAndChangeNothingWhenRejected() throws {
        // 20 keys; column 0 sparse, column 1 raw, column 2 coded, the rest zero.
        let map: [UInt8] = [0x03 | (0x1 << 2) | (0x0 << 4) | (0x2 << 6), 0xAA, 0xAA, 0xAA]
        let keys = [UInt8](repeating: 3, count: 20)
        let sparse: [UInt8] = [0x11, 0x00, 0x08, 7, 8, 9]          // rows 0, 4, 19
        let coded = (0..<20).map { UInt8($0 * 7) }
        let raw = (0..<20).map { UInt8(200 - $0) }
        let payload = CodecTests.packedSection(puts: 20, map: map, keys: keys, records: sparse + coded)
        let good = try CodecTests.packedFrame(transforms: Self.columns, payload: payload, tail: raw)
        let schema = try standardSchema()
        let check = try Store.replica(schema)
        expectStatus(check.apply(good).status, PODSYNC_OK, "the unmutated frame")
        #expect(check.get(tableB, 3)?.prefix(3) == [7, 200, 0] && check.get(tableB, 60)?.prefix(3) == [9, 181, 19 * 7])
        var rng = SplitMix64(seed: 2024)
        var rejected = 0
        for round in 0..<3000 {
            var bad = good
            for _ in 0..<(1 + round % 3) {
                let at = 88 + Int(rng.next() % UInt64(bad.count - 88))
                bad[at] = round % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : bad[at] ^ (1 << UInt8(rng.next() % 8))
            }
            recomputeChecksum(&bad)
            let r = try Store.replica(schema)
            let before = Observed(r)
            let st = r.apply(bad).status
            if st < 0 {
                rejected += 1
                #expect(Observed(r) == before, "round \(round): \(sname(st)) changed the state")
            }
        }
        #expect(rejected > 1000, "most lies are caught: \(rejected) of 3000")
    }

    /// The same for a writer's zstd frame with every column mode: lies inside the compressed
    /// stream (checksum recomputed) are caught by zstd or the packed-payload checks; lies in raw
    /// columns decode to other records, which the state digest catches.
    @Test func mutatedCompressedFramesNeverCrash() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        var rng = SplitMix64(seed: 5)
        for key: UInt64 in 0..<300 { w.put(Self.table, key, Self.record(key, tick: 0, &rng)) }
        let base = try w.flushOK()
        for key in stride(from: UInt64(0), to: 300, by: 2) {
            var record = Self.record(key, tick: key % 10 == 0 ? 1 : 0, &rng)
            w.put(Self.table, key, record)
        }
        let frame = try w.flushOne()
        try #require(try parseHeader(frame).codec == UInt8(PODSYNC_CODEC_ZSTD))
        var rejected = 0, caught = 0
        for round in 0..<2000 {
            var bad = frame
            let at = 88 + Int(rng.next() % UInt64(bad.count - 88))
            bad[at] = round % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : bad[at] ^ (1 << UInt8(rng.next() % 8))
            recomputeChecksum(&bad)
            let r = try Store.replica(schema)
            try r.applyAll(base)
            let before = Observed(r)
            let st = r.apply(bad).status
            switch st {
            case PODSYNC_OK:  // a lie that decodes to the same records (e.g. in unused zstd bits)
                #expect(r.digest() == w.digest(), "round \(round): accepted a frame that changed the records")
            case PODSYNC_E_DIGEST_MISMATCH:  // a lie in raw bytes: applied, then caught by the digest
                caught += 1
            default:
                #expect(st < 0, "round \(round): \(sname(st))")
                #expect(Observed(r) == before, "round \(round): \(sname(st)) changed the state")
                rejected += 1
            }
        }
        #expect(rejected + caught > 1900, "lies caught: \(rejected) rejected, \(caught) by the digest, of 2000")
    }

    /// Zero columns cost no bytes, so the decoded size is bounded by itself: many rows of zeros
    /// behind a few key bytes are refused by max_decoded_bytes before anything is allocated.
    @Test func zeroColumnsCannotHideADecompressionBomb() throws {
        let schema = try standardSchema()
        let small = try Store(schema, role: PODSYNC_ROLE_REPLICA, options: { var o = Options(); o.maxDecodedBytes = 64; return o }())
        // 5 keys (1, then gaps of 1) of all-zero records: 48 payload bytes decode to 5 x (8 + 16) = 120.
        let payload = Self.section(puts: 5, map: [0xAA, 0xAA, 0xAA, 0xAA], keys: [1, 1, 1, 1, 1], coded: [])
        let frame = try CodecTests.packedFrame(transforms: Self.columns, payload: payload)
        expectStatus(small.apply(frame).status, PODSYNC_E_FRAME_TOO_LARGE, "120 decoded bytes over a 64-byte limit")
        let roomy = try Store.replica(schema)
        expectStatus(roomy.apply(frame).status, PODSYNC_OK, "the same frame within the default limit")
        #expect(roomy.get(tableB, 3) == [UInt8](repeating: 0, count: 16))
    }

    /// The column map's bits past the last column must be 0 (checked without a schema, which
    /// allows a 13-byte record: 4 map bytes, the last using 2 of its 8 bits).
    @Test func unusedColumnMapBitsMustBeZero() throws {
        func frame(lastMapByte: UInt8) throws -> [UInt8] {
            let payload = CodecTests.packedSection(recordSize: 13, puts: 1, map: [0xAA, 0xAA, 0xAA, lastMapByte], keys: [5], records: [])
            return try CodecTests.packedFrame(transforms: Self.columns, payload: payload)
        }
        var info = podsync_frame_info()
        info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
        let good = try frame(lastMapByte: 0x02)
        expectStatus(withAligned(good) { podsync_frame_validate($0, $1, &info) }, PODSYNC_OK, "13 columns, all zero")
        #expect(info.transforms == UInt32(Self.columns))
        let bad = try frame(lastMapByte: 0x0A)
        expectStatus(withAligned(bad) { podsync_frame_validate($0, $1, &info) }, PODSYNC_E_FRAME_MALFORMED, "bits of a 14th column set")
    }

    /// No transform may cost bytes (ColumnsChoice): with COLUMNS allowed, a frame of up to 32 KiB
    /// is never larger than the same frame packed without it. 12-byte records of small integers
    /// that drift (their XOR columns are sparse or noisy), ticks of 10 to 1,500 changed records.
    @Test func aFrameWithColumnsIsNeverLargerThanWithout() throws {
        let schema = try makeSchema([TableDef(id: 3, size: 12, alignment: 2, fields: [])])
        let with = try Store.writer(schema) { $0.compressionLevel = 1 }
        let without = try Store.writer(schema) {
            $0.compressionLevel = 1
            $0.transforms = UInt32(PODSYNC_TRANSFORM_ALL & ~PODSYNC_TRANSFORM_COLUMNS)
        }
        var rng = SplitMix64(seed: 12)
        var values = [[UInt8]](repeating: [UInt8](repeating: 0, count: 12), count: 5000)
        for k in 0..<5000 {
            for b in 0..<12 { values[k][b] = UInt8(truncatingIfNeeded: rng.next() % 200) }
            with.put(3, UInt64(k), values[k])
            without.put(3, UInt64(k), values[k])
        }
        _ = try with.flushOK()
        _ = try without.flushOK()
        var smaller = 0
        for tick in 0..<60 {
            let changes = [10, 40, 200, 1000, 1500][tick % 5]
            for _ in 0..<changes {
                let k = Int(rng.next() % 5000)
                for b in [0, 2, 4] { values[k][b] &+= UInt8(truncatingIfNeeded: rng.next() % 3) }
                with.put(3, UInt64(k), values[k])
                without.put(3, UInt64(k), values[k])
            }
            let a = try with.flushOK(), b = try without.flushOK()
            try #require(a.count == 1 && b.count == 1)
            #expect(a[0].count <= b[0].count, "tick \(tick) (\(changes) changes): \(a[0].count) bytes with COLUMNS allowed, \(b[0].count) without")
            if a[0].count < b[0].count { smaller += 1 }
        }
        #expect(smaller > 0, "COLUMNS still wins where it pays")
    }
}
