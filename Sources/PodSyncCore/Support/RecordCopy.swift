/// Copies one record. Sizes common for POD records get a copy of compile-time-constant width, which
/// the optimizer turns into a few moves; a run-time size would become a `memmove` call (PERF-NOTES).
@inline(__always)
func copyRecord(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, size: Int) {
    switch size {
    case 8: destination.copyMemory(from: source, byteCount: 8)
    case 16: destination.copyMemory(from: source, byteCount: 16)
    case 24: destination.copyMemory(from: source, byteCount: 24)
    case 32: destination.copyMemory(from: source, byteCount: 32)
    case 40: destination.copyMemory(from: source, byteCount: 40)
    case 48: destination.copyMemory(from: source, byteCount: 48)
    case 56: destination.copyMemory(from: source, byteCount: 56)
    case 64: destination.copyMemory(from: source, byteCount: 64)
    default: destination.copyMemory(from: source, byteCount: size)
    }
}

/// XORs `size` bytes of `delta` into `target`, eight at a time.
@inline(__always)
func xorRecord(_ target: UnsafeMutableRawPointer, with delta: UnsafeRawPointer, size: Int) {
    var i = 0
    while i &+ 8 <= size {
        let word = target.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ delta.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        target.storeBytes(of: word, toByteOffset: i, as: UInt64.self)
        i &+= 8
    }
    while i < size {
        target.storeBytes(of: target.load(fromByteOffset: i, as: UInt8.self) ^ delta.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self)
        i &+= 1
    }
}

/// Rounds `value` up to a multiple of `alignment` (a power of two).
@inline(__always)
func alignUp(_ value: Int, _ alignment: Int) -> Int {
    (value &+ alignment &- 1) & ~(alignment &- 1)
}

/// Whether two records hold the same bytes (eight at a time; the first differing word ends it, so
/// a changed record costs about one load). The last word is compared first: records tend to start
/// with fields that never change (an id) and end with the ones that do.
@inline(__always)
func sameRecord(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, size: Int) -> Bool {
    if size >= 8 && a.loadUnaligned(fromByteOffset: size &- 8, as: UInt64.self) != b.loadUnaligned(fromByteOffset: size &- 8, as: UInt64.self) {
        return false
    }
    var i = 0
    while i &+ 8 <= size {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i &+= 8
    }
    while i < size {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i &+= 1
    }
    return true
}

/// Whether a record is all zero bytes (an XOR delta that changes nothing).
@inline(__always)
func isZeroRecord(_ a: UnsafeRawPointer, size: Int) -> Bool {
    var i = 0
    while i &+ 8 <= size {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
        i &+= 8
    }
    while i < size {
        if a.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
        i &+= 1
    }
    return true
}
