import CPodSync
import PodSyncCore

/// Boxed behind `podsync_snapshot *`: a stream of chunks and the store it reads (kept alive).
final class SnapshotHandle {
    let owner: StoreHandle
    var stream: SnapshotStream
    var message = ErrorMessage()
    init(owner: StoreHandle, stream: consuming SnapshotStream) {
        self.owner = owner
        self.stream = stream
    }
}

func chunkBytes(_ size: Int) throws(PodSyncError) -> Int {
    guard size >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "max_chunk_bytes is negative") }
    return size
}

@c @implementation
public func podsync_snapshot_begin(_ store: OpaquePointer!, _ max_chunk_bytes: Int, _ out: UnsafeMutablePointer<OpaquePointer?>!) -> Int32 {
    guard let out else { return nullHandle("out") }
    out.pointee = nil
    guard let store else { return nullHandle("store") }
    let owner = store.object(StoreHandle.self)
    return withStore(store) { (s) throws(PodSyncError) in
        let stream = try s.beginSnapshot(maxChunkBytes: try chunkBytes(max_chunk_bytes))
        out.pointee = box(SnapshotHandle(owner: owner, stream: stream))
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_snapshot_resume(
    _ store: OpaquePointer!, _ position: UnsafePointer<podsync_chunk_position>!, _ max_chunk_bytes: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>!
) -> Int32 {
    guard let out else { return nullHandle("out") }
    out.pointee = nil
    guard let store else { return nullHandle("store") }
    let owner = store.object(StoreHandle.self)
    return withStore(store) { (s) throws(PodSyncError) in
        let p = try required(position, "position").pointee
        guard p.version >= 1 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "position.version must be PODSYNC_CHUNK_POSITION_VERSION") }
        guard p.base_version == 0 else {
            throw PodSyncError(PODSYNC_E_SNAPSHOT_EXPIRED, "position of a chunked delta (base version \(p.base_version)): a delta is not resumed; ask for delta_since again")
        }
        let stream = try s.resumeSnapshot(
            id: p.snapshot_id, streamID: p.stream_id, stateVersion: p.state_version, chunkIndex: p.chunk_index,
            startTable: p.start_table, startKey: p.start_key, maxChunkBytes: try chunkBytes(max_chunk_bytes))
        guard stream.image.term == p.term else {
            throw PodSyncError(PODSYNC_E_SNAPSHOT_EXPIRED, "snapshot of term \(p.term) asked of a store in term \(stream.image.term)")
        }
        out.pointee = box(SnapshotHandle(owner: owner, stream: stream))
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_snapshot_next(
    _ snapshot: OpaquePointer!, _ data_out: UnsafeMutablePointer<UnsafePointer<UInt8>?>!, _ size_out: UnsafeMutablePointer<Int>!
) -> Int32 {
    guard let snapshot else { return nullHandle("snapshot") }
    let handle = snapshot.object(SnapshotHandle.self)
    do {
        let data = try required(data_out, "data_out")
        let size = try required(size_out, "size_out")
        data.pointee = nil
        size.pointee = 0
        guard let chunk = try handle.owner.store.nextChunk(&handle.stream) else { return PODSYNC_DONE }
        data.pointee = chunk.baseAddress?.assumingMemoryBound(to: UInt8.self)
        size.pointee = chunk.count
        return PODSYNC_OK
    } catch {
        handle.message.set(error.message)
        return lastError(error.code, error.message)
    }
}

func fill(_ out: UnsafeMutablePointer<podsync_chunk_position>, _ p: Store.ChunkPosition) {
    out.pointee.start_table = p.startTable
    out.pointee.stream_id = p.streamID
    out.pointee.term = p.term
    out.pointee.snapshot_id = p.snapshotID
    out.pointee.state_version = p.stateVersion
    out.pointee.chunk_index = p.chunkIndex
    out.pointee.start_key = p.startKey
    out.pointee.base_version = p.baseVersion
}

@c @implementation
public func podsync_snapshot_position(_ snapshot: OpaquePointer!, _ position: UnsafeMutablePointer<podsync_chunk_position>!) -> Int32 {
    guard let snapshot else { return nullHandle("snapshot") }
    let handle = snapshot.object(SnapshotHandle.self)
    guard let position else { return nullHandle("position") }
    guard position.pointee.version >= 1 else {
        return lastError(PODSYNC_E_INVALID_ARGUMENT, "position.version must be PODSYNC_CHUNK_POSITION_VERSION")
    }
    fill(position, handle.owner.store.position(of: handle.stream))
    return PODSYNC_OK
}

@c @implementation
public func podsync_snapshot_errmsg(_ snapshot: OpaquePointer!) -> UnsafePointer<CChar>! {
    guard let snapshot else { return podsync_status_name(PODSYNC_E_INVALID_ARGUMENT) }
    return snapshot.object(SnapshotHandle.self).message.pointer
}

@c @implementation
public func podsync_snapshot_free(_ snapshot: OpaquePointer!) {
    release(snapshot, as: SnapshotHandle.self)
}

@c @implementation
public func podsync_store_staging(_ store: OpaquePointer!, _ position: UnsafeMutablePointer<podsync_chunk_position>!) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let out = try required(position, "position")
        guard out.pointee.version >= 1 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "position.version must be PODSYNC_CHUNK_POSITION_VERSION")
        }
        guard let p = s.stagingPosition else { return PODSYNC_NOT_FOUND }
        fill(out, p)
        return PODSYNC_OK
    }
}
