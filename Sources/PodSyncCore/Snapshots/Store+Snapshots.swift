import CPodSyncShims

/// Producing chunked snapshots (docs/FORMAT.md, "Chunked snapshots and deltas"): an image of the
/// state at one version (its sorted keys), chunks cut from it on demand, and copy-on-write of the
/// records that flushes and applies change while an image is alive.
extension Store {
    /// The smallest chunk a caller may ask for (PODSYNC_MIN_CHUNK_BYTES).
    public static let minChunkBytes = 512
    /// Room kept in a chunk for its header (the largest format-2 header with a CHUNK record).
    static let chunkHeaderRoom = 160

    /// Starts a chunked snapshot of the state as of the last flush (writer) or as applied
    /// (replica). `maxChunkBytes` 0 means the store's max_frame_bytes.
    public mutating func beginSnapshot(maxChunkBytes: Int, id: UInt64 = 0) throws(PodSyncError) -> SnapshotStream {
        try refuseIfDiverged()
        let limit = try chunkLimit(maxChunkBytes)
        var snapshotID = id
        while snapshotID == 0 { snapshotID = UInt64.random(in: 1...UInt64.max) }
        let image = try makeImage(id: snapshotID)
        return SnapshotStream(image: image, position: 0, chunkIndex: 0, maxChunkBytes: limit)
    }

    /// Continues snapshot `id` of `stateVersion` from chunk `chunkIndex`, whose first key is
    /// `(startTable, startKey)`: from a live image of it, or from the state when the store is still
    /// at that version of that stream. Throws `Status.snapshotExpired` otherwise.
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
            image = try makeImage(id: id)
        }
        let found = image!
        // The first position at or after the start key.
        var position = found.keys.count
        if let t = schema.tableIndex(of: startTable) {
            position = found.lowerBound(table: t, key: startKey)
        } else {
            for t in 0..<tableCount where schema.tables[t].id > startTable {
                position = found.tableStart[t]
                break
            }
        }
        var stream = SnapshotStream(image: found, position: position, chunkIndex: chunkIndex, maxChunkBytes: limit)
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

    /// The sorted keys of the state as of the last flush, registered for copy-on-write.
    mutating func makeImage(id: UInt64) throws(PodSyncError) -> SnapshotImage {
        var total = 0
        for t in 0..<tableCount { total &+= tables[t].dirty.count == 0 ? tables[t].count : flushedCount(t) }
        let image = SnapshotImage(id: id, version: version, digest: digest, streamID: streamID,
                                  recordSizes: schema.tables.map { $0.recordSize })
        guard image.keys.reserve(total) else {
            throw PodSyncError(Status.noMemory, "cannot allocate the \(total) keys of a snapshot")
        }
        for t in 0..<tableCount {
            let start = image.keys.count
            image.tableStart[t] = start
            if tables[t].dirty.count == 0 {
                (image.keys.base + start).update(from: tables[t].keys.base, count: tables[t].count)
                image.keys.count &+= tables[t].count
            } else {
                for slot in 0..<tables[t].count where tables[t].meta[slot].version != 0 {
                    image.keys.append(tables[t].keys[slot])
                }
                for d in 0..<tables[t].dirty.count where tables[t].flushedOnlyInPreimage(d) {
                    image.keys.append(tables[t].preimages.keys[Int(tables[t].dirty[d].pre)])
                }
            }
            guard sortKeys(image.keys.base + start, count: image.keys.count &- start) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the sort of a snapshot's keys")
            }
        }
        image.tableStart[tableCount] = image.keys.count
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

    var liveImages: [SnapshotImage] {
        var list: [SnapshotImage] = []
        for entry in images { if let image = entry.image, !image.expired { list.append(image) } }
        return list
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

    /// Appends the stream's next chunk to the outbox.
    mutating func produceChunk(_ stream: inout SnapshotStream) throws(PodSyncError) {
        let image = stream.image
        guard !image.expired else {
            throw PodSyncError(Status.snapshotExpired, "the state of snapshot \(hex(image.id)) was replaced on this store; start a new snapshot")
        }
        let start = podsync_monotonic_ns()
        defer { metrics.recordEncode(since: start) }
        let total = image.keys.count
        // Which keys go in: whole tables' runs while they fit, at least one record.
        var runs: [(table: Int, from: Int, to: Int)] = []
        var used = Store.chunkHeaderRoom
        var position = stream.position
        var t = 0
        while position < total {
            while image.tableStart[t + 1] <= position { t += 1 }
            let cost = 8 &+ tables[t].recordSize
            let overhead = FrameBuilder.sectionOverhead(alignment: tables[t].schema.alignment)
            let available = image.tableStart[t + 1] &- position
            var n = min(available, max(stream.maxChunkBytes &- used &- overhead, 0) / cost)
            if n == 0 {
                if !runs.isEmpty { break }
                n = 1
            }
            runs.append((t, position, position &+ n))
            used &+= overhead &+ n &* cost
            position &+= n
            if n < available { break }
        }
        let last = position >= total
        var chunk = ChunkRecord()
        chunk.snapshotID = image.id
        chunk.index = stream.chunkIndex
        chunk.last = last
        let from = stream.startKey(schema: schema)
        chunk.startTable = from.table
        chunk.startKey = from.key
        if last {
            chunk.recordCount = UInt64(total)
        } else {
            let end = SnapshotStream.key(at: position, image: image, schema: schema)
            chunk.endTable = end.table
            chunk.endKey = end.key
        }
        var plans = runs.map { run in
            SectionPlan(tableIndex: run.table, tableID: tables[run.table].schema.id, recordSize: tables[run.table].recordSize,
                        alignment: tables[run.table].schema.alignment, putCount: run.to &- run.from, deleteCount: 0)
        }
        let fields = FrameBuilder.HeaderFields(
            flags: frameFlags | FrameLayout.flagReset, schemaHash: schemaHash, streamID: image.streamID,
            sequence: sequence &+ 1, baseVersion: 0, stateVersion: image.version, stateDigest: image.digest,
            formatVersion: HeaderV2.formatVersion, chunk: chunk)
        let (headerLength, length) = FrameBuilder.plan(&plans, header: fields)
        guard let p = outbox.beginFrame(length: length) else {
            throw PodSyncError(Status.noMemory, "cannot allocate a \(length)-byte chunk")
        }
        for (k, run) in runs.enumerated() {
            let plan = plans[k]
            let t = run.table
            let size = plan.recordSize
            let n = plan.putCount
            let keys = image.keys.base + run.from
            (p + plan.putKeysOffset).copyMemory(from: keys, byteCount: 8 &* n)
            let out = p + plan.start + plan.recordsOffset
            let ahead = 16
            for i in 0..<min(ahead, n) { tables[t].index.prefetch(keys[i]) }
            for i in 0..<n {
                if i &+ ahead < n { tables[t].index.prefetch(keys[i &+ ahead]) }
                guard let record = snapshotRecord(t, key: keys[i], image: image) else {
                    outbox.frames.removeLast()
                    throw PodSyncError(Status.internal, "snapshot \(hex(image.id)) lost the record of key \(keys[i]) in table \(plan.tableID)")
                }
                copyRecord(to: out + i &* size, from: record, size: size)
            }
        }
        sequence &+= 1
        FrameBuilder.writeFrame(p, length: length, headerLength: headerLength, header: fields, sections: plans)
        finishFrame(records: plans.reduce(0) { $0 + $1.putCount }, bases: nil)
        metrics.chunksOut &+= 1
        stream.position = position
        stream.resumeStart = nil
        stream.chunkIndex &+= 1
        stream.finished = last
    }

    /// The record of `key` in table `t` at the image's version: saved, or unchanged by every
    /// flush since (its value as of the last flush).
    @inline(__always)
    func snapshotRecord(_ t: Int, key: UInt64, image: SnapshotImage) -> UnsafeRawPointer? {
        if let saved = image.saved[t].find(key) { return saved }
        let slot = tables[t].index.find(key)
        if slot != nilSlot { return tables[t].flushedRecord(Int(slot)) }
        // Not in the table and not saved: deleted in the pending batch, its value the pre-image.
        let d = tables[t].pendingDeletes.find(key)
        guard d != nilSlot, Int(d) < tables[t].dirty.count, case let pre = tables[t].dirty[Int(d)].pre, pre != nilSlot else { return nil }
        return tables[t].preimages.record(pre)
    }

    // MARK: Copy-on-write

    /// Makes room in every live image for `count` more saved records of table `t`.
    func reserveSaves(table t: Int, count: Int) throws(PodSyncError) {
        for entry in images {
            guard let image = entry.image, !image.expired else { continue }
            guard image.saved[t].reserve(count) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the copy-on-write records of a snapshot in flight")
            }
        }
    }

    /// Before a flush: saves the flushed value of every key the batch changes that a live image
    /// still needs (room reserved by `reserveSaves`).
    func preserveBatch(table t: Int) {
        for entry in images {
            guard let image = entry.image, !image.expired else { continue }
            for d in 0..<tables[t].dirty.count {
                let pre = tables[t].dirty[d].pre
                guard pre != nilSlot else { continue }
                let key = tables[t].preimages.keys[Int(pre)]
                if image.contains(table: t, key: key) { image.saved[t].save(key: key, record: tables[t].preimages.record(pre)) }
            }
        }
    }

    /// Before an applied delta changes key `key` of table `t` (whose current record is `record`).
    @inline(__always)
    func preserve(table t: Int, key: UInt64, record: UnsafeRawPointer) {
        for entry in images {
            guard let image = entry.image, !image.expired else { continue }
            if image.contains(table: t, key: key) { image.saved[t].save(key: key, record: record) }
        }
    }
}
