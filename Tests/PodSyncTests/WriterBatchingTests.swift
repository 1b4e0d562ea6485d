// Writes, reads, coalescing, the flush policy and frame splitting on a writer
// (include/podsync.h "Stores", "Writes", "Flush policy", "Producing frames", "Reads").
import CPodSync
import Testing

/// The section of `table` in frame bytes, read through podsync_frame_section_get.
func sectionOf(_ frame: [UInt8], table: UInt32) -> (put: [Row], deletes: [UInt64])? {
    let v = validate(frame)
    guard v.status == PODSYNC_OK else {
        Issue.record("validate: \(sname(v.status))")
        return nil
    }
    return withAligned(frame) { p, n -> (put: [Row], deletes: [UInt64])? in
        for i in 0..<Int(v.info.section_count) {
            var s = podsync_frame_section()
            s.version = UInt32(PODSYNC_FRAME_SECTION_VERSION)
            let st = podsync_frame_section_get(p, n, i, &s)
            guard st == PODSYNC_OK else {
                Issue.record("section_get(\(i)): \(sname(st))")
                return nil
            }
            guard s.table_id == table else { continue }
            var rows: [Row] = []
            for j in 0..<Int(s.put_count) {
                rows.append(
                    Row(key: s.put_keys[j], bytes: Array(UnsafeRawBufferPointer(start: s.records + j * Int(s.record_size), count: Int(s.record_size)))))
            }
            let deletes = (0..<Int(s.delete_count)).map { s.delete_keys[$0] }
            return (rows, deletes)
        }
        return nil
    }
}

@Suite struct WriterBatchingTests {
    /// A put of the bytes a clean key already holds is not a change: nothing is pending, nothing
    /// is sent, the version does not move; a key changed in the batch is sent as usual, and a key
    /// changed and changed back within one batch is sent too (it was dirty).
    @Test func unchangedWritesAreNotChanges() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let r = try Store.replica(s)
        for k in UInt64(1)...100 { expectStatus(w.put(tableA, k), PODSYNC_OK, "put \(k)") }
        try r.applyAll(try w.flushOK())
        let version = w.info().version
        // The whole table rewritten with the values it has: no change.
        var keys: [UInt64] = []
        var bytes: [UInt8] = []
        for k in UInt64(1)...100 {
            keys.append(k)
            bytes += recordA(k)
        }
        expectStatus(w.putMany(tableA, keys, bytes), PODSYNC_OK, "put_many of the same values")
        for k in UInt64(1)...100 { expectStatus(w.put(tableA, k), PODSYNC_OK, "put \(k) again") }
        #expect(w.info().pending_changes == 0, "unchanged writes leave every key clean")
        let none = try w.flushOK()
        #expect(none.isEmpty, "a flush of unchanged writes sends nothing")
        #expect(w.info().version == version)
        // The same rewrite with three values moved: exactly those three are sent.
        for k in [UInt64(5), 50, 77] {
            bytes.replaceSubrange(Int(k - 1) * 40..<Int(k) * 40, with: recordA(k, 9))
        }
        expectStatus(w.putMany(tableA, keys, bytes), PODSYNC_OK, "put_many with three changes")
        #expect(w.info().pending_changes == 3)
        let frame = try w.flushOne()
        let section = try #require(sectionOf(frame, table: tableA))
        #expect(section.put.map(\.key).sorted() == [5, 50, 77])
        try r.applyAll([frame])
        // Changed and changed back in one batch: the key was dirty, so it is sent (its value at the
        // last flush is not kept to compare with).
        expectStatus(w.put(tableA, 8, salt: 1), PODSYNC_OK, "change")
        expectStatus(w.put(tableA, 8), PODSYNC_OK, "change back")
        let back = try w.flushOne()
        #expect(try #require(sectionOf(back, table: tableA)).put.map(\.key) == [8])
        try r.applyAll([back])
        #expect(r.dump() == w.dump() && r.digest() == w.digest())
    }

    @Test func putGetCountAndDelete() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        #expect(w.count(tableA) == 0)
        #expect(w.get(tableA, 1) == nil)
        var p: UnsafeRawPointer? = UnsafeRawPointer(bitPattern: 0x40)
        expectStatus(podsync_store_get(w.handle, tableA, 1, &p), PODSYNC_NOT_FOUND, "get of a missing key")
        #expect(p == nil, "record_out not NULL with NOT_FOUND")

        for k in UInt64(1)...20 { expectStatus(w.put(tableA, k), PODSYNC_OK, "put \(k)") }
        for k in UInt64(100)...104 { expectStatus(w.put(tableB, k), PODSYNC_OK, "put B \(k)") }
        #expect(w.count(tableA) == 20)
        #expect(w.count(tableB) == 5)
        for k in UInt64(1)...20 { #expect(w.get(tableA, k) == recordA(k)) }
        #expect(w.get(tableB, 1) == nil, "tables are separate key spaces")
        // Replace.
        expectStatus(w.put(tableA, 7, salt: 3), PODSYNC_OK, "replace")
        #expect(w.get(tableA, 7) == recordA(7, 3))
        #expect(w.count(tableA) == 20)
        // Delete.
        expectStatus(w.delete(tableA, 7), PODSYNC_OK, "delete")
        expectStatus(w.delete(tableA, 7), PODSYNC_NOT_FOUND, "delete again")
        expectStatus(w.delete(tableA, 999), PODSYNC_NOT_FOUND, "delete of a missing key")
        #expect(w.get(tableA, 7) == nil)
        #expect(w.count(tableA) == 19)
        // Extreme keys.
        expectStatus(w.put(tableA, 0), PODSYNC_OK, "key 0")
        expectStatus(w.put(tableA, .max), PODSYNC_OK, "key UInt64.max")
        #expect(w.get(tableA, 0) == recordA(0))
        #expect(w.get(tableA, .max) == recordA(.max))
        // The reads see the pending (unflushed) state and the flush sends it.
        let r = try Store.replica(s)
        try r.applyAll(try w.flushOK())
        expectSameState(r, w)
        #expect(r.get(tableA, .max) == recordA(.max))
    }

    @Test func tableViewIsDenseAndDeleteMovesTheLastRecord() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let empty = w.view(tableA)
        expectStatus(empty.status, PODSYNC_OK, "view of an empty table")
        #expect(empty.rows.isEmpty)
        for k in UInt64(1)...10 { w.put(tableA, k * 11) }
        let v = w.view(tableA)
        expectStatus(v.status, PODSYNC_OK, "view")
        try #require(v.rows.count == 10)
        let recs = try #require(v.records)
        #expect(Int(bitPattern: recs) % 8 == 0, "records not aligned to the table's alignment")
        #expect(Set(v.rows.map(\.key)) == Set((1...10).map { UInt64($0) * 11 }))
        for row in v.rows { #expect(row.bytes == recordA(row.key), "record at key \(row.key) in the view") }
        // get returns a pointer into the same contiguous array.
        for (i, row) in v.rows.enumerated() {
            var p: UnsafeRawPointer? = nil
            _ = podsync_store_get(w.handle, tableA, row.key, &p)
            #expect(p == recs + i * sizeA, "get(\(row.key)) does not point into the view at index \(i)")
        }
        // Delete the record at index 3: the last one moves into the hole.
        let victim = v.rows[3].key
        let last = v.rows[9].key
        expectStatus(w.delete(tableA, victim), PODSYNC_OK, "delete")
        let v2 = w.view(tableA)
        try #require(v2.rows.count == 9)
        #expect(v2.rows[3].key == last, "after deleting index 3 the last key \(last) should be at 3, found \(v2.rows[3].key)")
        #expect(v2.rows[3].bytes == recordA(last))
        #expect(Array(v2.rows[0..<3]) == Array(v.rows[0..<3]))
        #expect(Array(v2.rows[4..<9]) == Array(v.rows[4..<9]))
        #expect(!v2.rows.contains { $0.key == victim })
        // Delete the last one: nothing moves.
        let tail = v2.rows[8].key
        expectStatus(w.delete(tableA, tail), PODSYNC_OK, "delete the last")
        let v3 = w.view(tableA)
        #expect(Array(v3.rows) == Array(v2.rows[0..<8]))
        // Deleting everything gives an empty view.
        for row in v3.rows { w.delete(tableA, row.key) }
        #expect(w.view(tableA).rows.isEmpty)
        #expect(w.count(tableA) == 0)
    }

    @Test func putManyAndDeleteMany() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let keys: [UInt64] = [5, 6, 7, 5, 8]
        var recs: [UInt8] = []
        for (i, k) in keys.enumerated() { recs += recordA(k, UInt32(i)) }
        expectStatus(w.putMany(tableA, keys, recs), PODSYNC_OK, "put_many")
        #expect(w.count(tableA) == 4)
        #expect(w.get(tableA, 5) == recordA(5, 3), "the later record of a repeated key wins")
        #expect(w.get(tableA, 6) == recordA(6, 1))
        #expect(w.get(tableA, 8) == recordA(8, 4))
        expectStatus(w.putMany(tableA, [], []), PODSYNC_OK, "put_many of 0 records")

        let before = w.dump()
        let pending = w.info().pending_changes
        expectStatus(w.putMany(tableA, [1, 2], recs.prefix(79).map { $0 }), PODSYNC_E_RECORD_SIZE, "records_size 79 for 2 records")
        expectStatus(w.putMany(tableA, [1, 2], recs.prefix(120).map { $0 }), PODSYNC_E_RECORD_SIZE, "records_size 120 for 2 records")
        expectStatus(w.putMany(tableB, [1, 2], recs.prefix(80).map { $0 }), PODSYNC_E_RECORD_SIZE, "40-byte records into table 2")
        expectStatus(w.putMany(99, [1, 2], recs.prefix(80).map { $0 }), PODSYNC_E_UNKNOWN_TABLE, "unknown table")
        #expect(w.dump() == before, "a rejected put_many changed the state")
        #expect(w.info().pending_changes == pending)

        let (st, deleted) = w.deleteMany(tableA, [5, 999, 6, 5])
        expectStatus(st, PODSYNC_OK, "delete_many")
        #expect(deleted == 2, "deleted_out \(deleted), want 2 (5 and 6; 999 absent; 5 repeated)")
        #expect(w.count(tableA) == 2)
        #expect(w.get(tableA, 5) == nil && w.get(tableA, 6) == nil)
        let none = w.deleteMany(tableA, [100, 101])
        expectStatus(none.status, PODSYNC_OK, "delete_many of absent keys")
        #expect(none.deleted == 0)
        expectStatus(podsync_store_delete_many(w.handle, tableA, [7], 1, nil), PODSYNC_OK, "deleted_out NULL")
        #expect(w.get(tableA, 7) == nil)
        expectStatus(w.deleteMany(42, [8]).status, PODSYNC_E_UNKNOWN_TABLE, "delete_many on an unknown table")
        #expect(w.get(tableA, 8) == recordA(8, 4))

        let r = try Store.replica(s)
        try r.applyAll(try w.flushOK())
        expectSameState(r, w)
    }

    @Test func wrongRecordSizeAndUnknownTable() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        w.put(tableA, 1)
        let before = Observed(w)
        let pending = w.info().pending_changes
        expectStatus(w.put(tableA, 2, recordB(2)), PODSYNC_E_RECORD_SIZE, "16 bytes into table 1")
        expectStatus(w.put(tableA, 2, recordA(2) + [0]), PODSYNC_E_RECORD_SIZE, "41 bytes into table 1")
        expectStatus(w.put(tableB, 2, recordA(2)), PODSYNC_E_RECORD_SIZE, "40 bytes into table 2")
        expectStatus(w.put(tableA, 1, recordB(1)), PODSYNC_E_RECORD_SIZE, "replace with the wrong size")
        #expect(w.errmsg != "")
        expectStatus(w.put(3, 1, recordA(1)), PODSYNC_E_UNKNOWN_TABLE, "put on table 3")
        expectStatus(w.delete(3, 1), PODSYNC_E_UNKNOWN_TABLE, "delete on table 3")
        var p: UnsafeRawPointer? = nil
        expectStatus(podsync_store_get(w.handle, 3, 1, &p), PODSYNC_E_UNKNOWN_TABLE, "get on table 3")
        var n = 0
        expectStatus(podsync_store_count(w.handle, 3, &n), PODSYNC_E_UNKNOWN_TABLE, "count on table 3")
        var recs: UnsafeRawPointer? = nil
        var keys: UnsafePointer<UInt64>? = nil
        expectStatus(podsync_store_table(w.handle, 0, &recs, &keys, &n), PODSYNC_E_UNKNOWN_TABLE, "table view of table 0")
        #expect(Observed(w) == before)
        #expect(w.info().pending_changes == pending)
        #expect(w.get(tableA, 1) == recordA(1))
    }

    @Test func schemaIsCopiedIntoTheStore() throws {
        var s: Schema? = try standardSchema()
        let hash = s!.hash()
        let w = try Store.writer(s!)
        let r = try Store.replica(s!)
        s = nil  // frees the schema
        #expect(w.info().schema_hash == hash)
        #expect(w.info().table_count == 2)
        w.put(tableA, 1)
        w.put(tableB, 2)
        try r.applyAll(try w.flushOK())
        expectSameState(r, w)
    }

    @Test func keyWrittenManyTimesIsSentOnceWithItsLastValue() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for i in 0..<1000 { #expect(w.put(tableA, 42, salt: UInt32(i)) >= 0) }
        w.put(tableB, 7, salt: 1)
        w.put(tableB, 7, salt: 2)
        #expect(w.info().pending_changes == 2, "pending_changes counts distinct keys")
        let f = try w.flushOne()
        let a = try #require(sectionOf(f, table: tableA))
        #expect(a.put.count == 1)
        #expect(a.put.first?.key == 42)
        #expect(a.put.first?.bytes == recordA(42, 999), "the last value wins")
        #expect(a.deletes.isEmpty)
        let b = try #require(sectionOf(f, table: tableB))
        #expect(b.put == [Row(key: 7, bytes: recordB(7, 2))])
        #expect(w.info().pending_changes == 0)
        // Updates then a delete of a flushed key: only the delete is sent.
        for i in 0..<10 { w.put(tableA, 42, salt: UInt32(i)) }
        w.delete(tableA, 42)
        let f2 = try w.flushOne()
        let a2 = try #require(sectionOf(f2, table: tableA))
        #expect(a2.put.isEmpty)
        #expect(a2.deletes == [42])
        #expect(sectionOf(f2, table: tableB) == nil, "a table without changes has no section")
        // Delete then re-create of a flushed key: one put.
        w.put(tableB, 7, salt: 5)
        w.delete(tableB, 7)
        w.put(tableB, 7, salt: 6)
        let f3 = try w.flushOne()
        let b3 = try #require(sectionOf(f3, table: tableB))
        #expect(b3.put == [Row(key: 7, bytes: recordB(7, 6))])
        #expect(b3.deletes.isEmpty, "a key appears at most once per table in a frame")
    }

    @Test func keyCreatedAndDeletedInOneBatchIsNotSent() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        let i0 = w.info()
        w.put(tableA, 1)
        w.put(tableA, 1, salt: 2)
        expectStatus(w.delete(tableA, 1), PODSYNC_OK, "delete of a pending key")
        #expect(w.count(tableA) == 0)
        let (st, frames) = w.flush()
        expectStatus(st, PODSYNC_OK, "flush")
        #expect(frames.isEmpty, "\(frames.count) frames for a batch that nets to nothing")
        let i1 = w.info()
        #expect(i1.state_version == i0.state_version)
        #expect(i1.digest == 0)
        // Same with put_many / delete_many and with a flushed key among them.
        w.put(tableB, 9)
        let f = try w.flushOne()
        var recs: [UInt8] = []
        for k in UInt64(1)...3 { recs += recordA(k) }
        w.putMany(tableA, [1, 2, 3], recs)
        _ = w.deleteMany(tableA, [1, 2, 3])
        w.delete(tableB, 9)
        let f2 = try w.flushOne()
        let p = try parseFrame(f2)
        #expect(p.section(tableA) == nil, "a table whose changes net to nothing has no section")
        #expect(p.section(tableB)?.deleteKeys == [9])
        #expect(p.section(tableB)?.putCount == 0)
        let r = try Store.replica(s)
        try r.applyAll([f, f2])
        expectSameState(r, w)
    }

    @Test func emptyFlushProducesNothing() throws {
        let s = try standardSchema()
        let w = try Store.writer(s)
        for _ in 0..<3 {
            let (st, frames) = w.flush()
            expectStatus(st, PODSYNC_OK, "empty flush")
            #expect(frames.isEmpty)
        }
        #expect(w.info().state_version == 0)
        #expect(w.info().sequence == 0)
        w.put(tableA, 1)
        _ = try w.flushOne()
        let v = w.info().state_version
        let (st, frames) = w.flush()
        expectStatus(st, PODSYNC_OK, "empty flush after a real one")
        #expect(frames.isEmpty)
        #expect(w.info().state_version == v)
    }

    @Test func maxBatchRecords() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.maxBatchRecords = 5 }
        for k in UInt64(1)...4 { expectStatus(w.put(tableA, k), PODSYNC_OK, "put \(k) of 5") }
        expectStatus(w.put(tableA, 1, salt: 1), PODSYNC_OK, "rewrite of a pending key: still 4 distinct")
        expectStatus(w.flushDue(), PODSYNC_OK, "flush_due before the limit")
        expectStatus(w.put(tableB, 5), PODSYNC_FLUSH_DUE, "the 5th distinct change")
        expectStatus(w.flushDue(), PODSYNC_FLUSH_DUE, "flush_due at the limit")
        #expect(w.get(tableB, 5) == recordB(5), "a FLUSH_DUE write is done")
        expectStatus(w.put(tableB, 6), PODSYNC_FLUSH_DUE, "past the limit")
        _ = try w.flushOne()
        expectStatus(w.flushDue(), PODSYNC_OK, "after flush")
        expectStatus(w.put(tableA, 10), PODSYNC_OK, "first write of the next batch")
        // Deletes count as changes too; put_many reports FLUSH_DUE when it reaches the limit.
        var recs: [UInt8] = []
        for k in UInt64(20)...23 { recs += recordA(k) }
        expectStatus(w.putMany(tableA, [20, 21, 22, 23], recs), PODSYNC_FLUSH_DUE, "put_many reaching 5")
        _ = try w.flushOne()
        for k in UInt64(20)...23 { expectStatus(w.delete(tableA, k), PODSYNC_OK, "delete \(k)") }
        expectStatus(w.delete(tableA, 10), PODSYNC_FLUSH_DUE, "5th delete")
    }

    @Test func maxBatchBytes() throws {
        let s = try standardSchema()
        // A table-1 put costs 40 + 8 = 48 bytes.
        let w = try Store.writer(s) { $0.maxBatchBytes = 48 * 3 }
        expectStatus(w.put(tableA, 1), PODSYNC_OK, "48 bytes")
        expectStatus(w.put(tableA, 2), PODSYNC_OK, "96 bytes")
        expectStatus(w.flushDue(), PODSYNC_OK, "flush_due at 96 bytes")
        expectStatus(w.put(tableA, 3), PODSYNC_FLUSH_DUE, "144 bytes")
        expectStatus(w.flushDue(), PODSYNC_FLUSH_DUE, "flush_due at 144 bytes")
        _ = try w.flushOne()
        expectStatus(w.flushDue(), PODSYNC_OK, "after flush")
        // Table 2 costs 24 bytes a key: 6 of them reach 144. Rewrites of a pending key cost nothing.
        for k in UInt64(1)...5 { expectStatus(w.put(tableB, k), PODSYNC_OK, "B put \(k)") }
        for i in 0..<10 { expectStatus(w.put(tableB, 5, salt: UInt32(i)), PODSYNC_OK, "rewrite of a pending key") }
        expectStatus(w.put(tableB, 6), PODSYNC_FLUSH_DUE, "6th table-2 put: 144 bytes")
        _ = try w.flushOne()
        // A delete carries a key and no record: 8 bytes.
        for k in UInt64(1)...17 { expectStatus(w.delete(tableB, k <= 6 ? k : 0), k <= 6 ? PODSYNC_OK : PODSYNC_NOT_FOUND, "delete \(k)") }
        expectStatus(w.flushDue(), PODSYNC_OK, "6 deletes = 48 bytes")
        let w2 = try Store.writer(s) { $0.maxBatchBytes = 24 }
        for k in UInt64(1)...3 { w2.put(tableB, k) }
        _ = try w2.flushOne()
        expectStatus(w2.delete(tableB, 1), PODSYNC_OK, "8 bytes")
        expectStatus(w2.delete(tableB, 2), PODSYNC_OK, "16 bytes")
        expectStatus(w2.delete(tableB, 3), PODSYNC_FLUSH_DUE, "24 bytes of deletes")
    }

    @Test func maxBatchAgeWithManualClock() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.maxBatchAgeMs = 50 }
        expectStatus(w.setTime(1000), PODSYNC_OK, "set_time")
        expectStatus(w.flushDue(), PODSYNC_OK, "empty batch")
        expectStatus(w.put(tableA, 1), PODSYNC_OK, "first write at t=1000")
        expectStatus(w.setTime(1030), PODSYNC_OK, "set_time")
        expectStatus(w.put(tableA, 2), PODSYNC_OK, "write at t=1030 (oldest is 30 ms old)")
        expectStatus(w.setTime(1049), PODSYNC_OK, "set_time")
        expectStatus(w.flushDue(), PODSYNC_OK, "oldest change 49 ms old")
        expectStatus(w.setTime(1050), PODSYNC_OK, "set_time")
        expectStatus(w.flushDue(), PODSYNC_FLUSH_DUE, "oldest change 50 ms old")
        expectStatus(w.put(tableA, 3), PODSYNC_FLUSH_DUE, "a write when the batch is overdue")
        _ = try w.flushOne()
        expectStatus(w.flushDue(), PODSYNC_OK, "after flush")
        // The age counts from the first change of the new batch, not from the last flush.
        expectStatus(w.setTime(5000), PODSYNC_OK, "set_time")
        expectStatus(w.flushDue(), PODSYNC_OK, "nothing pending, long after")
        expectStatus(w.put(tableB, 1), PODSYNC_OK, "first write of the new batch at t=5000")
        expectStatus(w.setTime(5049), PODSYNC_OK, "set_time")
        expectStatus(w.flushDue(), PODSYNC_OK, "49 ms")
        expectStatus(w.setTime(6000), PODSYNC_OK, "set_time")
        expectStatus(w.flushDue(), PODSYNC_FLUSH_DUE, "1000 ms")

        // max_batch_age_ms = 0 means no age limit.
        let w2 = try Store.writer(s) { $0.maxBatchAgeMs = 0 }
        w2.setTime(0)
        expectStatus(w2.put(tableA, 1), PODSYNC_OK, "put")
        w2.setTime(1 << 40)
        expectStatus(w2.flushDue(), PODSYNC_OK, "no age limit")
    }

    @Test func deleteThenRecreateOfAFlushedKeyIsOneChange() throws {
        // pending_changes counts distinct keys; a batch costs "records + 8 per key". Deleting a
        // flushed key and putting it again within one batch is one key with one record.
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.maxBatchBytes = 56; $0.maxBatchRecords = 2 }
        w.put(tableA, 1)
        _ = try w.flushOne()
        expectStatus(w.delete(tableA, 1), PODSYNC_OK, "delete of a flushed key")
        #expect(w.info().pending_changes == 1)
        expectStatus(w.put(tableA, 1, salt: 5), PODSYNC_OK, "re-create: 1 key, 48 bytes < 56, 1 change < 2")
        #expect(w.info().pending_changes == 1, "pending_changes \(w.info().pending_changes) for one key deleted and re-created")
        expectStatus(w.flushDue(), PODSYNC_OK, "flush_due")
        let f = try w.flushOne()
        let p = try parseFrame(f)
        #expect(p.section(tableA)?.putKeys == [1])
        #expect(p.section(tableA)?.deleteCount == 0)
        #expect(w.info().pending_changes == 0)
    }

    @Test func manyKeys() throws {
        // Index growth, swap-removal and catch-up over a larger table.
        let s = try standardSchema()
        let w = try Store.writer(s)
        let n = 60_000
        var keys: [UInt64] = []
        var recs: [UInt8] = []
        keys.reserveCapacity(n)
        recs.reserveCapacity(n * sizeB)
        for i in 0..<n {
            let k = UInt64(i) &* 0x9E37_79B9_7F4A_7C15  // scattered, includes 0
            keys.append(k)
            recs += recordB(k)
        }
        expectStatus(w.putMany(tableB, keys, recs), PODSYNC_OK, "put_many of \(n)")
        let f1 = try w.flushOK()
        let r = try Store.replica(s)
        try r.applyAll(f1)
        var deleteKeys: [UInt64] = []
        for i in stride(from: 0, to: n, by: 3) { deleteKeys.append(keys[i]) }
        let (dst, deleted) = w.deleteMany(tableB, deleteKeys)
        expectStatus(dst, PODSYNC_OK, "delete_many")
        #expect(deleted == deleteKeys.count)
        for i in stride(from: 1, to: n, by: 7) where i % 3 != 0 { w.put(tableB, keys[i], salt: 1) }
        #expect(w.count(tableB) == n - deleteKeys.count)
        let f2 = try w.flushOK()
        try r.applyAll(f2)
        expectSameState(r, w)
        #expect(r.count(tableB) == n - deleteKeys.count)
        for i in stride(from: 0, to: n, by: 997) {
            let want: [UInt8]? = i % 3 == 0 ? nil : (i % 7 == 1 ? recordB(keys[i], 1) : recordB(keys[i]))
            #expect(r.get(tableB, keys[i]) == want, "key #\(i)")
        }
        // Catch-up since 1 on a replica at 1, and a snapshot.
        let r1 = try Store.replica(s)
        try r1.applyAll(f1)
        let (st, d) = w.deltaSince(1)
        expectStatus(st, PODSYNC_OK, "delta_since(1)")
        try r1.applyAll(d)
        expectSameState(r1, w)
        let r2 = try Store.replica(s)
        try r2.applyAll([try w.snapshotOne()])
        expectSameState(r2, w)
    }

    @Test func maxBatchAgeWithTheMonotonicClock() async throws {
        // Without PODSYNC_OPT_MANUAL_CLOCK the age comes from CLOCK_MONOTONIC.
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.flags = PODSYNC_OPT_FRAME_DIGEST; $0.maxBatchAgeMs = 20 }
        let long = try Store.writer(s) { $0.flags = PODSYNC_OPT_FRAME_DIGEST; $0.maxBatchAgeMs = 600_000 }
        expectStatus(w.put(tableA, 1), PODSYNC_OK, "first write")
        expectStatus(long.put(tableA, 1), PODSYNC_OK, "first write")
        try await Task.sleep(for: .milliseconds(60))
        expectStatus(w.flushDue(), PODSYNC_FLUSH_DUE, "after 60 ms with max_batch_age_ms 20")
        expectStatus(long.flushDue(), PODSYNC_OK, "after 60 ms with max_batch_age_ms 600000")
        _ = try w.flushOne()
        expectStatus(w.flushDue(), PODSYNC_OK, "after flush")
    }

    @Test func maxFrameBytesSplitsAFlush() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.maxFrameBytes = 1024 }
        let r = try Store.replica(s)
        for k in UInt64(1)...100 { w.put(tableA, k) }
        for k in UInt64(1)...30 { w.put(tableB, k) }
        let frames = try w.flushOK()
        #expect(frames.count > 1, "\(frames.count) frames for ~5 KB of changes with max_frame_bytes 1024")
        #expect(w.info().state_version == UInt64(frames.count), "each frame advances the version by one")
        var putsSeen = 0
        for (i, f) in frames.enumerated() {
            #expect(f.count <= 1024, "frame \(i) is \(f.count) bytes")
            let p = try parseFrame(f)
            #expect(p.baseVersion == UInt64(i) && p.stateVersion == UInt64(i + 1), "frame \(i): \(p.baseVersion)→\(p.stateVersion)")
            putsSeen += p.sections.reduce(0) { $0 + Int($1.putCount) }
            let (st, v) = r.apply(f)
            expectStatus(st, PODSYNC_OK, "apply frame \(i)")
            #expect(v == UInt64(i + 1))
        }
        #expect(putsSeen == 130, "every change sent exactly once")
        expectSameState(r, w)
        // Snapshots and catch-up deltas are chunked at max_frame_bytes (a chunk holds at least one
        // record).
        let snap = w.snapshot()
        expectStatus(snap.status, PODSYNC_OK, "snapshot")
        #expect(snap.frames.count > 1 && snap.frames.allSatisfy { $0.count <= 1024 }, "snapshot: \(snap.frames.map(\.count)) bytes")
        let d = w.deltaSince(1)
        expectStatus(d.status, PODSYNC_OK, "delta_since(1)")
        #expect(d.frames.count > 1 && d.frames.allSatisfy { $0.count <= 1024 }, "delta_since(1): \(d.frames.map(\.count)) bytes")
        let fresh = try Store.replica(s)
        try fresh.applyAll(snap.frames)
        expectSameState(fresh, w)

        // A replica that skips a split frame sees a GAP.
        let w2 = try Store.writer(s) { $0.maxFrameBytes = 1024; $0.streamID = 99 }
        for k in UInt64(1)...100 { w2.put(tableA, k) }
        let f2 = try w2.flushOK()
        try #require(f2.count >= 3)
        let r2 = try Store.replica(s)
        expectStatus(r2.apply(f2[0]).status, PODSYNC_OK, "first")
        expectStatus(r2.apply(f2[2]).status, PODSYNC_GAP, "third before the second")
        expectStatus(r2.apply(f2[1]).status, PODSYNC_OK, "second")
        expectStatus(r2.apply(f2[0]).status, PODSYNC_DUPLICATE, "first again")
        try r2.applyAll(Array(f2[2...]))
        expectSameState(r2, w2)
    }

    @Test(arguments: [120, 176, 200, 256, 300, 333, 512, 777, 1000, 2048, 5000])
    func splitFramesRespectTheLimit(_ limit: Int) throws {
        let defs = [
            tableADef, tableBDef,
            TableDef(id: 3, size: 1, alignment: 1, fields: []),
            TableDef(id: 64, size: 64, alignment: 64, fields: []),
            TableDef(id: 99, size: 24, alignment: 8, fields: []),
        ]
        let s = try makeSchema(defs)
        let w = try Store.writer(s) { $0.maxFrameBytes = UInt64(limit) }
        let r = try Store.replica(s)
        var rng = SplitMix64(seed: UInt64(limit))
        for round in 0..<6 {
            for _ in 0..<120 {
                let t = defs[Int(rng.next() % UInt64(defs.count))]
                let k = rng.next() % 60
                if rng.next() % 4 == 0 { w.delete(t.id, k) } else { w.put(t.id, k, patternRecord(size: Int(t.size), key: k, salt: UInt32(round))) }
            }
            let v0 = w.version
            let frames = try w.flushOK()
            for (i, f) in frames.enumerated() {
                let p = try parseFrame(f)
                let changes = p.sections.reduce(0) { $0 + Int($1.putCount + $1.deleteCount) }
                #expect(changes >= 1, "frame \(i) holds no change")
                #expect(f.count <= limit || changes == 1, "round \(round) frame \(i): \(f.count) bytes > \(limit) with \(changes) changes")
                #expect(p.baseVersion == v0 + UInt64(i) && p.stateVersion == v0 + UInt64(i) + 1)
                expectStatus(r.apply(f).status, PODSYNC_OK, "round \(round) frame \(i)")
            }
            expectSameState(r, w)
        }
    }

    @Test func zeroLimitsMeanNoLimit() throws {
        let s = try standardSchema()
        let n = 70_000
        let keys = (0..<UInt64(n)).map { $0 }
        var recs: [UInt8] = []
        recs.reserveCapacity(n * sizeB)
        for k in keys { recs += recordB(k) }
        let unlimited = try Store.writer(s) {
            $0.maxBatchRecords = 0; $0.maxBatchBytes = 0; $0.maxBatchAgeMs = 0; $0.maxFrameBytes = 0
        }
        unlimited.setTime(0)
        expectStatus(unlimited.putMany(tableB, keys, recs), PODSYNC_OK, "70,000 changes, 1.68 MB, no limits")
        unlimited.setTime(1 << 50)
        expectStatus(unlimited.flushDue(), PODSYNC_OK, "no limits: never due")
        let frames = try unlimited.flushOK()
        #expect(frames.count == 1, "max_frame_bytes 0: one frame, got \(frames.count)")
        // The defaults: 65,536 changes make a flush due.
        let defaults = try Store.writer(s)
        expectStatus(defaults.putMany(tableB, Array(keys[0..<65535]), Array(recs[0..<(65535 * sizeB)])), PODSYNC_OK, "65,535 changes")
        expectStatus(defaults.put(tableB, 65535), PODSYNC_FLUSH_DUE, "the 65,536th change (default max_batch_records)")
    }

    @Test func tinyMaxFrameBytesGivesOneChangePerFrame() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.maxFrameBytes = 1 }
        let r = try Store.replica(s)
        for k in UInt64(1)...5 { w.put(tableA, k) }
        w.put(tableB, 1)
        try r.applyAll(try w.flushOK())
        w.delete(tableA, 2)
        w.delete(tableA, 3)
        w.put(tableA, 9)
        let frames = try w.flushOK()
        #expect(frames.count == 3, "a frame always holds at least one change: want 3 frames, got \(frames.count)")
        #expect(w.info().state_version == 9)
        try r.applyAll(frames)
        expectSameState(r, w)
    }

    @Test func outboxAfterErrorsAndEmptyResults() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.tombstoneHorizon = 1 }
        w.put(tableA, 1)
        let f1 = try w.flushOne()
        // An error leaves the outbox as it was.
        var n = 9
        expectStatus(podsync_store_delta_since(w.handle, 5, &n), PODSYNC_E_VERSION_AHEAD, "delta_since(5)")
        #expect(w.outbox(1) == [f1], "the outbox changed after an error")
        // An empty result replaces it with nothing.
        expectStatus(podsync_store_flush(w.handle, &n), PODSYNC_OK, "empty flush")
        #expect(n == 0)
        var data: UnsafePointer<UInt8>? = nil
        var size = 0
        expectStatus(podsync_store_frame(w.handle, 0, &data, &size), PODSYNC_E_INVALID_ARGUMENT, "frame(0) after an empty flush")
        w.put(tableA, 2)
        _ = try w.flushOne()
        w.delete(tableA, 1)
        _ = try w.flushOne()
        w.put(tableA, 3)
        _ = try w.flushOne()
        let floor = w.info().catchup_floor
        try #require(floor > 1, "catchup_floor \(floor) with tombstone_horizon 1 at version \(w.version)")
        _ = w.snapshot()
        n = 9
        expectStatus(podsync_store_delta_since(w.handle, 1, &n), PODSYNC_SNAPSHOT_REQUIRED, "delta_since(1)")
        #expect(n == 0)
        expectStatus(podsync_store_frame(w.handle, 0, &data, &size), PODSYNC_E_INVALID_ARGUMENT, "frame(0) after SNAPSHOT_REQUIRED")
        expectStatus(podsync_store_delta_since(w.handle, w.version, &n), PODSYNC_OK, "delta_since(current)")
        #expect(n == 0)
    }

    @Test func borrowedRecordsSurviveFlushAndFrameProduction() throws {
        // Records stay valid "until the next write, apply or free": flush, snapshot and
        // delta_since are none of those.
        let s = try standardSchema()
        let w = try Store.writer(s)
        for k in UInt64(1)...100 { w.put(tableA, k) }
        var p: UnsafeRawPointer? = nil
        expectStatus(podsync_store_get(w.handle, tableA, 50, &p), PODSYNC_OK, "get")
        let view = w.view(tableA)
        let g = w.info().generation
        _ = try w.flushOK()
        _ = w.snapshot()
        _ = w.deltaSince(0)
        _ = w.deltaSince(1)
        #expect(w.info().generation == g, "generation changed without a write or apply")
        #expect(Array(UnsafeRawBufferPointer(start: p!, count: sizeA)) == recordA(50))
        let view2 = w.view(tableA)
        #expect(view2.records == view.records && view2.keys == view.keys)
        #expect(view2.rows == view.rows)
    }

    @Test func writerOnlyCallsOnAReplica() throws {
        let s = try standardSchema()
        let r = try Store.replica(s)
        let w = try Store.writer(s)
        w.put(tableA, 1)
        let f = try w.flushOne()
        try r.applyAll([f])
        let before = Observed(r)
        expectStatus(r.put(tableA, 2), PODSYNC_E_WRONG_ROLE, "put")
        expectStatus(r.putMany(tableA, [3], recordA(3)), PODSYNC_E_WRONG_ROLE, "put_many")
        expectStatus(r.delete(tableA, 1), PODSYNC_E_WRONG_ROLE, "delete")
        expectStatus(r.deleteMany(tableA, [1]).status, PODSYNC_E_WRONG_ROLE, "delete_many")
        expectStatus(r.setTime(5), PODSYNC_E_WRONG_ROLE, "set_time")
        expectStatus(r.flushDue(), PODSYNC_E_WRONG_ROLE, "flush_due")
        var n = 0
        expectStatus(podsync_store_flush(r.handle, &n), PODSYNC_E_WRONG_ROLE, "flush")
        #expect(r.errmsg != "")
        #expect(Observed(r) == before)
        // And apply on a writer.
        let wBefore = Observed(w)
        let other = try Store.writer(s) { $0.streamID = 1234 }
        other.put(tableA, 77)
        expectStatus(w.apply(try other.flushOne()).status, PODSYNC_E_WRONG_ROLE, "apply on a writer")
        expectStatus(w.apply(f).status, PODSYNC_E_WRONG_ROLE, "apply of its own frame")
        #expect(Observed(w) == wBefore)
        // Reads, delta_since and snapshot work on both.
        expectStatus(r.snapshot().status, PODSYNC_OK, "snapshot on a replica")
        expectStatus(r.deltaSince(0).status, PODSYNC_OK, "delta_since on a replica")
    }

    @Test func infoFieldsTrackWrites() throws {
        let s = try standardSchema()
        let w = try Store.writer(s) { $0.streamID = 0xABCDEF }
        let r = try Store.replica(s)
        let i0 = w.info()
        #expect(i0.version == UInt32(PODSYNC_STORE_INFO_VERSION))
        #expect(i0.role == UInt32(PODSYNC_ROLE_WRITER))
        #expect(i0.schema_hash == s.hash())
        #expect(i0.stream_id == 0xABCDEF)
        #expect(i0.state_version == 0)
        #expect(i0.sequence == 0)
        #expect(i0.digest == 0)
        #expect(i0.pending_changes == 0)
        #expect(i0.diverged == 0)
        #expect(i0.table_count == 2)
        let ri0 = r.info()
        #expect(ri0.role == UInt32(PODSYNC_ROLE_REPLICA))
        #expect(ri0.stream_id == 0, "a replica follows no stream before its first frame")
        #expect(ri0.state_version == 0)
        #expect(ri0.table_count == 2)
        #expect(ri0.schema_hash == s.hash())

        w.put(tableA, 1)
        let i1 = w.info()
        #expect(i1.pending_changes == 1)
        #expect(i1.generation != i0.generation, "a put of a new key must change generation")
        #expect(i1.state_version == 0 && i1.digest == 0, "pending writes are not in the flushed state")
        #expect(w.digest() == 0)
        w.put(tableA, 2)
        w.put(tableB, 1)
        w.put(tableA, 1, salt: 9)
        #expect(w.info().pending_changes == 3)
        let f = try w.flushOne()
        let i2 = w.info()
        #expect(i2.pending_changes == 0)
        #expect(i2.state_version == 1)
        #expect(i2.sequence == 1)
        #expect(i2.digest == expectedDigest(w.dump()))
        #expect(i2.digest != 0)
        let g = i2.generation
        w.delete(tableA, 2)
        #expect(w.info().generation != g, "a delete must change generation")
        #expect(w.info().pending_changes == 1)
        _ = try w.flushOne()
        #expect(w.info().sequence == 2)
        #expect(w.info().state_version == 2)

        let rg = r.info().generation
        try r.applyAll([f])
        let ri1 = r.info()
        #expect(ri1.generation != rg, "apply must change generation")
        #expect(ri1.stream_id == 0xABCDEF)
        #expect(ri1.sequence == 1)
        #expect(ri1.state_version == 1)
        #expect(ri1.pending_changes == 0)
    }

    @Test func randomStreamIDs() throws {
        let s = try standardSchema()
        let a = try Store.writer(s) { $0.streamID = 0 }
        let b = try Store.writer(s) { $0.streamID = 0 }
        #expect(a.info().stream_id != 0, "stream_id 0 picks a random (nonzero) id")
        #expect(a.info().stream_id != b.info().stream_id)
        a.put(tableA, 1)
        let p = try parseFrame(try a.flushOne())
        #expect(p.streamID == a.info().stream_id)
    }

    @Test func storeOptionsDefaults() throws {
        var o = podsync_store_options()
        expectStatus(podsync_store_options_init(&o, UInt32(PODSYNC_STORE_OPTIONS_VERSION)), PODSYNC_OK, "options_init")
        #expect(o.version == 4)
        #expect(o.frame_format == 2 && o.refresh_flushes == 0 && o.refresh_ms == 0, "format-2 frames (since 0.8.0), no refresh unless asked")
        #expect(o.max_records == 0, "no record limit unless asked")
        #expect(o.max_tombstones == 1 << 20)
        #expect(o.compression_level == 0, "frames are not compressed unless asked")
        #expect(o.transforms == PODSYNC_TRANSFORM_ALL)
        #expect(o.max_decoded_bytes == 1 << 30)
        #expect(o.flags == PODSYNC_OPT_FRAME_DIGEST)
        #expect(o.stream_id == 0)
        #expect(o.max_batch_records == 65536)
        #expect(o.max_batch_bytes == 4_194_304)
        #expect(o.max_batch_age_ms == 50)
        #expect(o.max_frame_bytes == 67_108_864)
        #expect(o.tombstone_horizon == 65536)
        // NULL options = defaults: a writer with a random stream and digests in frames.
        let s = try standardSchema()
        let w = try Store(s, role: PODSYNC_ROLE_WRITER, options: nil)
        #expect(w.info().stream_id != 0)
        w.put(tableA, 1)
        let info = frameInfo(try w.flushOne())
        #expect(info.format_version == 2 && info.header_length <= 56, "the compact header: \(info.header_length) bytes")
        #expect(info.flags == PODSYNC_FRAME_HAS_DIGEST)
        let r = try Store(s, role: PODSYNC_ROLE_REPLICA, options: nil)
        expectStatus(r.apply(try w.snapshotOne()).status, PODSYNC_OK, "replica with default options")
    }
}
