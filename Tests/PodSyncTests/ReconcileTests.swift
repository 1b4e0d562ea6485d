// Reconciliation (include/podsync.h "Reconciliation", docs/FORMAT.md "Repair frames"): the hash
// tree kept with the digest, summaries, the descent, repair frames and what they refuse.
import CPodSync
import CXXHash
import Testing

extension Store {
    func summaryFrames(level: UInt32 = 0) -> (status: Int32, frames: [[UInt8]]) {
        var n = -1
        let st = podsync_store_summary(handle, level, &n)
        return (st, st >= 0 ? outbox(n) : [])
    }

    func reconcileFrames(_ message: [UInt8]) -> (status: Int32, frames: [[UInt8]]) {
        var n = -1
        let st = withAligned(message) { podsync_store_reconcile(handle, $0, $1, &n) }
        return (st, st >= 0 ? outbox(n) : [])
    }
}

/// What one reconciliation cost.
struct Heal {
    var messages = 0
    var summaryBytes = 0
    var repairBytes = 0
    var status: Int32 = PODSYNC_OK
    var repaired = false
}

let flagRepair: UInt16 = 0x8
let flagSummary: UInt16 = 0x10

/// Runs a reconciliation of `replica` against `responder` to its end: a repair frame applied, or
/// nothing to repair. Fails the test on an unexpected status.
func heal(_ replica: Store, from responder: Store, level: UInt32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> Heal {
    var h = Heal()
    let (st, first) = replica.summaryFrames(level: level)
    try #require(st == PODSYNC_OK && first.count == 1, "summary: \(sname(st)) \(replica.errmsg)", sourceLocation: sourceLocation)
    var message = first[0]
    for _ in 0..<16 {
        h.messages += 1
        h.summaryBytes += message.count
        let (rs, answer) = responder.reconcileFrames(message)
        try #require(rs == PODSYNC_OK, "responder: \(sname(rs)) \(responder.errmsg)", sourceLocation: sourceLocation)
        guard let frame = answer.first else { return h }
        if frame.u16(6) & flagRepair != 0 {
            h.repairBytes = frame.count
            h.status = replica.apply(frame).status
            h.repaired = true
            return h
        }
        #expect(frame.u16(6) & flagSummary != 0, "the responder answers with a summary or a repair", sourceLocation: sourceLocation)
        h.messages += 1
        h.summaryBytes += frame.count
        let (qs, next) = replica.reconcileFrames(frame)
        try #require(qs == PODSYNC_OK && next.count == 1, "replica: \(sname(qs)) \(replica.errmsg)", sourceLocation: sourceLocation)
        message = next[0]
    }
    Issue.record("the reconciliation did not end in 16 rounds", sourceLocation: sourceLocation)
    return h
}

/// The bucket of (table, key) at `bits` bits, and a dump's bucket hashes computed from FORMAT.md.
func bucketOf(table: UInt32, key: UInt64, bits: Int) -> UInt64 {
    bits == 0 ? 0 : fmix64(key ^ (UInt64(table) &* 0x9E37_79B9_7F4A_7C15)) >> UInt64(64 - bits)
}

func expectedBucketHashes(_ dump: Dump, bits: Int) -> [UInt64] {
    var hashes = [UInt64](repeating: 0, count: 1 << bits)
    for (table, rows) in dump.tables {
        for row in rows { hashes[Int(bucketOf(table: table, key: row.key, bits: bits))] &+= recordDigest(table: table, key: row.key, record: row.bytes) }
    }
    return hashes
}

/// The hashes a whole-level summary carries (its bucket block names every bucket: one run).
func summaryHashes(_ message: [UInt8]) -> [UInt64] {
    let headerLength = Int(message[5]) * 8
    // The bucket block of a whole level is one run (gap 0, count 16^level): at most 8 bytes.
    let hashes = message[(headerLength + 8)...]
    return stride(from: hashes.startIndex, to: hashes.endIndex, by: 8).map { i in
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(hashes[i + $1]) << UInt64(8 * $1) }
    }
}

@Suite struct ReconcileTests {
    /// The tree follows the digest through flushes, deletes, snapshots and applies: a summary's
    /// hashes equal those computed from the tables, and sum to the digest.
    @Test func theTreeFollowsEveryChange() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.compressionLevel = 1 }
        let r = try Store.replica(s)
        var rng = SplitMix64(seed: 5)
        for round in 0..<6 {
            for _ in 0..<300 { w.put(tableA, rng.next() % 3000, salt: UInt32(round)) }
            for _ in 0..<30 { w.put(tableB, rng.next() % 400, salt: UInt32(round)) }
            for _ in 0..<60 { _ = w.delete(tableA, rng.next() % 3000) }
            try r.applyAll(try w.flushOK())
            // Pending writes are not in a writer's tree (it describes the flushed state).
            for _ in 0..<50 { w.put(tableA, rng.next() % 3000, salt: 99) }
            for store in [r] {
                for level: UInt32 in [1, 2, 3] {
                    let (st, frames) = store.summaryFrames(level: level)
                    expectStatus(st, PODSYNC_OK)
                    let hashes = summaryHashes(try #require(frames.first))
                    #expect(hashes == expectedBucketHashes(store.dump(), bits: 4 * Int(level)), "round \(round), level \(level)")
                    #expect(hashes.reduce(0, &+) == store.digest())
                }
            }
            let (_, wf) = w.summaryFrames(level: 2)
            #expect(summaryHashes(wf[0]) == expectedBucketHashes(r.dump(), bits: 8), "the writer's tree is its flushed state")
            _ = try w.flushOK()
            try r.applyAll(try w.deltaSince(r.version).frames)
        }
        // A snapshot rebuilds it.
        let late = try Store.replica(s)
        try late.applyAll([try w.snapshotOne()])
        let (_, lf) = late.summaryFrames(level: 3)
        #expect(summaryHashes(lf[0]) == expectedBucketHashes(w.dump(), bits: 12))
    }

    /// Chunked snapshots (staged, and filled in place) and a one-way replica's refresh build the
    /// same tree as the records they leave.
    @Test func chunksAndRefreshesKeepTheTree() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 3000)
        for inPlace in [false, true] {
            let r = try Store.replica(s) { if inPlace { $0.flags |= PODSYNC_OPT_FILL_IN_PLACE } }
            for c in try w.beginSnapshot(8192).all() { _ = r.apply(c) }
            #expect(r.dump() == w.dump())
            let (_, f) = r.summaryFrames(level: 3)
            #expect(summaryHashes(f[0]) == expectedBucketHashes(r.dump(), bits: 12), "in place: \(inPlace)")
        }
        let rw = try Store.writer(s) { $0.refreshFlushes = 4; $0.streamID = 0xABC }
        let oneWay = try Store.replica(s) { $0.flags |= PODSYNC_OPT_ONE_WAY }
        var rng = SplitMix64(seed: 3)
        for tick in 0..<40 {
            for _ in 0..<50 { rw.put(tableA, rng.next() % 800, salt: UInt32(tick)) }
            _ = rw.delete(tableA, rng.next() % 800)
            let frames = try rw.flushOK()
            if tick % 3 != 1 { for f in frames { _ = oneWay.apply(f) } }  // a lossy one-way link
            let (_, f) = oneWay.summaryFrames(level: 2)
            #expect(summaryHashes(f[0]) == expectedBucketHashes(oneWay.dump(), bits: 8), "tick \(tick)")
        }
    }

    /// A replica that applied another writer's frames (same stream id) diverges; a reconciliation
    /// against the real writer repairs it in a few messages and it continues with deltas.
    @Test func aDivergedReplicaIsRepairedAndContinues() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let impostor = try Store.writer(s)  // same stream id (the test options fix it)
        var rng = SplitMix64(seed: 9)
        var keys: [UInt64] = []
        for _ in 0..<5000 { keys.append(rng.next()) }
        for store in [w, impostor] {
            for k in keys { store.put(tableA, k) }
            _ = try store.flushOK()
        }
        let r = try Store.replica(s)
        try r.applyAll([try w.snapshotOne()])
        for k in keys.prefix(30) { w.put(tableA, k, salt: 1) }
        for k in keys[100..<120] { impostor.put(tableA, k, salt: 2) }
        _ = try w.flushOK()
        try r.applyAll(try impostor.flushOK())
        for k in keys[200..<210] { w.put(tableA, k, salt: 3) }
        let frame = try w.flushOne()
        expectStatus(r.apply(frame).status, PODSYNC_E_DIGEST_MISMATCH, "the replica finds it diverged")
        expectStatus(r.apply(frame).status, PODSYNC_E_DIVERGED)

        let h = try heal(r, from: w)
        #expect(h.repaired)
        expectStatus(h.status, PODSYNC_OK, "repair")
        #expect(r.dump() == w.dump() && r.digest() == w.digest() && r.version == w.version)
        #expect(h.messages <= 8, "\(h.messages) messages")
        // About 60 records differ: the repair carries tens of them, not 5,000.
        #expect(h.repairBytes < 5000 * 48 / 20, "repair of \(h.repairBytes) bytes")
        // It continues with deltas.
        w.put(tableA, keys[4000], salt: 4)
        try r.applyAll(try w.flushOK())
        #expect(r.dump() == w.dump())
    }

    /// Far behind the catch-up floor, restored from an old state, or of another term: repaired.
    @Test func replicasBelowTheFloorAndOfAnotherTermAreRepaired() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.tombstoneHorizon = 2; $0.maxTombstones = 4 }
        for k in UInt64(0)..<4000 { w.put(tableA, k) }
        _ = try w.flushOK()
        let old = try Store.replica(s)
        try old.applyAll([try w.snapshotOne()])
        for v in 1...10 {
            for k in UInt64(0)..<8 { w.put(tableA, k &* 97 &+ UInt64(v), salt: UInt32(v)) }
            _ = w.delete(tableA, UInt64(3000 + v))
            _ = try w.flushOK()
        }
        let (st, _) = w.deltaSince(old.version)
        expectStatus(st, PODSYNC_SNAPSHOT_REQUIRED, "the old replica is below the catch-up floor")
        let h = try heal(old, from: w)
        expectStatus(h.status, PODSYNC_OK)
        #expect(old.dump() == w.dump() && old.version == w.version)

        // A promoted replica writes term 1; a replica that followed the old writer past the
        // promotion point has history of term 0 that term 1 does not have.
        let a = try Store.replica(s)
        let c = try Store.replica(s)
        try a.applyAll([try w.snapshotOne()])
        try c.applyAll([try w.snapshotOne()])
        w.put(tableA, 5, salt: 50)
        try c.applyAll(try w.flushOK())  // c is past a
        expectStatus(podsync_store_promote(a.handle, 1), PODSYNC_OK)
        a.put(tableA, 6, salt: 60)
        let next = try a.flushOne()
        expectStatus(c.apply(next).status, PODSYNC_E_HISTORY_DIVERGED)
        let h2 = try heal(c, from: a)
        expectStatus(h2.status, PODSYNC_OK)
        #expect(c.dump() == a.dump() && c.version == a.version && c.info().term == 1)
        a.put(tableA, 7, salt: 70)
        try c.applyAll(try a.flushOK())
        #expect(c.dump() == a.dump())
        // The old writer's frames are fenced now.
        w.put(tableA, 8, salt: 80)
        expectStatus(c.apply(try w.flushOne()).status, PODSYNC_E_TERM_FENCED)
    }

    /// In sync: nothing to repair. A repair for another state is refused with the state as it was.
    @Test func inSyncNeedsNothingAndStaleRepairsAreRefused() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(0)..<500 { w.put(tableA, k) }
        let r = try Store.replica(s)
        try r.applyAll(try w.flushOK())
        let h = try heal(r, from: w)
        #expect(!h.repaired && h.messages == 1, "in sync after one message")

        let impostor = try Store.writer(s) { $0.streamID = 0x99 }
        for k in UInt64(0)..<500 { impostor.put(tableA, k, salt: k < 5 ? 1 : 0) }
        _ = try impostor.flushOK()
        // Drive the exchange by hand; the replica changes before the repair arrives.
        var message = try #require(r.summaryFrames(level: 1).frames.first)
        var repair: [UInt8]? = nil
        for _ in 0..<8 {
            let answer = try #require(impostor.reconcileFrames(message).frames.first)
            if answer.u16(6) & flagRepair != 0 {
                repair = answer
                break
            }
            message = try #require(r.reconcileFrames(answer).frames.first)
        }
        let frame = try #require(repair)
        w.put(tableA, 1, salt: 7)
        try r.applyAll(try w.flushOK())
        let before = Observed(r)
        expectStatus(r.apply(frame).status, PODSYNC_E_REPAIR_STALE)
        #expect(Observed(r) == before)
        // A fresh exchange with the other stream's writer brings it there (another stream).
        let h2 = try heal(r, from: impostor)
        expectStatus(h2.status, PODSYNC_OK)
        #expect(r.dump() == impostor.dump() && r.info().stream_id == 0x99)
    }

    /// Same records, older version (the writer changed a record and changed it back): a repair of
    /// one bucket brings the replica to the writer's version, in one answer. A replica that follows
    /// no stream has nothing to answer with.
    @Test func sameContentOlderVersionEndsInOneRepair() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(0)..<400 { w.put(tableA, k) }
        let r = try Store.replica(s)
        try r.applyAll(try w.flushOK())
        w.put(tableA, 7, salt: 1)
        _ = try w.flushOK()
        w.put(tableA, 7)
        _ = try w.flushOK()
        #expect(w.digest() == r.digest() && w.version == r.version + 2)
        let h = try heal(r, from: w)
        #expect(h.repaired && h.messages == 1, "\(h.messages) messages")
        expectStatus(h.status, PODSYNC_OK)
        #expect(r.version == w.version && r.dump() == w.dump())
        let empty = try Store.replica(s)
        let summary = try #require(r.summaryFrames(level: 1).frames.first)
        expectStatus(empty.reconcileFrames(summary).status, PODSYNC_E_INVALID_ARGUMENT, "a replica of no stream does not answer")
    }

    /// A writer with pending writes answers for its flushed state; the repaired replica then takes
    /// the next flush.
    @Test func aWriterWithPendingWritesRepairsToItsFlushedState() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(0)..<2000 { w.put(tableA, k) }
        _ = try w.flushOK()
        let r = try Store.replica(s)
        try r.applyAll([try w.snapshotOne()])
        for k in UInt64(0)..<40 { w.put(tableA, k &* 31, salt: 2) }
        _ = w.delete(tableA, 1999)
        _ = try w.flushOK()  // the replica misses it
        for k in UInt64(0)..<40 { w.put(tableA, k &* 17, salt: 3) }  // pending
        _ = w.delete(tableA, 1998)
        w.put(tableA, 5000)
        let h = try heal(r, from: w)
        expectStatus(h.status, PODSYNC_OK)
        try r.applyAll(try w.flushOK())
        #expect(r.dump() == w.dump() && r.digest() == w.digest())
    }

    /// Bad input: a summary given to apply, a frame given to reconcile, forged bucket blocks, too
    /// many buckets; each refused with a status and the state unchanged.
    @Test func badMessagesAreRefused() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(0)..<100 { w.put(tableA, k) }
        let frame = try w.flushOne()
        let r = try Store.replica(s)
        let summary = try #require(r.summaryFrames(level: 2).frames.first)
        let before = Observed(r)
        expectStatus(r.apply(summary).status, PODSYNC_E_INVALID_ARGUMENT, "a summary is not applied")
        expectStatus(w.reconcileFrames(frame).status, PODSYNC_E_INVALID_ARGUMENT, "a frame is not a summary")
        expectStatus(r.summaryFrames(level: 6).status, PODSYNC_E_INVALID_ARGUMENT)
        // Forged: a run count of 2^20 + 1 buckets (gap 0, count 2^20 + 1) at level 5 (bits 20).
        let headerLength = Int(summary[5]) * 8
        var forged = summary
        // The block starts at headerLength: write run (0, 2^20 + 1) as LEB128 over the original run.
        let run: [UInt8] = [0x00, 0x81, 0x80, 0x40]
        forged.replaceSubrange(headerLength..<(headerLength + 4), with: run)
        var tooMany = forged
        tooMany[tooMany.count - 1] ^= 0  // unchanged bytes: the checksum must be recomputed
        // The checksum of format 2 is seeded with the first 8 bytes.
        func reseal(_ f: inout [UInt8]) {
            let seed = f.u64(0)
            let sum = f[16...].withUnsafeBytes { XXH3_64bits_withSeed($0.baseAddress, $0.count, seed) }
            f.setU64(8, sum)
        }
        reseal(&tooMany)
        let st = w.reconcileFrames(tooMany).status
        #expect(st == PODSYNC_E_FRAME_MALFORMED || st == PODSYNC_E_FRAME_TOO_LARGE, "forged run: \(sname(st))")
        var flipped = summary
        flipped[headerLength + 9] ^= 0x40
        expectStatus(w.reconcileFrames(flipped).status, PODSYNC_E_FRAME_CHECKSUM)
        expectStatus(w.reconcileFrames(Array(summary.prefix(40))).status, PODSYNC_E_FRAME_TRUNCATED)
        #expect(Observed(r) == before)
        // A frame of another schema.
        let other = try makeSchema([TableDef(id: 77, size: 8, alignment: 8, fields: [])])
        let o = try Store.replica(other)
        let os = try #require(o.summaryFrames(level: 1).frames.first)
        expectStatus(w.reconcileFrames(os).status, PODSYNC_E_SCHEMA_MISMATCH)
    }

    /// A durable replica logs the repair it applied: reopened, it replays it to the same state, and
    /// continues with the writer's deltas.
    @Test func aDurableReplicaReplaysItsRepair() throws {
        let dir = temporaryDirectory("repair")
        defer { removeTree(dir) }
        let s = try standardSchema()
        let w = try Store.writer(s)
        let impostor = try Store.writer(s)
        for store in [w, impostor] {
            for k in UInt64(0)..<3000 { store.put(tableA, k &* 7919) }
            _ = try store.flushOK()
        }
        let opened = openStore(dir, s, role: PODSYNC_ROLE_REPLICA, tables: s.tables)
        let r = try #require(opened.store)
        try r.applyAll([try w.snapshotOne()])
        for k in UInt64(0)..<10 { impostor.put(tableA, k &* 7919, salt: 9) }
        for k in UInt64(0)..<10 { w.put(tableA, (k &+ 50) &* 7919, salt: 7) }
        _ = try w.flushOK()  // version 2, lost
        try r.applyAll(try impostor.flushOK())  // the impostor's version 2 instead
        for k in UInt64(0)..<10 { w.put(tableA, (k &+ 100) &* 7919, salt: 8) }
        expectStatus(r.apply(try w.flushOne()).status, PODSYNC_E_DIGEST_MISMATCH)
        let h = try heal(r, from: w)
        expectStatus(h.status, PODSYNC_OK)
        #expect(r.dump() == w.dump())
        r.close()
        let reopened = openStore(dir, nil, tables: s.tables)
        expectStatus(reopened.status, PODSYNC_OK, "reopen")
        let again = try #require(reopened.store)
        defer { again.close() }
        #expect(again.dump() == w.dump() && again.version == w.version && again.digest() == w.digest())
        w.put(tableA, 5, salt: 1)
        try again.applyAll(try w.flushOK())
        #expect(again.dump() == w.dump())
    }

    /// Repair bytes against a snapshot: 20,000 records, 20 differing.
    @Test func aRepairIsSmallAgainstASnapshot() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        var rng = SplitMix64(seed: 77)
        var keys: [UInt64] = []
        for _ in 0..<20000 { keys.append(rng.next()) }
        for k in keys { w.put(tableA, k) }
        _ = try w.flushOK()
        let r = try Store.replica(s)
        let snapshot = try w.snapshotOne()
        try r.applyAll([snapshot])
        for i in 0..<20 { w.put(tableA, keys[i * 997], salt: 5) }
        _ = try w.flushOK()
        let h = try heal(r, from: w)
        expectStatus(h.status, PODSYNC_OK)
        #expect(r.dump() == w.dump())
        let ideal = 20 * 48
        #expect(h.repairBytes <= 2 * ideal + 512, "repair \(h.repairBytes) bytes, ideal \(ideal)")
        #expect(h.repairBytes + h.summaryBytes < snapshot.count / 10, "repair \(h.repairBytes) + summaries \(h.summaryBytes) vs snapshot \(snapshot.count)")
    }
}
