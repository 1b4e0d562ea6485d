import CZstd

/// Packed streams (what zstd compresses) of the frames a store produced, kept to train a
/// dictionary from: the exact bytes the dictionary will later be asked to predict. Raw memory whose
/// growth can fail: a sample that cannot be kept is skipped, never a trap.
final class DictionarySamples {
    private(set) var bytes = ByteBuffer()
    private(set) var used = 0
    private(set) var sizes = RawVector<Int>()
    /// Frames offered that did not fit what was left of the budget (or of memory).
    private(set) var skipped = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

    var count: Int { sizes.count }

    /// Keeps a sample whole if it fits what is left of the budget; otherwise skips it.
    func add(_ p: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        guard count <= limit &- used, bytes.reserve(used &+ count, preserving: used), sizes.reserve(sizes.count &+ 1) else {
            skipped &+= 1
            return
        }
        (bytes.base + used).copyMemory(from: p, byteCount: count)
        used &+= count
        sizes.append(count)
    }
}

extension Store {
    /// Smallest sample set worth training on (zstd's trainer rejects much smaller ones).
    static let minimumDictionarySamples = 8
    static let defaultDictionarySize = 16 << 10

    /// Starts keeping the packed streams of the frames this store produces, up to `maxBytes`
    /// (0: stop and discard them). Frames are packed only when compression is on.
    public mutating func collectDictionarySamples(maxBytes: Int) throws(PodSyncError) {
        guard maxBytes > 0 else {
            dictionarySamples = nil
            return
        }
        guard options.compressionLevel != 0 else {
            throw .invalid("samples come from the compressor, and this store's compression_level is 0")
        }
        guard maxBytes <= 1 << 30 else { throw .invalid("max_bytes \(maxBytes) is more than the 1 GiB allowed") }
        dictionarySamples = DictionarySamples(limit: maxBytes)
    }

    /// Trains a zstd dictionary of at most `maxSize` bytes (0: 16 KiB) from the collected samples,
    /// loads it (new frames are compressed with it) and returns its id. Collecting stops.
    public mutating func trainDictionary(maxSize: Int) throws(PodSyncError) -> UInt32 {
        let capacity = maxSize == 0 ? Self.defaultDictionarySize : maxSize
        guard capacity >= 256, capacity <= ZstdContexts.maxDictionaryBytes else {
            throw .invalid("a dictionary must be 256 bytes to \(ZstdContexts.maxDictionaryBytes) bytes; \(maxSize) asked")
        }
        guard let samples = dictionarySamples else {
            throw .invalid("no samples: call podsync_store_collect_samples first, then produce frames")
        }
        guard samples.count >= Self.minimumDictionarySamples else {
            throw .invalid("\(samples.count) sample frames kept (\(samples.skipped) more did not fit max_bytes \(samples.limit)); training needs at least \(Self.minimumDictionarySamples)")
        }
        let dictionary = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { dictionary.deallocate() }
        let size = ZDICT_trainFromBuffer(dictionary.baseAddress, capacity, samples.bytes.base, samples.sizes.base,
                                         UInt32(samples.count))
        guard ZDICT_isError(size) == 0 else {
            let reason = String(cString: ZDICT_getErrorName(size))
            throw .invalid("zstd could not train a dictionary from \(samples.count) samples (\(samples.used) bytes): \(reason)")
        }
        let id = try zstd.load(dictionary: UnsafeRawBufferPointer(rebasing: dictionary[0..<size]))
        dictionarySamples = nil
        try logDictionary()
        return id
    }

    /// Loads a zstd dictionary (copied): frames naming its id can be applied, and frames this
    /// store produces from now on are compressed with it. Returns its id.
    public mutating func loadDictionary(_ bytes: UnsafeRawBufferPointer) throws(PodSyncError) -> UInt32 {
        let id = try zstd.load(dictionary: bytes)
        try logDictionary()
        return id
    }

    /// The dictionary this store compresses with, if any (valid until the next load or train).
    public var currentDictionary: (id: UInt32, bytes: UnsafeRawBufferPointer)? { zstd.current }
}
