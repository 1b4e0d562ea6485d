/// The header of frame format 2 (docs/FORMAT.md, "Format version 2"): a 16-byte prefix, fixed-width
/// fields, minimal LEB128 core fields, then extension records up to `header_length`.
enum HeaderV2 {
    static let formatVersion: UInt8 = 2
    static let prefixSize = 16
    static let minHeaderLength = 40
    static let offUnits = 5
    static let offFlags = 6
    static let offChecksum = 8
    static let offSchemaHash = 16
    static let offStreamID = 24
    static let offStateDigest = 32

    static let flagChunk: UInt32 = 0x4
    static let flagRepair: UInt32 = 0x8
    static let flagSummary: UInt32 = 0x10
    /// Flags a receiver must understand are the low byte; this library knows these.
    static let knownCriticalFlags: UInt32 = FrameLayout.flagReset | FrameLayout.flagHasDigest | flagChunk | flagRepair | flagSummary
    static let knownTransforms: UInt64 = UInt64(FrameLayout.knownTransforms)

    static let tagChunk: UInt64 = 1
    static let tagRefreshSlice: UInt64 = 3
    static let tagTermHistory: UInt64 = 5
    static let tagSubscription: UInt64 = 9
    static let chunkLast: UInt8 = 0x1

    // MARK: LEB128

    /// Reads a minimal LEB128 of at most 10 bytes below 2^64 from `[position, end)`.
    static func readVarint(_ p: UnsafeRawPointer, _ position: inout Int, end: Int, _ what: StaticString) throws(PodSyncError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var i = position
        while true {
            guard i < end, shift < 70 else { throw .malformed("header field \(what) is not a LEB128 inside the header") }
            let byte = p.load(fromByteOffset: i, as: UInt8.self)
            let bits = UInt64(byte & 0x7F)
            if shift == 63 && bits > 1 { throw .malformed("header field \(what) does not fit in 64 bits") }
            value |= bits << shift
            i += 1
            if byte & 0x80 == 0 {
                if i - position > 1 && byte == 0 { throw .malformed("header field \(what) is not a minimal LEB128") }
                break
            }
            shift += 7
        }
        position = i
        return value
    }

    @inline(__always) static func varintSize(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    @inline(__always) static func writeVarint(_ value: UInt64, _ p: UnsafeMutableRawPointer, _ position: inout Int) {
        var v = value
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: position, as: UInt8.self)
            v >>= 7
            position += 1
        }
        p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: position, as: UInt8.self)
        position += 1
    }

    // MARK: Reading

    /// Steps V4 to V6: header length and frame length. `p` holds `count` bytes, at least 16,
    /// magic and version already checked.
    static func peekPrefix(_ p: UnsafeRawPointer, count: Int) throws(PodSyncError) -> (headerLength: Int, frameLength: UInt64, flags: UInt32) {
        let headerLength = 8 * Int(p.load(fromByteOffset: offUnits, as: UInt8.self))
        guard headerLength >= minHeaderLength else {
            throw .malformed("header length \(headerLength) is below the 40 bytes of a format-2 header")
        }
        guard count >= headerLength else {
            throw PodSyncError(Status.frameTruncated, "\(count) bytes cannot hold the \(headerLength)-byte header")
        }
        let flags = UInt32(p.le(offFlags, as: UInt16.self))
        var position = flags & FrameLayout.flagHasDigest != 0 ? 40 : 32
        let frameLength = try readVarint(p, &position, end: headerLength, "frame_length")
        return (headerLength, frameLength, flags)
    }

    /// Steps V11 to V15 (after the checksum): the core fields and the extension records.
    static func parse(_ p: UnsafeRawPointer, headerLength: Int, flags: UInt32) throws(PodSyncError) -> FrameHeader {
        guard flags & 0xFF & ~knownCriticalFlags == 0 else {
            throw PodSyncError(Status.frameFeature, "frame flags \(hex(UInt64(flags))) include a feature this library does not implement")
        }
        let hasDigest = flags & FrameLayout.flagHasDigest != 0
        var position = hasDigest ? 40 : 32
        let frameLength = try readVarint(p, &position, end: headerLength, "frame_length")
        let term = try readVarint(p, &position, end: headerLength, "term")
        let sequence = try readVarint(p, &position, end: headerLength, "sequence")
        let baseVersion = try readVarint(p, &position, end: headerLength, "base_version")
        let delta = try readVarint(p, &position, end: headerLength, "version_delta")
        let (stateVersion, overflow) = baseVersion.addingReportingOverflow(delta)
        guard !overflow else { throw .malformed("base_version + version_delta does not fit in 64 bits") }
        let sectionCount = try readVarint(p, &position, end: headerLength, "section_count")
        guard sectionCount <= UInt64(FrameLayout.maxSections) else { throw .malformed("section_count \(sectionCount) is above 65535") }
        guard position < headerLength else { throw .malformed("header field codec is not inside the header") }
        let codec = p.load(fromByteOffset: position, as: UInt8.self)
        position += 1
        let transforms = try readVarint(p, &position, end: headerLength, "transforms")
        guard transforms <= UInt64(UInt32.max) else { throw .malformed("transforms \(transforms) is above 2^32 - 1") }
        let encoded = codec != FrameLayout.codecNone || transforms != 0
        var payloadLength = frameLength &- UInt64(headerLength)
        if encoded { payloadLength = try readVarint(p, &position, end: headerLength, "payload_length") }
        guard transforms & ~HeaderV2.knownTransforms == 0 else {
            throw PodSyncError(Status.frameFeature, "frame transforms \(hex(transforms)) include one this library does not implement")
        }
        guard codec == FrameLayout.codecNone || codec == FrameLayout.codecZstd else {
            throw PodSyncError(Status.unsupportedCodec, "codec \(codec) is not supported by this library")
        }
        var header = FrameHeader(
            formatVersion: 2, headerLength: headerLength, frameLength: frameLength, flags: flags,
            sectionCount: Int(sectionCount), codec: codec,
            schemaHash: p.le(offSchemaHash, as: UInt64.self), streamID: p.le(offStreamID, as: UInt64.self),
            sequence: sequence, baseVersion: baseVersion, stateVersion: stateVersion,
            stateDigest: hasDigest ? p.le(offStateDigest, as: UInt64.self) : 0,
            payloadLength: payloadLength, transforms: UInt8(truncatingIfNeeded: transforms))
        header.term = term
        // V15: extension records.
        var lastTag: UInt64 = 0
        while position < headerLength && p.load(fromByteOffset: position, as: UInt8.self) != 0 {
            let tag = try readVarint(p, &position, end: headerLength, "extension tag")
            guard tag > lastTag else { throw .malformed("extension tag \(tag) is not above the previous one") }
            lastTag = tag
            let length = try readVarint(p, &position, end: headerLength, "extension length")
            guard length <= UInt64(headerLength - position) else { throw .malformed("extension record \(tag) ends past the header") }
            let valueEnd = position + Int(length)
            switch tag {
            case tagChunk:
                header.chunk = try parseChunk(p, position, valueEnd)
            case tagRefreshSlice:
                header.slice = try parseSlice(p, position, valueEnd)
            case tagTermHistory:
                header.history = try parseHistory(p, position, valueEnd, term: term)
            case tagRepair:
                header.repair = try parseRepair(p, position, valueEnd)
            case tagSubscription:
                guard length == 8 else { throw .malformed("a SUBSCRIPTION record holds 8 bytes, not \(length)") }
                header.subscription = p.le(position, as: UInt64.self)
            case tagSummary:
                header.summary = try parseSummary(p, position, valueEnd)
            default:
                if tag & 1 == 1 {
                    throw PodSyncError(Status.frameFeature, "frame carries extension record \(tag), a feature this library does not implement")
                }
            }
            position = valueEnd
        }
        guard FrameReader.isZero(p + position, headerLength - position) else {
            throw .malformed("bytes after the last extension record are not zero")
        }
        guard (flags & flagChunk != 0) == (header.chunk != nil) else {
            throw .malformed("flag CHUNK and the CHUNK record disagree")
        }
        guard (flags & flagRepair != 0) == (header.repair != nil) else {
            throw .malformed("flag REPAIR and the REPAIR record disagree")
        }
        guard (flags & flagSummary != 0) == (header.summary != nil) else {
            throw .malformed("flag SUMMARY and the SUMMARY record disagree")
        }
        return header
    }

    /// Step V17, the kind rules the header decides (after the schema hash, V16).
    static func checkKind(_ header: FrameHeader) throws(PodSyncError) {
        if header.slice != nil && (header.isReset || header.chunk != nil) {
            throw .malformed("a REFRESH_SLICE cannot ride a RESET frame or a chunk")
        }
        if header.repair != nil || header.summary != nil {
            guard header.repair == nil || header.summary == nil else { throw .malformed("a frame cannot be both REPAIR and SUMMARY") }
            guard header.chunk == nil && header.slice == nil && !header.isReset else {
                throw .malformed("REPAIR and SUMMARY are not combined with RESET, CHUNK or REFRESH_SLICE")
            }
            guard header.hasDigest else { throw .malformed("REPAIR and SUMMARY frames carry a state digest") }
            if header.summary != nil {
                guard header.baseVersion == 0, header.sectionCount == 0, header.codec == FrameLayout.codecNone, header.transforms == 0 else {
                    throw .malformed("a SUMMARY has base version 0, no sections, no codec and no transforms")
                }
            } else if header.isRelative {
                throw .malformed("a REPAIR frame holds absolute records (no XOR, no FIELDS)")
            }
        } else if header.isReset {
            guard header.baseVersion == 0 else { throw .malformed("a RESET frame must have base version 0") }
        } else if header.chunk != nil {
            // A chunk of a catch-up delta; from version 1 on (base 0 would be a snapshot, and
            // base_version 0 names snapshots in podsync_chunk_position).
            guard header.baseVersion >= 1 else { throw .malformed("a chunked delta must start at version 1 or later") }
            guard header.stateVersion > header.baseVersion else {
                throw .malformed("chunked delta base version \(header.baseVersion) is not below its version \(header.stateVersion)")
            }
        } else if header.slice != nil && header.sectionCount == 0 {
            // A refresh-only frame: a slice without changes, at the writer's version.
            guard header.stateVersion >= header.baseVersion else { throw .malformed("version_delta underflow") }
        } else {
            guard header.stateVersion > header.baseVersion else {
                throw .malformed("delta base version \(header.baseVersion) is not below its version \(header.stateVersion)")
            }
        }
        if header.slice != nil && header.stateVersion == 0 { throw .malformed("a refresh slice of version 0") }
        // V18: a term above 0 comes with its history (entry 0 is that term), term 0 with none.
        if header.term != 0 {
            guard !header.history.isEmpty else { throw .malformed("term \(header.term) without a TERM_HISTORY record") }
            // (A summary's state_version is the exchange's anchor, which may predate the sender's
            // term: the rule is for frames that carry state.)
            guard header.summary != nil || header.stateVersion >= header.history.entries[0].startVersion else {
                throw .malformed("version \(header.stateVersion) is before term \(header.term) began (\(header.history.entries[0].startVersion))")
            }
        } else if !header.history.isEmpty {
            throw .malformed("a TERM_HISTORY record in a frame of term 0")
        }
        if header.isRelative && (header.isReset || !header.xorAllowed) {
            throw .malformed("the XOR and FIELDS transforms are only allowed in a delta from v to v + 1 (or a subscription's delta)")
        }
        if header.transforms & FrameLayout.transformColumns != 0 && header.transforms & FrameLayout.transformTranspose == 0 {
            throw .malformed("COLUMNS needs TRANSPOSE")
        }
        if header.transforms & FrameLayout.transformKeyRanks != 0 {
            guard header.transforms & FrameLayout.transformKeyGaps != 0 else { throw .malformed("KEY_RANKS needs KEY_GAPS") }
            guard header.subscription == nil, header.chunk == nil, header.stateVersion == header.baseVersion &+ 1 else {
                throw .malformed("KEY_RANKS is only allowed in a delta from v to v + 1 of the whole stream")
            }
        }
    }

    static func parseSlice(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) throws(PodSyncError) -> SliceRecord {
        var position = start
        var slice = SliceRecord()
        slice.pass = try readVarint(p, &position, end: end, "pass")
        slice.index = try readVarint(p, &position, end: end, "slice_index")
        guard end - position >= 13 else { throw .malformed("REFRESH_SLICE record is too short") }
        let flags = p.load(fromByteOffset: position, as: UInt8.self)
        guard flags & ~chunkLast == 0 else { throw .malformed("REFRESH_SLICE slice_flags \(flags) has unknown bits") }
        slice.last = flags & chunkLast != 0
        slice.startTable = p.le(position + 1, as: UInt32.self)
        slice.startKey = p.le(position + 5, as: UInt64.self)
        position += 13
        if slice.index == 0 && (slice.startTable != 0 || slice.startKey != 0) {
            throw .malformed("slice 0 must start at (0, 0)")
        }
        if !slice.last {
            guard end - position >= 12 else { throw .malformed("REFRESH_SLICE record is too short") }
            slice.endTable = p.le(position, as: UInt32.self)
            slice.endKey = p.le(position + 4, as: UInt64.self)
            position += 12
            guard (slice.endTable, slice.endKey) > (slice.startTable, slice.startKey) else {
                throw .malformed("slice ends at or before its start")
            }
        }
        let count = try readVarint(p, &position, end: end, "slice_section_count")
        guard count <= UInt64(FrameLayout.maxSections) else { throw .malformed("slice_section_count \(count) is above 65535") }
        slice.sectionCount = Int(count)
        guard position == end else { throw .malformed("REFRESH_SLICE record has \(end - position) extra bytes") }
        return slice
    }

    /// TERM_HISTORY: 1 to 8 entries going back in time, entry 0 the frame's term.
    static func parseHistory(_ p: UnsafeRawPointer, _ start: Int, _ end: Int, term: UInt64) throws(PodSyncError) -> TermHistory {
        var position = start
        let count = try readVarint(p, &position, end: end, "entry_count")
        guard count >= 1 && count <= UInt64(TermHistory.maxEntries) else {
            throw .malformed("TERM_HISTORY entry_count \(count) is not 1 to \(TermHistory.maxEntries)")
        }
        var history = TermHistory()
        var expected = term
        var lastStart = UInt64.max
        for _ in 0..<Int(count) {
            let entryTerm = try readVarint(p, &position, end: end, "term")
            let startVersion = try readVarint(p, &position, end: end, "start_version")
            let previous = try readVarint(p, &position, end: end, "previous_term")
            guard entryTerm == expected else {
                throw .malformed("TERM_HISTORY entry of term \(entryTerm) where term \(expected) was expected")
            }
            guard previous < entryTerm else { throw .malformed("TERM_HISTORY previous_term \(previous) is not below term \(entryTerm)") }
            guard startVersion <= lastStart else { throw .malformed("TERM_HISTORY start versions increase going back in time") }
            history.entries.append(TermEntry(term: entryTerm, startVersion: startVersion, previousTerm: previous))
            expected = previous
            lastStart = startVersion
        }
        guard position == end else { throw .malformed("TERM_HISTORY record has \(end - position) extra bytes") }
        return history
    }

    static func historyValueLength(_ h: TermHistory) -> Int {
        var n = varintSize(UInt64(h.entries.count))
        for e in h.entries { n += varintSize(e.term) + varintSize(e.startVersion) + varintSize(e.previousTerm) }
        return n
    }

    static func sliceValueLength(_ s: SliceRecord) -> Int {
        varintSize(s.pass) + varintSize(s.index) + 13 + (s.last ? 0 : 12) + varintSize(UInt64(s.sectionCount))
    }

    static func parseChunk(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) throws(PodSyncError) -> ChunkRecord {
        var position = start
        guard end - position >= 8 else { throw .malformed("CHUNK record is too short") }
        var chunk = ChunkRecord()
        chunk.snapshotID = p.le(position, as: UInt64.self)
        position += 8
        guard chunk.snapshotID != 0 else { throw .malformed("CHUNK snapshot_id is 0") }
        chunk.index = try readVarint(p, &position, end: end, "chunk_index")
        guard end - position >= 13 else { throw .malformed("CHUNK record is too short") }
        let flags = p.load(fromByteOffset: position, as: UInt8.self)
        guard flags & ~chunkLast == 0 else { throw .malformed("CHUNK chunk_flags \(flags) has unknown bits") }
        chunk.last = flags & chunkLast != 0
        chunk.startTable = p.le(position + 1, as: UInt32.self)
        chunk.startKey = p.le(position + 5, as: UInt64.self)
        position += 13
        if chunk.index == 0 && (chunk.startTable != 0 || chunk.startKey != 0) {
            throw .malformed("chunk 0 must start at (0, 0)")
        }
        if chunk.last {
            chunk.recordCount = try readVarint(p, &position, end: end, "record_count")
        } else {
            guard end - position >= 12 else { throw .malformed("CHUNK record is too short") }
            chunk.endTable = p.le(position, as: UInt32.self)
            chunk.endKey = p.le(position + 4, as: UInt64.self)
            position += 12
            guard (chunk.endTable, chunk.endKey) > (chunk.startTable, chunk.startKey) else {
                throw .malformed("chunk ends at or before its start")
            }
        }
        guard position == end else { throw .malformed("CHUNK record has \(end - position) extra bytes") }
        return chunk
    }

    // MARK: Writing

    /// The size of a format-2 header with these fields, for a frame of `frameLength` bytes.
    static func headerLength(_ h: FrameBuilder.HeaderFields, frameLength: UInt64, payloadLength: UInt64?) -> Int {
        var n = h.flags & FrameLayout.flagHasDigest != 0 ? 40 : 32
        n += varintSize(frameLength) + varintSize(h.term) + varintSize(h.sequence) + varintSize(h.baseVersion)
        n += varintSize(h.stateVersion &- h.baseVersion) + varintSize(UInt64(h.sectionCount)) + 1 + varintSize(UInt64(h.transforms))
        if let payloadLength { n += varintSize(payloadLength) }
        if let chunk = h.chunk { n += 2 + chunkValueLength(chunk) }
        if let slice = h.slice { n += 1 + varintSize(UInt64(sliceValueLength(slice))) + sliceValueLength(slice) }
        if h.term != 0 { n += 1 + varintSize(UInt64(historyValueLength(h.history))) + historyValueLength(h.history) }
        if let r = h.repair { n += 1 + varintSize(UInt64(repairValueLength(r))) + repairValueLength(r) }
        if h.subscription != nil { n += 10 }
        if let s = h.summary { n += 1 + varintSize(UInt64(summaryValueLength(s))) + summaryValueLength(s) }
        return alignUp(max(n, minHeaderLength), 8)
    }

    static func chunkValueLength(_ c: ChunkRecord) -> Int {
        8 + varintSize(c.index) + 13 + (c.last ? varintSize(c.recordCount) : 12)
    }

    /// Writes a format-2 header of `headerLength` bytes (`headerLength(...)` of the same fields)
    /// at `p`; the checksum is left 0 (`FrameBuilder.seal`).
    static func write(_ p: UnsafeMutableRawPointer, headerLength: Int, frameLength: UInt64, payloadLength: UInt64?,
                      _ h: FrameBuilder.HeaderFields) {
        p.storeLE(FrameLayout.magic, at: 0)
        p.storeBytes(of: formatVersion, toByteOffset: 4, as: UInt8.self)
        p.storeBytes(of: UInt8(headerLength / 8), toByteOffset: offUnits, as: UInt8.self)
        let flags = h.flags | (h.chunk != nil ? flagChunk : 0) | (h.repair != nil ? flagRepair : 0) | (h.summary != nil ? flagSummary : 0)
        p.storeLE(UInt16(truncatingIfNeeded: flags), at: offFlags)
        p.storeLE(UInt64(0), at: offChecksum)
        p.storeLE(h.schemaHash, at: offSchemaHash)
        p.storeLE(h.streamID, at: offStreamID)
        var position = 32
        if h.flags & FrameLayout.flagHasDigest != 0 {
            p.storeLE(h.stateDigest, at: offStateDigest)
            position = 40
        }
        writeVarint(frameLength, p, &position)
        writeVarint(h.term, p, &position)
        writeVarint(h.sequence, p, &position)
        writeVarint(h.baseVersion, p, &position)
        writeVarint(h.stateVersion &- h.baseVersion, p, &position)
        writeVarint(UInt64(h.sectionCount), p, &position)
        p.storeBytes(of: h.codec, toByteOffset: position, as: UInt8.self)
        position += 1
        writeVarint(UInt64(h.transforms), p, &position)
        if let payloadLength { writeVarint(payloadLength, p, &position) }
        if let c = h.chunk {
            writeVarint(tagChunk, p, &position)
            writeVarint(UInt64(chunkValueLength(c)), p, &position)
            p.storeLE(c.snapshotID, at: position)
            position += 8
            writeVarint(c.index, p, &position)
            p.storeBytes(of: c.last ? chunkLast : 0, toByteOffset: position, as: UInt8.self)
            p.storeLE(c.startTable, at: position + 1)
            p.storeLE(c.startKey, at: position + 5)
            position += 13
            if c.last {
                writeVarint(c.recordCount, p, &position)
            } else {
                p.storeLE(c.endTable, at: position)
                p.storeLE(c.endKey, at: position + 4)
                position += 12
            }
        }
        if let r = h.slice {
            writeVarint(tagRefreshSlice, p, &position)
            writeVarint(UInt64(sliceValueLength(r)), p, &position)
            writeVarint(r.pass, p, &position)
            writeVarint(r.index, p, &position)
            p.storeBytes(of: r.last ? chunkLast : 0, toByteOffset: position, as: UInt8.self)
            p.storeLE(r.startTable, at: position + 1)
            p.storeLE(r.startKey, at: position + 5)
            position += 13
            if !r.last {
                p.storeLE(r.endTable, at: position)
                p.storeLE(r.endKey, at: position + 4)
                position += 12
            }
            writeVarint(UInt64(r.sectionCount), p, &position)
        }
        if h.term != 0 {
            writeVarint(tagTermHistory, p, &position)
            writeVarint(UInt64(historyValueLength(h.history)), p, &position)
            writeVarint(UInt64(h.history.entries.count), p, &position)
            for e in h.history.entries {
                writeVarint(e.term, p, &position)
                writeVarint(e.startVersion, p, &position)
                writeVarint(e.previousTerm, p, &position)
            }
        }
        if let r = h.repair { writeRepair(r, p, &position) }
        if let hash = h.subscription {
            writeVarint(tagSubscription, p, &position)
            writeVarint(8, p, &position)
            p.storeLE(hash, at: position)
            position += 8
        }
        if let s = h.summary { writeSummary(s, p, &position) }
        (p + position).initializeMemory(as: UInt8.self, repeating: 0, count: headerLength - position)
    }
}

/// One entry of a TERM_HISTORY record: `term` continued `previousTerm` from `startVersion`.
public struct TermEntry: Sendable, Equatable {
    public var term: UInt64
    public var startVersion: UInt64
    public var previousTerm: UInt64

    public init(term: UInt64, startVersion: UInt64, previousTerm: UInt64) {
        self.term = term
        self.startVersion = startVersion
        self.previousTerm = previousTerm
    }
}

/// The TERM_HISTORY extension record (tag 5): the terms of a stream going back in time, entry 0
/// the current one (docs/FORMAT.md, "Terms and fencing").
public struct TermHistory: Sendable, Equatable {
    public static let maxEntries = 8
    public var entries: [TermEntry] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    /// Where the history left `term`: the start version of the first term after it, or nil when
    /// the history does not reach back to it.
    public func departure(from term: UInt64) -> UInt64? {
        for e in entries where e.previousTerm == term { return e.startVersion }
        return nil
    }

    /// The history of a new term that continues this one (whose current term is `current`) from
    /// `version`.
    public func starting(term: UInt64, at version: UInt64, after current: UInt64) -> TermHistory {
        var next = TermHistory()
        next.entries.append(TermEntry(term: term, startVersion: version, previousTerm: current))
        next.entries.append(contentsOf: entries.prefix(TermHistory.maxEntries - 1))
        return next
    }
}

/// The REFRESH_SLICE extension record (tag 3): one slice of a rolling refresh, in sections of
/// its own after the frame's `section_count` sections.
public struct SliceRecord: Sendable, Equatable {
    public var pass: UInt64 = 0
    public var index: UInt64 = 0
    public var last = false
    public var startTable: UInt32 = 0
    public var startKey: UInt64 = 0
    /// Without `last`: the first position not covered.
    public var endTable: UInt32 = 0
    public var endKey: UInt64 = 0
    public var sectionCount = 0

    public init() {}
}

/// The CHUNK extension record (tag 1): which part of which snapshot a frame carries.
public struct ChunkRecord: Sendable, Equatable {
    public var snapshotID: UInt64 = 0
    public var index: UInt64 = 0
    public var last = false
    public var startTable: UInt32 = 0
    public var startKey: UInt64 = 0
    /// Without `last`: the first key not covered.
    public var endTable: UInt32 = 0
    public var endKey: UInt64 = 0
    /// With `last`: the puts of all chunks together.
    public var recordCount: UInt64 = 0

    public init() {}
}
