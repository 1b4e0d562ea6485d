import CPodSync
import PodSyncCore

@c @implementation
public func podsync_store_put(
    _ store: OpaquePointer!, _ table_id: UInt32, _ key: UInt64, _ record: UnsafeRawPointer!, _ record_size: Int
) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        try s.put(table: table_id, key: key, record: try required(record, "record"), size: record_size)
    }
}

@c @implementation
public func podsync_store_put_many(
    _ store: OpaquePointer!, _ table_id: UInt32, _ keys: UnsafePointer<UInt64>!, _ records: UnsafeRawPointer!,
    _ count: Int, _ records_size: Int
) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        guard count >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "count is negative") }
        let keyList = try array(keys, count: count, "keys")
        let recordBytes = try array(records.map { $0.assumingMemoryBound(to: UInt8.self) }, count: count, "records")
        return try s.putMany(table: table_id, keys: keyList, records: UnsafeRawPointer(recordBytes), count: count, size: records_size)
    }
}

@c @implementation
public func podsync_store_delete(_ store: OpaquePointer!, _ table_id: UInt32, _ key: UInt64) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in try s.delete(table: table_id, key: key) }
}

@c @implementation
public func podsync_store_delete_many(
    _ store: OpaquePointer!, _ table_id: UInt32, _ keys: UnsafePointer<UInt64>!, _ count: Int,
    _ deleted_out: UnsafeMutablePointer<Int>!
) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        guard count >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "count is negative") }
        let (status, deleted) = try s.deleteMany(table: table_id, keys: try array(keys, count: count, "keys"), count: count)
        deleted_out?.pointee = deleted
        return status
    }
}

@c @implementation
public func podsync_store_set_time(_ store: OpaquePointer!, _ now_ms: UInt64) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        try s.setTime(now_ms)
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_flush_due(_ store: OpaquePointer!) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        try s.requireWriterRole()
        return s.flushDue()
    }
}
