import CPodSyncShims

/// The storage of a table's change log (`Table.log`): a ring of entries, oldest first, so that
/// dropping the oldest entries (`Table.trimLog`) is O(1) instead of moving every entry kept (a
/// 16 MB move every hundred 1% ticks at a million records).
struct ChangeLog: ~Copyable {
    private(set) var base: UnsafeMutablePointer<LogEntry>
    private(set) var capacity: Int
    /// Where entry 0 lives in `base`.
    private(set) var head = 0
    private(set) var count = 0

    init() {
        capacity = 16
        base = ChangeLog.allocate(16)!
    }

    deinit { podsync_free(base) }

    private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<LogEntry>? {
        let (bytes, overflow) = capacity.multipliedReportingOverflow(by: MemoryLayout<LogEntry>.stride)
        // No huge pages: ticks write the log a little at a time, and the first touch of each huge
        // page could stall in the kernel's compaction (8 ms ticks every 13 at 1,000,000 records).
        guard !overflow, let raw = podsync_alloc_small_pages(bytes, 64) else { return nil }
        return raw.bindMemory(to: LogEntry.self, capacity: capacity)
    }

    /// Entry `i` (0 is the oldest); `i < count`.
    @inline(__always) subscript(i: Int) -> LogEntry { base[view.position(i)] }

    /// A copy of the ring's geometry for reading entries while the table is borrowed mutably
    /// (valid until the log next changes).
    @inline(__always) var view: ChangeLogView { ChangeLogView(base: base, head: head, capacity: capacity) }

    /// Ensures room for `needed` entries; false (nothing changed) when memory cannot be had.
    /// Growing lays the entries out from the start of the new memory.
    @discardableResult
    mutating func reserve(_ needed: Int) -> Bool {
        guard needed > capacity else { return true }
        let newCapacity = max(needed, capacity &* 2, 16)
        guard let fresh = ChangeLog.allocate(newCapacity) else { return false }
        let first = min(count, capacity &- head)
        fresh.update(from: base + head, count: first)
        (fresh + first).update(from: base, count: count &- first)
        podsync_free(base)
        base = fresh
        capacity = newCapacity
        head = 0
        return true
    }

    @inline(__always) mutating func append(_ entry: LogEntry) {
        if count == capacity { precondition(reserve(count &+ 1), "out of memory") }
        base[view.position(count)] = entry
        count &+= 1
    }

    /// Forgets the oldest `k` entries (`k <= count`). O(1).
    mutating func dropFirst(_ k: Int) {
        count &-= k
        head = count == 0 ? 0 : view.position(k)
    }

    /// Forgets every entry; the next `count` appended lie in order from `base` (what
    /// `rebuildChangeLog` sorts in place).
    mutating func removeAll() {
        count = 0
        head = 0
    }
}

/// Reads a `ChangeLog`'s entries by position (see `ChangeLog.view`).
struct ChangeLogView {
    let base: UnsafeMutablePointer<LogEntry>
    let head: Int
    let capacity: Int

    @inline(__always) func position(_ i: Int) -> Int {
        let p = head &+ i
        return p >= capacity ? p &- capacity : p
    }

    @inline(__always) subscript(i: Int) -> LogEntry { base[position(i)] }
}
