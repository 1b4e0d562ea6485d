import Glibc
import PodSyncCore

/// One frame as read from the input: its bytes are 64-byte aligned and valid until the next read.
struct RawFrame {
    /// The input's name (a path, or "stdin").
    let source: String
    let index: Int
    /// Where the frame starts in the input.
    let offset: UInt64
    let bytes: UnsafeRawBufferPointer
}

/// Why a frame could not be read or is invalid: where it is, the engine's status (nil for an
/// I/O error) and its message.
struct FrameFailure: Error {
    let source: String
    let index: Int
    let offset: UInt64
    let code: Int32?
    let message: String
    /// What to call a failure that has no status.
    let label: String

    init(_ source: String, _ index: Int, _ offset: UInt64, _ code: Int32?, _ message: String, label: String = "I/O error") {
        self.source = source
        self.index = index
        self.offset = offset
        self.code = code
        self.message = message
        self.label = label
    }

    init(_ frame: RawFrame, _ error: PodSyncError) {
        var message = error.message
        if error.code == Status.dictionaryMissing { message += " (give its bytes with --dictionary FILE)" }
        self.init(frame.source, frame.index, frame.offset, error.code, message)
    }

    var status: String { code.map(statusName) ?? label }
    /// "frame 3 at byte 1234: PODSYNC_E_FRAME_CHECKSUM: checksum mismatch: the frame is corrupt".
    var text: String { "frame \(index) at byte \(offset): \(status): \(message)" }
}

/// Reads frames back to back from a file, a pipe or standard input ("-"), the way a receiver of a
/// byte stream does: the 88-byte header, the frame's length from it (checked by the engine's
/// peek), then the rest. Memory grows only as bytes arrive, so a frame that claims to be huge
/// costs what the input really holds.
final class FrameSource {
    let name: String
    private let fd: Int32
    private let owned: Bool
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var index = 0
    private(set) var offset: UInt64 = 0

    static let alignment = 64
    /// The buffer grows by at least this much at a time past its first size.
    static let piece = 1 << 20

    init(path: String) throws(Failure) {
        if path == "-" {
            name = "stdin"
            fd = 0
            owned = false
        } else {
            name = path
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Failure("cannot open \(path): \(errnoText())") }
            owned = true
        }
        capacity = 4096
        storage = .allocate(byteCount: capacity, alignment: Self.alignment)
    }

    deinit {
        if owned { close(fd) }
        storage.deallocate()
    }

    /// The next frame, or nil at the end of the input. After a failure nothing more can be read:
    /// the position of the next frame is unknown.
    func next() throws(FrameFailure) -> RawFrame? {
        let start = offset
        // The 16-byte prefix names the format and so the header's length (format 2 headers are
        // 40 bytes and up, format 1 headers 88); the header names the frame's length.
        let prefix = 16
        let got = try read(into: 0, count: prefix)
        if got == 0 { return nil }
        if start == 0, got >= 8, let kind = DurableFileSummary.kind(ofPrefix: UnsafeRawBufferPointer(start: storage, count: got)) {
            // A checkpoint or log segment of a durable store: blocks, not frames back to back.
            let what = kind == .checkpoint ? "checkpoint (PSYNCKPT)" : "log segment (PSYNCLOG)"
            throw FrameFailure(name, index, start, Status.frameMagic,
                               "not a PodSync frame: the input is a durable store's \(what); podsync inspect FILE describes it")
        }
        guard got == prefix else { throw truncatedHeader(got: got, header: prefix, start: start) }
        var header = FrameLayout.headerSize
        if storage.load(fromByteOffset: 4, as: UInt8.self) == 2 && storage.load(fromByteOffset: 5, as: UInt8.self) >= 5 {
            header = 8 * Int(storage.load(fromByteOffset: 5, as: UInt8.self))
        }
        grow(to: header, keeping: prefix)
        let rest = try read(into: prefix, count: header - prefix)
        guard rest == header - prefix else { throw truncatedHeader(got: prefix + rest, header: header, start: start) }
        let length: UInt64
        do {
            length = try FrameReader.peek(UnsafeRawBufferPointer(start: storage, count: header)).frameLength
        } catch {
            throw FrameFailure(name, index, start, error.code, error.message)
        }
        // A frame_length below the header size is left to validation to report.
        var have = header
        while UInt64(have) < length {
            let missing = length - UInt64(have)
            let want = Int(min(missing, UInt64(max(Self.piece, have))))
            grow(to: have + want, keeping: have)
            let n = try read(into: have, count: want)
            have += n
            if n < want {
                throw FrameFailure(name, index, start, Status.frameTruncated, "the input ends after \(have) of the frame's \(length) bytes")
            }
        }
        offset += UInt64(have)
        index += 1
        return RawFrame(source: name, index: index - 1, offset: start, bytes: UnsafeRawBufferPointer(start: storage, count: have))
    }

    /// The input ended inside a header: a truncated frame, unless the bytes do not even start like
    /// one (the engine's peek of the bytes padded with zeros says which).
    private func truncatedHeader(got: Int, header: Int, start: UInt64) -> FrameFailure {
        (storage + got).initializeMemory(as: UInt8.self, repeating: 0, count: header - got)
        if got >= 4, let error = peekError(header), error.code == Status.frameMagic {
            return FrameFailure(name, index, start, error.code, error.message)
        }
        return FrameFailure(name, index, start, Status.frameTruncated, "the input ends \(got) bytes into a frame's \(header)-byte header")
    }

    /// Every frame, each handed to `body` (which may stop by throwing).
    func forEach(_ body: (RawFrame) throws -> Void) throws {
        while let frame = try next() { try body(frame) }
    }

    private func peekError(_ count: Int) -> PodSyncError? {
        do {
            _ = try FrameReader.peek(UnsafeRawBufferPointer(start: storage, count: count))
            return nil
        } catch {
            return error
        }
    }

    private func grow(to needed: Int, keeping used: Int) {
        guard needed > capacity else { return }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: needed, alignment: Self.alignment)
        fresh.copyMemory(from: storage, byteCount: used)
        storage.deallocate()
        storage = fresh
        capacity = needed
    }

    /// Reads up to `count` bytes at `position` of the buffer; fewer only at the end of the input.
    private func read(into position: Int, count: Int) throws(FrameFailure) -> Int {
        var done = 0
        while done < count {
            let n = Glibc.read(fd, storage + position + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FrameFailure(name, index, offset, nil, "cannot read \(name): \(errnoText())")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

/// A whole file's bytes (a schema or a dictionary).
func readWholeFile(_ path: String, what: String) throws(Failure) -> [UInt8] {
    let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw Failure("cannot open \(what) \(path): \(errnoText())") }
    defer { if fd != 0 { close(fd) } }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw Failure("cannot read \(what) \(path): \(errnoText())")
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
}

func errnoText() -> String { String(cString: strerror(errno)) }
