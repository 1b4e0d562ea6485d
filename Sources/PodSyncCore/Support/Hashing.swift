import CPodSyncShims
import CXXHash

/// MurmurHash3's 64-bit finalizer: a cheap, well-mixing bijection used for the key index and the
/// digest seed.
@inlinable @inline(__always)
func fmix64(_ value: UInt64) -> UInt64 {
    var x = value
    x ^= x >> 33
    x = x &* 0xff51_afd7_ed55_8ccd
    x ^= x >> 33
    x = x &* 0xc4ce_b9fe_1a85_ec53
    x ^= x >> 33
    return x
}

/// The inverse of `fmix64` (multiplications by the constants' inverses mod 2^64; `x ^= x >> 33`
/// is its own inverse): the key of a seed (KEY_RANKS).
@inline(__always)
func unfmix64(_ value: UInt64) -> UInt64 {
    var x = value
    x ^= x >> 33
    x = x &* 0x9cb4_b2f8_1293_37db
    x ^= x >> 33
    x = x &* 0x4f74_430c_22a5_4005
    x ^= x >> 33
    return x
}

/// XXH3-64 with seed 0 of `count` bytes.
@inline(__always)
func xxh3(_ bytes: UnsafeRawPointer, _ count: Int) -> UInt64 {
    XXH3_64bits(bytes, count)
}

/// XXH3-64 with a seed.
@inline(__always)
func xxh3(_ bytes: UnsafeRawPointer, _ count: Int, seed: UInt64) -> UInt64 {
    XXH3_64bits_withSeed(bytes, count, seed)
}

/// The contribution of one record to the state digest (docs/FORMAT.md, "State digest"). The state
/// digest is the wrapping sum of these over all records, so it is order-independent and can be
/// updated incrementally: subtract the old record's term, add the new one's.
@inline(__always)
func recordDigest(table: UInt32, key: UInt64, record: UnsafeRawPointer, size: Int) -> UInt64 {
    podsync_xxh3_seeded(record, size, keySeed(table: table, key: key))
}

/// What a table mixes into its keys: `seed(t, k) = fmix64(k ^ keySalt(t))`.
@inline(__always)
func keySalt(table: UInt32) -> UInt64 { UInt64(table) &* 0x9E37_79B9_7F4A_7C15 }

/// FORMAT.md's `seed(t, k)`: the digest term's seed, the order of keys in chunked snapshots and
/// the bucket of the hash tree.
@inline(__always)
func keySeed(table: UInt32, key: UInt64) -> UInt64 { fmix64(key ^ keySalt(table: table)) }

/// `recordDigest` for a seed already computed (`keySeed`): hot loops that also update the hash
/// tree, which is indexed by the same seed, compute it once.
@inline(__always)
func recordDigest(seed: UInt64, record: UnsafeRawPointer, size: Int) -> UInt64 {
    podsync_xxh3_seeded(record, size, seed)
}
