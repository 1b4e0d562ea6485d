import CPodSyncShims

/// Allocates raw memory through the shim (huge pages for large blocks); nil when it cannot.
@inline(__always)
func allocateRaw(_ bytes: Int, alignment: Int) -> UnsafeMutableRawPointer? {
    guard bytes >= 0 else { return nil }
    return podsync_alloc(bytes, alignment)
}

/// A growable, 64-byte-aligned block of raw memory owned by its holder. Used for record arenas,
/// pre-image stores and the frame outbox.
struct ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int

    static let alignment = 64

    init() {
        capacity = 0
        base = allocateRaw(Self.alignment, alignment: Self.alignment)!
    }

    deinit { podsync_free(base) }

    /// Ensures room for `needed` bytes, keeping the first `used` bytes. Grows geometrically.
    /// Returns false (nothing changed) when the memory cannot be had.
    @discardableResult
    mutating func reserve(_ needed: Int, preserving used: Int) -> Bool {
        guard needed > capacity else { return true }
        let newCapacity = max(needed, capacity &* 2, 256)
        guard newCapacity > 0, let fresh = allocateRaw(newCapacity, alignment: Self.alignment) else { return false }
        if used > 0 { fresh.copyMemory(from: base, byteCount: used) }
        podsync_free(base)
        base = fresh
        capacity = newCapacity
        return true
    }
}

/// A growable array of trivial values in raw memory, for hot per-record metadata (no Array
/// uniqueness or bounds checks on the hot path; callers index within `count`).
struct RawVector<Element: BitwiseCopyable>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var capacity: Int
    var count: Int = 0
    /// Grow without huge-page advice (`podsync_alloc_small_pages`).
    var smallPages = false

    init() {
        capacity = 4
        base = allocateRaw(4 * MemoryLayout<Element>.stride, alignment: 64)!.bindMemory(to: Element.self, capacity: 4)
    }

    deinit { podsync_free(base) }

    @inline(__always) subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    /// Ensures room for `needed` elements; false (nothing changed) when memory cannot be had.
    @discardableResult
    mutating func reserve(_ needed: Int) -> Bool {
        guard needed > capacity else { return true }
        let newCapacity = max(needed, capacity &* 2, 16)
        let (bytes, overflow) = newCapacity.multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
        guard !overflow, bytes >= 0,
              let raw = smallPages ? podsync_alloc_small_pages(bytes, 64) : allocateRaw(bytes, alignment: 64) else { return false }
        let fresh = raw.bindMemory(to: Element.self, capacity: newCapacity)
        fresh.update(from: base, count: count)
        podsync_free(base)
        base = fresh
        capacity = newCapacity
        return true
    }

    @inline(__always) mutating func append(_ value: Element) {
        if count == capacity { precondition(reserve(count &+ 1), "out of memory") }
        base[count] = value
        count &+= 1
    }

    mutating func removeAll() { count = 0 }
}
