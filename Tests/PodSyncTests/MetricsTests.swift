import CPodSync
import Testing

/// podsync_store_metrics after a scenario whose counts are known exactly.
@Suite struct MetricsTests {
    static func metrics(_ store: Store) -> podsync_metrics {
        var m = podsync_metrics()
        m.version = UInt32(PODSYNC_METRICS_VERSION)
        expectStatus(podsync_store_metrics(store.handle, &m), PODSYNC_OK, "podsync_store_metrics")
        return m
    }

    static func array<T>(_ tuple: T) -> [UInt64] {
        withUnsafeBytes(of: tuple) { Array($0.bindMemory(to: UInt64.self)) }
    }

    @Test func countsOfAKnownScenario() throws {
        let schema = try standardSchema()
        let w = try Store.writer(schema)
        let r = try Store.replica(schema)
        // Flush 1: 10 puts of distinct keys, then key 1 written 4 more times: 14 writes, 10 changes.
        for key: UInt64 in 1...10 { w.put(tableA, key) }
        for salt: UInt32 in 1...4 { w.put(tableA, 1, salt: salt) }
        let f1 = try w.flushOK()
        // Flush 2: 2 deletes and 1 put of a key created and deleted in the batch (3 writes, 2 changes).
        _ = w.delete(tableA, 2)
        _ = w.delete(tableA, 3)
        _ = w.delete(tableA, 999)                       // absent: not a write
        w.put(tableB, 50)
        _ = w.delete(tableB, 50)
        let f2 = try w.flushOK()
        #expect(f1.count == 1 && f2.count == 1)
        let wm = Self.metrics(w)
        #expect(wm.version == UInt32(PODSYNC_METRICS_VERSION) && wm.reserved == 0)
        #expect(wm.writes == 14 + 4)
        #expect(wm.coalesced_writes == 4 + 2)
        #expect(wm.frames_out == 2)
        #expect(wm.records_out == 10 + 2)
        #expect(wm.raw_bytes_out == UInt64(f1[0].count + f2[0].count))
        #expect(wm.wire_bytes_out == wm.raw_bytes_out, "no compression asked")
        #expect(wm.compressed_frames == 0 && wm.saved_by_compression == 0 && wm.saved_by_key_gaps == 0)
        #expect(Self.array(wm.encode_ns).reduce(0, +) == 2, "one encode timing per flush")

        // The replica: 2 applied, a duplicate, a gap, a rejected (checksum) frame, a stale snapshot,
        // and a resync.
        let snapshotAt2 = try w.snapshotOne()
        #expect(r.apply(f1[0]).status == PODSYNC_OK)
        #expect(r.apply(f1[0]).status == PODSYNC_DUPLICATE)
        w.put(tableA, 77)
        let f3 = try w.flushOne()
        w.put(tableA, 78)
        let f4 = try w.flushOne()
        #expect(r.apply(f4).status == PODSYNC_GAP)
        var corrupt = f2[0]
        corrupt[corrupt.count - 1] ^= 1
        #expect(r.apply(corrupt).status == PODSYNC_E_FRAME_CHECKSUM)
        #expect(r.apply(f2[0]).status == PODSYNC_OK)
        #expect(r.apply(f3).status == PODSYNC_OK)
        #expect(r.apply(f4).status == PODSYNC_OK)
        #expect(r.apply(snapshotAt2).status == PODSYNC_STALE)
        let rm = Self.metrics(r)
        #expect(rm.frames_applied == 4)
        #expect(rm.records_applied == 10 + 2 + 1 + 1)
        #expect(rm.wire_bytes_in == UInt64(f1[0].count + f2[0].count + f3.count + f4.count))
        #expect(rm.duplicates == 1 && rm.gaps == 1 && rm.stale == 1 && rm.resyncs == 0)
        let rejects = Self.array(rm.rejects)
        #expect(rejects[Int(-PODSYNC_E_FRAME_CHECKSUM)] == 1 && rejects.reduce(0, +) == 1)
        #expect(Self.array(rm.apply_ns).reduce(0, +) == 8, "one apply timing per call")

        // A snapshot over an existing state is a resync.
        let other = try Store.writer(schema) { $0.streamID = 0xABC }
        other.put(tableB, 1)
        _ = try other.flushOK()
        #expect(r.apply(try other.snapshotOne()).status == PODSYNC_OK)
        #expect(Self.metrics(r).resyncs == 1)
    }

    @Test func compressionSavingsAreCounted() throws {
        let schema = try standardSchema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1 }
        for key: UInt64 in 0..<500 { w.put(tableA, key, salt: 3) }
        let frames = try w.flushOK()
        let m = Self.metrics(w)
        #expect(m.compressed_frames == 1)
        #expect(m.wire_bytes_out == UInt64(frames[0].count))
        #expect(m.raw_bytes_out > m.wire_bytes_out)
        #expect(m.saved_by_key_gaps > 500 * 6, "500 consecutive keys: one LEB128 byte each instead of 8")
        #expect(m.saved_by_compression > 0)
    }

    @Test func metricsArgumentsAreValidated() throws {
        let w = try Store.writer(try standardSchema())
        expectStatus(podsync_store_metrics(w.handle, nil), PODSYNC_E_INVALID_ARGUMENT, "NULL metrics")
        var m = podsync_metrics()
        expectStatus(podsync_store_metrics(w.handle, &m), PODSYNC_E_INVALID_ARGUMENT, "version 0")
        m.version = UInt32(PODSYNC_METRICS_VERSION)
        expectStatus(podsync_store_metrics(nil, &m), PODSYNC_E_INVALID_ARGUMENT, "NULL store")
    }
}
