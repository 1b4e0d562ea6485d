import CPodSyncShims

/// Producing frames: the batch of a flush, catch-up deltas and snapshots. All three write the same
/// format; a snapshot is a delta since version 0 flagged RESET.
extension Store {
    var frameFlags: UInt32 { options.frameDigest ? FrameLayout.flagHasDigest : 0 }

    /// One table's share of a frame being produced.
    struct Part {
        var work: Int
        var deletes: Range<Int>
        var puts: Range<Int>
    }

    /// The changes of one table waiting in a flush: the table's `flushPuts` and `flushDeletes`
    /// (indices into its dirty list) hold them.
    struct TableWork {
        var table: Int
        var puts = 0
        var deletes = 0
    }

    // MARK: Flush

    /// Turns the pending batch into frames (one per version step) in the outbox. Returns how many.
    /// Everything it needs is allocated before it changes anything.
    public mutating func flush() throws(PodSyncError) -> Int {
        try requireWriter("flush")
        try refuseIfLogFailed()
        files?.syncIfDue()
        let before = version
        let count = try flushFrames()
        // A durable writer logs what it hands out first (podsync_store_flush).
        if files != nil && version != before {
            do { try logOutbox() } catch {
                outbox.clear()
                throw error
            }
        }
        return count
    }

    mutating func flushFrames() throws(PodSyncError) -> Int {
        let start = podsync_monotonic_ns()
        defer { metrics.recordEncode(since: start) }
        var work: [TableWork] = []
        for t in 0..<tableCount where tables[t].dirty.count > 0 {
            var w = TableWork(table: t)
            let entries = tables[t].dirty.count
            guard tables[t].flushPuts.reserve(entries), tables[t].flushDeletes.reserve(entries) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the flush of table \(tables[t].schema.id)")
            }
            tables[t].flushPuts.removeAll()
            tables[t].flushDeletes.removeAll()
            for d in 0..<entries {
                let entry = tables[t].dirty[d]
                if entry.slot != nilSlot {
                    tables[t].flushPuts.append(UInt32(truncatingIfNeeded: d))
                } else if entry.pre != nilSlot {
                    tables[t].flushDeletes.append(UInt32(truncatingIfNeeded: d))
                }
            }
            w.puts = tables[t].flushPuts.count
            w.deletes = tables[t].flushDeletes.count
            work.append(w)
        }
        var changes: UInt64 = 0
        var deletions = 0
        for w in work {
            changes &+= UInt64(w.puts + w.deletes)
            deletions &+= w.deletes
        }
        // Tables whose changes all cancelled out (created and deleted in the batch) send nothing.
        let active = work.filter { $0.puts + $0.deletes > 0 }
        var frames = splitIntoFrames(active)
        if work.isEmpty && refreshDue { return try refreshOnlyFrame() }
        // Frame i gets version first + i. A feed's frames end at its writer's version; when they
        // do not fit between its last frame and that version, the batch goes as one frame.
        var first = version &+ 1
        if let feed = feedState, !frames.isEmpty {
            if UInt64(frames.count) > feed.target &- version { frames = splitIntoFrames(active, limit: Int.max) }
            first = feed.target &- UInt64(frames.count) &+ 1
        }
        let last = first &+ UInt64(frames.count) &- 1
        let keeps = keepsTombstones(for: deletions)
        // The last frame of a flush carries the next refresh slice.
        let slice: PendingSlice? = refreshOn && !frames.isEmpty ? try cutSlice() : nil
        try reserveForFlush(frames, work: active, first: first, tombstones: keeps, slice: slice)
        if !images.isEmpty {
            for w in active { try reserveSaves(table: w.table, count: w.puts &+ w.deletes) }
        }
        if !feeds.isEmpty && !frames.isEmpty { try reserveFeeds(active) }
        let ranked = ranksForFlush(active)

        // Nothing below can fail.
        if !images.isEmpty {
            for w in active { preserveBatch(table: w.table) }
        }
        outbox.clear()
        metrics.writes &+= writesSinceFlush
        metrics.coalescedWrites &+= writesSinceFlush > changes ? writesSinceFlush - changes : 0
        writesSinceFlush = 0
        if !keeps { forgetAllTombstones(floor: last) }
        for (i, parts) in frames.enumerated() {
            let v = first &+ UInt64(i)
            encodeBatchFrame(parts, work: active, base: i == 0 ? version : v &- 1, version: v, tombstones: keeps,
                             slice: i == frames.count - 1 ? slice : nil, ranked: ranked)
        }
        for t in 0..<tableCount { tables[t].flushed() }
        if !feeds.isEmpty && !frames.isEmpty { pushToFeeds(active, target: last) }
        for w in work { tables[w.table].clearBatch() }
        guard !frames.isEmpty else { return 0 }
        if let slice { advanceRefresh(past: slice) }
        version = last
        batchStartMs = 0
        purgeTombstones()
        return frames.count
    }

    /// Reserves the outbox, change logs and tombstones a flush will write (`active`: the tables
    /// with changes to send).
    mutating func reserveForFlush(_ frames: [[Part]], work active: [TableWork], first: UInt64, tombstones: Bool, slice: PendingSlice?) throws(PodSyncError) {
        var lengths: [Int] = []
        lengths.reserveCapacity(frames.count)
        for (i, parts) in frames.enumerated() {
            let v = first &+ UInt64(i)
            var (plans, fields) = batchFramePlan(parts, work: active, sequence: sequence &+ UInt64(i) &+ 1,
                                                 base: i == 0 ? version : v &- 1, version: v, digest: 0,
                                                 slice: i == frames.count - 1 ? slice : nil)
            lengths.append(FrameBuilder.plan(&plans, header: fields).length)
        }
        guard outbox.reserve(lengths: lengths) else {
            throw PodSyncError(Status.noMemory, "cannot allocate \(lengths.reduce(0, &+)) bytes of frames")
        }
        for w in active {
            guard tables[w.table].reserveLog(w.puts, records: tables[w.table].count),
                  !tombstones || tables[w.table].tombstones.reserve(w.deletes) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the change log of table \(tables[w.table].schema.id)")
            }
        }
    }

    /// The header fields of a frame this store produces, in its frame format.
    func header(flags: UInt32, sequence: UInt64, base: UInt64, state: UInt64, digest: UInt64) -> FrameBuilder.HeaderFields {
        var fields = FrameBuilder.HeaderFields(flags: flags, schemaHash: schemaHash, streamID: streamID, sequence: sequence,
                                               baseVersion: base, stateVersion: state, stateDigest: digest,
                                               formatVersion: options.frameFormat)
        withTerm(&fields)
        return fields
    }

    func sectionPlans(_ parts: [Part], work: [TableWork]) -> [SectionPlan] {
        parts.map { part -> SectionPlan in
            let t = work[part.work].table
            return SectionPlan(tableIndex: t, tableID: tables[t].schema.id, recordSize: tables[t].recordSize,
                               alignment: tables[t].schema.alignment, putCount: part.puts.count,
                               deleteCount: part.deletes.count)
        }
    }

    /// Cuts the batch into frames of at most `maxFrameBytes` (each holding at least one change).
    func splitIntoFrames(_ work: [TableWork], limit: Int? = nil) -> [[Part]] {
        let limit = limit ?? (options.maxFrameBytes == 0 ? Int.max : Int(clamping: options.maxFrameBytes))
        var frames: [[Part]] = []
        var current: [Part] = []
        var size = FrameLayout.headerSize
        for (w, item) in work.enumerated() {
            let table = tables[item.table].schema
            let overhead = FrameBuilder.sectionOverhead(alignment: table.alignment)
            let putCost = 8 + table.recordSize
            var d = 0
            var p = 0
            while d < item.deletes || p < item.puts {
                var room = limit &- size &- overhead
                var takeDeletes = min(item.deletes - d, max(room, 0) / 8)
                room &-= takeDeletes * 8
                var takePuts = min(item.puts - p, max(room, 0) / putCost)
                if takeDeletes + takePuts == 0 {
                    if !current.isEmpty {
                        frames.append(current)
                        current = []
                        size = FrameLayout.headerSize
                        continue
                    }
                    if d < item.deletes { takeDeletes = 1 } else { takePuts = 1 }
                }
                current.append(Part(work: w, deletes: d..<(d + takeDeletes), puts: p..<(p + takePuts)))
                size &+= overhead &+ takeDeletes * 8 &+ takePuts * putCost
                d += takeDeletes
                p += takePuts
                if d < item.deletes || p < item.puts {
                    frames.append(current)
                    current = []
                    size = FrameLayout.headerSize
                }
            }
        }
        if !current.isEmpty { frames.append(current) }
        return frames
    }

    /// The sections and header of one frame of a flush: its changes, and the refresh slice when it
    /// carries one (which makes it a format-2 frame).
    func batchFramePlan(_ parts: [Part], work: [TableWork], sequence: UInt64, base: UInt64, version frameVersion: UInt64, digest: UInt64,
                        slice: PendingSlice?) -> ([SectionPlan], FrameBuilder.HeaderFields) {
        var plans = sectionPlans(parts, work: work)
        var fields = header(flags: frameFlags, sequence: sequence, base: base, state: frameVersion, digest: digest)
        if let slice {
            plans += slicePlans(slice)
            fields.slice = slice.record
            fields.formatVersion = HeaderV2.formatVersion
        }
        return (plans, fields)
    }

    /// Writes one frame of a flush and moves its keys to `version`.
    /// The outbox, logs and tombstones were reserved (`reserveForFlush`): this cannot fail.
    mutating func encodeBatchFrame(_ parts: [Part], work: [TableWork], base: UInt64, version frameVersion: UInt64, tombstones: Bool,
                                   slice: PendingSlice? = nil, ranked: [Bool] = []) {
        var (plans, fields) = batchFramePlan(parts, work: work, sequence: sequence &+ 1, base: base, version: frameVersion, digest: 0, slice: slice)
        let (headerLength, length) = FrameBuilder.plan(&plans, header: fields)
        guard let p = outbox.beginFrame(length: length) else { preconditionFailure("outbox space was reserved") }
        var newDigest = digest
        // For the XOR and FIELDS transforms: each put's value at the base version (its pre-image, or none).
        // Not with a rolling refresh: a receiver out of sync needs absolute values.
        let wantBases = options.compressionLevel != 0 && options.transforms & FrameLayout.relativeTransforms != 0 && !refreshOn
        var bases: [[UnsafeRawPointer?]] = []
        var ranks: [[UInt32]?] = []
        for (k, part) in parts.enumerated() {
            let plan = plans[k]
            let t = plan.tableIndex
            let size = tables[t].recordSize
            let keysOut = p + plan.putKeysOffset
            let recordsOut = p + plan.start + plan.recordsOffset
            let deletesOut = p + plan.deleteKeysOffset
            let puts = tables[t].flushPuts.base
            let deletes = tables[t].flushDeletes.base
            for (j, d) in part.deletes.enumerated() {
                let pre = tables[t].dirty[Int(deletes[d])].pre
                let key = tables[t].preimages.keys[Int(pre)]
                deletesOut.storeLE(key, at: 8 * j)
                newDigest &-= tables[t].treeLeave(key, tables[t].preimages.record(pre))
                if tombstones { tables[t].tombstones.add(key: key, version: frameVersion) }
            }
            // Records and their metadata sit at random places: fetch them a few iterations ahead
            // so the misses overlap.
            let ahead = 8
            let n = part.puts.count
            var sectionBases: [UnsafeRawPointer?] = []
            if wantBases { sectionBases.reserveCapacity(n) }
            let rankPuts = wantBases && t < ranked.count && ranked[t]
            var sectionRanks: [UInt32] = []
            if rankPuts { sectionRanks.reserveCapacity(n) }
            for (j, d) in part.puts.enumerated() {
                if j &+ ahead < n {
                    let future = Int(tables[t].dirty[Int(puts[d &+ ahead])].slot)
                    podsync_prefetch(tables[t].record(future))
                    podsync_prefetch_write(tables[t].meta.base + future)
                }
                let entry = tables[t].dirty[Int(puts[d])]
                let slot = Int(entry.slot)
                let key = entry.key
                let out = recordsOut + j &* size
                keysOut.storeLE(key, at: 8 * j)
                copyRecord(to: out, from: tables[t].record(slot), size: size)
                // One seed for the old term, the new term and the tree's leaf.
                let seed = tables[t].index.hash(key)
                var change = recordDigest(seed: seed, record: out, size: size)
                if entry.pre != nilSlot {
                    change &-= recordDigest(seed: seed, record: tables[t].preimages.record(entry.pre), size: size)
                }
                if wantBases { sectionBases.append(entry.pre != nilSlot ? tables[t].preimages.record(entry.pre) : nil) }
                if rankPuts { sectionRanks.append(tables[t].meta[slot].rank) }
                newDigest &+= change
                tables[t].tree.add(seed: seed, change)
                if tables[t].meta[slot].version == 0 { tables[t].tombstones.remove(key: key) }
                tables[t].stamp(entry.slot, key: key, version: frameVersion)
            }
            bases.append(sectionBases)
            ranks.append(rankPuts ? sectionRanks : nil)
        }
        digest = newDigest
        sequence &+= 1
        if let slice { writeSlice(slice, plans: plans[parts.count...], into: p) }
        fields.stateDigest = newDigest
        FrameBuilder.writeFrame(p, length: length, headerLength: headerLength, header: fields, sections: plans)
        finishFrame(records: plans.reduce(0) { $0 + $1.putCount + $1.deleteCount }, bases: wantBases ? bases : nil,
                    ranks: wantBases ? ranks : nil)
    }

    /// KEY_RANKS: for each table, whether this flush sends its puts as ranks (Table+Ranks.swift).
    /// Not for feeds (subscription frames) nor with a rolling refresh (absolute deltas).
    mutating func ranksForFlush(_ work: [TableWork]) -> [Bool] {
        guard options.compressionLevel != 0, options.frameFormat == 2, feedState == nil, !refreshOn,
              options.transforms & FrameLayout.transformKeyRanks != 0, options.transforms & FrameLayout.transformKeyGaps != 0
        else { return [] }
        var ranked = [Bool](repeating: false, count: tableCount)
        for w in work {
            ranked[w.table] = tables[w.table].ranksForFlush(puts: w.puts, deletes: w.deletes)
        }
        return ranked
    }

    /// Finishes the outbox's last frame: re-encodes it compressed (with transforms) when the
    /// options ask for it and it pays (`bases` enables the XOR transform, batch frames only), and
    /// counts it.
    mutating func finishFrame(records: Int, bases: [[UnsafeRawPointer?]]?, ranks: [[UInt32]?]? = nil) {
        guard let last = outbox.frames.last else { return }
        // The plain frame is checksummed only if it is the one sent (packing reads it unsealed).
        let plainFrame = outbox.buffer.base + last.offset
        var sent = false
        defer { if !sent { FrameBuilder.seal(plainFrame, length: last.length) } }
        metrics.framesOut &+= 1
        metrics.recordsOut &+= UInt64(records)
        metrics.rawBytesOut &+= UInt64(last.length)
        defer { metrics.wireBytesOut &+= UInt64(outbox.frames[outbox.frames.count - 1].length) }
        guard options.compressionLevel != 0 else { return }
        let plain = UnsafeRawBufferPointer(start: outbox.buffer.base + last.offset, count: last.length)
        let trialsBefore = columnAdvice.trials
        // COLUMNS (raw and sparse columns) can cost bytes zstd would have saved: see ColumnsChoice.
        let columns = options.transforms & FrameLayout.transformColumns != 0
        // (While it collects samples for a dictionary, a writer packs as its options say.)
        let collecting = dictionarySamples != nil
        let tryBoth = columns && !collecting && columnsChoice.tryBoth(frameBytes: plain.count)
        // The encodings to make: as the options say (COLUMNS included, if allowed), and without COLUMNS.
        let withOptions = !columns || collecting || tryBoth || columnsChoice.useColumns
        let withoutColumns = columns && !collecting && (tryBoth || !columnsChoice.useColumns)
        var packed: FrameCodec.Packed? = nil
        if withOptions {
            packed = FrameCodec.pack(plain, bases: bases, ranks: ranks, schema: schema, transforms: options.transforms, level: options.compressionLevel,
                                     output: &codecOutput, scratch: &codecScratch, zstd: &zstd, advice: &columnAdvice)
            metrics.columnTrials &+= UInt64(columnAdvice.trials &- trialsBefore)
            if codecScratch.streamLength > 0 {
                dictionarySamples?.add(UnsafeRawPointer(codecScratch.stream.base), count: codecScratch.streamLength)
            }
        }
        var source = codecOutput.base
        if withoutColumns {
            let without = FrameCodec.pack(plain, bases: bases, ranks: ranks, schema: schema, transforms: options.transforms & ~FrameLayout.transformColumns,
                                          level: options.compressionLevel, output: &codecOutputWithoutColumns,
                                          scratch: &codecScratch, zstd: &zstd, advice: &columnAdvice)
            if tryBoth { columnsChoice.learn(with: packed?.length ?? plain.count, without: without?.length ?? plain.count, frameBytes: plain.count) }
            if let without, without.length < packed?.length ?? Int.max {
                packed = without
                source = codecOutputWithoutColumns.base
            }
        }
        guard let packed else { return }
        sent = true
        (outbox.buffer.base + last.offset).copyMemory(from: source, byteCount: packed.length)
        outbox.shrinkLastFrame(to: packed.length)
        if packed.compressed { metrics.compressedFrames &+= 1 }
        if packed.dictionaryID != 0 { metrics.dictionaryFrames &+= 1 }
        metrics.savedByKeyGaps &+= UInt64(max(packed.savedByKeyGaps, 0))
        metrics.savedByZeroColumns &+= UInt64(packed.savedByZeroColumns)
        metrics.rawColumnBytes &+= UInt64(packed.rawColumnBytes)
        metrics.savedByCompression &+= UInt64(max(packed.savedByCompression, 0))
    }

    /// A slice alone, at the writer's version (base = state): an idle writer keeps refreshing.
    mutating func refreshOnlyFrame() throws(PodSyncError) -> Int {
        let slice = try cutSlice()
        var plans = slicePlans(slice)
        var fields = header(flags: frameFlags, sequence: sequence &+ 1, base: version, state: version, digest: digest)
        fields.slice = slice.record
        fields.formatVersion = HeaderV2.formatVersion
        let (headerLength, length) = FrameBuilder.plan(&plans, header: fields)
        outbox.clear()
        guard let p = outbox.beginFrame(length: length) else {
            throw PodSyncError(Status.noMemory, "cannot allocate a \(length)-byte refresh frame")
        }
        sequence &+= 1
        writeSlice(slice, plans: plans[0...], into: p)
        FrameBuilder.writeFrame(p, length: length, headerLength: headerLength, header: fields, sections: plans)
        finishFrame(records: plans.reduce(0) { $0 + $1.putCount }, bases: nil)
        advanceRefresh(past: slice)
        return 1
    }

    /// A diverged replica must not pass its state on: downstream replicas would inherit the
    /// divergence with a digest that hides it.
    func refuseIfDiverged() throws(PodSyncError) {
        try refuseIfLogFailed()
        guard !diverged else {
            throw PodSyncError(Status.diverged, "this replica diverged from its writer; it serves no frames until a snapshot heals it")
        }
        guard !refreshing else {
            throw PodSyncError(Status.diverged, "this one-way replica is out of sync (refreshing); it serves no frames until it is in sync again")
        }
    }

    // MARK: Catch-up

    /// One frame with every change since `since` as of the last flush. Returns `Status.ok`, or
    /// `Status.snapshotRequired` (no frame) when `since` is older than the store covers.
    public mutating func delta(since: UInt64) throws(PodSyncError) -> Int32 {
        try refuseIfDiverged()
        guard since <= version else {
            throw PodSyncError(Status.versionAhead, "delta since \(since) asked of a store at version \(version)")
        }
        if since == 0 { return try snapshot() }  // timed there, once
        let start = podsync_monotonic_ns()
        defer { metrics.recordEncode(since: start) }
        outbox.clear()
        if since == version { return Status.ok }
        if since < catchupFloor { return Status.snapshotRequired }

        let collected = try collectCatchup(since: since)

        var plans = collected.map { t in
            SectionPlan(tableIndex: t, tableID: tables[t].schema.id, recordSize: tables[t].recordSize,
                        alignment: tables[t].schema.alignment, putCount: tables[t].catchupKeys.count,
                        deleteCount: tables[t].catchupDeletes.count)
        }
        let fields = header(flags: frameFlags, sequence: sequence &+ 1, base: since, state: version, digest: digest)
        let (headerLength, length) = FrameBuilder.plan(&plans, header: fields)
        if options.maxFrameBytes != 0 && UInt64(length) > options.maxFrameBytes {
            try chunkedDelta(since: since, collected: collected)
            return Status.ok
        }
        guard let p = outbox.beginFrame(length: length) else {
            throw PodSyncError(Status.noMemory, "cannot allocate a \(length)-byte catch-up delta")
        }
        writeCatchupSections(p, plans)
        sequence &+= 1
        FrameBuilder.writeFrame(p, length: length, headerLength: headerLength, header: fields, sections: plans)
        finishFrame(records: plans.reduce(0) { $0 + $1.putCount + $1.deleteCount }, bases: nil)
        return Status.ok
    }

    /// Copies each planned table's catch-up lists (keys, deletions, records) into its section of
    /// the frame at `p`.
    func writeCatchupSections(_ p: UnsafeMutableRawPointer, _ plans: [SectionPlan]) {
        for plan in plans {
            let t = plan.tableIndex
            let size = plan.recordSize
            let recordsOut = p + plan.start + plan.recordsOffset
            (p + plan.putKeysOffset).copyMemory(from: tables[t].catchupKeys.base, byteCount: 8 &* plan.putCount)
            (p + plan.deleteKeysOffset).copyMemory(from: tables[t].catchupDeletes.base, byteCount: 8 &* plan.deleteCount)
            for j in 0..<plan.putCount { copyRecord(to: recordsOut + j &* size, from: tables[t].catchupRecords[j], size: size) }
        }
    }

    /// Each table's changes since `since` (as of the last flush) into its scratch lists
    /// (`catchupKeys`, `catchupRecords`, `catchupDeletes`; fallible growth). Returns the tables
    /// with changes. `since` must be at least the catch-up floor.
    mutating func collectCatchup(since: UInt64) throws(PodSyncError) -> [Int] {
        var collected: [Int] = []
        for t in 0..<tableCount {
            tables[t].catchupKeys.removeAll()
            tables[t].catchupRecords.removeAll()
            tables[t].catchupDeletes.removeAll()
            // The log's tail since `since`, then the entries still current, looked up through
            // the prefetch pipeline.
            var start = tables[t].log.count
            while start > 0 && tables[t].log[start - 1].version > since { start -= 1 }
            let logged = tables[t].log.count - start
            let dirty = tables[t].dirty.count
            guard tables[t].catchupKeys.reserve(logged &+ dirty), tables[t].catchupRecords.reserve(logged &+ dirty),
                  tables[t].catchupDeletes.reserve(tables[t].tombstones.alive) else {
                throw PodSyncError(Status.noMemory, "cannot allocate a catch-up delta of table \(tables[t].schema.id)")
            }
            let log = tables[t].log.view
            tables[t].forEachSlot(count: logged, key: { log[start &+ $0].key }) { table, i, key, slot in
                guard slot != nilSlot, table.meta[Int(slot)].version == log[start &+ i].version else { return }
                table.catchupKeys.append(key)
                table.catchupRecords.append(table.flushedRecord(Int(slot)))
            }
            // Keys deleted (and maybe created again) in the pending batch are live as of the last
            // flush with their pre-image.
            for d in 0..<dirty {
                let entry = tables[t].dirty[d]
                if tables[t].flushedOnlyInPreimage(d) && tables[t].preimages.versions[Int(entry.pre)] > since {
                    tables[t].catchupKeys.append(tables[t].preimages.keys[Int(entry.pre)])
                    tables[t].catchupRecords.append(tables[t].preimages.record(entry.pre))
                }
            }
            var i = tables[t].tombstones.entries.count &- 1
            while i >= tables[t].tombstones.start && tables[t].tombstones.entries[i].version > since {
                let tombstone = tables[t].tombstones.entries[i]
                if tombstone.alive { tables[t].catchupDeletes.append(tombstone.key) }
                i &-= 1
            }
            if tables[t].catchupKeys.count > 0 || tables[t].catchupDeletes.count > 0 { collected.append(t) }
        }
        return collected
    }

    /// The whole state as of the last flush: one RESET frame, or the chunks of a chunked snapshot
    /// when it does not fit in max_frame_bytes.
    public mutating func snapshot() throws(PodSyncError) -> Int32 {
        try refuseIfDiverged()
        var plans: [SectionPlan] = []
        for t in 0..<tableCount {
            let live = tables[t].dirty.count == 0 ? tables[t].count : flushedCount(t)
            if live > 0 {
                plans.append(SectionPlan(tableIndex: t, tableID: tables[t].schema.id, recordSize: tables[t].recordSize,
                                         alignment: tables[t].schema.alignment, putCount: live, deleteCount: 0))
            }
        }
        let fields = header(flags: frameFlags | FrameLayout.flagReset, sequence: sequence &+ 1, base: 0, state: version, digest: digest)
        let (headerLength, length) = FrameBuilder.plan(&plans, header: fields)
        if options.maxFrameBytes != 0 && UInt64(length) > options.maxFrameBytes {
            // At max_frame_bytes, below the minimum a caller may ask of podsync_snapshot_begin if
            // need be: a chunk still holds one record.
            var snapshotID: UInt64 = 0
            while snapshotID == 0 { snapshotID = UInt64.random(in: 1...UInt64.max) }
            var stream = SnapshotStream(image: makeImage(id: snapshotID), table: 0, position: 0, chunkIndex: 0,
                                        maxChunkBytes: Int(clamping: options.maxFrameBytes))
            outbox.clear()
            do {
                while !stream.finished { try produceChunk(&stream) }
            } catch {
                outbox.clear()
                throw error
            }
            return Status.ok
        }
        let start = podsync_monotonic_ns()
        defer { metrics.recordEncode(since: start) }
        outbox.clear()
        guard let p = outbox.beginFrame(length: length) else {
            throw PodSyncError(Status.noMemory, "cannot allocate a \(length)-byte snapshot")
        }
        for plan in plans {
            let t = plan.tableIndex
            let size = plan.recordSize
            let keysOut = p + plan.putKeysOffset
            let recordsOut = p + plan.start + plan.recordsOffset
            if tables[t].dirty.count == 0 {
                // No pending writes: the arena is the flushed state, copy it whole.
                keysOut.copyMemory(from: tables[t].keys.base, byteCount: 8 * plan.putCount)
                recordsOut.copyMemory(from: tables[t].records.base, byteCount: size * plan.putCount)
                continue
            }
            var j = 0
            for slot in 0..<tables[t].count where tables[t].meta[slot].version != 0 {
                keysOut.storeLE(tables[t].keys[slot], at: 8 * j)
                copyRecord(to: recordsOut + j &* size, from: tables[t].flushedRecord(slot), size: size)
                j += 1
            }
            for d in 0..<tables[t].dirty.count {
                let entry = tables[t].dirty[d]
                guard tables[t].flushedOnlyInPreimage(d) else { continue }
                keysOut.storeLE(tables[t].preimages.keys[Int(entry.pre)], at: 8 * j)
                copyRecord(to: recordsOut + j &* size, from: tables[t].preimages.record(entry.pre), size: size)
                j += 1
            }
        }
        sequence &+= 1
        FrameBuilder.writeFrame(p, length: length, headerLength: headerLength, header: fields, sections: plans)
        finishFrame(records: plans.reduce(0) { $0 + $1.putCount }, bases: nil)
        return Status.ok
    }

    /// Records of table `t` as of the last flush: linked slots plus keys deleted since.
    func flushedCount(_ t: Int) -> Int {
        var n = 0
        for slot in 0..<tables[t].count where tables[t].meta[slot].version != 0 { n += 1 }
        for d in 0..<tables[t].dirty.count where tables[t].flushedOnlyInPreimage(d) { n += 1 }
        return n
    }
}
