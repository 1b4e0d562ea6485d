/// A deletion remembered for catch-up deltas.
struct Tombstone {
    var key: UInt64
    var version: UInt64
    var alive: Bool
}

/// One table's remembered deletions, in version order, so a catch-up delta since version V can
/// say which keys were deleted after V. A key has at most one alive tombstone (a later deletion
/// retires the earlier one; a put of the key retires it too).
///
/// Only raw memory with fallible growth: the number of deletions comes from frames and callers,
/// so `reserve` runs before anything is added and a failure changes nothing.
struct Tombstones: ~Copyable {
    private(set) var entries = RawVector<Tombstone>()
    /// Entries before `start` are forgotten.
    private(set) var start = 0
    /// Alive tombstones: key to its position in `entries`.
    private var positions = KeyIndex()

    var alive: Int { positions.count }

    /// Positions are 32-bit: a table never keeps more entries than this (the store trims first).
    static let maxEntries = Int(UInt32.max) - 1

    /// Makes room for `additional` more tombstones; false (nothing changed) without memory.
    mutating func reserve(_ additional: Int) -> Bool {
        guard additional >= 0, additional <= Self.maxEntries &- entries.count else { return false }
        return entries.reserve(entries.count &+ additional) && positions.reserve(additional)
    }

    /// Remembers that `key` was deleted at `version` (room was reserved).
    @inline(__always)
    mutating func add(key: UInt64, version: UInt64) {
        let position = UInt32(truncatingIfNeeded: entries.count)
        let old = positions.find(key)
        if old != nilSlot {
            entries.base[Int(old)].alive = false
            positions.update(key, slot: position)
        } else {
            positions.insertNew(key, slot: position)
        }
        entries.append(Tombstone(key: key, version: version, alive: true))
    }

    /// Retires the tombstone of `key`, if any (the key exists again).
    @inline(__always)
    mutating func remove(key: UInt64) {
        guard positions.count > 0 else { return }
        let position = positions.find(key)
        guard position != nilSlot else { return }
        entries.base[Int(position)].alive = false
        positions.remove(key)
    }

    /// The version at which `key` was deleted, if a tombstone of it is alive.
    @inline(__always)
    func version(of key: UInt64) -> UInt64? {
        guard positions.count > 0 else { return nil }
        let position = positions.find(key)
        return position == nilSlot ? nil : entries[Int(position)].version
    }

    /// Version of the oldest alive tombstone, if any.
    var oldestVersion: UInt64? {
        var i = start
        while i < entries.count {
            if entries[i].alive { return entries[i].version }
            i &+= 1
        }
        return nil
    }

    /// Forgets tombstones of versions <= `version`. Returns the newest version forgotten, or 0.
    mutating func purge(upTo version: UInt64) -> UInt64 {
        var forgotten: UInt64 = 0
        while start < entries.count && entries[start].version <= version {
            let t = entries[start]
            if t.alive {
                positions.remove(t.key)
                forgotten = max(forgotten, t.version)
            }
            start &+= 1
        }
        // Compact in place when at least half the entries are dead: amortized O(1) a deletion.
        let kept = entries.count &- start
        if start > 0 && (alive &* 2 < entries.count || start > kept) {
            var w = 0
            for i in start..<entries.count where entries[i].alive {
                let t = entries[i]
                entries[w] = t
                positions.update(t.key, slot: UInt32(truncatingIfNeeded: w))
                w &+= 1
            }
            entries.count = w
            start = 0
        }
        return forgotten
    }

    /// Forgets every tombstone.
    mutating func removeAll() {
        entries.removeAll()
        start = 0
        positions.removeAll(keepingCapacityFor: 0)
    }
}
