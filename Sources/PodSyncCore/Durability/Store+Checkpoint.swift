import Glibc

/// A checkpoint being written: a chunked snapshot of the store's state at one version, streamed
/// to a temporary file chunk by chunk while the store keeps working, then made durable and
/// renamed into place (docs/FORMAT.md, "Checkpoint files").
public final class CheckpointWriter {
    var stream: SnapshotStream
    let files: DurableFiles
    let fd: Int32
    let number: UInt64
    let tempPath: String
    let finalPath: String
    let logSegment: UInt64
    var logOffset = 0
    var frames: UInt64 = 0
    public internal(set) var bytesWritten = 0
    public internal(set) var finished = false
    var closed = false
    var versions: [UInt8] = []

    init(stream: consuming SnapshotStream, files: DurableFiles, fd: Int32, number: UInt64, logSegment: UInt64) {
        self.stream = stream
        self.files = files
        self.fd = fd
        self.number = number
        tempPath = files.path(DurableFiles.checkpointName(number) + ".tmp")
        finalPath = files.path(DurableFiles.checkpointName(number))
        self.logSegment = logSegment
    }

    /// The version the checkpoint describes.
    public var version: UInt64 { stream.image.version }

    /// Abandons an unfinished checkpoint: its temporary file goes.
    public func abandon() {
        guard !closed else { return }
        closed = true
        close(fd)
        if !finished { FileIO.remove(tempPath) }
        files.checkpointInFlight = false
    }

    deinit { abandon() }

    func write(_ kind: DurableFormat.Kind, _ body: UnsafeRawBufferPointer) throws(PodSyncError) {
        try DurableFormat.withBlock(kind, body) { (pieces) throws(PodSyncError) in
            try FileIO.write(fd, pieces, path: tempPath)
            bytesWritten &+= pieces.reduce(0) { $0 &+ $1.count }
        }
    }

    func write(_ kind: DurableFormat.Kind, _ bytes: [UInt8]) throws(PodSyncError) {
        try withBytes(bytes) { (b) throws(PodSyncError) in try write(kind, b) }
    }
}

extension Store {
    /// Chunks of a checkpoint: large, so the file is written in big sequential pieces.
    static let checkpointChunkBytes = 4 << 20

    /// Starts a checkpoint of the state now (podsync_checkpoint_begin): writes the file's header,
    /// schema, state, dictionary and tombstones; the chunks follow step by step.
    public mutating func beginCheckpoint() throws(PodSyncError) -> CheckpointWriter {
        guard let files else { throw .invalid("this store has no files: open it with podsync_store_open to checkpoint it") }
        guard !files.checkpointInFlight else { throw .invalid("a checkpoint of this store is already being written") }
        guard !diverged && !refreshing else {
            throw PodSyncError(Status.diverged, "a diverged or refreshing replica's state is no writer's; it is not checkpointed (its log keeps what it applies)")
        }
        // Chunks of up to 4 MiB, or of max_frame_bytes when that is less (a host bounding its
        // frames bounds the memory of a checkpoint step too).
        let frameLimit = options.maxFrameBytes == 0 ? Store.checkpointChunkBytes : Int(clamping: options.maxFrameBytes)
        let limit = max(min(Store.checkpointChunkBytes, frameLimit), Store.minChunkBytes)
        var id: UInt64 = 0
        while id == 0 { id = UInt64.random(in: 1...UInt64.max) }
        var stream = SnapshotStream(image: makeImage(id: id), table: 0, position: 0, chunkIndex: 0, maxChunkBytes: limit)
        stream.wantsVersions = true
        let number = files.nextCheckpointNumber
        files.nextCheckpointNumber &+= 1
        let tempPath = files.path(DurableFiles.checkpointName(number) + ".tmp")
        let fd = try FileIO.create(tempPath)
        var state = durableState(policy: files.options.logPolicy)
        state.logSegment = files.logFD >= 0 ? files.logNumber : 0
        state.logOffset = UInt64(files.logLength)
        files.checkpointInFlight = true
        let writer = CheckpointWriter(stream: stream, files: files, fd: fd, number: number, logSegment: state.logSegment)
        writer.logOffset = files.logLength
        do throws(PodSyncError) {
            let header = DurableFormat.fileHeader(magic: DurableFormat.checkpointMagic, schemaHash: schemaHash,
                                                  streamID: state.streamID, version: version)
            try withBytes(header) { (h) throws(PodSyncError) in
                try FileIO.write(fd, [h], path: tempPath)
                writer.bytesWritten &+= h.count
            }
            try writer.write(.schema, schema.canonicalEncoding())
            try writer.write(.state, state.encoded())
            if let dictionary = currentDictionary { try writer.write(.dictionary, dictionary.bytes) }
            try writer.write(.tombstones, encodedTombstones())
        } catch {
            writer.abandon()
            throw error
        }
        return writer
    }

    /// The alive tombstones of every table: table id u32, 0 u32, count u64, then (key, version)
    /// pairs in version order.
    func encodedTombstones() -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        for t in 0..<tableCount {
            let entries = tables[t].tombstones.entries.base
            let count = tables[t].tombstones.entries.count
            var alive = 0
            for i in tables[t].tombstones.start..<count where entries[i].alive { alive &+= 1 }
            guard alive > 0 else { continue }
            put(schema.tables[t].id)
            put(UInt32(0))
            put(UInt64(alive))
            for i in tables[t].tombstones.start..<count where entries[i].alive {
                put(entries[i].key)
                put(entries[i].version)
            }
        }
        return out
    }

    /// Writes chunks of the checkpoint: about `maxBytes` (0: all). Returns true when the
    /// checkpoint is complete and durable. On error the checkpoint is abandoned.
    public mutating func stepCheckpoint(_ writer: CheckpointWriter, maxBytes: Int) throws(PodSyncError) -> Bool {
        guard !writer.closed else { throw .invalid("this checkpoint was abandoned after an error; begin a new one") }
        guard !writer.finished else { return true }
        do throws(PodSyncError) {
            let start = writer.bytesWritten
            while !writer.stream.finished {
                guard let chunk = try nextChunk(&writer.stream) else { break }
                try writer.write(.frame, chunk)
                writer.frames &+= 1
                // The versions of the chunk's records, in the chunk's order, as V - version.
                let V = writer.stream.image.version
                writer.versions.removeAll(keepingCapacity: true)
                let entries = writer.stream.merged.base
                for i in 0..<writer.stream.merged.count {
                    var d = V &- entries[i].version
                    while d >= 0x80 {
                        writer.versions.append(UInt8(truncatingIfNeeded: d) | 0x80)
                        d >>= 7
                    }
                    writer.versions.append(UInt8(truncatingIfNeeded: d))
                }
                try writer.write(.versions, writer.versions)
                if maxBytes != 0 && writer.bytesWritten &- start >= maxBytes { return false }
            }
            try finishCheckpoint(writer)
            return true
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// END, fsync, rename, fsync of the directory; then a new log segment and the old files go.
    mutating func finishCheckpoint(_ writer: CheckpointWriter) throws(PodSyncError) {
        let files = writer.files
        var end = [UInt8](repeating: 0, count: 16)
        end.withUnsafeMutableBytes { p in
            p.baseAddress!.storeLE(writer.frames, at: 0)
            p.baseAddress!.storeLE(writer.stream.image.recordCount, at: 8)
        }
        try writer.write(.end, end)
        try FileIO.sync(writer.fd, path: writer.tempPath)
        try FileIO.rename(writer.tempPath, writer.finalPath)
        writer.finished = true
        writer.abandon()  // closes the descriptor; the file stays
        try FileIO.syncDirectory(files.directory)
        files.checkpoints.append((writer.number, writer.logSegment))
        files.durableVersion = max(files.durableVersion, writer.version)
        // The log continues in a fresh segment from the store's version now: the changes between
        // the checkpoint's version and now are in the segments it names. A failed log is healed
        // only by a checkpoint of the state it failed at (nothing in between went unlogged).
        if files.logFailed && writer.version != version {
            throw PodSyncError(Status.io, "checkpoint of version \(writer.version) written, but the log failed and the store is at version \(version) now; checkpoint again to resume")
        }
        // The log bytes an open must replay after this checkpoint: those logged since it began.
        let carried = writer.logSegment == files.logNumber ? UInt64(max(files.logLength &- writer.logOffset, 0)) : files.logBytes
        if files.options.logPolicy != .none {
            do {
                try files.startSegment(schemaHash: schemaHash, streamID: bound ? streamID : 0, version: version,
                                       state: durableState(policy: files.options.logPolicy))
                files.logBytes = carried
            } catch {
                // The checkpoint is complete; a healthy log simply goes on in its segment. A failed
                // one needs the fresh segment.
                if files.logFailed { throw error }
            }
        }
        files.logFailed = false
        files.writtenVersion = version
        // The segment before was synced as it closed, except with policy os.
        let policy = files.options.logPolicy
        files.durableVersion = policy == .everyFrame || policy == .interval ? version : max(files.durableVersion, writer.version)
        files.removeOldFiles()
    }

    /// podsync_store_checkpoint: a whole checkpoint now.
    public mutating func checkpoint() throws(PodSyncError) {
        let writer = try beginCheckpoint()
        _ = try stepCheckpoint(writer, maxBytes: 0)
    }
}
