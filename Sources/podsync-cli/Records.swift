import PodSyncCore

/// How a table's records are shown: by the schema's fields, in offset order. Integers in decimal,
/// floats in the shortest form that reads back as the same value (Swift's `description`; JSON has
/// no NaN or infinities, so they are the strings "nan", "inf", "-inf" there), BYTES in hex.
/// Multi-element fields are arrays (JSON) or one column per element, `name[i]` (CSV, diff).
struct RecordFormat {
    let table: TableSchema

    init(_ table: TableSchema) { self.table = table }

    func name(_ field: Field) -> String { String(decoding: field.name, as: UTF8.self) }

    /// Column names: a field of one element (or BYTES) is one column, others `name[i]`.
    var columns: [String] {
        var names: [String] = []
        for field in table.fields {
            if field.count == 1 || field.type == .bytes {
                names.append(name(field))
            } else {
                for i in 0..<Int(field.count) { names.append("\(name(field))[\(i)]") }
            }
        }
        return names
    }

    /// Column values in `columns` order, as text (CSV and diff).
    func values(_ record: UnsafeRawPointer) -> [String] {
        var out: [String] = []
        for field in table.fields {
            let base = record + Int(field.offset)
            if field.type == .bytes {
                out.append(hexBytes(base, Int(field.count)))
            } else {
                for i in 0..<Int(field.count) {
                    out.append(element(field.type, base + i * field.type.elementSize, json: false))
                }
            }
        }
        return out
    }

    /// The record as a JSON object of its fields (an opaque table: {"hex": "..."}).
    func json(_ record: UnsafeRawPointer) -> JSON {
        if table.fields.isEmpty { return .object([("hex", .string(hexBytes(record, table.recordSize)))]) }
        var members: [(String, JSON)] = []
        for field in table.fields {
            let base = record + Int(field.offset)
            let value: JSON
            if field.type == .bytes {
                value = .string(hexBytes(base, Int(field.count)))
            } else if field.count == 1 {
                value = .number(element(field.type, base, json: true))
            } else {
                value = .array((0..<Int(field.count)).map {
                    .number(element(field.type, base + $0 * field.type.elementSize, json: true))
                })
            }
            members.append((name(field), value))
        }
        return .object(members)
    }

    /// Whether the bytes no field covers (padding) differ between two records.
    func paddingDiffers(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
        var covered = [Bool](repeating: false, count: table.recordSize)
        for field in table.fields {
            let start = Int(field.offset)
            for i in start..<(start + Int(field.count) * field.type.elementSize) { covered[i] = true }
        }
        for i in 0..<table.recordSize where !covered[i] {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return true }
        }
        return false
    }
}

/// One element of a field, little-endian, possibly unaligned.
func element(_ type: FieldType, _ p: UnsafeRawPointer, json: Bool) -> String {
    switch type {
    case .u8: String(p.load(as: UInt8.self))
    case .u16: String(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
    case .u32: String(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
    case .u64: String(UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)))
    case .i8: String(p.load(as: Int8.self))
    case .i16: String(Int16(littleEndian: p.loadUnaligned(as: Int16.self)))
    case .i32: String(Int32(littleEndian: p.loadUnaligned(as: Int32.self)))
    case .i64: String(Int64(littleEndian: p.loadUnaligned(as: Int64.self)))
    case .f32: floatText(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))), json: json)
    case .f64: floatText(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))), json: json)
    case .bytes: hexBytes(p, 1)
    }
}

/// The shortest decimal that reads back as exactly `value` (Swift's `description`).
func floatText<F: BinaryFloatingPoint & CustomStringConvertible>(_ value: F, json: Bool) -> String {
    let text: String
    if value.isNaN {
        text = "nan"
    } else if value.isInfinite {
        text = value < 0 ? "-inf" : "inf"
    } else {
        return value.description
    }
    return json ? "\"" + text + "\"" : text
}

/// A key as little-endian u64 at index `i` of a key array (maybe unaligned).
@inline(__always) func key(_ keys: UnsafeRawPointer, _ i: Int) -> UInt64 {
    UInt64(littleEndian: keys.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
}
