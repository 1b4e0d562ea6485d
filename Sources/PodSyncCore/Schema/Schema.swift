/// Element types of record fields (values pinned by include/podsync.h, PODSYNC_TYPE_*).
public enum FieldType: UInt32, Sendable, CaseIterable {
    case u8 = 1, u16, u32, u64, i8, i16, i32, i64, f32, f64, bytes

    /// Size in bytes of one element.
    public var elementSize: Int {
        switch self {
        case .u8, .i8, .bytes: 1
        case .u16, .i16: 2
        case .u32, .i32, .f32: 4
        case .u64, .i64, .f64: 8
        }
    }
}

/// One field of a record: `count` elements of `type` at byte `offset`.
public struct Field: Sendable, Equatable {
    public var name: [UInt8]  // UTF-8 (any bytes but NUL), 1...maxFieldName
    public var type: FieldType
    public var offset: UInt32
    public var count: UInt32

    public init(name: [UInt8], type: FieldType, offset: UInt32, count: UInt32 = 1) {
        self.name = name
        self.type = type
        self.offset = offset
        self.count = count
    }

    public init(_ name: String, _ type: FieldType, offset: UInt32, count: UInt32 = 1) {
        self.init(name: Array(name.utf8), type: type, offset: offset, count: count)
    }
}

/// A table of fixed-size records.
public struct TableSchema: Sendable, Equatable {
    public let id: UInt32
    public let recordSize: Int
    public let alignment: Int
    /// Sorted by offset (the canonical order).
    public let fields: [Field]
}

/// Schema limits (include/podsync.h, PODSYNC_MAX_*).
public enum SchemaLimits {
    public static let maxTables = 1024
    public static let maxFields = 1024
    public static let maxFieldName = 255
    public static let maxRecordSize = 1 << 20
    public static let maxAlignment = 64
}

/// The set of tables a writer and its replicas agree on. Its hash travels in every frame.
public struct Schema: Sendable, Equatable {
    /// Sorted by table id.
    public private(set) var tables: [TableSchema] = []

    public init() {}

    /// Validates and adds a table. On error the schema is unchanged.
    public mutating func addTable(
        id: UInt32, recordSize: Int, alignment: Int, fields: [Field]
    ) throws(PodSyncError) {
        let table = try Self.validatedTable(id: id, recordSize: recordSize, alignment: alignment,
                                            fields: fields)
        guard tables.count < SchemaLimits.maxTables else {
            throw .schema("a schema holds at most \(SchemaLimits.maxTables) tables")
        }
        var position = tables.count
        for (i, existing) in tables.enumerated() {
            if existing.id == id { throw .schema("table id \(id) is already in the schema") }
            if existing.id > id { position = i; break }
        }
        tables.insert(table, at: position)
    }

    static func validatedTable(
        id: UInt32, recordSize: Int, alignment: Int, fields: [Field]
    ) throws(PodSyncError) -> TableSchema {
        guard recordSize >= 1 && recordSize <= SchemaLimits.maxRecordSize else {
            throw .schema("table \(id): record size \(recordSize) is outside 1...\(SchemaLimits.maxRecordSize)")
        }
        guard alignment >= 1 && alignment <= SchemaLimits.maxAlignment && alignment & (alignment - 1) == 0 else {
            throw .schema("table \(id): alignment \(alignment) is not a power of two in 1...\(SchemaLimits.maxAlignment)")
        }
        guard recordSize % alignment == 0 else {
            throw .schema("table \(id): record size \(recordSize) is not a multiple of alignment \(alignment)")
        }
        guard fields.count <= SchemaLimits.maxFields else {
            throw .schema("table \(id): more than \(SchemaLimits.maxFields) fields")
        }
        for (i, field) in fields.enumerated() {
            let label = "table \(id) field \(i)"
            guard !field.name.isEmpty && field.name.count <= SchemaLimits.maxFieldName else {
                throw .schema("\(label): name must be 1...\(SchemaLimits.maxFieldName) bytes")
            }
            guard !field.name.contains(0) else { throw .schema("\(label): name contains a NUL byte") }
            guard field.count >= 1 else { throw .schema("\(label): count must be at least 1") }
            // 64-bit arithmetic cannot overflow here: both factors are below 2^32.
            let end = UInt64(field.offset) + UInt64(field.count) * UInt64(field.type.elementSize)
            guard end <= UInt64(recordSize) else {
                throw .schema("\(label): bytes \(field.offset)..<\(end) lie outside the \(recordSize)-byte record")
            }
            for other in fields[..<i] where other.name == field.name {
                throw .schema("\(label): name is not unique in the table")
            }
        }
        let sorted = fields.sorted { $0.offset < $1.offset }
        for i in sorted.indices.dropFirst() {
            let previous = sorted[i - 1]
            let previousEnd = UInt64(previous.offset) + UInt64(previous.count) * UInt64(previous.type.elementSize)
            guard UInt64(sorted[i].offset) >= previousEnd else {
                throw .schema("table \(id): fields overlap at byte \(sorted[i].offset)")
            }
        }
        return TableSchema(id: id, recordSize: recordSize, alignment: alignment, fields: sorted)
    }

    /// The position of table `id` in `tables`, or nil.
    @inline(__always)
    public func tableIndex(of id: UInt32) -> Int? {
        var low = 0
        var high = tables.count
        while low < high {
            let mid = (low + high) >> 1
            let value = tables[mid].id
            if value == id { return mid }
            if value < id { low = mid + 1 } else { high = mid }
        }
        return nil
    }

    // MARK: Canonical encoding (docs/FORMAT.md, "Schema canonical encoding")

    static let magic: [UInt8] = Array("PSYNSCH1".utf8)

    /// The canonical encoding the schema hash is computed over.
    public func canonicalEncoding() -> [UInt8] {
        var out = Self.magic
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put32(UInt32(tables.count))
        for table in tables {
            put32(table.id)
            put32(UInt32(table.recordSize))
            put32(UInt32(table.alignment))
            put32(UInt32(table.fields.count))
            for field in table.fields {
                put32(field.type.rawValue)
                put32(field.offset)
                put32(field.count)
                put32(UInt32(field.name.count))
                out.append(contentsOf: field.name)
            }
        }
        return out
    }

    /// XXH3-64 of the canonical encoding.
    public var hash: UInt64 {
        let bytes = canonicalEncoding()
        return bytes.withUnsafeBytes { xxh3($0.baseAddress!, $0.count) }
    }

    /// Parses a canonical encoding, validating every byte.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(PodSyncError) {
        var reader = ByteReader(bytes)
        guard let magic = reader.bytes(8), Array(magic) == Self.magic else {
            throw .schema("not a PodSync schema encoding (bad magic)")
        }
        guard let tableCount = reader.u32() else { throw .schema("schema encoding truncated") }
        guard tableCount <= SchemaLimits.maxTables else { throw .schema("schema encoding claims \(tableCount) tables") }
        var previousID: UInt32? = nil
        for _ in 0..<tableCount {
            guard let id = reader.u32(), let size = reader.u32(), let alignment = reader.u32(),
                  let fieldCount = reader.u32() else { throw .schema("schema encoding truncated") }
            if let previousID, id <= previousID { throw .schema("schema encoding: tables not in ascending id order") }
            previousID = id
            guard fieldCount <= SchemaLimits.maxFields else { throw .schema("schema encoding claims \(fieldCount) fields") }
            var fields: [Field] = []
            var previousOffset: UInt32? = nil
            for _ in 0..<fieldCount {
                guard let rawType = reader.u32(), let offset = reader.u32(), let count = reader.u32(),
                      let nameLength = reader.u32() else { throw .schema("schema encoding truncated") }
                guard let type = FieldType(rawValue: rawType) else { throw .schema("schema encoding: unknown field type \(rawType)") }
                guard nameLength <= SchemaLimits.maxFieldName, let name = reader.bytes(Int(nameLength)) else {
                    throw .schema("schema encoding: bad field name length \(nameLength)")
                }
                if let previousOffset, offset <= previousOffset { throw .schema("schema encoding: fields not in ascending offset order") }
                previousOffset = offset
                fields.append(Field(name: Array(name), type: type, offset: offset, count: count))
            }
            try addTable(id: id, recordSize: Int(size), alignment: Int(alignment), fields: fields)
        }
        guard reader.remaining == 0 else { throw .schema("schema encoding has \(reader.remaining) trailing bytes") }
    }
}

/// Bounds-checked little-endian reads from a byte buffer; every read returns nil past the end.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    var position = 0

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    var remaining: Int { buffer.count - position }

    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { position += 4 }
        return UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer.SubSequence? {
        guard count >= 0 && remaining >= count else { return nil }
        defer { position += count }
        return buffer[position..<(position + count)]
    }
}
