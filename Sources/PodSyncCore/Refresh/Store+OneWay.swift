/// A replica on a one-way link (PODSYNC_OPT_ONE_WAY, docs/FORMAT.md "Rolling refresh"): where
/// another replica would return GAP, or is diverged, it goes out of sync and takes the absolute
/// content of every frame it gets, key by key, when it is newer than what it holds of that key
/// (`ver(k)`: the version stamped on its record, or on the tombstone of its deletion). It is in
/// sync again once its digest equals a frame's.
extension Store {
    /// The version this replica holds of `key` in table `t`: its record's, its tombstone's, or 0.
    @inline(__always)
    func heldVersion(_ t: Int, _ key: UInt64, slot: UInt32) -> UInt64 {
        if slot != nilSlot { return tables[t].meta[Int(slot)].version }
        return tables[t].tombstones.version(of: key) ?? 0
    }

    /// Goes out of sync. After a diverged mark nothing held is vouched for: every version is 0.
    mutating func startRefreshing(forgettingVersions: Bool) {
        refreshing = true
        if forgettingVersions {
            for t in 0..<tableCount {
                for s in 0..<tables[t].count { tables[t].meta.base[s].version = 0 }
                tables[t].tombstones.removeAll()
            }
            diverged = false
        }
    }

    /// The (table index, hash range) pieces a slice covers.
    func sliceRanges(_ slice: SliceRecord) -> [(table: Int, from: UInt64, below: UInt64?)] {
        var ranges: [(table: Int, from: UInt64, below: UInt64?)] = []
        for t in 0..<tableCount {
            let id = schema.tables[t].id
            if id < slice.startTable { continue }
            if !slice.last && id > slice.endTable { break }
            let from: UInt64 = id == slice.startTable ? slice.startKey : 0
            var below: UInt64? = nil
            if !slice.last && id == slice.endTable {
                if slice.endKey == 0 { break }
                below = slice.endKey
            }
            ranges.append((t, from, below))
        }
        return ranges
    }

    /// Applies what an out-of-sync replica can vouch for from `header`'s frame: its changes (unless
    /// XOR-ed or FIELDS: they need the value at the base) and its slice, each key only if the frame's
    /// version is newer than the replica's of that key; a slice also removes the keys of its range
    /// it does not put. Returns PODSYNC_REFRESHING, or PODSYNC_OK when the replica is in sync.
    mutating func applyOutOfSync(_ header: FrameHeader, _ sections: [SectionView], frameBytes: Int) throws(PodSyncError) -> Int32 {
        if bound && header.streamID != streamID {
            throw PodSyncError(Status.streamMismatch, "frame of stream \(hex(header.streamID)) but this replica follows \(hex(streamID)); apply a snapshot of the new stream")
        }
        let v = header.stateVersion
        let absolute = !header.isRelative
        let changes = absolute ? Array(sections.prefix(header.sectionCount)) : []
        let slices = Array(sections.dropFirst(header.sectionCount))
        let ranges = header.slice.map { sliceRanges($0) } ?? []

        // Reserve everything first: records put, their log entries, tombstones for deletions and
        // for what the slice may remove, and the list of those keys.
        var puts = [Int](repeating: 0, count: tableCount)
        var removable = [Int](repeating: 0, count: tableCount)
        for s in changes {
            puts[s.tableIndex] &+= s.putCount
            removable[s.tableIndex] &+= s.deleteCount
        }
        for s in slices { puts[s.tableIndex] &+= s.putCount }
        var widest = 0
        for r in ranges {
            var n = 0
            tables[r.table].index.scan(from: r.from, below: r.below) { _, _ in n &+= 1 }
            removable[r.table] &+= n
            widest = max(widest, n)
        }
        var total = 0
        for t in 0..<tableCount { total &+= puts[t] }
        if options.maxRecords != 0 && UInt64(liveRecords &+ total) > options.maxRecords {
            throw PodSyncError(Status.limit, "the frame could bring the store past \(options.maxRecords) records, its max_records")
        }
        for t in 0..<tableCount where puts[t] > 0 || removable[t] > 0 {
            try tables[t].checkRoom(puts[t])
            try tables[t].reserve(puts[t])
            guard tables[t].reserveLog(puts[t], records: tables[t].count &+ puts[t]),
                  tables[t].tombstones.reserve(removable[t]) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the change log of table \(schema.tables[t].id)")
            }
        }
        guard removalScratch.reserve(widest) else { throw PodSyncError(Status.noMemory, "cannot allocate a refresh") }
        let tracking = self.changes.enabled
        if tracking {
            for t in 0..<tableCount where puts[t] > 0 || removable[t] > 0 {
                self.changes.lists[t].reserve(upserts: puts[t], deletes: removable[t])
            }
        }

        // Nothing below can fail.
        var newDigest = digest
        var applied: UInt64 = 0
        for s in changes {
            let t = s.tableIndex
            for i in 0..<s.deleteCount {
                let key = s.deleteKeys.le(8 &* i, as: UInt64.self)
                let slot = tables[t].index.find(key)
                guard v > heldVersion(t, key, slot: slot) else { continue }
                if slot != nilSlot {
                    if tracking { self.changes.lists[t].delete(key) }
                    newDigest &-= tables[t].treeLeave(key, tables[t].record(Int(slot)))
                    tables[t].removeSlot(slot)
                }
                tables[t].tombstones.add(key: key, version: v)
                applied &+= 1
            }
        }
        for s in changes + slices {
            let t = s.tableIndex
            let size = s.recordSize
            for i in 0..<s.putCount {
                let key = s.putKeys.le(8 &* i, as: UInt64.self)
                let record = s.records + i &* size
                var slot = tables[t].index.find(key)
                guard v > heldVersion(t, key, slot: slot) else { continue }
                if slot != nilSlot {
                    if tracking && !sameRecord(tables[t].record(Int(slot)), record, size: size) { self.changes.lists[t].upsert(key) }
                    newDigest &-= tables[t].treeLeave(key, tables[t].record(Int(slot)))
                    copyRecord(to: tables[t].record(Int(slot)), from: record, size: size)
                } else {
                    if tracking { self.changes.lists[t].upsert(key) }
                    slot = tables[t].appendRecord(key: key, record: record)
                    tables[t].tombstones.remove(key: key)
                }
                newDigest &+= tables[t].treeJoin(key, record)
                tables[t].stamp(slot, key: key, version: v)
                applied &+= 1
            }
        }
        // The slice says its range holds nothing else at v: older keys it did not put are gone.
        for r in ranges {
            let t = r.table
            removalScratch.removeAll()
            tables[t].index.scan(from: r.from, below: r.below) { _, e in
                if tables[t].meta[Int(e.slot)].version < v { removalScratch.append(e.key) }
            }
            for i in 0..<removalScratch.count {
                let key = removalScratch[i]
                let slot = tables[t].index.find(key)
                if tracking { self.changes.lists[t].delete(key) }
                newDigest &-= tables[t].treeLeave(key, tables[t].record(Int(slot)))
                tables[t].removeSlot(slot)
                tables[t].tombstones.add(key: key, version: v)
                applied &+= 1
            }
        }
        digest = newDigest
        if !bound && header.streamID != 0 {
            streamID = header.streamID
            bound = true
        }
        generation &+= 1
        metrics.framesApplied &+= 1
        metrics.recordsApplied &+= applied
        metrics.wireBytesIn &+= UInt64(frameBytes)
        guard header.hasDigest && header.stateDigest == digest else { return Status.refreshing }
        // In sync: this is the writer's state at v.
        refreshing = false
        version = v
        sequence = header.sequence
        catchupFloor = v
        return Status.ok
    }
}
