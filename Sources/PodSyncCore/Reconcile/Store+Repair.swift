/// Repair frames (docs/FORMAT.md, "Repair frames"): the responder writes every record of the
/// buckets that differ plus what changed outside them since the exchange's anchor; the replica
/// replaces those buckets and takes the changes, whatever its version, stream or term, if the repair
/// was computed for its exact state.
extension Store {
    /// Whether `seed` falls in one of the `count` ascending buckets at a level of `bits` bits.
    @inline(__always)
    static func inBuckets(_ seed: UInt64, bits: Int, _ buckets: UnsafePointer<UInt32>, count: Int) -> Bool {
        let b = bits == 0 ? 0 : UInt32(truncatingIfNeeded: seed >> UInt64(64 &- bits))
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if buckets[mid] < b { lo = mid &+ 1 } else { hi = mid }
        }
        return lo < count && buckets[lo] == b
    }

    /// Puts a repair frame for the buckets in `reconcileDiffering` into the outbox.
    mutating func emitRepair(fanoutBits: UInt8, level: UInt8, anchor: UInt64, expectedDigest: UInt64) throws(PodSyncError) {
        let bits = Int(fanoutBits) &* Int(level)
        let buckets = UnsafePointer(reconcileDiffering.base)
        let count = reconcileDiffering.count
        // What changed since the anchor (the catch-up lists), then only outside the buckets.
        if anchor < version {
            _ = try collectCatchup(since: anchor)
        } else {
            for t in 0..<tableCount {
                tables[t].catchupKeys.removeAll()
                tables[t].catchupRecords.removeAll()
                tables[t].catchupDeletes.removeAll()
            }
        }
        var plans: [SectionPlan] = []
        for t in 0..<tableCount {
            let table = tables + t
            var kept = 0
            for i in 0..<table.pointee.catchupKeys.count {
                let key = table.pointee.catchupKeys[i]
                guard !Store.inBuckets(table.pointee.index.hash(key), bits: bits, buckets, count: count) else { continue }
                table.pointee.catchupKeys[kept] = key
                table.pointee.catchupRecords[kept] = table.pointee.catchupRecords[i]
                kept &+= 1
            }
            table.pointee.catchupKeys.count = kept
            table.pointee.catchupRecords.count = kept
            var keptDeletes = 0
            for i in 0..<table.pointee.catchupDeletes.count {
                let key = table.pointee.catchupDeletes[i]
                guard !Store.inBuckets(table.pointee.index.hash(key), bits: bits, buckets, count: count) else { continue }
                table.pointee.catchupDeletes[keptDeletes] = key
                keptDeletes &+= 1
            }
            table.pointee.catchupDeletes.count = keptDeletes
            // Every record of the repaired buckets.
            var inside = 0
            for i in 0..<count {
                let (lo, hi) = Store.bucketRange(UInt64(buckets[i]), bits: bits)
                forEachTreeRecord(t, from: lo, below: hi) { _, _ in inside &+= 1 }
            }
            guard table.pointee.catchupKeys.reserve(kept &+ inside), table.pointee.catchupRecords.reserve(kept &+ inside) else {
                throw PodSyncError(Status.noMemory, "cannot allocate a repair of table \(table.pointee.schema.id)")
            }
            for i in 0..<count {
                let (lo, hi) = Store.bucketRange(UInt64(buckets[i]), bits: bits)
                forEachTreeRecord(t, from: lo, below: hi) { key, record in
                    table.pointee.catchupKeys.append(key)
                    table.pointee.catchupRecords.append(record)
                }
            }
            let puts = table.pointee.catchupKeys.count
            if puts > 0 || keptDeletes > 0 {
                plans.append(SectionPlan(tableIndex: t, tableID: table.pointee.schema.id, recordSize: table.pointee.recordSize,
                                         alignment: table.pointee.schema.alignment, putCount: puts, deleteCount: keptDeletes))
            }
        }
        var record = RepairRecord()
        record.fanoutBits = fanoutBits
        record.level = level
        record.expectedDigest = expectedDigest
        let (runs, blockBytes) = BucketBlock.encodedSize(buckets, count: count)
        record.runCount = UInt64(runs)
        record.blockLength = UInt64(alignUp(max(blockBytes, 1), 8))
        var fields = header(flags: FrameLayout.flagHasDigest, sequence: sequence, base: anchor, state: version, digest: digest)
        fields.formatVersion = HeaderV2.formatVersion
        fields.repair = record
        let (headerLength, length) = FrameBuilder.plan(&plans, header: fields)
        outbox.clear()
        guard let p = outbox.beginFrame(length: length) else { throw PodSyncError(Status.noMemory, "cannot allocate a \(length)-byte repair frame") }
        BucketBlock.write(buckets, count: count, to: p + headerLength, length: Int(record.blockLength))
        writeCatchupSections(p, plans)
        FrameBuilder.writeFrame(p, length: length, headerLength: headerLength, header: fields, sections: plans)
        FrameBuilder.seal(p, length: length)
        metrics.framesOut &+= 1
        metrics.recordsOut &+= UInt64(plans.reduce(0) { $0 &+ $1.putCount &+ $1.deleteCount })
        metrics.rawBytesOut &+= UInt64(length)
        metrics.wireBytesOut &+= UInt64(length)
    }

    /// Applies a validated repair frame (applyFrame): see include/podsync.h, "Reconciliation".
    mutating func applyRepair(_ header: FrameHeader, _ repair: RepairRecord, _ sections: [SectionView],
                              frame: UnsafeRawBufferPointer) throws(PodSyncError) -> Int32 {
        try checkFence(header)
        guard repair.expectedDigest == digest else {
            throw PodSyncError(Status.repairStale, "the repair was computed for state digest \(hex(repair.expectedDigest)); this replica's is \(hex(digest)): send a new summary")
        }
        let bits = repair.bits
        try BucketBlock.read(frame.baseAddress!, start: header.headerLength, length: header.bucketBlockLength, runCount: repair.runCount,
                             bits: bits, into: &reconcileBuckets)
        let buckets = UnsafePointer(reconcileBuckets.base)
        let count = reconcileBuckets.count
        // V21: the repaired buckets are replaced whole, so no deletion lies inside them.
        for s in sections {
            for i in 0..<s.deleteCount where Store.inBuckets(keySeed(table: s.tableID, key: s.deleteKeys.le(8 &* i, as: UInt64.self)),
                                                            bits: bits, buckets, count: count) {
                throw .malformed("repair frame deletes a key of table \(s.tableID) inside a bucket it replaces")
            }
        }
        // The keys held in the repaired buckets that the frame does not put go (into each table's
        // catchupDeletes scratch list: a replica's catch-up lists are rebuilt on every use).
        var doomedTotal = 0
        var sectionOf = [Int](repeating: -1, count: tableCount)
        for (k, s) in sections.enumerated() { sectionOf[s.tableIndex] = k }
        for t in 0..<tableCount {
            tables[t].catchupDeletes.removeAll()
            var putKeys = KeyIndex(salt: keySalt(table: tables[t].schema.id))
            putKeys.setSpread(shardSpread)
            if sectionOf[t] >= 0 {
                let s = sections[sectionOf[t]]
                guard putKeys.reserve(s.putCount) else { throw PodSyncError(Status.noMemory, "cannot allocate the keys of a repair") }
                for i in 0..<s.putCount { _ = putKeys.insertIfAbsent(s.putKeys.le(8 &* i, as: UInt64.self), slot: 0) }
            }
            var held = 0
            for i in 0..<count {
                let (lo, hi) = Store.bucketRange(UInt64(buckets[i]), bits: bits)
                tables[t].index.scan(from: lo, below: hi) { _, _ in held &+= 1 }
            }
            guard tables[t].catchupDeletes.reserve(held) else { throw PodSyncError(Status.noMemory, "cannot allocate the keys of a repair") }
            let table = tables + t
            for i in 0..<count {
                let (lo, hi) = Store.bucketRange(UInt64(buckets[i]), bits: bits)
                table.pointee.index.scan(from: lo, below: hi) { _, e in
                    if putKeys.count == 0 || putKeys.find(e.key) == nilSlot { table.pointee.catchupDeletes.append(e.key) }
                }
            }
            doomedTotal &+= tables[t].catchupDeletes.count
        }
        try reserveForDelta(sections, keepsTombstones: false)
        if changes.enabled {
            for t in 0..<tableCount { changes.lists[t].reserve(upserts: 0, deletes: tables[t].catchupDeletes.count) }
        }

        // Nothing below can fail.
        expireImages()
        staging = nil
        wantedChunk = nil
        let previousVersion = version
        forgetAllTombstones(floor: header.stateVersion)
        for t in 0..<tableCount {
            for i in 0..<tables[t].catchupDeletes.count {
                let key = tables[t].catchupDeletes[i]
                let slot = tables[t].index.find(key)
                guard slot != nilSlot else { continue }
                if changes.enabled { changes.lists[t].delete(key) }
                digest &-= tables[t].treeLeave(key, tables[t].record(Int(slot)))
                tables[t].removeSlot(slot)
            }
            tables[t].catchupDeletes.removeAll()
        }
        // Versions of another history above the repair's would confuse the change log (a key
        // stamped later at the same version would not be logged): none stays above it.
        if previousVersion > header.stateVersion {
            for t in 0..<tableCount {
                for slot in 0..<tables[t].count where tables[t].meta[slot].version > header.stateVersion {
                    tables[t].meta.base[slot].version = header.stateVersion
                }
            }
        }
        applyDelta(sections, version: header.stateVersion, tombstones: false, absentNeedTombstones: false)
        refreshing = false
        diverged = false
        if header.streamID != 0 {
            streamID = header.streamID
            bound = true
        }
        sequence = header.sequence
        version = header.stateVersion
        catchupFloor = header.stateVersion
        adoptTerm(header.term, header.history)
        generation &+= 1
        metrics.framesApplied &+= 1
        metrics.wireBytesIn &+= UInt64(frame.count)
        for s in sections { metrics.recordsApplied &+= UInt64(s.putCount &+ s.deleteCount) }
        metrics.recordsApplied &+= UInt64(doomedTotal)
        if header.stateDigest != digest {
            diverged = true
            throw PodSyncError(Status.digestMismatch, "state digest \(hex(digest)) after the repair to version \(version) differs from the responder's \(hex(header.stateDigest)): a bucket was missed or either side changed; send a new summary")
        }
        return Status.ok
    }
}
