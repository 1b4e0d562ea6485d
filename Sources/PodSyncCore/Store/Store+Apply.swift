import CPodSyncShims

/// Applying frames on a replica: validate everything first, decide by the version rules, then
/// apply in one pass that cannot fail.
extension Store {
    /// Applies one frame. Returns `Status.ok`, `.duplicate`, `.gap` or `.stale`; throws with the
    /// state unchanged, except `Status.digestMismatch` (applied, then found diverged).
    public mutating func apply(_ frame: UnsafeRawBufferPointer) throws(PodSyncError) -> Int32 {
        let start = podsync_monotonic_ns()
        defer { metrics.recordApply(since: start) }
        beginChangeEvents()
        appliedDelta = false
        let before = (version: version, stream: streamID)
        do {
            let status = try applyFrame(frame)
            if !feeds.isEmpty && (status == Status.ok || status == Status.refreshing) { relayToFeeds(since: before) }
            if files != nil && (status == Status.ok || status == Status.chunkStaged || status == Status.refreshing) {
                try logApplied(frame)
            }
            switch status {
            case Status.duplicate: metrics.duplicates &+= 1
            case Status.gap: metrics.gaps &+= 1
            case Status.stale: metrics.stale &+= 1
            default: break
            }
            return status
        } catch {
            if error.code == Status.digestMismatch && files != nil {
                // Applied, then found diverged: the log must replay it to reach the same state.
                try? logApplied(frame)
            }
            if error.code < 0 && Int(-error.code) < Metrics.statuses { metrics.rejects[Int(-error.code)] &+= 1 }
            throw error
        }
    }

    mutating func applyFrame(_ frame: UnsafeRawBufferPointer) throws(PodSyncError) -> Int32 {
        guard role == .replica || restoring else {
            throw PodSyncError(Status.wrongRole, "apply is for replicas; this store is a writer")
        }
        let (header, sections) = try FrameReader.validate(
            frame, schema: schema, schemaHash: schemaHash, maxDecoded: options.maxDecodedBytes, maxPuts: options.maxRecords,
            packed: &decodePacked, decoded: &decoded, zstd: &zstd)

        if header.summary != nil {
            throw .invalid("a summary message is not applied: pass it to podsync_store_reconcile")
        }
        try checkSubscription(header)
        try checkMembers(sections)
        if let repair = header.repair {
            return try applyRepair(header, repair, sections, frame: frame)
        }
        if let chunk = header.chunk {
            return try applyChunk(header, chunk, sections, frameBytes: frame.count)
        }
        if header.isReset {
            // A whole snapshot replaces the state a fill in place was building.
            if let s = staging, s.tables == nil { dropStaging() }
            // The empty snapshot of a replica that follows no stream says nothing about a stream
            // this replica follows: it must not wipe it.
            if bound && header.streamID == 0 {
                throw PodSyncError(Status.streamMismatch, "an empty snapshot of no stream (stream id 0) cannot replace the state of stream \(hex(streamID))")
            }
            try checkFence(header)
            if bound && header.streamID == streamID && !diverged && header.term == term {
                if header.stateVersion < version { return Status.stale }
                if header.stateVersion == version { return Status.duplicate }
            }
            try reserveForReset(sections)
            applyReset(sections, version: header.stateVersion)
        } else {
            let oneWay = options.oneWay
            if refreshing {
                try checkFence(header)
                let status = try applyOutOfSync(header, sections, frameBytes: frame.count)
                if header.term > term { adoptTerm(header.term, header.history) }
                return status
            }
            if diverged {
                guard oneWay else {
                    throw PodSyncError(Status.diverged, "replica diverged from the writer; only a snapshot is accepted")
                }
                startRefreshing(forgettingVersions: true)
                return try applyOutOfSync(header, sections, frameBytes: frame.count)
            }
            if bound && header.streamID != streamID {
                throw PodSyncError(Status.streamMismatch, "delta from stream \(hex(header.streamID)) but this replica follows \(hex(streamID)); apply a snapshot of the new stream")
            }
            do { try checkTerm(header) } catch {
                // A one-way replica cannot ask for the snapshot it needs: it heals by refreshing.
                guard oneWay && error.code == Status.historyDiverged else { throw error }
                startRefreshing(forgettingVersions: true)
                let status = try applyOutOfSync(header, sections, frameBytes: frame.count)
                adoptTerm(header.term, header.history)
                return status
            }
            if header.stateVersion <= version && bound { return Status.duplicate }
            // XOR-ed (or FIELDS) records undo only against the base version's (a subscription's delta can
            // jump over a replica's version): a replica past the base asks for a catch-up delta.
            if header.isRelative && version != header.baseVersion && header.baseVersion <= version {
                return Status.gap
            }
            // Half a snapshot filled in place is no state a delta can apply to.
            if let s = staging, s.tables == nil { return Status.gap }
            // A gap, or a slice alone of a version not reached: a one-way replica cannot ask.
            if header.baseVersion > version || (header.slice != nil && header.sectionCount == 0) {
                guard oneWay else { return Status.gap }
                startRefreshing(forgettingVersions: false)
                let status = try applyOutOfSync(header, sections, frameBytes: frame.count)
                adoptTerm(header.term, header.history)
                return status
            }
            // A synced replica takes the changes; a refresh slice describes what it then holds.
            let sections = header.slice == nil ? sections : Array(sections.prefix(header.sectionCount))
            // KEY_RANKS: the ranks become keys before anything reads them.
            try resolveRanks(sections)
            // A delta from v to v+1 needs no tombstone for a key the replica did not have: no
            // replica at a version this one can serve had it either. A wider (catch-up) delta does,
            // for replicas between its base and its version.
            var deletes = 0
            for s in sections { deletes &+= s.deleteCount }
            let keeps = keepsTombstones(for: deletes)
            try reserveForDelta(sections, keepsTombstones: keeps)
            if !images.isEmpty {
                for s in sections { try reserveSaves(table: s.tableIndex, count: s.putCount &+ s.deleteCount) }
            }
            if !keeps { forgetAllTombstones(floor: header.stateVersion) }
            appliedDelta = true
            applyDelta(sections, version: header.stateVersion, tombstones: keeps,
                       absentNeedTombstones: header.stateVersion != header.baseVersion &+ 1)
        }
        if header.isReset && (bound || version != 0) { metrics.resyncs &+= 1 }
        metrics.framesApplied &+= 1
        metrics.wireBytesIn &+= UInt64(frame.count)
        // A refresh slice riding the frame is not applied by a replica in sync.
        for s in sections.prefix(header.sectionCount) { metrics.recordsApplied &+= UInt64(s.putCount + s.deleteCount) }
        // Stream id 0 is "no stream" (an unbound replica serving what it has): it binds nothing.
        if header.streamID != 0 {
            streamID = header.streamID
            bound = true
        }
        sequence = header.sequence
        version = header.stateVersion
        adoptTerm(header.term, header.history)
        generation &+= 1
        purgeTombstones()
        if header.hasDigest && header.stateDigest != digest {
            diverged = true
            throw PodSyncError(Status.digestMismatch, "state digest \(hex(digest)) after version \(version) differs from the writer's \(hex(header.stateDigest)); the replica needs a snapshot")
        }
        return Status.ok
    }

    /// Applies a validated delta whose memory `reserveForDelta` reserved: it cannot fail.
    mutating func applyDelta(_ sections: [SectionView], version frameVersion: UInt64, tombstones: Bool,
                             absentNeedTombstones: Bool) {
        var newDigest = digest
        let preserving = !images.isEmpty
        let tracking = changes.enabled
        for s in sections {
            let t = s.tableIndex
            let size = s.recordSize
            let events = changes.lists + t
            if tracking { events.pointee.reserve(upserts: s.putCount, deletes: s.deleteCount) }
            for i in 0..<s.deleteCount {
                let key = s.deleteKeys.le(8 * i, as: UInt64.self)
                let slot = tables[t].index.find(key)
                if slot != nilSlot {
                    if tracking { events.pointee.delete(key) }
                    if preserving { preserve(table: t, slot: slot) }
                    newDigest &-= tables[t].treeLeave(key, tables[t].record(Int(slot)))
                    tables[t].removeSlot(slot)
                } else if !absentNeedTombstones {
                    continue
                }
                if tombstones { tables[t].tombstones.add(key: key, version: frameVersion) }
            }
            let records = s.records
            let putKeys = s.putKeys
            // DIFF fields are undone in place (the records of an encoded frame are decoded
            // scratch memory), so the record applies as an absolute one.
            let runs = s.fieldRuns
            let fields = !runs.isEmpty
            let xor = s.xor && !fields
            tables[t].forEachSlot(count: s.putCount, key: { putKeys.le(8 * $0, as: UInt64.self) }) { table, i, key, found in
                let source = records + i &* size
                var slot = found
                if fields {
                    FieldDiff.decodeInPlace(UnsafeMutableRawPointer(mutating: source), old: slot != nilSlot ? UnsafeRawPointer(table.record(Int(slot))) : nil,
                                            xor: s.xor, runs: runs, size: size)
                }
                if slot != nilSlot {
                    let target = table.record(Int(slot))
                    if preserving { self.preserve(table: t, slot: slot) }
                    // A put that leaves the bytes as they were is no change event.
                    if tracking && !(xor ? isZeroRecord(source, size: size) : sameRecord(target, source, size: size)) {
                        events.pointee.upsert(key)
                    }
                    let seed = table.index.hash(key)
                    let old = recordDigest(seed: seed, record: target, size: size)
                    if xor { xorRecord(target, with: source, size: size) } else { copyRecord(to: target, from: source, size: size) }
                    let change = recordDigest(seed: seed, record: target, size: size) &- old
                    newDigest &+= change
                    table.tree.add(seed: seed, change)
                } else {
                    // Absent at the base: an XOR-ed record was XOR-ed with zeros, so it is the record.
                    slot = table.appendRecord(key: key, record: source)
                    if tracking { events.pointee.upsert(key) }
                    table.tombstones.remove(key: key)
                    let seed = table.index.hash(key)
                    let term = recordDigest(seed: seed, record: source, size: size)
                    newDigest &+= term
                    table.tree.add(seed: seed, term)
                }
                table.stamp(slot, key: key, version: frameVersion)
            }
        }
        digest = newDigest
    }

    mutating func applyReset(_ sections: [SectionView], version frameVersion: UInt64) {
        expireImages()
        refreshing = false
        beginReplacement()
        defer { finishReplacement() }
        var newDigest: UInt64 = 0
        var next = 0
        for t in 0..<tableCount {
            var section: SectionView? = nil
            if next < sections.count && sections[next].tableIndex == t {
                section = sections[next]
                next += 1
            }
            let n = section?.putCount ?? 0
            // reserveForReset made room for n records.
            tables[t].removeAll(keepingCapacityFor: n)
            guard let s = section, n > 0 else { continue }
            let size = s.recordSize
            // Records arrive as one array: copy it whole, then index the keys.
            tables[t].records.base.copyMemory(from: s.records, byteCount: n &* size)
            var duplicates = false
            let ahead = 16
            for i in 0..<min(ahead, n) { tables[t].index.prefetch(s.putKeys.le(8 * i, as: UInt64.self)) }
            for i in 0..<n {
                if i &+ ahead < n { tables[t].index.prefetch(s.putKeys.le(8 * (i &+ ahead), as: UInt64.self)) }
                let key = s.putKeys.le(8 * i, as: UInt64.self)
                if tables[t].index.insertIfAbsent(key, slot: UInt32(truncatingIfNeeded: i)) != nilSlot {
                    duplicates = true
                    break
                }
                tables[t].keys.append(key)
                tables[t].meta.append(SlotMeta(version: frameVersion, dirty: nilSlot))
                tables[t].log.append(LogEntry(version: frameVersion, key: key))
                let seed = tables[t].index.hash(key)
                let term = recordDigest(seed: seed, record: s.records + i &* size, size: size)
                newDigest &+= term
                tables[t].tree.add(seed: seed, term)
            }
            if duplicates {
                // A key listed twice: fall back to put semantics (the later record wins).
                newDigest &-= tableDigestOfPrefix(t)
                tables[t].removeAll(keepingCapacityFor: n)
                for i in 0..<n {
                    let key = s.putKeys.le(8 * i, as: UInt64.self)
                    let source = s.records + i &* size
                    let slot = tables[t].index.find(key)
                    if slot != nilSlot {
                        copyRecord(to: tables[t].record(Int(slot)), from: source, size: size)
                    } else {
                        let fresh = tables[t].appendRecord(key: key, record: source)
                        tables[t].stamp(fresh, key: key, version: frameVersion)
                    }
                }
                for slot in 0..<tables[t].count { newDigest &+= tables[t].treeJoin(tables[t].keys[slot], tables[t].record(slot)) }
                continue
            }
        }
        digest = newDigest
        catchupFloor = frameVersion
        diverged = false
    }

    /// Digest terms of the records a reset already indexed in table `t` (to undo them).
    func tableDigestOfPrefix(_ t: Int) -> UInt64 {
        var sum: UInt64 = 0
        for slot in 0..<tables[t].count { sum &+= tables[t].digestTerm(slot) }
        return sum
    }
}
