import CPodSync
import CPodSyncShims
import PodSyncCore

/// Records `message` as the calling thread's last error (podsync_last_errmsg) and returns `code`.
@discardableResult
func lastError(_ code: Int32, _ message: String) -> Int32 {
    var text = message
    text.withUTF8 { podsyncinternal_set_last_error(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count) }
    return code
}

/// A required handle was NULL.
func nullHandle(_ name: StaticString) -> Int32 {
    lastError(PODSYNC_E_INVALID_ARGUMENT, "\(name) must not be NULL")
}

/// The message of a handle's last error, kept NUL-terminated so C can borrow it until the next
/// call on the handle.
struct ErrorMessage: ~Copyable {
    private var storage: UnsafeMutablePointer<CChar>

    init() {
        storage = .allocate(capacity: 1)
        storage[0] = 0
    }

    deinit { storage.deallocate() }

    mutating func set(_ message: String) {
        var utf8 = Array(message.utf8)
        utf8.append(0)
        storage.deallocate()
        storage = .allocate(capacity: utf8.count)
        for (i, byte) in utf8.enumerated() { storage[i] = CChar(bitPattern: byte) }
    }

    var pointer: UnsafePointer<CChar> { UnsafePointer(storage) }
}

/// Boxed behind `podsync_schema *`.
final class SchemaHandle {
    var schema = Schema()
    var message = ErrorMessage()
    init() {}
    init(_ schema: Schema) { self.schema = schema }
}

/// Boxed behind `podsync_store *`.
final class StoreHandle {
    var store: Store
    var message = ErrorMessage()
    /// A feed: its writer's handle, and how many references the host holds (podsync_store_feed).
    weak var parent: StoreHandle? = nil
    var feedReferences = 0
    /// The subscription's encoding, lent to C (podsync_store_subscription) until the handle goes.
    private var subscriptionCopy: UnsafeMutableRawBufferPointer? = nil
    init(_ store: consuming Store) { self.store = store }
    deinit { subscriptionCopy?.deallocate() }

    /// A stable copy of the subscription's encoding (a store's subscription never changes once set).
    func subscriptionBytes(_ state: SubscriptionState) -> UnsafePointer<UInt8> {
        if let copy = subscriptionCopy { return UnsafePointer(copy.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(state.encoding.count, 1), alignment: 8)
        state.encoding.withUnsafeBytes { copy.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        subscriptionCopy = copy
        return UnsafePointer(copy.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }
}

extension OpaquePointer {
    /// The object a handle points to (unretained: the host owns the reference until *_free).
    @inline(__always) func object<T: AnyObject>(_ type: T.Type) -> T {
        Unmanaged<T>.fromOpaque(UnsafeRawPointer(self)).takeUnretainedValue()
    }
}

@inline(__always) func box(_ object: AnyObject) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

@inline(__always) func release<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type) {
    guard let handle else { return }
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).release()
}

/// Runs an engine call on a store handle: a thrown error becomes its status and the handle's
/// message. A NULL handle is PODSYNC_E_INVALID_ARGUMENT.
@inline(__always)
func withStore(
    _ handle: OpaquePointer?, _ body: (inout Store) throws(PodSyncError) -> Int32
) -> Int32 {
    guard let handle else { return nullHandle("store") }
    let box = handle.object(StoreHandle.self)
    do {
        return try body(&box.store)
    } catch {
        box.message.set(error.message)
        return lastError(error.code, error.message)
    }
}

/// The same for read-only calls.
@inline(__always)
func readStore(
    _ handle: OpaquePointer?, _ body: (borrowing Store) throws(PodSyncError) -> Int32
) -> Int32 {
    guard let handle else { return nullHandle("store") }
    let box = handle.object(StoreHandle.self)
    do {
        return try body(box.store)
    } catch {
        box.message.set(error.message)
        return lastError(error.code, error.message)
    }
}

/// Unwraps a required pointer argument or throws PODSYNC_E_INVALID_ARGUMENT naming it.
@inline(__always)
func required<T>(_ pointer: T?, _ name: StaticString) throws(PodSyncError) -> T {
    guard let pointer else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "\(name) must not be NULL") }
    return pointer
}

/// A caller's array argument: NULL is allowed only when it is empty.
@inline(__always)
func array<T>(_ pointer: UnsafePointer<T>?, count: Int, _ name: StaticString) throws(PodSyncError) -> UnsafePointer<T> {
    if let pointer { return pointer }
    guard count == 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "\(name) is NULL but count is \(count)") }
    return UnsafePointer(bitPattern: MemoryLayout<T>.alignment)!
}
