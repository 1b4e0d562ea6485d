// Subscriptions (include/podsync.h "Subscriptions", docs/FORMAT.md "Subscriptions"): feeds of a
// writer serve replicas that hold part of the stream. Tests/c/subscriptions.c runs the lossy,
// late and sleeping subscribers; these check the Swift API, the encoding and the frame rules.
import PodSyncCore
import Testing

@Suite struct SubscriptionTests {
    static func schema() throws -> PodSyncCore.Schema {
        var schema = PodSyncCore.Schema()
        try schema.addTable(id: 1, recordSize: 16, alignment: 8, fields: [Field("id", .u64, offset: 0), Field("value", .i64, offset: 8)])
        try schema.addTable(id: 2, recordSize: 8, alignment: 8, fields: [Field("n", .u64, offset: 0)])
        return schema
    }

    static func frames(_ store: borrowing PodSyncCore.Store) -> [[UInt8]] {
        (0..<store.frameCount).map { Array(store.frame($0)!) }
    }

    static func put(_ w: inout PodSyncCore.Store, _ table: UInt32, _ key: UInt64, _ value: Int64) throws {
        // Table 1: (id, value); table 2: the value alone.
        var record: (UInt64, Int64) = table == 1 ? (key, value) : (UInt64(bitPattern: value), 0)
        let size = table == 1 ? 16 : 8
        _ = try withUnsafeBytes(of: &record) { try w.put(table: table, key: key, record: $0.baseAddress!, size: size) }
    }

    static func apply(_ r: inout PodSyncCore.Store, _ frames: [[UInt8]]) throws -> [Int32] {
        try frames.map { f in try f.withUnsafeBytes { try r.apply($0) } }
    }

    /// The Swift API: a feed of key ranges follows the writer's flushes, its frames jump over
    /// versions that changed nothing in it, and a subscriber holds exactly the writer's records of
    /// its ranges, with the feed's digest.
    @Test func swiftFeedsServeSubscribers() throws {
        let schema = try Self.schema()
        for level: Int32 in [0, 1] {
            var o = StoreOptions()
            o.compressionLevel = level
            var w = PodSyncCore.Store(schema: schema, role: .writer, options: o)
            let sub = Subscription(tables: [.init(tableID: 1, ranges: [10...19, 40...49])])
            let feed = try w.feed(sub)
            #expect(try w.feed(sub) === feed, "the same subscription gives the same feed")
            var r = PodSyncCore.Store(schema: schema, role: .replica)
            try r.subscribe(sub)
            for k in UInt64(0)..<60 { try Self.put(&w, 1, k, Int64(k)) }
            try Self.put(&w, 2, 1, 1)
            #expect(try w.flush() == 1)
            #expect(feed.store.flushDue() == Status.flushDue)
            #expect(try feed.store.flush() == 1)
            #expect(try Self.apply(&r, Self.frames(feed.store)) == [Status.ok])
            #expect(try r.count(table: 1) == 20 && r.count(table: 2) == 0)
            #expect(r.version == w.version && r.digest == feed.store.digest)

            // Versions 2 and 3 change nothing in the ranges; version 4 changes key 15 and deletes 44.
            try Self.put(&w, 1, 5, 500)
            _ = try w.flush()
            try Self.put(&w, 2, 1, 2)
            _ = try w.flush()
            #expect(feed.store.flushDue() == Status.ok)
            #expect(try feed.store.flush() == 0, "nothing changed in the subset")
            try Self.put(&w, 1, 15, 1500)
            #expect(try w.delete(table: 1, key: 44) == Status.ok)
            _ = try w.flush()
            #expect(try feed.store.flush() == 1)
            let jump = Self.frames(feed.store)
            #expect(try Self.apply(&r, jump) == [Status.ok])
            #expect(r.version == 4 && w.version == 4 && r.digest == feed.store.digest)
            #expect(try r.get(table: 1, key: 15)?.load(fromByteOffset: 8, as: Int64.self) == 1500)
            #expect(try r.get(table: 1, key: 44) == nil && r.get(table: 1, key: 5) == nil)

            // A writer's own frames still go to replicas of the whole stream, never to r.
            try Self.put(&w, 1, 16, 1600)
            _ = try w.flush()
            let whole = Self.frames(w)
            #expect(throws: PodSyncError.self) { _ = try Self.apply(&r, whole) }
            #expect(r.version == 4)
            w.detachFeed(hash: feed.store.subscription!.hash)
            try Self.put(&w, 1, 17, 1700)
            _ = try w.flush()
            #expect(try feed.store.flush() == 1, "the change to key 16 reached it before it was detached")
            #expect(feed.store.version == 5)
            #expect(try feed.store.flush() == 0)
        }
    }

    /// Encodings: what check() refuses, and decode(encode(s)) == s.
    @Test func encodingRules() throws {
        let good = Subscription(tables: [.init(tableID: 1, ranges: [0...5, 7...UInt64.max]), .init(tableID: 2)], shardBits: 3, shards: [0, 5, 7])
        let bytes = try good.encoded()
        #expect(Array(bytes.prefix(8)) == Array("PSYNSUB1".utf8))
        #expect(try bytes.withUnsafeBytes { try Subscription.decode($0) } == good)
        let bad: [Subscription] = [
            Subscription(tables: []),
            Subscription(tables: [.init(tableID: 1, ranges: [0...5, 6...9])]),  // adjacent
            Subscription(tables: [.init(tableID: 1, ranges: [4...9, 0...1])]),  // descending
            Subscription(tables: [.init(tableID: 2), .init(tableID: 1)]),
            Subscription(tables: [.init(tableID: 1)], shardBits: 17, shards: [0]),
            Subscription(tables: [.init(tableID: 1)], shardBits: 2, shards: []),
            Subscription(tables: [.init(tableID: 1)], shardBits: 2, shards: [1, 1]),
            Subscription(tables: [.init(tableID: 1)], shardBits: 2, shards: [4]),
            Subscription(tables: [.init(tableID: 1)], shardBits: 0, shards: [0]),
        ]
        for s in bad { #expect(throws: PodSyncError.self, "\(s)") { _ = try s.encoded() } }
        // Every truncation and a count that claims more than the bytes hold are refused.
        for cut in 0..<bytes.count {
            #expect(throws: PodSyncError.self) { _ = try bytes.withUnsafeBytes { try Subscription.decode(UnsafeRawBufferPointer(rebasing: $0[0..<cut])) } }
        }
        var lying = bytes
        lying[9] = 0xFF  // shard_count's low byte
        #expect(throws: PodSyncError.self) { _ = try lying.withUnsafeBytes { try Subscription.decode($0) } }
        // A table the schema lacks.
        #expect(throws: PodSyncError.self) { _ = try SubscriptionState(Subscription(tables: [.init(tableID: 9)]), schema: try Self.schema()) }
    }

    /// Shards split every table: the feeds of all shards are disjoint and together hold the state,
    /// and a replica subscribed to one shard refuses another's frames with nothing changed.
    @Test func shardsPartitionTheState() throws {
        let schema = try Self.schema()
        var w = PodSyncCore.Store(schema: schema, role: .writer)
        for k in UInt64(0)..<500 { try Self.put(&w, 1, k &* 7919, Int64(k)); try Self.put(&w, 2, k, Int64(k)) }
        _ = try w.flush()
        var feeds: [Feed] = []
        for s in UInt32(0)..<8 { feeds.append(try w.feed(Subscription(tables: [.init(tableID: 1), .init(tableID: 2)], shardBits: 3, shards: [s]))) }
        var total = 0
        var digestSum: UInt64 = 0
        for f in feeds {
            total += try f.store.count(table: 1) + f.store.count(table: 2)
            digestSum &+= f.store.digest
            #expect(f.store.version == w.version)
        }
        #expect(total == 1000)
        #expect(digestSum == w.digest, "the digest is a sum over records: the shards' digests add up to the writer's")
        var r = PodSyncCore.Store(schema: schema, role: .replica)
        try r.subscribe(feeds[3].store.subscription!.subscription)
        _ = try feeds[5].store.snapshot()
        do {
            _ = try Self.apply(&r, Self.frames(feeds[5].store))
            Issue.record("another shard's snapshot was applied")
        } catch {
            #expect((error as? PodSyncError)?.code == Status.notSubscribed)
        }
        #expect(r.version == 0 && r.digest == 0)
        _ = try feeds[3].store.snapshot()
        #expect(try Self.apply(&r, Self.frames(feeds[3].store)) == [Status.ok])
        #expect(r.digest == feeds[3].store.digest)
        // A subscribed replica cannot subscribe again, or be promoted to write the whole stream.
        #expect(throws: PodSyncError.self) { try r.subscribe(Subscription(tables: [.init(tableID: 1)])) }
        #expect(throws: PodSyncError.self) { try r.promote(to: 1) }
    }

    /// V22: a frame that carries the subscription's hash but a key outside it (a forged or buggy
    /// producer) is refused as malformed, with nothing changed.
    @Test func aForeignKeyIsMalformed() throws {
        let schema = try Self.schema()
        var w = PodSyncCore.Store(schema: schema, role: .writer)
        let sub = Subscription(tables: [.init(tableID: 1, ranges: [100...199])])
        let feed = try w.feed(sub)
        var r = PodSyncCore.Store(schema: schema, role: .replica)
        try r.subscribe(sub)
        try Self.put(&w, 1, 150, 1)
        try Self.put(&w, 1, 300, 3)
        _ = try w.flush()
        #expect(try feed.store.flush() == 1)
        var frame = try #require(Self.frames(feed.store).first)
        // Key 150 becomes 250 (outside the ranges): find its bytes, rewrite them, reseal.
        let needle = withUnsafeBytes(of: UInt64(150).littleEndian) { Array($0) }
        let at = try #require((0...(frame.count - 8)).first { Array(frame[$0..<($0 + 8)]) == needle && $0 >= 40 })
        withUnsafeBytes(of: UInt64(250).littleEndian) { for i in 0..<8 { frame[at + i] = $0[i] } }
        recomputeChecksumV2(&frame)
        do {
            _ = try Self.apply(&r, [frame])
            Issue.record("a frame with a key outside its subscription was applied")
        } catch {
            #expect((error as? PodSyncError)?.code == Status.frameMalformed, "\(error)")
        }
        #expect(try r.version == 0 && r.count(table: 1) == 0)
        #expect(try Self.apply(&r, Self.frames(feed.store)) == [Status.ok], "the genuine frame applies")
    }
}
