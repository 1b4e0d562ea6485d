import CPodSync
import Testing

/// Compression dictionaries: a writer trains one from the packed streams of its own frames; a
/// replica without it reports PODSYNC_E_DICTIONARY_MISSING and changes nothing; with it, the
/// frames apply. Every argument of the four functions is validated.
@Suite struct DictionaryTests {
    /// A writer at a known state: 1,000 records of table 1 flushed; samples collected if asked.
    static func writer(collect: Bool) throws -> Store {
        let w = try Store.writer(try standardSchema()) { $0.compressionLevel = 3 }
        for key: UInt64 in 0..<1000 { w.put(tableA, key, salt: 1) }
        _ = try w.flushOK()
        if collect { expectStatus(podsync_store_collect_samples(w.handle, 1 << 20), PODSYNC_OK, "collect") }
        return w
    }

    /// Ten records change a little: the small frames dictionaries are for.
    static func smallTick(_ w: Store, _ rng: inout SplitMix64, round: Int) throws -> [UInt8] {
        for _ in 0..<10 {
            let key = rng.next() % 1000
            var record = recordA(key, 1)
            record[8] = UInt8(truncatingIfNeeded: round)
            record[12] = UInt8(truncatingIfNeeded: rng.next() % 4)
            w.put(tableA, key, record)
        }
        return try w.flushOne()
    }

    static func dictionary(of store: Store) -> (status: Int32, id: UInt32, bytes: [UInt8]) {
        var data: UnsafeRawPointer? = nil
        var size = -1
        var id: UInt32 = 99
        let st = podsync_store_dictionary(store.handle, &data, &size, &id)
        let bytes = data.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
        if data == nil { #expect(size == 0 && id == 0, "no dictionary: NULL, 0, 0") }
        return (st, id, bytes)
    }

    @Test func trainedDictionaryCompressesFramesThatReplicasMustLoad() throws {
        // Two writers in the same state, fed the same ticks; only the first trains a dictionary.
        let w = try Self.writer(collect: true)
        let control = try Self.writer(collect: false)
        let r = try Store.replica(try standardSchema())
        try r.applyAll([try w.snapshotOne()])
        var rng = SplitMix64(seed: 11), controlRNG = SplitMix64(seed: 11)
        for round in 0..<60 {
            try r.applyAll([try Self.smallTick(w, &rng, round: round)])
            _ = try Self.smallTick(control, &controlRNG, round: round)
        }
        var id: UInt32 = 0
        expectStatus(podsync_store_train_dictionary(w.handle, 4096, &id), PODSYNC_OK, "train: \(w.errmsg)")
        #expect(id != 0)
        let (st, shownID, bytes) = Self.dictionary(of: w)
        expectStatus(st, PODSYNC_OK, "the writer's dictionary")
        #expect(shownID == id && bytes.count > 256 && bytes.count <= 4096)

        var withDictionary: [[UInt8]] = []
        var bytesWith = 0, bytesWithout = 0
        for round in 60..<90 {
            let f = try Self.smallTick(w, &rng, round: round)
            withDictionary.append(f)
            bytesWith += f.count
            bytesWithout += try Self.smallTick(control, &controlRNG, round: round).count
        }
        #expect(bytesWith < bytesWithout, "the dictionary pays on small frames: \(bytesWith) vs \(bytesWithout) bytes")
        var named = 0
        for f in withDictionary {
            var info = podsync_frame_info()
            info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
            expectStatus(withAligned(f) { podsync_frame_peek($0, $1, &info) }, PODSYNC_OK, "peek")
            if info.dictionary_id != 0 {
                #expect(info.dictionary_id == id && info.codec == UInt32(PODSYNC_CODEC_ZSTD))
                named += 1
            }
        }
        #expect(named > 0)
        #expect(MetricsTests.metrics(w).dictionary_frames == UInt64(named))

        // Without the dictionary the replica refuses the first such frame and changes nothing.
        let first = withDictionary.firstIndex { f in withAligned(f) { p, n in
            var info = podsync_frame_info(); info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
            _ = podsync_frame_peek(p, n, &info); return info.dictionary_id != 0 } }!
        try r.applyAll(Array(withDictionary[..<first]))
        let before = Observed(r)
        expectStatus(r.apply(withDictionary[first]).status, PODSYNC_E_DICTIONARY_MISSING, "apply without the dictionary")
        #expect(r.errmsg.contains("\(id)"))
        #expect(Observed(r) == before)
        #expect(MetricsTests.array(MetricsTests.metrics(r).rejects)[22] == 1)
        expectStatus(withAligned(withDictionary[first]) { podsync_frame_validate($0, $1, nil) }, PODSYNC_E_DICTIONARY_MISSING,
                     "store-less validation cannot decode it either")

        // Loaded, the same frames apply and the states agree.
        var loaded: UInt32 = 0
        expectStatus(bytes.withUnsafeBytes { podsync_store_load_dictionary(r.handle, $0.baseAddress, $0.count, &loaded) },
                     PODSYNC_OK, "load: \(r.errmsg)")
        #expect(loaded == id)
        try r.applyAll(Array(withDictionary[first...]))
        #expect(r.digest() == w.digest())
        #expect(Self.dictionary(of: r).id == id, "the replica would compress with it too")
        // Frames without a dictionary still apply on a store that has one.
        let other = try Store.replica(try standardSchema())
        expectStatus(bytes.withUnsafeBytes { podsync_store_load_dictionary(other.handle, $0.baseAddress, $0.count, nil) }, PODSYNC_OK, "load")
        try other.applyAll([try control.snapshotOne()])
        #expect(other.digest() == control.digest())
    }

    @Test func badArgumentsAreRejectedAndChangeNothing() throws {
        let w = try Self.writer(collect: false)
        #expect(Self.dictionary(of: w).status == PODSYNC_NOT_FOUND)
        // Training needs samples, and samples need compression.
        expectStatus(podsync_store_train_dictionary(w.handle, 0, nil), PODSYNC_E_INVALID_ARGUMENT, "train without samples")
        #expect(w.errmsg.contains("podsync_store_collect_samples"))
        let plain = try Store.writer(try standardSchema())
        expectStatus(podsync_store_collect_samples(plain.handle, 1 << 20), PODSYNC_E_INVALID_ARGUMENT, "collect with compression off")
        expectStatus(podsync_store_collect_samples(w.handle, 1 << 20), PODSYNC_OK, "collect")
        var rng = SplitMix64(seed: 1)
        for round in 0..<3 { _ = try Self.smallTick(w, &rng, round: round) }
        expectStatus(podsync_store_train_dictionary(w.handle, 0, nil), PODSYNC_E_INVALID_ARGUMENT, "3 samples")
        #expect(w.errmsg.contains("3 sample frames"))
        for round in 3..<40 { _ = try Self.smallTick(w, &rng, round: round) }
        expectStatus(podsync_store_train_dictionary(w.handle, 100, nil), PODSYNC_E_INVALID_ARGUMENT, "a 100-byte dictionary")
        expectStatus(podsync_store_train_dictionary(w.handle, 5 << 20, nil), PODSYNC_E_INVALID_ARGUMENT, "a 5 MiB dictionary")
        #expect(Self.dictionary(of: w).status == PODSYNC_NOT_FOUND, "failed training loads nothing")
        expectStatus(podsync_store_collect_samples(w.handle, 0), PODSYNC_OK, "stop collecting")
        expectStatus(podsync_store_train_dictionary(w.handle, 0, nil), PODSYNC_E_INVALID_ARGUMENT, "samples discarded")

        // Loading: NULL, empty, not a dictionary, a truncated one.
        let r = try Store.replica(try standardSchema())
        expectStatus(podsync_store_load_dictionary(r.handle, nil, 10, nil), PODSYNC_E_INVALID_ARGUMENT, "NULL dict")
        let junk = [UInt8](repeating: 0x5A, count: 2048)
        expectStatus(junk.withUnsafeBytes { podsync_store_load_dictionary(r.handle, $0.baseAddress, 0, nil) },
                     PODSYNC_E_INVALID_ARGUMENT, "size 0")
        expectStatus(junk.withUnsafeBytes { podsync_store_load_dictionary(r.handle, $0.baseAddress, $0.count, nil) },
                     PODSYNC_E_INVALID_ARGUMENT, "not a zstd dictionary")
        let trained = try Self.writer(collect: true)
        for round in 0..<40 { _ = try Self.smallTick(trained, &rng, round: round) }
        expectStatus(podsync_store_train_dictionary(trained.handle, 2048, nil), PODSYNC_OK, "train")
        let bytes = Self.dictionary(of: trained).bytes
        expectStatus(bytes.withUnsafeBytes { podsync_store_load_dictionary(r.handle, $0.baseAddress, 24, nil) },
                     PODSYNC_E_INVALID_ARGUMENT, "a truncated dictionary")
        #expect(Self.dictionary(of: r).status == PODSYNC_NOT_FOUND, "nothing was loaded")

        // NULL handles.
        expectStatus(podsync_store_collect_samples(nil, 1), PODSYNC_E_INVALID_ARGUMENT, "NULL store")
        expectStatus(podsync_store_train_dictionary(nil, 0, nil), PODSYNC_E_INVALID_ARGUMENT, "NULL store")
        expectStatus(podsync_store_load_dictionary(nil, bytes, bytes.count, nil), PODSYNC_E_INVALID_ARGUMENT, "NULL store")
        expectStatus(podsync_store_dictionary(nil, nil, nil, nil), PODSYNC_E_INVALID_ARGUMENT, "NULL store")
        expectStatus(podsync_store_dictionary(trained.handle, nil, nil, nil), PODSYNC_OK, "all out-pointers NULL")
    }
}
