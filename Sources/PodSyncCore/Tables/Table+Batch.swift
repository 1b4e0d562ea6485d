import CPodSyncShims

/// The writer's side of a table: writes go to the arena at once and are remembered in the pending
/// batch, keyed by slot, with the pre-image of each record as of the last flush.
extension Table {
    /// Puts one record.
    @inline(__always)
    mutating func writerPut(key: UInt64, record source: UnsafeRawPointer) {
        writerPut(key: key, record: source, slot: index.find(key))
    }

    /// Puts one record whose slot (or nilSlot when absent) the caller already looked up.
    /// A put of the bytes a clean key already holds (its value at the last flush) is not a change:
    /// the key stays clean, so a host that rewrites a whole table each tick sends only what moved.
    @inline(__always)
    mutating func writerPut(key: UInt64, record source: UnsafeRawPointer, slot: UInt32) {
        if slot != nilSlot {
            let target = record(Int(slot))
            if meta[Int(slot)].dirty == nilSlot {
                if sameRecord(target, source, size: recordSize) { return }
                markDirty(slot, key: key)
            }
            copyRecord(to: target, from: source, size: recordSize)
        } else {
            insertDirty(key: key, record: source)
        }
    }

    @inline(__always)
    mutating func insertDirty(key: UInt64, record source: UnsafeRawPointer) {
        let slot = appendRecord(key: key, record: source)
        if pendingDeletes.count > 0, case let d = pendingDeletes.removeValue(key), d != nilSlot {
            // Deleted earlier in this batch and back now: the pending delete becomes an update.
            meta.base[Int(slot)].dirty = d
            dirty.base[Int(d)].slot = slot
            pendingBytes &+= recordSize
            return
        }
        meta.base[Int(slot)].dirty = UInt32(truncatingIfNeeded: dirty.count)
        dirty.append(DirtyEntry(key: key, slot: slot, pre: nilSlot))
        pendingChanges &+= 1
        pendingBytes &+= recordSize &+ 8
    }

    /// Records the first write of a batch to an existing slot, saving its flushed value. The slot
    /// is clean (not in the batch yet).
    @inline(__always)
    mutating func markDirty(_ slot: UInt32, key: UInt64) {
        let s = Int(slot)
        var pre = nilSlot
        if meta[s].version != 0 {
            pre = preimages.append(key: key, version: meta[s].version, record: record(s))
        }
        meta.base[s].dirty = UInt32(truncatingIfNeeded: dirty.count)
        dirty.append(DirtyEntry(key: key, slot: slot, pre: pre))
        pendingChanges &+= 1
        pendingBytes &+= recordSize &+ 8
    }

    /// Puts `count` contiguous records, with memory latency overlapped by `forEachSlot`.
    mutating func writerPutMany(keys source: UnsafePointer<UInt64>, records: UnsafeRawPointer, count: Int) {
        let size = recordSize
        forEachSlot(count: count, key: { source[$0] }) { table, i, key, slot in
            table.writerPut(key: key, record: records + i &* size, slot: slot)
        }
    }

    /// Calls `body` for keys 0..<count in order with each key's current slot (nilSlot if absent),
    /// in a three-stage pipeline so memory latency overlaps: the index bucket is prefetched 32
    /// keys ahead, the slot found and its record and metadata prefetched 16 ahead (PERF-NOTES:
    /// this halves the cost of updates over large tables). `body` may insert records but must not
    /// remove any: a slot found ahead stays valid, and an absent key is looked up again since an
    /// earlier duplicate may have inserted it.
    @inline(__always)
    mutating func forEachSlot(
        count: Int, key: (Int) -> UInt64, _ body: (inout Table, Int, UInt64, UInt32) -> Void
    ) {
        let ahead = 32
        let near = 16
        var slots = (nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot,
                     nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot,
                     nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot,
                     nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot, nilSlot)
        withUnsafeMutableBytes(of: &slots) { raw in
            let ring = raw.baseAddress!.assumingMemoryBound(to: UInt32.self)
            for i in 0..<min(ahead, count) { index.prefetch(key(i)) }
            for i in 0..<min(near, count) { ring[i & 31] = lookAhead(key(i)) }
            for i in 0..<count {
                if i &+ ahead < count { index.prefetch(key(i &+ ahead)) }
                if i &+ near < count { ring[(i &+ near) & 31] = lookAhead(key(i &+ near)) }
                let k = key(i)
                var slot = ring[i & 31]
                if slot == nilSlot { slot = index.find(k) }
                body(&self, i, k, slot)
            }
        }
    }

    /// Finds a key's slot and prefetches what a write to it will touch.
    @inline(__always)
    func lookAhead(_ key: UInt64) -> UInt32 {
        let slot = index.find(key)
        if slot != nilSlot {
            podsync_prefetch_write(meta.base + Int(slot))
            let target = record(Int(slot))
            podsync_prefetch_write(target)
            // A record that crosses a cache line (most sizes, at some slots) needs both lines.
            podsync_prefetch_write(target + (recordSize &- 1))
        }
        return slot
    }

    /// Deletes a key in the pending batch. Returns false if it is absent.
    mutating func writerDelete(key: UInt64) -> Bool {
        let slot = index.find(key)
        guard slot != nilSlot else { return false }
        let s = Int(slot)
        let m = meta[s]
        if m.dirty != nilSlot {
            let d = Int(m.dirty)
            if dirty[d].pre == nilSlot {
                // Created in this batch: nothing will be sent for it.
                pendingChanges &-= 1
                pendingBytes &-= recordSize &+ 8
            } else {
                pendingBytes &-= recordSize
                pendingDeletes.set(key, slot: m.dirty)
            }
            dirty.base[d].slot = nilSlot
        } else {
            let pre = preimages.append(key: key, version: m.version, record: record(s))
            pendingDeletes.set(key, slot: UInt32(truncatingIfNeeded: dirty.count))
            dirty.append(DirtyEntry(key: key, slot: nilSlot, pre: pre))
            pendingChanges &+= 1
            pendingBytes &+= 8
        }
        meta.base[s].dirty = nilSlot
        removeSlot(slot)
        return true
    }

    /// Forgets the pending batch after it was flushed.
    mutating func clearBatch() {
        for d in 0..<dirty.count where dirty[d].slot != nilSlot {
            meta.base[Int(dirty[d].slot)].dirty = nilSlot
        }
        dirty.removeAll()
        pendingDeletes.clear()
        preimages.removeAll()
        pendingChanges = 0
        pendingBytes = 0
    }

    /// Whether batch entry `d` holds a flushed record that is not in the change log: the key was
    /// deleted in this batch (and maybe created again, in a slot not logged yet). Its flushed value
    /// is the pre-image.
    @inline(__always)
    func flushedOnlyInPreimage(_ d: Int) -> Bool {
        let entry = dirty[d]
        return entry.pre != nilSlot && (entry.slot == nilSlot || meta[Int(entry.slot)].version == 0)
    }

    /// The record as of the last flush for a linked slot: its pre-image if it is dirty.
    @inline(__always)
    func flushedRecord(_ slot: Int) -> UnsafeRawPointer {
        let d = meta[slot].dirty
        if d != nilSlot {
            let pre = dirty[Int(d)].pre
            if pre != nilSlot { return preimages.record(pre) }
        }
        return UnsafeRawPointer(record(slot))
    }
}
