import CNats
import Glibc
import CPodSync
import CPodSyncNATS

/// The newest complete snapshot, as its marker on `podsync.<name>.snap.done` describes it.
struct SnapshotMarker: Equatable {
    var markerSequence: UInt64
    var snapshotID: String
    var streamID: UInt64
    var term: UInt64
    var version: UInt64
    var chunks: UInt64
    var firstSequence: UInt64
    var lastSequence: UInt64
    /// The frame stream's sequence the snapshot covers: frames continue after it.
    var frameSequence: UInt64

    /// Reads a marker, refusing one whose headers are missing or contradict each other.
    init(_ message: Message, sequence: UInt64) throws(CarrierError) {
        func need(_ key: String, radix: Int = 10) throws(CarrierError) -> UInt64 {
            guard let v = message.number(key, radix: radix) else {
                throw CarrierError(PODSYNC_NATS_E_NOT_A_MESSAGE, "a snapshot marker without a valid \(key) header")
            }
            return v
        }
        markerSequence = sequence
        snapshotID = message.header("PodSync-Snapshot") ?? ""
        streamID = try need("PodSync-Stream", radix: 16)
        term = try need("PodSync-Term")
        version = try need("PodSync-Version")
        chunks = try need("PodSync-Chunks")
        firstSequence = try need("PodSync-First-Seq")
        lastSequence = try need("PodSync-Last-Seq")
        frameSequence = try need("PodSync-Frame-Seq")
        guard snapshotID.utf8.count == 16, chunks >= 1, firstSequence >= 1, lastSequence >= firstSequence,
              lastSequence &- firstSequence == chunks &- 1, lastSequence < sequence else {
            throw CarrierError(PODSYNC_NATS_E_NOT_A_MESSAGE, "a snapshot marker whose chunk sequences contradict its chunk count")
        }
    }
}

/// Applies a stream's frames to a replica store (podsync_nats_follower_*; docs/NATS.md).
public final class Follower {
    let store: EngineStore
    let link: Link
    let names: StreamNames
    /// The ordered consumer delivering the frame stream from `nextSequence`.
    var subscription: OpaquePointer? = nil
    var subscribedAtReconnects: UInt64 = 0
    /// The frame stream's sequence to apply next (0: not started).
    public private(set) var nextSequence: UInt64 = 0
    /// The replica needs the newest snapshot (bootstrap, a gap the stream cannot fill, a diverged
    /// history).
    var needsSnapshot = false
    /// The marker of the last snapshot taken: the same one is not taken twice for one problem.
    var lastMarkerTaken: UInt64 = 0
    var lastMarkerCheckMs: UInt64 = 0
    var idleBehind: IdleBehind? = nil
    var badMarker: UInt64 = 0
    var buffer = AlignedBuffer()
    public private(set) var stats = Stats()
    public private(set) var lastMessage = ""
    /// Republishes what this follower applies to another stream (a region's server).
    public private(set) var relay: Publisher? = nil

    /// Starts relaying: every frame applied from now on is republished to `stream` at `url`, with
    /// snapshots of the replica beside them (podsync_nats_follower_relay).
    public func startRelay(url: String, stream: String, options: CarrierOptions) throws(CarrierError) {
        guard relay == nil else { throw .invalid("this follower relays already") }
        relay = try Publisher(store: store.handle, url: url, stream: stream, options: options, relay: true)
    }

    public struct Stats: Sendable {
        public var framesApplied: UInt64 = 0
        public var duplicates: UInt64 = 0
        public var snapshotsTaken: UInt64 = 0
        public var gapsRepaired: UInt64 = 0
        public var rejected: UInt64 = 0
        public var bytesReceived: UInt64 = 0
        public var lastRejectedStatus: Int32 = 0
    }

    /// Most messages one poll applies (bounded work per call).
    static let maxMessagesPerPoll = 4096
    /// Largest gap repaired by sequence; past it the newest snapshot is cheaper.
    static let maxRepair: UInt64 = 4096

    public var connected: Bool { link.connected }
    public var reconnects: UInt64 { link.counters.reconnects.load(ordering: .relaxed) }

    public init(store handle: OpaquePointer, url: String, stream: String, options: CarrierOptions) throws(CarrierError) {
        store = EngineStore(handle: handle)
        names = try StreamNames(stream)
        guard try store.info().role == UInt32(PODSYNC_ROLE_REPLICA) else {
            throw CarrierError(PODSYNC_E_WRONG_ROLE, "a follower needs a replica store")
        }
        link = try Link(url: url, options: options)
    }

    deinit { unsubscribe() }

    func unsubscribe() {
        if let subscription {
            natsSubscription_Unsubscribe(subscription)
            natsSubscription_Destroy(subscription)
        }
        subscription = nil
    }

    /// Applies what arrived (podsync_nats_follower_poll).
    public func poll(timeoutMs: UInt64) throws(CarrierError) -> Int {
        var applied = 0
        if subscription == nil || needsSnapshot || subscribedAtReconnects != reconnects {
            try start(&applied)
        }
        var wait = Int64(clamping: timeoutMs)
        for _ in 0..<Follower.maxMessagesPerPoll {
            guard let subscription else { break }
            var msg: OpaquePointer? = nil
            let s = natsSubscription_NextMsg(&msg, subscription, wait)
            if s == NATS_TIMEOUT { break }
            guard s == NATS_OK, let msg else {
                // A consumer the server lost (restart, missed heartbeats, slow consumer): start
                // again from the next sequence at the next poll.
                unsubscribe()
                throw carrierError(s, "reading \(names.frameSubject)")
            }
            wait = 0
            let message = Message(msg)
            try receive(message, applied: &applied)
            if needsSnapshot || self.subscription == nil { break }
        }
        if needsSnapshot { try start(&applied) }
        if applied == 0 && subscription != nil { try checkWhileIdle(&applied) }
        // The relay goes last: a failure there keeps its frames queued and is reported, but
        // what this follower applied stays applied.
        try relay?.relayTick()
        if subscription == nil && applied == 0 && timeoutMs > 0 {
            // Waiting for a newer snapshot: do not spin a caller that polls in a loop.
            usleep(UInt32(min(timeoutMs, 200)) * 1000)
        }
        return applied
    }

    /// Positions the follower: the newest snapshot if the replica needs it, then an ordered
    /// consumer from the frame after what the replica holds.
    func start(_ applied: inout Int) throws(CarrierError) {
        unsubscribe()
        let info = try store.info()
        if nextSequence > 0 && !needsSnapshot && info.diverged == 0 && info.refreshing == 0 {
            // Following already (a reconnect, a consumer the server lost): resume from the next
            // sequence, with no look at the snapshots (whose stream may still be electing a
            // leader after a cluster restart).
            try subscribe()
            return
        }
        guard try link.streamState(names.frames) != nil else {
            throw CarrierError(PODSYNC_NATS_E_STREAM_MISSING, "the stream \(names.frames) does not exist (yet)")
        }
        let marker = try newestMarker()
        if let marker {
            // A follower already following continues with frames (the stream repairs or sends it
            // to the snapshot if it no longer holds them); a new one behind the snapshot takes it.
            let fresh = nextSequence == 0
            let behind = info.state_version < marker.version
            let foreign = info.stream_id != 0 && info.stream_id != marker.streamID
            if needsSnapshot || info.diverged != 0 || info.refreshing != 0 || fresh && (behind || foreign) {
                if needsSnapshot && marker.markerSequence == lastMarkerTaken {
                    // The snapshot already taken did not heal it: wait for a newer one.
                    lastMessage = "waiting for a snapshot newer than version \(marker.version)"
                    return
                }
                try take(marker, &applied)
            } else if nextSequence == 0 || nextSequence <= marker.frameSequence && info.state_version >= marker.version {
                nextSequence = marker.frameSequence &+ 1
            }
        } else if nextSequence == 0 {
            nextSequence = 1
        }
        needsSnapshot = false
        try subscribe()
    }

    /// Frames a publisher never published (too large, dropped past its pending limit) leave a
    /// follower behind with nothing more to read until the writer writes again: at most once a
    /// second, an idle follower looks at the newest snapshot, and one that stays behind it over
    /// two looks (with nothing arriving between: not a frame in flight) takes it.
    func checkWhileIdle(_ applied: inout Int) throws(CarrierError) {
        let now = podsyncnats_monotonic_ms()
        guard now &- lastMarkerCheckMs >= 1000 else { return }
        lastMarkerCheckMs = now
        guard let subscription else { return }
        var queued: UInt64 = 0
        _ = natsSubscription_QueuedMsgs(subscription, &queued)
        guard queued == 0 else { idleBehind = nil; return }
        let info = try store.info()
        guard let marker = try newestMarker(), marker.version > info.state_version, marker.markerSequence != lastMarkerTaken else {
            idleBehind = nil
            return
        }
        let seen = IdleBehind(version: info.state_version, marker: marker.markerSequence)
        if idleBehind == seen {
            idleBehind = nil
            needsSnapshot = true
            lastMessage = "idle at version \(info.state_version) behind the snapshot at \(marker.version): taking it"
            try start(&applied)
        } else {
            idleBehind = seen
        }
    }

    struct IdleBehind: Equatable {
        var version: UInt64
        var marker: UInt64
    }

    /// The newest valid snapshot marker. A marker that is not valid (someone else published on
    /// the subject) is skipped and counted, and the ones before it are looked at, at most 256
    /// messages back.
    func newestMarker() throws(CarrierError) -> SnapshotMarker? {
        guard let message = try link.lastMessage(names.snapshots, subject: names.doneSubject) else { return nil }
        var sequence = message.streamSequence ?? 0
        do throws(CarrierError) {
            return try SnapshotMarker(message, sequence: sequence)
        } catch {
            if badMarker != sequence {  // counted once, however often it is looked at
                badMarker = sequence
                reject(error.code, "\(names.doneSubject) at \(sequence): \(error.message)")
            }
        }
        var looked = 0
        while sequence > 1 && looked < 256 {
            sequence &-= 1
            looked &+= 1
            guard let older = try link.message(names.snapshots, sequence) else { continue }
            guard natsMsg_GetSubject(older.msg).map({ String(cString: $0) }) == names.doneSubject else { continue }
            if let marker = try? SnapshotMarker(older, sequence: sequence) { return marker }
        }
        return nil
    }

    /// Applies a complete snapshot's chunks, read by sequence from the snapshot stream.
    func take(_ first: SnapshotMarker, _ applied: inout Int) throws(CarrierError) {
        var marker = first
        attempts: for _ in 0..<3 {
            var sequence = marker.firstSequence
            while sequence <= marker.lastSequence {
                guard let message = try link.message(names.snapshots, sequence) else {
                    // A newer snapshot replaced it meanwhile: take that one.
                    guard let newer = try newestMarker(), newer != marker else { break attempts }
                    marker = newer
                    continue attempts
                }
                guard message.header("PodSync-Snapshot") == marker.snapshotID else {
                    throw CarrierError(PODSYNC_NATS_E_NOT_A_MESSAGE, "snapshot chunk \(sequence) does not belong to snapshot \(marker.snapshotID)")
                }
                stats.bytesReceived &+= UInt64(message.data.count)
                let status = store.apply(buffer.copy(message.data))
                switch status {
                case PODSYNC_OK, PODSYNC_CHUNK_STAGED, PODSYNC_REFRESHING:
                    stats.framesApplied &+= 1
                    applied &+= 1
                case PODSYNC_DUPLICATE, PODSYNC_STALE:
                    stats.duplicates &+= 1
                default:
                    throw CarrierError(status, "snapshot chunk \(sequence) of \(names.snapshots): \(store.message)")
                }
                sequence &+= 1
            }
            stats.snapshotsTaken &+= 1
            relay?.snapshotOwed = true
            lastMarkerTaken = marker.markerSequence
            nextSequence = marker.frameSequence &+ 1
            return
        }
        throw CarrierError(PODSYNC_NATS_E_NOT_A_MESSAGE, "the snapshot stream \(names.snapshots) changed under every attempt to read it")
    }

    /// An ordered consumer of the frame stream from `nextSequence`.
    func subscribe() throws(CarrierError) {
        var options = jsSubOptions()
        jsSubOptions_Init(&options)
        options.Ordered = true
        options.Config.DeliverPolicy = js_DeliverByStartSequence
        options.Config.OptStartSeq = max(nextSequence, 1)
        var sub: OpaquePointer? = nil
        var jsErr = jsErrCode(rawValue: 0)
        let s = names.frames.withCString { stream in
            options.Stream = stream
            return js_SubscribeSync(&sub, link.jetStream, names.frameSubject, nil, &options, &jsErr)
        }
        guard s == NATS_OK, let sub else { throw carrierError(s, "cannot consume \(names.frameSubject)", jsErr) }
        subscription = sub
        subscribedAtReconnects = reconnects
    }

    /// Applies one delivered message.
    func receive(_ message: Message, applied: inout Int) throws(CarrierError) {
        guard let sequence = message.streamSequence else {
            reject(PODSYNC_NATS_E_NOT_A_MESSAGE, "a message without a stream sequence on \(names.frameSubject)")
            return
        }
        if sequence < nextSequence { return }  // delivered again after a restart
        if sequence > nextSequence && nextSequence > 0 {
            // The consumer skipped sequences (the stream dropped them, or they were deleted).
            try repair(from: nextSequence, to: sequence, applied: &applied)
            if needsSnapshot { return }
        }
        try apply(message, sequence: sequence, applied: &applied, repairing: false)
    }

    func apply(_ message: Message, sequence: UInt64, applied: inout Int, repairing: Bool) throws(CarrierError) {
        let data = message.data
        stats.bytesReceived &+= UInt64(data.count)
        let frame = buffer.copy(data)
        let status = store.apply(frame)
        switch status {
        case PODSYNC_OK, PODSYNC_REFRESHING, PODSYNC_CHUNK_STAGED:
            stats.framesApplied &+= 1
            applied &+= 1
            if let relay {
                if status == PODSYNC_OK { relay.enqueue(frame) } else { relay.snapshotOwed = true }
            }
        case PODSYNC_DUPLICATE, PODSYNC_STALE:
            stats.duplicates &+= 1
        case PODSYNC_GAP:
            // The consumer delivers every sequence the stream holds, so the versions in between
            // are not in it (a publisher dropped them, or limits trimmed them): the snapshot.
            needsSnapshot = true
            lastMessage = "sequence \(sequence) starts past the replica's version: taking the newest snapshot"
            nextSequence = sequence
            return
        case PODSYNC_E_HISTORY_DIVERGED, PODSYNC_E_DIGEST_MISMATCH, PODSYNC_E_DIVERGED:
            needsSnapshot = true
            lastMessage = "sequence \(sequence): \(store.message): taking the newest snapshot"
            nextSequence = sequence &+ 1
            return
        case PODSYNC_E_STREAM_MISMATCH:
            // A new writer took over the stream (its snapshot is the newest one), or a stranger
            // published here (then it is skipped).
            if let info = peek(frame), let marker = try newestMarker(), marker.streamID == info.stream_id,
               marker.markerSequence != lastMarkerTaken {
                needsSnapshot = true
                nextSequence = sequence &+ 1
                return
            }
            reject(status, "sequence \(sequence): \(store.message)")
        default:
            reject(status, "sequence \(sequence): \(store.message)")
        }
        nextSequence = sequence &+ 1
    }

    /// Fills sequences [from, to) from the stream by sequence.
    func repair(from: UInt64, to: UInt64, applied: inout Int) throws(CarrierError) {
        guard to &- from <= Follower.maxRepair else {
            needsSnapshot = true
            return
        }
        var sequence = from
        while sequence < to {
            guard let message = try link.message(names.frames, sequence) else {
                // Gone from the stream: what is missing may be frames the replica needs.
                sequence &+= 1
                continue
            }
            try apply(message, sequence: sequence, applied: &applied, repairing: true)
            if needsSnapshot { return }
            sequence &+= 1
        }
        stats.gapsRepaired &+= 1
        nextSequence = to
    }

    func reject(_ status: Int32, _ message: String) {
        stats.rejected &+= 1
        stats.lastRejectedStatus = status
        lastMessage = message
    }
}
