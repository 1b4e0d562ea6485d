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
    let name: StaticString =
        switch status {
        case PODSYNC_OK: "PODSYNC_OK"
        case PODSYNC_FLUSH_DUE: "PODSYNC_FLUSH_DUE"
        case PODSYNC_NOT_FOUND: "PODSYNC_NOT_FOUND"
        case PODSYNC_DUPLICATE: "PODSYNC_DUPLICATE"
        case PODSYNC_GAP: "PODSYNC_GAP"
        case PODSYNC_STALE: "PODSYNC_STALE"
        case PODSYNC_SNAPSHOT_REQUIRED: "PODSYNC_SNAPSHOT_REQUIRED"
        case PODSYNC_E_INVALID_ARGUMENT: "PODSYNC_E_INVALID_ARGUMENT"
        case PODSYNC_E_UNKNOWN_TABLE: "PODSYNC_E_UNKNOWN_TABLE"
        case PODSYNC_E_RECORD_SIZE: "PODSYNC_E_RECORD_SIZE"
        case PODSYNC_E_BUFFER_TOO_SMALL: "PODSYNC_E_BUFFER_TOO_SMALL"
        case PODSYNC_E_NO_MEMORY: "PODSYNC_E_NO_MEMORY"
        case PODSYNC_E_WRONG_ROLE: "PODSYNC_E_WRONG_ROLE"
        case PODSYNC_E_SCHEMA_INVALID: "PODSYNC_E_SCHEMA_INVALID"
        case PODSYNC_E_FRAME_TRUNCATED: "PODSYNC_E_FRAME_TRUNCATED"
        case PODSYNC_E_FRAME_MAGIC: "PODSYNC_E_FRAME_MAGIC"
        case PODSYNC_E_FRAME_VERSION: "PODSYNC_E_FRAME_VERSION"
        case PODSYNC_E_FRAME_CHECKSUM: "PODSYNC_E_FRAME_CHECKSUM"
        case PODSYNC_E_FRAME_MALFORMED: "PODSYNC_E_FRAME_MALFORMED"
        case PODSYNC_E_SCHEMA_MISMATCH: "PODSYNC_E_SCHEMA_MISMATCH"
        case PODSYNC_E_STREAM_MISMATCH: "PODSYNC_E_STREAM_MISMATCH"
        case PODSYNC_E_UNSUPPORTED_CODEC: "PODSYNC_E_UNSUPPORTED_CODEC"
        case PODSYNC_E_DIGEST_MISMATCH: "PODSYNC_E_DIGEST_MISMATCH"
        case PODSYNC_E_DIVERGED: "PODSYNC_E_DIVERGED"
        case PODSYNC_E_VERSION_AHEAD: "PODSYNC_E_VERSION_AHEAD"
        case PODSYNC_E_FRAME_TOO_LARGE: "PODSYNC_E_FRAME_TOO_LARGE"
        case PODSYNC_E_DICTIONARY_MISSING: "PODSYNC_E_DICTIONARY_MISSING"
        case PODSYNC_E_LIMIT: "PODSYNC_E_LIMIT"
        case PODSYNC_E_INTERNAL: "PODSYNC_E_INTERNAL"
        default: "PODSYNC_UNKNOWN_STATUS"
        }
    // String literals live in the binary's constant data: the pointer is static.
    return UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}
