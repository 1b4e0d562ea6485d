import CPodSync
import CPodSyncShims
import PodSyncCore

@c @implementation
public func podsync_version_number() -> UInt32 {
    UInt32(PODSYNC_VERSION_MAJOR * 10000 + PODSYNC_VERSION_MINOR * 100 + PODSYNC_VERSION_PATCH)
}

@c @implementation
public func podsync_abi_version() -> UInt32 { UInt32(PODSYNC_ABI_VERSION) }

@c @implementation
public func podsync_last_errmsg() -> UnsafePointer<CChar>! {
    podsyncinternal_last_error()
}

@c @implementation
public func podsync_status_name(_ status: Int32) -> UnsafePointer<CChar>! {
    let name = Status.name(status)
    // String literals live in the binary's constant data: the pointer is static.
    return UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}
