import CNats
import CPodSync
import CPodSyncNATS

/// Publishes a writer store's frames to its JetStream stream, and snapshots beside them
/// (podsync_nats_publisher_*; docs/NATS.md).
public final class Publisher {
    let store: EngineStore
    let link: Link
    let names: StreamNames
    /// Frames flushed but not yet acknowledged by the stream, oldest first.
    var pending: [FrameCopy] = []
    var pendingBytes = 0
    /// Past this many bytes pending, frames are dropped and a snapshot heals the followers.
    static let maxPendingBytes = 64 << 20
    var snapshotOwed = false
    var lastSnapshotVersion: UInt64 = 0
    var lastSnapshotMs: UInt64 = 0
    /// The frame stream's sequence the newest snapshot covers.
    var snapshotFrameSequence: UInt64 = 0
    var lastCoverageCheckMs: UInt64 = 0
    /// A due snapshot being published a chunk per flush.
    var inFlight: SnapshotInFlight? = nil
    public private(set) var stats = Stats()

    public struct Stats: Sendable {
        public var framesPublished: UInt64 = 0
        public var bytesPublished: UInt64 = 0
        public var framesDropped: UInt64 = 0
        public var snapshotsPublished: UInt64 = 0
        public var snapshotVersion: UInt64 = 0
        public var lastSequence: UInt64 = 0
    }

    public var framesPending: Int { pending.count }
    public var connected: Bool { link.connected }
    public var reconnects: UInt64 { link.counters.reconnects.load(ordering: .relaxed) }

    /// Connects, creates the streams if missing and publishes a first snapshot.
    /// A relay republishes the frames a follower applies to its replica (`Follower.relay`).
    let relay: Bool

    public convenience init(store handle: OpaquePointer, url: String, stream: String, options: CarrierOptions) throws(CarrierError) {
        try self.init(store: handle, url: url, stream: stream, options: options, relay: false)
    }

    init(store handle: OpaquePointer, url: String, stream: String, options: CarrierOptions, relay: Bool) throws(CarrierError) {
        store = EngineStore(handle: handle)
        names = try StreamNames(stream)
        self.relay = relay
        guard try store.info().role == UInt32(relay ? PODSYNC_ROLE_REPLICA : PODSYNC_ROLE_WRITER) else {
            throw CarrierError(PODSYNC_E_WRONG_ROLE, relay ? "a relay republishes a replica's frames" : "a publisher needs a writer store")
        }
        link = try Link(url: url, options: options)
        try createStream(names.frames, subjects: [names.frameSubject], limits: true)
        try createStream(names.snapshots, subjects: [names.chunkSubject, names.doneSubject], limits: false)
        stats.lastSequence = try link.streamState(names.frames)?.LastSeq ?? 0
        // Fencing at the carrier: a writer of an older term than the stream's newest snapshot
        // (an old writer that came back after a promotion) does not replace that snapshot.
        if let message = try link.lastMessage(names.snapshots, subject: names.doneSubject),
           let marker = try? SnapshotMarker(message, sequence: message.streamSequence ?? 0) {
            let term = try store.info().term
            guard marker.term <= term else {
                throw CarrierError(PODSYNC_E_TERM_FENCED,
                                   "the stream \(names.frames) is written in term \(marker.term) (its newest snapshot), newer than this writer's term \(term): it was replaced (promotion)")
            }
        }
        // A relay whose replica follows nothing yet publishes its first snapshot once it does.
        let bound = try store.info().stream_id != 0
        if relay && !bound {
            snapshotOwed = true
        } else {
            try publishSnapshot()
        }
    }

    /// Relay: queues a frame its follower applied.
    func enqueue(_ frame: UnsafeRawBufferPointer) {
        guard !snapshotOwed, let info = peek(frame) else { return }
        pending.append(FrameCopy(frame, info: info))
        pendingBytes &+= frame.count
        if pendingBytes > Publisher.maxPendingBytes {
            pending.removeAll()
            pendingBytes = 0
            snapshotOwed = true
        }
    }

    /// Relay: publishes the queued frames, or a snapshot when the replica took one (the frames
    /// before it are in it) or one is due.
    func relayTick() throws(CarrierError) {
        if snapshotOwed {
            pending.removeAll()
            pendingBytes = 0
            let info = try store.info()
            guard info.stream_id != 0 && info.diverged == 0 && info.refreshing == 0 else { return }
            try publishSnapshot()
            return
        }
        _ = try publishPending()
        try stepDueSnapshot()
    }

    /// Creates a stream unless it exists (an existing one is used as it is).
    func createStream(_ name: String, subjects: [String], limits: Bool) throws(CarrierError) {
        if try link.streamState(name) != nil { return }
        let options = link.options
        var config = jsStreamConfig()
        jsStreamConfig_Init(&config)
        var jsErr = jsErrCode(rawValue: 0)
        var status = NATS_OK
        withCStrings([name] + subjects) { strings in
            config.Name = strings[0]
            var subjectPointers: [UnsafePointer<CChar>?] = Array(strings[1...])
            subjectPointers.withUnsafeMutableBufferPointer { subjectBuffer in
                config.Subjects = subjectBuffer.baseAddress
                config.SubjectsLen = Int32(subjectBuffer.count)
                config.Storage = options.memoryStorage ? js_MemoryStorage : js_FileStorage
                config.Replicas = Int64(max(options.replicas, 1))
                if limits {
                    config.MaxAge = Int64(clamping: options.maxAgeMs.multipliedReportingOverflow(by: 1_000_000).overflow ? UInt64(Int64.max) : options.maxAgeMs * 1_000_000)
                    config.MaxBytes = options.maxBytes == 0 ? -1 : Int64(clamping: options.maxBytes)
                }
                status = js_AddStream(nil, link.jetStream, &config, nil, &jsErr)
            }
        }
        // Another publisher may have created it meanwhile (JetStream error 10058: name in use).
        if status != NATS_OK && jsErr.rawValue != 10058 {
            throw carrierError(status, "cannot create the stream \(name)", jsErr)
        }
    }

    /// Flushes the store and publishes the frames (podsync_nats_publisher_flush).
    public func flush() throws(CarrierError) -> Int {
        let count = try store.flush()
        var tooLarge = false
        let limit = link.maxPayload - 4096
        for i in 0..<count {
            let bytes = try store.frame(i)
            guard let info = peek(bytes) else { throw CarrierError(PODSYNC_E_INTERNAL, "the store produced a frame it cannot read") }
            if bytes.count > limit {
                // Never published: followers heal from the snapshot below.
                tooLarge = true
                stats.framesDropped &+= 1
                snapshotOwed = true
                continue
            }
            pending.append(FrameCopy(bytes, info: info))
            pendingBytes &+= bytes.count
        }
        while pendingBytes > Publisher.maxPendingBytes, !pending.isEmpty {
            pendingBytes &-= pending.removeFirst().count
            stats.framesDropped &+= 1
            snapshotOwed = true
        }
        let published = try publishPending()
        if tooLarge {
            try publishSnapshot()
            throw CarrierError(PODSYNC_NATS_E_MSG_TOO_LARGE,
                               "a frame was larger than the server accepts (\(limit) bytes with headers): it was not published and a snapshot replaced it; set the store's max_frame_bytes below that")
        }
        if snapshotOwed {
            try publishSnapshot()
        } else {
            try stepDueSnapshot()
        }
        return published
    }

    func snapshotDue() -> Bool {
        guard let version = try? store.info().state_version, version > lastSnapshotVersion else { return false }
        // The newest snapshot plus the frames after it must always reach the present: once the
        // stream's limits trimmed a frame right after the snapshot, followers could not catch up
        // from it, so a new one is due (checked at most once a second: it costs a request).
        let now = podsyncnats_monotonic_ms()
        if now &- lastCoverageCheckMs >= 1000 {
            lastCoverageCheckMs = now
            if let state = try? link.streamState(names.frames), state.FirstSeq > snapshotFrameSequence &+ 1 { return true }
        }
        let options = link.options
        if options.snapshotEveryVersions > 0 && version &- lastSnapshotVersion >= options.snapshotEveryVersions { return true }
        if options.snapshotEveryMs > 0 && podsyncnats_monotonic_ms() &- lastSnapshotMs >= options.snapshotEveryMs { return true }
        return false
    }

    /// Publishes the pending frames in order, each acknowledged before the next; stops at the
    /// first failure (the rest stay pending).
    func publishPending() throws(CarrierError) -> Int {
        var published = 0
        while let frame = pending.first {
            let sequence = try publish(subject: names.frameSubject, frame.bytes, stream: names.frames,
                                       msgID: "\(hex16(frame.streamID))-\(frame.term)-\(frame.baseVersion)-\(frame.version)",
                                       headers: [("PodSync-Stream", hex16(frame.streamID)), ("PodSync-Term", String(frame.term)),
                                                 ("PodSync-Base", String(frame.baseVersion)), ("PodSync-Version", String(frame.version))])
            pending.removeFirst()
            pendingBytes &-= frame.count
            published &+= 1
            stats.framesPublished &+= 1
            stats.bytesPublished &+= UInt64(frame.count)
            stats.lastSequence = max(stats.lastSequence, sequence)
        }
        return published
    }

    /// Publishes one message and waits for the stream's acknowledgement; returns its sequence.
    func publish(subject: String, _ data: UnsafeRawBufferPointer, stream: String, msgID: String,
                 headers: [(String, String)]) throws(CarrierError) -> UInt64 {
        var msg: OpaquePointer? = nil
        var s = natsMsg_Create(&msg, subject, nil, data.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(data.count))
        guard s == NATS_OK, let msg else { throw carrierError(s, "cannot create a message") }
        defer { natsMsg_Destroy(msg) }
        for (key, value) in headers where s == NATS_OK { s = natsMsgHeader_Set(msg, key, value) }
        guard s == NATS_OK else { throw carrierError(s, "cannot set a message header") }
        var opts = jsPubOptions()
        jsPubOptions_Init(&opts)
        opts.MaxWait = Int64(clamping: link.options.timeoutMs)
        var ack: UnsafeMutablePointer<jsPubAck>? = nil
        var jsErr = jsErrCode(rawValue: 0)
        s = msgID.withCString { id in
            stream.withCString { streamName in
                opts.MsgId = id
                opts.ExpectStream = streamName
                return js_PublishMsg(&ack, link.jetStream, msg, &opts, &jsErr)
            }
        }
        guard s == NATS_OK, let ack else { throw carrierError(s, "cannot publish to \(subject)", jsErr) }
        defer { jsPubAck_Destroy(ack) }
        return ack.pointee.Sequence
    }

    /// Publishes a chunked snapshot of the store's state now, then removes the older ones.
    public func publishSnapshot() throws(CarrierError) {
        inFlight = nil  // a snapshot being spread over flushes is replaced by this one
        let snapshot = try beginSnapshot(chunkLimit: link.maxPayload - 4096)
        while try !step(snapshot) {}
    }

    /// Starts a snapshot of the store's state now; its chunks follow with `step`.
    func beginSnapshot(chunkLimit: Int) throws(CarrierError) -> SnapshotInFlight {
        // Frames still pending go first, so the snapshot's frame position covers them.
        _ = try publishPending()
        let limit = max(min(chunkLimit, 4 << 20), Int(PODSYNC_MIN_CHUNK_BYTES))
        var handle: OpaquePointer? = nil
        let begun = podsync_snapshot_begin(store.handle, limit, &handle)
        guard begun == PODSYNC_OK, let handle else { throw CarrierError(begun, "snapshot: \(store.message)") }
        return SnapshotInFlight(handle, frameSequence: stats.lastSequence)
    }

    /// Publishes the snapshot's next chunk, or, after the last, its marker (then removes the
    /// older snapshots); true when the snapshot is complete. A chunk whose publish failed is
    /// published again at the next step (same message id: stored once).
    func step(_ snapshot: SnapshotInFlight) throws(CarrierError) -> Bool {
        if snapshot.chunk == nil {
            var data: UnsafePointer<UInt8>? = nil
            var size = 0
            let s = podsync_snapshot_next(snapshot.handle, &data, &size)
            if s == PODSYNC_DONE {
                try finish(snapshot)
                return true
            }
            guard s == PODSYNC_OK, let data else {
                throw CarrierError(s, "snapshot chunk: \(podsync_snapshot_errmsg(snapshot.handle).map { String(cString: $0) } ?? "")")
            }
            snapshot.chunk = UnsafeRawBufferPointer(start: data, count: size)
        }
        guard let chunk = snapshot.chunk else { return false }
        let sequence = try publish(subject: names.chunkSubject, chunk, stream: names.snapshots,
                                   msgID: "chunk-\(snapshot.id)-\(snapshot.chunks)",
                                   headers: [("PodSync-Snapshot", snapshot.id), ("PodSync-Chunk", String(snapshot.chunks))])
        snapshot.chunk = nil
        if snapshot.chunks == 0 { snapshot.first = sequence }
        snapshot.last = sequence
        snapshot.chunks &+= 1
        return false
    }

    func finish(_ snapshot: SnapshotInFlight) throws(CarrierError) {
        let position = snapshot.position
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        _ = try publish(subject: names.doneSubject, empty, stream: names.snapshots, msgID: "done-\(snapshot.id)", headers: [
            ("PodSync-Snapshot", snapshot.id), ("PodSync-Stream", hex16(position.stream_id)), ("PodSync-Term", String(position.term)),
            ("PodSync-Version", String(position.state_version)), ("PodSync-Chunks", String(snapshot.chunks)),
            ("PodSync-First-Seq", String(snapshot.first)), ("PodSync-Last-Seq", String(snapshot.last)),
            ("PodSync-Frame-Seq", String(snapshot.frameSequence)),
        ])
        // Older snapshots (and their markers) go: everything before this one's first chunk. (Only
        // when there is something before it: JetStream takes a purge up to the stream's first
        // sequence for a purge of everything.) Best effort: the new snapshot is complete and
        // followers take the newest marker, so a purge a cluster refuses for a moment (JetStream
        // error 10008, "temporarily unavailable", during a leader election) is left to the next
        // snapshot's, which removes everything before it.
        if let state = try? link.streamState(names.snapshots), state.FirstSeq < snapshot.first {
            var jsOpts = jsOptions()
            jsOptions_Init(&jsOpts)
            jsOpts.Stream.Purge.Sequence = snapshot.first
            var jsErr = jsErrCode(rawValue: 0)
            _ = js_PurgeStream(link.jetStream, names.snapshots, &jsOpts, &jsErr)
        }
        snapshotFrameSequence = snapshot.frameSequence
        snapshotOwed = false
        lastSnapshotVersion = position.state_version
        lastSnapshotMs = podsyncnats_monotonic_ms()
        stats.snapshotsPublished &+= 1
        stats.snapshotVersion = position.state_version
    }

    /// A snapshot that is due is spread over flushes, a chunk of at most 256 KiB each, so no
    /// flush stalls the writer's loop for the whole state (the engine keeps the snapshot's image
    /// by copy-on-write while the writer goes on).
    static let steppedChunkBytes = 256 << 10

    func stepDueSnapshot() throws(CarrierError) {
        if inFlight == nil {
            guard snapshotDue() else { return }
            inFlight = try beginSnapshot(chunkLimit: min(link.maxPayload - 4096, Publisher.steppedChunkBytes))
        }
        guard let snapshot = inFlight else { return }
        do throws(CarrierError) {
            if try step(snapshot) { inFlight = nil }
        } catch {
            // A chunk that could not be published is published again at the next flush; a
            // snapshot the engine could not continue (a relay's replica whose state a snapshot
            // replaced: SNAPSHOT_EXPIRED) is dropped, and the next due one starts afresh.
            if snapshot.chunk == nil { inFlight = nil }
            if error.code == PODSYNC_E_SNAPSHOT_EXPIRED { return }
            throw error
        }
    }
}

/// A snapshot being published: the engine's handle, the chunk being published (borrowed from
/// the handle until its next chunk), and the sequences of the chunks so far.
final class SnapshotInFlight {
    let handle: OpaquePointer
    let position: podsync_chunk_position
    let id: String
    let frameSequence: UInt64
    var chunk: UnsafeRawBufferPointer? = nil
    var first: UInt64 = 0
    var last: UInt64 = 0
    var chunks: UInt64 = 0

    init(_ handle: OpaquePointer, frameSequence: UInt64) {
        self.handle = handle
        var position = podsync_chunk_position()
        position.version = UInt32(PODSYNC_CHUNK_POSITION_VERSION)
        _ = podsync_snapshot_position(handle, &position)
        self.position = position
        id = hex16(position.snapshot_id)
        self.frameSequence = frameSequence
    }

    deinit { podsync_snapshot_free(handle) }
}

/// Runs `body` with NUL-terminated copies of the strings, valid during the call.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { s -> UnsafeMutablePointer<CChar> in
        let utf8 = Array(s.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
        p.initialize(from: utf8, count: utf8.count)
        return p
    }
    defer { copies.forEach { $0.deallocate() } }
    return body(copies.map { UnsafePointer($0) })
}
