/// The frames a store produced last (by flush, delta_since or snapshot), back to back in one
/// buffer, each starting at a 64-byte boundary so receivers can read records in place.
struct Outbox: ~Copyable {
    var buffer = ByteBuffer()
    var used = 0
    var frames: [(offset: Int, length: Int)] = []

    mutating func clear() {
        used = 0
        frames.removeAll(keepingCapacity: true)
    }

    /// Makes room for frames of these lengths in the outbox once it is cleared, so that
    /// `beginFrame` cannot fail for them. False (nothing changed) without memory.
    mutating func reserve(lengths: [Int]) -> Bool {
        var end = 0
        for length in lengths {
            let (next, overflow) = alignUp(end, ByteBuffer.alignment).addingReportingOverflow(length)
            guard !overflow else { return false }
            end = next
        }
        frames.reserveCapacity(lengths.count)
        return buffer.reserve(end, preserving: used)
    }

    /// Reserves `length` bytes for a new frame and returns its start; nil without memory.
    mutating func beginFrame(length: Int) -> UnsafeMutableRawPointer? {
        let offset = alignUp(used, ByteBuffer.alignment)
        guard buffer.reserve(offset + length, preserving: used) else { return nil }
        frames.append((offset, length))
        used = offset + length
        return buffer.base + offset
    }

    /// Shrinks the last frame to `length` bytes (after it was re-encoded in place).
    mutating func shrinkLastFrame(to length: Int) {
        let last = frames.count - 1
        frames[last].length = length
        used = frames[last].offset + length
    }

    func frame(_ index: Int) -> UnsafeRawBufferPointer? {
        guard index >= 0 && index < frames.count else { return nil }
        let f = frames[index]
        return UnsafeRawBufferPointer(start: buffer.base + f.offset, count: f.length)
    }
}
