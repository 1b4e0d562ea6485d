/// A subscription: the part of a stream a replica holds (docs/FORMAT.md, "Subscriptions"). Tables,
/// per table key ranges, and optionally the keys of some shards (the top `shardBits` bits of a
/// key's seed, the hash the digest and the hash tree use).
public struct Subscription: Sendable, Equatable {
    /// One listed table: its key ranges, ascending and apart; none means every key.
    public struct TableFilter: Sendable, Equatable {
        public var tableID: UInt32
        public var ranges: [ClosedRange<UInt64>]

        public init(tableID: UInt32, ranges: [ClosedRange<UInt64>] = []) {
            self.tableID = tableID
            self.ranges = ranges
        }
    }

    public static let magic: [UInt8] = Array("PSYNSUB1".utf8)
    public static let maxShardBits = 16

    /// 0: no shard filter; 1 to 16: keep the listed shards.
    public var shardBits: Int
    public var shards: [UInt32]
    public var tables: [TableFilter]

    public init(tables: [TableFilter], shardBits: Int = 0, shards: [UInt32] = []) {
        self.tables = tables
        self.shardBits = shardBits
        self.shards = shards
    }

    /// Checks the rules of the canonical encoding (not the schema).
    public func check() throws(PodSyncError) {
        guard shardBits >= 0 && shardBits <= Subscription.maxShardBits else {
            throw .invalid("shard_bits \(shardBits) is not 0 to \(Subscription.maxShardBits)")
        }
        if shardBits == 0 {
            guard shards.isEmpty else { throw .invalid("shard_bits 0 keeps every shard: shard_count must be 0, not \(shards.count)") }
        } else {
            guard !shards.isEmpty else { throw .invalid("shard_bits \(shardBits) with no shard would hold nothing") }
            var previous: UInt32? = nil
            for s in shards {
                guard UInt64(s) < (1 as UInt64) << UInt64(shardBits) else { throw .invalid("shard \(s) is not below 2^\(shardBits)") }
                if let previous, s <= previous { throw .invalid("shards are not strictly ascending at \(s)") }
                previous = s
            }
        }
        guard !tables.isEmpty else { throw .invalid("a subscription lists at least one table") }
        var previousTable: UInt32? = nil
        for table in tables {
            if let previousTable, table.tableID <= previousTable {
                throw .invalid("tables are not in strictly ascending id at table \(table.tableID)")
            }
            previousTable = table.tableID
            var previousHigh: UInt64? = nil
            for r in table.ranges {
                if let previousHigh {
                    // hi + 1 < next lo, written so it cannot overflow.
                    guard previousHigh < UInt64.max, r.lowerBound > previousHigh &+ 1 else {
                        throw .invalid("table \(table.tableID): range \(r.lowerBound)...\(r.upperBound) overlaps or touches the previous one (ranges are ascending and apart)")
                    }
                }
                previousHigh = r.upperBound
            }
        }
    }

    /// The subscription_hash of a canonical encoding: XXH3-64 of its bytes.
    public static func hash(_ encoding: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = encoding.baseAddress else { return xxh3(UnsafeRawPointer(bitPattern: 8)!, 0) }
        return xxh3(base, encoding.count)
    }

    /// The canonical encoding, after `check()`.
    public func encoded() throws(PodSyncError) -> [UInt8] {
        try check()
        var out = Subscription.magic
        out.append(UInt8(shardBits))
        func u32(_ v: UInt32) { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> UInt32(8 * i))) } }
        func u64(_ v: UInt64) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) } }
        u32(UInt32(shards.count))
        for s in shards { u32(s) }
        u32(UInt32(tables.count))
        for t in tables {
            u32(t.tableID)
            u32(UInt32(t.ranges.count))
            for r in t.ranges {
                u64(r.lowerBound)
                u64(r.upperBound)
            }
        }
        return out
    }

    /// Reads a canonical encoding; every count is checked against the bytes before anything is
    /// allocated for it, so a forged one costs work and memory bounded by its size.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(PodSyncError) -> Subscription {
        guard let base = bytes.baseAddress, bytes.count >= 8 + 1 + 4 + 4 else {
            throw .invalid("a subscription encoding is at least 17 bytes, got \(bytes.count)")
        }
        for i in 0..<8 where bytes[i] != magic[i] { throw .invalid("not a subscription encoding (magic PSYNSUB1)") }
        var position = 8
        let end = bytes.count
        func need(_ n: Int, _ what: StaticString) throws(PodSyncError) {
            guard n <= end &- position else { throw .invalid("subscription encoding ends inside \(what)") }
        }
        func u32() -> UInt32 { defer { position &+= 4 } ; return base.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian }
        func u64() -> UInt64 { defer { position &+= 8 } ; return base.loadUnaligned(fromByteOffset: position, as: UInt64.self).littleEndian }
        let bits = Int(bytes[position])
        position += 1
        guard bits <= maxShardBits else { throw .invalid("shard_bits \(bits) is not 0 to \(maxShardBits)") }
        try need(4, "shard_count")
        let shardCount = Int(u32())
        guard shardCount <= 1 << bits || bits == 0 else { throw .invalid("shard_count \(shardCount) is above 2^\(bits)") }
        try need(shardCount &* 4, "the shards")
        var shards: [UInt32] = []
        shards.reserveCapacity(shardCount)
        for _ in 0..<shardCount { shards.append(u32()) }
        try need(4, "table_count")
        let tableCount = Int(u32())
        // Each table takes at least 8 bytes: a forged count is refused before the array grows.
        guard tableCount <= (end &- position) / 8 else { throw .invalid("table_count \(tableCount) does not fit in the encoding") }
        var tables: [TableFilter] = []
        tables.reserveCapacity(tableCount)
        for _ in 0..<tableCount {
            try need(8, "a table")
            let id = u32()
            let rangeCount = Int(u32())
            guard rangeCount <= (end &- position) / 16 else { throw .invalid("table \(id): range_count \(rangeCount) does not fit in the encoding") }
            var ranges: [ClosedRange<UInt64>] = []
            ranges.reserveCapacity(rangeCount)
            for _ in 0..<rangeCount {
                let lo = u64()
                let hi = u64()
                guard lo <= hi else { throw .invalid("table \(id): range \(lo)...\(hi) is inverted") }
                ranges.append(lo...hi)
            }
            tables.append(TableFilter(tableID: id, ranges: ranges))
        }
        guard position == end else { throw .invalid("\(end - position) bytes follow the subscription encoding") }
        let s = Subscription(tables: tables, shardBits: bits, shards: shards)
        try s.check()
        return s
    }
}

/// A subscription a store holds, ready for the hot paths: its encoding and hash, and per table of
/// the schema (in schema order) whether and which keys belong.
public struct SubscriptionState: Sendable {
    public let subscription: Subscription
    public let encoding: [UInt8]
    public let hash: UInt64
    /// Per schema table: 0 not listed, 1 every key, 2 the ranges `rangeStart[t] ..< rangeStart[t + 1]`
    /// of `lows`/`highs` (flat arrays: the membership test touches no reference count).
    let mode: [UInt8]
    let rangeStart: [Int]
    let lows: [UInt64]
    let highs: [UInt64]
    let shardShift: UInt64
    /// Bit per shard, when there is a shard filter.
    let shardBitmap: [UInt64]

    /// Checks `subscription` against `schema` (every listed table must exist).
    public init(_ subscription: Subscription, schema: Schema) throws(PodSyncError) {
        encoding = try subscription.encoded()
        self.subscription = subscription
        hash = encoding.withUnsafeBytes { xxh3($0.baseAddress!, $0.count) }
        var ranges = [[ClosedRange<UInt64>]?](repeating: nil, count: schema.tables.count)
        for t in subscription.tables {
            guard let i = schema.tableIndex(of: t.tableID) else {
                throw .invalid("the subscription names table \(t.tableID), which the schema lacks")
            }
            ranges[i] = t.ranges
        }
        var mode: [UInt8] = [], start: [Int] = [], lows: [UInt64] = [], highs: [UInt64] = []
        for r in ranges {
            mode.append(r == nil ? 0 : r!.isEmpty ? 1 : 2)
            start.append(lows.count)
            for range in r ?? [] {
                lows.append(range.lowerBound)
                highs.append(range.upperBound)
            }
        }
        start.append(lows.count)
        self.mode = mode
        rangeStart = start
        self.lows = lows
        self.highs = highs
        if subscription.shardBits > 0 {
            shardShift = UInt64(64 - subscription.shardBits)
            var bitmap = [UInt64](repeating: 0, count: max(1, (1 << subscription.shardBits) / 64))
            for s in subscription.shards { bitmap[Int(s >> 6)] |= 1 << UInt64(s & 63) }
            shardBitmap = bitmap
        } else {
            shardShift = 64
            shardBitmap = []
        }
    }

    /// Whether table `t` (schema index) has any key in the subscription.
    @inline(__always) func lists(table t: Int) -> Bool { mode[t] != 0 }

    /// Whether the record (`t`, `key`) with seed `seed` belongs.
    @inline(__always) func contains(table t: Int, key: UInt64, seed: UInt64) -> Bool {
        let m = mode[t]
        if m == 0 { return false }
        if shardShift < 64 {
            let shard = Int(truncatingIfNeeded: seed >> shardShift)
            guard shardBitmap[shard >> 6] & (1 << UInt64(shard & 63)) != 0 else { return false }
        }
        if m == 1 { return true }
        // The last range starting at or below key.
        let first = rangeStart[t]
        var lo = first
        var hi = rangeStart[t &+ 1]
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if lows[mid] <= key { lo = mid &+ 1 } else { hi = mid }
        }
        return lo > first && key <= highs[lo &- 1]
    }
}
