/// What a call may cost: every write, flush and apply reserves the memory it can need before it
/// changes anything (a failure is `Status.noMemory` with the state as it was), and the limits the
/// host set bound the records a store holds and the deletions it remembers.
extension Store {
    /// Live records in all tables.
    var liveRecords: Int {
        var total = 0
        for t in 0..<tableCount { total &+= tables[t].count }
        return total
    }

    /// Throws `Status.limit` unless `live` records stay within `max_records`.
    func checkRecordLimit(_ live: Int) throws(PodSyncError) {
        guard options.maxRecords == 0 || UInt64(live) <= options.maxRecords else {
            throw PodSyncError(Status.limit, "the store would hold \(live) records, more than max_records \(options.maxRecords)")
        }
    }

    // MARK: Writes

    /// Room for a write of `count` keys to table `t`, of which at most `added` are new (computed
    /// exactly with `absent` only when the cheap bound does not fit).
    mutating func reserveWrites(table t: Int, count: Int, absent: () -> Int) throws(PodSyncError) {
        var added = count
        let overLimit = options.maxRecords != 0 && UInt64(liveRecords &+ count) > options.maxRecords
        let empty = tables[t].count == 0  // every key is new: nothing to count
        if !empty && (overLimit || !tables[t].hasRoom(for: count)) { added = absent() }
        try tables[t].checkRoom(added)
        try checkRecordLimit(liveRecords &+ added)
        if empty { try tables[t].reserve(added, slack: Table.slack(for: added)) }
        try tables[t].reserveWrites(added: added, changed: count)
    }

    // MARK: Applying frames

    /// Makes room for everything a delta can need (new records, log entries, tombstones) and
    /// checks `max_records`, before anything changes. The exact count of new keys is computed only
    /// when the cheap bound (every put is new) does not fit.
    mutating func reserveForDelta(_ sections: [SectionView], keepsTombstones: Bool) throws(PodSyncError) {
        var puts = 0
        for s in sections { puts &+= s.putCount }
        let overLimit = options.maxRecords != 0 && UInt64(liveRecords &+ puts) > options.maxRecords
        var live = liveRecords
        for s in sections {
            let t = s.tableIndex
            var added = s.putCount
            let empty = tables[t].count == 0
            if !empty && (overLimit || !tables[t].hasRoom(for: s.putCount)) {
                let putKeys = s.putKeys, deleteKeys = s.deleteKeys
                added = tables[t].absentKeys(count: s.putCount) { putKeys.le(8 &* $0, as: UInt64.self) }
                if overLimit {
                    let absentDeletes = tables[t].absentKeys(count: s.deleteCount) { deleteKeys.le(8 &* $0, as: UInt64.self) }
                    live &-= s.deleteCount &- absentDeletes
                }
            }
            live &+= added
            try tables[t].checkRoom(added)
            try tables[t].reserve(added, slack: empty ? Table.slack(for: added) : 0)
            // `added` may be the cheap bound (every put new): a log that would grow for that bound
            // alone is sized by the exact count, so a log at its bound does not double (a 32 MB
            // copy at a million records) for keys that exist.
            var logRecords = tables[t].count &+ added
            if !empty && added == s.putCount && tables[t].logMustGrow(s.putCount, records: logRecords) {
                let putKeys = s.putKeys
                logRecords = tables[t].count &+ tables[t].absentKeys(count: s.putCount) { putKeys.le(8 &* $0, as: UInt64.self) }
            }
            guard tables[t].reserveLog(s.putCount, records: logRecords) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the change log of table \(s.tableID)")
            }
            if keepsTombstones {
                guard tables[t].tombstones.reserve(s.deleteCount) else {
                    throw PodSyncError(Status.noMemory, "cannot remember \(s.deleteCount) deletions in table \(s.tableID)")
                }
            }
        }
        try checkRecordLimit(live)
    }

    /// Checks limits and makes room before a reset touches anything: growing an arena keeps its
    /// records, so on failure the state is unchanged, and afterwards the reset cannot fail.
    mutating func reserveForReset(_ sections: [SectionView]) throws(PodSyncError) {
        var total = 0
        for s in sections { total &+= s.putCount }
        try checkRecordLimit(total)
        for s in sections {
            guard s.putCount <= Table.maxRecords else {
                throw PodSyncError(Status.noMemory, "table \(s.tableID) would exceed \(Table.maxRecords) records")
            }
            let t = s.tableIndex
            if s.putCount > tables[t].count {
                try tables[t].reserve(s.putCount - tables[t].count, slack: Table.slack(for: s.putCount))
            }
            // The reset empties the log, then logs every record; a log that must grow grows to
            // its steady-state bound at once (Table.reserveLog).
            let n = s.putCount
            guard n <= tables[t].log.capacity || tables[t].log.reserve(max(n, n &* 2 &+ 4096)) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the change log of table \(s.tableID)")
            }
        }
    }

    // MARK: Tombstones

    /// Whether `deletions` new tombstones may be kept at all: more than `max_tombstones` at one
    /// version would all be forgotten at once, so none are made and the catch-up floor rises to
    /// that version instead (`forgetAllTombstones`).
    func keepsTombstones(for deletions: Int) -> Bool {
        options.maxTombstones == 0 || UInt64(deletions) <= options.maxTombstones
    }

    /// Forgets every tombstone: catch-up deltas can start at `version` only.
    mutating func forgetAllTombstones(floor version: UInt64) {
        for t in 0..<tableCount { tables[t].tombstones.removeAll() }
        if version > catchupFloor { catchupFloor = version }
    }

    /// Forgets tombstones past the horizon and past `max_tombstones` (oldest versions first, in
    /// all tables), and raises the catch-up floor to what the tables still cover (tombstones and
    /// change logs).
    mutating func purgeTombstones() {
        for t in 0..<tableCount where tables[t].logFloor > catchupFloor { catchupFloor = tables[t].logFloor }
        if options.tombstoneHorizon != 0, version > options.tombstoneHorizon {
            let limit = version - options.tombstoneHorizon
            for t in 0..<tableCount {
                let forgotten = tables[t].tombstones.purge(upTo: limit)
                if forgotten > catchupFloor { catchupFloor = forgotten }
            }
        }
        guard options.maxTombstones != 0 else { return }
        while true {
            var alive = 0
            for t in 0..<tableCount { alive &+= tables[t].tombstones.alive }
            // Within the limit (every flush and apply, usually): O(tables), no scan.
            guard UInt64(alive) > options.maxTombstones else { return }
            var oldest: UInt64 = .max
            for t in 0..<tableCount {
                if let v = tables[t].tombstones.oldestVersion, v < oldest { oldest = v }
            }
            guard oldest != .max else { return }
            for t in 0..<tableCount {
                let forgotten = tables[t].tombstones.purge(upTo: oldest)
                if forgotten > catchupFloor { catchupFloor = forgotten }
            }
        }
    }
}
