import CPodSyncShims

/// Who owns the state: a writer produces frames, a replica applies them.
public enum Role: UInt32, Sendable {
    case writer = 1
    case replica = 2
}

/// Flush policy and retention (include/podsync.h, podsync_store_options). Zero limits mean none.
public struct StoreOptions: Sendable, Equatable {
    public var frameDigest = true
    public var manualClock = false
    public var streamID: UInt64 = 0
    public var maxBatchRecords: UInt64 = 65_536
    public var maxBatchBytes: UInt64 = 4 << 20
    public var maxBatchAgeMs: UInt64 = 50
    public var maxFrameBytes: UInt64 = 64 << 20
    public var tombstoneHorizon: UInt64 = 65_536
    /// Writer: zstd level for frames; 0 = never compress.
    public var compressionLevel: Int32 = 0
    /// Writer: transforms (FrameLayout.transform*) the encoder may use before compressing.
    public var transforms: UInt8 = FrameLayout.knownTransforms
    /// Replica: largest decoded payload of a compressed frame it accepts.
    public var maxDecodedBytes: UInt64 = 1 << 30
    /// Most live records, all tables together (0: only the per-table limit).
    public var maxRecords: UInt64 = 0
    /// Most deletions remembered for catch-up, all tables together (0: no limit).
    public var maxTombstones: UInt64 = 1 << 20
    /// Writer: the format (1 or 2) of frames that need no format-2 feature; chunks are format 2.
    public var frameFormat: UInt8 = 2
    /// Replica: an empty replica that follows no stream fills its tables with a snapshot's chunks
    /// as they arrive instead of staging them.
    public var fillInPlace = false
    /// Writer: rolling refresh, a slice of the whole state with every flush (0: off).
    public var refreshFlushes: UInt32 = 0
    /// Writer with refresh: a slice alone after this long without a frame (0: never).
    public var refreshMs: UInt64 = 0
    /// Replica: one-way link; out of sync, take newer absolute content key by key.
    public var oneWay = false

    public init() {}
}

/// The engine: the tables of a schema plus versioning, batching and the outbox.
///
/// Non-copyable so its hot state is mutated in place without runtime exclusivity checks; the C
/// boundary's handle class owns one.
public struct Store: ~Copyable {
    public let schema: Schema
    public let schemaHash: UInt64
    /// A replica becomes a writer when promoted.
    public internal(set) var role: Role
    public internal(set) var options: StoreOptions
    var tables: UnsafeMutablePointer<Table>
    public let tableCount: Int

    /// Version of the flushed (writer) or applied (replica) state.
    public internal(set) var version: UInt64 = 0
    /// State digest of that state.
    public internal(set) var digest: UInt64 = 0
    /// Writer: its stream. Replica: the stream it follows, once `bound`.
    public internal(set) var streamID: UInt64
    public internal(set) var bound: Bool
    /// Writer: frames produced. Replica: sequence of the last applied frame.
    public internal(set) var sequence: UInt64 = 0
    /// The oldest version `delta(since:)` can serve.
    public internal(set) var catchupFloor: UInt64 = 0
    /// Changes whenever borrowed record pointers may have become invalid.
    public internal(set) var generation: UInt64 = 0
    /// Replica: the last frame's digest disagreed; only a snapshot is accepted until it heals.
    public internal(set) var diverged = false
    /// The term this store writes (writer) or follows (replica); 0 before any promotion.
    public internal(set) var term: UInt64 = 0
    /// The TERM_HISTORY of `term` (empty for term 0).
    public internal(set) var history = TermHistory()
    /// A durable store's files (podsync_store_open), or nil.
    public internal(set) var files: DurableFiles? = nil
    /// Rebuilding from files: frames are applied whatever the role, and not logged again.
    var restoring = false

    var outbox = Outbox()
    // Scratch memory of the frame codec, reused from frame to frame.
    var codecScratch = FrameCodec.Scratch()
    var codecOutput = ByteBuffer()
    /// The same frame packed without COLUMNS, when that is tried (Codec/ColumnsChoice.swift).
    var codecOutputWithoutColumns = ByteBuffer()
    var columnsChoice = ColumnsChoice()
    /// Which byte columns compress, learned per table (COLUMNS transform).
    var columnAdvice = ColumnAdvice()
    /// Packed streams kept for training a dictionary, while collecting.
    var dictionarySamples: DictionarySamples? = nil
    var decodePacked = ByteBuffer()
    var decoded = ByteBuffer()
    var zstd = ZstdContexts()
    /// Counters for podsync_store_metrics.
    public internal(set) var metrics = Metrics()
    /// Writer: records written since the last flush (to count coalesced writes).
    var writesSinceFlush: UInt64 = 0
    var manualNow: UInt64 = 0
    var batchStartMs: UInt64 = 0
    /// Images of chunked snapshots in flight, kept at their version by copy-on-write.
    var images: [WeakImage] = []
    /// Replica: the chunked snapshot being staged.
    var staging: Staging? = nil
    /// Replica: chunk 0 of the snapshot whose later chunk came first (nothing staged).
    var wantedChunk: ChunkPosition? = nil
    /// Writer: where the rolling refresh continues.
    var refresh = RefreshCursor()
    /// Writer: the entries of the refresh slice being cut.
    var sliceScratch = RawVector<ChunkEntry>()
    /// One-way replica: out of sync, taking absolute content key by key (PODSYNC_REFRESHING).
    public internal(set) var refreshing = false
    /// One-way replica: keys a refresh slice removes.
    var removalScratch = RawVector<UInt64>()
    /// Replica: the keys the last apply changed, when tracking (Changes/).
    var changes: ChangeEvents
    /// Reconciliation scratch (Reconcile/): the buckets of a message, their hashes here, and the
    /// buckets found to differ.
    var reconcileBuckets = RawVector<UInt32>()
    var reconcileHashes = RawVector<UInt64>()
    var reconcileDiffering = RawVector<UInt32>()
    /// The part of the stream this store holds (a subscribed replica, or a feed); nil: all of it.
    public internal(set) var subscription: SubscriptionState? = nil
    /// Writer: the feeds that follow its flushes (Subscriptions/).
    var feeds: [FeedLink] = []
    /// A feed: what its writer's flushes left it (Subscriptions/); nil for other stores.
    var feedState: FeedState? = nil
    /// The last apply took a delta of the followed stream key by key (a relay's feeds then take
    /// its change events; after any other frame they are rebuilt).
    var appliedDelta = false
    /// Writer with feeds: one table's flushed changes with their seeds, computed once for all feeds.
    var feedRouting = FeedRouting()

    public init(schema: Schema, role: Role, options: StoreOptions = StoreOptions()) {
        self.schema = schema
        schemaHash = schema.hash
        self.role = role
        self.options = options
        tableCount = schema.tables.count
        tables = UnsafeMutablePointer<Table>.allocate(capacity: max(tableCount, 1))
        changes = ChangeEvents(tables: schema.tables.count)
        for (i, table) in schema.tables.enumerated() {
            (tables + i).initialize(to: Table(schema: table))
        }
        if !options.manualClock { refresh.lastFrameMs = podsync_monotonic_ms() }
        if role == .writer {
            var id = options.streamID
            while id == 0 { id = UInt64.random(in: 1...UInt64.max) }
            streamID = id
            bound = true
        } else {
            streamID = 0
            bound = false
        }
    }

    deinit {
        tables.deinitialize(count: tableCount)
        tables.deallocate()
    }

    // MARK: Lookups and checks

    @inline(__always)
    func tableIndex(_ id: UInt32) throws(PodSyncError) -> Int {
        guard let t = schema.tableIndex(of: id) else {
            throw PodSyncError(Status.unknownTable, "no table with id \(id) in the schema")
        }
        return t
    }

    @inline(__always)
    func requireWriter(_ operation: StaticString) throws(PodSyncError) {
        guard role == .writer else {
            throw PodSyncError(Status.wrongRole, "\(operation) is for writers; this store is a replica")
        }
    }

    @inline(__always)
    func checkRecordSize(_ t: Int, _ size: Int) throws(PodSyncError) {
        let expected = tables[t].recordSize
        guard size == expected else {
            throw PodSyncError(Status.recordSize, "table \(tables[t].schema.id) records are \(expected) bytes, got \(size)")
        }
    }

    // MARK: Reads

    /// The record under `key`, or nil.
    public func get(table id: UInt32, key: UInt64) throws(PodSyncError) -> UnsafeRawPointer? {
        let t = try tableIndex(id)
        let slot = tables[t].index.find(key)
        return slot == nilSlot ? nil : UnsafeRawPointer(tables[t].record(Int(slot)))
    }

    public func count(table id: UInt32) throws(PodSyncError) -> Int {
        tables[try tableIndex(id)].count
    }

    /// The live records as one contiguous array and the parallel keys.
    public func contents(table id: UInt32) throws(PodSyncError)
        -> (records: UnsafeRawPointer, keys: UnsafePointer<UInt64>, count: Int)
    {
        let t = try tableIndex(id)
        return (UnsafeRawPointer(tables[t].records.base), UnsafePointer(tables[t].keys.base), tables[t].count)
    }

    /// Changes (puts and deletes after coalescing) waiting for the next flush.
    public var pendingChanges: Int {
        var total = 0
        for t in 0..<tableCount { total += tables[t].pendingChanges }
        return total
    }

    var pendingBytes: Int {
        var total = 0
        for t in 0..<tableCount { total += tables[t].pendingBytes }
        return total
    }

    // MARK: Writes (writer)

    /// Inserts or replaces one record. Returns `Status.flushDue` when the batch reached a limit.
    public mutating func put(table id: UInt32, key: UInt64, record: UnsafeRawPointer, size: Int)
        throws(PodSyncError) -> Int32
    {
        try requireWriter("put")
        try refuseIfFeed("put")
        let t = try tableIndex(id)
        try checkRecordSize(t, size)
        let wasEmpty = pendingChanges == 0
        let slot = tables[t].index.find(key)
        try reserveWrites(table: t, count: 1) { slot == nilSlot ? 1 : 0 }
        tables[t].writerPut(key: key, record: record, slot: slot)
        writesSinceFlush &+= 1
        return afterWrite(wasEmpty: wasEmpty)
    }

    /// Inserts or replaces `count` records laid out contiguously.
    public mutating func putMany(
        table id: UInt32, keys: UnsafePointer<UInt64>, records: UnsafeRawPointer, count: Int, size: Int
    ) throws(PodSyncError) -> Int32 {
        try requireWriter("put_many")
        try refuseIfFeed("put_many")
        let t = try tableIndex(id)
        let (expected, overflow) = count.multipliedReportingOverflow(by: tables[t].recordSize)
        guard !overflow, size == expected else {
            throw PodSyncError(Status.recordSize, "\(count) records of table \(id) take \(count &* tables[t].recordSize) bytes, got \(size)")
        }
        let wasEmpty = pendingChanges == 0
        // Room for every new key, counted exactly only when "all are new" does not fit (loading
        // an empty table sizes everything once).
        let table = tables + t
        try reserveWrites(table: t, count: count) { table.pointee.absentKeys(count: count) { keys[$0] } }
        tables[t].writerPutMany(keys: keys, records: records, count: count)
        writesSinceFlush &+= UInt64(count)
        return afterWrite(wasEmpty: wasEmpty)
    }

    /// Deletes the record under `key`; returns `Status.notFound` if there is none.
    public mutating func delete(table id: UInt32, key: UInt64) throws(PodSyncError) -> Int32 {
        try requireWriter("delete")
        try refuseIfFeed("delete")
        let t = try tableIndex(id)
        let wasEmpty = pendingChanges == 0
        guard tables[t].index.find(key) != nilSlot else { return Status.notFound }
        try tables[t].reserveWrites(added: 0, changed: 1)
        guard tables[t].writerDelete(key: key) else { return Status.notFound }
        writesSinceFlush &+= 1
        return afterWrite(wasEmpty: wasEmpty)
    }

    /// Deletes the records under `keys`, skipping absent ones. Returns the status and how many went.
    public mutating func deleteMany(table id: UInt32, keys: UnsafePointer<UInt64>, count: Int)
        throws(PodSyncError) -> (status: Int32, deleted: Int)
    {
        try requireWriter("delete_many")
        try refuseIfFeed("delete_many")
        let t = try tableIndex(id)
        let wasEmpty = pendingChanges == 0
        try tables[t].reserveWrites(added: 0, changed: count)
        var deleted = 0
        for i in 0..<count where tables[t].writerDelete(key: keys[i]) { deleted += 1 }
        writesSinceFlush &+= UInt64(deleted)
        return (deleted > 0 ? afterWrite(wasEmpty: wasEmpty) : flushDue(), deleted)
    }

    mutating func afterWrite(wasEmpty: Bool) -> Int32 {
        generation &+= 1
        if wasEmpty && pendingChanges > 0 { batchStartMs = now() }
        return flushDue()
    }

    // MARK: Flush policy

    func now() -> UInt64 { options.manualClock ? manualNow : podsync_monotonic_ms() }

    public mutating func setTime(_ milliseconds: UInt64) throws(PodSyncError) {
        try requireWriter("set_time")
        manualNow = milliseconds
    }

    /// `Status.flushDue` if the pending batch reached a limit of the policy, else `Status.ok`.
    public func flushDue() -> Int32 {
        files?.syncIfDue()
        let pending = pendingChanges
        // A feed is due as soon as its writer's flushes changed something in it.
        if feedState != nil { return pending > 0 ? Status.flushDue : Status.ok }
        guard pending > 0 else { return refreshDue ? Status.flushDue : Status.ok }
        if options.maxBatchRecords != 0 && UInt64(pending) >= options.maxBatchRecords { return Status.flushDue }
        if options.maxBatchBytes != 0 && UInt64(pendingBytes) >= options.maxBatchBytes { return Status.flushDue }
        if options.maxBatchAgeMs != 0 {
            let t = now()
            if t >= batchStartMs && t - batchStartMs >= options.maxBatchAgeMs { return Status.flushDue }
        }
        // A rolling refresh that has waited refresh_ms is due whatever the batch holds.
        return refreshDue ? Status.flushDue : Status.ok
    }

    // MARK: Outbox

    public var frameCount: Int { outbox.frames.count }

    /// Borrowed bytes of outbox frame `index`, valid until the next flush, delta or snapshot.
    public func frame(_ index: Int) -> UnsafeRawBufferPointer? { outbox.frame(index) }
}

extension Store {
    /// Throws `Status.wrongRole` unless this store is a writer.
    public func requireWriterRole() throws(PodSyncError) { try requireWriter("this call") }
}
