import CPodSyncShims

/// Producing chunked snapshots (docs/FORMAT.md, "Chunked snapshots and deltas"). A chunk holds the
/// records of one range of `seed(t, k)`, the key's hash, which is the order of the table's hash
/// index: a chunk is cut by walking the index buckets of its range, so the writer needs no sorted
/// copy of its keys. Records changed after the snapshot's version are saved by flushes and applies
/// first (copy-on-write), so the extra memory is one chunk plus the records changed meanwhile.
extension Store {
    /// The smallest chunk a caller may ask for (PODSYNC_MIN_CHUNK_BYTES).
    public static let minChunkBytes = 512
    /// Room kept in a chunk for its header (the largest format-2 header with a CHUNK record and
    /// this store's TERM_HISTORY).
    var chunkHeaderRoom: Int { 160 &+ (term == 0 ? 0 : 12 &+ HeaderV2.historyValueLength(history)) }

    /// Starts a chunked snapshot of the state as of the last flush (writer) or as applied
    /// (replica). `maxChunkBytes` 0 means the store's max_frame_bytes.
    public mutating func beginSnapshot(maxChunkBytes: Int, id: UInt64 = 0) throws(PodSyncError) -> SnapshotStream {
        try refuseIfDiverged()
        try refuseIfLogFailed()
        let limit = try chunkLimit(maxChunkBytes)
        var snapshotID = id
        while snapshotID == 0 { snapshotID = UInt64.random(in: 1...UInt64.max) }
        let image = makeImage(id: snapshotID)
        return SnapshotStream(image: image, table: 0, position: 0, chunkIndex: 0, maxChunkBytes: limit)
    }

    /// Continues snapshot `id` of `stateVersion` from chunk `chunkIndex`, which starts at
    /// `(startTable, startKey)` (a table id and a `seed(t, k)` value): from a live image of it, or
    /// from the state when the store is still at that version of that stream. Throws
    /// `Status.snapshotExpired` otherwise.
    public mutating func resumeSnapshot(
        id: UInt64, streamID resumeStream: UInt64, stateVersion: UInt64, chunkIndex: UInt64,
        startTable: UInt32, startKey: UInt64, maxChunkBytes: Int
    ) throws(PodSyncError) -> SnapshotStream {
        let limit = try chunkLimit(maxChunkBytes)
        guard id != 0 else { throw .invalid("snapshot id 0 names no snapshot") }
        if chunkIndex == 0 && (startTable != 0 || startKey != 0) {
            throw .invalid("chunk 0 starts at table 0, key 0")
        }
        var image: SnapshotImage? = nil
        for entry in images {
            if let live = entry.image, live.id == id, live.version == stateVersion, live.streamID == resumeStream, !live.expired {
                image = live
            }
        }
        if image == nil {
            guard !diverged, bound, streamID == resumeStream, version == stateVersion else {
                throw PodSyncError(Status.snapshotExpired, "snapshot \(hex(id)) of version \(stateVersion) of stream \(hex(resumeStream)) is no longer held here (this store is at version \(version) of stream \(hex(streamID))); start a new snapshot")
            }
            image = makeImage(id: id)
        }
        // The table the start names, or the first one after it.
        var table = tableCount
        var position = startKey
        for t in 0..<tableCount where schema.tables[t].id >= startTable {
            table = t
            if schema.tables[t].id > startTable { position = 0 }
            break
        }
        var stream = SnapshotStream(image: image!, table: table, position: position, chunkIndex: chunkIndex, maxChunkBytes: limit)
        if chunkIndex > 0 { stream.resumeStart = (startTable, startKey) }
        return stream
    }

    func chunkLimit(_ requested: Int) throws(PodSyncError) -> Int {
        let limit = requested == 0 ? Int(clamping: options.maxFrameBytes == 0 ? UInt64(Int.max) : options.maxFrameBytes) : requested
        guard limit >= Store.minChunkBytes else {
            throw .invalid("chunks of \(limit) bytes are below the \(Store.minChunkBytes)-byte minimum")
        }
        return limit
    }

    /// An image of the state as of the last flush, registered for copy-on-write. O(tables).
    mutating func makeImage(id: UInt64) -> SnapshotImage {
        var total: UInt64 = 0
        for t in 0..<tableCount { total &+= UInt64(tables[t].dirty.count == 0 ? tables[t].count : flushedCount(t)) }
        let image = SnapshotImage(id: id, version: version, digest: digest, streamID: streamID, recordCount: total,
                                  tables: schema.tables, spread: shardSpread)
        image.term = term
        image.history = history
        images.removeAll { $0.image == nil }
        images.append(WeakImage(image: image))
        return image
    }

    /// Bytes held by the live images of this store (metrics).
    public var snapshotBytesHeld: Int {
        var total = 0
        for entry in images { if let image = entry.image { total &+= image.bytesHeld } }
        return total
    }

    /// The images can no longer be produced (the state they describe was replaced).
    mutating func expireImages() {
        for entry in images { entry.image?.expired = true }
        images.removeAll()
    }

    // MARK: Chunks

    /// Produces the stream's next chunk into its memory; nil after the last one.
    public mutating func nextChunk(_ stream: inout SnapshotStream) throws(PodSyncError) -> UnsafeRawBufferPointer? {
        guard !stream.finished else { return nil }
        swap(&outbox, &stream.outbox)
        defer { swap(&outbox, &stream.outbox) }
        outbox.clear()
        try produceChunk(&stream)
        return outbox.frame(outbox.frames.count - 1)
    }

    /// One table's share of a chunk: entries `from..<to` of the stream's `merged` list.
    struct ChunkRun {
        var table: Int
        var from: Int
        var to: Int
    }

    /// Appends the stream's next chunk to the outbox.
    mutating func produceChunk(_ stream: inout SnapshotStream) throws(PodSyncError) {
        let image = stream.image
        guard !image.expired else {
            throw PodSyncError(Status.snapshotExpired, "the state of snapshot \(hex(image.id)) was replaced on this store; start a new snapshot")
        }
        let start = podsync_monotonic_ns()
        defer { metrics.recordEncode(since: start) }
        let chunkStart = chunkStartKey(stream)
        stream.merged.removeAll()
        var runs: [ChunkRun] = []
        var used = chunkHeaderRoom
        var t = stream.table
        var position = stream.position
        while t < tableCount {
            let cost = 8 &+ tables[t].recordSize
            let overhead = FrameBuilder.sectionOverhead(alignment: tables[t].schema.alignment)
            var want = max(stream.maxChunkBytes &- used &- overhead, 0) / cost
            if want == 0 {
                if stream.merged.count > 0 { break }
                want = 1
            }
            let from = stream.merged.count
            let end = try collect(&stream, table: t, from: position, want: want)
            let n = stream.merged.count &- from
            if n > 0 {
                runs.append(ChunkRun(table: t, from: from, to: from &+ n))
                used &+= overhead &+ n &* cost
            }
            if let end {
                position = end
                if n > 0 { break }  // the chunk is full
            } else {
                t &+= 1
                position = 0
            }
        }
        // Tables with nothing of the image left need no chunk of their own.
        while t < tableCount && position == 0 && tables[t].index.count == 0 && image.saved[t].count == 0
            && tables[t].pendingDeletes.count == 0 { t &+= 1 }
        let last = t >= tableCount
        var chunk = ChunkRecord()
        chunk.snapshotID = image.id
        chunk.index = stream.chunkIndex
        chunk.last = last
        chunk.startTable = chunkStart.table
        chunk.startKey = chunkStart.key
        if last {
            chunk.recordCount = image.recordCount
        } else {
            chunk.endTable = schema.tables[t].id
            chunk.endKey = position
        }
        var plans = runs.map { run in
            SectionPlan(tableIndex: run.table, tableID: tables[run.table].schema.id, recordSize: tables[run.table].recordSize,
                        alignment: tables[run.table].schema.alignment, putCount: run.to &- run.from, deleteCount: 0)
        }
        var fields = FrameBuilder.HeaderFields(
            flags: frameFlags | FrameLayout.flagReset, schemaHash: schemaHash, streamID: image.streamID,
            sequence: sequence &+ 1, baseVersion: 0, stateVersion: image.version, stateDigest: image.digest,
            formatVersion: HeaderV2.formatVersion, chunk: chunk)
        fields.term = image.term
        fields.history = image.history
        fields.subscription = subscription?.hash
        let (headerLength, length) = FrameBuilder.plan(&plans, header: fields)
        guard let p = outbox.beginFrame(length: length) else {
            throw PodSyncError(Status.noMemory, "cannot allocate a \(length)-byte chunk")
        }
        let entries = stream.merged.base
        for (k, run) in runs.enumerated() {
            let plan = plans[k]
            let size = plan.recordSize
            let keysOut = p + plan.putKeysOffset
            let out = p + plan.start + plan.recordsOffset
            let ahead = 16
            let n = run.to &- run.from
            for i in 0..<n {
                if i &+ ahead < n, let r = entries[run.from &+ i &+ ahead].record { podsync_prefetch(r) }
                let e = entries[run.from &+ i]
                keysOut.storeLE(e.key, at: 8 &* i)
                copyRecord(to: out + i &* size, from: e.record!, size: size)
            }
        }
        sequence &+= 1
        FrameBuilder.writeFrame(p, length: length, headerLength: headerLength, header: fields, sections: plans)
        finishFrame(records: plans.reduce(0) { $0 + $1.putCount }, bases: nil)
        metrics.chunksOut &+= 1
        stream.table = t
        stream.position = position
        stream.resumeStart = nil
        stream.chunkIndex &+= 1
        stream.finished = last
    }

    /// The stream's snapshot and the chunk it produces next (podsync_snapshot_position).
    public func position(of stream: borrowing SnapshotStream) -> ChunkPosition {
        let start = chunkStartKey(stream)
        var p = ChunkPosition(streamID: stream.image.streamID, snapshotID: stream.image.id, stateVersion: stream.image.version,
                              chunkIndex: stream.chunkIndex, startTable: start.table, startKey: start.key)
        p.term = stream.image.term
        return p
    }

    /// Where the stream's next chunk starts: (0, 0) for chunk 0, where a resume asked, else the
    /// table id and hash the previous chunk ended at.
    func chunkStartKey(_ stream: borrowing SnapshotStream) -> (table: UInt32, key: UInt64) {
        if stream.chunkIndex == 0 { return (0, 0) }
        if let start = stream.resumeStart { return start }
        if stream.table >= tableCount { return (UInt32.max, UInt64.max) }
        return (schema.tables[stream.table].id, stream.position)
    }

    /// Appends to the stream's `merged` list, in hash order, the records of table `t` at the
    /// image's version whose hash is at least `from`: about `want` of them. Returns the hash the
    /// next chunk starts at, or nil when the table is done.
    mutating func collect(_ stream: inout SnapshotStream, table t: Int, from: UInt64, want: Int) throws(PodSyncError) -> UInt64? {
        let image = stream.image
        let V = image.version
        // The buckets holding at least `want` keys from `from` on (or the rest of the table).
        let index = UnsafePointer(tables[t].index.buckets)
        let mask = tables[t].index.mask
        let first = tables[t].index.bucket(ofHash: from)
        var counted = 0
        var b = first
        var end: UInt64? = nil
        if tables[t].index.count > 0 {
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
        }
        // Every entry of [from, end) (index, saved records, pending deletes), with room reserved.
        let capacity = counted &+ 64
        stream.found.removeAll()
        stream.extras.removeAll()
        guard stream.found.reserve(capacity) else { throw PodSyncError(Status.noMemory, "cannot allocate a chunk's keys") }
        var failed = false
        tables[t].index.scan(from: from, below: end) { h, e in
            // Entries displaced past the counted buckets may add a few more: grow, fallibly.
            if failed || (stream.found.count == stream.found.capacity && !stream.found.reserve(stream.found.count &* 2)) {
                failed = true
                return
            }
            stream.found.append(ChunkEntry(hash: h, key: e.key, record: nil, slot: e.slot))
        }
        guard !failed else { throw PodSyncError(Status.noMemory, "cannot allocate a chunk's keys") }
        let nFound = stream.found.count
        // Values at the image's version: saved, or unchanged since (flushed version <= V).
        var kept = 0
        let f = stream.found.base
        let ahead = 16
        if V == version && tables[t].dirty.count == 0 && image.saved[t].count == 0 {
            // Nothing changed since the image was taken: every record is as it was.
            for i in 0..<nFound { f[i].record = UnsafeRawPointer(tables[t].record(Int(f[i].slot))) }
            if stream.wantsVersions { for i in 0..<nFound { f[i].version = tables[t].meta[Int(f[i].slot)].version } }
            kept = nFound
        } else {
        for i in 0..<nFound {
            if i &+ ahead < nFound {
                let s = Int(f[i &+ ahead].slot)
                podsync_prefetch(tables[t].meta.base + s)
                podsync_prefetch(tables[t].record(s))
            }
            var e = f[i]
            if let saved = image.saved[t].find(versioned: e.key) {
                e.record = saved.record
                e.version = saved.version
            } else {
                let v = tables[t].flushedVersion(Int(e.slot))
                guard v != 0 && v <= V else { continue }
                e.record = tables[t].flushedRecord(Int(e.slot))
                e.version = v
            }
            f[kept] = e
            kept &+= 1
        }
        }
        stream.found.count = kept
        insertionSortByHash(f, kept)
        // Keys no longer in the index: deleted since (saved) or deleted in the pending batch.
        let savedCount = image.saved[t].count
        if savedCount > 0 {
            image.saved[t].index.scan(from: from, below: end) { h, e in
                guard tables[t].index.find(e.key) == nilSlot else { return }
                if stream.extras.count == stream.extras.capacity { _ = stream.extras.reserve(stream.extras.count &* 2 &+ 16) }
                if stream.extras.count < stream.extras.capacity {
                    stream.extras.append(ChunkEntry(hash: h, key: e.key, record: image.saved[t].record(e.slot), slot: e.slot,
                                                    version: image.saved[t].versions[Int(e.slot)]))
                }
            }
        }
        if tables[t].pendingDeletes.count > 0 {
            tables[t].pendingDeletes.scan(from: from, below: end) { h, e in
                guard tables[t].index.find(e.key) == nilSlot, image.saved[t].find(e.key) == nil,
                      Int(e.slot) < tables[t].dirty.count, case let pre = tables[t].dirty[Int(e.slot)].pre, pre != nilSlot,
                      case let v = tables[t].preimages.versions[Int(pre)], v != 0 && v <= V else { return }
                if stream.extras.count == stream.extras.capacity { _ = stream.extras.reserve(stream.extras.count &* 2 &+ 16) }
                if stream.extras.count < stream.extras.capacity {
                    stream.extras.append(ChunkEntry(hash: h, key: e.key, record: tables[t].preimages.record(pre), slot: pre, version: v))
                }
            }
        }
        let extraCount = stream.extras.count
        heapSortByHash(stream.extras.base, extraCount)
        // Merge both into the chunk's list, then cut it at `want` entries.
        guard stream.merged.reserve(stream.merged.count &+ kept &+ extraCount) else {
            throw PodSyncError(Status.noMemory, "cannot allocate a chunk's keys")
        }
        let base = stream.merged.count
        let out = stream.merged.base + base
        var i = 0, j = 0, n = 0
        let x = stream.extras.base
        while i < kept || j < extraCount {
            if j >= extraCount || (i < kept && f[i].hash < x[j].hash) {
                out[n] = f[i]
                i &+= 1
            } else {
                out[n] = x[j]
                j &+= 1
            }
            n &+= 1
        }
        if n > want {
            end = out[want].hash
            n = want
        }
        stream.merged.count = base &+ n
        return end
    }
}

extension Table {
    /// The version of the record in `slot` as of the last flush (0: created in the pending batch).
    @inline(__always)
    func flushedVersion(_ slot: Int) -> UInt64 {
        let v = meta[slot].version
        if v != 0 { return v }
        // Deleted and created again in the pending batch: its flushed value is the pre-image.
        let d = meta[slot].dirty
        guard d != nilSlot else { return 0 }
        let pre = dirty[Int(d)].pre
        return pre == nilSlot ? 0 : preimages.versions[Int(pre)]
    }
}

/// Sorts entries by hash; fast on nearly sorted input (keys come from the index in bucket order,
/// each at most its probe distance out of place).
func insertionSortByHash(_ a: UnsafeMutablePointer<ChunkEntry>, _ n: Int) {
    guard n > 1 else { return }
    for i in 1..<n {
        let e = a[i]
        var j = i
        while j > 0 && a[j &- 1].hash > e.hash {
            a[j] = a[j &- 1]
            j &-= 1
        }
        a[j] = e
    }
}

/// Sorts entries by hash in place, O(n log n) whatever the input.
func heapSortByHash(_ a: UnsafeMutablePointer<ChunkEntry>, _ n: Int) {
    guard n > 1 else { return }
    func siftDown(_ start: Int, _ end: Int) {
        var root = start
        while true {
            var child = 2 &* root &+ 1
            if child >= end { return }
            if child &+ 1 < end && a[child].hash < a[child &+ 1].hash { child &+= 1 }
            if a[root].hash >= a[child].hash { return }
            let t = a[root]; a[root] = a[child]; a[child] = t
            root = child
        }
    }
    var start = n / 2
    while start > 0 {
        start &-= 1
        siftDown(start, n)
    }
    var end = n
    while end > 1 {
        end &-= 1
        let t = a[0]; a[0] = a[end]; a[end] = t
        siftDown(0, end)
    }
}

// MARK: Copy-on-write

extension Store {
    /// Makes room in every live image for `count` more saved records of table `t`.
    func reserveSaves(table t: Int, count: Int) throws(PodSyncError) {
        for entry in images {
            guard let image = entry.image, !image.expired else { continue }
            guard image.saved[t].reserve(count) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the copy-on-write records of a snapshot in flight")
            }
        }
    }

    /// Before a flush: saves the flushed value of every key the batch changes that existed at a
    /// live image's version (room reserved by `reserveSaves`).
    func preserveBatch(table t: Int) {
        for entry in images {
            guard let image = entry.image, !image.expired else { continue }
            for d in 0..<tables[t].dirty.count {
                let pre = tables[t].dirty[d].pre
                guard pre != nilSlot, case let v = tables[t].preimages.versions[Int(pre)], v != 0 && v <= image.version else { continue }
                image.saved[t].save(key: tables[t].preimages.keys[Int(pre)], record: tables[t].preimages.record(pre), version: v)
            }
        }
    }

    /// Before an applied delta changes the record in `slot` of table `t`.
    @inline(__always)
    func preserve(table t: Int, slot: UInt32) {
        let v = tables[t].meta[Int(slot)].version
        for entry in images {
            guard let image = entry.image, !image.expired, v != 0 && v <= image.version else { continue }
            image.saved[t].save(key: tables[t].keys[Int(slot)], record: tables[t].record(Int(slot)), version: v)
        }
    }
}
