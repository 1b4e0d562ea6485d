/// A failed engine operation: the status code of include/podsync.h and a message for humans.
///
/// The engine throws these; the C boundary turns them into the status returned to the host and the
/// handle's error message.
public struct PodSyncError: Error, Equatable, Sendable {
    public let code: Int32
    public let message: String

    public init(_ code: Int32, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// Status values, pinned by include/podsync.h (duplicated here so the core needs no C import).
public enum Status {
    public static let ok: Int32 = 0
    public static let flushDue: Int32 = 1
    public static let notFound: Int32 = 2
    public static let duplicate: Int32 = 3
    public static let gap: Int32 = 4
    public static let stale: Int32 = 5
    public static let snapshotRequired: Int32 = 6
    public static let chunkGap: Int32 = 7
    public static let chunkStaged: Int32 = 8
    public static let refreshing: Int32 = 9
    public static let done: Int32 = 10

    public static let invalidArgument: Int32 = -1
    public static let unknownTable: Int32 = -2
    public static let recordSize: Int32 = -3
    public static let bufferTooSmall: Int32 = -4
    public static let noMemory: Int32 = -5
    public static let wrongRole: Int32 = -6
    public static let schemaInvalid: Int32 = -7
    public static let frameTruncated: Int32 = -10
    public static let frameMagic: Int32 = -11
    public static let frameVersion: Int32 = -12
    public static let frameChecksum: Int32 = -13
    public static let frameMalformed: Int32 = -14
    public static let schemaMismatch: Int32 = -15
    public static let streamMismatch: Int32 = -16
    public static let unsupportedCodec: Int32 = -17
    public static let digestMismatch: Int32 = -18
    public static let diverged: Int32 = -19
    public static let versionAhead: Int32 = -20
    public static let frameTooLarge: Int32 = -21
    public static let dictionaryMissing: Int32 = -22
    public static let limit: Int32 = -23
    public static let snapshotExpired: Int32 = -24
    public static let termFenced: Int32 = -25
    public static let historyDiverged: Int32 = -26
    public static let notSubscribed: Int32 = -27
    public static let frameFeature: Int32 = -28
    public static let chunkMismatch: Int32 = -29
    public static let repairStale: Int32 = -30
    public static let io: Int32 = -31
    public static let fileCorrupt: Int32 = -32
    public static let `internal`: Int32 = -99

    /// The name of a status ("PODSYNC_E_FRAME_CHECKSUM"), "PODSYNC_UNKNOWN_STATUS" for other
    /// values: what podsync_status_name returns (a static string, so C can borrow it).
    public static func name(_ code: Int32) -> StaticString {
        switch code {
        case ok: "PODSYNC_OK"
        case flushDue: "PODSYNC_FLUSH_DUE"
        case notFound: "PODSYNC_NOT_FOUND"
        case duplicate: "PODSYNC_DUPLICATE"
        case gap: "PODSYNC_GAP"
        case stale: "PODSYNC_STALE"
        case snapshotRequired: "PODSYNC_SNAPSHOT_REQUIRED"
        case chunkGap: "PODSYNC_CHUNK_GAP"
        case chunkStaged: "PODSYNC_CHUNK_STAGED"
        case refreshing: "PODSYNC_REFRESHING"
        case done: "PODSYNC_DONE"
        case invalidArgument: "PODSYNC_E_INVALID_ARGUMENT"
        case unknownTable: "PODSYNC_E_UNKNOWN_TABLE"
        case recordSize: "PODSYNC_E_RECORD_SIZE"
        case bufferTooSmall: "PODSYNC_E_BUFFER_TOO_SMALL"
        case noMemory: "PODSYNC_E_NO_MEMORY"
        case wrongRole: "PODSYNC_E_WRONG_ROLE"
        case schemaInvalid: "PODSYNC_E_SCHEMA_INVALID"
        case frameTruncated: "PODSYNC_E_FRAME_TRUNCATED"
        case frameMagic: "PODSYNC_E_FRAME_MAGIC"
        case frameVersion: "PODSYNC_E_FRAME_VERSION"
        case frameChecksum: "PODSYNC_E_FRAME_CHECKSUM"
        case frameMalformed: "PODSYNC_E_FRAME_MALFORMED"
        case schemaMismatch: "PODSYNC_E_SCHEMA_MISMATCH"
        case streamMismatch: "PODSYNC_E_STREAM_MISMATCH"
        case unsupportedCodec: "PODSYNC_E_UNSUPPORTED_CODEC"
        case digestMismatch: "PODSYNC_E_DIGEST_MISMATCH"
        case diverged: "PODSYNC_E_DIVERGED"
        case versionAhead: "PODSYNC_E_VERSION_AHEAD"
        case frameTooLarge: "PODSYNC_E_FRAME_TOO_LARGE"
        case dictionaryMissing: "PODSYNC_E_DICTIONARY_MISSING"
        case limit: "PODSYNC_E_LIMIT"
        case snapshotExpired: "PODSYNC_E_SNAPSHOT_EXPIRED"
        case termFenced: "PODSYNC_E_TERM_FENCED"
        case historyDiverged: "PODSYNC_E_HISTORY_DIVERGED"
        case notSubscribed: "PODSYNC_E_NOT_SUBSCRIBED"
        case io: "PODSYNC_E_IO"
        case fileCorrupt: "PODSYNC_E_FILE_CORRUPT"
        case frameFeature: "PODSYNC_E_FRAME_FEATURE"
        case chunkMismatch: "PODSYNC_E_CHUNK_MISMATCH"
        case repairStale: "PODSYNC_E_REPAIR_STALE"
        case `internal`: "PODSYNC_E_INTERNAL"
        default: "PODSYNC_UNKNOWN_STATUS"
        }
    }
}

extension PodSyncError {
    static func malformed(_ message: String) -> PodSyncError { PodSyncError(Status.frameMalformed, message) }
    static func invalid(_ message: String) -> PodSyncError { PodSyncError(Status.invalidArgument, message) }
    static func schema(_ message: String) -> PodSyncError { PodSyncError(Status.schemaInvalid, message) }
}
