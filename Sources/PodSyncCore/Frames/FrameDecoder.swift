/// Validates and decodes frames outside a store, for tools that read frames (the `podsync` CLI).
///
/// The sections of an encoded frame (compressed or transformed) are decoded into scratch memory
/// that this decoder owns and reuses from frame to frame, so they are handed to a closure and are
/// valid only during that call: nothing outlives the memory it points into. (The sections of a
/// plain frame point into the caller's frame bytes.)
public struct FrameDecoder: ~Copyable {
    var packed = ByteBuffer()
    var decoded = ByteBuffer()
    var zstd = ZstdContexts()
    /// Largest decompressed payload, and largest decoded size of the sections, accepted.
    public var maxDecodedBytes: UInt64

    public init(maxDecodedBytes: UInt64 = FrameReader.defaultMaxDecodedBytes) {
        self.maxDecodedBytes = maxDecodedBytes
    }

    /// Loads a zstd dictionary (copied) so frames compressed with it can be decoded; returns its
    /// id. At most 8 are kept (the oldest is forgotten).
    public mutating func loadDictionary(_ bytes: UnsafeRawBufferPointer) throws(PodSyncError) -> UInt32 {
        try zstd.load(dictionary: bytes)
    }

    /// Validates `frame` (exactly one frame) as a replica of `schema` would, or without a schema
    /// (nil: no schema hash or table checks), decodes its sections and calls `body` with them.
    /// Records of an XOR frame (`SectionView.xor`) are still XOR-ed with the receiver's records.
    /// - Complexity: O(n) in the frame and its decoded size.
    public mutating func decode<R>(
        _ frame: UnsafeRawBufferPointer, schema: Schema? = nil, _ body: (FrameHeader, [SectionView]) -> R
    ) throws(PodSyncError) -> R {
        let (header, sections) = try FrameReader.validate(
            frame, schema: schema, schemaHash: schema?.hash ?? 0, maxDecoded: maxDecodedBytes,
            packed: &packed, decoded: &decoded, zstd: &zstd)
        return body(header, sections)
    }

    /// Checks `frame` without decoding its records (podsync_frame_validate), with this decoder's
    /// dictionaries.
    public mutating func check(_ frame: UnsafeRawBufferPointer) throws(PodSyncError) -> FrameHeader {
        try FrameReader.validate(
            frame, schema: nil, schemaHash: 0, maxDecoded: maxDecodedBytes, mode: .validateOnly,
            packed: &packed, decoded: &decoded, zstd: &zstd).0
    }
}
