import CPodSync
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The cross-language conformance fixtures (Tests/fixtures/conformance, written by
/// Tests/fixtures/make_fixtures.c): every language's suite applies frames.bin to a fresh replica
/// of schema.bin and must reproduce expected.txt line by line.
@Suite struct ConformanceTests {
    static let directory: String = {
        var path = #filePath
        while let last = path.lastIndex(of: "/"), !path.hasSuffix("/Tests") { path = String(path[..<last]) }
        return path + "/fixtures/conformance"
    }()

    static func read(_ name: String) throws -> [UInt8] {
        let path = directory + "/" + name
        let file = try #require(fopen(path, "rb"), "cannot open \(path)")
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
        }
        return bytes
    }

    @Test func replicaReproducesExpectedLines() throws {
        let schemaBytes = try Self.read("schema.bin")
        let frames = try Self.read("frames.bin")
        let expected = String(decoding: try Self.read("expected.txt"), as: UTF8.self)
        var schema: OpaquePointer? = nil
        try #require(schemaBytes.withUnsafeBytes { podsync_schema_decode($0.baseAddress, $0.count, &schema) } == PODSYNC_OK)
        defer { podsync_schema_free(schema) }
        var replica: OpaquePointer? = nil
        try #require(podsync_store_create(schema, UInt32(PODSYNC_ROLE_REPLICA), nil, &replica) == PODSYNC_OK)
        defer { podsync_store_free(replica) }

        var offset = 0
        var deliveries = 0
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(frames.count, 1), alignment: 64)
        defer { buffer.deallocate() }
        for line in expected.split(separator: "\n") where !line.hasPrefix("#") {
            let words = line.split(separator: " ")
            if words.first == "delivery" {
                try #require(words.count == 5)
                try #require(offset + Int(PODSYNC_FRAME_HEADER_SIZE) <= frames.count, "frames.bin ends early")
                let length = frames[(offset + 16)..<(offset + 24)].reversed().reduce(0) { $0 << 8 | Int($1) }
                try #require(length >= Int(PODSYNC_FRAME_HEADER_SIZE) && offset + length <= frames.count)
                frames.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + offset, byteCount: length) }
                offset += length
                var version: UInt64 = 0
                var digest: UInt64 = 0
                let status = podsync_store_apply(replica, buffer, length, &version)
                #expect(podsync_store_digest(replica, &digest) == PODSYNC_OK)
                #expect(String(cString: podsync_status_name(status)) == String(words[2]), "\(line)")
                #expect(version == UInt64(words[3]), "\(line)")
                #expect(digest == UInt64(words[4], radix: 16), "\(line)")
                deliveries += 1
            } else if words.first == "final" {
                try #require(words.count == 5)
                var info = podsync_store_info()
                info.version = UInt32(PODSYNC_STORE_INFO_VERSION)
                #expect(podsync_store_info_get(replica, &info) == PODSYNC_OK)
                #expect(info.state_version == UInt64(words[1]))
                #expect(info.digest == UInt64(words[2], radix: 16))
                var count1 = 0
                var count7 = 0
                #expect(podsync_store_count(replica, 1, &count1) == PODSYNC_OK)
                #expect(podsync_store_count(replica, 7, &count7) == PODSYNC_OK)
                #expect(count1 == Int(words[3]) && count7 == Int(words[4]))
            }
        }
        #expect(deliveries > 0, "expected.txt lists deliveries")
        #expect(offset == frames.count, "every frame of frames.bin was applied")
    }
}
