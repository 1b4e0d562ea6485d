@testable import PodSyncCore
import Testing

/// The key sort behind KEY_GAPS: equal to the standard library's sort for keys spanning any
/// number of bits, and gaps that decode back to the keys.
@Suite struct KeyCodingTests {
    static func check(_ keys: [UInt64], _ label: String) throws {
        let order = keys.withUnsafeBytes { KeyCoding.sortedOrder($0.baseAddress!, count: keys.count) }
        #expect(order.map { keys[$0] } == keys.sorted(), "\(label): sorted")
        #expect(Set(order).count == keys.count, "\(label): a permutation")
        guard !keys.isEmpty, Set(keys).count == keys.count else { return }  // gaps need distinct keys
        var encoded = [UInt8](repeating: 0, count: 10 * keys.count)
        let length = try keys.withUnsafeBytes { k in
            try encoded.withUnsafeMutableBytes { out in
                let end = KeyCoding.writeGaps(k.baseAddress!, order: order, to: out.baseAddress!)
                var decoded = [UInt64](repeating: 0, count: keys.count)
                var read = 0
                try decoded.withUnsafeMutableBytes { d in
                    try KeyCoding.readGaps(UnsafeRawPointer(out.baseAddress!), length: end - out.baseAddress!, count: keys.count,
                                           into: d.baseAddress!, read: &read)
                }
                #expect(decoded == keys.sorted(), "\(label): gaps decode")
                return read
            }
        }
        #expect(length > 0)
    }

    @Test func sortsKeysOfEverySpan() throws {
        var rng = SplitMix64(seed: 77)
        try Self.check([], "empty")
        try Self.check([42], "one")
        try Self.check([3, 1, 2], "three")
        try Self.check(Array(0..<1000), "ascending")
        try Self.check(Array((0..<1000).reversed()), "descending")
        for bits in [1, 2, 7, 8, 9, 11, 12, 17, 22, 23, 33, 63, 64] {
            var keys = Set<UInt64>()
            let mask: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
            let base: UInt64 = bits == 64 ? 0 : 0xABCD << 48
            while keys.count < min(2000, Int(min(mask, 1 << 20)) + 1) { keys.insert(base | (rng.next() & mask)) }
            try Self.check(Array(keys).shuffled(using: &rng), "\(bits) varying bits")
        }
        try Self.check([5, 5, 5], "all equal (not produced by the writer, still a permutation)")
    }
}

