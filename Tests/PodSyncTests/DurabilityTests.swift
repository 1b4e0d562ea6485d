import CPodSync
import Glibc
import Testing

/// A fresh directory under /tmp, removed with its files by `removeTree`.
func temporaryDirectory(_ name: String) -> String {
    var template = Array("/tmp/podsync-\(name)-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    return path
}

func removeTree(_ path: String) {
    if let names = try? listDirectory(path) {
        for n in names where unlink(path + "/" + n) != 0 { removeTree(path + "/" + n) }
    }
    rmdir(path)
}

func listDirectory(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let e = readdir(dir) {
        let name = withUnsafePointer(to: &e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { return [] }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n == 0 { break }
        out += buffer[0..<n]
    }
    return out
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let f = fopen(path, "wb")!
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, bytes.count, f) }
    fclose(f)
}

struct Opened {
    var store: Store?
    var status: Int32
    var info: podsync_open_info
}

func openStore(_ dir: String, _ schema: Schema?, role: Int32 = 0, policy: Int32 = PODSYNC_LOG_EVERY_FRAME, newTerm: UInt64 = 0,
               options: Options? = Options(), tables: [TableDef]) -> Opened {
    var d = podsync_durability_options()
    _ = podsync_durability_options_init(&d, UInt32(PODSYNC_DURABILITY_OPTIONS_VERSION))
    d.log_policy = UInt32(policy)
    d.new_term = newTerm
    var info = podsync_open_info()
    info.version = UInt32(PODSYNC_OPEN_INFO_VERSION)
    var p: OpaquePointer? = nil
    var o = options?.c ?? podsync_store_options()
    let st = dir.withCString { path in
        options == nil ? podsync_store_open(path, schema?.handle, UInt32(role), nil, &d, &info, &p)
            : podsync_store_open(path, schema?.handle, UInt32(role), &o, &d, &info, &p)
    }
    return Opened(store: p.map { Store(handle: $0, tables: tables) }, status: st, info: info)
}

@Suite struct TermTests {
    /// W writes versions 1..5; B saw 1..3, A 1..4, C all. A is promoted: B continues with deltas,
    /// C (ahead of A) is told and heals by snapshot, W's later frames are fenced.
    @Test func promotionContinuesDeltasDetectsAheadReplicasAndFencesTheOldWriter() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let a = try Store.replica(s), b = try Store.replica(s), c = try Store.replica(s)
        for v in 1...5 {
            for k in UInt64(0)..<20 { w.put(tableA, k &+ UInt64(v), salt: UInt32(v)) }
            if v == 2 { _ = w.delete(tableA, 3) }
            let frames = try w.flushOK()
            if v <= 3 { try b.applyAll(frames) }
            if v <= 4 { try a.applyAll(frames) }
            try c.applyAll(frames)
        }
        expectStatus(podsync_store_promote(a.handle, 0), PODSYNC_E_INVALID_ARGUMENT, "term 0 is not above 0")
        expectStatus(podsync_store_promote(w.handle, 2), PODSYNC_E_WRONG_ROLE, "a writer is not promoted")
        expectStatus(podsync_store_promote(a.handle, 2), PODSYNC_OK, "promote A")
        #expect(a.info().role == UInt32(PODSYNC_ROLE_WRITER) && a.info().term == 2 && a.version == 4)
        expectStatus(podsync_store_promote(a.handle, 3), PODSYNC_E_WRONG_ROLE, "promoted twice")
        for k in UInt64(100)..<110 { a.put(tableA, k, salt: 9) }
        let next = try a.flushOne()
        let info = frameInfo(next)
        #expect(info.term == 2 && info.format_version == 2 && info.base_version == 4 && info.state_version == 5)
        // B (at 3): a gap, then the delta from A.
        expectStatus(b.apply(next).status, PODSYNC_GAP, "B is behind A")
        let (st, delta) = a.deltaSince(3)
        expectStatus(st, PODSYNC_OK, "delta since 3 from A")
        try b.applyAll(delta)
        #expect(b.dump() == a.dump() && b.info().term == 2)
        // C applied version 5 of term 0, which A never had.
        let before = c.dump()
        expectStatus(c.apply(next).status, PODSYNC_E_HISTORY_DIVERGED, "C is ahead of A's history")
        #expect(c.dump() == before && c.info().term == 0)
        try c.applyAll(try #require(Optional(a.snapshot().frames)))
        #expect(c.dump() == a.dump() && c.info().term == 2)
        // W, still in term 0, writes on: replicas of term 2 refuse it.
        w.put(tableA, 1, salt: 77)
        let stale = try w.flushOne()
        for r in [b, c] {
            let state = r.dump()
            expectStatus(r.apply(stale).status, PODSYNC_E_TERM_FENCED, "the old writer is fenced")
            #expect(r.dump() == state)
        }
        // A fresh replica following nothing takes W's snapshot (no term to fence it with).
        let fresh = try Store.replica(s)
        try fresh.applyAll(w.snapshot().frames)
        #expect(fresh.info().term == 0)
        // ... but a snapshot of term 0 is fenced at a replica of term 2 of the same stream.
        expectStatus(b.apply(w.snapshot().frames[0]).status, PODSYNC_E_TERM_FENCED, "an old term's snapshot is fenced too")
    }

    /// Chunked snapshots and deltas carry the term; resume refuses a position of another term.
    @Test func chunksCarryTheTerm() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.maxFrameBytes = 2048 }
        let a = try Store.replica(s) { $0.maxFrameBytes = 2048 }
        for k in UInt64(0)..<300 { w.put(tableA, k) }
        try a.applyAll(try w.flushOK())
        expectStatus(podsync_store_promote(a.handle, 7), PODSYNC_OK, "promote")
        for k in UInt64(0)..<300 { a.put(tableA, k, salt: 3) }
        let frames = try a.flushOK()
        #expect(frames.allSatisfy { frameInfo($0).term == 7 })
        let snap = a.snapshot().frames
        #expect(snap.count > 1 && snap.allSatisfy { frameInfo($0).term == 7 && frameInfo($0).flags & PODSYNC_FRAME_CHUNK != 0 })
        let r = try Store.replica(s)
        try r.applyAll(snap)
        #expect(r.dump() == a.dump() && r.info().term == 7)
        var position = podsync_chunk_position()
        position.version = UInt32(PODSYNC_CHUNK_POSITION_VERSION)
        position.stream_id = a.info().stream_id
        position.snapshot_id = frameInfo(snap[0]).snapshot_id
        position.state_version = a.version
        position.term = 6
        var handle: OpaquePointer? = nil
        expectStatus(podsync_snapshot_resume(a.handle, &position, 0, &handle), PODSYNC_E_SNAPSHOT_EXPIRED, "another term")
        position.term = 7
        expectStatus(podsync_snapshot_resume(a.handle, &position, 0, &handle), PODSYNC_OK, "the same term")
        podsync_snapshot_free(handle)
    }
}

@Suite(.serialized) struct DurabilityTests {
    @Test func aWriterReopensWithItsStreamVersionAndRecordVersions() throws {
        let dir = temporaryDirectory("writer")
        defer { removeTree(dir) }
        let s = try standardSchema()
        let first = openStore(dir, s, role: PODSYNC_ROLE_WRITER, tables: s.tables)
        expectStatus(first.status, PODSYNC_OK, "create")
        #expect(first.info.flags == PODSYNC_OPENED_CREATED)
        let w = try #require(first.store)
        #expect(w.info().durable == 1)
        let behind = try Store.replica(s)
        var digests: [UInt64: UInt64] = [:]
        for v in 1...8 {
            for k in UInt64(0)..<50 where (k + UInt64(v)) % 3 == 0 { w.put(tableA, k, salt: UInt32(v)) }
            w.put(tableB, UInt64(v) << 20)
            if v == 3 { _ = w.delete(tableA, 0); _ = w.delete(tableB, 1 << 20) }
            let frames = try w.flushOK()
            if v <= 2 { try behind.applyAll(frames) }
            digests[w.version] = w.digest()
            if v == 5 { expectStatus(podsync_store_checkpoint(w.handle), PODSYNC_OK, "checkpoint") }
        }
        let stream = w.info().stream_id
        let dump = w.dump()
        w.close()
        // Reopened: same stream, version, state, term; the log after the checkpoint replayed.
        let second = openStore(dir, nil, tables: s.tables)
        expectStatus(second.status, PODSYNC_OK, "reopen")
        let r = try #require(second.store)
        #expect(second.info.flags == 0 && second.info.checkpoint_version == 5 && second.info.restored_version == 8)
        #expect(second.info.log_frames == 3 && second.info.dropped_bytes == 0 && second.info.term == 0)
        #expect(r.info().role == UInt32(PODSYNC_ROLE_WRITER) && r.info().stream_id == stream && r.version == 8)
        #expect(r.dump() == dump && r.digest() == digests[8])
        // Record versions and deletions survived the checkpoint: a replica at version 2 (before
        // it) gets a catch-up delta, deletions included, not a snapshot.
        let (st, delta) = r.deltaSince(2)
        expectStatus(st, PODSYNC_OK, "delta since 2")
        #expect(delta.allSatisfy { frameInfo($0).flags & PODSYNC_FRAME_RESET == 0 })
        try behind.applyAll(delta)
        #expect(behind.dump() == dump)
        // And the writer goes on where it was.
        r.put(tableA, 999)
        let next = try r.flushOne()
        #expect(frameInfo(next).base_version == 8 && frameInfo(next).stream_id == stream)
        try behind.applyAll([next])
        #expect(behind.dump() == r.dump())
    }

    @Test func withoutProofAWriterStartsANewTermAndReplicasAheadAreTold() throws {
        let dir = temporaryDirectory("os")
        defer { removeTree(dir) }
        let s = try standardSchema()
        let opened = openStore(dir, s, role: PODSYNC_ROLE_WRITER, policy: PODSYNC_LOG_OS, tables: s.tables)
        let w = try #require(opened.store)
        let behind = try Store.replica(s), ahead = try Store.replica(s)
        for v in 1...4 {
            w.put(tableA, UInt64(v))
            let frames = try w.flushOK()
            if v <= 3 { try behind.applyAll(frames) }
            try ahead.applyAll(frames)
        }
        w.close()
        // Cut the log's last record, as if the OS had not written it: the writer lost version 4.
        let logs = try listDirectory(dir).filter { $0.hasPrefix("log-") }
        let last = dir + "/" + logs.last!
        let bytes = readFile(last)
        writeFile(last, Array(bytes.dropLast(8)))
        let reopened = openStore(dir, nil, policy: PODSYNC_LOG_OS, tables: s.tables)
        let r = try #require(reopened.store)
        #expect(reopened.info.flags & PODSYNC_OPENED_NEW_TERM != 0 && reopened.info.dropped_bytes > 0)
        #expect(r.version == 3 && r.info().term == 1 && reopened.info.term == 1)
        r.put(tableA, 50)
        let frame = try r.flushOne()
        #expect(frameInfo(frame).term == 1)
        expectStatus(ahead.apply(frame).status, PODSYNC_E_HISTORY_DIVERGED, "the replica that saw the lost version 4")
        try behind.applyAll([frame])
        #expect(behind.dump() == r.dump() && behind.info().term == 1)
        try ahead.applyAll(r.snapshot().frames)
        #expect(ahead.dump() == r.dump())
        // The directory stays locked while a store has it open.
        let again = openStore(dir, nil, policy: PODSYNC_LOG_EVERY_FRAME, newTerm: 10, tables: s.tables)
        expectStatus(again.status, PODSYNC_E_IO, "the directory is locked by the open store")
        _ = reopened
    }

    @Test func aReplicaReopensAtWhatItApplied() throws {
        let dir = temporaryDirectory("replica")
        defer { removeTree(dir) }
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.maxFrameBytes = 4096 }
        let opened = openStore(dir, s, role: PODSYNC_ROLE_REPLICA, tables: s.tables)
        let r = try #require(opened.store)
        for k in UInt64(0)..<400 { w.put(tableA, k) }
        try r.applyAll(try w.flushOK())
        expectStatus(podsync_store_checkpoint(r.handle), PODSYNC_OK, "checkpoint")
        for v in 0..<3 {
            for k in UInt64(0)..<30 { w.put(tableB, k &+ UInt64(v * 7)) }
            _ = w.delete(tableA, UInt64(v))
            try r.applyAll(try w.flushOK())
        }
        // A chunked snapshot of a newer version, half staged when the process goes.
        w.put(tableA, 5000)
        _ = try w.flushOK()
        let chunks = w.snapshot().frames
        try #require(chunks.count > 2)
        expectStatus(r.apply(chunks[0]).status, PODSYNC_CHUNK_STAGED, "chunk 0")
        let dump = r.dump()
        r.close()
        let reopened = openStore(dir, s, role: PODSYNC_ROLE_REPLICA, tables: s.tables)
        let back = try #require(reopened.store)
        #expect(back.dump() == dump && back.version == w.version - 1)
        // The staging came back too: the next chunk continues it.
        expectStatus(back.apply(chunks[1]).status, PODSYNC_CHUNK_STAGED, "chunk 1 after reopening")
        expectStatus(openStore(dir + "/x", nil, tables: s.tables).status, PODSYNC_E_INVALID_ARGUMENT, "no schema to create with")
    }

    @Test func checkpointStepsWhileTheWriterWorks() throws {
        let dir = temporaryDirectory("steps")
        defer { removeTree(dir) }
        let s = try standardSchema()
        var small = Options()
        small.maxFrameBytes = 16384
        let opened = openStore(dir, s, role: PODSYNC_ROLE_WRITER, options: small, tables: s.tables)
        let w = try #require(opened.store)
        for k in UInt64(0)..<20_000 { w.put(tableA, k) }
        _ = try w.flushOK()
        var cp: OpaquePointer? = nil
        let begun = w.version
        expectStatus(podsync_checkpoint_begin(w.handle, &cp), PODSYNC_OK, "begin")
        var steps = 0
        var st = PODSYNC_OK
        repeat {
            for k in UInt64(steps * 100)..<UInt64(steps * 100 + 100) { w.put(tableA, k, salt: 5) }
            _ = w.delete(tableA, UInt64(19_999 - steps))
            _ = try w.flushOK()
            st = podsync_checkpoint_step(cp, 65536)
            steps += 1
        } while st == PODSYNC_OK
        expectStatus(st, PODSYNC_DONE, "the checkpoint completes")
        podsync_checkpoint_free(cp)
        #expect(steps > 3, "written in \(steps) steps")
        let dump = w.dump()
        let version = w.version
        w.close()
        let reopened = openStore(dir, nil, tables: s.tables)
        let r = try #require(reopened.store)
        #expect(r.dump() == dump)
        #expect(reopened.info.checkpoint_version == begun, "checkpoint at \(reopened.info.checkpoint_version)")
        #expect(reopened.info.restored_version == version && version == begun + UInt64(steps), "restored \(reopened.info.restored_version), \(steps) steps")
    }

    /// Every truncation of the newest log segment opens, to a state a flush produced.
    @Test func aTruncatedLogOpensToAFlushedPrefix() throws {
        let dir = temporaryDirectory("trunc")
        defer { removeTree(dir) }
        let s = try standardSchema()
        let opened = openStore(dir, s, role: PODSYNC_ROLE_WRITER, tables: s.tables)
        let w = try #require(opened.store)
        var digests: [UInt64: UInt64] = [0: 0]
        for v in 1...6 {
            w.put(tableA, UInt64(v))
            if v == 4 { _ = w.delete(tableA, 2) }
            _ = try w.flushOK()
            digests[w.version] = w.digest()
        }
        w.close()
        let names = try listDirectory(dir)
        let log = dir + "/" + names.filter { $0.hasPrefix("log-") }.last!
        let bytes = readFile(log)
        #expect(bytes.count < 4096)
        var lastVersion: UInt64 = 0
        for length in 0...bytes.count {
            // Each open starts a segment of its own: only the original files stay.
            for name in try listDirectory(dir) where !names.contains(name) { unlink(dir + "/" + name) }
            writeFile(log, Array(bytes[0..<length]))
            let o = openStore(dir, nil, tables: s.tables)
            expectStatus(o.status, PODSYNC_OK, "open with the log cut at \(length): \(String(cString: podsync_last_errmsg()))")
            guard let r = o.store else { continue }
            defer { r.close() }
            let v = r.version
            #expect(digests[v] == r.digest(), "cut at \(length): version \(v) is a flushed state")
            #expect(v >= lastVersion, "longer logs restore no less")
            #expect(o.info.dropped_bytes <= UInt64(length) && (length < bytes.count || o.info.dropped_bytes == 0))
            lastVersion = v
            // Only a torn last record keeps the term; every cut here is one (or nothing).
            #expect(o.info.term == 0 || length < 48, "cut at \(length): term \(o.info.term)")
        }
        #expect(lastVersion == 6)
    }

    /// An open that drops a torn tail cuts it from the disk: what the store logs after it survives
    /// the next open, in the same term.
    @Test func framesLoggedAfterATornTailSurviveTheNextOpen() throws {
        let dir = temporaryDirectory("torn2")
        defer { removeTree(dir) }
        let s = try standardSchema()
        let w = try #require(openStore(dir, s, role: PODSYNC_ROLE_WRITER, tables: s.tables).store)
        for v in 1...4 { w.put(tableA, UInt64(v)); _ = try w.flushOK() }
        w.close()
        let log = dir + "/" + (try listDirectory(dir)).filter { $0.hasPrefix("log-") }.last!
        let bytes = readFile(log)
        writeFile(log, Array(bytes.dropLast(3)))
        let first = openStore(dir, nil, tables: s.tables)
        let r = try #require(first.store)
        #expect(first.info.dropped_bytes > 0 && first.info.flags & PODSYNC_OPENED_NEW_TERM == 0 && r.version == 3)
        #expect(readFile(log).count < bytes.count - 3, "the torn record is cut from the disk")
        for v in 10...12 { r.put(tableA, UInt64(v)); _ = try r.flushOK() }
        let digest = r.digest()
        r.close()
        let second = openStore(dir, nil, tables: s.tables)
        let again = try #require(second.store)
        #expect(again.version == 6 && again.digest() == digest && second.info.dropped_bytes == 0)
        #expect(second.info.flags & PODSYNC_OPENED_NEW_TERM == 0 && second.info.term == 0)
        again.close()
    }

    /// With no log every reopen of a writer starts a new term, and each is on disk before the
    /// writer hands out a frame of it: two crashes in a row never reuse a term.
    @Test func withoutALogEveryReopenTakesAFreshTerm() throws {
        let dir = temporaryDirectory("none")
        defer { removeTree(dir) }
        let s = try standardSchema()
        let w = try #require(openStore(dir, s, role: PODSYNC_ROLE_WRITER, policy: PODSYNC_LOG_NONE, tables: s.tables).store)
        w.put(tableA, 1); _ = try w.flushOK()
        w.close()
        var terms: [UInt64] = []
        for _ in 0..<3 {
            let o = openStore(dir, nil, policy: PODSYNC_LOG_NONE, tables: s.tables)
            let r = try #require(o.store)
            #expect(o.info.flags & PODSYNC_OPENED_NEW_TERM != 0)
            terms.append(o.info.term)
            r.put(tableA, 100 + o.info.term); _ = try r.flushOK()
            r.close()  // nothing after the open is checkpointed: like a crash, for policy none
        }
        #expect(terms == [1, 2, 3])
    }

    @Test func aCorruptNewestCheckpointFallsBackAndBadFilesAreRefused() throws {
        let dir = temporaryDirectory("corrupt")
        defer { removeTree(dir) }
        let s = try standardSchema()
        let opened = openStore(dir, s, role: PODSYNC_ROLE_WRITER, tables: s.tables)
        let w = try #require(opened.store)
        for v in 1...3 {
            w.put(tableA, UInt64(v))
            _ = try w.flushOK()
            expectStatus(podsync_store_checkpoint(w.handle), PODSYNC_OK, "checkpoint \(v)")
        }
        let dump = w.dump()
        w.close()
        let checkpoints = try listDirectory(dir).filter { $0.hasSuffix(".psc") }
        #expect(checkpoints.count == 2, "two kept: \(checkpoints)")
        let newest = dir + "/" + checkpoints.last!
        var bytes = readFile(newest)
        bytes[bytes.count / 2] ^= 0x10
        writeFile(newest, bytes)
        let o = openStore(dir, nil, tables: s.tables)
        let r = try #require(o.store)
        #expect(o.info.flags & PODSYNC_OPENED_FALLBACK != 0 && o.info.skipped_status == PODSYNC_E_FILE_CORRUPT)
        #expect(r.dump() == dump, "the older checkpoint plus the log reach the same state")
        r.close()
        // Another schema is refused, not fallen back from.
        let other = try makeSchema([TableDef(id: 9, size: 8, alignment: 8, fields: [])])
        let wrong = openStore(dir, other, tables: other.tables)
        expectStatus(wrong.status, PODSYNC_E_SCHEMA_MISMATCH, "another schema")
        // Every checkpoint corrupt: FILE_CORRUPT.
        for name in checkpoints {
            var b = readFile(dir + "/" + name)
            b[60] ^= 1
            writeFile(dir + "/" + name, b)
        }
        expectStatus(openStore(dir, nil, tables: s.tables).status, PODSYNC_E_FILE_CORRUPT, "no checkpoint verifies")
    }
}
