/// Catch-up deltas larger than max_frame_bytes, cut into chunks like snapshots (docs/FORMAT.md,
/// "Chunked snapshots and deltas"): the changes since a version, ordered by position
/// `(table, seed(t, k))`, each chunk a range of positions. The whole delta is produced at once
/// into the outbox (it describes the state as of the last flush, like an unchunked delta).
extension Store {
    /// Cuts the changes `delta(since:)` collected into the tables' catch-up lists (tables
    /// `collected`) into chunks of at most max_frame_bytes.
    mutating func chunkedDelta(since: UInt64, collected: [Int]) throws(PodSyncError) {
        let limit = max(Int(clamping: options.maxFrameBytes), 1)  // a chunk still holds one change
        // Every change of every table, in position order: puts carry their record, deletes none.
        var entries = RawVector<ChunkEntry>()
        var total = 0
        for t in collected { total &+= tables[t].catchupKeys.count &+ tables[t].catchupDeletes.count }
        guard entries.reserve(total) else { throw PodSyncError(Status.noMemory, "cannot allocate a chunked delta") }
        var tableStart: [Int] = []
        for t in collected {
            tableStart.append(entries.count)
            for i in 0..<tables[t].catchupKeys.count {
                let key = tables[t].catchupKeys[i]
                entries.append(ChunkEntry(hash: tables[t].index.hash(key), key: key, record: tables[t].catchupRecords[i], slot: 0))
            }
            for i in 0..<tables[t].catchupDeletes.count {
                let key = tables[t].catchupDeletes[i]
                entries.append(ChunkEntry(hash: tables[t].index.hash(key), key: key, record: nil, slot: 0))
            }
            heapSortByHash(entries.base + tableStart[tableStart.count - 1], entries.count &- tableStart[tableStart.count - 1])
        }
        tableStart.append(entries.count)
        var snapshotID: UInt64 = 0
        while snapshotID == 0 { snapshotID = UInt64.random(in: 1...UInt64.max) }
        outbox.clear()
        var index: UInt64 = 0
        var k = 0  // position in `collected`
        var position = 0  // next entry
        var start: (UInt32, UInt64) = (0, 0)
        repeat {
            // Runs of entries that fit the chunk, table after table; at least one entry.
            var runs: [ChunkRun] = []
            var used = chunkHeaderRoom
            while k < collected.count {
                let t = collected[k]
                let size = tables[t].recordSize
                let overhead = FrameBuilder.sectionOverhead(alignment: tables[t].schema.alignment)
                let end = tableStart[k &+ 1]
                var take = position
                var bytes = used &+ overhead
                while take < end {
                    let cost = entries[take].record == nil ? 8 : 8 &+ size
                    if bytes &+ cost > limit && (take > position || !runs.isEmpty) { break }
                    bytes &+= cost
                    take &+= 1
                }
                if take > position {
                    runs.append(ChunkRun(table: t, from: position, to: take))
                    used = bytes
                    position = take
                }
                if position < end { break }
                k &+= 1
            }
            let last = k >= collected.count
            var chunk = ChunkRecord()
            chunk.snapshotID = snapshotID
            chunk.index = index
            chunk.last = last
            chunk.startTable = start.0
            chunk.startKey = start.1
            if last {
                chunk.recordCount = UInt64(total)
            } else {
                // The next chunk starts at its first entry's position.
                chunk.endTable = tables[collected[k]].schema.id
                chunk.endKey = entries[position].hash
                start = (chunk.endTable, chunk.endKey)
            }
            try writeDeltaChunk(runs, entries: entries.base, since: since, chunk: chunk)
            index &+= 1
        } while k < collected.count
    }

    /// Writes one chunk of a chunked delta: for each run, its puts and its deletes.
    mutating func writeDeltaChunk(_ runs: [ChunkRun], entries: UnsafeMutablePointer<ChunkEntry>, since: UInt64,
                                  chunk: ChunkRecord) throws(PodSyncError) {
        var plans = runs.map { run -> SectionPlan in
            var puts = 0
            for i in run.from..<run.to where entries[i].record != nil { puts &+= 1 }
            return SectionPlan(tableIndex: run.table, tableID: tables[run.table].schema.id, recordSize: tables[run.table].recordSize,
                               alignment: tables[run.table].schema.alignment, putCount: puts, deleteCount: run.to &- run.from &- puts)
        }
        var fields = FrameBuilder.HeaderFields(
            flags: frameFlags, schemaHash: schemaHash, streamID: streamID, sequence: sequence &+ 1, baseVersion: since,
            stateVersion: version, stateDigest: digest, formatVersion: HeaderV2.formatVersion, chunk: chunk)
        withTerm(&fields)
        let (headerLength, length) = FrameBuilder.plan(&plans, header: fields)
        guard let p = outbox.beginFrame(length: length) else {
            throw PodSyncError(Status.noMemory, "cannot allocate a \(length)-byte chunk of a catch-up delta")
        }
        for (run, plan) in zip(runs, plans) {
            let size = plan.recordSize
            var put = 0, deleted = 0
            for i in run.from..<run.to {
                let e = entries[i]
                if let record = e.record {
                    (p + plan.putKeysOffset).storeLE(e.key, at: 8 &* put)
                    copyRecord(to: p + plan.start + plan.recordsOffset + put &* size, from: record, size: size)
                    put &+= 1
                } else {
                    (p + plan.deleteKeysOffset).storeLE(e.key, at: 8 &* deleted)
                    deleted &+= 1
                }
            }
        }
        sequence &+= 1
        FrameBuilder.writeFrame(p, length: length, headerLength: headerLength, header: fields, sections: plans)
        finishFrame(records: runs.reduce(0) { $0 &+ $1.to &- $1.from }, bases: nil)
        metrics.chunksOut &+= 1
    }
}
