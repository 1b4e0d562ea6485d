import CPodSync
import PodSyncCore

@c @implementation
public func podsync_store_summary(_ store: OpaquePointer!, _ level: UInt32, _ frame_count_out: UnsafeMutablePointer<Int>!) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        let out = try required(frame_count_out, "frame_count_out")
        out.pointee = 0
        guard level <= 64 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "summary level \(level) is not 0 (automatic) or 1 to 5") }
        out.pointee = try s.summary(level: Int(level))
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_reconcile(
    _ store: OpaquePointer!, _ message: UnsafeRawPointer!, _ size: Int, _ frame_count_out: UnsafeMutablePointer<Int>!
) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        let out = try required(frame_count_out, "frame_count_out")
        out.pointee = 0
        let bytes = try required(message, "message")
        guard size >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "size is negative") }
        out.pointee = try s.reconcile(UnsafeRawBufferPointer(start: bytes, count: size))
        return PODSYNC_OK
    }
}
