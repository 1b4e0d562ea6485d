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
    public static let `internal`: Int32 = -99
}

extension PodSyncError {
    static func malformed(_ message: String) -> PodSyncError { PodSyncError(Status.frameMalformed, message) }
    static func invalid(_ message: String) -> PodSyncError { PodSyncError(Status.invalidArgument, message) }
    static func schema(_ message: String) -> PodSyncError { PodSyncError(Status.schemaInvalid, message) }
}
