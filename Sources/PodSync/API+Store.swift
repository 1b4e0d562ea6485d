import CPodSync
import CZstd
import PodSyncCore

let knownOptionFlags = UInt32(PODSYNC_OPT_FRAME_DIGEST | PODSYNC_OPT_MANUAL_CLOCK | PODSYNC_OPT_FILL_IN_PLACE | PODSYNC_OPT_ONE_WAY)

/// Size of a podsync_store_options of each struct version (fields are only appended).
func storeOptionsSize(_ version: UInt32) -> Int {
    switch version {
    case 1: 56  // before the compression fields
    case 2: 72  // before the limits
    case 3: 88  // before the frame format
    default: MemoryLayout<podsync_store_options>.size
    }
}

@c @implementation
public func podsync_store_options_init(_ options: UnsafeMutablePointer<podsync_store_options>!, _ version: UInt32) -> Int32 {
    guard let options else { return nullHandle("options") }
    guard version >= 1, version <= UInt32(PODSYNC_STORE_OPTIONS_VERSION) else {
        return lastError(PODSYNC_E_INVALID_ARGUMENT, "options version \(version) is not 1...\(PODSYNC_STORE_OPTIONS_VERSION)")
    }
    let d = StoreOptions()
    var full = podsync_store_options(
        version: version, flags: UInt32(PODSYNC_OPT_FRAME_DIGEST), stream_id: 0,
        max_batch_records: d.maxBatchRecords, max_batch_bytes: d.maxBatchBytes,
        max_batch_age_ms: d.maxBatchAgeMs, max_frame_bytes: d.maxFrameBytes,
        tombstone_horizon: d.tombstoneHorizon, compression_level: d.compressionLevel,
        transforms: UInt32(d.transforms), max_decoded_bytes: d.maxDecodedBytes,
        max_records: d.maxRecords, max_tombstones: d.maxTombstones, frame_format: UInt32(d.frameFormat),
        refresh_flushes: d.refreshFlushes, refresh_ms: d.refreshMs)
    // An older caller's struct ends before the fields appended since: write only what it has.
    let size = storeOptionsSize(version)
    withUnsafeBytes(of: &full) { UnsafeMutableRawPointer(options).copyMemory(from: $0.baseAddress!, byteCount: size) }
    return PODSYNC_OK
}

/// Converts the caller's options (NULL = defaults), rejecting versions, flags and values this
/// library does not know. A version-1 struct is read only as far as it goes.
func storeOptions(_ pointer: UnsafePointer<podsync_store_options>?) throws(PodSyncError) -> StoreOptions {
    var result = StoreOptions()
    guard let pointer else { return result }
    let version = UnsafeRawPointer(pointer).load(as: UInt32.self)
    guard version >= 1 && version <= UInt32(PODSYNC_STORE_OPTIONS_VERSION) else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "options version \(version) is not 1...\(PODSYNC_STORE_OPTIONS_VERSION)")
    }
    var o = podsync_store_options()
    let size = storeOptionsSize(version)
    withUnsafeMutableBytes(of: &o) { $0.baseAddress!.copyMemory(from: UnsafeRawPointer(pointer), byteCount: size) }
    guard o.flags & ~knownOptionFlags == 0 else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "unknown option flags 0x\(String(o.flags & ~knownOptionFlags, radix: 16))")
    }
    result.frameDigest = o.flags & UInt32(PODSYNC_OPT_FRAME_DIGEST) != 0
    result.manualClock = o.flags & UInt32(PODSYNC_OPT_MANUAL_CLOCK) != 0
    result.fillInPlace = o.flags & UInt32(PODSYNC_OPT_FILL_IN_PLACE) != 0
    result.oneWay = o.flags & UInt32(PODSYNC_OPT_ONE_WAY) != 0
    result.streamID = o.stream_id
    result.maxBatchRecords = o.max_batch_records
    result.maxBatchBytes = o.max_batch_bytes
    result.maxBatchAgeMs = o.max_batch_age_ms
    result.maxFrameBytes = o.max_frame_bytes
    result.tombstoneHorizon = o.tombstone_horizon
    if version >= 2 {
        guard o.compression_level == 0 || (o.compression_level >= Int32(ZSTD_minCLevel()) && o.compression_level <= Int32(ZSTD_maxCLevel())) else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "compression level \(o.compression_level) is outside \(ZSTD_minCLevel())...\(ZSTD_maxCLevel())")
        }
        guard o.transforms & ~UInt32(PODSYNC_TRANSFORM_ALL) == 0 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "unknown transform bits 0x\(String(o.transforms, radix: 16))")
        }
        result.compressionLevel = o.compression_level
        result.transforms = UInt8(o.transforms)
        if o.max_decoded_bytes != 0 { result.maxDecodedBytes = o.max_decoded_bytes }
    }
    if version >= 3 {
        result.maxRecords = o.max_records
        result.maxTombstones = o.max_tombstones
    }
    // Structs older than version 4 have no frame_format: their writers keep format 1.
    result.frameFormat = 1
    if version >= 4 {
        guard o.frame_format <= 2 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "frame format \(o.frame_format) is not 0, 1 or 2")
        }
        result.frameFormat = o.frame_format == 0 ? 2 : UInt8(o.frame_format)
        result.refreshFlushes = o.refresh_flushes
        result.refreshMs = o.refresh_ms
    }
    return result
}

@c @implementation
public func podsync_store_create(
    _ schema: OpaquePointer!, _ role: UInt32, _ options: UnsafePointer<podsync_store_options>!,
    _ out: UnsafeMutablePointer<OpaquePointer?>!
) -> Int32 {
    guard let out else { return nullHandle("out") }
    out.pointee = nil
    return withSchema(schema) { (box) throws(PodSyncError) in
        guard let role = Role(rawValue: role) else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "role \(role) is neither PODSYNC_ROLE_WRITER nor PODSYNC_ROLE_REPLICA")
        }
        let settings = try storeOptions(options)
        out.pointee = PodSync.box(StoreHandle(Store(schema: box.schema, role: role, options: settings)))
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_free(_ store: OpaquePointer!) {
    // The last host reference to a feed detaches it from its writer (which holds one more).
    if let store, case let box = store.object(StoreHandle.self), box.feedReferences > 0 {
        box.feedReferences -= 1
        if box.feedReferences == 0, let hash = box.store.subscription?.hash { box.parent?.store.detachFeed(hash: hash) }
    }
    release(store, as: StoreHandle.self)
}

@c @implementation
public func podsync_store_errmsg(_ store: OpaquePointer!) -> UnsafePointer<CChar>! {
    guard let store else { return podsync_status_name(PODSYNC_E_INVALID_ARGUMENT) }
    return store.object(StoreHandle.self).message.pointer
}

@c @implementation
public func podsync_store_info_get(_ store: OpaquePointer!, _ info: UnsafeMutablePointer<podsync_store_info>!) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let info = try required(info, "info")
        // Later struct versions only append fields, so any version >= 1 has room for these.
        guard info.pointee.version >= 1 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "info.version must be PODSYNC_STORE_INFO_VERSION")
        }
        info.pointee.role = s.role.rawValue
        info.pointee.schema_hash = s.schemaHash
        info.pointee.stream_id = s.bound ? s.streamID : 0
        info.pointee.state_version = s.version
        info.pointee.sequence = s.sequence
        info.pointee.digest = s.digest
        info.pointee.catchup_floor = s.catchupFloor
        info.pointee.pending_changes = UInt64(s.pendingChanges)
        info.pointee.generation = s.generation
        info.pointee.diverged = s.diverged ? 1 : 0
        info.pointee.table_count = UInt32(s.tableCount)
        if info.pointee.version >= 2 {  // fields a version-1 struct does not have
            info.pointee.refreshing = s.refreshing ? 1 : 0
            info.pointee.reserved = 0
        }
        if info.pointee.version >= 3 {
            info.pointee.term = s.term
            info.pointee.durable_version = s.files?.durableVersion ?? 0
            info.pointee.log_bytes = s.files?.logBytes ?? 0
            info.pointee.durable = s.files == nil ? 0 : 1
            info.pointee.log_failed = s.files?.logFailed == true ? 1 : 0
        }
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_digest(_ store: OpaquePointer!, _ digest_out: UnsafeMutablePointer<UInt64>!) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        try required(digest_out, "digest_out").pointee = s.digest
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_metrics(_ store: OpaquePointer!, _ metrics: UnsafeMutablePointer<podsync_metrics>!) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let out = try required(metrics, "metrics")
        guard out.pointee.version >= 1 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "metrics.version must be PODSYNC_METRICS_VERSION")
        }
        let m = s.metrics
        out.pointee.reserved = 0
        out.pointee.frames_out = m.framesOut
        out.pointee.records_out = m.recordsOut
        out.pointee.raw_bytes_out = m.rawBytesOut
        out.pointee.wire_bytes_out = m.wireBytesOut
        out.pointee.saved_by_key_gaps = m.savedByKeyGaps
        out.pointee.saved_by_compression = m.savedByCompression
        out.pointee.compressed_frames = m.compressedFrames
        out.pointee.writes = m.writes
        out.pointee.coalesced_writes = m.coalescedWrites
        out.pointee.frames_applied = m.framesApplied
        out.pointee.records_applied = m.recordsApplied
        out.pointee.wire_bytes_in = m.wireBytesIn
        out.pointee.duplicates = m.duplicates
        out.pointee.gaps = m.gaps
        out.pointee.stale = m.stale
        out.pointee.resyncs = m.resyncs
        // The C arrays are imported as tuples: copy through their bytes.
        withUnsafeMutableBytes(of: &out.pointee.rejects) { raw in
            m.rejects.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        withUnsafeMutableBytes(of: &out.pointee.encode_ns) { raw in
            m.encodeNs.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        withUnsafeMutableBytes(of: &out.pointee.apply_ns) { raw in
            m.applyNs.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        if out.pointee.version >= 2 {  // fields a version-1 struct does not have
            out.pointee.saved_by_zero_columns = m.savedByZeroColumns
            out.pointee.raw_column_bytes = m.rawColumnBytes
            out.pointee.column_trials = m.columnTrials
            out.pointee.dictionary_frames = m.dictionaryFrames
        }
        if out.pointee.version >= 3 {
            out.pointee.chunks_out = m.chunksOut
            out.pointee.snapshot_bytes_held = UInt64(s.snapshotBytesHeld)
            out.pointee.chunks_staged = m.chunksStaged
            out.pointee.chunk_gaps = m.chunkGaps
            out.pointee.staging_bytes_held = UInt64(s.stagingBytesHeld)
        }
        return PODSYNC_OK
    }
}
