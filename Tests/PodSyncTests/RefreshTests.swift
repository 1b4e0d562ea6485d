import CPodSync
import Testing

/// Keys of a frame's refresh slice (its sections from index section_count on), by table.
func sliceKeys(_ frame: [UInt8]) -> [UInt32: [UInt64]] {
    let info = frameInfo(frame)
    var out: [UInt32: [UInt64]] = [:]
    for k in Int(info.section_count)..<Int(info.section_count + info.slice_section_count) {
        var sec = podsync_frame_section()
        sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
        let st = withAligned(frame) { podsync_frame_section_get($0, $1, k, &sec) }
        expectStatus(st, PODSYNC_OK, "section_get of slice section \(k)")
        out[sec.table_id, default: []] += Array(UnsafeBufferPointer(start: sec.put_keys, count: Int(sec.put_count)))
    }
    return out
}

@Suite struct RefreshTests {
    @Test func everyPassSendsTheWholeStateInContiguousSlices() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.refreshFlushes = 5 }
        for k in UInt64(0)..<1000 { w.put(tableA, k) }
        for k in UInt64(0)..<100 { w.put(tableB, k << 20) }
        var frames: [[UInt8]] = []
        for i in 0..<10 {
            w.put(tableA, UInt64(i), salt: UInt32(i + 1))  // an update a flush: the key set stays
            frames += try w.flushOK()
        }
        var seen: [UInt32: Set<UInt64>] = [:]
        var previousEnd: (UInt32, UInt64) = (0, 0)
        for (i, f) in frames.enumerated() {
            let info = frameInfo(f)
            try #require(info.flags & PODSYNC_FRAME_SLICE != 0, "frame \(i) carries a slice")
            #expect(info.format_version == 2)
            #expect(info.slice_pass == UInt64(i / 5) && info.slice_index == UInt64(i % 5), "frame \(i): pass \(info.slice_pass) slice \(info.slice_index)")
            let last = info.slice_flags & PODSYNC_CHUNK_LAST != 0
            #expect(last == (i % 5 == 4))
            #expect((info.slice_start_table, info.slice_start_key) == (i % 5 == 0 ? (0, 0) : previousEnd))
            if !last { previousEnd = (info.slice_end_table, info.slice_end_key) }
            for (table, keys) in sliceKeys(f) {
                for key in keys {
                    let position = (table, seed(table, key))
                    #expect(position >= (info.slice_start_table, info.slice_start_key))
                    if !last { #expect(position < (info.slice_end_table, info.slice_end_key)) }
                    #expect(seen[table, default: []].insert(key).inserted || i >= 5, "key \(key) twice in one pass")
                }
            }
            if i == 4 {
                #expect(seen[tableA]?.count == 1000 && seen[tableB]?.count == 100, "a pass covers every key once")
            }
        }
        // A replica in sync takes the changes and ignores the slices; it ends equal.
        let r = try Store.replica(s)
        try r.applyAll(frames)
        #expect(r.dump() == w.dump())
        #expect(w.metrics3().records_out >= 1100 + 2 * 1100, "two passes of slices are sent: \(w.metrics3().records_out) records")
    }

    @Test func oneWayReplicaConvergesWithoutAskingBack() throws {
        let s = try standardSchema()
        for level: Int32 in [0, 1] {
            let w = try Store.writer(s) { $0.refreshFlushes = 4; $0.compressionLevel = level }
            for k in UInt64(0)..<400 { w.put(tableA, k) }
            let first = try w.flushOK()
            let oneWay = try Store.replica(s) { $0.flags |= PODSYNC_OPT_ONE_WAY }
            let plain = try Store.replica(s)
            try oneWay.applyAll(first)
            try plain.applyAll(first)
            // Frames 2..3 are lost, and they delete and change keys.
            for k in UInt64(0)..<50 { w.delete(tableA, k) }
            _ = try w.flushOK()
            for k in UInt64(50)..<100 { w.put(tableA, k, salt: 7) }
            w.put(tableA, 5000)
            _ = try w.flushOK()
            var statuses: [Int32] = []
            for i in 0..<5 {
                w.put(tableA, 300 + UInt64(i), salt: UInt32(i + 9))
                let f = try w.flushOK()
                try #require(f.count == 1)
                statuses.append(oneWay.apply(f[0]).status)
                if i == 0 {
                    expectStatus(plain.apply(f[0]).status, PODSYNC_GAP, "a replica without ONE_WAY waits for a catch-up")
                    #expect(oneWay.info().refreshing == 1)
                    var out: OpaquePointer? = nil
                    expectStatus(podsync_snapshot_begin(oneWay.handle, 0, &out), PODSYNC_E_DIVERGED, "out of sync, it serves nothing")
                }
            }
            #expect(statuses.first == PODSYNC_REFRESHING, "level \(level): \(statuses.map(sname))")
            #expect(statuses.last == PODSYNC_OK, "in sync again after a pass: \(statuses.map(sname))")
            #expect(oneWay.info().refreshing == 0 && oneWay.version == w.version)
            #expect(oneWay.dump() == w.dump() && oneWay.digest() == w.digest())
        }
    }

    @Test func anIdleWriterSendsRefreshOnlyFrames() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.refreshFlushes = 3; $0.refreshMs = 100 }
        for k in UInt64(0)..<90 { w.put(tableA, k) }
        let first = try w.flushOK()
        let synced = try Store.replica(s)
        try synced.applyAll(first)
        expectStatus(w.flushDue(), PODSYNC_OK, "nothing due before refresh_ms")
        expectStatus(w.setTime(100), PODSYNC_OK)
        expectStatus(w.flushDue(), PODSYNC_FLUSH_DUE, "a refresh is due after refresh_ms")
        let late = try Store.replica(s) { $0.flags |= PODSYNC_OPT_ONE_WAY }
        var lateStatuses: [Int32] = []
        for i in 0..<3 {
            expectStatus(w.setTime(UInt64(200 + 100 * i)), PODSYNC_OK)
            let f = try w.flushOK()
            try #require(f.count == 1, "one refresh-only frame")
            let info = frameInfo(f[0])
            #expect(info.base_version == info.state_version && info.section_count == 0 && info.slice_section_count > 0,
                    "refresh-only frame \(i): base \(info.base_version) state \(info.state_version) sections \(info.section_count)+\(info.slice_section_count) slice \(info.slice_pass).\(info.slice_index)")
            expectStatus(synced.apply(f[0]).status, PODSYNC_DUPLICATE, "a replica in sync has it all")
            lateStatuses.append(late.apply(f[0]).status)
        }
        #expect(lateStatuses == [PODSYNC_REFRESHING, PODSYNC_REFRESHING, PODSYNC_OK], "\(lateStatuses.map(sname))")
        #expect(late.dump() == w.dump() && late.version == 1)
        // Without refresh_ms nothing is due on an idle writer.
        let quiet = try Store.writer(s) { $0.refreshFlushes = 3 }
        expectStatus(quiet.setTime(1_000_000), PODSYNC_OK)
        expectStatus(quiet.flushDue(), PODSYNC_OK)
        #expect(try quiet.flushOK().isEmpty)
    }

    @Test func aDivergedOneWayReplicaHealsByTheRefresh() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.refreshFlushes = 2 }
        for k in UInt64(0)..<100 { w.put(tableA, k) }
        let first = try w.flushOK()
        let r = try Store.replica(s) { $0.flags |= PODSYNC_OPT_ONE_WAY }
        try r.applyAll(first)
        // A frame whose digest lies: the replica is marked diverged.
        w.put(tableA, 1, salt: 1)
        var f = try w.flushOne()
        f.setU64(32, f.u64(32) ^ 1)  // format 2 with a digest: state_digest at 32
        recomputeChecksumV2(&f)
        expectStatus(r.apply(f).status, PODSYNC_E_DIGEST_MISMATCH)
        #expect(r.info().diverged == 1)
        var last = PODSYNC_OK
        for i in 0..<4 {
            w.put(tableA, 2, salt: UInt32(i + 2))
            last = r.apply(try w.flushOne()).status
        }
        expectStatus(last, PODSYNC_OK, "back in sync after two passes of slices")
        #expect(r.info().diverged == 0 && r.dump() == w.dump())
    }
}
