import CPodSyncShims

/// Records of one table saved before a change overwrote their snapshot-time value
/// (copy-on-write): key to the saved record, or to `SavedRecords.absent`.
struct SavedRecords: ~Copyable {
    var index = KeyIndex()
    var records = ByteBuffer()
    var count = 0
    let recordSize: Int

    init(recordSize: Int) { self.recordSize = recordSize }

    var bytes: Int { count &* (recordSize &+ 32) }

    /// Room for `additional` more records; false without memory.
    mutating func reserve(_ additional: Int) -> Bool {
        let (bytes, overflow) = (count &+ additional).multipliedReportingOverflow(by: recordSize)
        return !overflow && index.reserve(additional) && records.reserve(bytes, preserving: count &* recordSize)
    }

    /// Saves `record` under `key` unless a value is saved already (the first save is the value at
    /// the snapshot's version). Room was reserved.
    mutating func save(key: UInt64, record: UnsafeRawPointer) {
        guard index.find(key) == nilSlot else { return }
        copyRecord(to: records.base + count &* recordSize, from: record, size: recordSize)
        index.insertNew(key, slot: UInt32(truncatingIfNeeded: count))
        count &+= 1
    }

    @inline(__always) func find(_ key: UInt64) -> UnsafeRawPointer? {
        guard count > 0 else { return nil }
        let slot = index.find(key)
        return slot == nilSlot ? nil : UnsafeRawPointer(records.base + Int(slot) &* recordSize)
    }
}

/// The state of a store at one version as a chunked snapshot needs it: the sorted keys of every
/// table at that version, and the records changed since, saved at their value of that version.
/// Shared by the streams of one snapshot (a resume continues the same image); the store keeps a
/// weak reference to save records into it before changing them.
public final class SnapshotImage {
    public let id: UInt64
    public let version: UInt64
    public let digest: UInt64
    public let streamID: UInt64
    /// The keys of every table, ascending, table after table (in schema order, which is
    /// ascending table id): table t's keys are `keys[tableStart[t] ..< tableStart[t + 1]]`.
    var keys = RawVector<UInt64>()
    var tableStart: [Int]
    let saved: UnsafeMutablePointer<SavedRecords>
    let tableCount: Int
    /// Set when the store's state was replaced (a snapshot applied over it): the image can no
    /// longer be produced.
    var expired = false

    init(id: UInt64, version: UInt64, digest: UInt64, streamID: UInt64, recordSizes: [Int]) {
        self.id = id
        self.version = version
        self.digest = digest
        self.streamID = streamID
        tableCount = recordSizes.count
        tableStart = [Int](repeating: 0, count: recordSizes.count + 1)
        saved = .allocate(capacity: max(recordSizes.count, 1))
        for (t, size) in recordSizes.enumerated() { (saved + t).initialize(to: SavedRecords(recordSize: size)) }
    }

    deinit {
        saved.deinitialize(count: tableCount)
        saved.deallocate()
    }

    public var recordCount: Int { keys.count }

    /// Memory held: the sorted keys and the saved records.
    public var bytesHeld: Int {
        var total = keys.capacity &* 8
        for t in 0..<tableCount { total &+= saved[t].bytes }
        return total
    }

    /// Whether table `t` had `key` at the snapshot's version.
    func contains(table t: Int, key: UInt64) -> Bool {
        var lo = tableStart[t]
        var hi = tableStart[t + 1]
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            let k = keys[mid]
            if k == key { return true }
            if k < key { lo = mid &+ 1 } else { hi = mid }
        }
        return false
    }

    /// The first position in table t whose key is at least `key`.
    func lowerBound(table t: Int, key: UInt64) -> Int {
        var lo = tableStart[t]
        var hi = tableStart[t + 1]
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if keys[mid] < key { lo = mid &+ 1 } else { hi = mid }
        }
        return lo
    }
}

/// A weak reference from a store to an image of it.
struct WeakImage {
    weak var image: SnapshotImage?
}

/// One reader of a snapshot image: where the next chunk starts, and the chunk's memory.
public struct SnapshotStream: ~Copyable {
    public let image: SnapshotImage
    /// Position of the next chunk's first key in `image.keys`.
    var position: Int
    public internal(set) var chunkIndex: UInt64
    let maxChunkBytes: Int
    public internal(set) var finished = false
    var outbox = Outbox()
    /// A resumed stream's first chunk starts where the receiver asked, which may lie before the
    /// first key it holds.
    var resumeStart: (table: UInt32, key: UInt64)? = nil

    init(image: SnapshotImage, position: Int, chunkIndex: UInt64, maxChunkBytes: Int) {
        self.image = image
        self.position = position
        self.chunkIndex = chunkIndex
        self.maxChunkBytes = maxChunkBytes
    }

    /// The key the next chunk starts at: (0, 0) for chunk 0, else (table id, key) of its first
    /// record, or past the last table when every record was produced.
    public func startKey(schema: Schema) -> (table: UInt32, key: UInt64) {
        if chunkIndex == 0 { return (0, 0) }
        if let resumeStart { return resumeStart }
        return Self.key(at: position, image: image, schema: schema)
    }

    static func key(at position: Int, image: SnapshotImage, schema: Schema) -> (table: UInt32, key: UInt64) {
        guard position < image.keys.count else { return (UInt32.max, UInt64.max) }
        var t = 0
        while image.tableStart[t + 1] <= position { t += 1 }
        return (schema.tables[t].id, image.keys[position])
    }

    /// The borrowed bytes of the last chunk produced.
    public var chunk: UnsafeRawBufferPointer? { outbox.frame(outbox.frames.count - 1) }
}
