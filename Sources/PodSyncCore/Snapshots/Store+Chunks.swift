/// Applying the chunks of a chunked snapshot on a replica (docs/FORMAT.md, "Chunked snapshots and
/// deltas"): staged beside the visible state, which changes only at the switch after the last
/// chunk; or, for an empty replica with fill-in-place, applied to its tables as they come.
extension Store {
    /// What a replica expects next of a chunked snapshot (podsync_store_staging).
    public struct ChunkPosition: Sendable, Equatable {
        public var streamID: UInt64
        public var snapshotID: UInt64
        public var stateVersion: UInt64
        public var chunkIndex: UInt64
        public var startTable: UInt32
        public var startKey: UInt64
        /// 0 for a snapshot; a chunked delta's base version.
        public var baseVersion: UInt64 = 0
        /// The writer's term.
        public var term: UInt64 = 0

        public init(streamID: UInt64, snapshotID: UInt64, stateVersion: UInt64, chunkIndex: UInt64, startTable: UInt32, startKey: UInt64,
                    baseVersion: UInt64 = 0) {
            self.baseVersion = baseVersion
            self.streamID = streamID
            self.snapshotID = snapshotID
            self.stateVersion = stateVersion
            self.chunkIndex = chunkIndex
            self.startTable = startTable
            self.startKey = startKey
        }
    }

    /// The staged snapshot's next chunk, or (nothing staged) chunk 0 of the last snapshot whose
    /// later chunk arrived first; nil when there is neither.
    public var stagingPosition: ChunkPosition? {
        if let s = staging {
            var p = ChunkPosition(streamID: s.streamID, snapshotID: s.snapshotID, stateVersion: s.stateVersion,
                                  chunkIndex: s.nextIndex, startTable: s.nextTable, startKey: s.nextKey,
                                  baseVersion: s.isDelta ? s.baseVersion : 0)
            p.term = s.term
            return p
        }
        return wantedChunk
    }

    /// Bytes of the staged tables (metrics).
    public var stagingBytesHeld: Int { staging?.bytesHeld ?? 0 }

    /// Classifies and applies one validated chunk. Returns the status of podsync_store_apply.
    mutating func applyChunk(_ header: FrameHeader, _ chunk: ChunkRecord, _ sections: [SectionView], frameBytes: Int) throws(PodSyncError) -> Int32 {
        if !header.isReset {
            // A chunk of a catch-up delta: checked like the delta it is part of.
            if diverged { throw PodSyncError(Status.diverged, "replica diverged from the writer; only a snapshot is accepted") }
            if bound && header.streamID != streamID {
                throw PodSyncError(Status.streamMismatch, "delta from stream \(hex(header.streamID)) but this replica follows \(hex(streamID)); apply a snapshot of the new stream")
            }
            try checkTerm(header)
            if bound && header.stateVersion <= version { return Status.duplicate }
        } else {
            try checkFence(header)
        }
        // 1. Older than (or equal to) what the replica holds of the same stream.
        if header.isReset && bound && header.streamID == streamID && !diverged && header.term == term {
            if header.stateVersion < version { return Status.stale }
            if header.stateVersion == version { return Status.duplicate }
        }
        if bound && header.streamID == 0 {
            throw PodSyncError(Status.streamMismatch, "a snapshot of no stream (stream id 0) cannot replace the state of stream \(hex(streamID))")
        }
        if let s = staging, s.isPart(of: header, chunk) {
            // 2. Part of the staged snapshot.
            if chunk.index < s.nextIndex { return Status.duplicate }
            if chunk.index > s.nextIndex {
                metrics.chunkGaps &+= 1
                return Status.chunkGap
            }
            do { try checkContinuity(s, header, chunk, sections) } catch {
                dropStaging()
                throw error
            }
        } else if chunk.index == 0 && (staging == nil || staging!.streamID != header.streamID
                                           || (header.term, header.stateVersion) >= (staging!.term, staging!.stateVersion)) {
            // 3. The first chunk of a newer snapshot: it replaces what was staged (checked first
            // against the record limit, so a refused chunk leaves the staging as it was).
            var puts: UInt64 = 0
            for section in sections { puts &+= UInt64(section.putCount) }
            if options.maxRecords != 0 && puts > options.maxRecords {
                throw PodSyncError(Status.limit, "the snapshot being staged would hold more than \(options.maxRecords) records, the store's max_records")
            }
            dropStaging()
            let inPlace = header.isReset && options.fillInPlace && !bound && version == 0 && isEmpty
            staging = Staging(header: header, chunk: chunk, schema: schema, inPlace: inPlace, spread: shardSpread)
            wantedChunk = nil
        } else {
            // 4. A chunk of a snapshot not staged.
            if let s = staging, header.streamID == s.streamID, (header.term, header.stateVersion) < (s.term, s.stateVersion) { return Status.stale }
            if staging == nil {
                wantedChunk = ChunkPosition(streamID: header.streamID, snapshotID: chunk.snapshotID, stateVersion: header.stateVersion,
                                            chunkIndex: 0, startTable: 0, startKey: 0, baseVersion: header.baseVersion)
                wantedChunk!.term = header.term
            }
            metrics.chunkGaps &+= 1
            return Status.chunkGap
        }
        let s = staging!
        do { try stageChunk(s, header, chunk, sections) } catch {
            if chunk.index == 0 && s.nextIndex == 0 { staging = nil }  // a staging that never held a chunk
            throw error
        }
        metrics.wireBytesIn &+= UInt64(frameBytes)
        for section in sections { metrics.recordsApplied &+= UInt64(section.putCount) }
        guard chunk.last else {
            metrics.chunksStaged &+= 1
            return Status.chunkStaged
        }
        return try switchToStaged(s, header)
    }

    /// The chunk continues the staging exactly: its start is the previous chunk's end, its digest
    /// and (last) record count agree. Otherwise the staging is dropped.
    func checkContinuity(_ s: Staging, _ header: FrameHeader, _ chunk: ChunkRecord, _ sections: [SectionView]) throws(PodSyncError) {
        var problem: String? = nil
        if (chunk.startTable, chunk.startKey) != (s.nextTable, s.nextKey) {
            problem = "chunk \(chunk.index) starts at table \(chunk.startTable) key \(chunk.startKey), but the chunks before it end at table \(s.nextTable) key \(s.nextKey)"
        } else if header.stateDigest != s.stateDigest || header.hasDigest != s.hasDigest {
            problem = "chunk \(chunk.index) carries another state digest than the chunks before it"
        } else if chunk.last {
            var puts: UInt64 = 0
            for section in sections { puts &+= UInt64(section.putCount &+ section.deleteCount) }
            if s.records &+ puts != chunk.recordCount {
                problem = "the last chunk says the snapshot has \(chunk.recordCount) records, the chunks hold \(s.records &+ puts)"
            }
        }
        if let problem { throw chunkMismatch(problem) }
    }

    func chunkMismatch(_ message: String) -> PodSyncError {
        PodSyncError(Status.chunkMismatch, message + "; the staged chunks were dropped, the state is unchanged")
    }

    var isEmpty: Bool {
        for t in 0..<tableCount where tables[t].count > 0 { return false }
        return true
    }

    /// Adds the chunk's records to the staging (checked and reserved first: on error nothing is
    /// staged).
    mutating func stageChunk(_ s: Staging, _ header: FrameHeader, _ chunk: ChunkRecord, _ sections: [SectionView]) throws(PodSyncError) {
        if chunk.index == 0 && chunk.last {
            // A one-chunk snapshot: its record count is checked here.
            var puts: UInt64 = 0
            for section in sections { puts &+= UInt64(section.putCount &+ section.deleteCount) }
            if puts != chunk.recordCount {
                dropStaging()
                throw chunkMismatch("the only chunk says the snapshot has \(chunk.recordCount) records and holds \(puts)")
            }
        }
        let target = s.tables ?? tables
        var puts = 0
        for section in sections { puts &+= section.putCount }
        if options.maxRecords != 0 && s.records &+ UInt64(puts) > options.maxRecords {
            throw PodSyncError(Status.limit, "the snapshot being staged would hold more than \(options.maxRecords) records, the store's max_records")
        }
        for section in sections where section.deleteCount > 0 {
            guard let lists = s.deletes, lists[section.tableIndex].reserve(lists[section.tableIndex].count &+ section.deleteCount) else {
                throw PodSyncError(Status.noMemory, "cannot allocate the deletions of a staged delta")
            }
        }
        for section in sections {
            let t = section.tableIndex
            // Chunks arrive in hash order, the order of the index's buckets: an index sized for
            // what has arrived would crowd each chunk's keys into a few buckets. Size it for the
            // whole table, estimated from the share of the hash space covered so far (bounded so
            // a lying chunk cannot make it reserve much more than it sent); the arena too, so it
            // is not copied as it grows.
            let upper: UInt64 = chunk.last || chunk.endTable != section.tableID ? .max : chunk.endKey
            let covered = max(Double(upper) / 18_446_744_073_709_551_616.0, 1.0 / 1_048_576)
            let have = Double(target[t].count &+ section.putCount)
            var estimate = min(have / covered, have * 64 + 65_536)
            if options.maxRecords != 0 { estimate = min(estimate, Double(options.maxRecords)) }
            try target[t].reserve(max(Int(estimate) &- target[t].count, section.putCount))
        }
        // Only a key listed twice can fail below: the chunk's keys are then taken back out.
        var added: UInt64 = 0
        var before: [Int] = []
        for section in sections {
            let t = section.tableIndex
            let id = section.tableID
            let size = section.recordSize
            let n = section.putCount
            let keys = section.putKeys
            before.append(target[t].count)
            // The index buckets sit at random places: fetch them a few keys ahead. No change log:
            // a snapshot's records are all at its version, below anything a catch-up delta serves.
            let ahead = 16
            for i in 0..<min(ahead, n) { target[t].index.prefetch(keys.le(8 &* i, as: UInt64.self)) }
            for i in 0..<n {
                if i &+ ahead < n { target[t].index.prefetch(keys.le(8 &* (i &+ ahead), as: UInt64.self)) }
                let key = keys.le(8 &* i, as: UInt64.self)
                let record = section.records + i &* size
                guard target[t].appendNew(key: key, record: record, version: s.stateVersion) else {
                    for (k, earlier) in sections.enumerated() where k < before.count {
                        let u = earlier.tableIndex
                        // Out of the tree again, then out of the table.
                        for slot in before[k]..<target[u].count { _ = target[u].treeLeave(target[u].keys[slot], target[u].record(slot)) }
                        target[u].truncate(to: before[k])
                    }
                    throw .malformed("chunk lists key \(key) of table \(id) twice or a key an earlier chunk held")
                }
                added &+= target[t].treeJoin(key, record)
            }
            if let lists = s.deletes {
                for i in 0..<section.deleteCount { lists[t].append(section.deleteKeys.le(8 &* i, as: UInt64.self)) }
            }
        }
        if chunk.index == 0 && s.tables == nil { generation &+= 1 }
        if s.tables == nil && changes.enabled {
            // Filling in place: the chunk's records are visible now.
            for (k, section) in sections.enumerated() {
                let t = section.tableIndex
                changes.lists[t].reserve(upserts: target[t].count &- before[k], deletes: 0)
                for i in before[k]..<target[t].count { changes.lists[t].upsert(target[t].keys[i]) }
            }
        }
        s.digest &+= added
        if s.tables == nil {
            digest &+= added
            generation &+= 1
        }
        var deletes = 0
        for section in sections { deletes &+= section.deleteCount }
        s.records &+= UInt64(puts &+ deletes)
        s.nextIndex = chunk.index &+ 1
        s.nextTable = chunk.endTable
        s.nextKey = chunk.endKey
    }

    /// After the last chunk: the staged state becomes the replica's in one step, unless the replica
    /// moved past it meanwhile.
    mutating func switchToStaged(_ s: Staging, _ header: FrameHeader) throws(PodSyncError) -> Int32 {
        staging = nil
        if s.isDelta { return try commitStagedDelta(s, header) }
        if bound && header.streamID == streamID && !diverged && s.tables != nil && s.term == term {
            if s.stateVersion < version { return Status.stale }
            if s.stateVersion == version { return Status.duplicate }
        }
        if let staged = s.tables {
            // Swap: the staging takes the old tables with it when it goes.
            beginReplacement()
            s.tables = tables
            tables = staged
            finishReplacement()
        }
        expireImages()
        refreshing = false
        adoptTerm(s.term, s.history)
        if bound || version != 0 { metrics.resyncs &+= 1 }
        metrics.framesApplied &+= 1
        if header.streamID != 0 {
            streamID = header.streamID
            bound = true
        }
        sequence = header.sequence
        version = s.stateVersion
        digest = s.digest
        catchupFloor = s.stateVersion
        diverged = false
        generation &+= 1
        if s.hasDigest && s.stateDigest != digest {
            diverged = true
            throw PodSyncError(Status.digestMismatch, "state digest \(hex(digest)) after snapshot version \(version) differs from the writer's \(hex(s.stateDigest)); the replica needs a snapshot")
        }
        return Status.ok
    }

    /// After the last chunk of a catch-up delta: classified as the delta would be, then applied in
    /// one step.
    mutating func commitStagedDelta(_ s: Staging, _ header: FrameHeader) throws(PodSyncError) -> Int32 {
        if diverged { throw PodSyncError(Status.diverged, "replica diverged from the writer; only a snapshot is accepted") }
        if bound && header.streamID != streamID {
            throw PodSyncError(Status.streamMismatch, "delta from stream \(hex(header.streamID)) but this replica follows \(hex(streamID))")
        }
        try checkTerm(header)
        if bound && s.stateVersion <= version { return Status.duplicate }
        if s.baseVersion > version { return Status.gap }
        guard let staged = s.tables, let lists = s.deletes else { return Status.gap }
        var sections: [SectionView] = []
        for t in 0..<tableCount where staged[t].count > 0 || lists[t].count > 0 {
            sections.append(SectionView(
                tableID: schema.tables[t].id, recordSize: staged[t].recordSize, putCount: staged[t].count,
                deleteCount: lists[t].count, putKeys: UnsafeRawPointer(staged[t].keys.base),
                deleteKeys: UnsafeRawPointer(lists[t].base), records: UnsafeRawPointer(staged[t].records.base), tableIndex: t))
        }
        var deletes = 0
        for section in sections { deletes &+= section.deleteCount }
        let keeps = keepsTombstones(for: deletes)
        try reserveForDelta(sections, keepsTombstones: keeps)
        if !images.isEmpty {
            for section in sections { try reserveSaves(table: section.tableIndex, count: section.putCount &+ section.deleteCount) }
        }
        if !keeps { forgetAllTombstones(floor: s.stateVersion) }
        applyDelta(sections, version: s.stateVersion, tombstones: keeps, absentNeedTombstones: s.stateVersion != s.baseVersion &+ 1)
        adoptTerm(s.term, s.history)
        metrics.framesApplied &+= 1
        if header.streamID != 0 {
            streamID = header.streamID
            bound = true
        }
        sequence = header.sequence
        version = s.stateVersion
        generation &+= 1
        purgeTombstones()
        if s.hasDigest && s.stateDigest != digest {
            diverged = true
            throw PodSyncError(Status.digestMismatch, "state digest \(hex(digest)) after version \(version) differs from the writer's \(hex(s.stateDigest)); the replica needs a snapshot")
        }
        return Status.ok
    }

    /// Forgets the staged chunks; filling in place, the tables go back to empty.
    mutating func dropStaging() {
        guard let s = staging else { return }
        staging = nil
        if s.tables == nil {
            beginReplacement()
            for t in 0..<tableCount { tables[t].removeAll(keepingCapacityFor: 0) }
            finishReplacement()
            digest = 0
            generation &+= 1
        }
    }
}
