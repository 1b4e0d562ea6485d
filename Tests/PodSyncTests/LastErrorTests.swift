import CPodSync
import Glibc
import Testing

/// podsync_last_errmsg: functions without a handle (constructors, store-less frame calls, NULL
/// handles) leave a message the caller can read, per thread.
@Suite struct LastErrorTests {
    static var last: String { String(cString: podsync_last_errmsg()) }

    @Test func functionsWithoutAHandleLeaveAMessage() throws {
        var schema: OpaquePointer? = nil
        let garbage: [UInt8] = Array("not a schema".utf8)
        expectError(garbage.withUnsafeBytes { podsync_schema_decode($0.baseAddress, $0.count, &schema) }, "schema_decode")
        #expect(schema == nil)
        #expect(!Self.last.isEmpty, "schema_decode: \(Self.last)")

        var o = podsync_store_options()
        expectStatus(podsync_store_options_init(&o, 99), PODSYNC_E_INVALID_ARGUMENT, "options_init(version 99)")
        #expect(Self.last.contains("options version 99"), "\(Self.last)")

        let s = try standardSchema()
        var bad = Options().c
        bad.flags = 0x8000
        var store: OpaquePointer? = nil
        expectStatus(podsync_store_create(s.handle, UInt32(PODSYNC_ROLE_WRITER), &bad, &store), PODSYNC_E_INVALID_ARGUMENT, "create")
        #expect(store == nil)
        #expect(Self.last.contains("unknown option flags"), "\(Self.last)")

        let frame = [UInt8](repeating: 0x55, count: 96)
        expectStatus(frame.withUnsafeBytes { podsync_frame_validate($0.baseAddress, $0.count, nil) }, PODSYNC_E_FRAME_MAGIC, "validate")
        #expect(Self.last.contains("magic"), "\(Self.last)")

        expectStatus(podsync_store_put(nil, 1, 1, nil, 0), PODSYNC_E_INVALID_ARGUMENT, "put(NULL store)")
        #expect(Self.last == "store must not be NULL")

        // A handle's error is the thread's last error too; a success does not clear it.
        let w = try Store.writer(s)
        expectStatus(w.put(99, 1, [1]), PODSYNC_E_UNKNOWN_TABLE, "put to table 99")
        #expect(Self.last == w.errmsg)
        expectStatus(w.put(tableA, 1), PODSYNC_OK, "a good put")
        #expect(Self.last == w.errmsg)
    }

    /// Each thread has its own last error.
    @Test func theMessageIsPerThread() throws {
        let frame = [UInt8](repeating: 0x55, count: 96)
        _ = frame.withUnsafeBytes { podsync_frame_validate($0.baseAddress, $0.count, nil) }
        let mine = Self.last
        var thread = pthread_t()
        var seen = [CChar](repeating: 0, count: 256)
        let rc = seen.withUnsafeMutableBufferPointer { buffer in
            pthread_create(&thread, nil, { arg in
                let out = arg!.assumingMemoryBound(to: CChar.self)
                let before = String(cString: podsync_last_errmsg())
                var o = podsync_store_options()
                _ = podsync_store_options_init(&o, 77)
                let after = String(cString: podsync_last_errmsg())
                let text = "\(before.isEmpty ? "empty" : "set")|\(after)"
                _ = text.withCString { strncpy(out, $0, 255) }
                return nil
            }, buffer.baseAddress)
        }
        try #require(rc == 0)
        pthread_join(thread, nil)
        let result = seen.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        #expect(result.hasPrefix("empty|"), "a new thread starts without a message: \(result)")
        #expect(result.contains("options version 77"))
        #expect(Self.last == mine, "this thread's message is its own")
    }
}
