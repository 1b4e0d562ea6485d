import CPodSync
import PodSyncCore

@c @implementation
public func podsync_schema_create(_ out: UnsafeMutablePointer<OpaquePointer?>!) -> Int32 {
    guard let out else { return nullHandle("out") }
    out.pointee = box(SchemaHandle())
    return PODSYNC_OK
}

@c @implementation
public func podsync_schema_free(_ schema: OpaquePointer!) {
    release(schema, as: SchemaHandle.self)
}

@c @implementation
public func podsync_schema_errmsg(_ schema: OpaquePointer!) -> UnsafePointer<CChar>! {
    guard let schema else { return podsync_status_name(PODSYNC_E_INVALID_ARGUMENT) }
    return schema.object(SchemaHandle.self).message.pointer
}

/// Runs a call on a schema handle, recording a thrown error's message on it.
@inline(__always)
func withSchema(_ handle: OpaquePointer?, _ body: (SchemaHandle) throws(PodSyncError) -> Int32) -> Int32 {
    guard let handle else { return nullHandle("schema") }
    let box = handle.object(SchemaHandle.self)
    do {
        return try body(box)
    } catch {
        box.message.set(error.message)
        return lastError(error.code, error.message)
    }
}

/// Reads a field name: NUL-terminated, at most PODSYNC_MAX_FIELD_NAME bytes (never reads past the
/// NUL or past that limit + 1).
func fieldName(_ name: UnsafePointer<CChar>?, field: Int) throws(PodSyncError) -> [UInt8] {
    guard let name else { throw PodSyncError(PODSYNC_E_SCHEMA_INVALID, "field \(field): name is NULL") }
    var bytes: [UInt8] = []
    var i = 0
    while name[i] != 0 {
        guard i < Int(PODSYNC_MAX_FIELD_NAME) else {
            throw PodSyncError(PODSYNC_E_SCHEMA_INVALID, "field \(field): name is longer than \(PODSYNC_MAX_FIELD_NAME) bytes")
        }
        bytes.append(UInt8(bitPattern: name[i]))
        i += 1
    }
    return bytes
}

@c @implementation
public func podsync_schema_add_table(
    _ schema: OpaquePointer!, _ table_id: UInt32, _ record_size: UInt32, _ alignment: UInt32,
    _ fields: UnsafePointer<podsync_field>!, _ field_count: Int
) -> Int32 {
    withSchema(schema) { (box) throws(PodSyncError) in
        guard field_count >= 0 && field_count <= Int(PODSYNC_MAX_FIELDS) else {
            throw PodSyncError(PODSYNC_E_SCHEMA_INVALID, "table \(table_id): \(field_count) fields exceed \(PODSYNC_MAX_FIELDS)")
        }
        let list = try array(fields, count: field_count, "fields")
        var converted: [Field] = []
        converted.reserveCapacity(field_count)
        for i in 0..<field_count {
            let f = list[i]
            guard let type = FieldType(rawValue: f.type) else {
                throw PodSyncError(PODSYNC_E_SCHEMA_INVALID, "table \(table_id) field \(i): unknown type \(f.type)")
            }
            guard f.reserved == 0 else {
                throw PodSyncError(PODSYNC_E_SCHEMA_INVALID, "table \(table_id) field \(i): reserved must be 0")
            }
            converted.append(Field(name: try fieldName(f.name, field: i), type: type, offset: f.offset, count: f.count))
        }
        try box.schema.addTable(id: table_id, recordSize: Int(record_size), alignment: Int(alignment), fields: converted)
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_schema_hash(_ schema: OpaquePointer!, _ hash_out: UnsafeMutablePointer<UInt64>!) -> Int32 {
    withSchema(schema) { (box) throws(PodSyncError) in
        try required(hash_out, "hash_out").pointee = box.schema.hash
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_schema_encode(
    _ schema: OpaquePointer!, _ buffer: UnsafeMutableRawPointer!, _ capacity: Int,
    _ size_out: UnsafeMutablePointer<Int>!
) -> Int32 {
    withSchema(schema) { (box) throws(PodSyncError) in
        let sizeOut = try required(size_out, "size_out")
        guard buffer != nil || capacity == 0 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "buffer is NULL but capacity is \(capacity)")
        }
        let bytes = box.schema.canonicalEncoding()
        sizeOut.pointee = bytes.count
        guard capacity >= bytes.count else {
            throw PodSyncError(PODSYNC_E_BUFFER_TOO_SMALL, "the encoding needs \(bytes.count) bytes, the buffer has \(capacity)")
        }
        let destination = try required(buffer, "buffer")
        bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return PODSYNC_OK
    }
}

@c @implementation
public func podsync_schema_decode(
    _ data: UnsafeRawPointer!, _ size: Int, _ out: UnsafeMutablePointer<OpaquePointer?>!
) -> Int32 {
    guard let out else { return nullHandle("out") }
    out.pointee = nil
    guard let data else { return nullHandle("data") }
    guard size >= 0 else { return lastError(PODSYNC_E_INVALID_ARGUMENT, "size is negative") }
    do {
        let schema = try Schema(decoding: UnsafeRawBufferPointer(start: data, count: size))
        out.pointee = box(SchemaHandle(schema))
        return PODSYNC_OK
    } catch {
        return lastError(error.code, error.message)
    }
}
