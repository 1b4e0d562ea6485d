import ArgumentParser
import PodSyncCore

/// Options every subcommand that decodes frames takes.
struct DecodeOptions: ParsableArguments {
    @Option(name: .customLong("dictionary"), help: ArgumentHelp(
        "A zstd dictionary frames may be compressed with (podsync_store_dictionary's bytes); repeat for several.",
        valueName: "FILE"))
    var dictionaries: [String] = []

    @Option(help: ArgumentHelp(
        "Largest decompressed payload, and decoded size of a frame's sections, accepted (bytes).",
        valueName: "BYTES"))
    var maxDecodedBytes: UInt64 = FrameReader.defaultMaxDecodedBytes

    /// The dictionaries' bytes.
    func loadDictionaries() throws(Failure) -> [[UInt8]] {
        var all: [[UInt8]] = []
        for path in dictionaries { all.append(try readWholeFile(path, what: "dictionary")) }
        return all
    }

    /// A store-less decoder with the dictionaries loaded.
    func decoder() throws(Failure) -> Decoder {
        let decoder = Decoder(maxDecodedBytes: maxDecodedBytes == 0 ? FrameReader.defaultMaxDecodedBytes : maxDecodedBytes)
        for (path, bytes) in zip(dictionaries, try loadDictionaries()) {
            do {
                _ = try withBytes(bytes) { (raw) throws(PodSyncError) in try decoder.engine.loadDictionary(raw) }
            } catch {
                throw Failure("dictionary \(path): \(statusName(error.code)): \(error.message)")
            }
        }
        return decoder
    }
}

/// The engine's store-less decoder, in a class so closures can share it.
final class Decoder {
    var engine: FrameDecoder
    init(maxDecodedBytes: UInt64) { engine = FrameDecoder(maxDecodedBytes: maxDecodedBytes) }

    /// Validates and decodes `frame`; `body` sees its sections (valid during the call only).
    func decode<R>(_ frame: RawFrame, schema: Schema? = nil, _ body: (FrameHeader, [SectionView]) -> R) throws(FrameFailure) -> R {
        do {
            return try engine.decode(frame.bytes, schema: schema, body)
        } catch {
            throw FrameFailure(frame, error)
        }
    }

    /// Checks `frame` without decoding records (podsync_frame_validate).
    func check(_ frame: RawFrame) throws(FrameFailure) -> FrameHeader {
        do {
            return try engine.check(frame.bytes)
        } catch {
            throw FrameFailure(frame, error)
        }
    }
}

/// A schema from the canonical encoding podsync_schema_encode writes, validated by the engine.
func loadSchema(_ path: String) throws(Failure) -> Schema {
    let bytes = try readWholeFile(path, what: "schema")
    do {
        return try withBytes(bytes) { (raw) throws(PodSyncError) in try Schema(decoding: raw) }
    } catch {
        throw Failure("schema \(path): \(statusName(error.code)): \(error.message)")
    }
}

/// A replica store of the schema that frames are applied to (the engine's version rules, digest
/// checks and decoding).
final class Replica {
    var store: Store
    /// Apply outcomes by status.
    var outcomes: [Int32: Int] = [:]

    init(schema: Schema, options: DecodeOptions) throws(Failure) {
        var settings = StoreOptions()
        if options.maxDecodedBytes != 0 { settings.maxDecodedBytes = options.maxDecodedBytes }
        store = Store(schema: schema, role: .replica, options: settings)
        for (path, bytes) in zip(options.dictionaries, try options.loadDictionaries()) {
            do {
                _ = try withBytes(bytes) { (raw) throws(PodSyncError) in try store.loadDictionary(raw) }
            } catch {
                throw Failure("dictionary \(path): \(statusName(error.code)): \(error.message)")
            }
        }
    }

    /// Applies a frame; an error (the state is then unchanged, a digest mismatch excepted) is
    /// thrown as the frame's failure.
    @discardableResult
    func apply(_ frame: RawFrame) throws(FrameFailure) -> Int32 {
        do {
            let status = try store.apply(frame.bytes)
            outcomes[status, default: 0] += 1
            return status
        } catch {
            throw FrameFailure(frame, error)
        }
    }

    /// "25 applied, 6 duplicates, 2 gaps, 1 stale".
    var outcomeText: String {
        var parts = ["\(outcomes[Status.ok, default: 0]) applied"]
        if let n = outcomes[Status.duplicate] { parts.append(counted(n, "duplicate")) }
        if let n = outcomes[Status.gap] { parts.append(counted(n, "gap")) }
        if let n = outcomes[Status.stale] { parts.append("\(n) stale") }
        return parts.joined(separator: ", ")
    }
}

/// `bytes.withUnsafeBytes` for an engine call, keeping its typed error.
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(PodSyncError) -> R) throws(PodSyncError) -> R {
    let result = bytes.withUnsafeBytes { raw in Result { () throws(PodSyncError) in try body(raw) } }
    return try result.get()
}
