#if _endian(big)
#error("PodSync stores records as they lie in memory and requires a little-endian host")
#endif

/// Byte layout of frame format v1 (docs/FORMAT.md is normative; these constants mirror it).
public enum FrameLayout {
    public static let magic: UInt32 = 0x4E59_5350  // "PSYN" read as a little-endian u32
    public static let formatVersion: UInt16 = 1
    public static let headerSize = 88
    public static let sectionHeaderSize = 40

    // Header field offsets.
    static let offMagic = 0
    static let offFormatVersion = 4
    static let offHeaderLength = 6
    static let offChecksum = 8
    static let offFrameLength = 16
    static let offFlags = 24
    static let offSectionCount = 28
    static let offCodec = 30
    static let offTransforms = 31
    static let offSchemaHash = 32
    static let offStreamID = 40
    static let offSequence = 48
    static let offBaseVersion = 56
    static let offStateVersion = 64
    static let offStateDigest = 72
    static let offPayloadLength = 80
    /// The checksum covers the frame from here to its end.
    static let checksumStart = 16

    // Section field offsets (from section start).
    static let secTableID = 0
    static let secRecordSize = 4
    static let secPutCount = 8
    static let secDeleteCount = 16
    static let secRecordsOffset = 24
    static let secLength = 32

    public static let flagReset: UInt32 = 0x1
    public static let flagHasDigest: UInt32 = 0x2
    /// Format 2: a chunk of a chunked snapshot or delta.
    public static let flagChunk: UInt32 = 0x4
    /// Format 2: a repair frame, and a summary message (docs/FORMAT.md, "Repair frames").
    public static let flagRepair: UInt32 = 0x8
    public static let flagSummary: UInt32 = 0x10
    static let knownFlags: UInt32 = flagReset | flagHasDigest

    public static let codecNone: UInt8 = 0
    public static let codecZstd: UInt8 = 1

    public static let transformXOR: UInt8 = 0x1
    public static let transformTranspose: UInt8 = 0x2
    public static let transformKeyGaps: UInt8 = 0x4
    public static let transformColumns: UInt8 = 0x8
    /// Format 2 only: integer fields as zigzag differences (Codec/FieldDiff.swift).
    public static let transformFields: UInt8 = 0x10
    /// Format 2 only: keys the receiver holds named by their rank (Store/Store+Ranks.swift).
    public static let transformKeyRanks: UInt8 = 0x20
    /// Records (or keys) relative to the receiver's at the base version: they need exactly that base.
    static let relativeTransforms: UInt8 = transformXOR | transformFields | transformKeyRanks
    static let knownTransforms: UInt8 = 0x3F
    /// Format 1 has no FIELDS.
    static let knownTransformsV1: UInt8 = 0xF
    /// Packed section header: table_id u32, record_size u32, put_count u64, delete_count u64,
    /// keys_length u64.
    static let packedSectionHeaderSize = 32
    public static let maxSections = Int(UInt16.max)

    /// Records in a frame are aligned to their table's alignment but never less than 8, so keys and
    /// records of every table can be read in place from a 64-byte-aligned frame.
    @inline(__always) static func recordAlignment(_ tableAlignment: Int) -> Int { max(tableAlignment, 8) }
}

extension UnsafeRawPointer {
    @inline(__always) func le<T: FixedWidthInteger>(_ offset: Int, as type: T.Type) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawPointer {
    @inline(__always) func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}
