import CPodSync

/// A store reached through libpodsync.so's C API (the carrier never sees the engine's types, so
/// it works with whichever copy of the engine the host loaded).
struct EngineStore {
    let handle: OpaquePointer

    var message: String { podsync_store_errmsg(handle).map { String(cString: $0) } ?? "" }

    func info() throws(CarrierError) -> podsync_store_info {
        var info = podsync_store_info()
        info.version = UInt32(PODSYNC_STORE_INFO_VERSION)
        let s = podsync_store_info_get(handle, &info)
        guard s == PODSYNC_OK else { throw CarrierError(s, "cannot read the store's info: \(message)") }
        return info
    }

    /// Flushes; the frames are then in the outbox.
    func flush() throws(CarrierError) -> Int {
        var count = 0
        let s = podsync_store_flush(handle, &count)
        guard s >= 0 else { throw CarrierError(s, "flush: \(message)") }
        return count
    }

    /// Outbox frame `index` (borrowed until the next call that produces frames).
    func frame(_ index: Int) throws(CarrierError) -> UnsafeRawBufferPointer {
        var data: UnsafePointer<UInt8>? = nil
        var size = 0
        let s = podsync_store_frame(handle, index, &data, &size)
        guard s == PODSYNC_OK, let data else { throw CarrierError(s, "frame \(index): \(message)") }
        return UnsafeRawBufferPointer(start: data, count: size)
    }

    /// Applies a frame; returns the engine's status (errors included: the caller decides).
    func apply(_ frame: UnsafeRawBufferPointer) -> Int32 {
        var version: UInt64 = 0
        return podsync_store_apply(handle, frame.baseAddress, frame.count, &version)
    }
}

/// The header fields of a frame a carrier needs (podsync_frame_peek).
func peek(_ frame: UnsafeRawBufferPointer) -> podsync_frame_info? {
    var info = podsync_frame_info()
    info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
    guard podsync_frame_peek(frame.baseAddress, frame.count, &info) == PODSYNC_OK else { return nil }
    return info
}

/// A frame's bytes copied into 64-byte-aligned memory, as frames are produced and applied.
final class FrameCopy {
    let base: UnsafeMutableRawPointer
    let count: Int
    let version: UInt64
    let baseVersion: UInt64
    let streamID: UInt64
    let term: UInt64

    init(_ bytes: UnsafeRawBufferPointer, info: podsync_frame_info) {
        base = .allocate(byteCount: max(bytes.count, 1), alignment: 64)
        if let src = bytes.baseAddress, bytes.count > 0 { base.copyMemory(from: src, byteCount: bytes.count) }
        count = bytes.count
        version = info.state_version
        baseVersion = info.base_version
        streamID = info.stream_id
        term = info.term
    }

    deinit { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// A reusable 64-byte-aligned buffer for applying received messages.
struct AlignedBuffer: ~Copyable {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int

    init() {
        capacity = 1 << 16
        base = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit { base.deallocate() }

    mutating func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if bytes.count > capacity {
            base.deallocate()
            capacity = bytes.count
            base = .allocate(byteCount: capacity, alignment: 64)
        }
        if let src = bytes.baseAddress, bytes.count > 0 { base.copyMemory(from: src, byteCount: bytes.count) }
        return UnsafeRawBufferPointer(start: base, count: bytes.count)
    }
}
