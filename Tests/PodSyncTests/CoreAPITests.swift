import PodSyncCore
import Testing

/// The Swift product: programs that use the engine directly, without the C layer. (Names are
/// qualified: the other suites' helpers also define `Schema` and `Store`.)
@Suite struct CoreAPITests {
    struct Entity: BitwiseCopyable {
        var id: UInt64
        var position: (Float, Float, Float)
        var rotation: (Float, Float, Float, Float)
        var flags: UInt32
    }

    static func schema() throws -> PodSyncCore.Schema {
        var schema = PodSyncCore.Schema()
        try schema.addTable(id: 1, recordSize: MemoryLayout<Entity>.size, alignment: 8, fields: [
            Field("id", .u64, offset: 0), Field("position", .f32, offset: 8, count: 3),
            Field("rotation", .f32, offset: 20, count: 4), Field("flags", .u32, offset: 36),
        ])
        return schema
    }

    static func frames(_ store: borrowing PodSyncCore.Store) -> [[UInt8]] {
        (0..<store.frameCount).map { Array(store.frame($0)!) }
    }

    @Test func writerToReplicaRoundTrip() throws {
        #expect(MemoryLayout<Entity>.size == 40)
        let schema = try Self.schema()
        var writer = PodSyncCore.Store(schema: schema, role: .writer)
        var replica = PodSyncCore.Store(schema: schema, role: .replica)
        var entities = (0..<100).map { Entity(id: UInt64($0), position: (Float($0), 0, 0), rotation: (0, 0, 0, 1), flags: 0) }
        let keys = entities.map(\.id)
        let status = try keys.withUnsafeBufferPointer { k in
            try entities.withUnsafeBytes { r in
                try writer.putMany(table: 1, keys: k.baseAddress!, records: r.baseAddress!, count: k.count, size: r.count)
            }
        }
        #expect(status == Status.ok)
        #expect(writer.pendingChanges == 100)
        #expect(try writer.flush() == 1)
        for frame in Self.frames(writer) {
            #expect(try frame.withUnsafeBytes { try replica.apply($0) } == Status.ok)
        }
        #expect(replica.version == 1)
        #expect(replica.digest == writer.digest)
        #expect(try replica.count(table: 1) == 100)
        let record = try #require(try replica.get(table: 1, key: 7))
        #expect(record.load(fromByteOffset: 8, as: Float.self) == 7)

        // Coalescing and deletes, then equal digests again.
        entities[3].flags = 9
        for _ in 0..<5 {
            _ = try withUnsafeBytes(of: entities[3]) { try writer.put(table: 1, key: 3, record: $0.baseAddress!, size: $0.count) }
        }
        #expect(try writer.delete(table: 1, key: 4) == Status.ok)
        #expect(try writer.delete(table: 1, key: 4) == Status.notFound)
        #expect(writer.pendingChanges == 2)
        #expect(try writer.flush() == 1)
        for frame in Self.frames(writer) { _ = try frame.withUnsafeBytes { try replica.apply($0) } }
        #expect(replica.digest == writer.digest)
        #expect(try replica.get(table: 1, key: 4) == nil)
        #expect(try replica.get(table: 1, key: 3)?.load(fromByteOffset: 36, as: UInt32.self) == 9)
    }

    @Test func errorsAreTypedAndLeaveStateAlone() throws {
        let schema = try Self.schema()
        var writer = PodSyncCore.Store(schema: schema, role: .writer)
        var replica = PodSyncCore.Store(schema: schema, role: .replica)
        var entity = Entity(id: 1, position: (1, 2, 3), rotation: (0, 0, 0, 1), flags: 0)
        #expect(throws: PodSyncError.self) {
            try withUnsafeBytes(of: &entity) { try writer.put(table: 99, key: 1, record: $0.baseAddress!, size: $0.count) }
        }
        do {
            _ = try withUnsafeBytes(of: &entity) { try writer.put(table: 1, key: 1, record: $0.baseAddress!, size: 39) }
            Issue.record("a 39-byte record was accepted")
        } catch let error as PodSyncError {
            #expect(error.code == Status.recordSize)
        }
        do {
            _ = try withUnsafeBytes(of: &entity) { try replica.put(table: 1, key: 1, record: $0.baseAddress!, size: $0.count) }
            Issue.record("a replica accepted a put")
        } catch let error as PodSyncError {
            #expect(error.code == Status.wrongRole)
        }
        _ = try withUnsafeBytes(of: &entity) { try writer.put(table: 1, key: 1, record: $0.baseAddress!, size: $0.count) }
        #expect(try writer.flush() == 1)
        var frame = Self.frames(writer)[0]
        frame[frame.count - 1] ^= 1
        do {
            _ = try frame.withUnsafeBytes { try replica.apply($0) }
            Issue.record("a corrupt frame was applied")
        } catch let error as PodSyncError {
            #expect(error.code == Status.frameChecksum)
        }
        #expect(replica.version == 0 && replica.digest == 0 && !replica.diverged)
    }

    @Test func schemaEncodingRoundTrips() throws {
        let schema = try Self.schema()
        let bytes = schema.canonicalEncoding()
        let decoded = try bytes.withUnsafeBytes { try PodSyncCore.Schema(decoding: $0) }
        #expect(decoded == schema)
        #expect(decoded.hash == schema.hash)
        var bad = PodSyncCore.Schema()
        #expect(throws: PodSyncError.self) { try bad.addTable(id: 1, recordSize: 40, alignment: 3, fields: []) }
        #expect(bad.tables.isEmpty)
    }

    /// Durability and failover from Swift: open, checkpoint, reopen in the same term, promote.
    @Test func durableWriterAndPromotion() throws {
        let schema = try Self.schema()
        let dir = temporaryDirectory("core")
        defer { removeTree(dir) }
        var info = OpenInfo()
        var durability = DurabilityOptions()
        durability.logPolicy = .everyFrame
        var replica = PodSyncCore.Store(schema: schema, role: .replica)
        var digest: UInt64 = 0
        var stream: UInt64 = 0
        do {
            var writer = try PodSyncCore.Store.open(directory: dir, schema: schema, role: .writer, options: StoreOptions(),
                                                    durability: durability, info: &info)
            #expect(info.created)
            for k in UInt64(1)...100 {
                var e = Entity(id: k, position: (Float(k), 0, 0), rotation: (0, 0, 0, 1), flags: 0)
                _ = try writer.put(table: 1, key: k, record: &e, size: 40)
            }
            _ = try writer.flush()
            for frame in Self.frames(writer) { _ = try frame.withUnsafeBytes { try replica.apply($0) } }
            try writer.checkpoint()
            var e = Entity(id: 5, position: (9, 9, 9), rotation: (0, 0, 0, 1), flags: 1)
            _ = try writer.put(table: 1, key: 5, record: &e, size: 40)
            _ = try writer.flush()
            for frame in Self.frames(writer) { _ = try frame.withUnsafeBytes { try replica.apply($0) } }
            digest = writer.digest
            stream = writer.streamID
        }
        info = OpenInfo()
        var reopened = try PodSyncCore.Store.open(directory: dir, schema: nil, role: nil, options: StoreOptions(),
                                                  durability: durability, info: &info)
        #expect(!info.created && !info.newTerm && info.restoredVersion == 2 && info.checkpointVersion == 1)
        #expect(reopened.digest == digest && reopened.streamID == stream && reopened.term == 0)
        // The replica is promoted when the writer is gone: its frames carry term 5.
        try replica.promote(to: 5)
        #expect(replica.role == .writer && replica.term == 5 && replica.history.entries.first?.startVersion == 2)
        var e = Entity(id: 6, position: (1, 1, 1), rotation: (0, 0, 0, 1), flags: 2)
        _ = try replica.put(table: 1, key: 6, record: &e, size: 40)
        _ = try replica.flush()
        let header = try Self.frames(replica)[0].withUnsafeBytes { try FrameReader.peek($0) }
        #expect(header.term == 5 && header.history.departure(from: 0) == 2)
        _ = try reopened.flush()
    }
}
