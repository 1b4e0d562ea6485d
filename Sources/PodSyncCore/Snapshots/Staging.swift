/// A chunked snapshot a replica is receiving: its identity, the chunk it expects next, and the
/// records received so far, in tables of their own (or, filling in place, in the store's).
final class Staging {
    let streamID: UInt64
    let snapshotID: UInt64
    /// A chunked catch-up delta (from `baseVersion`) rather than a snapshot.
    let isDelta: Bool
    let baseVersion: UInt64
    let stateVersion: UInt64
    let stateDigest: UInt64
    let hasDigest: Bool
    /// The term and history the replica follows after the switch.
    let term: UInt64
    let history: TermHistory
    var nextIndex: UInt64 = 0
    var nextTable: UInt32 = 0
    var nextKey: UInt64 = 0
    var records: UInt64 = 0
    var digest: UInt64 = 0
    /// The staged tables; nil when filling the store's own tables in place.
    var tables: UnsafeMutablePointer<Table>?
    let tableCount: Int

    /// A chunked delta's deletions, per table (its puts go to `tables`).
    var deletes: UnsafeMutablePointer<RawVector<UInt64>>?

    init(header: FrameHeader, chunk: ChunkRecord, schema: Schema, inPlace: Bool, spread: ShardSpread? = nil) {
        streamID = header.streamID
        snapshotID = chunk.snapshotID
        isDelta = !header.isReset
        baseVersion = header.baseVersion
        stateVersion = header.stateVersion
        stateDigest = header.stateDigest
        hasDigest = header.hasDigest
        term = header.term
        history = header.history
        tableCount = schema.tables.count
        if !inPlace {
            let fresh = UnsafeMutablePointer<Table>.allocate(capacity: max(tableCount, 1))
            for (i, table) in schema.tables.enumerated() { (fresh + i).initialize(to: Table(schema: table, spread: spread)) }
            tables = fresh
        }
        if isDelta {
            let lists = UnsafeMutablePointer<RawVector<UInt64>>.allocate(capacity: max(tableCount, 1))
            for i in 0..<tableCount { (lists + i).initialize(to: RawVector<UInt64>()) }
            deletes = lists
        }
    }

    deinit {
        if let tables {
            tables.deinitialize(count: tableCount)
            tables.deallocate()
        }
        if let deletes {
            deletes.deinitialize(count: tableCount)
            deletes.deallocate()
        }
    }

    func isPart(of header: FrameHeader, _ chunk: ChunkRecord) -> Bool {
        header.streamID == streamID && chunk.snapshotID == snapshotID && header.stateVersion == stateVersion
            && header.baseVersion == baseVersion && header.isReset != isDelta && header.term == term
    }

    /// Approximate memory of the staged tables (metrics).
    var bytesHeld: Int {
        guard let tables else { return 0 }
        var total = 0
        for t in 0..<tableCount {
            total &+= tables[t].capacity &* (tables[t].recordSize &+ 8 &+ MemoryLayout<SlotMeta>.stride)
            total &+= tables[t].index.bytes &+ tables[t].log.capacity &* MemoryLayout<LogEntry>.stride
        }
        return total
    }
}
