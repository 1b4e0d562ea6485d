import Glibc

/// The leaves of one table's hash tree (docs/FORMAT.md, "Repair frames"): bucket `b` at level
/// `leafBits` holds the wrapping sum of the digest terms of the table's records whose
/// `seed(t, k) >> (64 - leafBits)` is `b`. Every change that moves the state digest moves one leaf
/// by the same term (O(1)), so the levels above are sums of leaves and the root is the table's
/// share of the digest. Levels below the leaves are computed when asked for, from the records of
/// the buckets asked about (`Store.bucketHashes`).
///
/// 4,096 leaves of 8 bytes (32 KiB a table, about 0.03 bytes a record at a million records),
/// allocated zeroed so a small table touches only the pages its keys hash to.
struct HashTree: ~Copyable {
    static let leafBits = 12
    static let leafCount = 1 << leafBits
    let leaves: UnsafeMutablePointer<UInt64>

    init() {
        // calloc: the kernel's zero pages until written. Without memory the store cannot exist.
        guard let raw = calloc(HashTree.leafCount, 8) else { preconditionFailure("out of memory") }
        leaves = raw.bindMemory(to: UInt64.self, capacity: HashTree.leafCount)
    }

    deinit { free(leaves) }

    @inline(__always) static func leaf(_ seed: UInt64) -> Int { Int(truncatingIfNeeded: seed >> UInt64(64 &- leafBits)) }

    /// A record with this seed and digest term joined the state.
    @inline(__always) func add(seed: UInt64, _ term: UInt64) { leaves[HashTree.leaf(seed)] &+= term }
    /// A record with this seed and digest term left the state.
    @inline(__always) func remove(seed: UInt64, _ term: UInt64) { leaves[HashTree.leaf(seed)] &-= term }

    func clear() { leaves.update(repeating: 0, count: HashTree.leafCount) }

    /// The hash of bucket `b` at a level of `bits <= leafBits` bits: the sum of its leaves.
    func hash(bucket b: UInt64, bits: Int) -> UInt64 {
        let span = 1 &<< (HashTree.leafBits &- bits)
        let first = Int(truncatingIfNeeded: b) &* span
        var sum: UInt64 = 0
        for i in first..<(first &+ span) { sum &+= leaves[i] }
        return sum
    }
}

extension Table {
    /// The record (key, bytes) joins the state: its leaf takes its digest term, which is returned
    /// for the caller's digest (one seed for both, so neither can be updated without the other).
    @inline(__always) func treeJoin(_ key: UInt64, _ record: UnsafeRawPointer) -> UInt64 {
        let seed = index.hash(key)
        let term = recordDigest(seed: seed, record: record, size: recordSize)
        tree.add(seed: seed, term)
        return term
    }

    /// The record (key, bytes) leaves the state: its term leaves its leaf, and is returned.
    @inline(__always) func treeLeave(_ key: UInt64, _ record: UnsafeRawPointer) -> UInt64 {
        let seed = index.hash(key)
        let term = recordDigest(seed: seed, record: record, size: recordSize)
        tree.remove(seed: seed, term)
        return term
    }
}
