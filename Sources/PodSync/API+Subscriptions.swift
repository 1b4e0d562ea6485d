import CPodSync
import PodSyncCore

/// Reads the caller's podsync_subscription into a `Subscription` (checked by `encoded()`).
func subscription(_ pointer: UnsafePointer<podsync_subscription>?) throws(PodSyncError) -> Subscription {
    let c = try required(pointer, "subscription").pointee
    guard c.version == UInt32(PODSYNC_SUBSCRIPTION_VERSION) else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "subscription version \(c.version) is not \(PODSYNC_SUBSCRIPTION_VERSION)")
    }
    guard c.shard_bits <= UInt32(Subscription.maxShardBits) else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "shard_bits \(c.shard_bits) is not 0 to \(Subscription.maxShardBits)")
    }
    // Counts beyond what an encoding can hold are refused before anything is read.
    guard c.shard_count <= 1 << 16, c.table_count <= 1 << 16 else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "shard_count \(c.shard_count) or table_count \(c.table_count) is above 65536")
    }
    let shards = try array(c.shards, count: Int(c.shard_count), "shards")
    let tables = try array(c.tables, count: Int(c.table_count), "tables")
    var filters: [Subscription.TableFilter] = []
    filters.reserveCapacity(Int(c.table_count))
    for i in 0..<Int(c.table_count) {
        let t = tables[i]
        let ranges = try array(t.ranges, count: Int(t.range_count), "ranges")
        var list: [ClosedRange<UInt64>] = []
        list.reserveCapacity(Int(t.range_count))
        for j in 0..<Int(t.range_count) {
            let r = ranges[j]
            guard r.lo <= r.hi else {
                throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "table \(t.table_id): range \(r.lo)...\(r.hi) is inverted")
            }
            list.append(r.lo...r.hi)
        }
        filters.append(Subscription.TableFilter(tableID: t.table_id, ranges: list))
    }
    return Subscription(tables: filters, shardBits: Int(c.shard_bits), shards: Array(UnsafeBufferPointer(start: shards, count: Int(c.shard_count))))
}

/// Decodes a canonical subscription encoding the caller passed.
func decodedSubscription(_ data: UnsafeRawPointer?, _ size: Int) throws(PodSyncError) -> Subscription {
    guard let data else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "data must not be NULL") }
    return try Subscription.decode(UnsafeRawBufferPointer(start: data, count: size))
}

@c @implementation
public func podsync_subscription_encode(
    _ sub: UnsafePointer<podsync_subscription>!, _ buffer: UnsafeMutableRawPointer!, _ capacity: Int,
    _ sizeOut: UnsafeMutablePointer<Int>!, _ hashOut: UnsafeMutablePointer<UInt64>!
) -> Int32 {
    do {
        let sizeOut = try required(sizeOut, "size_out")
        let bytes = try subscription(sub).encoded()
        sizeOut.pointee = bytes.count
        guard bytes.count <= capacity, let buffer else {
            return lastError(PODSYNC_E_BUFFER_TOO_SMALL, "the subscription takes \(bytes.count) bytes; the buffer has \(capacity)")
        }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        if let hashOut { hashOut.pointee = bytes.withUnsafeBytes { Subscription.hash($0) } }
        return PODSYNC_OK
    } catch {
        return lastError(error.code, error.message)
    }
}

@c @implementation
public func podsync_store_subscribe(_ store: OpaquePointer!, _ data: UnsafeRawPointer!, _ size: Int) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        try s.subscribe(try decodedSubscription(data, size))
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_feed(
    _ store: OpaquePointer!, _ data: UnsafeRawPointer!, _ size: Int, _ feedOut: UnsafeMutablePointer<OpaquePointer?>!
) -> Int32 {
    guard let store else { return nullHandle("store") }
    guard let feedOut else { return nullHandle("feed_out") }
    feedOut.pointee = nil
    let parent = store.object(StoreHandle.self)
    return withStore(store) { (s) throws(PodSyncError) in
        let state = try SubscriptionState(try decodedSubscription(data, size), schema: s.schema)
        try s.requireFeedParent()
        if let existing = s.feedLink(hash: state.hash)?.owner as? StoreHandle {
            existing.feedReferences += 1
            feedOut.pointee = box(existing)
            return PODSYNC_OK
        }
        let feed = StoreHandle(try s.makeFeedStore(state))
        try s.attachFeed(FeedLink(hash: state.hash, owner: feed) { body in body(&feed.store) })
        feed.parent = parent
        feed.feedReferences = 1
        feedOut.pointee = box(feed)
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_subscription(
    _ store: OpaquePointer!, _ dataOut: UnsafeMutablePointer<UnsafePointer<UInt8>?>!, _ sizeOut: UnsafeMutablePointer<Int>!,
    _ hashOut: UnsafeMutablePointer<UInt64>!
) -> Int32 {
    guard let store else { return nullHandle("store") }
    let handle = store.object(StoreHandle.self)
    return readStore(store) { (s) throws(PodSyncError) in
        let dataOut = try required(dataOut, "data_out")
        let sizeOut = try required(sizeOut, "size_out")
        guard let state = s.subscription else {
            dataOut.pointee = nil
            sizeOut.pointee = 0
            return PODSYNC_NOT_FOUND
        }
        dataOut.pointee = handle.subscriptionBytes(state)
        sizeOut.pointee = state.encoding.count
        if let hashOut { hashOut.pointee = state.hash }
        return PODSYNC_OK
    }
}
