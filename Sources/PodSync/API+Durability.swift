import CPodSync
import PodSyncCore

/// Boxed behind `podsync_checkpoint *`: a checkpoint being written and the store it reads.
final class CheckpointHandle {
    let owner: StoreHandle
    let writer: CheckpointWriter
    var message = ErrorMessage()
    init(owner: StoreHandle, writer: CheckpointWriter) {
        self.owner = owner
        self.writer = writer
    }
}

/// Reads the caller's durability options (NULL: defaults).
func durabilityOptions(_ pointer: UnsafePointer<podsync_durability_options>?) throws(PodSyncError) -> DurabilityOptions {
    var result = DurabilityOptions()
    guard let pointer else { return result }
    let o = pointer.pointee
    guard o.version >= 1 else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "durability.version must be PODSYNC_DURABILITY_OPTIONS_VERSION")
    }
    guard let policy = LogPolicy(rawValue: o.log_policy) else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "log_policy \(o.log_policy) is not a PODSYNC_LOG_* value")
    }
    guard o.keep_checkpoints >= 1 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "keep_checkpoints must be at least 1") }
    guard o.keep_checkpoints <= 1024 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "keep_checkpoints \(o.keep_checkpoints) is above 1024") }
    guard o.flags == 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "durability.flags must be 0") }
    result.logPolicy = policy
    result.syncIntervalMs = o.sync_interval_ms
    result.newTerm = o.new_term
    result.keepCheckpoints = Int(o.keep_checkpoints)
    return result
}

@c @implementation
public func podsync_durability_options_init(_ options: UnsafeMutablePointer<podsync_durability_options>!, _ version: UInt32) -> Int32 {
    guard let options else { return nullHandle("options") }
    guard version == UInt32(PODSYNC_DURABILITY_OPTIONS_VERSION) else {
        return lastError(PODSYNC_E_INVALID_ARGUMENT, "durability options version \(version) is not PODSYNC_DURABILITY_OPTIONS_VERSION (\(PODSYNC_DURABILITY_OPTIONS_VERSION))")
    }
    let defaults = DurabilityOptions()
    options.pointee = podsync_durability_options(
        version: version, log_policy: defaults.logPolicy.rawValue, sync_interval_ms: defaults.syncIntervalMs,
        new_term: defaults.newTerm, keep_checkpoints: UInt32(defaults.keepCheckpoints), flags: 0)
    return PODSYNC_OK
}

@c @implementation
public func podsync_store_open(
    _ directory: UnsafePointer<CChar>!, _ schema: OpaquePointer!, _ role: UInt32, _ options: UnsafePointer<podsync_store_options>!,
    _ durability: UnsafePointer<podsync_durability_options>!, _ info: UnsafeMutablePointer<podsync_open_info>!,
    _ out: UnsafeMutablePointer<OpaquePointer?>!
) -> Int32 {
    guard let out else { return nullHandle("out") }
    out.pointee = nil
    guard let directory else { return nullHandle("directory") }
    // A path is a C string: bounded by PATH_MAX so a missing NUL cannot run away.
    var length = 0
    while length < 4096 && directory[length] != 0 { length += 1 }
    guard length < 4096 else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "directory is longer than 4095 bytes or not NUL-terminated") }
    if let info, info.pointee.version < 1 {
        return lastError(PODSYNC_E_INVALID_ARGUMENT, "info.version must be PODSYNC_OPEN_INFO_VERSION")
    }
    do throws(PodSyncError) {
        let path = String(decoding: UnsafeRawBufferPointer(start: directory, count: length), as: UTF8.self)
        var given: Schema? = nil
        if let schema { given = schema.object(SchemaHandle.self).schema }
        var wanted: Role? = nil
        if role != 0 {
            guard let r = Role(rawValue: role) else {
                throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "role \(role) is neither 0, PODSYNC_ROLE_WRITER nor PODSYNC_ROLE_REPLICA")
            }
            wanted = r
        }
        let settings = try storeOptions(options)
        let durable = try durabilityOptions(durability)
        var found = OpenInfo()
        let store = try Store.open(directory: path, schema: given, role: wanted, options: settings, durability: durable, info: &found)
        if let info {
            info.pointee.flags = (found.created ? UInt32(PODSYNC_OPENED_CREATED) : 0) | (found.newTerm ? UInt32(PODSYNC_OPENED_NEW_TERM) : 0)
                | (found.fallback ? UInt32(PODSYNC_OPENED_FALLBACK) : 0)
            info.pointee.checkpoint_version = found.checkpointVersion
            info.pointee.restored_version = found.restoredVersion
            info.pointee.log_frames = found.logFrames
            info.pointee.dropped_bytes = found.droppedBytes
            info.pointee.term = found.term
            info.pointee.skipped_status = found.skippedStatus
            info.pointee.reserved = 0
        }
        out.pointee = box(StoreHandle(store))
        return PODSYNC_OK
    } catch {
        return lastError(error.code, error.message)
    }
}

@c @implementation
public func podsync_store_checkpoint(_ store: OpaquePointer!) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        try s.checkpoint()
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_checkpoint_begin(_ store: OpaquePointer!, _ out: UnsafeMutablePointer<OpaquePointer?>!) -> Int32 {
    guard let out else { return nullHandle("out") }
    out.pointee = nil
    guard let store else { return nullHandle("store") }
    let owner = store.object(StoreHandle.self)
    return withStore(store) { (s) throws(PodSyncError) in
        let writer = try s.beginCheckpoint()
        out.pointee = box(CheckpointHandle(owner: owner, writer: writer))
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_checkpoint_step(_ checkpoint: OpaquePointer!, _ max_bytes: Int) -> Int32 {
    guard let checkpoint else { return nullHandle("checkpoint") }
    let handle = checkpoint.object(CheckpointHandle.self)
    do throws(PodSyncError) {
        // size_t: a value past Int.max is "everything", as 0 is.
        let done = try handle.owner.store.stepCheckpoint(handle.writer, maxBytes: max_bytes < 0 ? 0 : max_bytes)
        return done ? PODSYNC_DONE : PODSYNC_OK
    } catch {
        handle.message.set(error.message)
        return lastError(error.code, error.message)
    }
}

@c @implementation
public func podsync_checkpoint_errmsg(_ checkpoint: OpaquePointer!) -> UnsafePointer<CChar>! {
    guard let checkpoint else { return podsync_status_name(PODSYNC_E_INVALID_ARGUMENT) }
    return checkpoint.object(CheckpointHandle.self).message.pointer
}

@c @implementation
public func podsync_checkpoint_free(_ checkpoint: OpaquePointer!) {
    guard let checkpoint else { return }
    checkpoint.object(CheckpointHandle.self).writer.abandon()
    release(checkpoint, as: CheckpointHandle.self)
}

@c @implementation
public func podsync_store_sync(_ store: OpaquePointer!) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        try s.syncLog()
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_promote(_ store: OpaquePointer!, _ new_term: UInt64) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        try s.promote(to: new_term)
        return PODSYNC_OK
    }
}
