import CPodSyncShims

/// Counters of one store (include/podsync.h, podsync_metrics). Not on the per-record path: they
/// are updated once per call, frame or flush.
public struct Metrics: Sendable, Equatable {
    public static let buckets = 32
    public static let statuses = 32

    public var framesOut: UInt64 = 0
    public var recordsOut: UInt64 = 0
    public var rawBytesOut: UInt64 = 0
    public var wireBytesOut: UInt64 = 0
    public var savedByKeyGaps: UInt64 = 0
    public var savedByCompression: UInt64 = 0
    public var compressedFrames: UInt64 = 0
    public var savedByZeroColumns: UInt64 = 0
    public var rawColumnBytes: UInt64 = 0
    public var dictionaryFrames: UInt64 = 0
    public var columnTrials: UInt64 = 0
    public var writes: UInt64 = 0
    public var coalescedWrites: UInt64 = 0
    public var framesApplied: UInt64 = 0
    public var recordsApplied: UInt64 = 0
    public var wireBytesIn: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var gaps: UInt64 = 0
    public var stale: UInt64 = 0
    public var resyncs: UInt64 = 0
    public var chunksOut: UInt64 = 0
    public var chunksStaged: UInt64 = 0
    public var chunkGaps: UInt64 = 0
    /// rejects[k]: apply calls that returned status -k.
    public var rejects = [UInt64](repeating: 0, count: statuses)
    /// Log2 histograms of call durations in nanoseconds.
    public var encodeNs = [UInt64](repeating: 0, count: buckets)
    public var applyNs = [UInt64](repeating: 0, count: buckets)

    public init() {}

    /// The bucket of a duration: floor(log2(ns)), 0 for 0 and 1, capped at the last bucket.
    static func bucket(_ nanoseconds: UInt64) -> Int {
        nanoseconds <= 1 ? 0 : min(63 - nanoseconds.leadingZeroBitCount, buckets - 1)
    }

    mutating func recordEncode(since start: UInt64) { encodeNs[Metrics.bucket(podsync_monotonic_ns() &- start)] &+= 1 }
    mutating func recordApply(since start: UInt64) { applyNs[Metrics.bucket(podsync_monotonic_ns() &- start)] &+= 1 }
}
