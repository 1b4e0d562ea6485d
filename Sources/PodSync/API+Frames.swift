import CPodSync
import PodSyncCore

@c @implementation
public func podsync_store_flush(_ store: OpaquePointer!, _ frame_count_out: UnsafeMutablePointer<Int>!) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        let out = try required(frame_count_out, "frame_count_out")
        out.pointee = try s.flush()
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_delta_since(
    _ store: OpaquePointer!, _ since_version: UInt64, _ frame_count_out: UnsafeMutablePointer<Int>!
) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        let out = try required(frame_count_out, "frame_count_out")
        let status = try s.delta(since: since_version)
        out.pointee = s.frameCount
        return status
    }
}

@c @implementation
public func podsync_store_snapshot(_ store: OpaquePointer!, _ frame_count_out: UnsafeMutablePointer<Int>!) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        let out = try required(frame_count_out, "frame_count_out")
        let status = try s.snapshot()
        out.pointee = s.frameCount
        return status
    }
}

@c @implementation
public func podsync_store_frame(
    _ store: OpaquePointer!, _ index: Int, _ data_out: UnsafeMutablePointer<UnsafePointer<UInt8>?>!,
    _ size_out: UnsafeMutablePointer<Int>!
) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let data = try required(data_out, "data_out")
        let size = try required(size_out, "size_out")
        guard let frame = s.frame(index) else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "frame index \(index) is not below the outbox's \(s.frameCount) frames")
        }
        data.pointee = frame.baseAddress!.assumingMemoryBound(to: UInt8.self)
        size.pointee = frame.count
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_apply(
    _ store: OpaquePointer!, _ frame: UnsafeRawPointer!, _ size: Int, _ version_out: UnsafeMutablePointer<UInt64>!
) -> Int32 {
    guard let store else { return nullHandle("store") }
    let status = withStore(store) { (s) throws(PodSyncError) in
        let bytes = try required(frame, "frame")
        guard size >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "size is negative") }
        return try s.apply(UnsafeRawBufferPointer(start: bytes, count: size))
    }
    version_out?.pointee = store.object(StoreHandle.self).store.version
    return status
}
