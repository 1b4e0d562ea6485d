import CPodSync
import PodSyncCore

/// Runs a store-less frame call: errors become their status (there is no handle for a message).
@inline(__always)
func frameCall(_ body: () throws(PodSyncError) -> Int32) -> Int32 {
    do { return try body() } catch { return lastError(error.code, error.message) }
}

func fill(_ info: UnsafeMutablePointer<podsync_frame_info>, _ h: FrameHeader) throws(PodSyncError) {
    guard info.pointee.version >= 1 else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "info.version must be PODSYNC_FRAME_INFO_VERSION")
    }
    info.pointee.format_version = UInt32(h.formatVersion)
    info.pointee.header_length = UInt32(h.headerLength)
    info.pointee.flags = h.flags
    info.pointee.section_count = UInt32(h.sectionCount)
    info.pointee.codec = UInt32(h.codec)
    info.pointee.frame_length = h.frameLength
    info.pointee.schema_hash = h.schemaHash
    info.pointee.stream_id = h.streamID
    info.pointee.sequence = h.sequence
    info.pointee.base_version = h.baseVersion
    info.pointee.state_version = h.stateVersion
    info.pointee.state_digest = h.stateDigest
    if info.pointee.version >= 2 {  // fields a version-1 struct does not have
        info.pointee.transforms = UInt32(h.transforms)
        info.pointee.dictionary_id = h.dictionaryID
        info.pointee.payload_length = h.payloadLength
    }
    if info.pointee.version >= 3 {
        info.pointee.term = h.term
        let c = h.chunk ?? ChunkRecord()
        info.pointee.snapshot_id = c.snapshotID
        info.pointee.chunk_index = c.index
        info.pointee.chunk_start_key = c.startKey
        info.pointee.chunk_end_key = c.endKey
        info.pointee.chunk_record_count = c.recordCount
        info.pointee.chunk_start_table = c.startTable
        info.pointee.chunk_end_table = c.endTable
        info.pointee.chunk_flags = c.last ? UInt32(PODSYNC_CHUNK_LAST) : 0
        let r = h.slice ?? SliceRecord()
        if h.slice != nil { info.pointee.flags |= UInt32(PODSYNC_FRAME_SLICE) }
        info.pointee.slice_section_count = UInt32(r.sectionCount)
        info.pointee.slice_pass = r.pass
        info.pointee.slice_index = r.index
        info.pointee.slice_start_key = r.startKey
        info.pointee.slice_end_key = r.endKey
        info.pointee.slice_start_table = r.startTable
        info.pointee.slice_end_table = r.endTable
        info.pointee.slice_flags = r.last ? UInt32(PODSYNC_CHUNK_LAST) : 0
        info.pointee.reserved = 0
    }
}

/// For a stream reader given too few bytes: the format version and header length the prefix
/// announces (0 when the prefix itself is incomplete or unknown).
func fillPrefix(_ info: UnsafeMutablePointer<podsync_frame_info>, _ frame: UnsafeRawBufferPointer) {
    guard info.pointee.version >= 1, frame.count >= 16, let p = frame.baseAddress,
          p.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: 0x4E59_5350) else { return }
    let version = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
    if version == 1 {
        info.pointee.format_version = 1
        info.pointee.header_length = UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
    } else if version & 0xFF == 2 {
        info.pointee.format_version = 2
        info.pointee.header_length = UInt32(version >> 8) * 8
    }
}

@c @implementation
public func podsync_frame_peek(_ data: UnsafeRawPointer!, _ size: Int, _ info: UnsafeMutablePointer<podsync_frame_info>!) -> Int32 {
    frameCall { () throws(PodSyncError) in
        let bytes = try required(data, "data")
        let out = try required(info, "info")
        guard size >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "size is negative") }
        let frame = UnsafeRawBufferPointer(start: bytes, count: size)
        do throws(PodSyncError) {
            try fill(out, try FrameReader.peek(frame))
        } catch {
            if error.code == PODSYNC_E_FRAME_TRUNCATED { fillPrefix(out, frame) }
            throw error
        }
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_frame_validate(_ data: UnsafeRawPointer!, _ size: Int, _ info: UnsafeMutablePointer<podsync_frame_info>!) -> Int32 {
    validateFrame(data, size, 0, info)
}

@c @implementation
public func podsync_frame_validate_limited(
    _ data: UnsafeRawPointer!, _ size: Int, _ max_decoded_bytes: UInt64, _ info: UnsafeMutablePointer<podsync_frame_info>!
) -> Int32 {
    validateFrame(data, size, max_decoded_bytes, info)
}

/// Store-less validation; `info` gets the header's fields as soon as they could be read, so a
/// caller learns what a frame it cannot apply (a missing dictionary, say) claims to be.
func validateFrame(
    _ data: UnsafeRawPointer?, _ size: Int, _ maxDecoded: UInt64, _ info: UnsafeMutablePointer<podsync_frame_info>?
) -> Int32 {
    frameCall { () throws(PodSyncError) in
        let bytes = try required(data, "data")
        guard size >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "size is negative") }
        if let info, info.pointee.version < 1 {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "info.version must be PODSYNC_FRAME_INFO_VERSION")
        }
        let frame = UnsafeRawBufferPointer(start: bytes, count: size)
        if let info, let header = try? FrameReader.peek(frame) { try fill(info, header) }
        var decoder = FrameDecoder(maxDecodedBytes: maxDecoded == 0 ? FrameReader.defaultMaxDecodedBytes : maxDecoded)
        _ = try decoder.check(frame)
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_frame_section_get(
    _ data: UnsafeRawPointer!, _ size: Int, _ index: Int, _ section: UnsafeMutablePointer<podsync_frame_section>!
) -> Int32 {
    frameCall { () throws(PodSyncError) in
        let bytes = try required(data, "data")
        let out = try required(section, "section")
        guard size >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "size is negative") }
        guard out.pointee.version >= 1 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "section.version must be PODSYNC_FRAME_SECTION_VERSION")
        }
        guard UInt(bitPattern: bytes) % 8 == 0 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "frame must start on an 8-byte boundary to be read in place")
        }
        let s = try FrameReader.section(UnsafeRawBufferPointer(start: bytes, count: size), index: index)
        out.pointee.table_id = s.tableID
        out.pointee.record_size = UInt32(s.recordSize)
        out.pointee.reserved = 0
        out.pointee.put_count = UInt64(s.putCount)
        out.pointee.delete_count = UInt64(s.deleteCount)
        out.pointee.put_keys = s.putKeys.assumingMemoryBound(to: UInt64.self)
        out.pointee.records = s.records
        out.pointee.delete_keys = s.deleteKeys.assumingMemoryBound(to: UInt64.self)
        return PODSYNC_OK
    }
}
