import Glibc

/// Reconciliation (docs/FORMAT.md, "Repair frames"): summaries of the hash tree go back and forth,
/// descending the tree where buckets differ, until the responder sends a repair frame holding only
/// the records of the differing buckets (Store+Repair.swift applies it).
///
/// Roles travel in the messages: mode HASHES (0) and REQUEST (1) come from the side being repaired
/// and are answered by the responder; HASHES from the responder (2) are answered by the side being
/// repaired. The first message of an exchange has `in_reply_to` 0; every later one carries the
/// responder's version at the exchange's start (the *anchor*) as its `state_version`, so a repair
/// can add what changed since then outside the buckets it replaces.
extension Store {
    /// Children per tree node: 2^4.
    static let treeFanoutBits = 4
    /// The deepest level a whole-tree summary may ask for: 16^5 buckets (8 MiB of hashes).
    static let maxSummaryLevel = 5

    // MARK: Hashes of the state

    /// Calls `body` with every record of table `t` whose seed lies in `[lo, hi)` (`hi` nil: to the
    /// end) in the state the tree describes: a writer's last flush (pending writes not included,
    /// keys deleted in the pending batch included with their flushed value).
    func forEachTreeRecord(_ t: Int, from lo: UInt64, below hi: UInt64?, _ body: (UInt64, UnsafeRawPointer) -> Void) {
        let table = UnsafePointer(tables + t)
        table.pointee.index.scan(from: lo, below: hi) { _, e in
            let slot = Int(e.slot)
            guard table.pointee.flushedVersion(slot) != 0 else { return }
            body(e.key, table.pointee.flushedRecord(slot))
        }
        guard table.pointee.pendingDeletes.count > 0 else { return }
        table.pointee.pendingDeletes.scan(from: lo, below: hi) { _, e in
            guard table.pointee.index.find(e.key) == nilSlot, Int(e.slot) < table.pointee.dirty.count else { return }
            let pre = table.pointee.dirty[Int(e.slot)].pre
            guard pre != nilSlot else { return }
            body(e.key, table.pointee.preimages.record(pre))
        }
    }

    /// The seeds of bucket `b` at a level of `bits` bits: `[lo, hi)`, `hi` nil for the last bucket.
    static func bucketRange(_ b: UInt64, bits: Int) -> (lo: UInt64, hi: UInt64?) {
        guard bits > 0 else { return (0, nil) }
        let shift = UInt64(64 &- bits)
        let next = b &+ 1
        return (b << shift, next >> UInt64(bits) != 0 ? nil : next << shift)
    }

    /// The hashes of the ascending `buckets` at a level of `bits` bits, into `reconcileHashes`:
    /// sums of the tree's leaves down to its leaf level, sums of the records' digest terms below.
    mutating func bucketHashes(bits: Int, _ buckets: UnsafePointer<UInt32>, count: Int) throws(PodSyncError) {
        reconcileHashes.removeAll()
        guard reconcileHashes.reserve(count) else { throw PodSyncError(Status.noMemory, "cannot allocate \(count) bucket hashes") }
        if bits <= HashTree.leafBits {
            for i in 0..<count {
                var sum: UInt64 = 0
                for t in 0..<tableCount { sum &+= tables[t].tree.hash(bucket: UInt64(buckets[i]), bits: bits) }
                reconcileHashes.append(sum)
            }
            return
        }
        // Below the leaves: one scan of the records per run of consecutive buckets (the children
        // of one parent are a run), each record's term added to its bucket.
        for _ in 0..<count { reconcileHashes.append(0) }
        let out = reconcileHashes.base
        let shift = UInt64(64 &- bits)
        var i = 0
        while i < count {
            var j = i &+ 1
            while j < count && buckets[j] == buckets[j &- 1] &+ 1 { j &+= 1 }
            let first = UInt64(buckets[i])
            let lo = Store.bucketRange(first, bits: bits).lo
            let hi = Store.bucketRange(UInt64(buckets[j &- 1]), bits: bits).hi
            let runStart = i
            for t in 0..<tableCount {
                let id = tables[t].schema.id
                let size = tables[t].recordSize
                let salt = keySalt(table: id)
                forEachTreeRecord(t, from: lo, below: hi) { key, record in
                    let b = Int(truncatingIfNeeded: (fmix64(key ^ salt) >> shift) &- first)
                    out[runStart &+ b] &+= recordDigest(table: id, key: key, record: record, size: size)
                }
            }
            i = j
        }
    }

    var treeRecordCount: Int {
        var n = 0
        for t in 0..<tableCount { n &+= tables[t].count }
        return n
    }

    /// Whether descending one more level is expected to cost fewer bytes than repairing the
    /// `differing` buckets (of `compared`) at this level of `bits` bits. A repair replaces whole
    /// buckets, so it carries every record of a differing bucket: `avg` of them. One level down the
    /// next summary costs 8 bytes a child, and the repair carries only the children that differ.
    /// With `λ` differences per bucket (Poisson: a share `p = 1 - e^-λ` of the buckets differ,
    /// estimated with half a bucket of continuity so that "all differ" does not read as infinite),
    /// `2^f (1 - e^(-λ / 2^f))` children of a differing bucket differ, each with `avg / 2^f`
    /// records, plus the differing one when children are sparse.
    func shouldDescend(bits: Int, fanoutBits: Int, differing: Int, compared: Int) -> Bool {
        guard bits &+ fanoutBits <= 32, differing <= BucketBlock.maxBuckets >> fanoutBits, differing > 0, compared >= differing else {
            return false
        }
        var records = 0
        var bytes = 0
        for t in 0..<tableCount {
            records &+= tables[t].count
            bytes &+= tables[t].count &* (tables[t].recordSize &+ 8)
        }
        guard records > 0 else { return false }
        let recordBytes = Double(bytes) / Double(records)
        let avg = Double(records) / Double(UInt64(1) << UInt64(bits))
        let share = Double(differing) / Double(compared)
        let p = (Double(differing) - 0.5) / Double(compared)
        let lambda = max(min(-log1p(-p), max(avg, 1)), 1e-9)
        let children = Double(1 << fanoutBits)
        let differingChildren = children * (1 - exp(-lambda / children))
        let perChild = avg / children + exp(-lambda / children)
        let now = max(avg, 1) * recordBytes
        let after = 8 * children + differingChildren * perChild * recordBytes
        // Sparse differences (about one a differing bucket) also go down while a bucket holds more
        // than half a record, so that a repair carries at most about 1.5 records per differing
        // one: a summary level then costs more than it saves, but the repair is what a replica
        // waits for.
        return after < now || (avg > 0.5 && lambda / share < 1.5)
    }

    /// The children, at `fanoutBits` more bits, of the `count` ascending buckets, into `out`.
    static func children(of buckets: UnsafePointer<UInt32>, count: Int, fanoutBits: Int, into out: inout RawVector<UInt32>) throws(PodSyncError) {
        out.removeAll()
        guard out.reserve(count << fanoutBits) else { throw PodSyncError(Status.noMemory, "cannot allocate the children of \(count) buckets") }
        for i in 0..<count {
            let first = UInt32(truncatingIfNeeded: UInt64(buckets[i]) << UInt64(fanoutBits))
            for c in 0..<(UInt32(1) << UInt32(fanoutBits)) { out.append(first &+ c) }
        }
    }

    /// The number of whole-tree summary levels for the store's size: about 256 records a bucket,
    /// at most 4,096 buckets (32 KiB of hashes).
    var automaticSummaryLevel: Int {
        let records = treeRecordCount
        var level = 1
        while level < 3 && records >> (Store.treeFanoutBits &* level) > 256 { level &+= 1 }
        return level
    }

    // MARK: Messages

    /// Puts one summary message into the outbox.
    mutating func emitSummary(_ record: SummaryRecord, buckets: UnsafePointer<UInt32>, count: Int, hashes: UnsafePointer<UInt64>?,
                              stateVersion: UInt64, digest stateDigest: UInt64) throws(PodSyncError) {
        var s = record
        let (runs, blockBytes) = BucketBlock.encodedSize(buckets, count: count)
        s.runCount = UInt64(runs)
        s.blockLength = UInt64(alignUp(max(blockBytes, 1), 8))
        var fields = FrameBuilder.HeaderFields(flags: FrameLayout.flagHasDigest, schemaHash: schemaHash, streamID: streamID, sequence: 0,
                                               baseVersion: 0, stateVersion: stateVersion, stateDigest: stateDigest,
                                               formatVersion: HeaderV2.formatVersion)
        withTerm(&fields)
        fields.summary = s
        let payload = Int(s.blockLength) &+ (hashes == nil ? 0 : 8 &* count)
        var headerLength = HeaderV2.headerLength(fields, frameLength: 0, payloadLength: nil)
        while HeaderV2.headerLength(fields, frameLength: UInt64(headerLength &+ payload), payloadLength: nil) > headerLength {
            headerLength = HeaderV2.headerLength(fields, frameLength: UInt64(headerLength &+ payload), payloadLength: nil)
        }
        let length = headerLength &+ payload
        outbox.clear()
        guard let p = outbox.beginFrame(length: length) else { throw PodSyncError(Status.noMemory, "cannot allocate a \(length)-byte summary") }
        HeaderV2.write(p, headerLength: headerLength, frameLength: UInt64(length), payloadLength: nil, fields)
        BucketBlock.write(buckets, count: count, to: p + headerLength, length: Int(s.blockLength))
        if let hashes {
            let out = p + (headerLength &+ Int(s.blockLength))
            for i in 0..<count { out.storeLE(hashes[i], at: 8 &* i) }
        }
        FrameBuilder.seal(p, length: length)
        metrics.framesOut &+= 1
        metrics.rawBytesOut &+= UInt64(length)
        metrics.wireBytesOut &+= UInt64(length)
    }

    static func newSummaryID() -> UInt64 {
        var id: UInt64 = 0
        while id == 0 { id = UInt64.random(in: 1...UInt64.max) }
        return id
    }

    /// podsync_store_summary: the hashes of every bucket of one level. Returns the frame count (1).
    public mutating func summary(level requested: Int) throws(PodSyncError) -> Int {
        let level = requested == 0 ? automaticSummaryLevel : requested
        guard level >= 1 && level <= Store.maxSummaryLevel else {
            throw .invalid("summary level \(requested) is not 0 (automatic) or 1 to \(Store.maxSummaryLevel)")
        }
        let count = 1 << (Store.treeFanoutBits &* level)
        reconcileBuckets.removeAll()
        guard reconcileBuckets.reserve(count) else { throw PodSyncError(Status.noMemory, "cannot allocate a summary of \(count) buckets") }
        for b in 0..<count { reconcileBuckets.append(UInt32(truncatingIfNeeded: b)) }
        try bucketHashes(bits: Store.treeFanoutBits &* level, reconcileBuckets.base, count: count)
        var record = SummaryRecord()
        record.fanoutBits = UInt8(Store.treeFanoutBits)
        record.level = UInt8(level)
        record.mode = SummaryRecord.modeHashes
        record.summaryID = Store.newSummaryID()
        try emitSummary(record, buckets: reconcileBuckets.base, count: count, hashes: reconcileHashes.base,
                        stateVersion: version, digest: digest)
        return 1
    }

    /// podsync_store_reconcile: answers a summary message. Returns the frame count (0 or 1).
    public mutating func reconcile(_ message: UnsafeRawBufferPointer) throws(PodSyncError) -> Int {
        let (header, _) = try FrameReader.validate(
            message, schema: schema, schemaHash: schemaHash, maxDecoded: options.maxDecodedBytes,
            packed: &decodePacked, decoded: &decoded, zstd: &zstd)
        guard let s = header.summary, let p = message.baseAddress else {
            throw .invalid("not a summary message: frames are applied with podsync_store_apply")
        }
        try checkSubscription(header)
        try BucketBlock.read(p, start: header.headerLength, length: header.bucketBlockLength, runCount: s.runCount,
                             bits: s.bits, into: &reconcileBuckets)
        let hashes = p + (header.headerLength &+ header.bucketBlockLength)
        if s.mode == SummaryRecord.modeResponderHashes {
            return try answerResponder(header, s, theirs: hashes)
        }
        return try respond(header, s, theirs: hashes)
    }

    /// Moves to `reconcileDiffering` the listed buckets whose hashes differ from `theirs`.
    mutating func differingBuckets(bits: Int, theirs: UnsafeRawPointer) throws(PodSyncError) {
        let count = reconcileBuckets.count
        try bucketHashes(bits: bits, reconcileBuckets.base, count: count)
        reconcileDiffering.removeAll()
        guard reconcileDiffering.reserve(count) else { throw PodSyncError(Status.noMemory, "cannot allocate \(count) buckets") }
        for i in 0..<count where reconcileHashes[i] != theirs.le(8 &* i, as: UInt64.self) {
            reconcileDiffering.append(reconcileBuckets[i])
        }
    }

    /// The responder's side: a replica's HASHES or REQUEST.
    mutating func respond(_ header: FrameHeader, _ s: SummaryRecord, theirs: UnsafeRawPointer) throws(PodSyncError) -> Int {
        try refuseIfDiverged()
        guard streamID != 0 else {
            throw .invalid("this replica follows no stream yet: it has no state to answer a summary with")
        }
        if let staged = staging, staged.tables == nil {
            throw PodSyncError(Status.diverged, "this replica is filling a snapshot in place; it answers no summaries until it is whole")
        }
        let bits = s.bits
        let f = Int(s.fanoutBits)
        // The version the exchange is anchored at: now for its first message.
        let anchor = s.inReplyTo == 0 ? version : header.stateVersion
        guard anchor <= version && (anchor == version || anchor >= catchupFloor) else {
            throw PodSyncError(Status.repairStale, "the exchange began at version \(anchor), which this store (at \(version), catch-up floor \(catchupFloor)) can no longer describe; start again with a new summary")
        }
        if s.mode == SummaryRecord.modeRequest {
            reconcileDiffering.removeAll()
            guard reconcileDiffering.reserve(reconcileBuckets.count) else { throw PodSyncError(Status.noMemory, "cannot allocate the buckets of a request") }
            for i in 0..<reconcileBuckets.count { reconcileDiffering.append(reconcileBuckets[i]) }
        } else {
            try differingBuckets(bits: bits, theirs: theirs)
        }
        if reconcileDiffering.count == 0 {
            // Every bucket named agrees. The same content under another version or stream still
            // gets a (one-bucket) repair, to bring the replica to this stream and version.
            let sameState = header.stateDigest == digest
            guard sameState && reconcileBuckets.count > 0,
                  header.streamID != streamID || header.term != term || (s.inReplyTo == 0 && header.stateVersion != version) else {
                outbox.clear()
                return 0
            }
            // One bucket's repair is all it takes: never a descent (its children agree too).
            reconcileDiffering.append(reconcileBuckets[0])
            try emitRepair(fanoutBits: s.fanoutBits, level: s.level, anchor: anchor, expectedDigest: header.stateDigest)
            return 1
        }
        let differing = reconcileDiffering.count
        if shouldDescend(bits: bits, fanoutBits: f, differing: differing, compared: reconcileBuckets.count) {
            try Store.children(of: reconcileDiffering.base, count: differing, fanoutBits: f, into: &reconcileBuckets)
            try bucketHashes(bits: bits &+ f, reconcileBuckets.base, count: reconcileBuckets.count)
            var record = SummaryRecord()
            record.fanoutBits = s.fanoutBits
            record.level = s.level &+ 1
            record.mode = SummaryRecord.modeResponderHashes
            record.summaryID = Store.newSummaryID()
            record.inReplyTo = s.summaryID
            try emitSummary(record, buckets: reconcileBuckets.base, count: reconcileBuckets.count, hashes: reconcileHashes.base,
                            stateVersion: anchor, digest: digest)
            return 1
        }
        try emitRepair(fanoutBits: s.fanoutBits, level: s.level, anchor: anchor, expectedDigest: header.stateDigest)
        return 1
    }

    /// The side being repaired: the responder's HASHES one level down.
    mutating func answerResponder(_ header: FrameHeader, _ s: SummaryRecord, theirs: UnsafeRawPointer) throws(PodSyncError) -> Int {
        let bits = s.bits
        let f = Int(s.fanoutBits)
        try differingBuckets(bits: bits, theirs: theirs)
        let differing = reconcileDiffering.count
        guard differing > 0 else {
            // The parents differed, the children do not: either side changed meanwhile. Start over.
            return try summary(level: 0)
        }
        var record = SummaryRecord()
        record.fanoutBits = s.fanoutBits
        record.summaryID = Store.newSummaryID()
        record.inReplyTo = s.summaryID
        if shouldDescend(bits: bits, fanoutBits: f, differing: differing, compared: reconcileBuckets.count) {
            try Store.children(of: reconcileDiffering.base, count: differing, fanoutBits: f, into: &reconcileBuckets)
            try bucketHashes(bits: bits &+ f, reconcileBuckets.base, count: reconcileBuckets.count)
            record.level = s.level &+ 1
            record.mode = SummaryRecord.modeHashes
            try emitSummary(record, buckets: reconcileBuckets.base, count: reconcileBuckets.count, hashes: reconcileHashes.base,
                            stateVersion: header.stateVersion, digest: digest)
        } else {
            record.level = s.level
            record.mode = SummaryRecord.modeRequest
            try emitSummary(record, buckets: reconcileDiffering.base, count: differing, hashes: nil,
                            stateVersion: header.stateVersion, digest: digest)
        }
        return 1
    }
}
