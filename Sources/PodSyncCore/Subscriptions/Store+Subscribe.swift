/// Subscribed replicas: a replica that holds part of a stream applies only frames of its
/// subscription, and a replica of the whole stream only frames of the whole stream.
extension Store {
    /// Makes this empty replica a subscriber of `subscription` (once; before it holds anything).
    public mutating func subscribe(_ subscription: Subscription) throws(PodSyncError) {
        guard role == .replica else { throw PodSyncError(Status.wrongRole, "subscribe is for replicas; a writer serves subscriptions with feeds") }
        guard self.subscription == nil else { throw .invalid("this replica has a subscription already") }
        guard files == nil else { throw .invalid("a durable replica cannot subscribe in this version") }
        guard !bound && version == 0 && liveRecords == 0 && staging == nil else {
            throw .invalid("only a replica that holds nothing and follows no stream yet can subscribe")
        }
        let state = try SubscriptionState(subscription, schema: schema)
        self.subscription = state
        spreadTables()
        generation &+= 1
    }

    /// The shards this store holds, when its subscription has a shard filter.
    var shardSpread: ShardSpread? {
        guard let s = subscription?.subscription, s.shardBits > 0 else { return nil }
        return ShardSpread(bits: s.shardBits, held: s.shards)
    }

    /// Spreads the held shards over the key indexes of the (empty) tables: their keys share the
    /// top bits of their hashes, which would otherwise crowd into a few buckets.
    mutating func spreadTables() {
        guard let spread = shardSpread else { return }
        for t in 0..<tableCount {
            tables[t].index.setSpread(spread)
            tables[t].pendingDeletes.setSpread(spread)
        }
    }

    /// Step V22: every key a frame of this store's subscription puts or deletes belongs to it.
    func checkMembers(_ sections: [SectionView]) throws(PodSyncError) {
        guard let s = subscription else { return }
        for section in sections {
            let t = section.tableIndex
            func check(_ keys: UnsafeRawPointer, _ count: Int) throws(PodSyncError) {
                for i in 0..<count {
                    let key = keys.le(8 &* i, as: UInt64.self)
                    guard s.contains(table: t, key: key, seed: tables[t].index.hash(key)) else {
                        throw .malformed("table \(section.tableID) key \(key) is outside the frame's subscription")
                    }
                }
            }
            try check(section.putKeys, section.putCount)
            try check(section.deleteKeys, section.deleteCount)
        }
    }

    /// A frame or message must describe the same part of the stream as this store holds.
    func checkSubscription(_ header: FrameHeader) throws(PodSyncError) {
        let mine = subscription?.hash
        guard header.subscription != mine else { return }
        switch (header.subscription, mine) {
        case (nil, _):
            throw PodSyncError(Status.notSubscribed, "the frame is of the whole stream; this store holds the part of subscription \(hex(mine ?? 0))")
        case (let theirs?, nil):
            throw PodSyncError(Status.notSubscribed, "the frame is of subscription \(hex(theirs)); this store holds the whole stream")
        case (let theirs?, let mine?):
            throw PodSyncError(Status.notSubscribed, "the frame is of subscription \(hex(theirs)); this store holds subscription \(hex(mine))")
        }
    }
}
