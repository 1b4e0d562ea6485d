import CPodSyncShims

/// "No slot" marker for 32-bit slot references.
@usableFromInline let nilSlot: UInt32 = .max

/// One bucket of the key index: a key and the arena slot holding its record.
struct IndexEntry {
    var key: UInt64
    var slot: UInt32
    var reserved: UInt32 = 0
}

/// Open-addressing hash index from key to arena slot: linear probing over 16-byte buckets, load
/// factor at most 1/2, backward-shift deletion (no tombstones). A key's home bucket is the top
/// bits of its hash `fmix64(key ^ salt)`, so the buckets hold keys in (nearly) ascending hash
/// order: a range of hashes is a range of buckets, which is how chunked snapshots walk a table in
/// the order of FORMAT.md's `seed(t, k)` without sorting it (the salt is the table's).
struct KeyIndex: ~Copyable {
    private(set) var buckets: UnsafeMutablePointer<IndexEntry>
    private(set) var mask: Int
    /// 64 - log2(buckets): home = hash >> shift.
    private(set) var shift: UInt64
    private(set) var count = 0
    let salt: UInt64
    /// A store of some shards only (a subscription with shard_bits): their hashes share top bits,
    /// so home buckets spread the held shards over all buckets, still in hash order
    /// (`spreadStarts[s]`: the first bucket of shard `s`; nil for every other store).
    private(set) var spreadStarts: UnsafeMutablePointer<Int>? = nil
    private(set) var spreadBits: UInt64 = 0
    private(set) var spread: ShardSpread? = nil

    init(salt: UInt64 = 0) {
        buckets = KeyIndex.allocateEmpty(16)!
        mask = 15
        shift = 60
        self.salt = salt
    }

    @inline(__always) static func shift(for buckets: Int) -> UInt64 { UInt64(64 &- buckets.trailingZeroBitCount) }

    deinit {
        podsync_free(buckets)
        spreadStarts?.deallocate()
    }

    /// Spreads the held shards' keys over the buckets (an empty index; see `spreadStarts`).
    mutating func setSpread(_ spread: ShardSpread?) {
        guard let spread, spread.bits > 0, !spread.held.isEmpty else { return }
        precondition(count == 0 && spreadStarts == nil, "a spread is set on a new index")
        self.spread = spread
        spreadBits = UInt64(spread.bits)
        spreadStarts = .allocate(capacity: (1 << spread.bits) &+ 1)
        computeSpread()
    }

    /// Shard `s` gets buckets `[starts[s], starts[s + 1])`: an equal share for each held shard,
    /// none for the others.
    private mutating func computeSpread() {
        guard let starts = spreadStarts, let spread else { return }
        let shards = 1 << spread.bits
        let bucketCount = mask &+ 1
        let held = spread.held.count
        var rank = 0
        var next = 0
        for s in 0...shards {
            starts[s] = rank &* bucketCount / held
            if s < shards && next < held && Int(spread.held[next]) == s {
                rank &+= 1
                next &+= 1
            }
        }
    }


    private static func bucketCount(for keys: Int) -> Int {
        var capacity = 16
        while capacity < keys &* 2 { capacity &<<= 1 }
        return capacity
    }

    private static func allocateEmpty(_ capacity: Int) -> UnsafeMutablePointer<IndexEntry>? {
        let (bytes, overflow) = capacity.multipliedReportingOverflow(by: MemoryLayout<IndexEntry>.stride)
        guard !overflow, let raw = allocateRaw(bytes, alignment: 64) else { return nil }
        let memory = raw.bindMemory(to: IndexEntry.self, capacity: capacity)
        memory.initialize(repeating: IndexEntry(key: 0, slot: nilSlot), count: capacity)
        return memory
    }

    /// Memory of the buckets.
    var bytes: Int { (mask &+ 1) &* MemoryLayout<IndexEntry>.stride }

    /// The key's hash: its order in chunked snapshots (FORMAT.md's seed(t, k) with the table's salt).
    @inline(__always) func hash(_ key: UInt64) -> UInt64 { fmix64(key ^ salt) }
    @inline(__always) func home(_ key: UInt64) -> Int { bucket(ofHash: hash(key)) }
    /// The bucket where keys of hash `h` start probing (monotone in `h`).
    @inline(__always) func bucket(ofHash h: UInt64) -> Int {
        guard let starts = spreadStarts else { return Int(truncatingIfNeeded: h >> shift) }
        let shard = Int(truncatingIfNeeded: h >> (64 &- spreadBits))
        let start = starts[shard]
        let width = UInt64(truncatingIfNeeded: starts[shard &+ 1] &- start)
        // A shard above the last held one starts past the end: such keys (never held) probe
        // from the last bucket, which keeps the order.
        return min(start &+ Int(truncatingIfNeeded: width.multipliedFullWidth(by: h &<< spreadBits).high), mask)
    }

    /// The smallest hash whose bucket is `b` or later (0 when no hash is: past the last bucket).
    func firstHash(ofBucket b: Int) -> UInt64 {
        guard b > 0 && b <= mask else { return 0 }
        guard spreadStarts != nil else { return UInt64(b) << shift }
        // The spread is monotone: search it.
        var lo: UInt64 = 0
        var hi: UInt64 = .max
        guard bucket(ofHash: hi) >= b else { return 0 }
        while lo < hi {
            let mid = lo &+ (hi &- lo) / 2
            if bucket(ofHash: mid) >= b { hi = mid } else { lo = mid &+ 1 }
        }
        return lo
    }

    /// Hints the CPU to fetch the bucket `key` starts probing at.
    @inline(__always) func prefetch(_ key: UInt64) { podsync_prefetch(buckets + home(key)) }

    /// The slot of `key`, or `nilSlot`.
    @inline(__always)
    func find(_ key: UInt64) -> UInt32 {
        var i = home(key)
        while true {
            let entry = buckets[i]
            if entry.slot == nilSlot { return nilSlot }
            if entry.key == key { return entry.slot }
            i = (i &+ 1) & mask
        }
    }

    /// Makes room for `additional` more keys without rehashing on the way.
    /// False (nothing changed) when the memory cannot be had.
    mutating func reserve(_ additional: Int) -> Bool {
        let needed = count &+ additional
        if needed &* 2 > mask &+ 1 { return rehash(KeyIndex.bucketCount(for: needed)) }
        return true
    }

    /// Whether `additional` more keys fit without rehashing.
    func hasRoom(for additional: Int) -> Bool { (count &+ additional) &* 2 <= mask &+ 1 }

    /// Sets the slot of `key`, inserting it if absent (room was reserved).
    @inline(__always)
    mutating func set(_ key: UInt64, slot: UInt32) {
        if insertIfAbsent(key, slot: slot) != nilSlot { update(key, slot: slot) }
    }

    /// Removes `key` if present and returns its slot, or nilSlot.
    @inline(__always)
    mutating func removeValue(_ key: UInt64) -> UInt32 {
        guard count > 0 else { return nilSlot }
        let slot = find(key)
        if slot != nilSlot { remove(key) }
        return slot
    }

    /// Inserts `key` unless present. Returns the slot already holding it, or nilSlot if inserted.
    @inline(__always)
    mutating func insertIfAbsent(_ key: UInt64, slot: UInt32) -> UInt32 {
        if (count &+ 1) &* 2 > mask &+ 1 { precondition(rehash((mask &+ 1) &* 2), "out of memory") }
        var i = home(key)
        while true {
            let entry = buckets[i]
            if entry.slot == nilSlot { break }
            if entry.key == key { return entry.slot }
            i = (i &+ 1) & mask
        }
        buckets[i] = IndexEntry(key: key, slot: slot)
        count &+= 1
        return nilSlot
    }

    /// Inserts a key known to be absent.
    @inline(__always)
    mutating func insertNew(_ key: UInt64, slot: UInt32) {
        if (count &+ 1) &* 2 > mask &+ 1 { precondition(rehash((mask &+ 1) &* 2), "out of memory") }
        var i = home(key)
        while buckets[i].slot != nilSlot { i = (i &+ 1) & mask }
        buckets[i] = IndexEntry(key: key, slot: slot)
        count &+= 1
    }

    /// Points an existing key at another slot.
    @inline(__always)
    mutating func update(_ key: UInt64, slot: UInt32) {
        var i = home(key)
        while buckets[i].key != key || buckets[i].slot == nilSlot { i = (i &+ 1) & mask }
        buckets[i].slot = slot
    }

    /// Removes a key known to be present, shifting later entries of its probe run back.
    mutating func remove(_ key: UInt64) {
        var i = home(key)
        while buckets[i].key != key || buckets[i].slot == nilSlot { i = (i &+ 1) & mask }
        var hole = i
        var j = i
        while true {
            j = (j &+ 1) & mask
            let entry = buckets[j]
            if entry.slot == nilSlot { break }
            let ideal = home(entry.key)
            // Move the entry back if its home is not in the cyclic range (hole, j].
            let distanceToHole = (j &- ideal) & mask
            let distanceFromHole = (j &- hole) & mask
            if distanceToHole >= distanceFromHole {
                buckets[hole] = entry
                hole = j
            }
        }
        buckets[hole].slot = nilSlot
        count &-= 1
    }

    /// Calls `body` with the hash and entry of every key whose hash lies in `[lo, hi)` (`hi` nil:
    /// to the end), in bucket order: the buckets of the range, then the rest of the probe run that
    /// crosses its end (wrapping around the last bucket).
    func scan(from lo: UInt64, below hi: UInt64?, _ body: (UInt64, IndexEntry) -> Void) {
        guard count > 0 else { return }
        if let hi, hi <= lo { return }
        let first = bucket(ofHash: lo)
        let last = hi.map { bucket(ofHash: $0 &- 1) } ?? mask
        let region = last &- first &+ 1
        var i = first
        var steps = 0
        while steps <= mask {
            let entry = buckets[i]
            if entry.slot == nilSlot {
                if steps >= region { return }
            } else {
                let h = hash(entry.key)
                if h >= lo && (hi == nil || h < hi!) { body(h, entry) }
            }
            steps &+= 1
            i = (i &+ 1) & mask
        }
    }

    /// Empties the index, keeping its buckets (O(buckets) when it held keys, else O(1)).
    mutating func clear() {
        guard count > 0 else { return }
        buckets.update(repeating: IndexEntry(key: 0, slot: nilSlot), count: mask &+ 1)
        count = 0
    }

    /// Empties the index, sized for `capacity` keys.
    mutating func removeAll(keepingCapacityFor capacity: Int) {
        let buckets = KeyIndex.bucketCount(for: capacity)
        if buckets == mask &+ 1 {
            self.buckets.update(repeating: IndexEntry(key: 0, slot: nilSlot), count: buckets)
        } else if let fresh = KeyIndex.allocateEmpty(buckets) {
            podsync_free(self.buckets)
            self.buckets = fresh
            mask = buckets - 1
            shift = KeyIndex.shift(for: buckets)
            computeSpread()
        } else {
            self.buckets.update(repeating: IndexEntry(key: 0, slot: nilSlot), count: mask &+ 1)
        }
        count = 0
    }

    private mutating func rehash(_ newCapacity: Int) -> Bool {
        guard let fresh = KeyIndex.allocateEmpty(newCapacity) else { return false }
        let old = buckets
        let oldCapacity = mask &+ 1
        buckets = fresh
        mask = newCapacity - 1
        shift = KeyIndex.shift(for: newCapacity)
        computeSpread()
        for i in 0..<oldCapacity where old[i].slot != nilSlot {
            var j = home(old[i].key)
            while buckets[j].slot != nilSlot { j = (j &+ 1) & mask }
            buckets[j] = old[i]
        }
        podsync_free(old)
        return true
    }
}

/// The shards a store holds (a subscription with `bits` > 0), for `KeyIndex.setSpread`.
struct ShardSpread: Sendable {
    var bits: Int
    /// Ascending shard ids, each below 2^bits.
    var held: [UInt32]
}
