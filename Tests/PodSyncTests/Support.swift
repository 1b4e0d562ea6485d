// Shared helpers for the PodSync test suites. Everything here goes through the C API of
// include/podsync.h (imported as the CPodSync module); CXXHash lets tests recompute checksums,
// schema hashes and state digests independently of the engine, from docs/FORMAT.md alone.
import CPodSync
import CXXHash
import Testing

// MARK: - Status helpers

/// Every status the header defines, with its pinned value and name.
let allStatuses: [(code: Int32, name: String)] = [
    (PODSYNC_OK, "PODSYNC_OK"),
    (PODSYNC_FLUSH_DUE, "PODSYNC_FLUSH_DUE"),
    (PODSYNC_NOT_FOUND, "PODSYNC_NOT_FOUND"),
    (PODSYNC_DUPLICATE, "PODSYNC_DUPLICATE"),
    (PODSYNC_GAP, "PODSYNC_GAP"),
    (PODSYNC_STALE, "PODSYNC_STALE"),
    (PODSYNC_SNAPSHOT_REQUIRED, "PODSYNC_SNAPSHOT_REQUIRED"),
    (PODSYNC_CHUNK_GAP, "PODSYNC_CHUNK_GAP"),
    (PODSYNC_CHUNK_STAGED, "PODSYNC_CHUNK_STAGED"),
    (PODSYNC_REFRESHING, "PODSYNC_REFRESHING"),
    (PODSYNC_DONE, "PODSYNC_DONE"),
    (PODSYNC_E_INVALID_ARGUMENT, "PODSYNC_E_INVALID_ARGUMENT"),
    (PODSYNC_E_UNKNOWN_TABLE, "PODSYNC_E_UNKNOWN_TABLE"),
    (PODSYNC_E_RECORD_SIZE, "PODSYNC_E_RECORD_SIZE"),
    (PODSYNC_E_BUFFER_TOO_SMALL, "PODSYNC_E_BUFFER_TOO_SMALL"),
    (PODSYNC_E_NO_MEMORY, "PODSYNC_E_NO_MEMORY"),
    (PODSYNC_E_WRONG_ROLE, "PODSYNC_E_WRONG_ROLE"),
    (PODSYNC_E_SCHEMA_INVALID, "PODSYNC_E_SCHEMA_INVALID"),
    (PODSYNC_E_FRAME_TRUNCATED, "PODSYNC_E_FRAME_TRUNCATED"),
    (PODSYNC_E_FRAME_MAGIC, "PODSYNC_E_FRAME_MAGIC"),
    (PODSYNC_E_FRAME_VERSION, "PODSYNC_E_FRAME_VERSION"),
    (PODSYNC_E_FRAME_CHECKSUM, "PODSYNC_E_FRAME_CHECKSUM"),
    (PODSYNC_E_FRAME_MALFORMED, "PODSYNC_E_FRAME_MALFORMED"),
    (PODSYNC_E_SCHEMA_MISMATCH, "PODSYNC_E_SCHEMA_MISMATCH"),
    (PODSYNC_E_STREAM_MISMATCH, "PODSYNC_E_STREAM_MISMATCH"),
    (PODSYNC_E_UNSUPPORTED_CODEC, "PODSYNC_E_UNSUPPORTED_CODEC"),
    (PODSYNC_E_DIGEST_MISMATCH, "PODSYNC_E_DIGEST_MISMATCH"),
    (PODSYNC_E_DIVERGED, "PODSYNC_E_DIVERGED"),
    (PODSYNC_E_VERSION_AHEAD, "PODSYNC_E_VERSION_AHEAD"),
    (PODSYNC_E_FRAME_TOO_LARGE, "PODSYNC_E_FRAME_TOO_LARGE"),
    (PODSYNC_E_DICTIONARY_MISSING, "PODSYNC_E_DICTIONARY_MISSING"),
    (PODSYNC_E_LIMIT, "PODSYNC_E_LIMIT"),
    (PODSYNC_E_SNAPSHOT_EXPIRED, "PODSYNC_E_SNAPSHOT_EXPIRED"),
    (PODSYNC_E_FRAME_FEATURE, "PODSYNC_E_FRAME_FEATURE"),
    (PODSYNC_E_CHUNK_MISMATCH, "PODSYNC_E_CHUNK_MISMATCH"),
    (PODSYNC_E_REPAIR_STALE, "PODSYNC_E_REPAIR_STALE"),
    (PODSYNC_E_TERM_FENCED, "PODSYNC_E_TERM_FENCED"),
    (PODSYNC_E_HISTORY_DIVERGED, "PODSYNC_E_HISTORY_DIVERGED"),
    (PODSYNC_E_NOT_SUBSCRIBED, "PODSYNC_E_NOT_SUBSCRIBED"),
    (PODSYNC_E_IO, "PODSYNC_E_IO"),
    (PODSYNC_E_FILE_CORRUPT, "PODSYNC_E_FILE_CORRUPT"),
    (PODSYNC_E_INTERNAL, "PODSYNC_E_INTERNAL"),
]

/// The status's name from the header's table (not from the engine), for messages.
func sname(_ status: Int32) -> String {
    allStatuses.first { $0.code == status }?.name ?? "status \(status)"
}

/// `#expect(got == want)` with both statuses named in the failure message.
func expectStatus(
    _ got: Int32, _ want: Int32, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(
        got == want, "\(what): got \(sname(got)), expected \(sname(want))",
        sourceLocation: sourceLocation)
}

/// `#expect(status < 0)` with the status named.
func expectError(_ got: Int32, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation)
{
    #expect(got < 0, "\(what): got \(sname(got)), expected an error", sourceLocation: sourceLocation)
}

// MARK: - Little-endian byte access

extension Array where Element == UInt8 {
    func le<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var v: T = 0
        for i in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: self[offset + i]) << (8 * i) }
        return v
    }
    func u16(_ offset: Int) -> UInt16 { le(UInt16.self, at: offset) }
    func u32(_ offset: Int) -> UInt32 { le(UInt32.self, at: offset) }
    func u64(_ offset: Int) -> UInt64 { le(UInt64.self, at: offset) }

    mutating func setLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for i in 0..<MemoryLayout<T>.size { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
    mutating func setU16(_ offset: Int, _ v: UInt16) { setLE(v, at: offset) }
    mutating func setU32(_ offset: Int, _ v: UInt32) { setLE(v, at: offset) }
    mutating func setU64(_ offset: Int, _ v: UInt64) { setLE(v, at: offset) }

    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        for i in 0..<MemoryLayout<T>.size { append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }
}

// MARK: - Hashing (independent of the engine)

func xxh3(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { XXH3_64bits($0.baseAddress, $0.count) }
}

func xxh3(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.withUnsafeBytes { XXH3_64bits($0.baseAddress, $0.count) }
}

/// Checksum of a frame as docs/FORMAT.md defines it: XXH3-64 (seed 0) of bytes [16, len).
func frameChecksum(_ frame: [UInt8]) -> UInt64 { xxh3(frame[16...]) }

/// Rewrites the checksum field (offset 8) so a tampered frame passes the checksum check.
func recomputeChecksum(_ frame: inout [UInt8]) { frame.setU64(8, frameChecksum(frame)) }

func fmix64(_ x0: UInt64) -> UInt64 {
    var x = x0
    x ^= x >> 33
    x = x &* 0xff51_afd7_ed55_8ccd
    x ^= x >> 33
    x = x &* 0xc4ce_b9fe_1a85_ec53
    x ^= x >> 33
    return x
}

/// h(table_id, key, record) of docs/FORMAT.md "State digest".
func recordDigest(table: UInt32, key: UInt64, record: [UInt8]) -> UInt64 {
    let seed = fmix64(key ^ (UInt64(table) &* 0x9E37_79B9_7F4A_7C15))
    return record.withUnsafeBytes { XXH3_64bits_withSeed($0.baseAddress, $0.count, seed) }
}

/// The state digest of a dumped state, computed from docs/FORMAT.md.
func expectedDigest(_ dump: Dump) -> UInt64 {
    var sum: UInt64 = 0
    for (table, rows) in dump.tables {
        for row in rows { sum = sum &+ recordDigest(table: table, key: row.key, record: row.bytes) }
    }
    return sum
}

// MARK: - Deterministic randomness

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - Schemas

/// One field of a table definition, with a Swift string name (nil = a NULL name pointer).
struct FieldSpec: Sendable, CustomStringConvertible {
    var name: String?
    var type: UInt32
    var offset: UInt32
    var count: UInt32
    var reserved: UInt32

    init(_ name: String?, _ type: Int32, _ offset: UInt32, _ count: UInt32 = 1, reserved: UInt32 = 0) {
        self.name = name
        self.type = UInt32(bitPattern: type)
        self.offset = offset
        self.count = count
        self.reserved = reserved
    }

    var description: String {
        "\(name.map { "\"\($0.count > 12 ? String($0.prefix(12)) + "…" : $0)\"" } ?? "NULL") t\(type) @\(offset)×\(count)"
            + (reserved != 0 ? " r\(reserved)" : "")
    }
}

/// Calls body with a C array of podsync_field built from specs (names live during the call).
func withCFields<R>(_ specs: [FieldSpec], _ body: (UnsafePointer<podsync_field>?, Int) -> R) -> R {
    let names: [UnsafeMutablePointer<CChar>?] = specs.map { spec in
        guard let name = spec.name else { return nil }
        let utf8 = Array(name.utf8)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        return p
    }
    defer { for p in names { p?.deallocate() } }
    let fields = specs.indices.map { i in
        podsync_field(
            name: UnsafePointer(names[i]), type: specs[i].type, offset: specs[i].offset,
            count: specs[i].count, reserved: specs[i].reserved)
    }
    if fields.isEmpty { return body(nil, 0) }
    return fields.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
}

struct TableDef: Sendable {
    var id: UInt32
    var size: UInt32
    var alignment: UInt32
    var fields: [FieldSpec]
}

/// Owns a podsync_schema handle; remembers the tables added successfully (for dumps).
final class Schema {
    let handle: OpaquePointer
    private(set) var tables: [TableDef] = []

    init() throws {
        var p: OpaquePointer? = nil
        let st = podsync_schema_create(&p)
        try #require(st == PODSYNC_OK, "podsync_schema_create: \(sname(st))")
        handle = try #require(p)
    }

    /// Adopts a handle (e.g. from podsync_schema_decode).
    init(adopting handle: OpaquePointer, tables: [TableDef] = []) {
        self.handle = handle
        self.tables = tables
    }

    deinit { podsync_schema_free(handle) }

    @discardableResult
    func addTable(_ id: UInt32, size: UInt32, alignment: UInt32, _ fields: [FieldSpec] = []) -> Int32 {
        let st = withCFields(fields) { podsync_schema_add_table(handle, id, size, alignment, $0, $1) }
        if st == PODSYNC_OK { tables.append(TableDef(id: id, size: size, alignment: alignment, fields: fields)) }
        return st
    }

    func add(_ t: TableDef) -> Int32 { addTable(t.id, size: t.size, alignment: t.alignment, t.fields) }

    func hash() -> UInt64 {
        var h: UInt64 = 0
        let st = podsync_schema_hash(handle, &h)
        expectStatus(st, PODSYNC_OK, "podsync_schema_hash")
        return h
    }

    func encode() -> [UInt8] {
        var size = 0
        let st0 = podsync_schema_encode(handle, nil, 0, &size)
        expectStatus(st0, PODSYNC_E_BUFFER_TOO_SMALL, "podsync_schema_encode(capacity 0)")
        var out = [UInt8](repeating: 0, count: size)
        var size2 = 0
        let st = out.withUnsafeMutableBytes { podsync_schema_encode(handle, $0.baseAddress, $0.count, &size2) }
        expectStatus(st, PODSYNC_OK, "podsync_schema_encode")
        #expect(size2 == size)
        return out
    }

    var errmsg: String { String(cString: podsync_schema_errmsg(handle)) }
}

/// Table 1: 40-byte record — u64 id @0, f32×7 @8, u32 flags @36 — alignment 8.
let tableA: UInt32 = 1
let sizeA = 40
/// Table 2: 16-byte record — u64 key @0, i64 value @8 — alignment 8.
let tableB: UInt32 = 2
let sizeB = 16

let tableADef = TableDef(
    id: tableA, size: 40, alignment: 8,
    fields: [
        FieldSpec("id", PODSYNC_TYPE_U64, 0), FieldSpec("pos", PODSYNC_TYPE_F32, 8, 7),
        FieldSpec("flags", PODSYNC_TYPE_U32, 36),
    ])
let tableBDef = TableDef(
    id: tableB, size: 16, alignment: 8,
    fields: [FieldSpec("key", PODSYNC_TYPE_U64, 0), FieldSpec("value", PODSYNC_TYPE_I64, 8)])

/// The schema most tests use: tables 1 and 2.
func standardSchema() throws -> Schema {
    let s = try Schema()
    let a = s.add(tableADef)
    try #require(a == PODSYNC_OK, "add table 1: \(sname(a)) \(s.errmsg)")
    let b = s.add(tableBDef)
    try #require(b == PODSYNC_OK, "add table 2: \(sname(b)) \(s.errmsg)")
    return s
}

/// A schema from a list of table definitions (each must be accepted).
func makeSchema(_ defs: [TableDef]) throws -> Schema {
    let s = try Schema()
    for d in defs {
        let st = s.add(d)
        try #require(st == PODSYNC_OK, "add table \(d.id): \(sname(st)) \(s.errmsg)")
    }
    return s
}

/// The canonical encoding of docs/FORMAT.md, built independently of the engine.
func canonicalEncoding(_ defs: [TableDef]) -> [UInt8] {
    var out = Array("PSYNSCH1".utf8)
    out.appendLE(UInt32(defs.count))
    for t in defs.sorted(by: { $0.id < $1.id }) {
        out.appendLE(t.id)
        out.appendLE(t.size)
        out.appendLE(t.alignment)
        out.appendLE(UInt32(t.fields.count))
        for f in t.fields.sorted(by: { $0.offset < $1.offset }) {
            let name = Array((f.name ?? "").utf8)
            out.appendLE(f.type)
            out.appendLE(f.offset)
            out.appendLE(f.count)
            out.appendLE(UInt32(name.count))
            out += name
        }
    }
    return out
}

// MARK: - Records

/// A 40-byte table-1 record: u64 id, 7 f32, u32 flags. `salt` varies the value.
func recordA(_ key: UInt64, _ salt: UInt32 = 0) -> [UInt8] {
    var r: [UInt8] = []
    r.reserveCapacity(40)
    r.appendLE(key)
    for i in 0..<7 { r.appendLE((Float(key % 100_000) + Float(i) * 0.25 + Float(salt) * 10).bitPattern) }
    r.appendLE(salt &* 2_654_435_761 ^ UInt32(truncatingIfNeeded: key))
    return r
}

/// A 16-byte table-2 record.
func recordB(_ key: UInt64, _ salt: UInt32 = 0) -> [UInt8] {
    var r: [UInt8] = []
    r.appendLE(key)
    r.appendLE(Int64(salt) &* -7 &+ Int64(truncatingIfNeeded: key))
    return r
}

/// A record of any size with a pattern derived from key and salt.
func patternRecord(size: Int, key: UInt64, salt: UInt32 = 0) -> [UInt8] {
    var rng = SplitMix64(seed: key &* 31 &+ UInt64(salt) &+ UInt64(size))
    var r = [UInt8](repeating: 0, count: size)
    var i = 0
    while i < size {
        let v = rng.next()
        for j in 0..<8 where i + j < size { r[i + j] = UInt8(truncatingIfNeeded: v >> (8 * j)) }
        i += 8
    }
    return r
}

// MARK: - Aligned buffers

/// Calls body with a copy of bytes placed `offset` bytes past a 64-byte aligned address.
func withAligned<R>(_ bytes: [UInt8], count: Int? = nil, offset: Int = 0, _ body: (UnsafeRawPointer, Int) -> R) -> R {
    let n = count ?? bytes.count
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(n + offset, 1), alignment: 64)
    defer { p.deallocate() }
    bytes.withUnsafeBytes { src in
        if n > 0 { (p + offset).copyMemory(from: src.baseAddress!, byteCount: min(n, src.count)) }
    }
    return body(UnsafeRawPointer(p + offset), n)
}

// MARK: - State dumps

struct Row: Equatable, Comparable, CustomStringConvertible {
    var key: UInt64
    var bytes: [UInt8]
    static func < (a: Row, b: Row) -> Bool { a.key < b.key }
    var description: String { "\(key):\(bytes.prefix(8).map { String($0) }.joined(separator: "."))" }
}

/// A store's whole state: per table, the (key, record bytes) rows sorted by key.
struct Dump: Equatable, CustomStringConvertible {
    var tables: [UInt32: [Row]] = [:]
    var description: String {
        tables.keys.sorted().map { t in
            let rows = tables[t]!
            return "t\(t)[\(rows.count)]: " + rows.prefix(6).map(\.description).joined(separator: " ")
                + (rows.count > 6 ? " …" : "")
        }.joined(separator: "; ")
    }
    func keys(_ table: UInt32) -> [UInt64] { (tables[table] ?? []).map(\.key) }
    func record(_ table: UInt32, _ key: UInt64) -> [UInt8]? { tables[table]?.first { $0.key == key }?.bytes }
}

// MARK: - Stores

struct Options {
    var flags: UInt32 = PODSYNC_OPT_FRAME_DIGEST | PODSYNC_OPT_MANUAL_CLOCK
    var streamID: UInt64 = 0x5EED_0000_0000_0001
    var maxBatchRecords: UInt64 = 65536
    var maxBatchBytes: UInt64 = 4_194_304
    var maxBatchAgeMs: UInt64 = 50
    var maxFrameBytes: UInt64 = 67_108_864
    var tombstoneHorizon: UInt64 = 65536
    var compressionLevel: Int32 = 0
    var transforms: UInt32 = PODSYNC_TRANSFORM_ALL
    var maxDecodedBytes: UInt64 = 1 << 30
    var maxRecords: UInt64 = 0
    var maxTombstones: UInt64 = 1 << 20
    var frameFormat: UInt32 = 1
    var refreshFlushes: UInt32 = 0
    var refreshMs: UInt64 = 0

    var c: podsync_store_options {
        podsync_store_options(
            version: UInt32(PODSYNC_STORE_OPTIONS_VERSION), flags: flags, stream_id: streamID,
            max_batch_records: maxBatchRecords, max_batch_bytes: maxBatchBytes,
            max_batch_age_ms: maxBatchAgeMs, max_frame_bytes: maxFrameBytes,
            tombstone_horizon: tombstoneHorizon, compression_level: compressionLevel,
            transforms: transforms, max_decoded_bytes: maxDecodedBytes,
            max_records: maxRecords, max_tombstones: maxTombstones, frame_format: frameFormat,
            refresh_flushes: refreshFlushes, refresh_ms: refreshMs)
    }
}

/// Owns a podsync_store handle. Statuses are returned, not asserted, unless the helper says so.
final class Store {
    let handle: OpaquePointer
    let tables: [TableDef]

    init(_ schema: Schema, role: Int32, options: Options? = Options()) throws {
        var p: OpaquePointer? = nil
        var st: Int32
        if let options {
            var o = options.c
            st = podsync_store_create(schema.handle, UInt32(role), &o, &p)
        } else {
            st = podsync_store_create(schema.handle, UInt32(role), nil, &p)
        }
        try #require(st == PODSYNC_OK, "podsync_store_create: \(sname(st))")
        handle = try #require(p)
        tables = schema.tables
    }

    /// Wraps a handle made elsewhere (podsync_store_open).
    init(handle: OpaquePointer, tables: [TableDef]) {
        self.handle = handle
        self.tables = tables
    }

    static func writer(_ schema: Schema, _ configure: (inout Options) -> Void = { _ in }) throws -> Store {
        var o = Options()
        configure(&o)
        return try Store(schema, role: PODSYNC_ROLE_WRITER, options: o)
    }

    static func replica(_ schema: Schema, _ configure: (inout Options) -> Void = { _ in }) throws -> Store {
        var o = Options()
        configure(&o)
        return try Store(schema, role: PODSYNC_ROLE_REPLICA, options: o)
    }

    private var closed = false

    /// Frees the store now (a durable store then unlocks its directory); the wrapper is dead.
    func close() {
        guard !closed else { return }
        closed = true
        podsync_store_free(handle)
    }

    deinit { close() }

    var errmsg: String { String(cString: podsync_store_errmsg(handle)) }

    func recordSize(_ table: UInt32) -> Int { Int(tables.first { $0.id == table }?.size ?? 0) }

    // Writes

    @discardableResult
    func put(_ table: UInt32, _ key: UInt64, _ record: [UInt8]) -> Int32 {
        record.withUnsafeBytes { podsync_store_put(handle, table, key, $0.baseAddress, $0.count) }
    }

    /// Puts the standard record of table 1 or 2 for key.
    @discardableResult
    func put(_ table: UInt32, _ key: UInt64, salt: UInt32 = 0) -> Int32 {
        put(table, key, table == tableA ? recordA(key, salt) : recordB(key, salt))
    }

    @discardableResult
    func putMany(_ table: UInt32, _ keys: [UInt64], _ records: [UInt8]) -> Int32 {
        keys.withUnsafeBufferPointer { k in
            records.withUnsafeBytes { r in
                podsync_store_put_many(handle, table, k.baseAddress, r.baseAddress, keys.count, records.count)
            }
        }
    }

    @discardableResult
    func delete(_ table: UInt32, _ key: UInt64) -> Int32 { podsync_store_delete(handle, table, key) }

    func deleteMany(_ table: UInt32, _ keys: [UInt64]) -> (status: Int32, deleted: Int) {
        var deleted = -1
        let st = keys.withUnsafeBufferPointer {
            podsync_store_delete_many(handle, table, $0.baseAddress, keys.count, &deleted)
        }
        return (st, deleted)
    }

    @discardableResult
    func setTime(_ ms: UInt64) -> Int32 { podsync_store_set_time(handle, ms) }
    func flushDue() -> Int32 { podsync_store_flush_due(handle) }

    // Frames

    /// The outbox's frames as byte arrays (asserting each can be borrowed).
    func outbox(_ count: Int) -> [[UInt8]] {
        (0..<count).map { i in
            var data: UnsafePointer<UInt8>? = nil
            var size = 0
            let st = podsync_store_frame(handle, i, &data, &size)
            expectStatus(st, PODSYNC_OK, "podsync_store_frame(\(i))")
            guard st == PODSYNC_OK, let data else { return [] }
            return Array(UnsafeBufferPointer(start: data, count: size))
        }
    }

    func flush() -> (status: Int32, frames: [[UInt8]]) {
        var n = -1
        let st = podsync_store_flush(handle, &n)
        return (st, st >= 0 ? outbox(n) : [])
    }

    func deltaSince(_ v: UInt64) -> (status: Int32, frames: [[UInt8]]) {
        var n = -1
        let st = podsync_store_delta_since(handle, v, &n)
        if st == PODSYNC_SNAPSHOT_REQUIRED { #expect(n == 0, "SNAPSHOT_REQUIRED with \(n) frames") }
        return (st, st >= 0 ? outbox(max(n, 0)) : [])
    }

    func snapshot() -> (status: Int32, frames: [[UInt8]]) {
        var n = -1
        let st = podsync_store_snapshot(handle, &n)
        return (st, st >= 0 ? outbox(n) : [])
    }

    /// Flushes and requires success; returns the frames.
    func flushOK(sourceLocation: SourceLocation = #_sourceLocation) throws -> [[UInt8]] {
        let (st, frames) = flush()
        try #require(st == PODSYNC_OK, "flush: \(sname(st)) \(errmsg)", sourceLocation: sourceLocation)
        return frames
    }

    /// Flushes and requires exactly one frame.
    func flushOne(sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let frames = try flushOK(sourceLocation: sourceLocation)
        try #require(frames.count == 1, "flush produced \(frames.count) frames", sourceLocation: sourceLocation)
        return frames[0]
    }

    func snapshotOne(sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let (st, frames) = snapshot()
        try #require(st == PODSYNC_OK, "snapshot: \(sname(st)) \(errmsg)", sourceLocation: sourceLocation)
        try #require(frames.count == 1, "snapshot produced \(frames.count) frames", sourceLocation: sourceLocation)
        return frames[0]
    }

    /// Applies a frame copied into a 64-byte aligned buffer; `size` lets tests pass a prefix.
    func apply(_ frame: [UInt8], size: Int? = nil) -> (status: Int32, version: UInt64) {
        var v: UInt64 = 0xDEAD_BEEF
        let st = withAligned(frame, count: size) { podsync_store_apply(handle, $0, $1, &v) }
        return (st, v)
    }

    /// Applies frames in order, requiring PODSYNC_OK for each.
    func applyAll(_ frames: [[UInt8]], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (i, f) in frames.enumerated() {
            let (st, _) = apply(f)
            // The chunks of a chunked snapshot are staged until the last one.
            let staged = st == PODSYNC_CHUNK_STAGED && i < frames.count - 1
            try #require(st == PODSYNC_OK || staged, "apply frame \(i): \(sname(st)) \(errmsg)", sourceLocation: sourceLocation)
        }
    }

    // Reads

    func get(_ table: UInt32, _ key: UInt64) -> [UInt8]? {
        var p: UnsafeRawPointer? = nil
        let st = podsync_store_get(handle, table, key, &p)
        guard st == PODSYNC_OK, let p else { return nil }
        return Array(UnsafeRawBufferPointer(start: p, count: recordSize(table)))
    }

    func count(_ table: UInt32) -> Int {
        var n = -1
        let st = podsync_store_count(handle, table, &n)
        expectStatus(st, PODSYNC_OK, "podsync_store_count(\(table))")
        return n
    }

    /// The table view: (records, keys) as arrays, plus the raw pointers.
    func view(_ table: UInt32) -> (status: Int32, rows: [Row], records: UnsafeRawPointer?, keys: UnsafePointer<UInt64>?) {
        var recs: UnsafeRawPointer? = nil
        var keys: UnsafePointer<UInt64>? = nil
        var n = -1
        let st = podsync_store_table(handle, table, &recs, &keys, &n)
        guard st == PODSYNC_OK, n >= 0 else { return (st, [], nil, nil) }
        let size = recordSize(table)
        var rows: [Row] = []
        if n > 0, let recs, let keys {
            for i in 0..<n {
                rows.append(Row(key: keys[i], bytes: Array(UnsafeRawBufferPointer(start: recs + i * size, count: size))))
            }
        }
        return (st, rows, recs, keys)
    }

    func info() -> podsync_store_info {
        var i = podsync_store_info()
        i.version = UInt32(PODSYNC_STORE_INFO_VERSION)
        let st = podsync_store_info_get(handle, &i)
        expectStatus(st, PODSYNC_OK, "podsync_store_info_get")
        return i
    }

    var version: UInt64 { info().state_version }

    func digest() -> UInt64 {
        var d: UInt64 = 0
        let st = podsync_store_digest(handle, &d)
        expectStatus(st, PODSYNC_OK, "podsync_store_digest")
        return d
    }

    /// The whole state through the table views, sorted by key.
    func dump() -> Dump {
        var d = Dump()
        for t in tables {
            let v = view(t.id)
            expectStatus(v.status, PODSYNC_OK, "podsync_store_table(\(t.id))")
            d.tables[t.id] = v.rows.sorted()
        }
        return d
    }
}

/// State that must not change when a call fails.
struct Observed: Equatable, CustomStringConvertible {
    var dump: Dump
    var digest: UInt64
    var version: UInt64
    var stream: UInt64
    var diverged: UInt32
    init(_ s: Store) {
        dump = s.dump()
        digest = s.digest()
        let i = s.info()
        version = i.state_version
        stream = i.stream_id
        diverged = i.diverged
    }
    var description: String { "v\(version) digest \(digest) stream \(stream) diverged \(diverged) {\(dump)}" }
}

/// Expects the replica to hold exactly the writer's flushed state (`expected` dump of it).
func expectSameState(
    _ replica: Store, _ writer: Store, expected: Dump? = nil, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let wi = writer.info()
    let ri = replica.info()
    #expect(ri.digest == wi.digest, "\(what): digest replica \(ri.digest) writer \(wi.digest)", sourceLocation: sourceLocation)
    #expect(replica.digest() == writer.digest(), "\(what): podsync_store_digest differs", sourceLocation: sourceLocation)
    #expect(ri.state_version == wi.state_version, "\(what): version replica \(ri.state_version) writer \(wi.state_version)", sourceLocation: sourceLocation)
    let rd = replica.dump()
    let want = expected ?? writer.dump()
    #expect(rd == want, "\(what): replica \(rd) expected \(want)", sourceLocation: sourceLocation)
    #expect(expectedDigest(rd) == ri.digest, "\(what): replica digest does not follow FORMAT.md", sourceLocation: sourceLocation)
}

// MARK: - Frame parsing (independent, from docs/FORMAT.md)

struct ParsedSection: CustomStringConvertible {
    var start: Int
    var tableID: UInt32
    var recordSize: UInt32
    var putCount: UInt64
    var deleteCount: UInt64
    var recordsOffset: UInt64
    var length: UInt64
    var putKeys: [UInt64]
    var deleteKeys: [UInt64]
    var records: [[UInt8]]
    var description: String {
        "@\(start) t\(tableID) rs\(recordSize) p\(putCount) d\(deleteCount) ro\(recordsOffset) len\(length)"
    }
}

struct ParsedFrame {
    var magic: [UInt8]
    var formatVersion: UInt16
    var headerLength: UInt16
    var checksum: UInt64
    var frameLength: UInt64
    var flags: UInt32
    var sectionCount: UInt16
    var codec: UInt8
    var reserved: UInt8
    var schemaHash: UInt64
    var streamID: UInt64
    var sequence: UInt64
    var baseVersion: UInt64
    var stateVersion: UInt64
    var stateDigest: UInt64
    var payloadLength: UInt64
    var sections: [ParsedSection]

    /// Section by table id.
    func section(_ table: UInt32) -> ParsedSection? { sections.first { $0.tableID == table } }
}

/// Header field offsets of docs/FORMAT.md.
enum H {
    static let magic = 0, formatVersion = 4, headerLength = 6, checksum = 8, frameLength = 16
    static let flags = 24, sectionCount = 28, codec = 30, reserved = 31, schemaHash = 32
    static let streamID = 40, sequence = 48, baseVersion = 56, stateVersion = 64, stateDigest = 72
    static let payloadLength = 80
}

/// Section field offsets (from section start).
enum S {
    static let tableID = 0, recordSize = 4, putCount = 8, deleteCount = 16, recordsOffset = 24, length = 32
}

/// Parses a well-formed frame; throws (via #require) if its layout is not what FORMAT.md says.
func parseFrame(_ f: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> ParsedFrame {
    try #require(f.count >= 88, "frame of \(f.count) bytes", sourceLocation: sourceLocation)
    var p = ParsedFrame(
        magic: Array(f[0..<4]), formatVersion: f.u16(H.formatVersion), headerLength: f.u16(H.headerLength),
        checksum: f.u64(H.checksum), frameLength: f.u64(H.frameLength), flags: f.u32(H.flags),
        sectionCount: f.u16(H.sectionCount), codec: f[H.codec], reserved: f[H.reserved],
        schemaHash: f.u64(H.schemaHash), streamID: f.u64(H.streamID), sequence: f.u64(H.sequence),
        baseVersion: f.u64(H.baseVersion), stateVersion: f.u64(H.stateVersion),
        stateDigest: f.u64(H.stateDigest), payloadLength: f.u64(H.payloadLength), sections: [])
    var off = Int(p.headerLength)
    for _ in 0..<Int(p.sectionCount) {
        try #require(off + 40 <= f.count, "section header beyond the frame at \(off)", sourceLocation: sourceLocation)
        let pc = f.u64(off + S.putCount), dc = f.u64(off + S.deleteCount)
        let ro = f.u64(off + S.recordsOffset), len = f.u64(off + S.length)
        let rs = f.u32(off + S.recordSize)
        try #require(pc < 1 << 32 && dc < 1 << 32 && len <= UInt64(f.count - off), sourceLocation: sourceLocation)
        try #require(ro >= 40 + 8 * (pc + dc) && ro + UInt64(rs) * pc <= len, sourceLocation: sourceLocation)
        var s = ParsedSection(
            start: off, tableID: f.u32(off + S.tableID), recordSize: rs, putCount: pc,
            deleteCount: dc, recordsOffset: ro, length: len, putKeys: [], deleteKeys: [], records: [])
        for i in 0..<Int(pc) { s.putKeys.append(f.u64(off + 40 + 8 * i)) }
        for i in 0..<Int(dc) { s.deleteKeys.append(f.u64(off + 40 + 8 * (Int(pc) + i))) }
        for i in 0..<Int(pc) {
            let r = off + Int(ro) + i * Int(rs)
            s.records.append(Array(f[r..<(r + Int(rs))]))
        }
        p.sections.append(s)
        off += Int(len)
    }
    return p
}

/// Byte ranges of a parsed frame that FORMAT.md requires to be zero padding.
func paddingRanges(_ p: ParsedFrame) -> [Range<Int>] {
    var out: [Range<Int>] = []
    for s in p.sections {
        let keysEnd = s.start + 40 + 8 * Int(s.putCount + s.deleteCount)
        let recStart = s.start + Int(s.recordsOffset)
        let recEnd = recStart + Int(s.recordSize) * Int(s.putCount)
        let end = s.start + Int(s.length)
        if keysEnd < recStart { out.append(keysEnd..<recStart) }
        if recEnd < end { out.append(recEnd..<end) }
    }
    return out
}

/// podsync_frame_validate on an aligned copy.
func validate(_ frame: [UInt8], size: Int? = nil) -> (status: Int32, info: podsync_frame_info) {
    var info = podsync_frame_info()
    info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
    let st = withAligned(frame, count: size) { podsync_frame_validate($0, $1, &info) }
    return (st, info)
}

/// podsync_frame_peek on the first `size` bytes.
func peek(_ frame: [UInt8], size: Int? = nil) -> (status: Int32, info: podsync_frame_info) {
    var info = podsync_frame_info()
    info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
    let st = withAligned(frame, count: size) { podsync_frame_peek($0, $1, &info) }
    return (st, info)
}

/// Copies a frame with a tampering closure applied and, by default, a recomputed checksum.
func tampered(_ frame: [UInt8], recompute: Bool = true, _ change: (inout [UInt8]) -> Void) -> [UInt8] {
    var f = frame
    change(&f)
    if recompute && f.count >= 16 { recomputeChecksum(&f) }
    return f
}
