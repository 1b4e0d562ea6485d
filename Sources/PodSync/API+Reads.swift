import CPodSync
import PodSyncCore

@c @implementation
public func podsync_store_get(
    _ store: OpaquePointer!, _ table_id: UInt32, _ key: UInt64, _ record_out: UnsafeMutablePointer<UnsafeRawPointer?>!
) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let out = try required(record_out, "record_out")
        let record = try s.get(table: table_id, key: key)
        out.pointee = record
        return record == nil ? PODSYNC_NOT_FOUND : PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_count(_ store: OpaquePointer!, _ table_id: UInt32, _ count_out: UnsafeMutablePointer<Int>!) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let out = try required(count_out, "count_out")
        out.pointee = try s.count(table: table_id)
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_table(
    _ store: OpaquePointer!, _ table_id: UInt32, _ records_out: UnsafeMutablePointer<UnsafeRawPointer?>!,
    _ keys_out: UnsafeMutablePointer<UnsafePointer<UInt64>?>!, _ count_out: UnsafeMutablePointer<Int>!
) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let records = try required(records_out, "records_out")
        let keys = try required(keys_out, "keys_out")
        let count = try required(count_out, "count_out")
        let contents = try s.contents(table: table_id)
        records.pointee = contents.records
        keys.pointee = contents.keys
        count.pointee = contents.count
        return PODSYNC_OK
    }
}
