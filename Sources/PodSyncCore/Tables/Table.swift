import CPodSyncShims

/// Per-slot bookkeeping, parallel to the record arena (16 bytes: four to a cache line).
struct SlotMeta {
    /// Version of the flush (or applied frame) that last changed the record; 0 while the record was
    /// created in the pending batch and is not flushed yet.
    var version: UInt64
    /// Index of the record's entry in the pending batch, or nilSlot when clean.
    var dirty: UInt32
    /// Writer: the key's rank among the table's seeds, while `Table.rankSlots` (KEY_RANKS).
    var rank: UInt32 = 0
}

/// One entry of a table's change log: `key` was changed at `version`. An entry is current while
/// the key's record still carries that version; older entries are skipped when read and dropped
/// when the log is trimmed, so stamping never writes to an old entry.
struct LogEntry {
    var version: UInt64
    var key: UInt64
}

/// One key changed in the pending batch (writer only).
struct DirtyEntry {
    var key: UInt64
    /// Live slot of the record, or nilSlot once the key was deleted in this batch.
    var slot: UInt32
    /// Pre-image of the record as of the last flush, or nilSlot if the key did not exist then.
    var pre: UInt32
}

/// The records of one table as of the last flush, saved on the first write of a batch (copy on
/// first write). They let catch-up deltas and snapshots describe the flushed state while writes
/// are pending, and keep the digest incremental.
struct PreimageStore: ~Copyable {
    var keys = RawVector<UInt64>()
    var versions = RawVector<UInt64>()
    var records = ByteBuffer()
    let recordSize: Int

    init(recordSize: Int) { self.recordSize = recordSize }

    var count: Int { keys.count }

    /// Makes room for `additional` more pre-images; false (nothing changed) without memory.
    mutating func reserve(_ additional: Int) -> Bool {
        let needed = keys.count &+ additional
        let (bytes, overflow) = needed.multipliedReportingOverflow(by: recordSize)
        return !overflow && records.reserve(bytes, preserving: keys.count &* recordSize)
            && keys.reserve(needed) && versions.reserve(needed)
    }

    /// Saves a pre-image (room was reserved with `reserve`).
    @inline(__always)
    mutating func append(key: UInt64, version: UInt64, record: UnsafeRawPointer) -> UInt32 {
        let index = keys.count
        precondition(records.reserve((index &+ 1) &* recordSize, preserving: index &* recordSize), "out of memory")
        copyRecord(to: records.base + index &* recordSize, from: record, size: recordSize)
        keys.append(key)
        versions.append(version)
        return UInt32(truncatingIfNeeded: index)
    }

    @inline(__always) func record(_ index: UInt32) -> UnsafeRawPointer {
        UnsafeRawPointer(records.base + Int(index) &* recordSize)
    }

    mutating func removeAll() {
        keys.removeAll()
        versions.removeAll()
    }
}

/// One table's state: a dense arena of live records with a parallel key array (delete moves the
/// last record into the hole), a key index, a change log in version order, tombstones, and for a
/// writer the pending batch.
///
/// The change log makes "every change since version V" cost O(changes since V): walk it from the
/// end back to version V, keeping the entries whose key still carries the entry's version.
/// Stamping appends one entry and writes the record's version (no old entry is touched). The log
/// is bounded: past twice the record count its oldest entries are dropped and the catch-up floor
/// rises to their version; a replica further behind gets a snapshot, which is then no larger than
/// the delta would have been.
struct Table: ~Copyable {
    let schema: TableSchema
    let recordSize: Int
    var records: ByteBuffer
    var keys = RawVector<UInt64>()
    var meta = RawVector<SlotMeta>()
    var index: KeyIndex
    var capacity = 0
    var count: Int { keys.count }

    // Change log (flushed / applied changes), oldest first.
    var log = ChangeLog()
    /// Versions <= logFloor were dropped from the log.
    var logFloor: UInt64 = 0

    // KEY_RANKS (Table+Ranks.swift)
    /// Changes whenever a key is added or removed.
    var keySetGeneration: UInt64 = 0
    /// The seeds of the table's keys, ascending, while `rankGeneration == keySetGeneration`.
    var rankSeeds = RawVector<UInt64>()
    var rankGeneration: UInt64 = .max
    /// Writer: `meta[slot].rank` holds each slot's rank (with `rankSeeds`).
    var rankSlots = false
    /// Writer: `keySetGeneration` after the last flush, and the flushes in a row that kept it.
    var flushedGeneration: UInt64 = .max
    var stableFlushes = 0

    var tombstones = Tombstones()

    /// The leaves of the hash tree of the table's state (flushed state on a writer), kept with
    /// the digest (Reconcile/HashTree.swift).
    var tree = HashTree()

    // Pending batch (writer).
    var dirty = RawVector<DirtyEntry>()
    /// Keys deleted in the pending batch that existed at the last flush, to their batch entry: a
    /// put of such a key reuses the entry (one change, an update of the flushed value).
    var pendingDeletes: KeyIndex
    var preimages: PreimageStore
    var pendingChanges = 0
    var pendingBytes = 0

    // Scratch lists of the frames being produced, kept between calls (raw memory whose growth
    // can fail without a trap): a flush's puts and deletes (indices into `dirty`), and a
    // catch-up delta's keys, records and deleted keys.
    var flushPuts = RawVector<UInt32>()
    var flushDeletes = RawVector<UInt32>()
    var catchupKeys = RawVector<UInt64>()
    var catchupRecords = RawVector<UnsafeRawPointer>()
    var catchupDeletes = RawVector<UInt64>()

    /// Largest number of records a table may hold (slots and log positions are 32-bit; the log
    /// holds at most about twice the records).
    static let maxRecords = 1 << 30

    init(schema: TableSchema, spread: ShardSpread? = nil) {
        self.schema = schema
        recordSize = schema.recordSize
        index = KeyIndex(salt: keySalt(table: schema.id))
        pendingDeletes = KeyIndex(salt: keySalt(table: schema.id))
        records = ByteBuffer()
        preimages = PreimageStore(recordSize: schema.recordSize)
        index.setSpread(spread)
        pendingDeletes.setSpread(spread)
    }

    @inline(__always) func record(_ slot: Int) -> UnsafeMutableRawPointer {
        records.base + slot &* recordSize
    }

    // MARK: Capacity

    /// Ensures room for `additional` more records in arena, metadata and index.
    /// When the arena grows, `slack` more slots are added (not to the index, whose load factor
    /// leaves room already): a table loaded in bulk then takes its first ticks without growing.
    mutating func reserve(_ additional: Int, slack: Int = 0) throws(PodSyncError) {
        let needed = count &+ additional
        guard additional >= 0, needed <= Table.maxRecords else {
            throw PodSyncError(Status.noMemory, "table \(schema.id) would exceed \(Table.maxRecords) records")
        }
        if needed > capacity {
            let newCapacity = max(min(needed &+ max(slack, 0), Table.maxRecords), capacity &* 2, 16)
            let (bytes, overflow) = newCapacity.multipliedReportingOverflow(by: recordSize)
            guard !overflow else { throw PodSyncError(Status.noMemory, "table \(schema.id) is too large") }
            guard records.reserve(bytes, preserving: count &* recordSize), keys.reserve(newCapacity),
                  meta.reserve(newCapacity) else {
                throw PodSyncError(Status.noMemory, "cannot allocate room for \(newCapacity) records in table \(schema.id)")
            }
            capacity = newCapacity
        }
        guard index.reserve(additional) else {
            throw PodSyncError(Status.noMemory, "cannot allocate the key index for table \(schema.id)")
        }
    }

    /// Room for every record slack of a bulk load (1/16: a few 1% ticks).
    static func slack(for records: Int) -> Int { records / 16 }

    // MARK: Change log

    /// Makes room for `additional` more log entries when the table will hold at most `records`;
    /// false without memory. `stamp` trims the log before an append once it holds its bound
    /// (twice the records), so it never holds more than that: a log near its bound does not grow
    /// (it once doubled to 4M entries, copying 32 MB, on the tick before its first trim). When the
    /// log must grow it grows to its bound at once, so it does not grow again tick after tick.
    mutating func reserveLog(_ additional: Int, records: Int) -> Bool {
        let bound = records &* 2 &+ 4096
        let needed = min(log.count &+ additional, max(log.count, bound))
        guard needed > log.capacity else { return true }
        return log.reserve(max(needed, bound))
    }

    /// Gives the record in `slot` (under `key`) version `version` and logs the change.
    @inline(__always)
    mutating func stamp(_ slot: UInt32, key: UInt64, version: UInt64) {
        let s = Int(slot)
        // A key listed twice in one frame is logged once.
        guard meta[s].version != version else { return }
        meta.base[s].version = version
        if log.count >= count &* 2 &+ 4096 { trimLog() }
        log.append(LogEntry(version: version, key: key))
    }

    /// Drops the older half of the log (whole versions; O(1), the log is a ring) and raises
    /// logFloor to the newest version dropped.
    mutating func trimLog() {
        var cut = log.count / 2
        guard cut > 0 else { return }
        let floor = log[cut - 1].version
        while cut < log.count && log[cut].version == floor { cut += 1 }
        log.dropFirst(cut)
        if floor > logFloor { logFloor = floor }
    }

    /// Whether `reserveLog(additional, records:)` would allocate.
    func logMustGrow(_ additional: Int, records: Int) -> Bool {
        min(log.count &+ additional, max(log.count, records &* 2 &+ 4096)) > log.capacity
    }

    // MARK: Arena

    /// Throws unless `additional` more records stay within the slot limit (checked before a call
    /// changes anything; the memory itself grows as records are appended).
    func checkRoom(_ additional: Int) throws(PodSyncError) {
        guard additional >= 0, additional <= Table.maxRecords &- count else {
            throw PodSyncError(Status.noMemory, "table \(schema.id) would exceed \(Table.maxRecords) records")
        }
    }

    /// How many of `count` keys have no record (an upper bound of what putting them adds).
    func absentKeys(count: Int, key: (Int) -> UInt64) -> Int {
        var absent = 0
        for i in 0..<count {
            if i &+ 16 < count { index.prefetch(key(i &+ 16)) }
            if index.find(key(i)) == nilSlot { absent &+= 1 }
        }
        return absent
    }

    /// Whether `additional` new records fit without growing the arena or the index.
    func hasRoom(for additional: Int) -> Bool {
        additional <= capacity &- count && index.hasRoom(for: additional)
    }

    /// Makes room for the writes of a call before it changes anything: `added` new records, and
    /// batch entries and pre-images for `changed` keys. Throws `Status.noMemory` with nothing
    /// changed.
    mutating func reserveWrites(added: Int, changed: Int) throws(PodSyncError) {
        try reserve(added)
        let preimagesNeeded = min(changed, count)
        guard dirty.reserve(dirty.count &+ changed), pendingDeletes.reserve(changed),
              preimages.reserve(preimagesNeeded) else {
            throw PodSyncError(Status.noMemory, "cannot allocate the pending batch of table \(schema.id)")
        }
    }

    /// Appends a record (room was reserved: `reserve`, `reserveWrites`). Returns its slot.
    @inline(__always)
    mutating func appendRecord(key: UInt64, record: UnsafeRawPointer) -> UInt32 {
        let slot = count
        if slot == capacity {
            // Every caller reserves first; reaching this is a bug in PodSync, not bad input.
            do throws(PodSyncError) { try reserve(1) } catch { preconditionFailure(error.message) }
        }
        copyRecord(to: self.record(slot), from: record, size: recordSize)
        keys.append(key)
        meta.append(SlotMeta(version: 0, dirty: nilSlot))
        index.insertNew(key, slot: UInt32(truncatingIfNeeded: slot))
        keySetGeneration &+= 1
        return UInt32(truncatingIfNeeded: slot)
    }

    /// Appends a record under a key that must be new, stamped `version` without a change-log
    /// entry (a snapshot being loaded); false, with nothing changed, if the key is present. Room
    /// was reserved.
    @inline(__always)
    mutating func appendNew(key: UInt64, record: UnsafeRawPointer, version: UInt64) -> Bool {
        let slot = count
        guard slot < capacity, index.insertIfAbsent(key, slot: UInt32(truncatingIfNeeded: slot)) == nilSlot else { return false }
        copyRecord(to: self.record(slot), from: record, size: recordSize)
        keys.append(key)
        meta.append(SlotMeta(version: version, dirty: nilSlot))
        keySetGeneration &+= 1
        return true
    }

    /// Removes the records appended after the first `count` (by `appendNew`).
    mutating func truncate(to newCount: Int) {
        if count > newCount { keySetGeneration &+= 1 }
        while count > newCount {
            index.remove(keys[count &- 1])
            keys.count &-= 1
            meta.count &-= 1
        }
    }

    /// Removes the record in `slot` (already out of the batch), moving the last record
    /// into the hole so the arena stays dense.
    mutating func removeSlot(_ slot: UInt32) {
        keySetGeneration &+= 1
        let s = Int(slot)
        let last = count &- 1
        index.remove(keys[s])
        if s != last {
            copyRecord(to: record(s), from: record(last), size: recordSize)
            let movedKey = keys[last]
            keys[s] = movedKey
            let m = meta[last]
            meta[s] = m
            if m.dirty != nilSlot { dirty.base[Int(m.dirty)].slot = slot }
            index.update(movedKey, slot: slot)
        }
        keys.count = last
        meta.count = last
    }

    // MARK: Whole-table reset

    /// Empties the table; its arena keeps its capacity (reserve first for what comes next).
    mutating func removeAll(keepingCapacityFor expected: Int) {
        keySetGeneration &+= 1
        keys.count = 0
        meta.count = 0
        log.removeAll()
        logFloor = 0
        tree.clear()
        index.removeAll(keepingCapacityFor: expected)
        tombstones.removeAll()
        dirty.removeAll()
        pendingDeletes.removeAll(keepingCapacityFor: 0)
        preimages.removeAll()
        pendingChanges = 0
        pendingBytes = 0
        _ = log.reserve(expected)
    }

    /// The digest term of the record in `slot`.
    @inline(__always) func digestTerm(_ slot: Int) -> UInt64 {
        recordDigest(table: schema.id, key: keys[slot], record: record(slot), size: recordSize)
    }
}
