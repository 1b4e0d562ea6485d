import CPodSync
import Testing

/// Compression and transforms (docs/FORMAT.md, "Codecs and transforms"): every combination round
/// trips, the encoder falls back to plain frames where compression does not pay, and every new
/// header field and packed-payload field is validated.
@Suite struct CodecTests {
    static let transformSets: [UInt32] = Array(0...15)
    static let levels: [Int32] = [1, 3, -5]

    /// A writer with compression and the given transforms, a replica, and a history of batches
    /// exercising drifting values, unchanged values, all-zero records, new keys, deletes and
    /// re-creations. Returns the frames seen and whether any was compressed.
    static func roundTrip(transforms: UInt32, level: Int32) throws -> (compressed: Int, plain: Int) {
        let schema = try standardSchema()
        let w = try Store.writer(schema) { $0.compressionLevel = level; $0.transforms = transforms }
        let r = try Store.replica(schema)
        var compressed = 0
        var plain = 0
        func deliver(_ frames: [[UInt8]]) throws {
            for f in frames {
                let p = try parseHeader(f)
                if p.codec == 1 { compressed += 1 } else { plain += 1 }
                let (st, _) = r.apply(f)
                try #require(st == PODSYNC_OK, "apply: \(sname(st)) \(r.errmsg)")
            }
        }
        var rng = SplitMix64(seed: UInt64(transforms) &* 31 &+ UInt64(bitPattern: Int64(level)))
        for key: UInt64 in 0..<400 { w.put(tableA, key, salt: 7) }           // drifting values later
        for key: UInt64 in 0..<50 { w.put(tableB, key, [UInt8](repeating: 0, count: 16)) }  // all zero
        try deliver(try w.flushOK())
        for round: UInt32 in 1...12 {
            for _ in 0..<40 { w.put(tableA, rng.next() % 400, salt: 7 &+ round) }
            for _ in 0..<5 { w.put(tableA, rng.next() % 400, salt: 7) }                 // maybe unchanged
            w.put(tableA, 1000 + UInt64(round), salt: round)                            // new key
            if round % 3 == 0 { _ = w.delete(tableA, rng.next() % 400) }
            if round % 4 == 0 { _ = w.delete(tableB, UInt64(round)); w.put(tableB, UInt64(round), [UInt8](repeating: 0, count: 16)) }
            try deliver(try w.flushOK())
            #expect(r.digest() == w.digest(), "round \(round)")
        }
        w.put(tableA, 5, salt: 99)                                                        // a one-record frame
        try deliver(try w.flushOK())
        #expect(r.dump() == w.dump())
        // Snapshots and catch-up deltas (no XOR: their receivers hold other versions) round trip too.
        let fromSnapshot = try Store.replica(schema)
        try fromSnapshot.applyAll([try w.snapshotOne()])
        #expect(fromSnapshot.dump() == w.dump())
        let behind = try Store.replica(schema)
        try behind.applyAll(try w.deltaSince(0).frames)
        #expect(behind.digest() == w.digest())
        return (compressed, plain)
    }

    @Test(arguments: transformSets, levels)
    func everyCombinationRoundTrips(transforms: UInt32, level: Int32) throws {
        let (compressed, _) = try Self.roundTrip(transforms: transforms, level: level)
        #expect(compressed > 0, "some frames of this history compress")
    }

    @Test func maximumSizeRecordsRoundTrip() throws {
        let size = Int(PODSYNC_MAX_RECORD_SIZE)
        let schema = try makeSchema([TableDef(id: 9, size: UInt32(size), alignment: 64, fields: [])])
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        let r = try Store.replica(schema)
        var record = [UInt8](repeating: 0, count: size)
        for i in stride(from: 0, to: size, by: 4096) { record[i] = UInt8(truncatingIfNeeded: i >> 12) }
        w.put(9, 1, record)
        w.put(9, 2, [UInt8](repeating: 0, count: size))
        let first = try w.flushOK()
        #expect(try parseHeader(first[0]).codec == 1, "2 MiB of mostly zeros compresses")
        try r.applyAll(first)
        record[77] = 1
        w.put(9, 1, record)
        let second = try w.flushOK()
        try r.applyAll(second)
        #expect(second[0].count < 4096, "an XOR-ed 1 MiB record with one changed byte is tiny: \(second[0].count)")
        #expect(r.get(9, 1) == record)
        #expect(r.digest() == w.digest())
    }

    @Test func incompressibleFramesStayPlain() throws {
        let schema = try standardSchema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        // Random keys (their gaps need 9-10 LEB128 bytes) and random records: nothing to gain.
        var rng = SplitMix64(seed: 5)
        for _ in 0..<3 {
            var record: [UInt8] = []
            for _ in 0..<5 { record.appendLE(rng.next()) }
            w.put(tableA, rng.next(), record)
        }
        let frames = try w.flushOK()
        #expect(try parseHeader(frames[0]).codec == 0, "a small random frame is sent plain")
        let r = try Store.replica(schema)
        try r.applyAll(frames)
        #expect(r.dump() == w.dump())
    }

    @Test func compressedFramesAreValidatedButNotReadInPlace() throws {
        let (w, frame) = try Self.compressedFrame()
        var info = podsync_frame_info()
        info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
        let st = withAligned(frame) { podsync_frame_validate($0, $1, &info) }
        expectStatus(st, PODSYNC_OK, "validate a compressed frame")
        #expect(info.codec == UInt32(PODSYNC_CODEC_ZSTD))
        // Every transform, COLUMNS where it saves bytes (a small frame is packed both ways); format
        // 1 (these tests write it) has no FIELDS nor KEY_RANKS.
        #expect(info.transforms | PODSYNC_TRANSFORM_COLUMNS == PODSYNC_TRANSFORM_ALL & ~(PODSYNC_TRANSFORM_FIELDS | PODSYNC_TRANSFORM_KEY_RANKS))
        // payload_length counts the packed stream zstd compressed (raw columns travel after it).
        #expect(info.payload_length > 0 && info.payload_length < 100 * 48)
        var section = podsync_frame_section()
        section.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
        let sst = withAligned(frame) { podsync_frame_section_get($0, $1, 0, &section) }
        expectStatus(sst, PODSYNC_E_UNSUPPORTED_CODEC, "section_get on a compressed frame")
        _ = w
    }

    /// A writer at version 2 whose second frame (a batch with all transforms) is compressed.
    static func compressedFrame() throws -> (Store, [UInt8]) {
        let schema = try standardSchema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        for key: UInt64 in 0..<200 { w.put(tableA, key, salt: 1) }
        _ = try w.flushOK()
        for key: UInt64 in 0..<100 { w.put(tableA, key * 2, salt: 2) }
        let frame = try w.flushOne()
        try #require(try parseHeader(frame).codec == 1)
        return (w, frame)
    }

    /// A replica holding the state a compressedFrame() applies to.
    static func replicaAtBase() throws -> Store {
        let schema = try standardSchema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        for key: UInt64 in 0..<200 { w.put(tableA, key, salt: 1) }
        let r = try Store.replica(schema)
        try r.applyAll(try w.flushOK())
        return r
    }

    @Test func everyTruncationAndBitFlipOfACompressedFrameIsRejected() throws {
        let (_, frame) = try Self.compressedFrame()
        let r = try Self.replicaAtBase()
        let before = Observed(r)
        for size in 0..<frame.count {
            let st = r.apply(frame, size: size).status
            #expect(st < 0, "truncated to \(size): \(sname(st))")
        }
        for bit in 0..<(frame.count * 8) {
            var bad = frame
            bad[bit / 8] ^= UInt8(1 << (bit % 8))
            let st = r.apply(bad).status
            #expect(st < 0, "bit \(bit) flipped: \(sname(st))")
        }
        #expect(Observed(r) == before)
        expectStatus(r.apply(frame).status, PODSYNC_OK, "the intact frame still applies")
    }

    /// Lies in the header's codec fields, with a recomputed checksum, against a compressed frame.
    @Test func lyingCodecFieldsAreRejected() throws {
        let (_, frame) = try Self.compressedFrame()
        let cases: [(String, Int32, (inout [UInt8]) -> Void)] = [
            ("payload_length + 1", PODSYNC_E_FRAME_MALFORMED, { $0.setU64(H.payloadLength, $0.u64(H.payloadLength) + 1) }),
            ("payload_length - 1", PODSYNC_E_FRAME_MALFORMED, { $0.setU64(H.payloadLength, $0.u64(H.payloadLength) - 1) }),
            ("payload_length 2^40 (a bomb)", PODSYNC_E_FRAME_TOO_LARGE, { $0.setU64(H.payloadLength, 1 << 40) }),
            ("payload_length UInt64.max", PODSYNC_E_FRAME_TOO_LARGE, { $0.setU64(H.payloadLength, .max) }),
            ("unknown transform bit", PODSYNC_E_FRAME_MALFORMED, { $0[H.reserved] |= 0x40 }),
            ("XOR on a RESET frame", PODSYNC_E_FRAME_MALFORMED, { f in
                f.setU32(H.flags, f.u32(H.flags) | PODSYNC_FRAME_RESET); f.setU64(H.baseVersion, 0) }),
            ("XOR on a catch-up delta (base v-2)", PODSYNC_E_FRAME_MALFORMED, { $0.setU64(H.baseVersion, 0) }),
            ("transforms dropped (packed read as KEY_GAPS-less)", PODSYNC_E_FRAME_MALFORMED, { $0[H.reserved] = 0x1 }),
            ("nonzero byte in the zstd padding or payload end", PODSYNC_E_FRAME_MALFORMED, { $0[$0.count - 1] ^= 0xFF }),
            ("codec 2", PODSYNC_E_UNSUPPORTED_CODEC, { $0[H.codec] = 2 }),
        ]
        for (name, want, lie) in cases {
            let r = try Self.replicaAtBase()
            let before = Observed(r)
            var bad = frame
            lie(&bad)
            recomputeChecksum(&bad)
            let st = r.apply(bad).status
            if name.hasPrefix("nonzero byte") {
                #expect(st < 0, "\(name): \(sname(st))")  // zstd may notice first, or the padding check
            } else {
                expectStatus(st, want, name)
            }
            if st != PODSYNC_E_DIGEST_MISMATCH { #expect(Observed(r) == before, "\(name): state unchanged") }
        }
    }

    @Test func maxDecodedBytesBoundsWhatAReplicaAccepts() throws {
        let (_, frame) = try Self.compressedFrame()
        let schema = try standardSchema()
        let small = try Store(schema, role: PODSYNC_ROLE_REPLICA, options: { var o = Options(); o.maxDecodedBytes = 64; return o }())
        let st = small.apply(frame).status
        expectStatus(st, PODSYNC_E_FRAME_TOO_LARGE, "a 64-byte limit")
        #expect(small.errmsg.contains("64"))
    }

    // MARK: Hand-built packed payloads (codec 0 with transforms), to reach every packed field.

    /// A delta frame 0 -> 1 for table 2 (16-byte records) whose payload is packed by hand.
    /// `tail`: bytes after the packed payload (the raw columns of the COLUMNS transform).
    static func packedFrame(transforms: UInt8, payload: [UInt8], tail: [UInt8] = [], sections: UInt16 = 1) throws -> [UInt8] {
        let schema = try standardSchema()
        var f: [UInt8] = []
        f.appendLE(UInt32(0x4E59_5350)); f.appendLE(UInt16(1)); f.appendLE(UInt16(88))
        f.appendLE(UInt64(0))                                    // checksum, set below
        let length = (88 + payload.count + tail.count + 7) & ~7
        f.appendLE(UInt64(length)); f.appendLE(UInt32(0)); f.appendLE(sections)
        f.append(0); f.append(transforms)
        f.appendLE(schema.hash()); f.appendLE(UInt64(77)); f.appendLE(UInt64(1))
        f.appendLE(UInt64(0)); f.appendLE(UInt64(1)); f.appendLE(UInt64(0)); f.appendLE(UInt64(payload.count))
        f.append(contentsOf: payload)
        f.append(contentsOf: tail)
        f.append(contentsOf: [UInt8](repeating: 0, count: length - f.count))
        recomputeChecksum(&f)
        return f
    }

    /// `map`: the column map of the COLUMNS transform, between the header and the keys.
    static func packedSection(table: UInt32 = tableB, recordSize: UInt32 = 16, puts: UInt64, deletes: UInt64 = 0,
                              map: [UInt8] = [], keys: [UInt8], records: [UInt8]) -> [UInt8] {
        var s: [UInt8] = []
        s.appendLE(table); s.appendLE(recordSize); s.appendLE(puts); s.appendLE(deletes); s.appendLE(UInt64(keys.count))
        return s + map + keys + records
    }

    @Test func handPackedPayloadsApplyAndLiesAreRejected() throws {
        let gaps = UInt8(PODSYNC_TRANSFORM_KEY_GAPS)
        let record = [UInt8](repeating: 0xAB, count: 16)
        // Keys 5 and 300 as LEB128 gaps: 5, then 295 = 0xA7 0x02.
        let good = try Self.packedFrame(transforms: gaps, payload: Self.packedSection(puts: 2, keys: [5, 0xA7, 0x02], records: record + record))
        let schema = try standardSchema()
        let r = try Store.replica(schema)
        expectStatus(r.apply(good).status, PODSYNC_OK, "a hand-packed payload (codec 0, key gaps)")
        #expect(r.get(tableB, 5) == record && r.get(tableB, 300) == record && r.count(tableB) == 2)

        let cases: [(String, [UInt8], UInt8, UInt16)] = [
            ("gap 0 (keys not ascending)", Self.packedSection(puts: 2, keys: [5, 0], records: record + record), gaps, 1),
            ("LEB128 running past 64 bits", Self.packedSection(puts: 1, keys: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], records: record), gaps, 1),
            ("gaps overflowing 2^64", Self.packedSection(puts: 2, keys: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02], records: record + record), gaps, 1),
            ("LEB128 truncated", Self.packedSection(puts: 1, keys: [0x80], records: record), gaps, 1),
            ("key bytes left over", Self.packedSection(puts: 1, keys: [5, 6], records: record), gaps, 1),
            ("put_count 2^40", Self.packedSection(puts: 1 << 40, keys: [5], records: record), gaps, 1),
            ("keys_length past the payload", { var s = Self.packedSection(puts: 1, keys: [5], records: record); s.setU64(24, 1 << 50); return s }(), gaps, 1),
            ("records past the payload", Self.packedSection(puts: 2, keys: [5, 1], records: record), gaps, 1),
            ("raw keys of the wrong length", Self.packedSection(puts: 1, keys: [5, 0, 0, 0], records: record), 0x2, 1),
            ("record size differs from the schema", Self.packedSection(recordSize: 8, puts: 1, keys: [5], records: [UInt8](repeating: 1, count: 8)), gaps, 1),
            ("unknown table", Self.packedSection(table: 99, puts: 1, keys: [5], records: record), gaps, 1),
            ("section count 2, one section", Self.packedSection(puts: 1, keys: [5], records: record), gaps, 2),
            ("section count 0, one section", Self.packedSection(puts: 1, keys: [5], records: record), gaps, 0),
        ]
        for (name, payload, transforms, count) in cases {
            let fresh = try Store.replica(schema)
            let before = Observed(fresh)
            let st = fresh.apply(try Self.packedFrame(transforms: transforms, payload: payload, sections: count)).status
            #expect(st < 0, "\(name): \(sname(st))")
            #expect(Observed(fresh) == before, "\(name): state unchanged")
        }
    }

    @Test func compressionOptionsAreValidated() throws {
        let schema = try standardSchema()
        for (name, configure) in [("level 1000", { (o: inout Options) in o.compressionLevel = 1000 }),
                                  ("transform bit 0x40", { (o: inout Options) in o.transforms = 0x40 })] {
            var o = Options()
            configure(&o)
            var c = o.c
            var out: OpaquePointer? = nil
            expectStatus(podsync_store_create(schema.handle, UInt32(PODSYNC_ROLE_WRITER), &c, &out), PODSYNC_E_INVALID_ARGUMENT, name)
            #expect(out == nil)
        }
    }

    /// A caller built against ABI 1 passes a 56-byte options struct of version 1: the library reads
    /// and writes only those bytes.
    @Test func version1OptionsStructsStayWithinTheirSize() throws {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 72, alignment: 8)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xEE, count: 72)
        let options = raw.bindMemory(to: podsync_store_options.self, capacity: 1)
        expectStatus(podsync_store_options_init(options, 1), PODSYNC_OK, "options_init(version 1)")
        for i in 56..<72 { #expect(raw.load(fromByteOffset: i, as: UInt8.self) == 0xEE, "byte \(i) untouched") }
        #expect(options.pointee.version == 1 && options.pointee.tombstone_horizon == 65536)
        // The bytes past a version-1 struct (0xEE here) are not read: creation succeeds.
        let schema = try standardSchema()
        var out: OpaquePointer? = nil
        expectStatus(podsync_store_create(schema.handle, UInt32(PODSYNC_ROLE_WRITER), options, &out), PODSYNC_OK, "create with a v1 struct")
        podsync_store_free(out)
    }
}

/// The header fields codec tests need, from a frame of any codec.
struct CodecHeader { var codec: UInt8; var transforms: UInt8 }
func parseHeader(_ f: [UInt8]) throws -> CodecHeader {
    try #require(f.count >= 88)
    return CodecHeader(codec: f[H.codec], transforms: f[H.reserved])
}
