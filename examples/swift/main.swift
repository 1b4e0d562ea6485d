// main.swift — the README's Swift quick start: the engine used directly (product PodSyncCore).
import PodSyncCore

struct Entity: BitwiseCopyable {  // 40 bytes, no padding
    var id: UInt64
    var pos: (Float, Float, Float)
    var rot: (Float, Float, Float, Float)
    var flags: UInt32
}

// 1. A schema: table 1 holds 40-byte entity records (fields describe the layout).
var schema = Schema()
try schema.addTable(id: 1, recordSize: MemoryLayout<Entity>.size, alignment: 8, fields: [
    Field("id", .u64, offset: 0), Field("pos", .f32, offset: 8, count: 3),
    Field("rot", .f32, offset: 20, count: 4), Field("flags", .u32, offset: 36),
])

// 2. A writer and a replica of that schema.
var writer = Store(schema: schema, role: .writer)
var replica = Store(schema: schema, role: .replica)

// 3. Writes are coalesced per key until the next flush; putMany is one call for many records.
let ids: [UInt64] = [1, 2, 3]
let entities = ids.map { Entity(id: $0, pos: (Float($0), 0, 0), rot: (0, 0, 0, 1), flags: 0) }
_ = try ids.withUnsafeBufferPointer { keys in
    try entities.withUnsafeBytes {
        try writer.putMany(table: 1, keys: keys.baseAddress!, records: $0.baseAddress!, count: keys.count, size: $0.count)
    }
}
var moved = Entity(id: 2, pos: (2.5, 0, 0), rot: (0, 0, 0, 1), flags: 7)
_ = try withUnsafeBytes(of: &moved) { try writer.put(table: 1, key: 2, record: $0.baseAddress!, size: $0.count) }
_ = try writer.delete(table: 1, key: 3)  // created and deleted: not sent

// 4. Flush turns the batch into frames; 5. the replica applies each one.
for i in 0..<(try writer.flush()) {
    let frame = writer.frame(i)!
    let status = try replica.apply(frame)
    print("frame \(i): \(frame.count) bytes, status \(status), replica at version \(replica.version)")
}

// 6. Equal digests mean equal records.
let x = try replica.get(table: 1, key: 2)!.load(fromByteOffset: 8, as: Float.self)
let inSync = writer.digest == replica.digest
print("replica: \(try replica.count(table: 1)) records, entity 2 at x=\(x); digests \(hex16(writer.digest)) / \(hex16(replica.digest)): \(inSync ? "in sync" : "DIFFERENT")")
if !inSync { fatalError("digests differ") }

func hex16(_ v: UInt64) -> String {
    let digits = String(v, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
