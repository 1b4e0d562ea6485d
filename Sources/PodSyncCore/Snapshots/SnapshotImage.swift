/// Records of one table saved before a change overwrote their value at a snapshot's version
/// (copy-on-write). Indexed with the table's salt, so they can be walked in hash order too.
struct SavedRecords: ~Copyable {
    var index: KeyIndex
    var records = ByteBuffer()
    /// The version each saved record had at the snapshot's version (checkpoints keep it).
    var versions = RawVector<UInt64>()
    var count = 0
    let recordSize: Int

    init(recordSize: Int, salt: UInt64, spread: ShardSpread?) {
        self.recordSize = recordSize
        index = KeyIndex(salt: salt)
        index.setSpread(spread)
    }

    var bytes: Int { count &* recordSize &+ index.bytes }

    /// Room for `additional` more records; false without memory.
    mutating func reserve(_ additional: Int) -> Bool {
        let (bytes, overflow) = (count &+ additional).multipliedReportingOverflow(by: recordSize)
        return !overflow && index.reserve(additional) && records.reserve(bytes, preserving: count &* recordSize)
            && versions.reserve(count &+ additional)
    }

    /// Saves `record` under `key` unless a value is saved already (the first save is the value at
    /// the snapshot's version). Room was reserved.
    mutating func save(key: UInt64, record: UnsafeRawPointer, version: UInt64) {
        guard index.find(key) == nilSlot else { return }
        copyRecord(to: records.base + count &* recordSize, from: record, size: recordSize)
        versions.append(version)
        index.insertNew(key, slot: UInt32(truncatingIfNeeded: count))
        count &+= 1
    }

    @inline(__always) func find(_ key: UInt64) -> UnsafeRawPointer? {
        guard count > 0 else { return nil }
        let slot = index.find(key)
        return slot == nilSlot ? nil : record(slot)
    }

    /// The saved record of `key` and its version, or nil.
    @inline(__always) func find(versioned key: UInt64) -> (record: UnsafeRawPointer, version: UInt64)? {
        guard count > 0 else { return nil }
        let slot = index.find(key)
        return slot == nilSlot ? nil : (record(slot), versions[Int(slot)])
    }

    @inline(__always) func record(_ slot: UInt32) -> UnsafeRawPointer {
        UnsafeRawPointer(records.base + Int(slot) &* recordSize)
    }
}

/// A store's state at one version as a chunked snapshot reads it: the live tables, minus what
/// changed since, which flushes and applies save here first (copy-on-write). Shared by the streams
/// of one snapshot (a resume continues the same image); the store holds it weakly.
public final class SnapshotImage {
    public let id: UInt64
    public let version: UInt64
    public let digest: UInt64
    public let streamID: UInt64
    /// The records of the snapshot (all tables), for the LAST chunk's record_count.
    public let recordCount: UInt64
    /// The term and history of the state at `version` (the chunks carry them).
    public internal(set) var term: UInt64 = 0
    public internal(set) var history = TermHistory()
    let saved: UnsafeMutablePointer<SavedRecords>
    let tableCount: Int
    /// Set when the store's state was replaced (a snapshot applied over it): the image can no
    /// longer be produced.
    var expired = false

    init(id: UInt64, version: UInt64, digest: UInt64, streamID: UInt64, recordCount: UInt64, tables: [TableSchema], spread: ShardSpread? = nil) {
        self.id = id
        self.version = version
        self.digest = digest
        self.streamID = streamID
        self.recordCount = recordCount
        tableCount = tables.count
        saved = .allocate(capacity: max(tables.count, 1))
        for (t, table) in tables.enumerated() {
            (saved + t).initialize(to: SavedRecords(recordSize: table.recordSize, salt: keySalt(table: table.id), spread: spread))
        }
    }

    deinit {
        saved.deinitialize(count: tableCount)
        saved.deallocate()
    }

    /// Memory held: the saved records and their index.
    public var bytesHeld: Int {
        var total = 0
        for t in 0..<tableCount { total &+= saved[t].bytes }
        return total
    }
}

/// A weak reference from a store to an image of it.
struct WeakImage {
    weak var image: SnapshotImage?
}

/// One reader of a snapshot image: where the next chunk starts, and the chunk's memory.
public struct SnapshotStream: ~Copyable {
    public let image: SnapshotImage
    /// The next chunk starts at `seed(t, k) >= position` of table index `table` (tableCount: done).
    var table: Int
    var position: UInt64
    public internal(set) var chunkIndex: UInt64
    let maxChunkBytes: Int
    public internal(set) var finished = false
    var outbox = Outbox()
    /// Scratch of the chunk being cut: the entries found in its range, ordered by hash, and
    /// those found outside the table's index (deleted since), merged in.
    var found = RawVector<ChunkEntry>()
    var extras = RawVector<ChunkEntry>()
    var merged = RawVector<ChunkEntry>()
    /// A resumed stream's first chunk starts exactly where the receiver asked.
    var resumeStart: (table: UInt32, key: UInt64)? = nil
    /// Fill each entry's version (a checkpoint writes them beside the chunk).
    var wantsVersions = false

    init(image: SnapshotImage, table: Int, position: UInt64, chunkIndex: UInt64, maxChunkBytes: Int) {
        self.image = image
        self.table = table
        self.position = position
        self.chunkIndex = chunkIndex
        self.maxChunkBytes = maxChunkBytes
    }

    /// The borrowed bytes of the last chunk produced.
    public var chunk: UnsafeRawBufferPointer? { outbox.frame(outbox.frames.count - 1) }
}

/// A record found for a chunk: its hash, key and where its value is.
struct ChunkEntry {
    var hash: UInt64
    var key: UInt64
    var record: UnsafeRawPointer?
    var slot: UInt32
    /// The record's version at the image's version (filled for checkpoints only).
    var version: UInt64 = 0
}
