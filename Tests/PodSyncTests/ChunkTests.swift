import CPodSync
import CXXHash
import Testing

/// A podsync_snapshot handle for tests.
final class SnapshotCursor {
    let handle: OpaquePointer
    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { podsync_snapshot_free(handle) }

    /// The next chunk (copied), nil after the last; other statuses fail the test.
    func next(sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8]? {
        var data: UnsafePointer<UInt8>? = nil
        var size = 0
        let st = podsync_snapshot_next(handle, &data, &size)
        if st == PODSYNC_DONE {
            #expect(data == nil && size == 0, sourceLocation: sourceLocation)
            return nil
        }
        try #require(st == PODSYNC_OK, "snapshot_next: \(sname(st)) \(String(cString: podsync_snapshot_errmsg(handle)))", sourceLocation: sourceLocation)
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    func all() throws -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        while let c = try next() { chunks.append(c) }
        return chunks
    }

    var position: podsync_chunk_position {
        var p = podsync_chunk_position(version: UInt32(PODSYNC_CHUNK_POSITION_VERSION), start_table: 0, stream_id: 0, term: 0,
                                       snapshot_id: 0, state_version: 0, chunk_index: 0, start_key: 0, base_version: 0)
        expectStatus(podsync_snapshot_position(handle, &p), PODSYNC_OK, "snapshot_position")
        return p
    }
}

extension Store {
    func beginSnapshot(_ maxChunkBytes: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> SnapshotCursor {
        var p: OpaquePointer? = nil
        let st = podsync_snapshot_begin(handle, maxChunkBytes, &p)
        try #require(st == PODSYNC_OK, "snapshot_begin: \(sname(st)) \(errmsg)", sourceLocation: sourceLocation)
        return SnapshotCursor(try #require(p))
    }

    func resumeSnapshot(_ position: podsync_chunk_position, _ maxChunkBytes: Int) -> (status: Int32, cursor: SnapshotCursor?) {
        var p: OpaquePointer? = nil
        var position = position
        let st = podsync_snapshot_resume(handle, &position, maxChunkBytes, &p)
        return (st, p.map(SnapshotCursor.init))
    }

    func staging() -> podsync_chunk_position? {
        var p = podsync_chunk_position(version: UInt32(PODSYNC_CHUNK_POSITION_VERSION), start_table: 0, stream_id: 0, term: 0,
                                       snapshot_id: 0, state_version: 0, chunk_index: 0, start_key: 0, base_version: 0)
        let st = podsync_store_staging(handle, &p)
        if st == PODSYNC_NOT_FOUND { return nil }
        expectStatus(st, PODSYNC_OK, "store_staging")
        return p
    }

    func metrics3() -> podsync_metrics {
        var m = podsync_metrics()
        m.version = UInt32(PODSYNC_METRICS_VERSION)
        expectStatus(podsync_store_metrics(handle, &m), PODSYNC_OK, "metrics")
        return m
    }
}

func frameInfo(_ frame: [UInt8]) -> podsync_frame_info {
    validate(frame).info
}

/// A writer with `n` records of table A and `n / 10` of table B, flushed.
func loadedWriter(_ s: Schema, _ n: Int, _ configure: (inout Options) -> Void = { _ in }) throws -> Store {
    let w = try Store.writer(s, configure)
    var rng = SplitMix64(seed: 7)
    for i in 0..<n { w.put(tableA, UInt64(i) &* 7919 &+ (rng.next() % 5)) }
    for i in 0..<(n / 10) { w.put(tableB, UInt64(i) << 40) }
    _ = try w.flushOK()
    return w
}

@Suite struct ChunkTests {
    @Test func chunksCoverTheStateInAscendingDisjointRanges() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 3000)
        let cursor = try w.beginSnapshot(4096)
        let chunks = try cursor.all()
        #expect(chunks.count > 10, "3300 records in 4 KiB chunks: \(chunks.count) chunks")
        var previousEnd: (UInt32, UInt64) = (0, 0)
        var total: UInt64 = 0
        for (i, c) in chunks.enumerated() {
            #expect(c.count <= 4096, "chunk \(i) is \(c.count) bytes")
            let info = frameInfo(c)
            #expect(info.format_version == 2 && info.flags & PODSYNC_FRAME_CHUNK != 0 && info.flags & PODSYNC_FRAME_RESET != 0)
            #expect(info.chunk_index == UInt64(i))
            #expect((info.chunk_start_table, info.chunk_start_key) == previousEnd, "chunk \(i) starts where \(i - 1) ended")
            let last = info.chunk_flags & PODSYNC_CHUNK_LAST != 0
            #expect(last == (i == chunks.count - 1))
            if !last { previousEnd = (info.chunk_end_table, info.chunk_end_key) }
            for k in 0..<Int(info.section_count) {
                var sec = podsync_frame_section()
                sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
                let st = withAligned(c) { podsync_frame_section_get($0, $1, k, &sec) }
                expectStatus(st, PODSYNC_OK, "section_get")
                total += sec.put_count
                let keys = Array(UnsafeBufferPointer(start: sec.put_keys, count: Int(sec.put_count)))
                let seeds = keys.map { seed(sec.table_id, $0) }
                #expect(seeds == seeds.sorted() && Set(seeds).count == seeds.count, "keys in ascending seed order")
                #expect((sec.table_id, seeds.first!) >= (info.chunk_start_table, info.chunk_start_key))
                if !last { #expect((sec.table_id, seeds.last!) < (info.chunk_end_table, info.chunk_end_key)) }
            }
            if last { #expect(info.chunk_record_count == 3300) }
        }
        #expect(total == 3300)
        expectStatus(podsync_snapshot_next(cursor.handle, nil, nil), PODSYNC_E_INVALID_ARGUMENT, "next with NULL outs")
    }

    @Test func replicaKeepsItsStateUntilTheLastChunkThenSwitches() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 2000)
        let r = try Store.replica(s)
        try r.applyAll(try w.snapshot().frames)  // the old state
        let old = r.dump()
        let oldDigest = r.digest()
        for k in UInt64(0)..<500 { w.put(tableA, k &* 7919, salt: 9) }
        for k in UInt64(500)..<600 { w.delete(tableA, k &* 7919) }
        _ = try w.flushOK()
        let expected = w.dump()
        let chunks = try w.beginSnapshot(8192).all()
        try #require(chunks.count > 3)
        for (i, c) in chunks.enumerated() {
            let (st, v) = r.apply(c)
            if i < chunks.count - 1 {
                expectStatus(st, PODSYNC_CHUNK_STAGED, "chunk \(i)")
                #expect(v == 1 && r.digest() == oldDigest && r.dump() == old, "visible state unchanged while staging")
                let p = try #require(r.staging())
                #expect(p.chunk_index == UInt64(i + 1) && p.state_version == 2)
                expectStatus(r.apply(c).status, PODSYNC_DUPLICATE, "chunk \(i) again")
            } else {
                expectStatus(st, PODSYNC_OK, "last chunk: the switch")
                #expect(v == 2)
            }
        }
        #expect(r.dump() == expected && r.digest() == w.digest())
        #expect(r.staging() == nil)
        expectStatus(r.apply(chunks[0]).status, PODSYNC_DUPLICATE, "chunk 0 of the version it holds")
        let m = r.metrics3()
        #expect(m.chunks_staged == UInt64(chunks.count - 1) && m.staging_bytes_held == 0)
    }

    @Test func writesAndFlushesDuringASnapshotDoNotReachIt() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 4000)
        let atBegin = w.dump()
        let digestAtBegin = w.digest()
        let cursor = try w.beginSnapshot(4096)
        let r = try Store.replica(s)
        var deltas: [[UInt8]] = []
        var rng = SplitMix64(seed: 3)
        var i = 0
        while let c = try cursor.next() {
            let st = r.apply(c).status
            #expect(st == PODSYNC_CHUNK_STAGED || st == PODSYNC_OK, "chunk \(i): \(sname(st))")
            // Change keys ahead of and behind the cursor, delete some, insert new ones.
            for _ in 0..<40 { w.put(tableA, (rng.next() % 4000) &* 7919, salt: UInt32(i + 1)) }
            w.delete(tableA, (rng.next() % 4000) &* 7919)
            w.put(tableA, 1 << 50 | rng.next() % 1000)
            if i % 3 == 0 { deltas += try w.flushOK() }  // some changes stay pending
            i += 1
        }
        #expect(r.dump() == atBegin, "the replica holds the state at the snapshot's version")
        #expect(r.digest() == digestAtBegin)
        let m = w.metrics3()
        #expect(m.snapshot_bytes_held > 0 && m.chunks_out == UInt64(i))
        deltas += try w.flushOK()
        try r.applyAll(deltas)
        #expect(r.dump() == w.dump() && r.digest() == w.digest())
    }

    @Test func lostChunkResumesFromTheStagingPosition() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 3000)
        let r = try Store.replica(s)
        let cursor = try w.beginSnapshot(4096)
        let c0 = try #require(try cursor.next())
        _ = try #require(try cursor.next())  // lost
        let c2 = try #require(try cursor.next())
        expectStatus(r.apply(c0).status, PODSYNC_CHUNK_STAGED)
        expectStatus(r.apply(c2).status, PODSYNC_CHUNK_GAP, "chunk 2 before chunk 1")
        let p = try #require(r.staging())
        #expect(p.chunk_index == 1)
        w.put(tableA, 5, salt: 77)
        _ = try w.flushOK()  // the writer moved on; the live cursor keeps the image
        let (st, resumed) = w.resumeSnapshot(p, 4096)
        expectStatus(st, PODSYNC_OK, "resume a live snapshot")
        var last = PODSYNC_CHUNK_STAGED
        while let c = try resumed!.next() { last = r.apply(c).status }
        expectStatus(last, PODSYNC_OK, "the resumed snapshot completes")
        #expect(r.version == 1 && r.digest() != w.digest())
        _ = cursor
    }

    @Test func resumeAfterTheImageIsGoneExpires() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 1000)
        var p: podsync_chunk_position
        do {
            let cursor = try w.beginSnapshot(4096)
            _ = try cursor.next()
            p = cursor.position
        }
        // Still at that version: a resume is served from the state itself.
        do {
            let (st, again) = w.resumeSnapshot(p, 4096)
            expectStatus(st, PODSYNC_OK, "resume at the same version")
            let rest = try again!.all()
            #expect(!rest.isEmpty && frameInfo(rest[0]).chunk_index == p.chunk_index && frameInfo(rest[0]).snapshot_id == p.snapshot_id)
            #expect((frameInfo(rest[0]).chunk_start_table, frameInfo(rest[0]).chunk_start_key) == (p.start_table, p.start_key))
        }
        w.put(tableA, 1, salt: 1)
        _ = try w.flushOK()
        let (st2, gone) = w.resumeSnapshot(p, 4096)
        expectStatus(st2, PODSYNC_E_SNAPSHOT_EXPIRED, "resume of a version the writer left")
        #expect(gone == nil)
        #expect(!w.errmsg.isEmpty)
    }

    @Test func contradictingChunksAreRefusedAndDropTheStaging() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 3000)
        let r = try Store.replica(s)
        let cursor = try w.beginSnapshot(4096)
        let c0 = try #require(try cursor.next())
        let c1 = try #require(try cursor.next())
        expectStatus(r.apply(c0).status, PODSYNC_CHUNK_STAGED)
        // An overlapping chunk 1: the same snapshot resumed from an earlier key.
        var p = cursor.position
        p.chunk_index = 1
        p.start_table = frameInfo(c0).chunk_end_table
        p.start_key = frameInfo(c0).chunk_end_key / 2  // half of chunk 0's range again
        let (st, overlap) = w.resumeSnapshot(p, 4096)
        expectStatus(st, PODSYNC_OK)
        let bad = try #require(try overlap!.next())
        let before = (r.version, r.digest(), r.dump())
        expectStatus(r.apply(bad).status, PODSYNC_E_CHUNK_MISMATCH, "overlapping chunk")
        #expect((r.version, r.digest()) == (before.0, before.1) && r.dump() == before.2)
        #expect(r.staging() == nil, "the staging was dropped")
        expectStatus(r.apply(c1).status, PODSYNC_CHUNK_GAP, "chunk 1 without chunk 0 now")
        #expect(r.staging()?.chunk_index == 0, "it asks for chunk 0 of that snapshot")
    }

    @Test func interleavedSnapshotsEndWithTheNewerOne() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 2000)
        let a = try w.beginSnapshot(4096)
        w.put(tableA, 3, salt: 3)
        _ = try w.flushOK()
        let b = try w.beginSnapshot(4096)
        let aChunks = try a.all(), bChunks = try b.all()
        let r = try Store.replica(s)
        expectStatus(r.apply(aChunks[0]).status, PODSYNC_CHUNK_STAGED)
        expectStatus(r.apply(bChunks[0]).status, PODSYNC_CHUNK_STAGED, "chunk 0 of a newer snapshot replaces the older")
        expectStatus(r.apply(aChunks[1]).status, PODSYNC_STALE, "a later chunk of the older snapshot")
        expectStatus(r.apply(aChunks[0]).status, PODSYNC_STALE, "chunk 0 of the older snapshot")
        for c in bChunks.dropFirst() { _ = r.apply(c) }
        #expect(r.version == 2 && r.digest() == w.digest())
        expectStatus(r.apply(aChunks.last!).status, PODSYNC_STALE, "the older snapshot's last chunk after the switch")
        let fresh = try Store.replica(s)
        expectStatus(fresh.apply(bChunks.last!).status, PODSYNC_CHUNK_GAP, "a last chunk without the others")
        #expect(fresh.version == 0 && fresh.count(tableA) == 0)
        #expect(fresh.staging()?.chunk_index == 0)
    }

    @Test func forgedRecordCountIsAChunkMismatch() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 500)
        let chunks = try w.beginSnapshot(4096).all()
        try #require(chunks.count >= 2)
        var last = chunks[chunks.count - 1]
        let info = frameInfo(last)
        try #require(info.chunk_record_count == 550 && info.chunk_record_count < 16384)
        // record_count is the CHUNK record's last field: LEB128 550 = a6 04, right before the padding.
        let needle: [UInt8] = [0xa6, 0x04]
        let at = try #require((40..<Int(info.header_length) - 1).last { Array(last[$0..<$0 + 2]) == needle })
        last[at] = 0xa7  // 551
        recomputeChecksumV2(&last)
        expectStatus(validate(last).status, PODSYNC_OK, "the forged chunk is well-formed")
        let r = try Store.replica(s)
        for c in chunks.dropLast() { expectStatus(r.apply(c).status, PODSYNC_CHUNK_STAGED) }
        expectStatus(r.apply(last).status, PODSYNC_E_CHUNK_MISMATCH, "forged count")
        #expect(r.version == 0 && r.count(tableA) == 0 && r.staging() == nil)
    }

    @Test func fillInPlaceGrowsTheTablesAtVersionZero() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 3000)
        let r = try Store.replica(s) { $0.flags |= PODSYNC_OPT_FILL_IN_PLACE }
        let chunks = try w.beginSnapshot(8192).all()
        var seen = 0
        for (i, c) in chunks.enumerated() {
            let st = r.apply(c).status
            if i < chunks.count - 1 {
                expectStatus(st, PODSYNC_CHUNK_STAGED)
                #expect(r.version == 0)
                let n = r.count(tableA) + r.count(tableB)
                #expect(n > seen, "the tables grow")
                seen = n
            } else {
                expectStatus(st, PODSYNC_OK)
            }
        }
        #expect(r.version == 1 && r.dump() == w.dump() && r.digest() == w.digest())
        #expect(r.metrics3().staging_bytes_held == 0)
    }

    @Test func largeSnapshotsInTheOutboxAreChunked() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 3000) { $0.maxFrameBytes = 16384; $0.compressionLevel = 1 }
        let (st, frames) = w.snapshot()
        expectStatus(st, PODSYNC_OK)
        #expect(frames.count > 2 && frames.allSatisfy { $0.count <= 16384 })
        let r = try Store.replica(s)
        for (i, f) in frames.enumerated() {
            expectStatus(r.apply(f).status, i == frames.count - 1 ? PODSYNC_OK : PODSYNC_CHUNK_STAGED, "frame \(i)")
        }
        #expect(r.dump() == w.dump())
        // A small state still goes as one unchunked frame.
        let small = try loadedWriter(s, 10) { $0.maxFrameBytes = 16384 }
        let one = try small.snapshotOne()
        #expect(frameInfo(one).flags & PODSYNC_FRAME_CHUNK == 0 && frameInfo(one).format_version == 1)
    }

    @Test func aReplicaServesASnapshotWhileApplyingDeltas() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 3000)
        let r1 = try Store.replica(s)
        try r1.applyAll(try w.snapshot().frames)
        let atBegin = r1.dump()
        let cursor = try r1.beginSnapshot(4096)
        let r2 = try Store.replica(s)
        var deltas: [[UInt8]] = []
        var i: UInt64 = 0
        while let c = try cursor.next() {
            _ = r2.apply(c)
            for k in 0..<30 as Range<UInt64> { w.put(tableA, ((i * 31 + k) % 3000) &* 7919, salt: UInt32(i + 1)) }
            w.delete(tableA, (i % 3000) &* 7919)
            let f = try w.flushOK()
            try r1.applyAll(f)
            deltas += f
            i += 1
        }
        #expect(r2.dump() == atBegin, "r2 got r1's state at the snapshot's version")
        try r2.applyAll(deltas)
        #expect(r2.dump() == w.dump() && r2.digest() == w.digest())
    }

    @Test func snapshotBoundsAndNullArguments() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 10)
        var p: OpaquePointer? = nil
        expectStatus(podsync_snapshot_begin(w.handle, 100, &p), PODSYNC_E_INVALID_ARGUMENT, "chunks below the minimum")
        #expect(p == nil)
        expectStatus(podsync_snapshot_begin(nil, 0, &p), PODSYNC_E_INVALID_ARGUMENT)
        expectStatus(podsync_snapshot_begin(w.handle, 0, nil), PODSYNC_E_INVALID_ARGUMENT)
        expectStatus(podsync_snapshot_next(nil, nil, nil), PODSYNC_E_INVALID_ARGUMENT)
        expectStatus(podsync_snapshot_position(nil, nil), PODSYNC_E_INVALID_ARGUMENT)
        expectStatus(podsync_snapshot_resume(w.handle, nil, 0, &p), PODSYNC_E_INVALID_ARGUMENT)
        expectStatus(podsync_store_staging(w.handle, nil), PODSYNC_E_INVALID_ARGUMENT)
        podsync_snapshot_free(nil)
        // A store freed before its snapshot: the snapshot still finishes.
        var store: OpaquePointer? = nil
        var o = Options().c
        expectStatus(podsync_store_create(s.handle, UInt32(PODSYNC_ROLE_WRITER), &o, &store), PODSYNC_OK)
        var one = recordA(1)
        expectStatus(podsync_store_put(store, tableA, 1, &one, one.count), PODSYNC_OK)
        var n = 0
        expectStatus(podsync_store_flush(store, &n), PODSYNC_OK)
        expectStatus(podsync_snapshot_begin(store, 0, &p), PODSYNC_OK)
        podsync_store_free(store)
        let cursor = SnapshotCursor(try #require(p))
        let chunks = try cursor.all()
        #expect(chunks.count == 1 && frameInfo(chunks[0]).chunk_record_count == 1)
        // An empty state is one empty last chunk.
        let empty = try Store.writer(s)
        let e = try empty.beginSnapshot(0).all()
        #expect(e.count == 1 && frameInfo(e[0]).chunk_record_count == 0 && frameInfo(e[0]).section_count == 0)
        let r = try Store.replica(s)
        expectStatus(r.apply(e[0]).status, PODSYNC_OK)
        // A writer does not apply chunks.
        expectStatus(empty.apply(e[0]).status, PODSYNC_E_WRONG_ROLE)
    }
}

@Suite struct FormatVersion2Tests {
    @Test func writerInFormat2ProducesCompactFramesThatApply() throws {
        let s = try standardSchema()
        for level: Int32 in [0, 1] {
            let w = try Store.writer(s) { $0.frameFormat = 2; $0.compressionLevel = level }
            let r = try Store.replica(s)
            let late = try Store.replica(s)
            try r.applyAll(try w.snapshot().frames)
            w.put(tableA, 1)
            let f1 = try w.flushOne()
            #expect(frameInfo(f1).format_version == 2)
            #expect(f1.count < 88 + 40 + 8 + 40, "a one-record delta in format 2 is \(f1.count) bytes")
            try r.applyAll([f1])
            for k in UInt64(2)..<500 { w.put(tableA, k); w.put(tableB, k) }
            try r.applyAll(try w.flushOK())
            w.delete(tableA, 7)
            try r.applyAll(try w.flushOK())
            #expect(r.dump() == w.dump() && r.digest() == w.digest())
            let (st, catchup) = w.deltaSince(1)
            expectStatus(st, PODSYNC_OK)
            #expect(frameInfo(catchup[0]).format_version == 2)
            try late.applyAll(try w.snapshot().frames)
            #expect(late.dump() == w.dump())
        }
        let w = try Store.writer(s) { $0.frameFormat = 2 }
        let empty = try w.snapshotOne()
        #expect(empty.count == 48, "the empty snapshot in format 2: \(empty.count) bytes")
        // A stream reader: 16 bytes name the header length, the header names the frame length.
        var info = podsync_frame_info()
        info.version = UInt32(PODSYNC_FRAME_INFO_VERSION)
        expectStatus(withAligned(empty, count: 16) { podsync_frame_peek($0, $1, &info) }, PODSYNC_E_FRAME_TRUNCATED)
        #expect(info.format_version == 2 && info.header_length == 48)
        expectStatus(withAligned(empty, count: 48) { podsync_frame_peek($0, $1, &info) }, PODSYNC_OK)
        #expect(info.frame_length == 48)
        expectStatus(withAligned(empty, count: 15) { podsync_frame_peek($0, $1, &info) }, PODSYNC_E_FRAME_TRUNCATED)
    }

    @Test func unknownCriticalFeaturesAreRefusedAndIgnorableOnesSkipped() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.frameFormat = 2 }
        w.put(tableA, 1)
        let f = try w.flushOne()
        let headerLength = Int(frameInfo(f).header_length)
        // The end of the core fields: 40 (with a digest), then six LEB128s, codec, transforms.
        var at = 40
        func skipVarint() { while f[at] & 0x80 != 0 { at += 1 }; at += 1 }
        for _ in 0..<6 { skipVarint() }
        at += 1
        skipVarint()
        try #require(headerLength - at >= 3, "room for a record in the padding")
        let r = try Store.replica(s)
        var flagged = f
        flagged[6] |= 0x20  // reserved critical flag bit 5
        recomputeChecksumV2(&flagged)
        expectStatus(r.apply(flagged).status, PODSYNC_E_FRAME_FEATURE, "unknown critical flag")
        var hint = f
        hint[7] |= 0x01  // flag bit 8: a hint
        recomputeChecksumV2(&hint)
        var odd = f
        odd[at] = 11; odd[at + 1] = 1; odd[at + 2] = 0x55  // SCHEMA_REVISION: reserved, not implemented
        recomputeChecksumV2(&odd)
        expectStatus(r.apply(odd).status, PODSYNC_E_FRAME_FEATURE, "unknown odd extension tag")
        #expect(r.version == 0)
        var even = f
        even[at] = 2; even[at + 1] = 1; even[at + 2] = 0x55
        recomputeChecksumV2(&even)
        expectStatus(r.apply(even).status, PODSYNC_OK, "an unknown even tag is skipped")
        expectStatus(r.apply(hint).status, PODSYNC_DUPLICATE, "hint flags are ignored")
        var nonMinimal = f
        nonMinimal[at] = 2; nonMinimal[at + 1] = 0x81; nonMinimal[at + 2] = 0x00
        recomputeChecksumV2(&nonMinimal)
        expectStatus(validate(nonMinimal).status, PODSYNC_E_FRAME_MALFORMED, "non-minimal LEB128 length")
        var v1Checksum = f
        recomputeChecksum(&v1Checksum)  // format 1's unseeded checksum
        expectStatus(validate(v1Checksum).status, PODSYNC_E_FRAME_CHECKSUM, "format 2 seeds the checksum with the prefix")
        var units = f
        units[5] = 4  // 32-byte header
        expectStatus(validate(units).status, PODSYNC_E_FRAME_MALFORMED, "header below 40 bytes")
        var version3 = f
        version3[4] = 3
        expectStatus(validate(version3).status, PODSYNC_E_FRAME_VERSION)
        // Every truncation of the frame is refused, never read past.
        for n in 0..<f.count {
            let st = validate(Array(f[0..<n])).status
            #expect(st == PODSYNC_E_FRAME_TRUNCATED || st == PODSYNC_E_FRAME_MALFORMED, "\(n) bytes: \(sname(st))")
        }
    }

    /// FORMAT.md's worked example of a compact header, byte for byte.
    @Test func workedExampleOfTheCompactHeader() throws {
        let s = try makeSchema([exampleTable])
        let w = try Store.writer(s) { $0.streamID = 0x1122_3344_5566_7788; $0.frameFormat = 2 }
        let r = try Store.replica(s)
        // Version 41 with keys 7 and 9, after 299 frames: 41 one-frame flushes and 258 snapshots.
        w.put(1, 7, patternRecord(size: 16, key: 7))
        w.put(1, 9, patternRecord(size: 16, key: 9))
        _ = try w.flushOne()
        for i in 0..<40 {
            w.put(1, 7, patternRecord(size: 16, key: 7, salt: UInt32(i + 1)))
            _ = try w.flushOne()
        }
        for _ in 0..<257 { _ = try w.snapshotOne() }
        try r.applyAll([try w.snapshotOne()])
        #expect(w.info().state_version == 41 && w.info().sequence == 299)
        w.delete(1, 7)
        w.delete(1, 9)
        w.put(1, 42, exampleRecord)
        var f = try w.flushOne()
        if f.u64(0x68) == 9 {  // delete keys in the other order
            f.setU64(0x68, 7)
            f.setU64(0x70, 9)
            recomputeChecksumV2(&f)
        }
        let example = hexDump(compactExampleHex)
        #expect(f == example, "the writer's frame differs from FORMAT.md's compact example:\n\(f.map { String($0, radix: 16) })")
        expectStatus(r.apply(example).status, PODSYNC_OK)
        #expect(r.digest() == 0x4fcf_3993_1f5a_4d0c)
    }
}

/// FORMAT.md, "Worked example: a compact header".
let compactExampleHex = """
    0000: 50 53 59 4e 02 07 02 00 5b 65 31 43 03 02 e2 0c
    0010: 03 79 1e 06 b5 fb 16 81 88 77 66 55 44 33 22 11
    0020: 0c 4d 5a 1f 93 39 cf 4f 90 01 00 ac 02 29 01 01
    0030: 00 00 00 00 00 00 00 00 01 00 00 00 10 00 00 00
    0040: 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00
    0050: 48 00 00 00 00 00 00 00 58 00 00 00 00 00 00 00
    0060: 2a 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00
    0070: 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    0080: 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 04 c0
    """

/// FORMAT.md's seed(t, k): the order of keys in chunks.
func seed(_ table: UInt32, _ key: UInt64) -> UInt64 { fmix64(key ^ (UInt64(table) &* 0x9E37_79B9_7F4A_7C15)) }

/// Format 2's checksum: XXH3-64 of [16, n) seeded with bytes [0, 8).
func recomputeChecksumV2(_ frame: inout [UInt8]) {
    let seed = frame.u64(0)
    let sum = frame[16...].withUnsafeBytes { XXH3_64bits_withSeed($0.baseAddress, $0.count, seed) }
    frame.setU64(8, sum)
}

@Suite struct ChunkedDeltaTests {
    @Test func aLargeCatchUpDeltaIsChunkedAndAppliedAtTheLastChunk() throws {
        let s = try standardSchema()
        let w = try loadedWriter(s, 2000) { $0.maxFrameBytes = 4096 }
        let r = try Store.replica(s)
        try r.applyAll(try w.snapshot().frames)
        let before = (r.version, r.digest(), r.dump())
        for k in UInt64(0)..<600 { w.put(tableA, k &* 7919, salt: 3) }
        for k in UInt64(600)..<700 { w.delete(tableA, k &* 7919) }
        for k in UInt64(0)..<50 { w.put(tableB, 1 << 50 | k) }
        _ = try w.flushOK()
        w.put(tableA, 5, salt: 4)
        _ = try w.flushOK()
        let (st, frames) = w.deltaSince(before.0)
        expectStatus(st, PODSYNC_OK)
        try #require(frames.count > 3, "a \(frames.count)-frame delta")
        var total: UInt64 = 0, carried: UInt64 = 0, deletions: UInt64 = 0
        for (i, f) in frames.enumerated() {
            #expect(f.count <= 4096)
            let info = frameInfo(f)
            #expect(info.flags & PODSYNC_FRAME_CHUNK != 0 && info.flags & PODSYNC_FRAME_RESET == 0 && info.chunk_index == UInt64(i))
            #expect(info.base_version == before.0 && info.state_version == w.version)
            if info.chunk_flags & PODSYNC_CHUNK_LAST != 0 { total = info.chunk_record_count }
            for k in 0..<Int(info.section_count) {
                var sec = podsync_frame_section()
                sec.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
                expectStatus(withAligned(f) { podsync_frame_section_get($0, $1, k, &sec) }, PODSYNC_OK)
                carried += sec.put_count + sec.delete_count
                deletions += sec.delete_count
            }
        }
        #expect(total == carried && deletions > 0, "the last chunk counts \(total) changes, the chunks carry \(carried)")
        // A replica without the base version: staged, then GAP at the last chunk; nothing changes.
        let fresh = try Store.replica(s)
        for (i, f) in frames.enumerated() {
            expectStatus(fresh.apply(f).status, i == frames.count - 1 ? PODSYNC_GAP : PODSYNC_CHUNK_STAGED, "fresh, chunk \(i)")
        }
        #expect(fresh.version == 0 && fresh.count(tableA) == 0)
        // Lost chunk 1: CHUNK_GAP; the visible state holds until a complete delta arrives.
        expectStatus(r.apply(frames[0]).status, PODSYNC_CHUNK_STAGED)
        expectStatus(r.apply(frames[2]).status, PODSYNC_CHUNK_GAP)
        #expect((r.version, r.digest()) == (before.0, before.1) && r.dump() == before.2)
        for (i, f) in frames.enumerated() {
            let want = i == 0 ? PODSYNC_DUPLICATE : (i == frames.count - 1 ? PODSYNC_OK : PODSYNC_CHUNK_STAGED)
            expectStatus(r.apply(f).status, want, "chunk \(i)")
        }
        #expect(r.version == w.version && r.dump() == w.dump() && r.digest() == w.digest())
        expectStatus(r.apply(frames[1]).status, PODSYNC_DUPLICATE, "a chunk of a delta the replica has")
        // A staged delta's position names its base; a producer does not resume deltas.
        let lagging = try Store.replica(s)
        expectStatus(lagging.apply(frames[0]).status, PODSYNC_CHUNK_STAGED)
        let p = try #require(lagging.staging())
        #expect(p.base_version == before.0 && p.chunk_index == 1)
        let (rs, cursor) = w.resumeSnapshot(p, 4096)
        expectStatus(rs, PODSYNC_E_SNAPSHOT_EXPIRED, "resume of a delta's position")
        #expect(cursor == nil)
        // Compressed chunks too.
        let wz = try loadedWriter(s, 2000) { $0.maxFrameBytes = 4096; $0.compressionLevel = 1 }
        let rz = try Store.replica(s)
        try rz.applyAll(try wz.snapshot().frames)
        let base = wz.version
        for k in UInt64(0)..<900 { wz.put(tableA, k &* 7919, salt: 9) }
        for k in UInt64(900)..<950 { wz.delete(tableA, k &* 7919) }
        _ = try wz.flushOK()
        let (stz, fz) = wz.deltaSince(base)
        expectStatus(stz, PODSYNC_OK)
        #expect(fz.count > 1)
        try rz.applyAll(fz)
        #expect(rz.dump() == wz.dump())
    }
}
