import CPodSyncShims
import Glibc

/// How a durable store's frame log reaches the disk (podsync_durability_options.log_policy).
public enum LogPolicy: UInt32, Sendable {
    case none = 0
    case everyFrame = 1
    case interval = 2
    case os = 3
}

/// podsync_durability_options.
public struct DurabilityOptions: Sendable {
    public var logPolicy = LogPolicy.everyFrame
    public var syncIntervalMs: UInt64 = 100
    /// A writer that reopens without proof starts this term (0: previous + 1).
    public var newTerm: UInt64 = 0
    public var keepCheckpoints = 2

    public init() {}
}

/// The files of a durable store: its directory and lock, and the log segment it appends to.
/// Checkpoints are `checkpoint-<n>.psc`, log segments `log-<n>.psl`, numbered upwards (16 hex
/// digits) so the newest is the one with the largest number.
public final class DurableFiles {
    public let directory: String
    let options: DurabilityOptions
    let lockFD: Int32
    /// The log segment being appended to (-1: none, with policy none).
    var logFD: Int32 = -1
    var logNumber: UInt64 = 0
    var logPath = ""
    /// Bytes in the current segment.
    var logLength = 0
    /// Bytes logged since the newest checkpoint (all segments).
    public internal(set) var logBytes: UInt64 = 0
    /// The newest version known to be on disk.
    public internal(set) var durableVersion: UInt64 = 0
    /// Version logged (written) but maybe not yet fsynced.
    var writtenVersion: UInt64 = 0
    var lastSyncMs: UInt64 = 0
    /// A log append failed: frames are refused until a checkpoint succeeds.
    public internal(set) var logFailed = false
    var nextCheckpointNumber: UInt64 = 1
    var nextLogNumber: UInt64 = 1
    /// Checkpoint numbers on disk, oldest first, each with the log segment its state continues in.
    var checkpoints: [(number: UInt64, logSegment: UInt64)] = []
    /// A checkpoint being written (only one at a time).
    var checkpointInFlight = false

    init(directory: String, options: DurabilityOptions, lockFD: Int32) {
        self.directory = directory
        self.options = options
        self.lockFD = lockFD
    }

    deinit {
        if logFD >= 0 {
            // A clean close makes what the OS holds durable too.
            if options.logPolicy != .none && options.logPolicy != .os { _ = fsync(logFD) }
            close(logFD)
        }
        close(lockFD)
    }

    static func checkpointName(_ n: UInt64) -> String { "checkpoint-" + hex16(n) + ".psc" }
    static func logName(_ n: UInt64) -> String { "log-" + hex16(n) + ".psl" }

    static func hex16(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    /// The number in a file name of this kind, or nil.
    static func number(in name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.utf8.count == prefix.utf8.count + 16 + suffix.utf8.count else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        return UInt64(digits, radix: 16)
    }

    func path(_ name: String) -> String { FileIO.join(directory, name) }

    // MARK: Log

    /// Starts a new log segment after `version`, beginning with `state` (durable before return).
    func startSegment(schemaHash: UInt64, streamID: UInt64, version: UInt64, state: DurableState) throws(PodSyncError) {
        guard options.logPolicy != .none else { return }
        let number = nextLogNumber
        let path = self.path(DurableFiles.logName(number))
        let fd = try FileIO.create(path)
        do throws(PodSyncError) {
            let header = DurableFormat.fileHeader(magic: DurableFormat.logMagic, schemaHash: schemaHash, streamID: streamID, version: version)
            let body = state.encoded()
            var length = 0
            try withBytes(header) { (h) throws(PodSyncError) in
                try withBytes(body) { (s) throws(PodSyncError) in
                    try DurableFormat.withBlock(.state, s) { (pieces) throws(PodSyncError) in
                        try FileIO.write(fd, [h] + pieces, path: path)
                        length = h.count + pieces.reduce(0) { $0 + $1.count }
                    }
                }
            }
            try FileIO.sync(fd, path: path)
            try FileIO.syncDirectory(directory)
            if logFD >= 0 {
                if options.logPolicy != .os { _ = fsync(logFD) }
                close(logFD)
            }
            logFD = fd
            logNumber = number
            logPath = path
            logLength = length
            nextLogNumber = number &+ 1
            lastSyncMs = podsync_monotonic_ms()
        } catch {
            close(fd)
            FileIO.remove(path)
            throw error
        }
    }

    /// Appends blocks to the log and syncs as the policy says. On failure the segment is cut back
    /// to where it was and the log is marked failed.
    func append(_ blocks: [(DurableFormat.Kind, UnsafeRawBufferPointer)], version: UInt64, forceSync: Bool = false) throws(PodSyncError) {
        guard logFD >= 0 else { return }
        guard !logFailed else {
            throw PodSyncError(Status.io, "the frame log failed earlier; write a checkpoint (podsync_store_checkpoint) to resume")
        }
        // Each block: its header and zero padding (32 bytes of `framing`), and its body in place.
        var framing = [UInt8](repeating: 0, count: 32 &* blocks.count)
        var added = 0
        do throws(PodSyncError) {
            try withMutableBytes(&framing) { (f) throws(PodSyncError) in
                var pieces: [UnsafeRawBufferPointer] = []
                for (i, (kind, body)) in blocks.enumerated() {
                    let h = f.baseAddress! + 32 &* i
                    h.storeLE(kind.rawValue, at: 0)
                    h.storeLE(UInt64(body.count), at: 8)
                    h.storeLE(DurableFormat.blockChecksum(kind: kind.rawValue, body: body), at: 16)
                    let pad = alignUp(body.count, 8) &- body.count
                    pieces.append(UnsafeRawBufferPointer(start: h, count: DurableFormat.blockHeaderSize))
                    pieces.append(body)
                    pieces.append(UnsafeRawBufferPointer(start: h + DurableFormat.blockHeaderSize, count: pad))
                    added &+= DurableFormat.blockHeaderSize &+ body.count &+ pad
                }
                try FileIO.write(logFD, pieces, path: logPath)
            }
            writtenVersion = max(writtenVersion, version)
            let now = podsync_monotonic_ms()
            switch options.logPolicy {
            case .everyFrame:
                try FileIO.sync(logFD, path: logPath)
                durableVersion = max(durableVersion, version)
                lastSyncMs = now
            case .interval:
                if forceSync || now &- lastSyncMs >= options.syncIntervalMs {
                    try FileIO.sync(logFD, path: logPath)
                    durableVersion = max(durableVersion, writtenVersion)
                    lastSyncMs = now
                }
            case .os, .none:
                if forceSync {
                    try FileIO.sync(logFD, path: logPath)
                    durableVersion = max(durableVersion, writtenVersion)
                }
            }
            logLength &+= added
            logBytes &+= UInt64(added)
        } catch {
            // Nothing of this append may stay behind as a torn record before later ones.
            _ = FileIO.truncate(logFD, to: logLength)
            logFailed = true
            throw error
        }
    }

    /// Policy interval: an fsync when the interval passed since the last one (called from flushes
    /// and flush_due, so a writer that goes quiet is durable within the interval of its next call).
    func syncIfDue() {
        guard options.logPolicy == .interval, logFD >= 0, writtenVersion > durableVersion, !logFailed else { return }
        let now = podsync_monotonic_ms()
        guard now &- lastSyncMs >= options.syncIntervalMs else { return }
        if fsync(logFD) == 0 {
            durableVersion = writtenVersion
            lastSyncMs = now
        }
    }

    /// fsync of the log now.
    func sync() throws(PodSyncError) {
        guard logFD >= 0 else { return }
        try FileIO.sync(logFD, path: logPath)
        durableVersion = max(durableVersion, writtenVersion)
        lastSyncMs = podsync_monotonic_ms()
    }

    /// Removes checkpoints beyond the kept ones and the log segments no kept checkpoint needs.
    func removeOldFiles() {
        let keep = max(options.keepCheckpoints, 1)
        while checkpoints.count > keep {
            FileIO.remove(path(DurableFiles.checkpointName(checkpoints[0].number)))
            checkpoints.removeFirst()
        }
        guard let oldest = checkpoints.first?.logSegment else { return }
        if let names = try? FileIO.list(directory) {
            for name in names {
                if let n = DurableFiles.number(in: name, prefix: "log-", suffix: ".psl"), n < oldest, n != logNumber {
                    FileIO.remove(path(name))
                }
                if name.hasSuffix(".psc.tmp") && !checkpointInFlight { FileIO.remove(path(name)) }
            }
        }
    }
}
