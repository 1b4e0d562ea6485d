import CPodSyncShims

/// KEY_RANKS (docs/FORMAT.md, "The KEY_RANKS transform (bit 5)"): a delta names the keys a
/// receiver holds by their rank among the table's seeds, one LEB128 byte where a gap between
/// random 64-bit keys takes seven or eight. Writer and replica keep the seeds sorted while the
/// table's keys do not change (8 bytes a key; a writer also keeps each slot's rank in its
/// metadata), built once when the keys have settled and stale as soon as one is added or removed.
extension Table {
    /// A writer ranks the keys of tables of at least this many keys.
    static let minRankedKeys = 1024

    /// The sorted seeds describe the current keys.
    var ranksValid: Bool { rankGeneration == keySetGeneration }

    /// Sorts the seeds of the current keys (with `slots`, also writes each slot's rank). False
    /// without memory; the ranks are then not valid.
    ///
    /// The key index keeps keys in nearly ascending seed order (a key's home bucket is the top
    /// bits of its seed; linear probing moves it a few buckets on; a run that wraps past the last
    /// bucket lands at the front), so one pass over the buckets and an insertion sort of the few
    /// keys out of place sort them: about a third of a radix sort's time at a million keys, and no
    /// index lookups to find each rank's slot. Should the keys be far out of order (clusters an
    /// adversary grew), the insertion sort stops after 8 moves a key and a radix sort does it.
    mutating func buildRanks(slots: Bool) -> Bool {
        rankGeneration = .max
        rankSlots = false
        let n = count
        // Written once when the keys settle: no huge pages, whose first touch can stall.
        rankSeeds.smallPages = true
        guard rankSeeds.reserve(max(n, 1)) else { return false }
        rankSeeds.count = n
        let seeds = rankSeeds.base
        guard let rawSlots = podsync_alloc_small_pages(max(n, 1) &* 4, 64) else { return false }
        defer { podsync_free(rawSlots) }
        let slotOf = rawSlots.bindMemory(to: UInt32.self, capacity: max(n, 1))
        // One pass over the buckets; the wrapped run at the front goes last.
        let buckets = index.buckets
        let bucketCount = index.mask &+ 1
        var filled = 0
        var wrapped = 0
        while wrapped < bucketCount, buckets[wrapped].slot != nilSlot {
            wrapped &+= 1  // the run at the front: wrapped keys first, then keys at home
        }
        var front: [(UInt64, UInt32)] = []
        for b in 0..<bucketCount {
            let e = buckets[b]
            guard e.slot != nilSlot, filled < n else { continue }
            let seed = index.hash(e.key)
            if b < wrapped && index.bucket(ofHash: seed) > b {
                front.append((seed, e.slot))  // it wrapped: its seed is among the largest
                continue
            }
            seeds[filled] = seed
            slotOf[filled] = e.slot
            filled &+= 1
        }
        for (seed, slot) in front where filled < n {
            seeds[filled] = seed
            slotOf[filled] = slot
            filled &+= 1
        }
        guard filled == n else { return false }  // cannot happen: the index holds every key once
        // Insertion sort, bounded.
        var moves = 0
        let budget = n &* 8
        var sorted = true
        for i in 1..<max(n, 1) {
            let seed = seeds[i], slot = slotOf[i]
            var j = i
            while j > 0 && seeds[j &- 1] > seed {
                seeds[j] = seeds[j &- 1]
                slotOf[j] = slotOf[j &- 1]
                j &-= 1
                moves &+= 1
            }
            seeds[j] = seed
            slotOf[j] = slot
            if moves > budget {
                sorted = false
                break
            }
        }
        if !sorted {
            // Far out of order: sort the seeds, then find each one's slot.
            let keyBase = keys.base
            for s in 0..<n { seeds[s] = index.hash(keyBase[s]) }
            guard sortKeys(seeds, count: n) else { return false }
            for r in 0..<n {
                let slot = index.find(unhash(seeds[r]))
                guard slot != nilSlot else { return false }  // cannot happen: every seed is a key's
                slotOf[r] = slot
            }
        }
        if slots {
            for r in 0..<n {
                let slot = Int(slotOf[r])
                guard slot < n else { return false }  // cannot happen
                meta.base[slot].rank = UInt32(truncatingIfNeeded: r)
            }
            rankSlots = true
        }
        rankGeneration = keySetGeneration
        return true
    }

    /// The key whose seed (`index.hash`) is `seed`: fmix64 is a bijection.
    @inline(__always) func unhash(_ seed: UInt64) -> UInt64 { unfmix64(seed) ^ index.salt }

    /// Writer, before a flush whose batch of this table (`flushPuts`) has `puts` puts and
    /// `deletes` deletes: whether its puts go as ranks. Only when no key was added or removed
    /// since the flush before the last one (so the receiver's keys at the base are these), and
    /// when rank gaps would be at least a byte shorter than key gaps; builds the sorted seeds then
    /// if they are stale (the batch's key range is read only for that decision).
    mutating func ranksForFlush(puts: Int, deletes: Int) -> Bool {
        guard puts > 0, deletes == 0, count >= Self.minRankedKeys, keySetGeneration == flushedGeneration,
              stableFlushes >= 1 else { return false }
        if ranksValid && rankSlots { return true }
        var minKey = UInt64.max, maxKey: UInt64 = 0
        for i in 0..<min(puts, flushPuts.count) {
            let key = dirty[Int(flushPuts[i])].key
            minKey = min(minKey, key)
            maxKey = max(maxKey, key)
        }
        let rankGap = UInt64(count / puts)
        let keyGap = (maxKey &- minKey) / UInt64(puts)
        guard varintBytes(keyGap) >= varintBytes(rankGap) &+ 1 else { return false }
        return buildRanks(slots: true)
    }

    /// Writer, after a flush: remembers whether its keys changed since the one before.
    mutating func flushed() {
        stableFlushes = keySetGeneration == flushedGeneration ? stableFlushes &+ 1 : 0
        flushedGeneration = keySetGeneration
    }
}

@inline(__always) func varintBytes(_ value: UInt64) -> Int { max(1, (64 &- value.leadingZeroBitCount &+ 6) / 7) }

extension Store {
    /// Turns the ranks of a KEY_RANKS delta into this replica's keys, in place (the sections of an
    /// encoded frame are decoded scratch memory). The replica is exactly at the frame's base.
    /// Throws, with nothing changed, on a rank past a table's keys or without memory for the
    /// sorted seeds.
    mutating func resolveRanks(_ sections: [SectionView]) throws(PodSyncError) {
        for s in sections where s.rankedPuts > 0 {
            let t = s.tableIndex
            if !tables[t].ranksValid {
                guard tables[t].buildRanks(slots: false) else {
                    throw PodSyncError(Status.noMemory, "cannot allocate the sorted keys of table \(s.tableID) to read ranks")
                }
            }
            let n = UInt64(tables[t].count)
            let keys = UnsafeMutableRawPointer(mutating: s.putKeys)
            // Ranks ascend (checked when decoded): the last is the largest.
            let last = s.putKeys.le(8 &* (s.rankedPuts &- 1), as: UInt64.self)
            guard last < n else {
                throw .malformed("table \(s.tableID): rank \(last) is past the \(n) keys the replica holds at the frame's base")
            }
            let seeds = tables[t].rankSeeds.base
            for i in 0..<s.rankedPuts {
                let rank = Int(s.putKeys.le(8 &* i, as: UInt64.self))
                keys.storeLE(tables[t].unhash(seeds[rank]), at: 8 &* i)
            }
        }
    }
}
