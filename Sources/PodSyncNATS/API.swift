import CPodSync
import CPodSyncNATS

// The carrier's C boundary (include/podsync_nats.h): handles, status names, messages.

/// Records `message` as the thread's last carrier error and returns `code`.
@discardableResult
func lastError(_ code: Int32, _ message: String) -> Int32 {
    var text = message
    text.withUTF8 { podsyncnats_internal_set_last_error(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count) }
    return code
}

/// A handle's last message, NUL-terminated so C can borrow it until the next call.
final class MessageBox {
    private var storage: UnsafeMutablePointer<CChar>

    init() {
        storage = .allocate(capacity: 1)
        storage[0] = 0
    }

    deinit { storage.deallocate() }

    func set(_ message: String) {
        let utf8 = Array(message.utf8CString)
        storage.deallocate()
        storage = .allocate(capacity: utf8.count)
        storage.initialize(from: utf8, count: utf8.count)
    }

    func pointer() -> UnsafePointer<CChar> { UnsafePointer(storage) }
}

final class PublisherHandle {
    let publisher: Publisher
    let message = MessageBox()
    init(_ publisher: Publisher) { self.publisher = publisher }
}

final class FollowerHandle {
    let follower: Follower
    let message = MessageBox()
    init(_ follower: Follower) { self.follower = follower }
}

extension OpaquePointer {
    @inline(__always) func object<T: AnyObject>(_ type: T.Type) -> T {
        Unmanaged<T>.fromOpaque(UnsafeRawPointer(self)).takeUnretainedValue()
    }
}

func string(_ p: UnsafePointer<CChar>?, _ name: String) throws(CarrierError) -> String {
    guard let p else { throw .invalid("\(name) must not be NULL") }
    let s = String(cString: p)
    guard s.utf8.count <= 4096 else { throw .invalid("\(name) is longer than 4096 bytes") }
    return s
}

/// Options from the C struct (NULL: defaults), validated.
func carrierOptions(_ p: UnsafePointer<podsync_nats_options>?) throws(CarrierError) -> CarrierOptions {
    var o = CarrierOptions()
    guard let p else { return o }
    let c = p.pointee
    guard c.version == 1 else { throw .invalid("podsync_nats_options.version must be 1 (PODSYNC_NATS_OPTIONS_VERSION)") }
    guard c.storage <= 1 else { throw .invalid("storage must be PODSYNC_NATS_STORAGE_FILE or _MEMORY") }
    guard c.replicas <= 5 else { throw .invalid("replicas must be 0 to 5 (JetStream's limit)") }
    guard c.max_reconnects >= -1 else { throw .invalid("max_reconnects must be -1 (forever) or more") }
    guard c.timeout_ms >= 1 && c.timeout_ms <= 3_600_000 else { throw .invalid("timeout_ms must be 1 to 3600000") }
    guard c.reconnect_wait_ms <= 3_600_000 else { throw .invalid("reconnect_wait_ms must be at most 3600000") }
    guard c.max_age_ms <= UInt64(Int64.max / 1_000_000) else { throw .invalid("max_age_ms is too large") }
    o.memoryStorage = c.storage == 1
    o.replicas = Int(max(c.replicas, 1))
    o.maxReconnects = c.max_reconnects
    o.maxAgeMs = c.max_age_ms
    o.maxBytes = c.max_bytes
    o.snapshotEveryVersions = c.snapshot_every_versions
    o.snapshotEveryMs = c.snapshot_every_ms
    o.timeoutMs = c.timeout_ms
    o.reconnectWaitMs = c.reconnect_wait_ms
    if let name = c.client_name { o.clientName = try string(name, "client_name") }
    return o
}

@c @implementation
public func podsync_nats_version_number() -> UInt32 { UInt32(PODSYNC_NATS_VERSION_NUMBER) }

@c @implementation
public func podsync_nats_status_name(_ status: Int32) -> UnsafePointer<CChar>! {
    let name: StaticString
    switch status {
    case PODSYNC_NATS_E_CONNECTION: name = "PODSYNC_NATS_E_CONNECTION"
    case PODSYNC_NATS_E_TIMEOUT: name = "PODSYNC_NATS_E_TIMEOUT"
    case PODSYNC_NATS_E_STREAM_MISSING: name = "PODSYNC_NATS_E_STREAM_MISSING"
    case PODSYNC_NATS_E_MSG_TOO_LARGE: name = "PODSYNC_NATS_E_MSG_TOO_LARGE"
    case PODSYNC_NATS_E_SERVER: name = "PODSYNC_NATS_E_SERVER"
    case PODSYNC_NATS_E_NOT_A_MESSAGE: name = "PODSYNC_NATS_E_NOT_A_MESSAGE"
    default: return podsync_status_name(status)
    }
    return UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c @implementation
public func podsync_nats_last_errmsg() -> UnsafePointer<CChar>! {
    podsyncnats_internal_last_error()
}

@c @implementation
public func podsync_nats_options_init(_ options: UnsafeMutablePointer<podsync_nats_options>!, _ version: UInt32) -> Int32 {
    guard let options else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "options must not be NULL") }
    guard version == 1 else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "podsync_nats_options version \(version) is not known (1)") }
    options.pointee = podsync_nats_options(version: 1, storage: 0, replicas: 1, max_reconnects: -1, max_age_ms: 0, max_bytes: 0,
                                           snapshot_every_versions: 600, snapshot_every_ms: 10_000, timeout_ms: 5000,
                                           reconnect_wait_ms: 100, client_name: nil)
    return PODSYNC_OK
}

// MARK: Publisher

@c @implementation
public func podsync_nats_publisher_create(
    _ store: OpaquePointer!, _ url: UnsafePointer<CChar>!, _ stream_name: UnsafePointer<CChar>!,
    _ options: UnsafePointer<podsync_nats_options>!, _ out: UnsafeMutablePointer<OpaquePointer?>!
) -> Int32 {
    create(store, url, stream_name, options, out) { (store, url, stream, options) throws(CarrierError) in
        PublisherHandle(try Publisher(store: store, url: url, stream: stream, options: options))
    }
}

/// A constructor's common part: arguments checked, the handle boxed into *out, or the error
/// recorded as the thread's last.
func create(
    _ store: OpaquePointer?, _ url: UnsafePointer<CChar>?, _ streamName: UnsafePointer<CChar>?,
    _ options: UnsafePointer<podsync_nats_options>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ make: (OpaquePointer, String, String, CarrierOptions) throws(CarrierError) -> AnyObject
) -> Int32 {
    guard let out else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "out must not be NULL") }
    out.pointee = nil
    guard let store else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "store must not be NULL") }
    do throws(CarrierError) {
        let handle = try make(store, try string(url, "url"), try string(streamName, "stream_name"), try carrierOptions(options))
        out.pointee = OpaquePointer(Unmanaged.passRetained(handle).toOpaque())
        return PODSYNC_OK
    } catch {
        return lastError(error.code, error.message)
    }
}

func withPublisher(_ handle: OpaquePointer?, _ body: (Publisher) throws(CarrierError) -> Int32) -> Int32 {
    guard let handle else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "publisher must not be NULL") }
    let box = handle.object(PublisherHandle.self)
    do throws(CarrierError) {
        let status = try body(box.publisher)
        box.message.set("")
        return status
    } catch {
        box.message.set(error.message)
        return lastError(error.code, error.message)
    }
}

@c @implementation
public func podsync_nats_publisher_flush(_ publisher: OpaquePointer!, _ published_out: UnsafeMutablePointer<Int>!) -> Int32 {
    published_out?.pointee = 0
    return withPublisher(publisher) { (p) throws(CarrierError) in
        let before = p.stats.framesPublished
        do throws(CarrierError) {
            _ = try p.flush()
        } catch {
            published_out?.pointee = Int(p.stats.framesPublished &- before)
            throw error
        }
        published_out?.pointee = Int(p.stats.framesPublished &- before)
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_nats_publisher_snapshot(_ publisher: OpaquePointer!) -> Int32 {
    withPublisher(publisher) { (p) throws(CarrierError) in
        try p.publishSnapshot()
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_nats_publisher_stats_get(_ publisher: OpaquePointer!, _ stats: UnsafeMutablePointer<podsync_nats_publisher_stats>!) -> Int32 {
    guard let publisher else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "publisher must not be NULL") }
    return publisherStats(publisher.object(PublisherHandle.self).publisher, stats)
}

func publisherStats(_ p: Publisher, _ stats: UnsafeMutablePointer<podsync_nats_publisher_stats>?) -> Int32 {
    guard let stats else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "stats must not be NULL") }
    // Output structs: any version from 1 on is filled with the fields this library knows, and
    // keeps the version the caller set (docs/ABI.md).
    let version = stats.pointee.version
    guard version >= 1 else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "podsync_nats_publisher_stats.version must be at least 1") }
    stats.pointee = podsync_nats_publisher_stats(
        version: version, connected: p.connected ? 1 : 0, frames_published: p.stats.framesPublished, bytes_published: p.stats.bytesPublished,
        frames_pending: UInt64(p.framesPending), frames_dropped: p.stats.framesDropped, snapshots_published: p.stats.snapshotsPublished,
        snapshot_version: p.stats.snapshotVersion, last_sequence: p.stats.lastSequence, reconnects: p.reconnects)
    return PODSYNC_OK
}

@c @implementation
public func podsync_nats_publisher_errmsg(_ publisher: OpaquePointer!) -> UnsafePointer<CChar>! {
    guard let publisher else { return podsyncnats_internal_last_error() }
    return publisher.object(PublisherHandle.self).message.pointer()
}

@c @implementation
public func podsync_nats_publisher_free(_ publisher: OpaquePointer!) {
    guard let publisher else { return }
    Unmanaged<PublisherHandle>.fromOpaque(UnsafeRawPointer(publisher)).release()
}

// MARK: Follower

@c @implementation
public func podsync_nats_follower_create(
    _ store: OpaquePointer!, _ url: UnsafePointer<CChar>!, _ stream_name: UnsafePointer<CChar>!,
    _ options: UnsafePointer<podsync_nats_options>!, _ out: UnsafeMutablePointer<OpaquePointer?>!
) -> Int32 {
    create(store, url, stream_name, options, out) { (store, url, stream, options) throws(CarrierError) in
        FollowerHandle(try Follower(store: store, url: url, stream: stream, options: options))
    }
}

@c @implementation
public func podsync_nats_follower_poll(_ follower: OpaquePointer!, _ timeout_ms: UInt64, _ applied_out: UnsafeMutablePointer<Int>!) -> Int32 {
    applied_out?.pointee = 0
    guard let follower else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "follower must not be NULL") }
    let box = follower.object(FollowerHandle.self)
    guard timeout_ms <= 3_600_000 else {
        box.message.set("timeout_ms must be at most 3600000")
        return lastError(PODSYNC_E_INVALID_ARGUMENT, "timeout_ms must be at most 3600000")
    }
    let before = box.follower.stats.framesApplied
    do throws(CarrierError) {
        _ = try box.follower.poll(timeoutMs: timeout_ms)
        applied_out?.pointee = Int(box.follower.stats.framesApplied &- before)
        box.message.set(box.follower.lastMessage)
        return PODSYNC_OK
    } catch {
        applied_out?.pointee = Int(box.follower.stats.framesApplied &- before)
        box.message.set(error.message)
        return lastError(error.code, error.message)
    }
}

@c @implementation
public func podsync_nats_follower_stats_get(_ follower: OpaquePointer!, _ stats: UnsafeMutablePointer<podsync_nats_follower_stats>!) -> Int32 {
    guard let follower else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "follower must not be NULL") }
    guard let stats else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "stats must not be NULL") }
    let structVersion = stats.pointee.version
    guard structVersion >= 1 else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "podsync_nats_follower_stats.version must be at least 1") }
    let f = follower.object(FollowerHandle.self).follower
    let version = (try? f.store.info().state_version) ?? 0
    stats.pointee = podsync_nats_follower_stats(
        version: structVersion, connected: f.connected ? 1 : 0, frames_applied: f.stats.framesApplied, duplicates: f.stats.duplicates,
        snapshots_taken: f.stats.snapshotsTaken, gaps_repaired: f.stats.gapsRepaired, rejected: f.stats.rejected,
        next_sequence: f.nextSequence, state_version: version, bytes_received: f.stats.bytesReceived, reconnects: f.reconnects,
        last_rejected_status: f.stats.lastRejectedStatus, reserved: 0)
    return PODSYNC_OK
}

@c @implementation
public func podsync_nats_follower_relay(
    _ follower: OpaquePointer!, _ url: UnsafePointer<CChar>!, _ stream_name: UnsafePointer<CChar>!,
    _ options: UnsafePointer<podsync_nats_options>!
) -> Int32 {
    guard let follower else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "follower must not be NULL") }
    let box = follower.object(FollowerHandle.self)
    do throws(CarrierError) {
        try box.follower.startRelay(url: try string(url, "url"), stream: try string(stream_name, "stream_name"),
                                    options: try carrierOptions(options))
        box.message.set("")
        return PODSYNC_OK
    } catch {
        box.message.set(error.message)
        return lastError(error.code, error.message)
    }
}

@c @implementation
public func podsync_nats_follower_relay_stats(_ follower: OpaquePointer!, _ stats: UnsafeMutablePointer<podsync_nats_publisher_stats>!) -> Int32 {
    guard let follower else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "follower must not be NULL") }
    guard let relay = follower.object(FollowerHandle.self).follower.relay else {
        return lastError(PODSYNC_NOT_FOUND, "this follower does not relay")
    }
    return publisherStats(relay, stats)
}

@c @implementation
public func podsync_nats_follower_errmsg(_ follower: OpaquePointer!) -> UnsafePointer<CChar>! {
    guard let follower else { return podsyncnats_internal_last_error() }
    return follower.object(FollowerHandle.self).message.pointer()
}

@c @implementation
public func podsync_nats_follower_free(_ follower: OpaquePointer!) {
    guard let follower else { return }
    Unmanaged<FollowerHandle>.fromOpaque(UnsafeRawPointer(follower)).release()
}
