import CPodSyncShims

/// Sorts keys ascending: LSD radix sort, one byte a pass, skipping the bytes all keys share (ids
/// below 2^24 take three passes). Returns false without memory for the scratch copy.
func sortKeys(_ keys: UnsafeMutablePointer<UInt64>, count: Int) -> Bool {
    guard count > 1 else { return true }
    var sorted = true
    for i in 1..<count where keys[i - 1] >= keys[i] {
        sorted = false
        break
    }
    if sorted { return true }
    var histogram = [Int](repeating: 0, count: 8 * 256)
    var allAnd = UInt64.max
    var allOr: UInt64 = 0
    for i in 0..<count {
        let k = keys[i]
        allAnd &= k
        allOr |= k
    }
    let varying = allAnd ^ allOr  // bits that differ between some keys
    guard let raw = allocateRaw(count &* 8, alignment: 64) else { return false }
    defer { podsync_free(raw) }
    let scratch = raw.bindMemory(to: UInt64.self, capacity: count)
    histogram.withUnsafeMutableBufferPointer { h in
        for i in 0..<count {
            let k = keys[i]
            for b in 0..<8 { h[b &* 256 &+ Int((k >> UInt64(8 &* b)) & 0xFF)] &+= 1 }
        }
        var source = keys
        var target = scratch
        for b in 0..<8 where (varying >> UInt64(8 &* b)) & 0xFF != 0 {
            var offsets = [Int](repeating: 0, count: 256)
            var sum = 0
            for d in 0..<256 {
                offsets[d] = sum
                sum &+= h[b &* 256 &+ d]
            }
            offsets.withUnsafeMutableBufferPointer { o in
                let shift = UInt64(8 &* b)
                for i in 0..<count {
                    let k = source[i]
                    let d = Int((k >> shift) & 0xFF)
                    target[o[d]] = k
                    o[d] &+= 1
                }
            }
            swap(&source, &target)
        }
        if source != keys { keys.update(from: source, count: count) }
    }
    return true
}
