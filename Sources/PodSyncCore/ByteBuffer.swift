/// A growable, 64-byte-aligned block of raw memory with reference semantics owned by its holder.
/// Used for record arenas, pre-image stores and the frame outbox.
struct ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int

    static let alignment = 64

    init(capacity: Int = 0) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1), alignment: Self.alignment)
    }

    deinit { base.deallocate() }

    /// Ensures room for `needed` bytes, keeping the first `preserving` bytes. Grows geometrically.
    mutating func reserve(_ needed: Int, preserving used: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity &* 2, 256)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: Self.alignment)
        if used > 0 { fresh.copyMemory(from: base, byteCount: used) }
        base.deallocate()
        base = fresh
        capacity = newCapacity
    }

    /// Replaces the memory with a block of exactly `capacity` bytes (contents discarded).
    mutating func reset(capacity newCapacity: Int) {
        base.deallocate()
        capacity = newCapacity
        base = UnsafeMutableRawPointer.allocate(byteCount: max(newCapacity, 1), alignment: Self.alignment)
    }
}

/// A growable array of trivial values in raw memory, for hot per-record metadata (no Array
/// uniqueness checks or bounds checks on the hot path; callers index within `count`).
struct RawVector<Element: BitwiseCopyable>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var capacity: Int
    var count: Int = 0

    init(capacity: Int = 0) {
        self.capacity = max(capacity, 1)
        base = UnsafeMutablePointer<Element>.allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always) subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    mutating func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity &* 2, 16)
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        fresh.update(from: base, count: count)
        base.deallocate()
        base = fresh
        capacity = newCapacity
    }

    @inline(__always) mutating func append(_ value: Element) {
        if count == capacity { reserve(count &+ 1) }
        base[count] = value
        count &+= 1
    }

    mutating func removeAll() { count = 0 }
}
