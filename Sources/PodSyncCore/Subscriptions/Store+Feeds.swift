/// Feeds: a writer serves each distinct subscription from a store holding the subset, which
/// follows the writer's flushes (it takes the flushed changes of its subset as its own pending
/// batch) and produces the subscription's frames with the ordinary calls, encoded once for every
/// replica of that subscription.
///
/// A feed is a writer whose versions are its writer's: its flush turns what changed since its
/// last frame into one delta from that frame's version to the writer's version (docs/FORMAT.md,
/// "Subscriptions": a subscriber's version jumps over versions that changed nothing in it).

/// How a writer reaches one of its feeds: the feed's store lives in its owner's object (a C handle,
/// or a `Feed`), reached through `access`.
public final class FeedLink {
    public let hash: UInt64
    /// The object that holds the feed's store (what `access` reaches).
    public let owner: AnyObject
    let access: (_ body: (inout Store) -> Void) -> Void

    public init(hash: UInt64, owner: AnyObject, access: @escaping (_ body: (inout Store) -> Void) -> Void) {
        self.hash = hash
        self.owner = owner
        self.access = access
    }
}

/// What a feed's writer left it.
struct FeedState {
    /// The writer's version its pending batch reaches (the version of its next frame).
    var target: UInt64
}

/// A feed owned by Swift code (`Store.feed(_:)`); the C API boxes feeds in its handles instead.
public final class Feed {
    public var store: Store
    init(_ store: consuming Store) { self.store = store }
}

extension Store {
    /// Whether this store is a feed (its writes come from its writer).
    public var isFeed: Bool { feedState != nil }

    /// Refuses a host's write on a feed.
    func refuseIfFeed(_ operation: StaticString) throws(PodSyncError) {
        guard feedState == nil else {
            throw PodSyncError(Status.wrongRole, "\(operation) on a feed: a feed is written by its writer's flushes")
        }
    }

    /// Checks that this store can serve feeds.
    public func requireFeedParent() throws(PodSyncError) {
        guard feedState == nil && subscription == nil else {
            throw PodSyncError(Status.wrongRole, "a feed (or a store of part of a stream) serves no feeds of its own")
        }
        // A relay passes on only a state its writer had.
        if role == .replica { try refuseIfDiverged() }
    }

    /// The feed of the subscription with this hash, if there is one.
    public func feedLink(hash: UInt64) -> FeedLink? { feeds.first { $0.hash == hash } }

    /// A new feed store for `subscription`: the records of the subset as of the last flush (a
    /// writer) or apply (a relay: a replica of the whole stream), at this store's version (its
    /// catch-up floor: older versions are not described).
    public func makeFeedStore(_ subscription: SubscriptionState) throws(PodSyncError) -> Store {
        try requireFeedParent()
        var o = options
        o.refreshFlushes = 0
        o.refreshMs = 0
        o.frameFormat = HeaderV2.formatVersion
        o.streamID = streamID
        o.maxRecords = 0  // the writer's limit bounds the subset
        o.manualClock = true  // a feed's flushes are its writer's; it needs no clock
        var feed = Store(schema: schema, role: .writer, options: o)
        feed.subscription = subscription
        feed.spreadTables()
        feed.term = term
        feed.history = history
        feed.feedState = FeedState(target: version)
        for t in 0..<tableCount where subscription.lists(table: t) {
            // The flushed state: linked slots as of the last flush, plus keys deleted since;
            // counted first so the feed's table is sized once.
            let source = tables + t
            let everySlot = role == .replica  // a replica has no pending batch
            func forEachFlushed(_ body: (UInt64, UnsafeRawPointer) -> Void) {
                for slot in 0..<source.pointee.count where everySlot || source.pointee.meta[slot].version != 0 {
                    let key = source.pointee.keys[slot]
                    if subscription.contains(table: t, key: key, seed: source.pointee.index.hash(key)) {
                        body(key, source.pointee.flushedRecord(slot))
                    }
                }
                for d in 0..<source.pointee.dirty.count where source.pointee.flushedOnlyInPreimage(d) {
                    let pre = source.pointee.dirty[d].pre
                    let key = source.pointee.preimages.keys[Int(pre)]
                    if subscription.contains(table: t, key: key, seed: source.pointee.index.hash(key)) {
                        body(key, source.pointee.preimages.record(pre))
                    }
                }
            }
            var members = 0
            forEachFlushed { _, _ in members &+= 1 }
            guard members > 0 else { continue }
            try feed.tables[t].reserve(members, slack: Table.slack(for: members))
            try feed.tables[t].reserveWrites(added: members, changed: members)
            let target = feed.tables + t
            forEachFlushed { key, record in target.pointee.insertDirty(key: key, record: record) }
        }
        if version > 0 {
            // The load becomes the feed's state at the writer's version: flushed once, unsent and
            // uncompressed; nothing older can be described.
            let level = feed.options.compressionLevel
            feed.options.compressionLevel = 0
            _ = try feed.flushFrames()
            feed.options.compressionLevel = level
            feed.outbox.clear()
            feed.metrics = Metrics()
            feed.catchupFloor = feed.version
            feed.forgetAllTombstones(floor: feed.version)
        }
        return feed
    }

    /// Registers a feed made by `makeFeedStore`, reached through `link`, to follow every flush.
    public mutating func attachFeed(_ link: FeedLink) throws(PodSyncError) {
        try requireFeedParent()
        guard feedLink(hash: link.hash) == nil else { throw .invalid("a feed of this subscription is attached already") }
        feeds.append(link)
        // A relay learns what each apply changed from its change events.
        if role == .replica { changes.enabled = true }
    }

    /// Stops updating the feed of this subscription (its store keeps what it has).
    public mutating func detachFeed(hash: UInt64) {
        feeds.removeAll { $0.hash == hash }
        if role == .replica { changes.enabled = changes.requested || !feeds.isEmpty }
    }

    /// A feed for Swift code: the same feed for the same subscription. Release it with
    /// `detachFeed(hash:)` when no replica needs it.
    public mutating func feed(_ subscription: Subscription) throws(PodSyncError) -> Feed {
        let state = try SubscriptionState(subscription, schema: schema)
        if let existing = feedLink(hash: state.hash)?.owner as? Feed { return existing }
        let feed = Feed(try makeFeedStore(state))
        try attachFeed(FeedLink(hash: state.hash, owner: feed) { body in body(&feed.store) })
        return feed
    }

    // MARK: Following the writer's flushes

    /// Before a flush changes anything: room in every feed for the flush's changes (each feed may
    /// take all of them), and for the routing lists.
    mutating func reserveFeeds(_ work: [TableWork]) throws(PodSyncError) {
        var failure: PodSyncError? = nil
        var most = 0
        for w in work { most = max(most, max(w.puts, w.deletes)) }
        guard feedRouting.reserve(most) else { throw PodSyncError(Status.noMemory, "cannot allocate the changes of the feeds") }
        for link in feeds {
            link.access { feed in
                for w in work where failure == nil && (feed.subscription?.lists(table: w.table) ?? false) {
                    do throws(PodSyncError) {
                        try feed.tables[w.table].reserveWrites(added: w.puts, changed: w.puts &+ w.deletes)
                    } catch { failure = error }
                }
            }
            if let failure { throw failure }
        }
    }

    /// After a flush reached `target`, before its batch is cleared: each feed takes the flushed
    /// changes of its subset into its pending batch (room was reserved: this cannot fail). Table by
    /// table, the changes and their seeds are listed once; each feed picks its own and puts them
    /// with the prefetching pipeline of a bulk put.
    mutating func pushToFeeds(_ work: [TableWork], target: UInt64) {
        let source = tables
        for w in work {
            let t = w.table
            feedRouting.clear()
            let deletes = source[t].flushDeletes.base
            for j in 0..<source[t].flushDeletes.count {
                let key = source[t].preimages.keys[Int(source[t].dirty[Int(deletes[j])].pre)]
                feedRouting.deleteKeys.append(key)
                feedRouting.deleteSeeds.append(source[t].index.hash(key))
            }
            let puts = source[t].flushPuts.base
            for j in 0..<source[t].flushPuts.count {
                let entry = source[t].dirty[Int(puts[j])]
                feedRouting.putKeys.append(entry.key)
                feedRouting.putSeeds.append(source[t].index.hash(entry.key))
                feedRouting.putRecords.append(UnsafeRawPointer(source[t].record(Int(entry.slot))))
            }
            let r = feedRouting.pointers
            for link in feeds {
                link.access { feed in
                    guard let subscription = feed.subscription, subscription.lists(table: t) else { return }
                    for j in 0..<r.deletes where subscription.contains(table: t, key: r.deleteKeys[j], seed: r.deleteSeeds[j]) {
                        _ = feed.tables[t].writerDelete(key: r.deleteKeys[j])
                    }
                    // The indices of the feed's puts, in the routing lists' picks.
                    var n = 0
                    for j in 0..<r.puts where subscription.contains(table: t, key: r.putKeys[j], seed: r.putSeeds[j]) {
                        r.picks[n] = j
                        n &+= 1
                    }
                    feed.tables[t].forEachSlot(count: n, key: { r.putKeys[r.picks[$0]] }) { table, i, key, slot in
                        table.writerPut(key: key, record: r.putRecords[r.picks[i]], slot: slot)
                    }
                }
            }
        }
        let followed = followedState(at: target)
        for link in feeds { link.access { feed in feed.follow(followed) } }
    }

    /// What every feed takes from its writer after a flush or apply that reached `target`.
    func followedState(at target: UInt64) -> (target: UInt64, streamID: UInt64, term: UInt64, history: TermHistory) {
        (target, streamID, term, history)
    }

    /// A feed takes its writer's version, stream and term; its tables changed.
    mutating func follow(_ writer: (target: UInt64, streamID: UInt64, term: UInt64, history: TermHistory)) {
        feedState?.target = writer.target
        streamID = writer.streamID
        term = writer.term
        history = writer.history
        generation &+= 1
    }

    // MARK: A relay's feeds

    /// After an apply of a relay (a replica with feeds) that changed its state: a delta of the
    /// followed stream reaches each feed key by key from the change events; anything else (a
    /// snapshot, the last chunk, a repair, a one-way refresh, another stream, incomplete events)
    /// rebuilds the feeds from the state, whose catch-up floor then starts at this version.
    mutating func relayToFeeds(since before: (version: UInt64, stream: UInt64)) {
        var complete = !changes.replaced
        for t in 0..<tableCount where !changes.lists[t].complete { complete = false }
        let incremental = appliedDelta && complete && !refreshing && streamID == before.stream && version > before.version
        if !incremental {
            rebuildFeeds()
            return
        }
        let source = tables
        let lists = changes.lists
        let followed = followedState(at: version)
        for link in feeds {
            var rebuild = false
            link.access { feed in
                guard let subscription = feed.subscription else { return }
                // Room first: a feed that cannot have it is rebuilt instead (or kept as it was).
                for t in 0..<feed.tableCount where subscription.lists(table: t) {
                    let ups = lists[t].upserted.count, downs = lists[t].deleted.count
                    do throws(PodSyncError) { try feed.tables[t].reserveWrites(added: ups, changed: ups &+ downs) } catch {
                        rebuild = true
                        return
                    }
                }
                for t in 0..<feed.tableCount where subscription.lists(table: t) {
                    let list = lists + t
                    for i in 0..<list.pointee.deleted.count {
                        let key = list.pointee.deleted[i]
                        if subscription.contains(table: t, key: key, seed: source[t].index.hash(key)) { _ = feed.tables[t].writerDelete(key: key) }
                    }
                    for i in 0..<list.pointee.upserted.count {
                        let key = list.pointee.upserted[i]
                        guard subscription.contains(table: t, key: key, seed: source[t].index.hash(key)) else { continue }
                        let slot = source[t].index.find(key)
                        if slot == nilSlot {
                            _ = feed.tables[t].writerDelete(key: key)  // put, then deleted again by the same frame
                        } else {
                            feed.tables[t].writerPut(key: key, record: source[t].record(Int(slot)))
                        }
                    }
                }
                feed.follow(followed)
            }
            if rebuild { rebuildFeed(link) }
        }
    }

    /// Rebuilds every feed from this store's state.
    mutating func rebuildFeeds() {
        for link in feeds { rebuildFeed(link) }
    }

    /// Replaces a feed's store with a new one made from this store's state (kept as it was if
    /// that cannot be had: it then serves its older state until the next rebuild).
    mutating func rebuildFeed(_ link: FeedLink) {
        var subscription: SubscriptionState? = nil
        link.access { feed in subscription = feed.subscription }
        guard let subscription else { return }
        var made: Store
        do throws(PodSyncError) { made = try makeFeedStore(subscription) } catch { return }
        link.access { feed in
            made.generation = feed.generation &+ 1  // borrowed pointers into the old one are gone
            feed.expireImages()  // its snapshots in flight described the old state
            swap(&made.outbox, &feed.outbox)  // frames handed out stay valid
            swap(&feed, &made)
        }
    }
}

/// One table's flushed changes for the feeds, with each key's seed computed once.
struct FeedRouting: ~Copyable {
    var putKeys = RawVector<UInt64>()
    var putSeeds = RawVector<UInt64>()
    var putRecords = RawVector<UnsafeRawPointer>()
    var deleteKeys = RawVector<UInt64>()
    var deleteSeeds = RawVector<UInt64>()
    var picks = RawVector<Int>()

    mutating func reserve(_ n: Int) -> Bool {
        putKeys.reserve(n) && putSeeds.reserve(n) && putRecords.reserve(n) && deleteKeys.reserve(n) && deleteSeeds.reserve(n)
            && picks.reserve(n)
    }

    mutating func clear() {
        putKeys.removeAll()
        putSeeds.removeAll()
        putRecords.removeAll()
        deleteKeys.removeAll()
        deleteSeeds.removeAll()
    }

    /// The lists as plain pointers, for the loops over every feed.
    struct Pointers {
        let putKeys: UnsafeMutablePointer<UInt64>
        let putSeeds: UnsafeMutablePointer<UInt64>
        let putRecords: UnsafeMutablePointer<UnsafeRawPointer>
        let deleteKeys: UnsafeMutablePointer<UInt64>
        let deleteSeeds: UnsafeMutablePointer<UInt64>
        let picks: UnsafeMutablePointer<Int>
        let puts: Int
        let deletes: Int
    }

    var pointers: Pointers {
        Pointers(putKeys: putKeys.base, putSeeds: putSeeds.base, putRecords: putRecords.base, deleteKeys: deleteKeys.base,
                 deleteSeeds: deleteSeeds.base, picks: picks.base, puts: putKeys.count, deletes: deleteKeys.count)
    }
}
