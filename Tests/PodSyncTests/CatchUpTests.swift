// podsync_store_delta_since and snapshots as catch-up: every since-version, every replica version,
// tombstone horizon, replicas serving replicas.
import CPodSync
import Testing

/// A writer history with updates, deletes and re-creates, one frame per version, and the flushed
/// state after each version.
struct History {
    let schema: Schema
    let writer: Store
    var frames: [[UInt8]] = []  // frames[i] moves version i to i+1
    var states: [Dump] = [Dump()]  // states[v]: flushed state at version v
    var digests: [UInt64] = [0]

    init(_ configure: (inout Options) -> Void = { _ in }) throws {
        schema = try standardSchema()
        writer = try Store.writer(schema, configure)
    }

    mutating func step(_ body: (Store) -> Void) throws {
        body(writer)
        let f = try writer.flushOne()
        frames.append(f)
        states.append(writer.dump())
        digests.append(writer.info().digest)
        #expect(writer.info().state_version == UInt64(frames.count))
    }

    var current: UInt64 { UInt64(frames.count) }

    /// A new replica brought to version v by applying the flushed frames.
    func replica(at v: UInt64) throws -> Store {
        let r = try Store.replica(schema)
        try r.applyAll(Array(frames[0..<Int(v)]))
        #expect(r.version == v)
        return r
    }

    /// The scenario of the suite.
    static func standard(_ configure: (inout Options) -> Void = { _ in }) throws -> History {
        var h = try History(configure)
        try h.step { w in  // 1
            for k in UInt64(1)...5 { w.put(tableA, k) }
            for k in UInt64(100)...102 { w.put(tableB, k) }
        }
        try h.step { w in  // 2: updates, a delete
            w.put(tableA, 2, salt: 1)
            w.put(tableA, 3, salt: 1)
            w.delete(tableB, 101)
        }
        try h.step { w in  // 3: deletes and a new key
            w.delete(tableA, 1)
            w.delete(tableA, 4)
            w.put(tableA, 6)
        }
        try h.step { w in  // 4: re-create deleted keys with new values
            w.put(tableA, 1, salt: 7)
            w.put(tableB, 101, salt: 7)
        }
        try h.step { w in  // 5: delete a key created at 3; update a re-created one
            w.delete(tableA, 6)
            w.put(tableA, 1, salt: 8)
        }
        try h.step { w in  // 6: a key created and deleted in the batch, one update
            w.put(tableA, 7)
            w.delete(tableA, 7)
            w.put(tableA, 5, salt: 9)
        }
        try h.step { w in  // 7: empty table 2
            for k in [UInt64(100), 101, 102] { w.delete(tableB, k) }
        }
        try h.step { w in  // 8: table 2 again, delete and re-create in one batch
            w.put(tableB, 200)
            w.delete(tableA, 3)
            w.put(tableA, 3, salt: 10)
        }
        try h.step { w in  // 9: delete then re-create key 4 (deleted at 3) across batches
            w.put(tableA, 4, salt: 11)
        }
        try h.step { w in  // 10
            w.delete(tableA, 4)
            w.put(tableA, 8)
        }
        // Pending writes that must not show in catch-up frames.
        h.writer.put(tableA, 9)
        h.writer.delete(tableA, 2)
        h.writer.put(tableA, 3, salt: 99)
        h.writer.put(tableB, 200, salt: 99)
        return h
    }
}

@Suite struct CatchUpTests {
    @Test func deltaSinceEveryVersionFromEveryReplicaVersion() throws {
        let h = try History.standard()
        let cur = h.current
        let flushed = h.states[Int(cur)]
        #expect(h.writer.info().digest == h.digests[Int(cur)])
        #expect(h.writer.info().pending_changes > 0, "the scenario leaves pending writes")
        #expect(h.writer.dump() != flushed, "the reads see the pending writes")
        #expect(expectedDigest(flushed) == h.writer.info().digest)
        for since in UInt64(0)...cur {
            let (st, frames) = h.writer.deltaSince(since)
            expectStatus(st, PODSYNC_OK, "delta_since(\(since))")
            if since == cur {
                #expect(frames.isEmpty, "delta_since(current) produced \(frames.count) frames")
                continue
            }
            try #require(frames.count == 1, "delta_since(\(since)): \(frames.count) frames, want one")
            let f = frames[0]
            let p = try parseFrame(f)
            if since == 0 {
                #expect(p.flags & PODSYNC_FRAME_RESET != 0, "since 0 produces a snapshot")
            } else {
                #expect(p.flags & PODSYNC_FRAME_RESET == 0)
                #expect(p.baseVersion == since)
            }
            #expect(p.stateVersion == cur)
            #expect(p.stateDigest == h.writer.info().digest)
            // Applies to every replica at a version in [since, current).
            for rv in since..<cur {
                let r = try h.replica(at: rv)
                let (ast, v) = r.apply(f)
                expectStatus(ast, PODSYNC_OK, "delta_since(\(since)) on a replica at \(rv)")
                #expect(v == cur)
                #expect(r.dump() == flushed, "delta_since(\(since)) on a replica at \(rv): \(r.dump()) want \(flushed)")
                #expect(r.digest() == h.writer.info().digest, "digest after delta_since(\(since)) at \(rv)")
            }
            // A replica at current: duplicate. Below since: gap.
            let rc = try h.replica(at: cur)
            expectStatus(rc.apply(f).status, PODSYNC_DUPLICATE, "delta_since(\(since)) on a replica at current")
            if since > 0 {
                let rg = try h.replica(at: since - 1)
                let before = Observed(rg)
                let (gst, gv) = rg.apply(f)
                expectStatus(gst, PODSYNC_GAP, "delta_since(\(since)) on a replica at \(since - 1)")
                #expect(gv == since - 1)
                #expect(Observed(rg) == before)
            }
        }
    }

    @Test func intermediateVersionsMatchTheWriterHistory() throws {
        // Each replica version reached by applying flushed frames equals the writer's flushed state then.
        let h = try History.standard()
        let r = try Store.replica(h.schema)
        for (i, f) in h.frames.enumerated() {
            expectStatus(r.apply(f).status, PODSYNC_OK, "frame \(i)")
            #expect(r.dump() == h.states[i + 1], "state at version \(i + 1)")
            #expect(r.digest() == h.digests[i + 1])
            #expect(expectedDigest(h.states[i + 1]) == h.digests[i + 1], "writer digest at \(i + 1) follows FORMAT.md")
        }
    }

    @Test func deltaSinceAheadOfTheStore() throws {
        let h = try History.standard()
        let cur = h.current
        var n = 7
        let st = podsync_store_delta_since(h.writer.handle, cur + 1, &n)
        expectStatus(st, PODSYNC_E_VERSION_AHEAD, "delta_since(current + 1)")
        expectStatus(podsync_store_delta_since(h.writer.handle, .max, &n), PODSYNC_E_VERSION_AHEAD, "delta_since(UInt64.max)")
        #expect(h.writer.errmsg != "")
        let r = try Store.replica(h.schema)
        expectStatus(podsync_store_delta_since(r.handle, 1, &n), PODSYNC_E_VERSION_AHEAD, "delta_since(1) on an empty replica")
    }

    @Test func snapshotOfAWriterWithPendingWritesIsTheFlushedState() throws {
        let h = try History.standard()
        let snap = try h.writer.snapshotOne()
        let p = try parseFrame(snap)
        #expect(p.stateVersion == h.current)
        #expect(p.stateDigest == h.writer.info().digest)
        let r = try Store.replica(h.schema)
        expectStatus(r.apply(snap).status, PODSYNC_OK, "snapshot")
        #expect(r.dump() == h.states[Int(h.current)])
        #expect(r.digest() == h.writer.info().digest)
        #expect(r.version == h.current)
        // Flushing the pending writes then brings the replica to the live state.
        let more = try h.writer.flushOK()
        try r.applyAll(more)
        #expect(r.dump() == h.writer.dump())
        #expect(r.digest() == h.writer.digest())
    }

    /// A flushed key deleted and created again in the pending batch is one update; snapshots and
    /// catch-up deltas taken meanwhile must still carry its flushed value (regression: the value
    /// was dropped once the delete and the re-creation shared one batch entry).
    @Test func recreatedKeyPendingIsServedWithItsFlushedValue() throws {
        let schema = try standardSchema()
        let w = try Store.writer(schema)
        for key: UInt64 in 1...4 { expectStatus(w.put(1, key, salt: 1), PODSYNC_OK, "put \(key)") }
        let first = try w.flushOK()                      // version 1
        expectStatus(w.put(1, 2, salt: 3), PODSYNC_OK, "update 2")
        let second = try w.flushOK()                     // version 2: key 2 last changed here
        let flushed = w.dump()
        let flushedDigest = w.digest()
        expectStatus(w.delete(1, 2), PODSYNC_OK, "delete 2")
        expectStatus(w.put(1, 2, salt: 9), PODSYNC_OK, "re-create 2")
        #expect(w.info().pending_changes == 1)

        let fromSnapshot = try Store.replica(schema)
        try fromSnapshot.applyAll([try w.snapshotOne()])
        #expect(fromSnapshot.dump() == flushed)
        #expect(fromSnapshot.digest() == flushedDigest)

        let fromDelta = try Store.replica(schema)
        try fromDelta.applyAll(first)
        let (st, frames) = w.deltaSince(1)
        expectStatus(st, PODSYNC_OK, "delta_since(1)")
        #expect(frames.count == 1)
        try fromDelta.applyAll(frames)
        #expect(fromDelta.dump() == flushed)
        #expect(fromDelta.get(1, 2) == recordA(2, 3))
        #expect(fromDelta.digest() == flushedDigest)
        #expect(second.count == 1)

        // After the flush the re-created key travels as one put with its new value.
        let batch = try w.flushOK()
        #expect(batch.count == 1)
        try fromSnapshot.applyAll(batch)
        try fromDelta.applyAll(batch)
        #expect(fromSnapshot.dump() == w.dump())
        #expect(fromDelta.dump() == w.dump())
        #expect(fromDelta.digest() == w.digest())
        #expect(fromSnapshot.get(1, 2) == recordA(2, 9))
    }

    /// The change log is bounded (about twice the records): a small, busy table drops its oldest
    /// entries, the catch-up floor rises to them, older requests get SNAPSHOT_REQUIRED, and deltas
    /// from the floor on stay exact.
    @Test func changeLogTrimRaisesTheFloorAndKeepsDeltasExact() throws {
        let schema = try standardSchema()
        let w = try Store.writer(schema)
        let behind = try Store.replica(schema)
        var behindVersion: UInt64 = 0
        for round: UInt32 in 1...700 {
            for key: UInt64 in 1...10 { expectStatus(w.put(1, key, salt: round), PODSYNC_OK, "put") }
            let frames = try w.flushOK()
            // One replica follows only until round 650, to catch up later from an old version.
            if round <= 650 { try behind.applyAll(frames); behindVersion = behind.version }
        }
        let floor = w.info().catchup_floor
        #expect(floor > 0, "7,000 stamps over 10 records must trim the log")
        #expect(floor < behindVersion, "the replica 50 versions behind is still covered")
        let (old, none) = w.deltaSince(1)
        expectStatus(old, PODSYNC_SNAPSHOT_REQUIRED, "delta since a version below the floor")
        #expect(none.isEmpty)
        let (st, frames) = w.deltaSince(behindVersion)
        expectStatus(st, PODSYNC_OK, "delta since the lagging replica's version")
        try behind.applyAll(frames)
        #expect(behind.dump() == w.dump())
        #expect(behind.digest() == w.digest())
        // Each key changed since then travels once, however often it changed.
        let parsed = try parseFrame(frames[0])
        #expect(parsed.stateVersion == w.version)
        #expect(parsed.section(1)?.putCount == 10)
    }

    @Test func tombstoneHorizonSetsTheCatchUpFloor() throws {
        let horizon: UInt64 = 2
        var h = try History { $0.tombstoneHorizon = horizon }
        try h.step { w in for k in UInt64(1)...20 { w.put(tableA, k) } }
        for i in UInt64(1)...19 {
            try h.step { w in
                w.delete(tableA, i)
                w.put(tableA, 100 + i)
                w.put(tableA, 20, salt: UInt32(i))
            }
        }
        let cur = h.current
        let floor = h.writer.info().catchup_floor
        print("tombstone_horizon \(horizon): catchup_floor \(floor) at version \(cur)")
        #expect(floor > 0, "deletions older than the horizon are forgotten, so the floor must rise")
        #expect(floor <= cur)
        if floor > 1 {
            for since in UInt64(1)..<floor {
                var n = 5
                let st = podsync_store_delta_since(h.writer.handle, since, &n)
                expectStatus(st, PODSYNC_SNAPSHOT_REQUIRED, "delta_since(\(since)) below floor \(floor)")
                #expect(n == 0)
            }
        }
        for since in max(floor, 1)..<cur {
            let (st, frames) = h.writer.deltaSince(since)
            expectStatus(st, PODSYNC_OK, "delta_since(\(since)) at or above floor \(floor)")
            guard st == PODSYNC_OK, frames.count == 1 else { continue }
            for rv in since..<cur {
                let r = try h.replica(at: rv)
                expectStatus(r.apply(frames[0]).status, PODSYNC_OK, "delta_since(\(since)) at replica \(rv)")
                #expect(r.dump() == h.states[Int(cur)], "delta_since(\(since)) at replica \(rv)")
            }
        }
        // since 0 is documented as producing a snapshot.
        let (st0, f0) = h.writer.deltaSince(0)
        print("delta_since(0) with catchup_floor \(floor): \(sname(st0)), \(f0.count) frames")
        if st0 == PODSYNC_OK {
            try #require(f0.count == 1)
            #expect(try parseFrame(f0[0]).flags & PODSYNC_FRAME_RESET != 0)
        } else {
            expectStatus(st0, PODSYNC_SNAPSHOT_REQUIRED, "delta_since(0) below the floor")
        }
        // A snapshot always serves the lagging replica.
        let lagging = try h.replica(at: 1)
        expectStatus(lagging.apply(try h.writer.snapshotOne()).status, PODSYNC_OK, "snapshot to a lagging replica")
        #expect(lagging.dump() == h.states[Int(cur)])
    }

    @Test func defaultHorizonKeepsEverything() throws {
        let h = try History.standard()
        #expect(h.writer.info().catchup_floor == 0)
        let forever = try History.standard { $0.tombstoneHorizon = 0 }
        #expect(forever.writer.info().catchup_floor == 0, "tombstone_horizon 0 = forever")
        let (st, frames) = forever.writer.deltaSince(1)
        expectStatus(st, PODSYNC_OK, "delta_since(1) with an unlimited horizon")
        #expect(frames.count == 1)
    }

    @Test func replicaServesADownstreamReplica() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.streamID = 0xC4A1 }
        let a = try Store.replica(s)
        let b = try Store.replica(s)
        for k in UInt64(1)...8 { w.put(tableA, k) }
        w.put(tableB, 1)
        try a.applyAll(try w.flushOK())
        w.delete(tableA, 3)
        w.put(tableA, 2, salt: 5)
        try a.applyAll(try w.flushOK())
        // B starts from A's snapshot.
        let snap = try a.snapshotOne()
        let ps = try parseFrame(snap)
        #expect(ps.streamID == 0xC4A1, "a replica's snapshot carries the writer's stream id")
        #expect(ps.stateVersion == 2)
        #expect(ps.stateDigest == w.info().digest)
        expectStatus(b.apply(snap).status, PODSYNC_OK, "A's snapshot on B")
        expectSameState(b, w)
        // B started from a snapshot at 2: it cannot know what was deleted before, so it cannot
        // serve a delta since 1.
        #expect(b.info().catchup_floor >= 2, "B's catchup_floor \(b.info().catchup_floor) after a snapshot at 2")
        var nb = 9
        expectStatus(podsync_store_delta_since(b.handle, 1, &nb), PODSYNC_SNAPSHOT_REQUIRED, "B: delta_since(1), before its snapshot")
        let bSnap = b.deltaSince(0)
        expectStatus(bSnap.status, PODSYNC_OK, "B: delta_since(0) is a snapshot")
        // More writer versions reach A, then B catches up from A.
        w.delete(tableA, 1)
        w.put(tableA, 3)
        try a.applyAll(try w.flushOK())
        w.put(tableB, 2)
        w.delete(tableB, 1)
        try a.applyAll(try w.flushOK())
        let (st, d) = a.deltaSince(b.version)
        expectStatus(st, PODSYNC_OK, "A serves delta_since(\(b.version))")
        try #require(d.count == 1)
        let pd = try parseFrame(d[0])
        #expect(pd.baseVersion == 2 && pd.stateVersion == 4)
        expectStatus(b.apply(d[0]).status, PODSYNC_OK, "A's delta on B")
        expectSameState(a, w)
        expectSameState(b, w)
        let (st0, none) = a.deltaSince(4)
        expectStatus(st0, PODSYNC_OK, "delta_since(current) on a replica")
        #expect(none.isEmpty)
        // B is on the writer's stream: the writer's next frame applies directly.
        w.put(tableA, 50)
        let f5 = try w.flushOne()
        expectStatus(b.apply(f5).status, PODSYNC_OK, "the writer's delta on B")
        expectStatus(a.apply(f5).status, PODSYNC_OK, "the writer's delta on A")
        expectSameState(b, w)
        expectSameState(a, w)
        // And A serves delta_since for every version it knows.
        for since in UInt64(1)...4 {
            let (dst, df) = a.deltaSince(since)
            if dst == PODSYNC_SNAPSHOT_REQUIRED {
                print("replica A: delta_since(\(since)) needs a snapshot (floor \(a.info().catchup_floor))")
                continue
            }
            expectStatus(dst, PODSYNC_OK, "A delta_since(\(since))")
            guard df.count == 1 else { continue }
            let c = try Store.replica(s)
            expectStatus(c.apply(snap).status, PODSYNC_OK, "C from A's old snapshot")
            if since <= 2 {
                expectStatus(c.apply(df[0]).status, PODSYNC_OK, "A delta_since(\(since)) on C at 2")
                expectSameState(c, w)
            }
        }
    }
}

/// Randomized replication against a reference model (a dictionary per table).
@Suite struct RandomizedReplicationTests {
    struct Config: Sendable, CustomTestStringConvertible {
        var seed: UInt64
        var maxFrameBytes: UInt64
        var horizon: UInt64
        var testDescription: String { "seed \(seed), max_frame_bytes \(maxFrameBytes), horizon \(horizon)" }
    }

    static let configs: [Config] = [
        Config(seed: 1, maxFrameBytes: 67_108_864, horizon: 65536),
        Config(seed: 2, maxFrameBytes: 1, horizon: 65536),
        Config(seed: 3, maxFrameBytes: 700, horizon: 5),
        Config(seed: 4, maxFrameBytes: 4096, horizon: 0),
    ]

    @Test(arguments: configs)
    func replicasFollowAModel(_ cfg: Config) throws {
        let defs = [
            tableADef, tableBDef,
            TableDef(id: 3, size: 1, alignment: 1, fields: [FieldSpec("b", PODSYNC_TYPE_U8, 0)]),
            TableDef(id: 64, size: 64, alignment: 64, fields: []),
        ]
        let s = try makeSchema(defs)
        let w = try Store.writer(s) {
            $0.maxFrameBytes = cfg.maxFrameBytes
            $0.tombstoneHorizon = cfg.horizon
            $0.streamID = 0x7000 + cfg.seed
        }
        let inOrder = try Store.replica(s)  // every frame, in order
        let lossy = try Store.replica(s)  // drops, duplicates; heals with delta_since / snapshot
        let chained = try Store.replica(s)  // follows inOrder through its catch-up frames
        var model: [UInt32: [UInt64: [UInt8]]] = [:]
        for d in defs { model[d.id] = [:] }
        var rng = SplitMix64(seed: cfg.seed)
        func rnd(_ n: UInt64) -> UInt64 { rng.next() % n }
        func key() -> UInt64 {
            switch rnd(20) {
            case 0: return 0
            case 1: return .max
            case 2: return .max - 1
            default: return rnd(150)
            }
        }
        func table() -> TableDef { defs[Int(rnd(UInt64(defs.count)))] }
        func value(_ t: TableDef, _ k: UInt64) -> [UInt8] { patternRecord(size: Int(t.size), key: k, salt: UInt32(truncatingIfNeeded: rng.next())) }
        var stats = (gaps: 0, dups: 0, heals: 0, snapshots: 0)

        func toModelDump() -> Dump {
            var d = Dump()
            for (t, rows) in model { d.tables[t] = rows.map { Row(key: $0.key, bytes: $0.value) }.sorted() }
            return d
        }

        for round in 0..<150 {
            for _ in 0..<Int(1 + rnd(40)) {
                let t = table()
                switch rnd(10) {
                case 0...4:
                    let k = key(), v = value(t, k)
                    #expect(w.put(t.id, k, v) >= 0)
                    model[t.id]![k] = v
                case 5, 6:
                    let k = key()
                    let st = w.delete(t.id, k)
                    expectStatus(st, model[t.id]![k] == nil ? PODSYNC_NOT_FOUND : PODSYNC_OK, "delete \(t.id)/\(k)")
                    model[t.id]![k] = nil
                case 7:
                    let keys = (0..<Int(1 + rnd(8))).map { _ in key() }
                    var recs: [UInt8] = []
                    var vals: [[UInt8]] = []
                    for k in keys {
                        let v = value(t, k)
                        recs += v
                        vals.append(v)
                    }
                    #expect(w.putMany(t.id, keys, recs) >= 0)
                    for (k, v) in zip(keys, vals) { model[t.id]![k] = v }
                case 8:
                    let keys = (0..<Int(1 + rnd(8))).map { _ in key() }
                    var expected = 0
                    var seen = Set<UInt64>()
                    for k in keys where model[t.id]![k] != nil && seen.insert(k).inserted { expected += 1 }
                    let (st, n) = w.deleteMany(t.id, keys)
                    expectStatus(st, PODSYNC_OK, "delete_many")
                    #expect(n == expected, "delete_many deleted \(n), model says \(expected)")
                    for k in keys { model[t.id]![k] = nil }
                default:
                    let k = key()
                    #expect(w.get(t.id, k) == model[t.id]![k], "get \(t.id)/\(k)")
                }
            }
            let frames = try w.flushOK()
            let want = toModelDump()
            #expect(w.dump() == want, "round \(round): writer state vs model")
            #expect(w.digest() == expectedDigest(want), "round \(round): writer digest vs FORMAT.md")
            for d in defs { #expect(w.count(d.id) == model[d.id]!.count) }

            // In order.
            for f in frames {
                let (st, _) = inOrder.apply(f)
                expectStatus(st, PODSYNC_OK, "round \(round): in-order apply")
            }
            #expect(inOrder.dump() == want, "round \(round): in-order replica vs model")
            #expect(inOrder.digest() == w.digest())

            // Lossy: drop, duplicate, then heal.
            for f in frames {
                switch rnd(6) {
                case 0: continue  // dropped
                case 1:
                    _ = lossy.apply(f)
                    let (st, _) = lossy.apply(f)
                    #expect(st == PODSYNC_DUPLICATE || st == PODSYNC_GAP, "replayed frame: \(sname(st))")
                    stats.dups += 1
                default:
                    let (st, _) = lossy.apply(f)
                    #expect(st == PODSYNC_OK || st == PODSYNC_GAP, "round \(round): lossy apply \(sname(st))")
                    if st == PODSYNC_GAP { stats.gaps += 1 }
                }
            }
            if rnd(3) == 0 || round == 149 {
                let lv = lossy.version
                if lv < w.version {
                    var (st, heal) = w.deltaSince(lv)
                    if st == PODSYNC_SNAPSHOT_REQUIRED {
                        (st, heal) = w.snapshot()
                        stats.snapshots += 1
                    }
                    expectStatus(st, PODSYNC_OK, "round \(round): catch-up since \(lv)")
                    try lossy.applyAll(heal)
                    stats.heals += 1
                    #expect(lossy.dump() == want, "round \(round): lossy replica after catch-up from \(lv)")
                    #expect(lossy.digest() == w.digest())
                }
            }

            // Chained: catches up from the in-order replica now and then.
            if rnd(4) == 0 || round == 149 {
                let cv = chained.version
                var (st, f) = inOrder.deltaSince(cv)
                if st == PODSYNC_SNAPSHOT_REQUIRED { (st, f) = inOrder.snapshot() }
                expectStatus(st, PODSYNC_OK, "round \(round): chained catch-up since \(cv)")
                try chained.applyAll(f)
                #expect(chained.dump() == want, "round \(round): chained replica")
            }
        }
        // Table views of the 64-aligned table are 64-byte aligned everywhere.
        for st in [w, inOrder, lossy, chained] {
            let v = st.view(64)
            if let p = v.records, !v.rows.isEmpty { #expect(Int(bitPattern: p) % 64 == 0, "table 64's records not 64-byte aligned") }
        }
        print("\(cfg.testDescription): v\(w.version), \(stats.gaps) gaps, \(stats.dups) replays, \(stats.heals) catch-ups (\(stats.snapshots) snapshots), floor \(w.info().catchup_floor)")
    }
}

/// docs/ABI.md "Threading": handle-less functions are thread-safe; distinct handles are independent.
@Suite struct ConcurrencyTests {
    @Test func handlelessFunctionsOnSharedBytes() async throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(1)...50 { w.put(tableA, k) }
        w.put(tableB, 1)
        let frame = try w.flushOne()
        let encoding = s.encode()
        let hash = s.hash()
        let results = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var failures = 0
                    for i in 0..<300 {
                        let (st, info) = validate(frame)
                        if st != PODSYNC_OK || info.state_version != 1 { failures += 1 }
                        let pst = peek(frame, size: 88).status
                        if pst != PODSYNC_OK { failures += 1 }
                        var out: OpaquePointer? = nil
                        let dst = encoding.withUnsafeBytes { podsync_schema_decode($0.baseAddress, $0.count, &out) }
                        if dst == PODSYNC_OK, let out {
                            var h: UInt64 = 0
                            _ = podsync_schema_hash(out, &h)
                            if h != hash { failures += 1 }
                            podsync_schema_free(out)
                        } else {
                            failures += 1
                        }
                        if String(cString: podsync_status_name(Int32(i % 7))) == "PODSYNC_UNKNOWN_STATUS" { failures += 1 }
                        withAligned(frame) { base, n in
                            var sec = podsync_frame_section()
                            sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
                            if podsync_frame_section_get(base, n, 0, &sec) != PODSYNC_OK || sec.put_count != 50 { failures += 1 }
                        }
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(results == 0, "\(results) failures of handle-less functions run concurrently")
    }

    @Test func distinctHandlesRunConcurrently() async throws {
        let total = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for t in 0..<4 {
                group.addTask {
                    let s = try standardSchema()
                    let w = try Store.writer(s) { $0.streamID = 100 + UInt64(t) }
                    let r = try Store.replica(s)
                    var rng = SplitMix64(seed: UInt64(t))
                    for round in 0..<100 {
                        for _ in 0..<20 {
                            let k = rng.next() % 500
                            if rng.next() % 3 == 0 { w.delete(tableA, k) } else { w.put(tableA, k, salt: UInt32(round)) }
                        }
                        try r.applyAll(try w.flushOK())
                    }
                    #expect(r.dump() == w.dump(), "thread \(t)")
                    #expect(r.digest() == w.digest(), "thread \(t)")
                    return w.version
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(total == 400)
    }

    @Test func aHandleMovesBetweenTasks() async throws {
        // Created here, used and freed in a detached task (handles are not bound to a thread).
        final class Box: @unchecked Sendable {
            var store: Store?
            let schema: Schema
            init(_ s: Schema, _ st: Store) { schema = s; store = st }
        }
        let s = try standardSchema()
        let box = Box(s, try Store.writer(s))
        box.store!.put(tableA, 1)
        let version = try await Task.detached {
            let w = box.store!
            w.put(tableA, 2)
            _ = try w.flushOne()
            let v = w.version
            box.store = nil  // frees it on this thread
            return v
        }.value
        #expect(version == 1)
    }
}
