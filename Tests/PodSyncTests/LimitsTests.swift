import CPodSync
import CZstd
import Testing

/// Issue 9: every frame a writer makes is readable, and no frame or call can cost a store more
/// than the limits its host set (records, tombstones, decoded bytes), whatever the frame claims.
@Suite struct LimitsTests {
    static let table8: UInt32 = 0
    static func schema8() throws -> Schema {
        try makeSchema([TableDef(id: table8, size: 8, alignment: 2, fields: [])])
    }

    static func bytes(_ x: UInt64) -> [UInt8] { withUnsafeBytes(of: x.littleEndian) { Array($0) } }

    /// The reported reproduction: with compression on and transforms 0, a frame whose packed
    /// payload zstd could not shrink was sent with the header of a plain frame.
    @Test func framesWhoseTransformsComeOutEmptyStayPlain() throws {
        let schema = try Self.schema8()
        for transforms: UInt32 in [0, 0x1, 0x8, 0x9] {
            let w = try Store.writer(schema) { $0.compressionLevel = 1; $0.transforms = transforms }
            let r = try Store.replica(schema)
            let first: UInt64 = 0xA9CD_8311_1802_6938, second: UInt64 = 0x0FAF_60B1_4709_5B9B
            w.put(Self.table8, first, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0xAA])
            w.put(Self.table8, second, [0x85, 0xBF, 0x40, 0x74, 0xD3, 0xA0, 0xD9, 0x44])
            for f in try w.flushOK() { expectStatus(validate(f).status, PODSYNC_OK, "first flush, transforms \(transforms)") }
            w.delete(Self.table8, first)
            w.put(Self.table8, second, [1, 2, 3, 4, 5, 6, 7, 8])
            let frames = try w.flushOK()
            for f in frames {
                expectStatus(validate(f).status, PODSYNC_OK, "second flush (\(f.count) bytes), transforms \(transforms)")
            }
            try r.applyAll(try w.snapshot().frames)
            #expect(r.dump() == w.dump() && r.digest() == w.digest())
        }
    }

    /// Random small frames under the masks whose used transforms can come out empty: every frame
    /// of every producer validates and applies.
    @Test func everyFrameOfEveryProducerValidates() throws {
        let schema = try standardSchema()
        var rng = SplitMix64(seed: 9)
        for transforms: UInt32 in [0, 0x1, 0x8, 0x9, 0x2, 0xF] {
            for level: Int32 in [1, -1, 3, 19] {
                let w = try Store.writer(schema) { $0.compressionLevel = level; $0.transforms = transforms }
                let r = try Store.replica(schema)
                for round in 0..<12 {
                    for _ in 0..<(1 + Int(rng.next() % 3)) {
                        let key = rng.next() % 8
                        if rng.next() % 3 == 0 { w.delete(tableA, key) } else { w.put(tableA, key, salt: UInt32(truncatingIfNeeded: rng.next())) }
                        if rng.next() % 2 == 0 { w.put(tableB, rng.next(), [UInt8](repeating: 0, count: 16)) }
                    }
                    for f in try w.flushOK() {
                        expectStatus(validate(f).status, PODSYNC_OK, "flush, mask \(transforms) level \(level) round \(round)")
                        expectStatus(r.apply(f).status, PODSYNC_OK, "apply, mask \(transforms) level \(level)")
                    }
                    let d = w.deltaSince(w.version > 2 ? w.version - 2 : 0)
                    for f in d.frames { expectStatus(validate(f).status, PODSYNC_OK, "delta_since, mask \(transforms) level \(level)") }
                    for f in w.snapshot().frames { expectStatus(validate(f).status, PODSYNC_OK, "snapshot, mask \(transforms) level \(level)") }
                }
                #expect(r.dump() == w.dump() && r.digest() == w.digest(), "mask \(transforms) level \(level)")
            }
        }
    }

    // MARK: max_records

    @Test func maxRecordsBoundsWritesAndFrames() throws {
        let schema = try standardSchema()
        let w = try Store.writer(schema) { $0.maxRecords = 3 }
        expectStatus(w.put(tableA, 1), PODSYNC_OK, "record 1 of 3")
        expectStatus(w.putMany(tableB, [10, 11], [UInt8](repeating: 7, count: 32)), PODSYNC_OK, "records 2 and 3 of 3")
        expectStatus(w.put(tableA, 2), PODSYNC_E_LIMIT, "a 4th record")
        #expect(w.errmsg.contains("max_records"))
        expectStatus(w.putMany(tableB, [11, 12], [UInt8](repeating: 8, count: 32)), PODSYNC_E_LIMIT, "one new key of two")
        #expect(w.get(tableB, 11) == [UInt8](repeating: 7, count: 16), "a refused put_many changed nothing")
        expectStatus(w.put(tableA, 1, salt: 5), PODSYNC_OK, "replacing a record adds none")
        expectStatus(w.putMany(tableB, [10, 11], [UInt8](repeating: 9, count: 32)), PODSYNC_OK, "replacing two")
        let full = try w.flushOK()

        // A replica limited to 2 records refuses the frame and keeps its state.
        let small = try Store(schema, role: PODSYNC_ROLE_REPLICA, options: { var o = Options(); o.maxRecords = 2; return o }())
        let before = small.dump()
        expectStatus(small.apply(full[0]).status, PODSYNC_E_LIMIT, "3 records into a replica of at most 2")
        #expect(small.dump() == before && small.version == 0)
        let snapshot = try w.snapshotOne()
        expectStatus(small.apply(snapshot).status, PODSYNC_E_LIMIT, "a snapshot of 3 records")
        #expect(small.dump() == before)
        // Deletes count before puts: a delta that deletes one and adds one fits a full store.
        let exact = try Store(schema, role: PODSYNC_ROLE_REPLICA, options: { var o = Options(); o.maxRecords = 3; return o }())
        try exact.applyAll([snapshot])
        w.delete(tableB, 10)
        w.put(tableB, 12, [UInt8](repeating: 1, count: 16))
        try exact.applyAll(try w.flushOK())
        #expect(exact.dump() == w.dump())
    }

    /// A compressed frame that claims more records than max_records is refused from its section
    /// headers, before its records are decoded (20 M keys of 8-byte zero records behind a few
    /// hundred bytes).
    @Test func aFrameOfMoreRecordsThanTheLimitIsRefusedBeforeDecoding() throws {
        let schema = try Self.schema8()
        let n = 20_000_000
        let frame = try Self.compressedFrame(schema: schema, table: Self.table8, recordSize: 8, puts: n, deletes: 0,
                                             map: [0xAA, 0xAA], base: 0, version: 1)
        #expect(frame.count < 4096, "the frame is \(frame.count) bytes")
        let r = try Store(schema, role: PODSYNC_ROLE_REPLICA, options: { var o = Options(); o.maxRecords = 1_000_000; return o }())
        expectStatus(r.apply(frame).status, PODSYNC_E_LIMIT, "20 M records into a replica of at most 1 M")
        #expect(r.version == 0 && r.count(Self.table8) == 0)
        expectStatus(validate(frame).status, PODSYNC_OK, "the frame itself is well formed")
    }

    /// The record limit is part of validation for plain and encoded frames alike, so a frame
    /// of too many records is refused the same way whether or not it is a duplicate.
    @Test func theRecordLimitIsCheckedBeforeTheVersionRules() throws {
        let schema = try standardSchema()
        for level: Int32 in [0, 1] {
            let w = try Store.writer(schema) { $0.compressionLevel = level }
            for k in UInt64(0)..<50 { w.put(tableB, k, [UInt8](repeating: 0, count: 16)) }
            let frame = try w.flushOne()
            let r = try Store(schema, role: PODSYNC_ROLE_REPLICA, options: { var o = Options(); o.maxRecords = 10; return o }())
            expectStatus(r.apply(frame).status, PODSYNC_E_LIMIT, "level \(level): 50 records, limit 10")
            let roomy = try Store.replica(schema)
            try roomy.applyAll([frame])
            expectStatus(roomy.apply(frame).status, PODSYNC_DUPLICATE, "level \(level): the same frame again")
        }
    }

    /// zstd is fed block by block: corruption in a late block is reported only when a check
    /// needs its bytes, so an earlier failing check decides the status.
    @Test func zstdCorruptionIsReportedWhenItsBytesAreNeeded() throws {
        let schema = try standardSchema()
        var rng = SplitMix64(seed: 12)
        var noise = [UInt8](repeating: 0, count: 600_000)
        // Noise (raw blocks), then a repeating pattern at the end (compressed blocks).
        for i in 0..<400_000 { noise[i] = UInt8(truncatingIfNeeded: rng.next()) }
        for i in 400_000..<noise.count { noise[i] = UInt8(truncatingIfNeeded: (i % 7) * 37 + i / 4096) }
        func frame(table: UInt32, corruptLastBlock: Bool) throws -> [UInt8] {
            // One section of table `table` (16-byte records) holding 37,500 puts of noise.
            var packed: [UInt8] = []
            let puts = noise.count / 16
            packed.appendLE(table); packed.appendLE(UInt32(16)); packed.appendLE(UInt64(puts)); packed.appendLE(UInt64(0))
            packed.appendLE(UInt64(puts))
            packed += [UInt8](repeating: 1, count: puts)
            packed += noise
            var z = try Self.zstd(packed)
            if corruptLastBlock {
                // Walk the blocks (RFC 8878) and garble the content of the last compressed one:
                // its framing stays valid, only decoding it fails.
                var at = LimitsTests.zstdHeaderSize(z)
                var blocks = 0, lastCompressed = -1, lastSize = 0
                while true {
                    let h = Int(z[at]) | Int(z[at + 1]) << 8 | Int(z[at + 2]) << 16
                    blocks += 1
                    if (h >> 1) & 3 == 2 { lastCompressed = at + 3; lastSize = h >> 3 }
                    if h & 1 != 0 { break }
                    at += 3 + ((h >> 1) & 3 == 1 ? 1 : h >> 3)
                }
                try #require(blocks > 2 && lastCompressed > LimitsTests.zstdHeaderSize(z) + 3, "\(blocks) blocks")
                for i in 0..<lastSize { z[lastCompressed + i] = 0xFF }
            }
            return Self.frame(schema: schema, codec: 1, transforms: 0x4, payload: z, payloadLength: packed.count, base: 0, version: 1)
        }
        let r = try Store.replica(schema)
        expectStatus(r.apply(try frame(table: 99, corruptLastBlock: true)).status, PODSYNC_E_UNKNOWN_TABLE,
                     "an unknown table in the first block decides, not the corrupt last block")
        expectStatus(r.apply(try frame(table: tableB, corruptLastBlock: true)).status, PODSYNC_E_FRAME_MALFORMED,
                     "a good first section: the corrupt block is reported")
        expectStatus(r.apply(try frame(table: tableB, corruptLastBlock: false)).status, PODSYNC_OK, "the intact frame applies")
        #expect(r.count(tableB) == noise.count / 16)
    }

    static func zstdHeaderSize(_ z: [UInt8]) -> Int {
        let d = z[4]
        let single = d & 0x20 != 0
        return 5 + (single ? 0 : 1) + [0, 1, 2, 4][Int(d & 3)] + [single ? 1 : 0, 2, 4, 8][Int(d >> 6)]
    }

    // MARK: Tombstones

    /// A v -> v+1 delta deleting keys the replica does not have makes no tombstone; more deletions
    /// than max_tombstones at once make none either and raise the catch-up floor instead.
    @Test func tombstonesAreBounded() throws {
        let schema = try Self.schema8()
        let w = try Store.writer(schema) { $0.maxTombstones = 100 }
        for k in UInt64(0)..<300 { w.put(Self.table8, k, Self.bytes(k)) }
        _ = try w.flushOK()
        for k in UInt64(0)..<50 { w.delete(Self.table8, k) }
        _ = try w.flushOK()  // version 2: 50 tombstones, within the limit
        #expect(w.info().catchup_floor == 0)
        for k in UInt64(50)..<120 { w.delete(Self.table8, k) }
        _ = try w.flushOK()  // version 3: 120 tombstones: the oldest version's are forgotten
        #expect(w.info().catchup_floor == 2)
        expectStatus(w.deltaSince(1).status, PODSYNC_SNAPSHOT_REQUIRED, "deletions of version 2 are forgotten")
        let behind = try Store.replica(schema)
        try behind.applyAll([try w.snapshotOne()])
        for k in UInt64(120)..<250 { w.delete(Self.table8, k) }
        _ = try w.flushOK()  // version 4: 130 deletions at once, more than 100: none kept
        #expect(w.info().catchup_floor == 4)
        expectStatus(w.deltaSince(3).status, PODSYNC_SNAPSHOT_REQUIRED, "no tombstones of version 4")
        w.put(Self.table8, 1000, Self.bytes(1))
        _ = try w.flushOK()
        let d = w.deltaSince(4)
        expectStatus(d.status, PODSYNC_OK, "deltas after the floor still work")
        // A replica at version 4 (by snapshot) follows the delta.
        let r = try Store.replica(schema)
        w.put(Self.table8, 1001, Self.bytes(2))
        _ = try w.flushOK()
        try r.applyAll([try w.snapshotOne()])
        #expect(r.dump() == w.dump())
    }

    /// A catch-up delta of 2 M deletions of absent keys on a replica that keeps at most 1,000
    /// tombstones: applied, no tombstone kept, the floor at the frame's version.
    @Test func aFloodOfDeletionsOfAbsentKeysKeepsNoTombstones() throws {
        let schema = try Self.schema8()
        let frame = try Self.compressedFrame(schema: schema, table: Self.table8, recordSize: 8, puts: 0, deletes: 2_000_000,
                                             map: [0xAA, 0xAA], base: 0, version: 2)
        let r = try Store(schema, role: PODSYNC_ROLE_REPLICA, options: { var o = Options(); o.maxTombstones = 1000; return o }())
        expectStatus(r.apply(frame).status, PODSYNC_OK, "2 M deletions of absent keys")
        #expect(r.version == 2 && r.info().catchup_floor == 2)
        // A v -> v+1 delta of absent keys needs no tombstone at all: the floor stays.
        let next = try Self.compressedFrame(schema: schema, table: Self.table8, recordSize: 8, puts: 0, deletes: 500,
                                            map: [0xAA, 0xAA], base: 2, version: 3)
        expectStatus(r.apply(next).status, PODSYNC_OK, "500 deletions of absent keys, 2 -> 3")
        #expect(r.version == 3 && r.info().catchup_floor == 2)
        expectStatus(r.deltaSince(2).status, PODSYNC_OK, "the replica still serves deltas since 2")
    }

    // MARK: Decoded bytes

    /// A zstd payload that declares 256 MiB but whose first section header is a lie is rejected
    /// after the first piece is decompressed; a limit below its declared size rejects it unread.
    @Test func aDecompressionBombIsRejectedFromItsFirstBytes() throws {
        let declared = 256 << 20
        let payload = try Self.zstdOfZeros(count: declared)
        #expect(payload.count < 64 << 10, "\(payload.count) compressed bytes")
        let schema = try standardSchema()
        let frame = Self.frame(schema: schema, codec: 1, transforms: 0x4, payload: payload, payloadLength: declared,
                               base: 0, version: 1)
        let r = try Store.replica(schema)
        expectStatus(r.apply(frame).status, PODSYNC_E_UNKNOWN_TABLE, "a zero section header names table 0")
        #expect(r.version == 0 && r.count(tableA) == 0)
        expectStatus(validate(frame).status, PODSYNC_E_FRAME_MALFORMED, "validate: record size 0")
        var info = podsync_frame_info()
        info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
        let limited = frame.withUnsafeBytes { podsync_frame_validate_limited($0.baseAddress, $0.count, 1 << 20, &info) }
        expectStatus(limited, PODSYNC_E_FRAME_TOO_LARGE, "validate_limited(1 MiB)")
        #expect(info.payload_length == UInt64(declared) && info.codec == 1, "the header's fields are reported")
    }

    /// Zero columns of 1 MiB records: validation checks them without decoding (no 1 GiB), and a
    /// caller's limit refuses the decoded size before anything is allocated.
    @Test func validationChecksRecordsWithoutDecodingThem() throws {
        let schema = try makeSchema([TableDef(id: 7, size: 1 << 20, alignment: 8, fields: [])])
        let map = [UInt8](repeating: 0xAA, count: (1 << 20) / 4)
        let frame = try Self.compressedFrame(schema: schema, table: 7, recordSize: 1 << 20, puts: 1000, deletes: 0,
                                             map: map, base: 0, version: 1)
        #expect(frame.count < 8192, "the frame is \(frame.count) bytes")
        expectStatus(validate(frame).status, PODSYNC_OK, "1000 zero records of 1 MiB are valid")
        let limited = frame.withUnsafeBytes { podsync_frame_validate_limited($0.baseAddress, $0.count, 64 << 20, nil) }
        expectStatus(limited, PODSYNC_E_FRAME_TOO_LARGE, "over a 64 MiB limit")
        let r = try Store(schema, role: PODSYNC_ROLE_REPLICA, options: { var o = Options(); o.maxDecodedBytes = 64 << 20; return o }())
        expectStatus(r.apply(frame).status, PODSYNC_E_FRAME_TOO_LARGE, "a replica limited to 64 MiB")
    }

    /// A frame compressed with a dictionary the caller has not loaded: validate says so and still
    /// reports the header it read.
    @Test func validateReportsTheHeaderOfADictionaryFrame() throws {
        let schema = try standardSchema()
        let w = try Store.writer(schema) { $0.compressionLevel = 3 }
        expectStatus(podsync_store_collect_samples(w.handle, 1 << 20), PODSYNC_OK, "collect")
        var rng = SplitMix64(seed: 3)
        for round in 0..<40 {
            for k in 0..<40 { w.put(tableA, UInt64(k), salt: UInt32(truncatingIfNeeded: rng.next() % 4 + UInt64(round))) }
            _ = try w.flushOK()
        }
        var id: UInt32 = 0
        expectStatus(podsync_store_train_dictionary(w.handle, 4096, &id), PODSYNC_OK, "train")
        for k in 0..<40 { w.put(tableA, UInt64(k), salt: 999) }
        let frames = try w.flushOK()
        let v = validate(frames[0])
        expectStatus(v.status, PODSYNC_E_DICTIONARY_MISSING, "no dictionary without a store")
        #expect(v.info.dictionary_id == id && v.info.frame_length == UInt64(frames[0].count) && v.info.state_version == w.version)
    }

    /// Samples are kept whole while they fit the budget; the training error says what happened.
    @Test func sampleCollectionSaysWhatItSkipped() throws {
        let schema = try standardSchema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        expectStatus(podsync_store_collect_samples(w.handle, 900), PODSYNC_OK, "collect 900 bytes")
        for round in 0..<14 {
            for k in 0..<10 { w.put(tableA, UInt64(k), salt: UInt32(round)) }
            _ = try w.flushOK()
        }
        expectError(podsync_store_train_dictionary(w.handle, 1024, nil), "too few samples kept")
        #expect(w.errmsg.contains("did not fit max_bytes 900"), "\(w.errmsg)")
    }

    // MARK: Building hostile frames

    static func frame(schema: Schema, codec: UInt8, transforms: UInt8, payload: [UInt8], payloadLength: Int,
                      base: UInt64, version: UInt64, sections: UInt16 = 1) -> [UInt8] {
        var f: [UInt8] = []
        f.appendLE(UInt32(0x4E59_5350)); f.appendLE(UInt16(1)); f.appendLE(UInt16(88))
        f.appendLE(UInt64(0))
        let length = (88 + payload.count + 7) & ~7
        f.appendLE(UInt64(length)); f.appendLE(UInt32(0)); f.appendLE(sections)
        f.append(codec); f.append(transforms)
        f.appendLE(schema.hash()); f.appendLE(UInt64(77)); f.appendLE(UInt64(1))
        f.appendLE(base); f.appendLE(version); f.appendLE(UInt64(0)); f.appendLE(UInt64(payloadLength))
        f.append(contentsOf: payload)
        f.append(contentsOf: [UInt8](repeating: 0, count: length - f.count))
        recomputeChecksum(&f)
        return f
    }

    /// One zstd-compressed packed section (TRANSPOSE | COLUMNS | KEY_GAPS) of `puts` then
    /// `deletes` consecutive keys (gaps of 1) whose records are all zero columns.
    static func compressedFrame(schema: Schema, table: UInt32, recordSize: UInt32, puts: Int, deletes: Int, map: [UInt8],
                                base: UInt64, version: UInt64) throws -> [UInt8] {
        var packed: [UInt8] = []
        packed.appendLE(table); packed.appendLE(recordSize); packed.appendLE(UInt64(puts)); packed.appendLE(UInt64(deletes))
        packed.appendLE(UInt64(puts + deletes))
        packed += map
        packed += [UInt8](repeating: 1, count: puts + deletes)
        let compressed = try zstd(packed)
        return frame(schema: schema, codec: 1, transforms: 0xE, payload: compressed, payloadLength: packed.count,
                     base: base, version: version)
    }

    static func zstd(_ bytes: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let n = out.withUnsafeMutableBytes { o in bytes.withUnsafeBytes { ZSTD_compress(o.baseAddress, o.count, $0.baseAddress, $0.count, 19) } }
        try #require(ZSTD_isError(n) == 0)
        return Array(out[0..<n])
    }

    /// A zstd frame of `count` zero bytes with its content size declared, compressed in pieces.
    static func zstdOfZeros(count: Int) throws -> [UInt8] {
        let context = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setPledgedSrcSize(context, UInt64(count))
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var out = [UInt8](repeating: 0, count: 1 << 20)
        var result: [UInt8] = []
        var left = count
        while true {
            let last = left <= zeros.count
            let piece = min(left, zeros.count)
            var done = false
            try zeros.withUnsafeBytes { z in
                var input = ZSTD_inBuffer(src: z.baseAddress, size: piece, pos: 0)
                repeat {
                    try out.withUnsafeMutableBytes { o in
                        var output = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
                        let r = ZSTD_compressStream2(context, &output, &input, last ? ZSTD_e_end : ZSTD_e_continue)
                        try #require(ZSTD_isError(r) == 0)
                        result += o[0..<output.pos]
                        done = last && r == 0
                    }
                } while input.pos < input.size || (last && !done)
            }
            left -= piece
            if last { break }
        }
        return result
    }
}
