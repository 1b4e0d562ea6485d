"""Writers and replicas: writes, bulk writes, reads, flush policy, info, lifetime."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import podsync
from _support import ENTITY, ITEM, entities, state


def sync(writer: podsync.Store, replica: podsync.Store) -> list[podsync.ApplyResult]:
    return [replica.apply(f) for f in writer.flush()]


def test_round_trip(writer: podsync.Writer, replica: podsync.Replica) -> None:
    recs = entities([1, 2, 3])
    assert writer.put_many(1, recs["id"].copy(), recs) is False
    writer.put(2, 7, np.array([(5, 6)], ITEM))
    assert writer.info().pending_changes == 4
    assert writer.version == 0
    assert sync(writer, replica) == [podsync.ApplyResult.OK]
    assert writer.version == replica.version == 1
    assert writer.digest() == replica.digest() != 0
    assert state(writer, 1) == state(replica, 1) and len(state(replica, 1)) == 3
    rec = replica.get(1, 2)
    assert rec is not None and rec["id"] == 2 and list(rec["pos"]) == [2.0, 4.0, 6.0]
    assert replica.get(2, 7)["b"] == 6  # type: ignore[index]
    assert replica.get(1, 99) is None
    assert (1, 3) in replica and (1, 4) not in replica
    assert replica.count(1) == 3 and replica.count(2) == 1
    info = replica.info()
    assert info.role == podsync.Role.REPLICA and info.stream_id == writer.info().stream_id
    assert info.state_version == 1 and info.sequence == 1 and not info.diverged
    assert info.table_count == 2 and info.schema_hash == writer.schema().hash


def test_put_accepts_every_record_form(writer: podsync.Writer) -> None:
    class Entity(ctypes.Structure):
        _fields_ = [("id", ctypes.c_uint64), ("pos", ctypes.c_float * 3), ("rot", ctypes.c_float * 4), ("flags", ctypes.c_uint32)]

    recs = entities([1, 2, 3, 4, 5, 6])
    writer.put(1, 1, recs[0])  # np.void from a structured array
    writer.put(1, 2, recs[1:2])  # 1-element array
    writer.put(1, 3, recs[2].tobytes())  # bytes
    writer.put(1, 4, bytearray(recs[3].tobytes()))  # bytearray
    writer.put(1, 5, memoryview(recs[4].tobytes()))  # memoryview
    e = Entity(6, (6.0, 12.0, 18.0), (0, 0, 0, 1), 6)
    writer.put(1, 6, e)  # ctypes structure
    writer.flush()
    for i in range(6):
        got = writer.get(1, i + 1)
        assert got is not None and got.tobytes() == recs[i].tobytes()


def test_get_returns_a_read_only_copy(writer: podsync.Writer) -> None:
    writer.put_many(1, np.array([1], np.uint64), entities([1]))
    rec = writer.get(1, 1)
    assert rec is not None
    with pytest.raises((ValueError, TypeError)):
        rec["flags"] = 5  # read-only
    writer.put_many(1, np.array([1], np.uint64), entities([1], seed=9))  # allowed: rec is a copy
    assert rec["flags"] == 1 and writer.get(1, 1)["flags"] == 10  # type: ignore[index]


def test_coalescing_and_deletes(writer: podsync.Writer, replica: podsync.Replica) -> None:
    writer.put_many(1, np.array([1, 2, 3], np.uint64), entities([1, 2, 3]))
    writer.put(1, 2, entities([2], seed=5)[0])  # last value wins
    assert writer.delete(1, 3) is True  # created and deleted in one batch: not sent
    assert writer.delete(1, 3) is False  # NOT_FOUND
    assert writer.info().pending_changes == 2
    sync(writer, replica)
    assert sorted(state(replica, 1)) == [1, 2]
    assert replica.get(1, 2)["flags"] == 7  # type: ignore[index]
    assert writer.delete_many(1, np.array([1, 2, 99], np.uint64)) == 2
    assert writer.delete_many(1, [1]) == 0
    sync(writer, replica)
    assert replica.count(1) == 0 and writer.digest() == replica.digest() == 0


def test_put_many_duplicate_keys_later_wins(writer: podsync.Writer) -> None:
    writer.put_many(1, np.array([4, 4], np.uint64), np.concatenate([entities([4]), entities([4], seed=1)]))
    assert writer.get(1, 4)["flags"] == 5  # type: ignore[index]


def test_put_many_validation(writer: podsync.Writer) -> None:
    keys = np.arange(1, 5, dtype=np.uint64)
    recs = entities(keys)
    with pytest.raises(TypeError, match="integers"):
        writer.put_many(1, keys.astype(np.float64), recs)  # float keys: refused, never truncated
    with pytest.raises(ValueError, match="C-contiguous"):
        writer.put_many(1, np.arange(1, 9, dtype=np.uint64)[::2], recs)
    with pytest.raises(ValueError, match="C-contiguous"):
        writer.put_many(1, keys, entities(np.arange(8))[::2])
    with pytest.raises(ValueError, match="4 keys"):
        writer.put_many(1, keys, recs[:3])
    with pytest.raises(podsync.RecordSizeError) as info:
        writer.put_many(1, keys, np.zeros(4, ITEM))  # 8-byte records for a 40-byte table
    assert info.value.status == podsync.Status.E_RECORD_SIZE
    with pytest.raises(podsync.RecordSizeError):
        writer.put_many(1, keys, bytes(40 * 4 - 1))
    with pytest.raises(podsync.UnknownTable):
        writer.put_many(42, keys, recs)
    assert writer.info().pending_changes == 0 and writer.count(1) == 0  # nothing written
    # other accepted shapes: (n, record_size) bytes, any dtype of the right itemsize, bytes
    writer.put_many(1, keys, recs.view(np.uint8).reshape(4, 40))
    writer.put_many(1, keys, recs.view("V40"))
    writer.put_many(1, [10, 11], recs[:2].tobytes())
    writer.put_many(1, np.array([], np.uint64), np.zeros(0, ENTITY))  # empty is fine
    assert writer.count(1) == 6
    assert writer.put_many(1, keys, recs) is False


def test_put_many_does_not_copy_or_modify_inputs(writer: podsync.Writer) -> None:
    keys = np.arange(1, 1001, dtype=np.uint64)
    recs = entities(keys)
    before = recs.copy()
    keys.flags.writeable = False
    recs.flags.writeable = False  # read-only inputs are accepted (read in place)
    writer.put_many(1, keys, recs)
    assert np.array_equal(recs, before)
    with writer.view(1) as v:
        order = np.argsort(v.keys)
        assert np.array_equal(v.keys[order], keys) and np.array_equal(v.records[order], recs)


def test_flush_policy_and_manual_clock(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, manual_clock=True, max_batch_records=3, max_batch_age_ms=0) as w:
        assert w.put_many(1, np.array([1, 2], np.uint64), entities([1, 2])) is False
        assert w.flush_due() is False
        assert w.put(1, 3, entities([3])[0]) is True  # FLUSH_DUE
        assert w.flush_due() is True
        assert len(w.flush()) == 1 and w.flush_due() is False
    with podsync.Writer(schema, manual_clock=True, max_batch_age_ms=50) as w:
        w.set_time(1000)
        assert w.put(1, 1, entities([1])[0]) is False
        w.set_time(1049)
        assert w.flush_due() is False
        w.set_time(1050)
        assert w.flush_due() is True


def test_max_frame_bytes_splits_a_flush(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, max_frame_bytes=1024) as w, podsync.Replica(schema) as r:
        keys = np.arange(1, 101, dtype=np.uint64)
        w.put_many(1, keys, entities(keys))
        frames = w.flush(copy=True)
        assert len(frames) > 3 and all(len(f) <= 1024 for f in frames)
        assert w.version == len(frames)
        assert [r.apply(f) for f in frames] == [podsync.ApplyResult.OK] * len(frames)
        assert r.digest() == w.digest() and r.count(1) == 100


def test_options_stream_id_and_frame_digest(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, stream_id=0xABC, frame_digest=False) as w:
        w.put(2, 1, np.zeros(1, ITEM))
        (frame,) = w.flush()
        info = podsync.peek(frame)
        assert info.stream_id == 0xABC and not info.has_digest and info.state_digest == 0
        assert w.info().stream_id == 0xABC
    with pytest.raises(ValueError):
        podsync.Writer(schema, max_batch_records=-1)


def test_store_from_schema_bytes_and_generic_store(schema: podsync.Schema) -> None:
    raw = schema.to_bytes()
    with podsync.Store(raw, podsync.Role.WRITER) as w, podsync.Replica(memoryview(raw)) as r:
        assert w.role == podsync.Role.WRITER and r.role == podsync.Role.REPLICA
        assert w.dtype(1) == ENTITY and r.tables[2].dtype == ITEM
        w.put(2, 1, np.zeros(1, ITEM))
        for f in w.flush():
            r.apply(f)
        assert r.digest() == w.digest()
        assert r.schema() == schema


def test_close_idempotent_use_after_close_and_context_manager(schema: podsync.Schema) -> None:
    w = podsync.Writer(schema)
    with w as same:
        assert same is w
    assert w.closed
    w.close()
    for call in (
        lambda: w.put(1, 1, bytes(40)),
        lambda: w.flush(),
        lambda: w.info(),
        lambda: w.table(1),
        lambda: w.digest(),
        lambda: w.version,
    ):
        with pytest.raises(podsync.ClosedError):
            call()
    with pytest.raises(podsync.ClosedError):
        with w:
            pass
    assert "closed" in repr(w)
    r = podsync.Replica(schema)
    del r  # collected without close: freed by the finalizer


def test_schema_may_be_closed_after_creating_stores() -> None:
    s = podsync.Schema({1: ENTITY})
    w = podsync.Writer(s)
    s.close()
    w.put(1, 1, entities([1])[0])
    assert len(w.flush()) == 1 and w.dtype(1) == ENTITY
    w.close()


def test_catch_up_delta_snapshot_and_chained_replica(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as w, podsync.Replica(schema) as r1, podsync.Replica(schema) as r2:
        for tick in range(5):
            keys = np.arange(1 + tick, 11 + tick, dtype=np.uint64)
            w.put_many(1, keys, entities(keys, seed=tick))
            w.delete(1, tick)
            lost = w.flush(copy=True)  # r1 misses ticks 0..3
            if tick == 4:
                assert r1.apply(lost[0]) == podsync.ApplyResult.GAP
        assert r1.version == 0
        for f in w.catch_up(r1.version):
            assert r1.apply(f) == podsync.ApplyResult.OK
        assert r1.digest() == w.digest() and r1.version == 5
        # r1 serves r2: its frames are interchangeable with the writer's
        (snap,) = r1.snapshot()
        assert podsync.peek(snap).is_snapshot
        assert r2.apply(snap) == podsync.ApplyResult.OK
        assert r2.digest() == w.digest() and r2.apply(snap) == podsync.ApplyResult.DUPLICATE
        assert w.delta_since(w.version) == []
        (delta,) = w.delta_since(3)
        assert podsync.peek(delta).base_version == 3 and r2.apply(delta) == podsync.ApplyResult.DUPLICATE
