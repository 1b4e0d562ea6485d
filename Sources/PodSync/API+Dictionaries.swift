import CPodSync
import PodSyncCore

@c @implementation
public func podsync_store_collect_samples(_ store: OpaquePointer!, _ max_bytes: Int) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        guard max_bytes >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "max_bytes is negative") }
        try s.collectDictionarySamples(maxBytes: max_bytes)
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_train_dictionary(
    _ store: OpaquePointer!, _ max_size: Int, _ dict_id_out: UnsafeMutablePointer<UInt32>!
) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        guard max_size >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "max_size is negative") }
        let id = try s.trainDictionary(maxSize: max_size)
        dict_id_out?.pointee = id
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_load_dictionary(
    _ store: OpaquePointer!, _ dict: UnsafeRawPointer!, _ size: Int, _ dict_id_out: UnsafeMutablePointer<UInt32>!
) -> Int32 {
    withStore(store) { (s) throws(PodSyncError) in
        let bytes = try required(dict, "dict")
        guard size >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "size is negative") }
        let id = try s.loadDictionary(UnsafeRawBufferPointer(start: bytes, count: size))
        dict_id_out?.pointee = id
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_store_dictionary(
    _ store: OpaquePointer!, _ dict_out: UnsafeMutablePointer<UnsafeRawPointer?>!, _ size_out: UnsafeMutablePointer<Int>!,
    _ dict_id_out: UnsafeMutablePointer<UInt32>!
) -> Int32 {
    readStore(store) { (s) throws(PodSyncError) in
        let current = s.currentDictionary
        dict_out?.pointee = current?.bytes.baseAddress
        size_out?.pointee = current?.bytes.count ?? 0
        dict_id_out?.pointee = current?.id ?? 0
        return current == nil ? PODSYNC_NOT_FOUND : PODSYNC_OK
    }
}
