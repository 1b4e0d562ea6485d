import CPodSyncShims

/// The writer's rolling refresh (docs/FORMAT.md, "Rolling refresh"): every flush also carries the
/// next slice of the whole state, in `seed(t, k)` order like chunks, so the state is re-sent every
/// `refresh_flushes` flushes and a receiver that cannot ask back converges.
struct RefreshCursor {
    var pass: UInt64 = 0
    var slice: UInt64 = 0
    /// The next slice starts at table index `table`, hash `position`.
    var table = 0
    var position: UInt64 = 0
    /// When the last frame went out (the store's clock), for refresh_ms.
    var lastFrameMs: UInt64 = 0
}

/// A slice cut for the next frame: its record and its entries (in the store's slice scratch).
struct PendingSlice {
    var record: SliceRecord
    var runs: [Store.ChunkRun]
    var nextTable: Int
    var nextPosition: UInt64
}

extension Store {
    var refreshOn: Bool { role == .writer && options.refreshFlushes > 0 }

    /// Whether a refresh-only frame is due: nothing went out for refresh_ms.
    var refreshDue: Bool {
        // Before the first flush the state is empty at version 0: no slice describes it (FORMAT.md:
        // a refresh slice of version 0 is malformed).
        guard refreshOn, options.refreshMs > 0, version > 0 else { return false }
        let t = now()
        return t >= refresh.lastFrameMs && t - refresh.lastFrameMs >= options.refreshMs
    }

    /// Cuts the next slice of the current state: about records / refresh_flushes records (at most
    /// half of max_frame_bytes), from where the last slice ended.
    mutating func cutSlice() throws(PodSyncError) -> PendingSlice {
        var total = 0
        var widest = 8
        for t in 0..<tableCount {
            total &+= tables[t].count
            widest = max(widest, tables[t].recordSize)
        }
        let passLength = Int(options.refreshFlushes)
        var want = max(1, (total &+ passLength &- 1) / passLength)
        if options.maxFrameBytes != 0 {
            want = min(want, max(1, Int(clamping: options.maxFrameBytes / 2) / (16 &+ widest)))
        }
        sliceScratch.removeAll()
        var runs: [ChunkRun] = []
        var record = SliceRecord()
        record.pass = refresh.pass
        record.index = refresh.slice
        if refresh.slice != 0 && refresh.table < tableCount {
            record.startTable = schema.tables[refresh.table].id
            record.startKey = refresh.position
        }
        var t = refresh.table
        var position = refresh.position
        var remaining = want
        while t < tableCount && remaining > 0 {
            let from = sliceScratch.count
            let end = try collectCurrent(table: t, from: position, want: remaining)
            let n = sliceScratch.count &- from
            if n > 0 {
                runs.append(ChunkRun(table: t, from: from, to: from &+ n))
                remaining &-= n
            }
            if let end {
                position = end
                if n > 0 { break }
            } else {
                t &+= 1
                position = 0
            }
        }
        // Tables left with nothing in them need no slice of their own.
        while t < tableCount && position == 0 && tables[t].index.count == 0 { t &+= 1 }
        record.last = t >= tableCount
        if !record.last {
            record.endTable = schema.tables[t].id
            record.endKey = position
        }
        record.sectionCount = runs.count
        return PendingSlice(record: record, runs: runs, nextTable: t, nextPosition: position)
    }

    /// Moves the cursor past a slice that went out.
    mutating func advanceRefresh(past slice: PendingSlice) {
        if slice.record.last {
            refresh.pass &+= 1
            refresh.slice = 0
            refresh.table = 0
            refresh.position = 0
        } else {
            refresh.slice &+= 1
            refresh.table = slice.nextTable
            refresh.position = slice.nextPosition
        }
        refresh.lastFrameMs = now()
    }

    /// The slice's sections (after `first` other sections of a frame).
    func slicePlans(_ slice: PendingSlice) -> [SectionPlan] {
        slice.runs.map { run in
            SectionPlan(tableIndex: run.table, tableID: tables[run.table].schema.id, recordSize: tables[run.table].recordSize,
                        alignment: tables[run.table].schema.alignment, putCount: run.to &- run.from, deleteCount: 0)
        }
    }

    /// Writes the slice's keys and records into the planned sections of frame `p`.
    func writeSlice(_ slice: PendingSlice, plans: ArraySlice<SectionPlan>, into p: UnsafeMutableRawPointer) {
        let entries = sliceScratch.base
        for (run, plan) in zip(slice.runs, plans) {
            let size = plan.recordSize
            let keysOut = p + plan.putKeysOffset
            let out = p + plan.start + plan.recordsOffset
            let n = run.to &- run.from
            for i in 0..<n {
                if i &+ 16 < n, let r = entries[run.from &+ i &+ 16].record { podsync_prefetch(r) }
                let e = entries[run.from &+ i]
                keysOut.storeLE(e.key, at: 8 &* i)
                copyRecord(to: out + i &* size, from: e.record!, size: size)
            }
        }
    }

    /// Appends to the slice scratch, in hash order, the current records of table `t` whose hash is
    /// at least `from`: `want` of them, or the rest of the table. Returns the hash the next slice
    /// starts at, or nil when the table is done. Only a writer at a flush calls it: every record in
    /// the index is the state the frame carries.
    mutating func collectCurrent(table t: Int, from: UInt64, want: Int) throws(PodSyncError) -> UInt64? {
        guard tables[t].index.count > 0 else { return nil }
        let index = UnsafePointer(tables[t].index.buckets)
        let mask = tables[t].index.mask
        var b = tables[t].index.bucket(ofHash: from)
        var counted = 0
        var end: UInt64? = nil
        while b <= mask {
            // Entries displaced here from before `from` belong to the range before.
            if index[b].slot != nilSlot && tables[t].index.hash(index[b].key) >= from { counted &+= 1 }
            if counted >= want {
                // The range ends after this bucket, unless no entry of the table comes after it.
                let next = tables[t].index.firstHash(ofBucket: b &+ 1)
                var j = b &+ 1
                while j <= mask && (index[j].slot == nilSlot || tables[t].index.hash(index[j].key) < next) { j &+= 1 }
                if j <= mask { end = next }
                break
            }
            b &+= 1
        }
        let base = sliceScratch.count
        guard sliceScratch.reserve(base &+ counted &+ 64) else {
            throw PodSyncError(Status.noMemory, "cannot allocate a refresh slice")
        }
        var failed = false
        tables[t].index.scan(from: from, below: end) { h, e in
            if sliceScratch.count == sliceScratch.capacity && !sliceScratch.reserve(sliceScratch.count &* 2) {
                failed = true
                return
            }
            sliceScratch.append(ChunkEntry(hash: h, key: e.key, record: UnsafeRawPointer(tables[t].record(Int(e.slot))), slot: e.slot))
        }
        if failed { throw PodSyncError(Status.noMemory, "cannot allocate a refresh slice") }
        let n = sliceScratch.count &- base
        insertionSortByHash(sliceScratch.base + base, n)
        if n > want {
            end = sliceScratch[base &+ want].hash
            sliceScratch.count = base &+ want
        }
        return end
    }
}
