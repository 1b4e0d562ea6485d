/// Change events of one table (a replica that tracks changes): the keys the last apply upserted
/// and deleted, in the order it changed them. Room is reserved before an apply's pass that cannot
/// fail; if it cannot be had the list says it is incomplete instead of failing the apply (the host
/// then treats every key as changed), so tracking never costs a frame.
struct ChangeList: ~Copyable {
    var upserted = RawVector<UInt64>()
    var deleted = RawVector<UInt64>()
    var complete = true

    mutating func clear() {
        upserted.removeAll()
        deleted.removeAll()
        complete = true
    }

    /// Makes room for `upserts` and `deletes` more keys, or marks the list incomplete.
    mutating func reserve(upserts: Int, deletes: Int) {
        let (u, o1) = upserted.count.addingReportingOverflow(upserts)
        let (d, o2) = deleted.count.addingReportingOverflow(deletes)
        if o1 || o2 || !upserted.reserve(u) || !deleted.reserve(d) { complete = false }
    }

    /// Records an upsert within the reserved room (never allocates).
    @inline(__always) mutating func upsert(_ key: UInt64) {
        if upserted.count < upserted.capacity { upserted.append(key) } else { complete = false }
    }

    /// Records a deletion within the reserved room (never allocates).
    @inline(__always) mutating func delete(_ key: UInt64) {
        if deleted.count < deleted.capacity { deleted.append(key) } else { complete = false }
    }
}

/// A replica's change events: one list per table, reached through a pointer (like the tables) so
/// the apply loops write them without exclusivity checks; they survive the table swap of a staged
/// snapshot.
struct ChangeEvents: ~Copyable {
    let lists: UnsafeMutablePointer<ChangeList>
    let count: Int
    /// Tracking is on (podsync_store_track_changes).
    var enabled = false
    /// The host asked for them (podsync_store_track_changes); a relay records them for its feeds
    /// whether or not.
    var requested = false
    /// The last apply replaced the whole state (a snapshot): every key it holds is listed.
    var replaced = false

    init(tables: Int) {
        count = tables
        lists = UnsafeMutablePointer<ChangeList>.allocate(capacity: max(tables, 1))
        for t in 0..<tables { (lists + t).initialize(to: ChangeList()) }
    }

    deinit {
        lists.deinitialize(count: count)
        lists.deallocate()
    }

    mutating func clear() {
        for t in 0..<count { lists[t].clear() }
        replaced = false
    }
}
