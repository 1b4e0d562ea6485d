import CPodSync
import PodSyncCore

@c @implementation
public func podsync_store_track_changes(_ store: OpaquePointer!, _ enabled: UInt32) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        guard enabled <= 1 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "enabled must be 0 or 1, not \(enabled)") }
        try s.trackChanges(enabled == 1)
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_changes(
    _ store: OpaquePointer!, _ table_id: UInt32,
    _ upserted_out: UnsafeMutablePointer<UnsafePointer<UInt64>?>!, _ upserted_count_out: UnsafeMutablePointer<Int>!,
    _ deleted_out: UnsafeMutablePointer<UnsafePointer<UInt64>?>!, _ deleted_count_out: UnsafeMutablePointer<Int>!,
    _ flags_out: UnsafeMutablePointer<UInt32>!
) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let upserted = try required(upserted_out, "upserted_out")
        let upsertedCount = try required(upserted_count_out, "upserted_count_out")
        let deleted = try required(deleted_out, "deleted_out")
        let deletedCount = try required(deleted_count_out, "deleted_count_out")
        let c = try s.changedKeys(table: table_id)
        upserted.pointee = c.upserted.baseAddress
        upsertedCount.pointee = c.upserted.count
        deleted.pointee = c.deleted.baseAddress
        deletedCount.pointee = c.deleted.count
        if let flags_out {
            flags_out.pointee = (c.replaced ? PODSYNC_CHANGES_REPLACED : 0) | (c.complete ? 0 : PODSYNC_CHANGES_INCOMPLETE)
        }
        return PODSYNC_OK
    }
}
