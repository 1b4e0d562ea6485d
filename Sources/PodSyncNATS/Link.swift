import CNats
import CPodSync
import CPodSyncNATS
import Synchronization

/// A carrier error: a status (PODSYNC_NATS_E_* or an engine status) and its message.
public struct CarrierError: Error, Sendable {
    public let code: Int32
    public let message: String

    public init(_ code: Int32, _ message: String) {
        self.code = code
        self.message = message
    }

    static func invalid(_ message: String) -> CarrierError { CarrierError(PODSYNC_E_INVALID_ARGUMENT, message) }
}

/// What a libnats status means for the carrier.
func carrierError(_ status: natsStatus, _ what: String, _ jsError: jsErrCode = jsErrCode(rawValue: 0)) -> CarrierError {
    let text = natsStatus_GetText(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
    var detail = ""
    var last = NATS_OK
    if let l = nats_GetLastError(&last), last != NATS_OK { detail = ": " + String(cString: l) }
    let code: Int32
    switch status {
    case NATS_TIMEOUT: code = PODSYNC_NATS_E_TIMEOUT
    case NATS_CONNECTION_CLOSED, NATS_NO_SERVER, NATS_CONNECTION_DISCONNECTED, NATS_STALE_CONNECTION,
         NATS_NOT_YET_CONNECTED, NATS_IO_ERROR, NATS_NO_RESPONDERS, NATS_CONNECTION_AUTH_FAILED, NATS_SECURE_CONNECTION_REQUIRED:
        code = PODSYNC_NATS_E_CONNECTION
    case NATS_MAX_PAYLOAD: code = PODSYNC_NATS_E_MSG_TOO_LARGE
    case NATS_INVALID_ARG, NATS_INVALID_SUBJECT: code = PODSYNC_E_INVALID_ARGUMENT
    default: code = PODSYNC_NATS_E_SERVER
    }
    let js = jsError.rawValue != 0 ? " (JetStream error \(jsError.rawValue))" : ""
    return CarrierError(code, "\(what): \(text)\(js)\(detail)")
}

/// Carrier options, validated (podsync_nats_options).
public struct CarrierOptions: Sendable {
    public var memoryStorage = false
    public var replicas = 1
    public var maxReconnects: Int32 = -1
    public var maxAgeMs: UInt64 = 0
    public var maxBytes: UInt64 = 0
    public var snapshotEveryVersions: UInt64 = 600
    public var snapshotEveryMs: UInt64 = 10_000
    public var timeoutMs: UInt64 = 5000
    public var reconnectWaitMs: UInt64 = 100
    public var clientName = "podsync"

    public init() {}
}

/// The names a stream's carrier uses (docs/NATS.md): the frame stream `<name>` on subject
/// `podsync.<name>.frames`, the snapshot stream `<name>_SNAP` on `podsync.<name>.snap.chunk` and
/// `podsync.<name>.snap.done`.
struct StreamNames {
    let frames: String
    let snapshots: String
    let frameSubject: String
    let chunkSubject: String
    let doneSubject: String

    init(_ name: String) throws(CarrierError) {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), bytes.allSatisfy({ b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
        }) else {
            throw .invalid("stream_name must be 1 to 64 characters of A-Z a-z 0-9 - _")
        }
        frames = name
        snapshots = name + "_SNAP"
        frameSubject = "podsync.\(name).frames"
        chunkSubject = "podsync.\(name).snap.chunk"
        doneSubject = "podsync.\(name).snap.done"
    }
}

/// One connection to a NATS server (or cluster) and its JetStream context. libnats reconnects in
/// the background; the counters are written from its threads.
final class Link {
    let connection: OpaquePointer
    let jetStream: OpaquePointer
    let options: CarrierOptions
    let counters: LinkCounters

    init(url: String, options: CarrierOptions) throws(CarrierError) {
        self.options = options
        var opts: OpaquePointer? = nil
        guard natsOptions_Create(&opts) == NATS_OK, let opts else { throw CarrierError(PODSYNC_E_NO_MEMORY, "cannot create NATS options") }
        defer { natsOptions_Destroy(opts) }
        let counters = LinkCounters()
        self.counters = counters
        var s = natsOptions_SetURL(opts, url)
        if s == NATS_OK { s = natsOptions_SetName(opts, options.clientName) }
        if s == NATS_OK { s = natsOptions_SetTimeout(opts, Int64(clamping: options.timeoutMs)) }
        if s == NATS_OK { s = natsOptions_SetMaxReconnect(opts, options.maxReconnects) }
        if s == NATS_OK { s = natsOptions_SetReconnectWait(opts, Int64(clamping: options.reconnectWaitMs)) }
        // A dead server is noticed within seconds, not the default two minutes.
        if s == NATS_OK { s = natsOptions_SetPingInterval(opts, 1000) }
        if s == NATS_OK { s = natsOptions_SetMaxPingsOut(opts, 3) }
        let closure = Unmanaged.passUnretained(counters).toOpaque()
        if s == NATS_OK {
            s = natsOptions_SetReconnectedCB(opts, { _, closure in
                guard let closure else { return }
                Unmanaged<LinkCounters>.fromOpaque(closure).takeUnretainedValue().reconnects.add(1, ordering: .relaxed)
            }, closure)
        }
        if s == NATS_OK {
            s = natsOptions_SetDisconnectedCB(opts, { _, closure in
                guard let closure else { return }
                Unmanaged<LinkCounters>.fromOpaque(closure).takeUnretainedValue().disconnects.add(1, ordering: .relaxed)
            }, closure)
        }
        guard s == NATS_OK else { throw carrierError(s, "cannot set the NATS options (is the URL valid?)") }
        var nc: OpaquePointer? = nil
        s = natsConnection_Connect(&nc, opts)
        guard s == NATS_OK, let nc else { throw carrierError(s, "cannot connect to \(url)") }
        var jsOpts = jsOptions()
        jsOptions_Init(&jsOpts)
        jsOpts.Wait = Int64(clamping: options.timeoutMs)
        var js: OpaquePointer? = nil
        s = natsConnection_JetStream(&js, nc, &jsOpts)
        guard s == NATS_OK, let js else {
            natsConnection_Destroy(nc)
            throw carrierError(s, "cannot open JetStream on \(url)")
        }
        connection = nc
        jetStream = js
    }

    deinit {
        jsCtx_Destroy(jetStream)
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
    }

    /// JetStream's error codes for "stream not found" and "no message found".
    static let streamNotFound: UInt32 = 10059
    static let messageNotFound: UInt32 = 10037

    var connected: Bool { natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED }

    /// The largest message the server accepts.
    var maxPayload: Int { Int(natsConnection_GetMaxPayload(connection)) }

    /// The stream's state, or nil when it does not exist.
    func streamState(_ name: String) throws(CarrierError) -> jsStreamState? {
        var info: UnsafeMutablePointer<jsStreamInfo>? = nil
        var jsErr = jsErrCode(rawValue: 0)
        let s = js_GetStreamInfo(&info, jetStream, name, nil, &jsErr)
        if s == NATS_NOT_FOUND || jsErr.rawValue == Link.streamNotFound { return nil }
        guard s == NATS_OK, let info else { throw carrierError(s, "cannot read the stream \(name)", jsErr) }
        defer { jsStreamInfo_Destroy(info) }
        return info.pointee.State
    }

    /// The message at `sequence` of a stream; nil when the stream no longer holds it.
    func message(_ stream: String, _ sequence: UInt64) throws(CarrierError) -> Message? {
        var msg: OpaquePointer? = nil
        var jsErr = jsErrCode(rawValue: 0)
        let s = js_GetMsg(&msg, jetStream, stream, sequence, nil, &jsErr)
        if s == NATS_NOT_FOUND || jsErr.rawValue == Link.streamNotFound || jsErr.rawValue == Link.messageNotFound { return nil }
        guard s == NATS_OK, let msg else { throw carrierError(s, "cannot read message \(sequence) of \(stream)", jsErr) }
        return Message(msg)
    }

    /// The newest message on a subject of a stream; nil when there is none (or no stream).
    func lastMessage(_ stream: String, subject: String) throws(CarrierError) -> Message? {
        var msg: OpaquePointer? = nil
        var jsErr = jsErrCode(rawValue: 0)
        let s = js_GetLastMsg(&msg, jetStream, stream, subject, nil, &jsErr)
        if s == NATS_NOT_FOUND || jsErr.rawValue == Link.streamNotFound || jsErr.rawValue == Link.messageNotFound { return nil }
        guard s == NATS_OK, let msg else { throw carrierError(s, "cannot read the last message of \(subject)", jsErr) }
        return Message(msg)
    }
}

final class LinkCounters: Sendable {
    let reconnects = Atomic<UInt64>(0)
    let disconnects = Atomic<UInt64>(0)
}

/// An owned natsMsg.
final class Message {
    let msg: OpaquePointer

    init(_ msg: OpaquePointer) { self.msg = msg }
    deinit { natsMsg_Destroy(msg) }

    var data: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: natsMsg_GetData(msg).map { UnsafeRawPointer($0) }, count: Int(max(natsMsg_GetDataLength(msg), 0)))
    }

    /// A header's value, or nil.
    func header(_ key: String) -> String? {
        var value: UnsafePointer<CChar>? = nil
        guard natsMsgHeader_Get(msg, key, &value) == NATS_OK, let value else { return nil }
        return String(cString: value)
    }

    /// A header holding an unsigned decimal (or, with radix 16, hexadecimal) number.
    func number(_ key: String, radix: Int = 10) -> UInt64? {
        guard let text = header(key), !text.isEmpty, text.utf8.count <= 20 else { return nil }
        return UInt64(text, radix: radix)
    }

    /// The stream sequence of a message delivered by a consumer (from its reply subject), or of
    /// one read with js_GetMsg (its Nats-Sequence header).
    var streamSequence: UInt64? {
        var meta: UnsafeMutablePointer<jsMsgMetaData>? = nil
        if natsMsg_GetMetaData(&meta, msg) == NATS_OK, let meta {
            defer { jsMsgMetaData_Destroy(meta) }
            return meta.pointee.Sequence.Stream
        }
        return natsMsg_GetSequence(msg) == 0 ? nil : natsMsg_GetSequence(msg)
    }
}

func hex16(_ v: UInt64) -> String {
    let digits = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
}
