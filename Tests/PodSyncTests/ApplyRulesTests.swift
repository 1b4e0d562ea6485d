// The replica's version rules (docs/FORMAT.md "Versions", podsync_store_apply) and digest checks.
import CPodSync
import Testing

@Suite struct ApplyRulesTests {
    /// An unbound replica serves frames with stream id 0 ("no stream"); applying one must not bind
    /// the receiver to a stream, so the writer's first delta still applies (regression: it was
    /// refused with STREAM_MISMATCH).
    @Test func framesOfAnUnboundReplicaBindNothing() throws {
        let s = try standardSchema()
        let unbound = try Store.replica(s)
        let peerSnapshot = try unbound.snapshotOne()
        #expect(try parseFrame(peerSnapshot).streamID == 0)
        let late = try Store.replica(s)
        expectStatus(late.apply(peerSnapshot).status, PODSYNC_OK, "empty snapshot of an unbound replica")
        #expect(late.info().stream_id == 0, "still follows no stream")
        let w = try Store.writer(s) { $0.streamID = 0xBEEF }
        w.put(tableA, 1)
        expectStatus(late.apply(try w.flushOne()).status, PODSYNC_OK, "the writer's first delta")
        #expect(late.info().stream_id == 0xBEEF)
        expectSameState(late, w)
    }

    /// Stream id 0 is only the empty snapshot of a replica that follows no stream: any other frame
    /// of stream 0 is malformed, and that snapshot never wipes a replica that follows a stream
    /// (found by fuzzing: it emptied the replica, which stayed bound at version 0).
    @Test func streamZeroIsOnlyTheEmptySnapshot() throws {
        let s = try standardSchema()
        let emptyOfNoStream = try Store.replica(s).snapshotOne()
        let w = try Store.writer(s) { $0.streamID = 0xABCD }
        let r = try Store.replica(s)
        w.put(tableA, 1)
        try r.applyAll(try w.flushOK())
        let before = r.dump()
        expectStatus(r.apply(emptyOfNoStream).status, PODSYNC_E_STREAM_MISMATCH, "stream-0 snapshot on a bound replica")
        #expect(r.dump() == before && r.version == 1 && r.info().stream_id == 0xABCD)
        // A delta, or a snapshot with records, claiming stream 0.
        w.put(tableA, 2)
        let delta = tampered(try w.flushOne()) { $0.setU64(40, 0) }
        expectStatus(validate(delta).status, PODSYNC_E_FRAME_MALFORMED, "a delta of stream 0")
        expectStatus(try Store.replica(s).apply(delta).status, PODSYNC_E_FRAME_MALFORMED, "applied")
        let snapshot = tampered(try w.snapshotOne()) { $0.setU64(40, 0) }
        expectStatus(validate(snapshot).status, PODSYNC_E_FRAME_MALFORMED, "a snapshot of stream 0 at version 2")
    }

    @Test func freshReplicaAppliesTheFirstDelta() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.streamID = 0xF00D }
        let r = try Store.replica(s)
        w.put(tableA, 1)
        w.put(tableB, 2)
        let f = try w.flushOne()
        let (st, v) = r.apply(f)
        expectStatus(st, PODSYNC_OK, "first delta (base 0) on a fresh replica")
        #expect(v == 1)
        #expect(r.info().stream_id == 0xF00D, "the replica follows the stream of its first frame")
        #expect(r.info().sequence == 1)
        expectSameState(r, w)
        #expect(r.get(tableA, 1) == recordA(1))
        // version_out may be NULL.
        w.put(tableA, 3)
        let f2 = try w.flushOne()
        let st2 = withAligned(f2) { podsync_store_apply(r.handle, $0, $1, nil) }
        expectStatus(st2, PODSYNC_OK, "apply with version_out NULL")
        expectSameState(r, w)
    }

    @Test func duplicateIsANoOp() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        w.put(tableA, 1)
        let f1 = try w.flushOne()
        w.put(tableA, 1, salt: 1)
        w.put(tableA, 2)
        let f2 = try w.flushOne()
        try r.applyAll([f1, f2])
        let before = Observed(r)
        let (st, v) = r.apply(f2)
        expectStatus(st, PODSYNC_DUPLICATE, "f2 again")
        #expect(v == 2)
        let (st1, v1) = r.apply(f1)
        expectStatus(st1, PODSYNC_DUPLICATE, "f1 after f2")
        #expect(v1 == 2)
        #expect(Observed(r) == before)
        #expect(r.get(tableA, 1) == recordA(1, 1), "a replayed f1 must not bring back the old value")
        expectSameState(r, w)
    }

    @Test func gapLeavesStateUnchangedAndIsHealedByDeltaSince() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        w.put(tableA, 1)
        try r.applyAll([try w.flushOne()])
        w.put(tableA, 2)
        _ = try w.flushOne()  // lost
        w.delete(tableA, 1)
        w.put(tableB, 3)
        let f3 = try w.flushOne()
        let before = Observed(r)
        let (st, v) = r.apply(f3)
        expectStatus(st, PODSYNC_GAP, "base 2 on a replica at 1")
        #expect(v == 1, "version_out reports the replica's version (\(v))")
        #expect(Observed(r) == before)
        // Heal with delta_since(replica version).
        let (dst, frames) = w.deltaSince(v)
        expectStatus(dst, PODSYNC_OK, "delta_since(1)")
        try #require(frames.count == 1)
        let p = try parseFrame(frames[0])
        #expect(p.baseVersion == 1 && p.stateVersion == 3 && p.flags & PODSYNC_FRAME_RESET == 0)
        let (st2, v2) = r.apply(frames[0])
        expectStatus(st2, PODSYNC_OK, "catch-up")
        #expect(v2 == 3)
        expectSameState(r, w)
        expectStatus(r.apply(f3).status, PODSYNC_DUPLICATE, "the frame that gapped, now a duplicate")
    }

    @Test func gapOnAFreshReplica() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        w.put(tableA, 1)
        _ = try w.flushOne()
        w.put(tableA, 2)
        let f2 = try w.flushOne()
        let r = try Store.replica(s)
        let before = Observed(r)
        let (st, v) = r.apply(f2)
        expectStatus(st, PODSYNC_GAP, "base 1 on a fresh replica")
        #expect(v == 0)
        #expect(Observed(r) == before)
        #expect(r.info().stream_id == 0, "a GAP must not bind the replica to the stream")
    }

    @Test func overlappingCatchUpIsApplied() throws {
        // base < R < state: the delta carries absolute values and tombstones, so it applies.
        let s = try standardSchema()
        let w = try Store.writer(s)
        var frames: [[UInt8]] = []
        w.put(tableA, 1)
        w.put(tableA, 5)
        frames.append(try w.flushOne())  // v1
        w.put(tableA, 2)
        w.put(tableB, 9)
        frames.append(try w.flushOne())  // v2: creates 2
        w.delete(tableA, 2)
        w.put(tableA, 1, salt: 4)
        frames.append(try w.flushOne())  // v3: deletes 2 (created after v1)
        w.put(tableA, 3)
        w.delete(tableB, 9)
        w.delete(tableA, 5)
        frames.append(try w.flushOne())  // v4
        let r = try Store.replica(s)
        try r.applyAll(Array(frames[0..<2]))  // R = 2, has key 2
        #expect(r.get(tableA, 2) != nil)
        let (st, d) = w.deltaSince(1)
        expectStatus(st, PODSYNC_OK, "delta_since(1)")
        try #require(d.count == 1)
        let (ast, v) = r.apply(d[0])
        expectStatus(ast, PODSYNC_OK, "delta 1→4 on a replica at 2")
        #expect(v == 4)
        #expect(r.get(tableA, 2) == nil, "key 2, created at v2 and deleted at v3, must be gone")
        expectSameState(r, w)
    }

    @Test func snapshotResetsTheState() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        for k in UInt64(1)...5 { w.put(tableA, k) }
        w.put(tableB, 1)
        try r.applyAll([try w.flushOne()])
        w.delete(tableA, 2)
        w.delete(tableB, 1)
        w.put(tableA, 6)
        _ = try w.flushOne()
        let snap = try w.snapshotOne()
        let (st, v) = r.apply(snap)
        expectStatus(st, PODSYNC_OK, "snapshot on a replica at 1")
        #expect(v == 2)
        #expect(r.get(tableA, 2) == nil, "a record not in the snapshot disappears")
        #expect(r.count(tableB) == 0, "a table absent from the snapshot becomes empty")
        expectSameState(r, w)
        // A snapshot at the replica's own version on the same stream replaces (not STALE).
        let (st2, v2) = r.apply(snap)
        expectStatus(st2, PODSYNC_DUPLICATE, "same-version snapshot on the same stream (FORMAT.md apply rules)")
        #expect(v2 == 2)
        expectSameState(r, w)
    }

    @Test func snapshotFromAnotherStreamReplacesExtraRecords() throws {
        let s = try standardSchema()
        let a = try Store.writer(s) { $0.streamID = 1 }
        let b = try Store.writer(s) { $0.streamID = 2 }
        let r = try Store.replica(s)
        for k in UInt64(1)...10 { a.put(tableA, k) }
        a.put(tableB, 5)
        try r.applyAll([try a.flushOne()])
        b.put(tableA, 100)
        b.put(tableA, 3, salt: 8)
        _ = try b.flushOne()
        let (st, v) = r.apply(try b.snapshotOne())
        expectStatus(st, PODSYNC_OK, "snapshot of another stream")
        #expect(v == 1)
        #expect(r.info().stream_id == 2, "the snapshot rebinds the replica to stream 2")
        #expect(r.dump() == b.dump())
        #expect(r.count(tableA) == 2)
        #expect(r.count(tableB) == 0)
        expectSameState(r, b)
    }

    @Test func olderSnapshotOnTheSameStreamIsStale() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        w.put(tableA, 1)
        try r.applyAll([try w.flushOne()])
        let old = try w.snapshotOne()  // version 1
        w.put(tableA, 2)
        w.delete(tableA, 1)
        try r.applyAll([try w.flushOne()])
        w.put(tableB, 3)
        try r.applyAll([try w.flushOne()])  // version 3
        let before = Observed(r)
        let (st, v) = r.apply(old)
        expectStatus(st, PODSYNC_STALE, "snapshot v1 on a replica at v3")
        #expect(v == 3)
        #expect(Observed(r) == before)
        expectSameState(r, w)
    }

    @Test func deltaFromAnotherStreamIsRejected() throws {
        let s = try standardSchema()
        let a = try Store.writer(s) { $0.streamID = 0xA }
        let b = try Store.writer(s) { $0.streamID = 0xB }
        let r = try Store.replica(s)
        a.put(tableA, 1)
        try r.applyAll([try a.flushOne()])
        b.put(tableA, 2)
        let fb1 = try b.flushOne()
        b.put(tableA, 3)
        let fb2 = try b.flushOne()
        let before = Observed(r)
        expectStatus(r.apply(fb1).status, PODSYNC_E_STREAM_MISMATCH, "B's first delta (base 0)")
        expectStatus(r.apply(fb2).status, PODSYNC_E_STREAM_MISMATCH, "B's second delta (base 1 = replica version)")
        #expect(r.errmsg != "")
        #expect(Observed(r) == before)
        // B's snapshot rebinds the replica; then A's deltas are the foreign ones.
        let (st, v) = r.apply(try b.snapshotOne())
        expectStatus(st, PODSYNC_OK, "B's snapshot")
        #expect(v == 2)
        #expect(r.info().stream_id == 0xB)
        expectSameState(r, b)
        a.put(tableA, 4)
        let fa2 = try a.flushOne()
        let before2 = Observed(r)
        expectStatus(r.apply(fa2).status, PODSYNC_E_STREAM_MISMATCH, "A's delta after rebinding to B")
        #expect(Observed(r) == before2)
        b.put(tableB, 1)
        expectStatus(r.apply(try b.flushOne()).status, PODSYNC_OK, "B's next delta")
        expectSameState(r, b)
    }

    @Test func newWritersSnapshotRebindsEvenAtALowerVersion() throws {
        let s = try standardSchema()
        let a = try Store.writer(s) { $0.streamID = 10 }
        let b = try Store.writer(s) { $0.streamID = 20 }
        let r = try Store.replica(s)
        for i in 0..<5 {
            a.put(tableA, UInt64(i))
            try r.applyAll([try a.flushOne()])
        }
        #expect(r.version == 5)
        b.put(tableB, 1)
        _ = try b.flushOne()
        let (st, v) = r.apply(try b.snapshotOne())
        expectStatus(st, PODSYNC_OK, "snapshot v1 of stream 20 on a replica at v5 of stream 10")
        #expect(v == 1)
        #expect(r.info().stream_id == 20)
        expectSameState(r, b)
    }

    @Test func digestsAreEqualAfterEveryStep() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        var rng = SplitMix64(seed: 99)
        for step in 0..<40 {
            for _ in 0..<Int(rng.next() % 20) {
                let k = rng.next() % 30
                let t = rng.next() % 2 == 0 ? tableA : tableB
                if rng.next() % 4 == 0 { w.delete(t, k) } else { w.put(t, k, salt: UInt32(step)) }
            }
            let frames = try w.flushOK()
            try r.applyAll(frames)
            #expect(r.digest() == w.digest(), "step \(step)")
            #expect(r.info().digest == w.info().digest, "step \(step)")
            #expect(r.dump() == w.dump(), "step \(step)")
        }
    }

    /// Replica at version 1, a tampered version-2 frame, then writer frames 3, 4.
    func divergedSetup() throws -> (Store, Store, [UInt8], [UInt8]) {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        w.put(tableA, 1)
        w.put(tableB, 1)
        try r.applyAll([try w.flushOne()])
        w.put(tableA, 2)
        let f2 = try w.flushOne()
        let bad = tampered(f2) { $0.setU64(H.stateDigest, $0.u64(H.stateDigest) ^ 1) }
        return (w, r, f2, bad)
    }

    @Test func digestMismatchMarksTheReplicaDiverged() throws {
        let (w, r, _, bad) = try divergedSetup()
        expectStatus(validate(bad).status, PODSYNC_OK, "the tampered frame is well-formed")
        let (st, v) = r.apply(bad)
        expectStatus(st, PODSYNC_E_DIGEST_MISMATCH, "tampered state_digest")
        #expect(v == 2, "the frame was applied: version \(v)")
        let i = r.info()
        #expect(i.diverged == 1)
        #expect(r.get(tableA, 2) == recordA(2), "a DIGEST_MISMATCH frame is applied")
        #expect(r.errmsg != "")
        // Further deltas are refused.
        w.put(tableA, 3)
        let f3 = try w.flushOne()
        let before = Observed(r)
        let (st3, v3) = r.apply(f3)
        expectStatus(st3, PODSYNC_E_DIVERGED, "delta on a diverged replica")
        #expect(v3 == 2)
        #expect(Observed(r) == before)
        let (dst, d) = w.deltaSince(2)
        expectStatus(dst, PODSYNC_OK, "delta_since(2)")
        expectStatus(r.apply(d[0]).status, PODSYNC_E_DIVERGED, "catch-up delta on a diverged replica")
        #expect(Observed(r) == before)
        // It passes nothing on: downstream replicas would inherit the divergence unnoticed.
        expectStatus(r.deltaSince(1).status, PODSYNC_E_DIVERGED, "delta_since served by a diverged replica")
        expectStatus(r.snapshot().status, PODSYNC_E_DIVERGED, "snapshot served by a diverged replica")
        // A snapshot heals.
        let (sst, sv) = r.apply(try w.snapshotOne())
        expectStatus(sst, PODSYNC_OK, "snapshot heals")
        #expect(sv == 3)
        #expect(r.info().diverged == 0)
        expectSameState(r, w)
        w.put(tableB, 9)
        expectStatus(r.apply(try w.flushOne()).status, PODSYNC_OK, "deltas accepted again")
        expectSameState(r, w)
    }

    @Test func digestMismatchOnASnapshot() throws {
        let (w, r, _, _) = try divergedSetup()
        let snap = try w.snapshotOne()
        let bad = tampered(snap) { $0.setU64(H.stateDigest, $0.u64(H.stateDigest) &+ 1) }
        let (st, _) = r.apply(bad)
        expectStatus(st, PODSYNC_E_DIGEST_MISMATCH, "tampered snapshot digest")
        #expect(r.info().diverged == 1)
        expectStatus(r.apply(snap).status, PODSYNC_OK, "the genuine snapshot heals")
        #expect(r.info().diverged == 0)
        expectSameState(r, w)
    }

    @Test func divergedReplicaAcceptsAnOlderSnapshotOfItsStream() throws {
        // FORMAT.md apply rules: "A diverged replica accepts any snapshot of its stream, even an
        // older one: its own version no longer vouches for its records."
        let (w, r, _, bad) = try divergedSetup()
        let old = try w.snapshotOne()  // version 2
        w.put(tableA, 5)
        _ = try w.flushOne()  // writer at 3
        w.put(tableA, 6)
        _ = try w.flushOne()  // writer at 4
        expectStatus(r.apply(bad).status, PODSYNC_E_DIGEST_MISMATCH, "tampered frame 2")
        let catchUp = try #require(w.deltaSince(2).frames.first)
        expectStatus(r.apply(catchUp).status, PODSYNC_E_DIVERGED, "a delta on a diverged replica")
        #expect(r.version == 2)
        // The snapshot of version 2 on a diverged replica at 2: applied, not DUPLICATE.
        let (st, v) = r.apply(old)
        expectStatus(st, PODSYNC_OK, "older-or-equal snapshot of its stream on a diverged replica")
        #expect(v == 2)
        #expect(r.info().diverged == 0)
        #expect(r.dump() == Dump(tables: [tableA: [Row(key: 1, bytes: recordA(1)), Row(key: 2, bytes: recordA(2))], tableB: [Row(key: 1, bytes: recordB(1))]]))
        // Now a healthy replica at 2 on the same stream: the same snapshot is a DUPLICATE, and a
        // newer replica sees it as STALE.
        expectStatus(r.apply(old).status, PODSYNC_DUPLICATE, "the same snapshot again")
        try r.applyAll(w.deltaSince(2).frames)
        expectSameState(r, w)
        expectStatus(r.apply(old).status, PODSYNC_STALE, "the old snapshot at 4")
    }

    @Test func divergedReplicaAtAHigherVersionAcceptsAnOlderSnapshot() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        w.put(tableA, 1)
        try r.applyAll([try w.flushOne()])
        let snap1 = try w.snapshotOne()
        w.put(tableA, 2)
        try r.applyAll([try w.flushOne()])
        w.put(tableA, 3)
        let bad = tampered(try w.flushOne()) { $0.setU64(H.stateDigest, 12345) }
        expectStatus(r.apply(bad).status, PODSYNC_E_DIGEST_MISMATCH, "tampered frame 3")
        #expect(r.version == 3 && r.info().diverged == 1)
        let (st, v) = r.apply(snap1)
        expectStatus(st, PODSYNC_OK, "snapshot 1 on a diverged replica at 3")
        #expect(v == 1)
        #expect(r.info().diverged == 0)
        #expect(r.dump() == Dump(tables: [tableA: [Row(key: 1, bytes: recordA(1))], tableB: []]))
        try r.applyAll(w.deltaSince(1).frames)
        expectSameState(r, w)
    }

    @Test func errorStatusesLeaveStateAsIs() throws {
        let (_, r, f2, _) = try divergedSetup()
        let before = Observed(r)
        let g = r.info().generation
        let badChecksum = tampered(f2, recompute: false) { $0[H.checksum] ^= 1 }
        expectStatus(r.apply(badChecksum).status, PODSYNC_E_FRAME_CHECKSUM, "checksum")
        #expect(Observed(r) == before)
        #expect(r.info().generation == g, "a rejected frame must not invalidate borrowed pointers")
        expectStatus(r.apply(f2).status, PODSYNC_OK, "the genuine frame")
    }
}
