/// The REPAIR (tag 7) and SUMMARY (tag 13) extension records and the bucket block that follows the
/// header of both kinds of message (docs/FORMAT.md, "Repair frames").

/// The REPAIR record: which buckets a repair frame replaces, and the state it applies to.
public struct RepairRecord: Sendable, Equatable {
    public var fanoutBits: UInt8 = 4
    public var level: UInt8 = 0
    /// The digest of the state the repair was computed for (the replica's, from its summary).
    public var expectedDigest: UInt64 = 0
    public var runCount: UInt64 = 0
    public var blockLength: UInt64 = 0

    public init() {}
    /// The tree level's bits: a bucket is `seed(t, k) >> (64 - bits)`.
    public var bits: Int { Int(fanoutBits) &* Int(level) }
}

/// The SUMMARY record: a message of a reconciliation (never applied).
public struct SummaryRecord: Sendable, Equatable {
    public static let modeHashes: UInt8 = 0
    public static let modeRequest: UInt8 = 1
    public static let modeResponderHashes: UInt8 = 2

    public var fanoutBits: UInt8 = 4
    public var level: UInt8 = 0
    /// HASHES from the side being repaired (0), REQUEST (1), HASHES from the responder (2).
    public var mode: UInt8 = 0
    public var summaryID: UInt64 = 0
    public var inReplyTo: UInt64 = 0
    public var runCount: UInt64 = 0
    public var blockLength: UInt64 = 0

    public init() {}
    public var bits: Int { Int(fanoutBits) &* Int(level) }
}

extension HeaderV2 {
    static let tagRepair: UInt64 = 7
    static let tagSummary: UInt64 = 13

    static func repairValueLength(_ r: RepairRecord) -> Int {
        10 &+ varintSize(r.runCount) &+ varintSize(r.blockLength)
    }

    static func summaryValueLength(_ s: SummaryRecord) -> Int {
        19 &+ varintSize(s.runCount) &+ varintSize(s.blockLength)
    }

    /// Checks the tree parameters shared by both records.
    static func checkTree(fanoutBits: UInt8, level: UInt8) throws(PodSyncError) {
        guard fanoutBits >= 1 && fanoutBits <= 16 else { throw .malformed("fanout_bits \(fanoutBits) is not 1 to 16") }
        guard Int(fanoutBits) * Int(level) <= 32 else { throw .malformed("fanout_bits x level = \(Int(fanoutBits) * Int(level)) is above 32") }
    }

    static func checkBlock(runCount: UInt64, blockLength: UInt64) throws(PodSyncError) {
        guard runCount >= 1 else { throw .malformed("a bucket block needs at least one run") }
        guard blockLength % 8 == 0 else { throw .malformed("bucket_block_length \(blockLength) is not a multiple of 8") }
        // Each run takes at least two bytes.
        guard runCount <= blockLength / 2 else { throw .malformed("\(runCount) runs cannot fit in a \(blockLength)-byte bucket block") }
    }

    static func parseRepair(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) throws(PodSyncError) -> RepairRecord {
        guard end - start >= 12 else { throw .malformed("REPAIR record is too short") }
        var r = RepairRecord()
        r.fanoutBits = p.load(fromByteOffset: start, as: UInt8.self)
        r.level = p.load(fromByteOffset: start + 1, as: UInt8.self)
        r.expectedDigest = p.le(start + 2, as: UInt64.self)
        var position = start + 10
        r.runCount = try readVarint(p, &position, end: end, "run_count")
        r.blockLength = try readVarint(p, &position, end: end, "bucket_block_length")
        guard position == end else { throw .malformed("REPAIR record has \(end - position) extra bytes") }
        try checkTree(fanoutBits: r.fanoutBits, level: r.level)
        try checkBlock(runCount: r.runCount, blockLength: r.blockLength)
        return r
    }

    static func parseSummary(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) throws(PodSyncError) -> SummaryRecord {
        guard end - start >= 21 else { throw .malformed("SUMMARY record is too short") }
        var s = SummaryRecord()
        s.fanoutBits = p.load(fromByteOffset: start, as: UInt8.self)
        s.level = p.load(fromByteOffset: start + 1, as: UInt8.self)
        s.mode = p.load(fromByteOffset: start + 2, as: UInt8.self)
        s.summaryID = p.le(start + 3, as: UInt64.self)
        s.inReplyTo = p.le(start + 11, as: UInt64.self)
        var position = start + 19
        s.runCount = try readVarint(p, &position, end: end, "run_count")
        s.blockLength = try readVarint(p, &position, end: end, "bucket_block_length")
        guard position == end else { throw .malformed("SUMMARY record has \(end - position) extra bytes") }
        try checkTree(fanoutBits: s.fanoutBits, level: s.level)
        guard s.mode <= SummaryRecord.modeResponderHashes else {
            throw PodSyncError(Status.frameFeature, "summary mode \(s.mode) is not one this library knows")
        }
        guard s.summaryID != 0 else { throw .malformed("summary_id 0") }
        try checkBlock(runCount: s.runCount, blockLength: s.blockLength)
        return s
    }

    static func writeRepair(_ r: RepairRecord, _ p: UnsafeMutableRawPointer, _ position: inout Int) {
        writeVarint(tagRepair, p, &position)
        writeVarint(UInt64(repairValueLength(r)), p, &position)
        p.storeBytes(of: r.fanoutBits, toByteOffset: position, as: UInt8.self)
        p.storeBytes(of: r.level, toByteOffset: position + 1, as: UInt8.self)
        p.storeLE(r.expectedDigest, at: position + 2)
        position += 10
        writeVarint(r.runCount, p, &position)
        writeVarint(r.blockLength, p, &position)
    }

    static func writeSummary(_ s: SummaryRecord, _ p: UnsafeMutableRawPointer, _ position: inout Int) {
        writeVarint(tagSummary, p, &position)
        writeVarint(UInt64(summaryValueLength(s)), p, &position)
        p.storeBytes(of: s.fanoutBits, toByteOffset: position, as: UInt8.self)
        p.storeBytes(of: s.level, toByteOffset: position + 1, as: UInt8.self)
        p.storeBytes(of: s.mode, toByteOffset: position + 2, as: UInt8.self)
        p.storeLE(s.summaryID, at: position + 3)
        p.storeLE(s.inReplyTo, at: position + 11)
        position += 19
        writeVarint(s.runCount, p, &position)
        writeVarint(s.blockLength, p, &position)
    }
}

/// The buckets of a bucket block, ascending, and their encoding as runs (docs/FORMAT.md, "Payload"):
/// each run is `gap` then `count` (LEB128); the first run starts at its gap, each next one `gap`
/// (at least 1) after the previous run's last bucket.
enum BucketBlock {
    /// Most buckets a message may name: a receiver refuses more (PODSYNC_E_FRAME_TOO_LARGE) before
    /// it does any work for them.
    static let maxBuckets = 1 << 20

    /// Calls `body` with each run's `gap` and `count` of ascending, distinct `buckets`, merging
    /// adjacent buckets into one run.
    @inline(__always)
    static func forEachRun(_ buckets: UnsafePointer<UInt32>, count: Int, _ body: (_ gap: UInt64, _ count: UInt64) -> Void) {
        var i = 0
        var previousEnd: UInt64? = nil
        while i < count {
            var j = i &+ 1
            while j < count && buckets[j] == buckets[j &- 1] &+ 1 { j &+= 1 }
            let start = UInt64(buckets[i])
            body(previousEnd.map { start &- $0 } ?? start, UInt64(j &- i))
            previousEnd = UInt64(buckets[j &- 1])
            i = j
        }
    }

    /// The runs of ascending, distinct `buckets`: (count of runs, encoded bytes without padding).
    static func encodedSize(_ buckets: UnsafePointer<UInt32>, count: Int) -> (runs: Int, bytes: Int) {
        var runs = 0, bytes = 0
        forEachRun(buckets, count: count) { gap, n in
            bytes &+= HeaderV2.varintSize(gap) &+ HeaderV2.varintSize(n)
            runs &+= 1
        }
        return (runs, bytes)
    }

    /// Writes the runs, then zero bytes up to `length`.
    static func write(_ buckets: UnsafePointer<UInt32>, count: Int, to p: UnsafeMutableRawPointer, length: Int) {
        var position = 0
        forEachRun(buckets, count: count) { gap, n in
            HeaderV2.writeVarint(gap, p, &position)
            HeaderV2.writeVarint(n, p, &position)
        }
        (p + position).initializeMemory(as: UInt8.self, repeating: 0, count: length &- position)
    }

    /// Step V18: reads exactly `runCount` runs from `[start, start + length)` into `out` (ascending),
    /// every bucket below 2^bits, then zero padding. At most `maxBuckets` buckets, counted before any
    /// is stored.
    static func read(_ p: UnsafeRawPointer, start: Int, length: Int, runCount: UInt64, bits: Int,
                     into out: inout RawVector<UInt32>) throws(PodSyncError) {
        let total = try check(p, start: start, length: length, runCount: runCount, bits: bits)
        // Second pass: the buckets.
        out.removeAll()
        guard out.reserve(total) else { throw PodSyncError(Status.noMemory, "cannot allocate \(total) buckets") }
        let end = start &+ length
        var position = start
        var next: UInt64 = 0
        for r in 0..<runCount {
            let gap = try HeaderV2.readVarint(p, &position, end: end, "bucket run gap")
            let count = try HeaderV2.readVarint(p, &position, end: end, "bucket run count")
            let first = (r == 0 ? 0 : next) &+ gap
            for b in 0..<count { out.append(UInt32(truncatingIfNeeded: first &+ b)) }
            next = first &+ count &- 1
        }
    }

    /// Step V18 without storing anything: returns how many buckets the block names.
    static func check(_ p: UnsafeRawPointer, start: Int, length: Int, runCount: UInt64, bits: Int) throws(PodSyncError) -> Int {
        let end = start &+ length
        let limit: UInt64 = bits >= 64 ? .max : (UInt64(1) << UInt64(bits))
        // First pass: the runs and how many buckets they name.
        var position = start
        var total: UInt64 = 0
        var next: UInt64 = 0
        for r in 0..<runCount {
            let gap = try HeaderV2.readVarint(p, &position, end: end, "bucket run gap")
            let count = try HeaderV2.readVarint(p, &position, end: end, "bucket run count")
            guard count >= 1 else { throw .malformed("bucket run \(r) is empty") }
            guard r == 0 || gap >= 1 else { throw .malformed("bucket run \(r) does not start after the previous run") }
            let (first, o1) = (r == 0 ? 0 : next).addingReportingOverflow(gap)
            let (afterLast, o2) = first.addingReportingOverflow(count)
            guard !o1 && !o2 && afterLast <= limit else { throw .malformed("bucket run \(r) goes past bucket 2^\(bits)") }
            total &+= count
            guard total <= UInt64(maxBuckets) else {
                throw PodSyncError(Status.frameTooLarge, "the message names more than \(maxBuckets) buckets")
            }
            next = afterLast &- 1
        }
        guard FrameReader.isZero(p + position, end &- position) else { throw .malformed("bucket block padding is not zero") }
        return Int(total)
    }
}
