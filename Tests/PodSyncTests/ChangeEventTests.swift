// Change events (include/podsync.h "Change events"): which keys each apply upserted and deleted.
import CPodSync
import Testing

struct Changes: Equatable, CustomStringConvertible {
    var upserted: [UInt64]
    var deleted: [UInt64]
    var flags: UInt32
    var description: String { "upserted \(upserted), deleted \(deleted), flags \(flags)" }
    /// The same keys, in any order.
    var sorted: Changes { Changes(upserted: upserted.sorted(), deleted: deleted.sorted(), flags: flags) }
}

extension Store {
    func trackChanges(_ on: Bool = true) -> Int32 { podsync_store_track_changes(handle, on ? 1 : 0) }

    /// The change events of `table` (asserting the call succeeds).
    func changes(_ table: UInt32, sourceLocation: SourceLocation = #_sourceLocation) -> Changes {
        var up: UnsafePointer<UInt64>? = nil, down: UnsafePointer<UInt64>? = nil
        var nUp = -1, nDown = -1
        var flags: UInt32 = 0xFFFF
        let st = podsync_store_changes(handle, table, &up, &nUp, &down, &nDown, &flags)
        expectStatus(st, PODSYNC_OK, "podsync_store_changes: \(errmsg)", sourceLocation: sourceLocation)
        guard st == PODSYNC_OK else { return Changes(upserted: [], deleted: [], flags: 0) }
        return Changes(upserted: (0..<nUp).map { up![$0] }, deleted: (0..<nDown).map { down![$0] }, flags: flags)
    }
}

@Suite struct ChangeEventTests {
    /// Deltas: inserts, updates and deletes of each table, in frame order; a catch-up delta that
    /// re-sends a value the replica holds does not list it; an apply that changes nothing empties
    /// the lists.
    @Test func deltasListWhatTheyChanged() throws {
        for level: Int32 in [0, 1] {  // plain frames and compressed ones (XOR against the base)
            let s = try standardSchema()
            let w = try Store.writer(s) { $0.compressionLevel = level }
            let r = try Store.replica(s)
            expectStatus(r.trackChanges(), PODSYNC_OK)
            for k in UInt64(1)...10 { w.put(tableA, k) }
            w.put(tableB, 100)
            try r.applyAll(try w.flushOK())
            #expect(r.changes(tableA).sorted == Changes(upserted: Array(1...10), deleted: [], flags: 0))
            #expect(r.changes(tableB) == Changes(upserted: [100], deleted: [], flags: 0))

            w.put(tableA, 3, salt: 1)
            w.put(tableA, 11)
            _ = w.delete(tableA, 7)
            let frame = try w.flushOne()
            expectStatus(r.apply(frame).status, PODSYNC_OK)
            let c = r.changes(tableA)
            #expect(Set(c.upserted) == [3, 11] && c.upserted.count == 2, "level \(level): \(c)")
            #expect(c.deleted == [7] && c.flags == 0)
            #expect(r.changes(tableB) == Changes(upserted: [], deleted: [], flags: 0), "table B unchanged")

            // The same frame again: a duplicate changes nothing.
            expectStatus(r.apply(frame).status, PODSYNC_DUPLICATE)
            #expect(r.changes(tableA) == Changes(upserted: [], deleted: [], flags: 0))

            // Key 4 changes and changes back over two versions the replica missed: the catch-up
            // delta re-sends its old value, which is no change here; key 5 really changed.
            let base = r.version
            w.put(tableA, 4, salt: 2)
            w.put(tableA, 5, salt: 2)
            _ = try w.flushOK()
            w.put(tableA, 4)
            _ = try w.flushOK()
            let (st, catchup) = w.deltaSince(base)
            expectStatus(st, PODSYNC_OK)
            try r.applyAll(catchup)
            #expect(r.changes(tableA) == Changes(upserted: [5], deleted: [], flags: 0), "level \(level)")
            #expect(r.dump() == w.dump())
        }
    }

    /// A whole snapshot replaces the state: every key it holds is upserted, every key it no longer
    /// holds deleted, flagged PODSYNC_CHANGES_REPLACED. A staged chunked snapshot does the same at
    /// its last chunk; the chunks before it change nothing visible.
    @Test func snapshotsListTheReplacement() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(1)...10 { w.put(tableA, k) }
        _ = try w.flushOK()
        let r = try Store.replica(s)
        try r.applyAll([try w.snapshotOne()])
        expectStatus(r.trackChanges(), PODSYNC_OK)
        // A new writer (another stream) with keys 5...15 and table B.
        let w2 = try Store.writer(s) { $0.streamID = 0x77 }
        for k in UInt64(5)...15 { w2.put(tableA, k, salt: k == 5 ? 0 : 3) }
        w2.put(tableB, 9)
        _ = try w2.flushOK()
        expectStatus(r.apply(try w2.snapshotOne()).status, PODSYNC_OK)
        let replaced = UInt32(PODSYNC_CHANGES_REPLACED)
        #expect(r.changes(tableA).sorted == Changes(upserted: Array(5...15), deleted: [1, 2, 3, 4], flags: replaced))
        #expect(r.changes(tableB) == Changes(upserted: [9], deleted: [], flags: replaced))

        // Chunked, staged: back to the first writer's state.
        let big = try loadedWriter(s, 3000)
        let chunks = try big.beginSnapshot(8192).all()
        #expect(chunks.count > 2)
        for (i, c) in chunks.enumerated() {
            let st = r.apply(c).status
            if i < chunks.count - 1 {
                expectStatus(st, PODSYNC_CHUNK_STAGED)
                #expect(r.changes(tableA) == Changes(upserted: [], deleted: [], flags: 0), "staging shows nothing")
            } else {
                expectStatus(st, PODSYNC_OK)
            }
        }
        let after = big.dump()
        #expect(r.changes(tableA).sorted == Changes(upserted: after.keys(tableA).sorted(), deleted: Array(5...15).filter { k in !after.keys(tableA).contains(k) }, flags: replaced))
        #expect(r.changes(tableB).sorted == Changes(upserted: after.keys(tableB).sorted(), deleted: [9], flags: replaced))
    }

    /// Filling an empty replica in place: each chunk lists the keys it made visible.
    @Test func fillInPlaceListsEachChunk() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 2000)
        let r = try Store.replica(s) { $0.flags |= PODSYNC_OPT_FILL_IN_PLACE }
        expectStatus(r.trackChanges(), PODSYNC_OK)
        var seen: [UInt64] = []
        for c in try w.beginSnapshot(8192).all() {
            _ = r.apply(c)
            seen += r.changes(tableA).upserted
        }
        #expect(seen.sorted() == w.dump().keys(tableA).sorted(), "every key listed once")
    }

    @Test func theCallsRefuseWhatTheyCannotDo() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        expectStatus(w.trackChanges(), PODSYNC_E_WRONG_ROLE, "a writer has no change events")
        var up: UnsafePointer<UInt64>? = nil, down: UnsafePointer<UInt64>? = nil
        var n1 = 0, n2 = 0
        expectStatus(podsync_store_changes(w.handle, tableA, &up, &n1, &down, &n2, nil), PODSYNC_E_WRONG_ROLE)
        let r = try Store.replica(s)
        expectStatus(podsync_store_changes(r.handle, tableA, &up, &n1, &down, &n2, nil), PODSYNC_E_INVALID_ARGUMENT, "tracking is off")
        expectStatus(podsync_store_track_changes(r.handle, 2), PODSYNC_E_INVALID_ARGUMENT)
        expectStatus(podsync_store_track_changes(nil, 1), PODSYNC_E_INVALID_ARGUMENT)
        expectStatus(r.trackChanges(), PODSYNC_OK)
        expectStatus(podsync_store_changes(r.handle, 999, &up, &n1, &down, &n2, nil), PODSYNC_E_UNKNOWN_TABLE)
        expectStatus(podsync_store_changes(r.handle, tableA, nil, &n1, &down, &n2, nil), PODSYNC_E_INVALID_ARGUMENT)
        expectStatus(podsync_store_changes(nil, tableA, &up, &n1, &down, &n2, nil), PODSYNC_E_INVALID_ARGUMENT)
        // A rejected frame leaves the lists empty; turning tracking off and on empties them too.
        w.put(tableA, 1)
        let frame = try w.flushOne()
        try r.applyAll([frame])
        #expect(r.changes(tableA).upserted == [1])
        var bad = frame
        bad[bad.count - 1] ^= 1
        #expect(r.apply(bad).status < 0)
        #expect(r.changes(tableA) == Changes(upserted: [], deleted: [], flags: 0))
        expectStatus(r.trackChanges(false), PODSYNC_OK)
        expectStatus(podsync_store_changes(r.handle, tableA, &up, &n1, &down, &n2, nil), PODSYNC_E_INVALID_ARGUMENT)
    }
}
