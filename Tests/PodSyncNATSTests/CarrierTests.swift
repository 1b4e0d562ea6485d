import CPodSync
import CPodSyncNATS
import Glibc
import PodSyncNATS
import Testing

/// A nats-server with JetStream on a free loopback port and a temporary store directory,
/// stopped (and its directory removed) by `stop()`.
final class NATSServer {
    let port: Int32
    let directory: String
    var pid: pid_t = 0
    var url: String { "nats://127.0.0.1:\(port)" }

    init() throws {
        var template = Array("/tmp/podsync-swift-nats-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        port = NATSServer.freePort()
        let args = ["nats-server", "-js", "-a", "127.0.0.1", "-p", String(port), "-sd", directory + "/js"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/server.log", O_WRONLY | O_CREAT, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let status = posix_spawnp(&pid, "nats-server", &actions, nil, &argv, environ)
        guard status == 0 else { throw ServerError(message: "cannot start nats-server (is it installed?): \(status)") }
        for _ in 0..<400 {
            if NATSServer.listening(port) { return }
            usleep(25_000)
        }
        stop()
        throw ServerError(message: "nats-server did not listen on \(port)")
    }

    struct ServerError: Error { let message: String }

    func stop() {
        if pid > 0 {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
        _ = system("rm -rf '\(directory)'")
    }

    static func freePort() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int32(UInt16(bigEndian: address.sin_port))
    }

    static func listening(_ port: Int32) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A store made through the C API (the carrier drives stores only through it).
func cStore(role: Int32) throws -> (schema: OpaquePointer, store: OpaquePointer) {
    var schema: OpaquePointer? = nil
    #expect(podsync_schema_create(&schema) == PODSYNC_OK)
    #expect(podsync_schema_add_table(schema, 1, 16, 8, nil, 0) == PODSYNC_OK)
    var options = podsync_store_options()
    _ = podsync_store_options_init(&options, UInt32(PODSYNC_STORE_OPTIONS_VERSION))
    options.max_frame_bytes = 128 << 10
    var store: OpaquePointer? = nil
    #expect(podsync_store_create(schema, UInt32(role), &options, &store) == PODSYNC_OK)
    return (try #require(schema), try #require(store))
}

func digest(_ store: OpaquePointer) -> UInt64 {
    var d: UInt64 = 0
    _ = podsync_store_digest(store, &d)
    return d
}

func version(_ store: OpaquePointer) -> UInt64 {
    var info = podsync_store_info()
    info.version = UInt32(PODSYNC_STORE_INFO_VERSION)
    _ = podsync_store_info_get(store, &info)
    return info.state_version
}

@Suite(.serialized) struct CarrierTests {
    /// The Swift API of the carrier: a publisher and two followers (one joining late) converge,
    /// and misuse is refused with the carrier's statuses.
    @Test func publisherAndFollowersConverge() throws {
        let server = try NATSServer()
        defer { server.stop() }
        let (schema, writer) = try cStore(role: PODSYNC_ROLE_WRITER)
        let (_, early) = try cStore(role: PODSYNC_ROLE_REPLICA)
        let (_, late) = try cStore(role: PODSYNC_ROLE_REPLICA)
        defer {
            podsync_store_free(writer)
            podsync_store_free(early)
            podsync_store_free(late)
            podsync_schema_free(schema)
        }
        var record = [UInt8](repeating: 0, count: 16)
        for key in 0..<500 as Range<UInt64> {
            record[0] = UInt8(truncatingIfNeeded: key)
            _ = podsync_store_put(writer, 1, key, record, 16)
        }
        var options = CarrierOptions()
        options.snapshotEveryVersions = 10
        let publisher = try Publisher(store: writer, url: server.url, stream: "swift", options: options)
        let first = try Follower(store: early, url: server.url, stream: "swift", options: options)
        for tick in 0..<30 {
            for k in 0..<5 {
                record[1] = UInt8(truncatingIfNeeded: tick)
                _ = podsync_store_put(writer, 1, UInt64((tick * 7 + k * 31) % 500), record, 16)
            }
            _ = try publisher.flush()
            _ = try first.poll(timeoutMs: 0)
        }
        #expect(publisher.stats.framesPublished == 30 && publisher.framesPending == 0)
        let second = try Follower(store: late, url: server.url, stream: "swift", options: options)
        for _ in 0..<200 where version(early) != version(writer) || version(late) != version(writer) {
            _ = try first.poll(timeoutMs: 10)
            _ = try second.poll(timeoutMs: 10)
        }
        #expect(version(early) == version(writer) && digest(early) == digest(writer))
        #expect(version(late) == version(writer) && digest(late) == digest(writer))
        #expect(second.stats.snapshotsTaken == 1 && second.stats.rejected == 0)

        // Misuse: a replica cannot publish, a writer cannot follow, names are checked.
        #expect(throws: CarrierError.self) { try Publisher(store: early, url: server.url, stream: "swift", options: options) }
        #expect(throws: CarrierError.self) { try Follower(store: writer, url: server.url, stream: "swift", options: options) }
        do {
            _ = try Follower(store: early, url: server.url, stream: "bad.name", options: options)
            Issue.record("a stream name with a dot was accepted")
        } catch {
            #expect(error.code == PODSYNC_E_INVALID_ARGUMENT)
        }
        do {
            let port = NATSServer.freePort()
            _ = try Follower(store: early, url: "nats://127.0.0.1:\(port)", stream: "swift", options: options)
            Issue.record("a server nobody runs was reached")
        } catch {
            #expect(error.code == PODSYNC_NATS_E_CONNECTION)
        }
    }

    /// A snapshot that falls due is spread over the next flushes (a chunk of at most 256 KiB
    /// each, then its marker), so no flush carries the whole state; followers that join
    /// meanwhile take the previous one and converge.
    @Test func aDueSnapshotIsSpreadOverFlushes() throws {
        let server = try NATSServer()
        defer { server.stop() }
        let (schema, writer) = try cStore(role: PODSYNC_ROLE_WRITER)
        let (_, replica) = try cStore(role: PODSYNC_ROLE_REPLICA)
        defer {
            podsync_store_free(writer)
            podsync_store_free(replica)
            podsync_schema_free(schema)
        }
        var record = [UInt8](repeating: 7, count: 16)
        for key in 0..<60_000 as Range<UInt64> {
            record[0] = UInt8(truncatingIfNeeded: key)
            record[1] = UInt8(truncatingIfNeeded: key >> 8)
            _ = podsync_store_put(writer, 1, key, record, 16)
        }
        var options = CarrierOptions()
        options.snapshotEveryVersions = 3
        options.snapshotEveryMs = 0
        let publisher = try Publisher(store: writer, url: server.url, stream: "spread", options: options)
        #expect(publisher.stats.snapshotsPublished == 1)
        var flushesUntilSnapshot = 0
        for tick in 0..<20 {
            record[2] = UInt8(truncatingIfNeeded: tick)
            _ = podsync_store_put(writer, 1, UInt64(tick), record, 16)
            _ = try publisher.flush()
            if publisher.stats.snapshotsPublished == 1 { flushesUntilSnapshot += 1 }
        }
        // The first flush (60,000 records in frames of 128 KiB) makes the snapshot due at once;
        // its 1.4 MB (keys and records) are at least 5 chunks of 256 KiB, one per flush, and the
        // marker comes at the flush after the last chunk.
        #expect(publisher.stats.snapshotsPublished >= 2)
        #expect(flushesUntilSnapshot >= 6, "the second snapshot completed after \(flushesUntilSnapshot) flushes")
        let follower = try Follower(store: replica, url: server.url, stream: "spread", options: options)
        for _ in 0..<200 where version(replica) != version(writer) { _ = try follower.poll(timeoutMs: 10) }
        #expect(version(replica) == version(writer) && digest(replica) == digest(writer))
    }

    /// The C boundary validates what it is given.
    @Test func theCBoundaryRefusesBadArguments() {
        var out: OpaquePointer? = nil
        #expect(podsync_nats_publisher_create(nil, "nats://127.0.0.1:1", "x", nil, &out) == PODSYNC_E_INVALID_ARGUMENT && out == nil)
        #expect(String(cString: podsync_nats_last_errmsg()).contains("store"))
        var options = podsync_nats_options()
        #expect(podsync_nats_options_init(&options, 2) == PODSYNC_E_INVALID_ARGUMENT)
        #expect(podsync_nats_options_init(&options, 1) == PODSYNC_OK && options.timeout_ms == 5000 && options.max_reconnects == -1)
        options.storage = 7
        var store: OpaquePointer? = nil
        var schema: OpaquePointer? = nil
        _ = podsync_schema_create(&schema)
        _ = podsync_schema_add_table(schema, 1, 8, 8, nil, 0)
        _ = podsync_store_create(schema, UInt32(PODSYNC_ROLE_WRITER), nil, &store)
        #expect(podsync_nats_publisher_create(store, "nats://127.0.0.1:1", "x", &options, &out) == PODSYNC_E_INVALID_ARGUMENT)
        #expect(String(cString: podsync_nats_last_errmsg()).contains("storage"))
        #expect(String(cString: podsync_nats_status_name(PODSYNC_NATS_E_MSG_TOO_LARGE)) == "PODSYNC_NATS_E_MSG_TOO_LARGE")
        #expect(String(cString: podsync_nats_status_name(PODSYNC_GAP)) == String(cString: podsync_status_name(PODSYNC_GAP)))
        var applied = 0
        #expect(podsync_nats_follower_poll(nil, 0, &applied) == PODSYNC_E_INVALID_ARGUMENT)
        podsync_nats_publisher_free(nil)
        podsync_nats_follower_free(nil)
        podsync_store_free(store)
        podsync_schema_free(schema)
    }
}
