"""Library 0.5.0: chunked snapshots (Store.snapshot_chunks / snapshot_resume / staging, the
ChunkedSnapshot iterator, CHUNK_STAGED / CHUNK_GAP, SnapshotExpired, ChunkMismatch, fill_in_place,
podsync_store_snapshot cut into chunks) and frame format 2 (the frame_format option, compact
headers shorter than 88 bytes, read_frames over mixed formats, FrameFeature)."""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import gc
import io
import pickle
from collections.abc import Sequence

import numpy as np
import pytest

import podsync
from _support import ITEM, XXH3, entities, state

OK = podsync.ApplyResult.OK
STAGED = podsync.ApplyResult.CHUNK_STAGED
GAP = podsync.ApplyResult.CHUNK_GAP
DUPLICATE = podsync.ApplyResult.DUPLICATE
STALE = podsync.ApplyResult.STALE


def items(keys: np.ndarray, seed: int = 0) -> np.ndarray:
    out = np.zeros(len(keys), ITEM)
    out["a"] = keys.astype(np.uint32)
    out["b"] = seed
    return out


def fill(writer: podsync.Writer, n1: int, n2: int) -> tuple[np.ndarray, np.ndarray]:
    """n1 entities (keys 3, 6, 9, ...) and n2 items (keys 1..n2), flushed."""
    k1 = np.arange(1, n1 + 1, dtype=np.uint64) * np.uint64(3)
    k2 = np.arange(1, n2 + 1, dtype=np.uint64)
    writer.put_many(1, k1, entities(k1))
    writer.put_many(2, k2, items(k2))
    writer.flush()
    return k1, k2


def full_state(store: podsync.Store) -> dict[int, dict[int, bytes]]:
    return {1: state(store, 1), 2: state(store, 2)}


def put_count(chunk: bytes) -> int:
    return sum(s.put_count for s in podsync.sections(chunk))


def apply_all(replica: podsync.Replica, chunks: Sequence[podsync.Frame]) -> list[podsync.ApplyResult]:
    return [replica.apply(c) for c in chunks]


# --- streaming while writing ---------------------------------------------------------------------


def test_a_snapshot_streams_in_chunks_while_the_writer_keeps_writing_and_flushing(schema: podsync.Schema) -> None:
    """50,000 records in 2 tables, 16 KiB chunks; the writer changes and flushes between chunks.
    The replica stages every chunk but the last, its visible state unchanged; the last switches it
    to the writer's state AT THE SNAPSHOT'S VERSION (copy-on-write); the deltas flushed meanwhile
    then bring it to the writer's current state."""
    with podsync.Writer(schema, manual_clock=True) as writer, podsync.Replica(schema) as replica:
        # The replica follows the stream at version 1 (100 entities), then misses what follows.
        first = np.arange(1, 101, dtype=np.uint64) * np.uint64(3)
        writer.put_many(1, first, entities(first, seed=7))
        for f in writer.flush():
            assert replica.apply(f) == OK
        visible = full_state(replica)
        visible_digest, visible_version = replica.digest(), replica.version
        assert visible_version == 1 and len(visible[1]) == 100

        k1, k2 = fill(writer, 30000, 20000)
        assert writer.count(1) + writer.count(2) == 50000
        expected = full_state(writer)
        expected_digest, snapshot_version = writer.digest(), writer.version
        stream_id = writer.info().stream_id

        deltas: list[bytes] = []
        results: list[podsync.ApplyResult] = []
        infos: list[podsync.FrameInfo] = []
        rng = np.random.default_rng(5)
        held_while_streaming = 0
        records_in_chunks = 0
        with writer.snapshot_chunks(16384) as snap:
            assert (snap.state_version, snap.stream_id, snap.term) == (snapshot_version, stream_id, 0)
            assert snap.snapshot_id != 0 and not snap.closed and not snap.finished
            start = snap.position()
            assert start == podsync.ChunkPosition(stream_id, snap.snapshot_id, snapshot_version, 0, 0, 0)
            assert replica.staging() is None
            for index, chunk in enumerate(snap):
                assert type(chunk) is bytes and len(chunk) <= 16384
                info = podsync.validate(chunk)
                infos.append(info)
                assert info.format_version == 2 and info.is_chunk and info.is_snapshot and info.has_digest
                assert (info.chunk_index, info.snapshot_id, info.state_version) == (index, snap.snapshot_id, snapshot_version)
                assert (info.stream_id, info.state_digest, info.base_version, info.term) == (stream_id, expected_digest, 0, 0)
                if index:
                    prev = infos[-2]
                    assert (info.chunk_start_table, info.chunk_start_key) == (prev.chunk_end_table, prev.chunk_end_key)
                else:
                    assert (info.chunk_start_table, info.chunk_start_key) == (0, 0)
                records_in_chunks += put_count(chunk)
                results.append(replica.apply(chunk))
                if not info.is_last_chunk:
                    # Staged: the visible state is exactly what it was.
                    assert results[-1] == STAGED
                    assert (replica.version, replica.digest()) == (visible_version, visible_digest)
                    assert (replica.count(1), replica.count(2)) == (100, 0)
                    # The producer's next position is what the receiver expects next.
                    nxt = replica.staging()
                    assert nxt == snap.position()
                    assert nxt == podsync.ChunkPosition(
                        stream_id, snap.snapshot_id, snapshot_version, index + 1, info.chunk_end_table, info.chunk_end_key
                    )
                    if index in (1, 40):
                        assert full_state(replica) == visible
                # The writer keeps writing between chunks: records the snapshot still has to send
                # change or go, new ones come, and every change is flushed.
                changed = rng.choice(k1, 40, replace=False)
                writer.put_many(1, changed, entities(changed, seed=100 + index))
                writer.delete_many(2, rng.choice(k2, 20, replace=False))
                writer.put(2, 1_000_000 + index, items(np.array([index], np.uint64), seed=index)[0])
                deltas.extend(writer.flush(copy=True))  # type: ignore[arg-type]
                held_while_streaming = max(held_while_streaming, int(writer.metrics()["snapshot_bytes_held"]))  # type: ignore[call-overload]
            assert snap.finished and snap.closed  # the iteration's end freed the handle
            assert snap.position().chunk_index == len(infos)
        n = len(infos)
        assert n > 50 and results == [STAGED] * (n - 1) + [OK]
        last = infos[-1]
        assert last.is_last_chunk and last.chunk_record_count == records_in_chunks == 50000
        # The switch: the writer's state at the snapshot's version, not its current one.
        assert replica.version == snapshot_version and replica.digest() == expected_digest != writer.digest()
        assert full_state(replica) == expected
        assert replica.staging() is None
        # Then the deltas flushed while the snapshot streamed: ordinary frames, not chunks, in the
        # default format (2 since library 0.8.0).
        delta_infos = [podsync.peek(d) for d in deltas]
        assert len(deltas) == n and all(i.format_version == 2 and not i.is_chunk for i in delta_infos)
        assert [replica.apply(d) for d in deltas] == [OK] * n
        assert replica.version == writer.version and replica.digest() == writer.digest()
        assert full_state(replica) == full_state(writer)
        # Metrics: chunks counted on both sides; copy-on-write memory held only while streaming.
        wm, rm = writer.metrics(), replica.metrics()
        assert wm["chunks_out"] == n and rm["chunks_staged"] == n - 1 and rm["chunk_gaps"] == 0
        assert held_while_streaming > 0 and wm["snapshot_bytes_held"] == 0
        assert rm["staging_bytes_held"] == 0 and rm["resyncs"] == 1


def test_chunks_are_copies_that_outlive_the_next_chunk_and_the_snapshot(writer: podsync.Writer) -> None:
    fill(writer, 2000, 0)
    snap = writer.snapshot_chunks(podsync.MIN_CHUNK_BYTES * 4)
    first = next(snap)
    kept = bytes(first)
    rest = list(snap)
    del snap
    gc.collect()
    assert first == kept and podsync.validate(first).chunk_index == 0
    assert [podsync.validate(c).chunk_index for c in rest] == list(range(1, len(rest) + 1))


# --- positions, gaps and resume ------------------------------------------------------------------


def test_a_lost_chunk_is_a_gap_and_the_writer_resumes_from_the_replicas_staging(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as writer, podsync.Replica(schema) as replica:
        fill(writer, 3000, 1000)
        snap = writer.snapshot_chunks(4096)
        c0, c1, c2 = next(snap), next(snap), next(snap)
        assert replica.apply(c0) == STAGED
        # c1 is lost: c2 is ahead of what the replica expects.
        assert replica.apply(c2) == GAP
        assert (replica.version, replica.digest(), replica.count(1)) == (0, 0, 0)
        assert replica.apply(c0) == DUPLICATE  # a repeated chunk
        pos = replica.staging()
        i1 = podsync.peek(c1)
        assert pos is not None and pos.chunk_index == 1 and pos.snapshot_id == snap.snapshot_id
        assert (pos.start_table, pos.start_key) == (i1.chunk_start_table, i1.chunk_start_key)
        assert (pos.stream_id, pos.state_version, pos.term) == (writer.info().stream_id, writer.version, 0)
        assert replica.metrics()["chunk_gaps"] == 1
        # The producer keeps the snapshot alive and flushes meanwhile: resumed from its image.
        writer.put(1, 3, entities([3], seed=9)[0])
        writer.flush()
        resumed = writer.snapshot_resume(pos, 4096)
        assert resumed.snapshot_id == snap.snapshot_id and resumed.position() == pos
        chunks = list(resumed)
        assert podsync.peek(chunks[0]).chunk_index == 1
        assert apply_all(replica, chunks) == [STAGED] * (len(chunks) - 1) + [OK]
        assert replica.version == writer.version - 1 == snap.state_version
        snap.close()
        # The delta of the flush made meanwhile brings it level.
        for f in writer.delta_since(replica.version):
            assert replica.apply(f) == OK
        assert replica.digest() == writer.digest()


def test_resume_from_the_state_after_the_snapshot_was_closed(schema: podsync.Schema) -> None:
    """No live snapshot, but the writer is still at that version (pending writes do not count):
    the snapshot is rebuilt under the same id and finishes."""
    with podsync.Writer(schema) as writer, podsync.Replica(schema) as replica:
        fill(writer, 3000, 0)
        with writer.snapshot_chunks(4096) as snap:
            assert replica.apply(next(snap)) == STAGED
            assert replica.apply(next(snap)) == STAGED
        assert snap.closed and not snap.finished
        assert snap.position().chunk_index == 2  # where it stopped
        with pytest.raises(podsync.ClosedError):
            next(snap)
        writer.put(1, 3, entities([3], seed=4)[0])  # pending, not flushed
        pos = replica.staging()
        assert pos is not None and pos.chunk_index == 2
        with writer.snapshot_resume(pos) as resumed:  # max_chunk_bytes 0: the store's max_frame_bytes
            chunks = list(resumed)
        assert len(chunks) == 1 and podsync.peek(chunks[0]).is_last_chunk
        assert replica.apply(chunks[0]) == OK
        assert replica.version == writer.version and replica.digest() == writer.digest()


def test_resume_after_the_writer_flushed_and_the_snapshot_was_closed_is_expired(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as writer, podsync.Replica(schema) as replica:
        fill(writer, 3000, 0)
        with writer.snapshot_chunks(4096) as snap:
            assert replica.apply(next(snap)) == STAGED
        writer.put(1, 3, entities([3], seed=4)[0])
        writer.flush()
        pos = replica.staging()
        assert pos is not None
        with pytest.raises(podsync.SnapshotExpired) as exc:
            writer.snapshot_resume(pos)
        err = exc.value
        assert err.status == podsync.Status.E_SNAPSHOT_EXPIRED == -24
        assert err.status_name == "PODSYNC_E_SNAPSHOT_EXPIRED" and err.call == "podsync_snapshot_resume"
        assert "no longer held" in err.message and isinstance(err, LookupError)
        # A term this library never wrote is expired too.
        with pytest.raises(podsync.SnapshotExpired):
            writer.snapshot_resume(dataclasses.replace(pos, term=1))
        # A new snapshot's chunk 0 replaces the staging and finishes.
        with writer.snapshot_chunks(4096) as fresh:
            results = apply_all(replica, list(fresh))
        assert results[-1] == OK and set(results[:-1]) == {STAGED}
        assert replica.version == writer.version and replica.digest() == writer.digest()


MASK64 = (1 << 64) - 1


def seed(table: int, key: int) -> int:
    """docs/FORMAT.md's seed(t, k): fmix64(k XOR t * 0x9E3779B97F4A7C15), the order of chunks."""
    x = key ^ ((table * 0x9E3779B97F4A7C15) & MASK64)
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    return x ^ (x >> 33)


def test_positions_and_chunk_fields(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as writer:
        k1, k2 = fill(writer, 500, 600)
        total = len(k1) + len(k2)
        snap = writer.snapshot_chunks(podsync.MIN_CHUNK_BYTES * 2)
        positions, infos, counts = [], [], []
        while True:
            positions.append(snap.position())
            try:
                chunk = next(snap)
            except StopIteration:
                break
            infos.append(podsync.validate(chunk))
            counts.append(put_count(chunk))
        n = len(infos)
        assert n > 4 and sum(counts) == total == infos[-1].chunk_record_count
        for i, (pos, info) in enumerate(zip(positions, infos)):
            assert pos.chunk_index == info.chunk_index == i
            assert (pos.start_table, pos.start_key) == (info.chunk_start_table, info.chunk_start_key)
            assert pos.snapshot_id == info.snapshot_id == snap.snapshot_id
            assert info.frame_length <= podsync.MIN_CHUNK_BYTES * 2
            if i < n - 1:
                assert not info.is_last_chunk and info.chunk_flags == 0 and info.chunk_record_count == 0
                # (end_table, end_key) is the first key of the next chunk: after the start
                assert (info.chunk_end_table, info.chunk_end_key) > (info.chunk_start_table, info.chunk_start_key)
            else:
                assert info.is_last_chunk and info.chunk_flags == podsync.CHUNK_LAST
        assert (infos[0].chunk_start_table, infos[0].chunk_start_key) == (0, 0)
        assert positions[-1].chunk_index == n and snap.position() == positions[-1]
        # Each chunk ends where the next position starts.
        for chunk_info, pos_next in zip(infos[:-1], positions[1:]):
            assert (chunk_info.chunk_end_table, chunk_info.chunk_end_key) == (pos_next.start_table, pos_next.start_key)
        with pytest.raises(StopIteration):
            next(snap)  # exhausted stays exhausted
        # Ranges ascend by (table, seed(t, k)), the keys of each chunk inside its range (in seed
        # order, as this writer sends them), all keys once.
        everything: list[tuple[int, int]] = []
        for chunk in writer.snapshot_chunks(podsync.MIN_CHUNK_BYTES * 2):
            info = podsync.peek(chunk)
            end = (info.chunk_end_table, info.chunk_end_key) if not info.is_last_chunk else (1 << 32, 0)
            keys = [(s.table_id, seed(s.table_id, int(k))) for s in podsync.sections(chunk) for k in s.put_keys]
            assert keys == sorted(keys) and all((info.chunk_start_table, info.chunk_start_key) <= k < end for k in keys)
            everything += keys
        assert everything == sorted([(1, seed(1, int(k))) for k in k1] + [(2, seed(2, int(k))) for k in k2])
        # A position pickles and compares by value (to send it to the producer's process).
        assert pickle.loads(pickle.dumps(positions[2])) == positions[2]


# --- bad input -----------------------------------------------------------------------------------


def test_chunks_of_two_snapshots_interleaved(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as writer, podsync.Replica(schema) as replica:
        fill(writer, 2000, 0)
        a = list(writer.snapshot_chunks(4096))
        b = list(writer.snapshot_chunks(4096))
        ida, idb = podsync.peek(a[0]).snapshot_id, podsync.peek(b[0]).snapshot_id
        assert ida != idb and len(a) == len(b) > 3
        assert replica.apply(a[0]) == STAGED
        # A later chunk of a snapshot the replica did not start: a gap, nothing changes.
        assert replica.apply(b[1]) == GAP
        pos = replica.staging()
        assert pos is not None and (pos.snapshot_id, pos.chunk_index) == (ida, 1)
        # Chunk 0 of the other snapshot (same version) replaces the unfinished one.
        assert replica.apply(b[0]) == STAGED
        pos = replica.staging()
        assert pos is not None and (pos.snapshot_id, pos.chunk_index) == (idb, 1)
        assert replica.apply(a[1]) == GAP  # A is no longer staged
        assert replica.count(1) == 0 and replica.version == 0
        assert apply_all(replica, b[1:]) == [STAGED] * (len(b) - 2) + [OK]
        assert replica.digest() == writer.digest()
        # A chunk of the snapshot just completed: the replica already has that version.
        assert replica.apply(a[2]) == DUPLICATE


def test_a_chunk_of_an_older_snapshot_is_stale(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as writer, podsync.Replica(schema) as replica:
        fill(writer, 2000, 0)
        old = writer.snapshot_chunks(4096)
        old_first = next(old)
        writer.put(1, 3, entities([3], seed=1)[0])
        writer.flush()
        new = list(writer.snapshot_chunks(4096))
        assert replica.apply(new[0]) == STAGED
        assert replica.apply(next(old)) == STALE  # chunk 1 of an older version
        assert replica.apply(old_first) == STALE  # chunk 0 of an older version replaces nothing
        assert replica.staging().snapshot_id == podsync.peek(new[0]).snapshot_id  # type: ignore[union-attr]
        assert apply_all(replica, new[1:])[-1] == OK
        assert replica.digest() == writer.digest()
        old.close()


def test_a_chunk_that_contradicts_the_staged_ones_is_a_chunk_mismatch(schema: podsync.Schema) -> None:
    """A resume from a forged position (another start key) makes a chunk that does not start where
    the staged chunks end: ChunkMismatch, the staging dropped, the visible state unchanged."""
    with podsync.Writer(schema) as writer, podsync.Replica(schema) as replica:
        fill(writer, 2000, 0)
        snap = writer.snapshot_chunks(4096)
        assert replica.apply(next(snap)) == STAGED
        pos = replica.staging()
        assert pos is not None
        forged = writer.snapshot_resume(dataclasses.replace(pos, start_key=pos.start_key + 6), 4096)
        bad = next(forged)
        assert podsync.peek(bad).chunk_start_key == pos.start_key + 6  # it starts where it was asked
        with pytest.raises(podsync.ChunkMismatch) as exc:
            replica.apply(bad)
        assert exc.value.status == podsync.Status.E_CHUNK_MISMATCH == -29
        assert "dropped" in exc.value.message and not isinstance(exc.value, podsync.FrameError)
        assert replica.staging() is None and (replica.version, replica.digest(), replica.count(1)) == (0, 0, 0)
        assert replica.metrics()["rejects"] == {"PODSYNC_E_CHUNK_MISMATCH": 1}
        # The rest of the original snapshot no longer continues anything: a gap.
        assert replica.apply(next(snap)) == GAP
        forged.close()
        snap.close()


def test_bad_arguments(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as writer:
        fill(writer, 10, 0)
        with pytest.raises(podsync.InvalidArgument, match=str(podsync.MIN_CHUNK_BYTES)):
            writer.snapshot_chunks(podsync.MIN_CHUNK_BYTES - 1)
        with pytest.raises(OverflowError):
            writer.snapshot_chunks(-1)
        with pytest.raises(TypeError):
            writer.snapshot_chunks(4096.0)  # type: ignore[arg-type]
        with pytest.raises(podsync.ArgumentTypeError):
            writer.snapshot_resume((1, 2, 3))  # type: ignore[arg-type]
        pos = podsync.ChunkPosition(writer.info().stream_id, 0, writer.version, 0, 0, 0)
        with pytest.raises(podsync.InvalidArgument, match="snapshot id 0"):
            writer.snapshot_resume(pos)
        with pytest.raises(podsync.OutOfRangeError, match="start_table"):
            writer.snapshot_resume(dataclasses.replace(pos, snapshot_id=1, start_table=1 << 32))
        with pytest.raises(podsync.OutOfRangeError, match="chunk_index"):
            writer.snapshot_resume(dataclasses.replace(pos, snapshot_id=1, chunk_index=-1))
        # A snapshot that never produced a chunk is freed by close, by `with` and by gc.
        before = writer.metrics()["snapshot_bytes_held"]
        snap = writer.snapshot_chunks()
        assert writer.metrics()["snapshot_bytes_held"] > before == 0  # type: ignore[operator]
        del snap
        gc.collect()
        assert writer.metrics()["snapshot_bytes_held"] == 0
        snap = writer.snapshot_chunks()
        snap.close()
        snap.close()  # idempotent
        assert writer.metrics()["snapshot_bytes_held"] == 0 and "closed" in repr(snap)
    with pytest.raises(podsync.ClosedError):
        writer.snapshot_chunks()
    with pytest.raises(podsync.ClosedError):
        writer.staging()


def test_the_snapshot_keeps_its_store_alive(schema: podsync.Schema) -> None:
    writer = podsync.Writer(schema)
    fill(writer, 2000, 100)
    digest, version = writer.digest(), writer.version
    snap = writer.snapshot_chunks(4096)
    first = next(snap)
    writer.close()
    del writer
    gc.collect()
    rest = list(snap)
    with podsync.Replica(schema) as replica:
        assert apply_all(replica, [first, *rest])[-1] == OK
        assert (replica.version, replica.digest()) == (version, digest)


def test_a_replica_streams_its_state_to_another_replica(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as writer, podsync.Replica(schema) as r1, podsync.Replica(schema) as r2:
        fill(writer, 1000, 1000)
        assert [r1.apply(f) for f in writer.catch_up(0)] == [OK]
        assert r1.digest() == writer.digest() and r1.staging() is None
        with r1.snapshot_chunks(4096) as snap:
            assert snap.stream_id == writer.info().stream_id and snap.state_version == writer.version
            assert apply_all(r2, list(snap))[-1] == OK
        assert r2.digest() == writer.digest() and full_state(r2) == full_state(writer)


def test_a_replicas_snapshot_survives_applied_deltas_and_expires_when_its_state_is_replaced(
    schema: podsync.Schema,
) -> None:
    with podsync.Writer(schema) as writer, podsync.Writer(schema) as other, podsync.Replica(
        schema
    ) as source, podsync.Replica(schema) as target:
        k1, _ = fill(writer, 3000, 0)
        for f in writer.catch_up(0):
            source.apply(f)
        version, digest, expected = source.version, source.digest(), full_state(source)
        snap = source.snapshot_chunks(4096)
        first = next(snap)
        # Deltas applied to the source change records the snapshot has not sent yet.
        writer.put_many(1, k1[-500:], entities(k1[-500:], seed=77))
        writer.delete_many(1, k1[-600:-500])
        for f in writer.flush():
            assert source.apply(f) == OK
        assert source.digest() != digest
        assert apply_all(target, [first, *snap])[-1] == OK
        assert (target.version, target.digest()) == (version, digest) and full_state(target) == expected
        # A snapshot of another stream replaces the source's state: its open snapshot expires.
        other.put(1, 5, entities([5])[0])
        other.flush()
        snap = source.snapshot_chunks(4096)
        next(snap)
        for f in other.snapshot():
            assert source.apply(f) == OK
        with pytest.raises(podsync.SnapshotExpired) as exc:
            next(snap)
        assert exc.value.call == "podsync_snapshot_next" and "replaced" in exc.value.message
        assert not snap.closed and snap.position().chunk_index == 1  # open until closed
        snap.close()


# --- fill in place -------------------------------------------------------------------------------


def test_fill_in_place_replica_fills_its_tables_as_chunks_arrive(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as writer, podsync.Replica(schema, fill_in_place=True) as late, podsync.Replica(
        schema
    ) as staged:
        fill(writer, 3000, 2000)
        seen: list[int] = []
        received = 0
        chunks = list(writer.snapshot_chunks(8192))
        for chunk in chunks[:-1]:
            received += put_count(chunk)
            assert late.apply(chunk) == STAGED and staged.apply(chunk) == STAGED
            # In place: the records are there already, at version 0; staged: nothing visible.
            assert late.count(1) + late.count(2) == received and late.version == 0
            assert staged.count(1) + staged.count(2) == 0 and staged.version == 0
            assert late.metrics()["staging_bytes_held"] == 0 < staged.metrics()["staging_bytes_held"]  # type: ignore[operator]
            seen.append(received)
        assert seen == sorted(seen) and len(set(seen)) == len(seen)  # the tables grew with each chunk
        assert late.apply(chunks[-1]) == OK and staged.apply(chunks[-1]) == OK
        assert late.version == staged.version == writer.version
        assert late.digest() == staged.digest() == writer.digest()
        assert full_state(late) == full_state(writer)
        # A chunk that contradicts the ones filled in: the tables go back to empty.
        with podsync.Replica(schema, fill_in_place=True) as r:
            assert r.apply(chunks[0]) == STAGED and r.count(1) > 0
            pos = r.staging()
            assert pos is not None
            with writer.snapshot_resume(dataclasses.replace(pos, start_key=pos.start_key + 3), 8192) as forged:
                with pytest.raises(podsync.ChunkMismatch):
                    r.apply(next(forged))
            assert (r.count(1), r.count(2), r.digest(), r.version, r.staging()) == (0, 0, 0, 0, None)
        # A replica that already holds a state stages even with fill_in_place.
        writer.put(1, 3, entities([3], seed=2)[0])
        writer.flush()
        before = (late.count(1), late.digest())
        again = list(writer.snapshot_chunks(8192))
        assert late.apply(again[0]) == STAGED and (late.count(1), late.digest()) == before
        assert late.metrics()["staging_bytes_held"] > 0  # type: ignore[operator]


# --- podsync_store_snapshot cut into chunks ------------------------------------------------------


@pytest.mark.parametrize("copy", [False, True])
def test_store_snapshot_with_a_small_max_frame_bytes_returns_chunks(schema: podsync.Schema, copy: bool) -> None:
    with podsync.Writer(schema, max_frame_bytes=4096) as writer, podsync.Replica(schema) as replica:
        fill(writer, 2000, 500)
        frames = writer.snapshot(copy=copy)
        infos = [podsync.peek(f) for f in frames]
        assert len(frames) > 10 and all(i.is_chunk and i.frame_length <= 4096 for i in infos)
        assert [i.chunk_index for i in infos] == list(range(len(frames)))
        assert len({i.snapshot_id for i in infos}) == 1 and infos[-1].is_last_chunk
        assert infos[-1].chunk_record_count == 2500
        assert apply_all(replica, frames) == [STAGED] * (len(frames) - 1) + [OK]
        assert replica.digest() == writer.digest() and full_state(replica) == full_state(writer)
        assert writer.metrics()["chunks_out"] == len(frames)
        # catch_up(0) is a snapshot too; a store whose state fits sends one frame, not a chunk.
        assert all(podsync.peek(f).is_chunk for f in writer.catch_up(0))
    # A snapshot that fits is one frame of the writer's format (2 by default since library 0.8.0),
    # not a chunk: a writer pinned to format 1 sends it in format 1.
    for fmt in (None, 1):
        with podsync.Writer(schema, frame_format=fmt) as small:
            fill(small, 10, 10)
            (one,) = small.snapshot()
            info = podsync.peek(one)
            assert info.is_snapshot and not info.is_chunk and info.format_version == (fmt or 2)


# --- frame format 2 ------------------------------------------------------------------------------


def test_a_format_2_writer_writes_compact_frames_that_replicas_apply(schema: podsync.Schema) -> None:
    """frame_format 2, and the default (None, or 0) since library 0.8.0: compact format-2 headers;
    frame_format 1: the 88-byte header of format 1."""
    with podsync.Writer(schema, frame_format=2) as w2, podsync.Writer(schema, frame_format=1) as w1, podsync.Writer(
        schema, frame_format=0
    ) as w0, podsync.Writer(schema) as wd, podsync.Replica(schema) as replica:
        sizes: dict[int | None, list[int]] = {None: [], 0: [], 1: [], 2: []}
        for tick in range(4):
            keys = np.arange(1 + tick, 6 + tick, dtype=np.uint64)
            for fmt, w in ((None, wd), (0, w0), (1, w1), (2, w2)):
                w.put_many(1, keys, entities(keys, seed=tick))
                if tick:
                    w.delete(1, tick)
                frames = w.flush(copy=True)
                for f in frames:
                    info = podsync.validate(f)
                    assert info.format_version == (1 if fmt == 1 else 2)
                    if fmt == 1:
                        assert info.header_length == podsync.FRAME_HEADER_SIZE == 88
                    else:
                        assert 40 <= info.header_length < 88
                    sizes[fmt].append(len(f))
                if fmt == 2:
                    assert all(podsync.peek(f).header_length < 88 for f in frames)
                    assert [replica.apply(f) for f in frames] == [OK] * len(frames)
                    assert replica.digest() == w2.digest()
        assert sizes[None] == sizes[0] == sizes[2] and all(a < b for a, b in zip(sizes[2], sizes[1]))
        # Sections of a format-2 frame read in place like those of format 1.
        w2.put(2, 9, items(np.array([9], np.uint64), seed=3)[0])
        (frame,) = w2.flush(copy=True)
        (sec,) = podsync.sections(frame, w2.schema())
        assert (sec.table_id, sec.put_keys.tolist(), int(sec.records["b"][0])) == (2, [9], 3)
        assert replica.apply(frame) == OK
        # Deltas and snapshots it serves are format 2 as well; so are a replica's, if asked.
        assert podsync.peek(w2.delta_since(1)[0]).format_version == 2
        assert podsync.peek(w2.snapshot()[0]).format_version == 2
        with podsync.Replica(schema, frame_format=2) as r2, podsync.Replica(schema, frame_format=1) as r1, podsync.Replica(
            schema
        ) as r0:
            for f in w2.snapshot(copy=True):
                r2.apply(f)
                r1.apply(f)
                r0.apply(f)
            assert podsync.peek(r2.snapshot()[0]).format_version == 2
            assert podsync.peek(r1.snapshot()[0]).format_version == 1
            assert podsync.peek(r0.snapshot()[0]).format_version == 2  # the default since library 0.8.0
    with pytest.raises(podsync.InvalidArgument, match="frame format 3"):
        podsync.Writer(schema, frame_format=3)
    with pytest.raises(OverflowError):
        podsync.Writer(schema, frame_format=-1)


def test_peek_of_the_prefix_names_the_header_length(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, frame_format=2, frame_digest=False) as w2, podsync.Writer(schema, frame_format=1) as w1:
        (short,) = w2.snapshot(copy=True)  # the empty state: a 40-byte frame
        (long,) = w1.snapshot(copy=True)
        assert len(short) == 40 < podsync.FRAME_HEADER_SIZE == len(long)
        for frame, fmt, header in ((short, 2, 40), (long, 1, 88)):
            with pytest.raises(podsync.FrameTruncated) as exc:
                podsync.peek(frame[: podsync.FRAME_PREFIX_SIZE])
            info = exc.value.frame_info
            assert info is not None and (info.format_version, info.header_length, info.frame_length) == (fmt, header, 0)
            assert podsync.peek(frame[:header]).frame_length == len(frame)
        with pytest.raises(podsync.FrameTruncated) as exc:
            podsync.peek(short[:4])  # not even the prefix: nothing to tell
        assert exc.value.frame_info is None


def mixed_stream(schema: podsync.Schema) -> tuple[list[bytes], podsync.Writer, podsync.Writer]:
    """Frames of a format-1 writer, then of a format-2 writer that takes over: its empty snapshot
    (48 bytes), a delta of one small record, a delete, the snapshot of the emptied state (48 bytes
    again), and a chunked snapshot of a bigger state."""
    a = podsync.Writer(schema, frame_format=1)
    b = podsync.Writer(schema, frame_format=2)
    frames: list[bytes] = []
    keys = np.arange(1, 50, dtype=np.uint64)
    a.put_many(1, keys, entities(keys))
    frames += a.flush(copy=True)  # type: ignore[arg-type]
    a.delete(1, 1)
    frames += a.flush(copy=True)  # type: ignore[arg-type]
    frames += b.snapshot(copy=True)  # type: ignore[arg-type]
    b.put(2, 5, items(np.array([5], np.uint64))[0])
    frames += b.flush(copy=True)  # type: ignore[arg-type]
    b.delete(2, 5)
    frames += b.flush(copy=True)  # type: ignore[arg-type]
    frames += b.snapshot(copy=True)  # type: ignore[arg-type]
    k = np.arange(1, 400, dtype=np.uint64)
    b.put_many(1, k, entities(k, seed=1))
    frames += b.flush(copy=True)  # type: ignore[arg-type]
    frames += list(b.snapshot_chunks(4096))
    return frames, a, b


def test_read_frames_over_a_stream_of_mixed_formats(schema: podsync.Schema) -> None:
    frames, a, b = mixed_stream(schema)
    with a, b, podsync.Replica(schema) as replica:
        formats = [podsync.peek(f).format_version for f in frames]
        assert formats[:2] == [1, 1] and set(formats[2:]) == {2}
        assert min(len(f) for f in frames) == 48 < podsync.FRAME_HEADER_SIZE
        data = b"".join(frames)
        got = list(podsync.read_frames(io.BytesIO(data)))
        assert [bytes(f) for f in got] == frames

        class Dribble:  # read(n) only, at most 5 bytes at a time
            def __init__(self, data: bytes) -> None:
                self.data, self.pos = data, 0

            def read(self, n: int) -> bytes:
                out = self.data[self.pos : self.pos + min(n, 5)]
                self.pos += len(out)
                return out

        assert [bytes(f) for f in podsync.read_frames(Dribble(data))] == frames

        async def main() -> list[bytes]:
            reader = asyncio.StreamReader()
            for i in range(0, len(data), 29):
                reader.feed_data(data[i : i + 29])
            reader.feed_eof()
            return [f async for f in podsync.aread_frames(reader)]

        assert asyncio.run(main()) == frames
        # Every frame applies: writer b's first snapshot takes the replica over from writer a's stream.
        results = [replica.apply(f) for f in got]
        chunks = sum(podsync.peek(f).is_chunk for f in frames)
        assert results == [OK] * 5 + [DUPLICATE, OK] + [DUPLICATE] * chunks
        assert replica.digest() == b.digest() and replica.info().stream_id == b.info().stream_id


def test_read_frames_stops_where_a_short_frame_ends(schema: podsync.Schema) -> None:
    """A 48-byte frame followed by nothing, or cut inside its header or body."""
    frames, a, b = mixed_stream(schema)
    with a, b:
        short = frames[2]
        assert len(short) == 48 and podsync.peek(short).header_length == 48
        stream = io.BytesIO(short)
        assert [bytes(f) for f in podsync.read_frames(stream)] == [short] and stream.tell() == 48
        with pytest.raises(podsync.IncompleteFrame) as exc:
            list(podsync.read_frames(io.BytesIO(short[:30])))  # past the prefix, inside the header
        assert (exc.value.received, exc.value.expected) == (30, None) and "30 of 48 bytes" in str(exc.value)
        with pytest.raises(podsync.IncompleteFrame) as exc:
            list(podsync.read_frames(io.BytesIO(short[:10])))
        assert (exc.value.received, exc.value.expected) == (10, None) and "10 of 16 bytes" in str(exc.value)
        delta = frames[3]  # format 2, a header shorter than 88
        header = podsync.peek(delta).header_length
        with pytest.raises(podsync.IncompleteFrame) as exc:
            list(podsync.read_frames(io.BytesIO(short + delta[: header + 8])))
        assert (exc.value.received, exc.value.expected) == (header + 8, len(delta))
        # The limit applies to the header announced by the prefix, then to the frame.
        stream = io.BytesIO(short)
        with pytest.raises(podsync.FrameTooLarge, match="header is 48 bytes"):
            list(podsync.read_frames(stream, max_frame_bytes=40))
        assert stream.tell() == podsync.FRAME_PREFIX_SIZE
        stream = io.BytesIO(delta)
        with pytest.raises(podsync.FrameTooLarge, match=f"{len(delta)} bytes"):
            list(podsync.read_frames(stream, max_frame_bytes=len(delta) - 1))
        assert stream.tell() == header


def test_a_frame_with_an_unknown_critical_flag_is_frame_feature(schema: podsync.Schema, xxh3: XXH3) -> None:
    """Flags bits 5-7 of format 2 are reserved and critical: a frame (checksum recomputed, so it
    passes that check) with one of them set is refused with FrameFeature; bits 8-15 are ignored."""
    seeded = xxh3.lib.XXH3_64bits_withSeed
    seeded.restype, seeded.argtypes = ctypes.c_uint64, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]

    def reseal(frame: bytearray) -> bytes:
        seed = int.from_bytes(frame[:8], "little")
        frame[8:16] = int(seeded(bytes(frame[16:]), len(frame) - 16, seed)).to_bytes(8, "little")
        return bytes(frame)

    with podsync.Writer(schema, frame_format=2) as w, podsync.Replica(schema) as r:
        w.put(1, 1, entities([1])[0])
        (frame,) = w.flush(copy=True)
        assert reseal(bytearray(frame)) == frame  # the checksum as FORMAT.md specifies it
        flagged = bytearray(frame)
        flagged[6] |= 0x20
        bad = reseal(flagged)
        with pytest.raises(podsync.FrameFeature) as exc:
            podsync.validate(bad)
        assert exc.value.status == podsync.Status.E_FRAME_FEATURE == -28
        with pytest.raises(podsync.FrameFeature):
            r.apply(bad)
        assert (r.version, r.digest()) == (0, 0)
        hint = bytearray(frame)
        hint[7] |= 0x01  # bit 8: information a receiver may ignore
        assert r.apply(reseal(hint)) == OK and r.digest() == w.digest()
