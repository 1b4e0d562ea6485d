/// Change events (podsync_store_track_changes, podsync_store_changes): which keys each apply
/// changed, table by table. The apply paths record into `changes` as they go; this file holds the
/// switch, the read side and the bookkeeping of whole-state replacements.
extension Store {
    /// Turns change tracking on or off (replicas only); either way the lists start empty.
    public mutating func trackChanges(_ on: Bool) throws(PodSyncError) {
        guard role == .replica else {
            throw PodSyncError(Status.wrongRole, "change events are for replicas; this store is a writer")
        }
        changes.clear()
        changes.requested = on
        changes.enabled = on || !feeds.isEmpty
    }

    /// The keys of table `id` the last apply upserted and deleted, borrowed until the next apply,
    /// trackChanges or the store's end.
    public func changedKeys(table id: UInt32) throws(PodSyncError) -> ChangedKeys {
        let t = try tableIndex(id)
        guard role == .replica else {
            throw PodSyncError(Status.wrongRole, "change events are for replicas; this store is a writer")
        }
        guard changes.requested else {
            throw PodSyncError(Status.invalidArgument, "change tracking is off: turn it on with podsync_store_track_changes")
        }
        let list = changes.lists + t
        return ChangedKeys(
            upserted: UnsafeBufferPointer(start: list.pointee.upserted.base, count: list.pointee.upserted.count),
            deleted: UnsafeBufferPointer(start: list.pointee.deleted.base, count: list.pointee.deleted.count),
            replaced: changes.replaced, complete: list.pointee.complete)
    }

    /// Before an apply changes anything: the previous apply's events are dropped.
    @inline(__always) mutating func beginChangeEvents() {
        if changes.enabled { changes.clear() }
    }

    /// Before the whole state is replaced in place: lists every key of every table as deleted (the
    /// keys the new state holds again are taken back out by `finishReplacement`).
    mutating func beginReplacement() {
        guard changes.enabled else { return }
        changes.replaced = true
        for t in 0..<tableCount {
            let n = tables[t].count
            changes.lists[t].reserve(upserts: 0, deletes: n)
            for i in 0..<n { changes.lists[t].delete(tables[t].keys[i]) }
        }
    }

    /// After the whole state was replaced: every key it holds is upserted, and only the keys it no
    /// longer holds stay deleted.
    mutating func finishReplacement() {
        guard changes.enabled else { return }
        changes.replaced = true
        for t in 0..<tableCount {
            let list = changes.lists + t
            let n = tables[t].count
            list.pointee.reserve(upserts: n, deletes: 0)
            for i in 0..<n { list.pointee.upsert(tables[t].keys[i]) }
            var kept = 0
            for i in 0..<list.pointee.deleted.count {
                let key = list.pointee.deleted[i]
                if tables[t].index.find(key) == nilSlot {
                    list.pointee.deleted[kept] = key
                    kept &+= 1
                }
            }
            list.pointee.deleted.count = kept
        }
    }
}

/// One table's change events (Store.changedKeys): borrowed from the store.
public struct ChangedKeys {
    /// Keys inserted, or replaced with other bytes, in the order the apply changed them.
    public let upserted: UnsafeBufferPointer<UInt64>
    /// Keys deleted (a frame's deletions come before its puts).
    public let deleted: UnsafeBufferPointer<UInt64>
    /// The apply replaced the whole state (a snapshot): `upserted` lists every key it holds.
    public let replaced: Bool
    /// False when memory for the lists could not be had: treat every key as changed.
    public let complete: Bool
}
