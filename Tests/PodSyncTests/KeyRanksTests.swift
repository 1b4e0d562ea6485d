import CPodSync
import Testing

@testable import PodSyncCore

/// The KEY_RANKS transform (docs/FORMAT.md, "The KEY_RANKS transform (bit 5)"): a delta names the
/// keys the receiver holds by their rank among the table's seeds.
@Suite struct KeyRanksTests {
    static let table: UInt32 = 1
    static func schema() throws -> Schema {
        try makeSchema([TableDef(id: table, size: 16, alignment: 8, fields: [
            FieldSpec("id", PODSYNC_TYPE_U64, 0), FieldSpec("v", PODSYNC_TYPE_F32, 8, 2),
        ])])
    }

    static func record(_ key: UInt64, _ v: Float) -> [UInt8] {
        var r: [UInt8] = []
        r.appendLE(key)
        r.appendLE(v.bitPattern)
        r.appendLE((v * 2).bitPattern)
        return r
    }

    static func ranked(_ f: [UInt8]) -> Bool { frameInfo(f).transforms & UInt32(PODSYNC_TRANSFORM_KEY_RANKS) != 0 }

    /// Random 64-bit keys: once the keys have settled (two flushes without a key added or
    /// removed), updates go as ranks, fewer bytes than as key gaps, and the replica converges;
    /// a flush that adds or removes a key goes without ranks, and ranks resume after it.
    @Test func settledKeysGoAsRanks() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1; $0.frameFormat = 2 }
        let plain = try Store.writer(schema) {
            $0.compressionLevel = 1; $0.frameFormat = 2
            $0.transforms = UInt32(PODSYNC_TRANSFORM_ALL & ~PODSYNC_TRANSFORM_KEY_RANKS)
        }
        let r = try Store.replica(schema)
        var rng = SplitMix64(seed: 64)
        var keys = (0..<5000).map { _ in rng.next() }
        for k in keys {
            w.put(Self.table, k, Self.record(k, 1))
            plain.put(Self.table, k, Self.record(k, 1))
        }
        try r.applyAll(try w.flushOK())
        _ = try plain.flushOK()
        var rankedTicks: [Int] = []
        var bytes = 0, plainBytes = 0
        for tick in 1...12 {
            if tick == 6 {  // a new key and a deleted one: the keys change
                let fresh = rng.next()
                keys.append(fresh)
                w.put(Self.table, fresh, Self.record(fresh, 2))
                plain.put(Self.table, fresh, Self.record(fresh, 2))
                _ = w.delete(Self.table, keys[0])
                _ = plain.delete(Self.table, keys[0])
                keys.removeFirst()
            }
            for _ in 0..<100 {
                let k = keys[Int(rng.next() % UInt64(keys.count))]
                let v = Float(tick) + Float(rng.next() % 100) / 100
                w.put(Self.table, k, Self.record(k, v))
                plain.put(Self.table, k, Self.record(k, v))
            }
            let frames = try w.flushOK(), other = try plain.flushOK()
            if frames.contains(where: Self.ranked) { rankedTicks.append(tick) }
            #expect(!other.contains(where: Self.ranked))
            if tick >= 9 {
                bytes += frames.reduce(0) { $0 + $1.count }
                plainBytes += other.reduce(0) { $0 + $1.count }
            }
            try r.applyAll(frames)
            #expect(r.digest() == w.digest(), "tick \(tick)")
        }
        // Flush 0 added keys, flush 1 is the first after it, 2 the second: ranks from 2 on, none
        // at 6 (keys changed) nor at 7 (the first flush after), from 8 on again.
        #expect(rankedTicks == [2, 3, 4, 5, 8, 9, 10, 11, 12])
        #expect(bytes * 100 < plainBytes * 80, "\(bytes) bytes with ranks, \(plainBytes) without")
        #expect(r.dump() == w.dump())
    }

    /// Dense keys (0..N-1): their gaps are as short as ranks, so the writer does not rank.
    @Test func denseKeysAreNotRanked() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1; $0.frameFormat = 2 }
        for k: UInt64 in 0..<5000 { w.put(Self.table, k, Self.record(k, 1)) }
        _ = try w.flushOK()
        var rng = SplitMix64(seed: 1)
        for tick in 1...5 {
            for _ in 0..<50 {
                let k = rng.next() % 5000
                w.put(Self.table, k, Self.record(k, Float(tick)))
            }
            for f in try w.flushOK() { #expect(!Self.ranked(f)) }
        }
    }

    /// Ranks mean something only at exactly the base: a replica behind answers GAP, one that
    /// holds other keys (a lying frame's rank past its keys) refuses it with nothing changed.
    @Test func ranksNeedTheBase() throws {
        let schema = try Self.schema()
        let w = try Store.writer(schema) { $0.compressionLevel = 1; $0.frameFormat = 2 }
        let r = try Store.replica(schema)
        var rng = SplitMix64(seed: 7)
        let keys = (0..<3000).map { _ in rng.next() }
        for k in keys { w.put(Self.table, k, Self.record(k, 1)) }
        let first = try w.flushOK()
        try r.applyAll(first)
        var ticks: [[UInt8]] = []
        for tick in 1...4 {
            for i in 0..<50 { w.put(Self.table, keys[(tick * 50 + i) % keys.count], Self.record(keys[(tick * 50 + i) % keys.count], Float(tick + 1))) }
            ticks.append(try w.flushOne())
        }
        #expect(Self.ranked(ticks[2]) && Self.ranked(ticks[3]))
        try r.applyAll(Array(ticks[0..<2]))
        let before = r.dump()
        expectStatus(r.apply(ticks[3]).status, PODSYNC_GAP, "a ranked delta past the replica's version")
        #expect(r.dump() == before)
        try r.applyAll(Array(ticks[2...]))
        #expect(r.dump() == w.dump())
        // A replica of the same stream at that base but holding fewer keys (it was loaded with
        // part of the state by a lying writer): the last rank is past its keys.
        let small = try Store.writer(schema) { $0.compressionLevel = 1; $0.frameFormat = 2; $0.streamID = 0x5EED_0000_0000_0001 }
        for k in keys.prefix(10) { small.put(Self.table, k, Self.record(k, 1)) }
        let other = try Store.replica(schema)
        try other.applyAll(try small.flushOK())
        for i in 0..<2 {
            small.put(Self.table, keys[0], Self.record(keys[0], Float(9 + i)))
            try other.applyAll(try small.flushOK())
        }
        // `other` is at version 3 of the same stream id; the writer's version-4 delta ranks 3,000 keys.
        let rankedAt4 = ticks[2]
        #expect(frameInfo(rankedAt4).base_version == 3)
        let view = other.dump()
        expectStatus(other.apply(rankedAt4).status, PODSYNC_E_FRAME_MALFORMED, "ranks past the replica's 10 keys")
        #expect(other.dump() == view)
        #expect(other.version == 3)
    }

    /// Ranked deltas through what a stream meets: a replica that loses frames (GAP, catch-up by
    /// delta_since), one that joins by snapshot mid-stream, a durable replica and a durable writer
    /// closed and reopened between ranked flushes, and keys that change now and then.
    @Test func ranksThroughLossSnapshotsAndReopening() throws {
        let schema = try Self.schema()
        let wdir = temporaryDirectory("ranks-writer"), rdir = temporaryDirectory("ranks-replica")
        defer { removeTree(wdir); removeTree(rdir) }
        var o = Options()
        o.compressionLevel = 1
        o.frameFormat = 2
        var w = try #require(openStore(wdir, schema, role: PODSYNC_ROLE_WRITER, options: o, tables: schema.tables).store)
        var durable = try #require(openStore(rdir, schema, role: PODSYNC_ROLE_REPLICA, tables: schema.tables).store)
        let lossy = try Store.replica(schema)
        var late: Store? = nil
        var rng = SplitMix64(seed: 99)
        var keys = (0..<4000).map { _ in rng.next() }
        for k in keys { w.put(Self.table, k, Self.record(k, 0)) }
        var ranked = 0
        for tick in 0..<40 {
            if tick % 13 == 12 {  // the keys change now and then
                let fresh = rng.next()
                keys.append(fresh)
                w.put(Self.table, fresh, Self.record(fresh, 1))
            }
            if tick > 0 {
                for _ in 0..<80 {
                    let k = keys[Int(rng.next() % UInt64(keys.count))]
                    w.put(Self.table, k, Self.record(k, Float(tick) + Float(rng.next() % 1000) / 1000))
                }
            }
            let frames = try w.flushOK()
            ranked += frames.filter(Self.ranked).count
            try durable.applyAll(frames)
            for f in frames where tick % 4 != 3 {  // every fourth tick lost
                let st = lossy.apply(f).status
                if st == PODSYNC_GAP {
                    let catchUp = w.deltaSince(lossy.version)
                    expectStatus(catchUp.status, PODSYNC_OK, "delta_since")
                    try lossy.applyAll(catchUp.frames)
                    expectStatus(lossy.apply(f).status, PODSYNC_DUPLICATE, "tick \(tick) after catching up")
                } else {
                    expectStatus(st, PODSYNC_OK, "tick \(tick)")
                }
            }
            if tick == 20 {
                let joined = try Store.replica(schema)
                try joined.applyAll([try w.snapshotOne()])
                late = joined
            } else if let late {
                try late.applyAll(frames)
            }
            if tick == 25 {
                durable.close()
                durable = try #require(openStore(rdir, schema, role: PODSYNC_ROLE_REPLICA, tables: schema.tables).store)
            }
            if tick == 30 {
                w.close()
                let reopened = openStore(wdir, schema, role: PODSYNC_ROLE_WRITER, options: o, tables: schema.tables)
                w = try #require(reopened.store)
            }
        }
        #expect(ranked >= 20, "\(ranked) ranked frames")
        let truth = w.dump()
        #expect(durable.dump() == truth)
        #expect(late?.dump() == truth)
        let catchUp = w.deltaSince(lossy.version)
        try lossy.applyAll(catchUp.frames)
        #expect(lossy.dump() == truth)
        w.close()
        durable.close()
    }

    /// The sorted seeds and each slot's rank, built by the walk over the index (random keys, and
    /// keys after deletions moved slots) and by the fallback sort (keys whose seeds share their
    /// top bits, inserted in descending seed order: one long probe cluster far out of order).
    @Test func ranksAreTheSeedOrder() throws {
        var schema = PodSyncCore.Schema()
        try schema.addTable(id: 9, recordSize: 8, alignment: 8, fields: [])
        let salt = keySalt(table: 9)
        var rng = SplitMix64(seed: 5)
        let random = (0..<5000).map { _ in rng.next() }
        let clustered = (0..<3000).map { i in unfmix64(0x1234_0000_0000_0000 &+ UInt64(3000 - i)) ^ salt }
        for keys in [random, clustered] {
            var table = Table(schema: schema.tables[0])
            try table.reserve(keys.count)
            var record: UInt64 = 0
            for k in keys { _ = withUnsafeBytes(of: &record) { p in table.appendRecord(key: k, record: p.baseAddress!) } }
            // Remove some (the last record moves into each hole).
            for k in keys.prefix(100) { table.removeSlot(table.index.find(k)) }
            let built = table.buildRanks(slots: true)
            let valid = table.ranksValid && table.rankSlots
            #expect(built && valid)
            let n = table.count
            var previous: UInt64? = nil
            for r in 0..<n {
                let seed = table.rankSeeds[r]
                if let previous { #expect(previous < seed, "rank \(r)") }
                previous = seed
            }
            for slot in 0..<n {
                let key = table.keys[slot]
                let rank = Int(table.meta[slot].rank)
                let seed = table.rankSeeds[rank], hash = table.index.hash(key), back = table.unhash(seed)
                #expect(seed == hash && back == key, "slot \(slot)")
            }
            // A key added makes them stale.
            _ = withUnsafeBytes(of: &record) { table.appendRecord(key: 0xFEED, record: $0.baseAddress!) }
            let stale = !table.ranksValid
            #expect(stale)
        }
    }

    @Test func unfmixInvertsFmix() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<10_000 {
            let x = rng.next()
            #expect(unfmix64(fmix64(x)) == x)
        }
    }
}
