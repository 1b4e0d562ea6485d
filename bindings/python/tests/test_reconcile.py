"""Reconciliation (library 0.7.0): ``Store.summary`` and ``Store.reconcile`` exchange messages of
hash-tree buckets until the responder sends a repair frame holding only the records of the buckets
that differ; ``podsync.reconcile`` runs a whole exchange between two stores of one process."""

from __future__ import annotations

import ctypes
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import podsync
from _support import ITEM, XXH3, entities, state

STREAM = 0x5EED_0000_0000_0001
RECORD_WIRE_BYTES = 48  # an entity (40 bytes) and its key (8) in a plain frame
FLAG_REPAIR = 0x8  # format 2: the u16 of flags at byte offset 6
FLAG_SUMMARY = 0x10


def ids(n: int, seed: int = 0) -> np.ndarray:
    """n distinct random-looking keys (spread over the hash tree like real ids)."""
    rng = np.random.default_rng(seed)
    out = np.unique(rng.integers(1, 2**63, n + n // 8, dtype=np.uint64))[:n]
    rng.shuffle(out)
    assert len(out) == n
    return out


def header_flags(frame: podsync.Frame) -> int:
    """The format-2 header's flags, read the way a router would (bytes 6..8)."""
    assert frame[4] == 2, "reconciliation messages and repairs are format 2"
    return int(frame[6]) | int(frame[7]) << 8


def frame_bytes(frames: list[podsync.Frame]) -> int:
    return sum(len(f) for f in frames)


def ship(writer: podsync.Writer, replica: podsync.Replica) -> list[podsync.ApplyResult]:
    return [replica.apply(frame) for frame in writer.flush()]


def fingerprint(store: podsync.Store) -> tuple[dict[int, bytes], dict[int, bytes], int, int, int, bool]:
    """Everything a failed call must leave as it was."""
    info = store.info()
    return state(store, 1), state(store, 2), info.state_version, info.digest, info.stream_id, info.diverged


def in_sync(replica: podsync.Store, responder: podsync.Store) -> bool:
    a, b = replica.info(), responder.info()
    return (
        state(replica, 1) == state(responder, 1)
        and state(replica, 2) == state(responder, 2)
        and (a.digest, a.state_version, a.stream_id, a.term) == (b.digest, b.state_version, b.stream_id, b.term)
        and not a.diverged
    )


def exchange(replica: podsync.Store, responder: podsync.Store, level: int = 0) -> tuple[list[bytes], bytes | None]:
    """A reconciliation by hand, as a host carries it between processes: bytes only. Returns the
    messages exchanged (both ways) and the repair frame (None: nothing to repair), not applied."""
    messages: list[bytes] = []
    (message,) = replica.summary(level, copy=True)
    for _ in range(16):
        assert isinstance(message, bytes) and podsync.peek(message).is_summary
        messages.append(message)
        answer = responder.reconcile(message, copy=True)
        if not answer:
            return messages, None
        (frame,) = answer
        assert isinstance(frame, bytes)
        if podsync.peek(frame).is_repair:
            return messages, frame
        messages.append(frame)
        (message,) = replica.reconcile(frame, copy=True)
    raise AssertionError("the reconciliation did not end in 16 rounds")


@pytest.fixture
def twins(schema: podsync.Schema) -> Iterator[tuple[podsync.Writer, podsync.Writer]]:
    """The real writer and an impostor: same stream id, same initial records (5,000 entities and
    100 items), each flushed once."""
    with podsync.Writer(schema, stream_id=STREAM) as real, podsync.Writer(schema, stream_id=STREAM) as impostor:
        keys = ids(5000)
        small = np.arange(1, 101, dtype=np.uint64)
        for w in (real, impostor):
            w.put_many(1, keys, entities(keys))
            w.put_many(2, small, np.zeros(100, ITEM))
            assert len(w.flush()) == 1
        assert real.digest() == impostor.digest() and real.version == impostor.version == 1
        yield real, impostor


def diverge(
    real: podsync.Writer,
    impostor: podsync.Writer,
    replica: podsync.Replica,
    real_keys: np.ndarray,
    fake_keys: np.ndarray,
) -> None:
    """The replica takes the real writer's snapshot, misses the real writer's next frame (changes of
    `real_keys`) and applies the impostor's (changes of `fake_keys`) instead: it holds a state
    neither writer has."""
    for frame in real.snapshot():
        assert replica.apply(frame) == podsync.ApplyResult.OK
    real.put_many(1, real_keys, entities(real_keys, seed=1))
    assert len(real.flush()) == 1  # lost
    impostor.put_many(1, fake_keys, entities(fake_keys, seed=2))
    # Same stream, the base version it is at: the replica cannot tell the impostor's frame apart.
    assert ship(impostor, replica) == [podsync.ApplyResult.OK]
    assert replica.version == real.version == 2 and replica.digest() != real.digest()


# --- healing -----------------------------------------------------------------------------------


def test_a_diverged_replica_is_repaired_by_hand_and_continues_with_deltas(
    twins: tuple[podsync.Writer, podsync.Writer], replica: podsync.Replica
) -> None:
    real, impostor = twins
    keys = ids(5000)
    diverge(real, impostor, replica, keys[:30], keys[100:120])
    # The real writer's next frame shows the replica it diverged, then it refuses deltas.
    later = keys[200:210]
    real.put_many(1, later, entities(later, seed=3))
    (frame,) = real.flush(copy=True)
    with pytest.raises(podsync.DigestMismatch):
        replica.apply(frame)
    with pytest.raises(podsync.Diverged) as exc:
        replica.apply(frame)
    assert type(exc.value) is podsync.Diverged and exc.value.status == podsync.Status.E_DIVERGED
    assert replica.info().diverged
    with pytest.raises(podsync.Diverged):
        replica.snapshot()  # it serves nothing either

    messages, repair = exchange(replica, real)
    assert repair is not None and 1 <= len(messages) <= 8
    for m in messages:
        assert header_flags(m) & FLAG_SUMMARY and not header_flags(m) & FLAG_REPAIR
        with pytest.raises(podsync.InvalidArgument):
            replica.apply(m)  # messages are never applied
    assert header_flags(repair) & FLAG_REPAIR and not header_flags(repair) & FLAG_SUMMARY
    info = podsync.peek(repair)
    assert info.is_repair and not info.is_summary and not info.is_snapshot and info.has_digest
    assert (info.state_version, info.state_digest, info.stream_id) == (real.version, real.digest(), STREAM)
    # About 60 records differ (30 + 20 + 10): the repair carries those, not 5,000.
    assert len(repair) < 2 * 60 * RECORD_WIRE_BYTES + 512, len(repair)

    assert replica.apply(repair) == podsync.ApplyResult.OK
    assert in_sync(replica, real)
    assert replica.info().diverged is False and replica.version == 3

    # It continues with the real writer's deltas, flush by flush and by catch-up.
    real.put(1, int(keys[4000]), entities(keys[4000:4001], seed=4)[0])
    real.delete(1, int(keys[4001]))
    assert ship(real, replica) == [podsync.ApplyResult.OK]
    real.put(2, 7, np.ones(1, ITEM)[0])
    real.flush()  # lost
    real.put(2, 8, np.ones(1, ITEM)[0])
    assert ship(real, replica) == [podsync.ApplyResult.GAP]
    assert [replica.apply(f) for f in real.catch_up(replica.version)] == [podsync.ApplyResult.OK]
    assert in_sync(replica, real)
    # The impostor's next frame (versions the replica is past) changes nothing.
    impostor.put(1, int(keys[0]), entities(keys[:1], seed=5)[0])
    assert ship(impostor, replica) == [podsync.ApplyResult.DUPLICATE]
    assert in_sync(replica, real)


def test_the_convenience_heals_from_an_up_to_date_replica(
    twins: tuple[podsync.Writer, podsync.Writer], schema: podsync.Schema
) -> None:
    real, impostor = twins
    keys = ids(5000)
    with podsync.Replica(schema) as bad, podsync.Replica(schema) as good, podsync.Replica(schema) as twin:
        diverge(real, impostor, bad, keys[:25], keys[50:75])
        for frame in bad.snapshot():
            twin.apply(frame)  # the same wrong state, healed by hand below
        for frame in real.snapshot():
            good.apply(frame)
        assert in_sync(good, real) and not in_sync(bad, real)

        result = podsync.reconcile(bad, good)  # the responder is a replica, not the writer
        assert isinstance(result, podsync.ReconcileResult)
        assert result.repaired and result.result is podsync.ApplyResult.OK
        assert 1 <= result.messages <= 8
        assert 0 < result.repair_bytes < 2 * 50 * RECORD_WIRE_BYTES + 512
        assert result.summary_bytes > 0 and result.total_bytes == result.summary_bytes + result.repair_bytes
        assert in_sync(bad, good) and in_sync(bad, real)
        # It counts what the same exchange carries when run by hand.
        messages, repair = exchange(twin, good)
        assert repair is not None and len(messages) == result.messages >= 2
        assert sum(len(m) for m in messages) == result.summary_bytes and len(repair) == result.repair_bytes
        assert twin.apply(repair) == podsync.ApplyResult.OK and in_sync(twin, real)
        # Both continue with the writer's deltas.
        real.put(1, int(keys[9]), entities(keys[9:10], seed=9)[0])
        for frame in real.flush():
            assert good.apply(frame) == bad.apply(frame) == podsync.ApplyResult.OK
        assert in_sync(bad, real) and in_sync(good, real)


def test_a_replica_below_the_catch_up_floor_is_repaired(schema: podsync.Schema, replica: podsync.Replica) -> None:
    with podsync.Writer(schema, tombstone_horizon=2, max_tombstones=4) as w:
        keys = np.arange(1, 4001, dtype=np.uint64)
        w.put_many(1, keys, entities(keys))
        w.flush()
        for frame in w.snapshot():
            replica.apply(frame)
        at = replica.version
        for v in range(1, 11):
            changed = keys[v * 97 : v * 97 + 8]
            w.put_many(1, changed, entities(changed, seed=v))
            assert w.delete(1, 3000 + v)
            w.flush()  # every one of them lost
        with pytest.raises(podsync.SnapshotRequired):
            w.delta_since(at)
        assert w.info().catchup_floor > at
        (snapshot,) = w.catch_up(at, copy=True)
        assert podsync.peek(snapshot).is_snapshot

        result = podsync.reconcile(replica, w)
        assert result.repaired and result.result is podsync.ApplyResult.OK
        assert in_sync(replica, w) and replica.version == w.version == 11
        # At most 80 puts and 10 deletions differ: a fraction of the 4,000-record snapshot.
        assert result.repair_bytes < 2 * 90 * RECORD_WIRE_BYTES + 512, result
        assert result.total_bytes < len(snapshot) / 4, (result, len(snapshot))

        w.put(1, 5, entities([5], seed=99)[0])
        assert ship(w, replica) == [podsync.ApplyResult.OK]
        assert in_sync(replica, w)


def test_a_repair_is_much_smaller_than_a_snapshot(schema: podsync.Schema) -> None:
    differing = 20
    with (
        podsync.Writer(schema, stream_id=STREAM + 1) as w,
        podsync.Writer(schema, stream_id=STREAM + 1) as impostor,
        podsync.Replica(schema) as r,
    ):
        keys = ids(20_000, seed=3)
        for store in (w, impostor):
            store.put_many(1, keys, entities(keys))
            store.flush()
        for frame in w.snapshot():
            r.apply(frame)
        snapshot_bytes = frame_bytes(w.snapshot())
        assert snapshot_bytes > 20_000 * RECORD_WIRE_BYTES
        changed = keys[np.random.default_rng(4).choice(len(keys), differing, replace=False)]
        impostor.put_many(1, changed, entities(changed, seed=7))
        assert ship(impostor, r) == [podsync.ApplyResult.OK]
        held, truth = state(r, 1), state(w, 1)
        assert [k for k in truth if held[k] != truth[k]] != [] and sum(held[k] != truth[k] for k in truth) == differing

        result = podsync.reconcile(r, w)
        assert result.repaired and result.result is podsync.ApplyResult.OK and in_sync(r, w)
        assert result.repair_bytes < 2 * differing * RECORD_WIRE_BYTES + 512, result
        assert result.summary_bytes + result.repair_bytes < snapshot_bytes / 10, (result, snapshot_bytes)


def test_stores_in_sync_exchange_one_summary_and_nothing_else(
    schema: podsync.Schema, writer: podsync.Writer, replica: podsync.Replica
) -> None:
    keys = np.arange(1, 1001, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys))
    ship(writer, replica)
    writer.put(1, 2000, entities([2000])[0])  # pending: not in the writer's (flushed) tree
    before = fingerprint(replica)

    (message,) = replica.summary()
    assert writer.reconcile(message) == []
    result = podsync.reconcile(replica, writer)
    assert result == podsync.ReconcileResult(
        messages=1, summary_bytes=result.summary_bytes, repair_bytes=0, repaired=False, result=None
    )
    assert result.summary_bytes == len(replica.summary(copy=True)[0]) > 0
    assert fingerprint(replica) == before
    # A replica answers an up-to-date replica's summary the same way.
    with podsync.Replica(schema) as other:
        for frame in writer.snapshot():
            other.apply(frame)
        assert other.reconcile(replica.summary(copy=True)[0]) == []
        assert not podsync.reconcile(other, replica).repaired


def test_the_same_records_at_an_older_version_get_a_repair_that_brings_the_version(
    writer: podsync.Writer, replica: podsync.Replica
) -> None:
    writer.put(1, 1, entities([1])[0])
    ship(writer, replica)
    writer.put(1, 2, entities([2])[0])
    writer.flush()  # lost
    writer.delete(1, 2)
    writer.flush()  # lost: the records are as the replica holds them, two versions later
    assert writer.digest() == replica.digest() and writer.version == replica.version + 2

    result = podsync.reconcile(replica, writer)
    assert result.repaired and result.result is podsync.ApplyResult.OK
    assert result.repair_bytes < 256
    assert in_sync(replica, writer)
    writer.put(1, 3, entities([3])[0])
    assert ship(writer, replica) == [podsync.ApplyResult.OK]


# --- stale exchanges -------------------------------------------------------------------------


def test_a_repair_applied_after_the_replica_changed_is_stale(writer: podsync.Writer, replica: podsync.Replica) -> None:
    keys = np.arange(1, 2001, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys))
    ship(writer, replica)
    writer.put_many(1, keys[:10], entities(keys[:10], seed=1))
    (delayed,) = writer.flush(copy=True)  # reaches the replica late
    writer.put_many(1, keys[10:20], entities(keys[10:20], seed=2))
    writer.flush()  # lost

    messages, repair = exchange(replica, writer)
    assert repair is not None
    # Meanwhile the delayed frame arrives: the replica's digest moves.
    assert replica.apply(delayed) == podsync.ApplyResult.OK
    before = fingerprint(replica)
    with pytest.raises(podsync.RepairStale) as exc:
        replica.apply(repair)
    err = exc.value
    assert err.status == podsync.Status.E_REPAIR_STALE and err.status_name == "PODSYNC_E_REPAIR_STALE"
    assert int(podsync.Status.E_REPAIR_STALE) == -30
    assert not isinstance(err, (podsync.FrameError, podsync.Diverged))
    assert fingerprint(replica) == before  # nothing changed
    assert replica.metrics()["rejects"] == {"PODSYNC_E_REPAIR_STALE": 1}

    # A new exchange heals it.
    result = podsync.reconcile(replica, writer)
    assert result.repaired and in_sync(replica, writer)
    # The old repair is still stale (it was computed for a state the replica no longer has).
    with pytest.raises(podsync.RepairStale):
        replica.apply(repair)
    assert in_sync(replica, writer)


def test_a_repair_computed_for_another_replica_is_stale(schema: podsync.Schema, writer: podsync.Writer) -> None:
    keys = np.arange(1, 501, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys))
    with podsync.Replica(schema) as a, podsync.Replica(schema) as b:
        ship(writer, a)  # a at version 1
        writer.put(1, 1, entities([1], seed=1)[0])
        (second,) = writer.flush(copy=True)
        for frame in writer.snapshot():
            b.apply(frame)  # b at version 2
        writer.put(1, 2, entities([2], seed=1)[0])
        writer.flush()
        _, repair_for_a = exchange(a, writer)
        assert repair_for_a is not None
        before = fingerprint(b)
        with pytest.raises(podsync.RepairStale):
            b.apply(repair_for_a)
        assert fingerprint(b) == before
        assert a.apply(second) == podsync.ApplyResult.OK  # a moves: the repair is stale for it too
        with pytest.raises(podsync.RepairStale):
            a.apply(repair_for_a)


def test_a_responder_that_moved_past_the_exchange_start_raises_repair_stale(schema: podsync.Schema) -> None:
    with (
        podsync.Writer(schema, stream_id=STREAM + 2, tombstone_horizon=2, max_tombstones=4) as w,
        podsync.Writer(schema, stream_id=STREAM + 2) as impostor,
        podsync.Replica(schema) as r,
    ):
        keys = ids(20_000, seed=5)
        for store in (w, impostor):
            store.put_many(1, keys, entities(keys))
            store.flush()
        for frame in w.snapshot():
            r.apply(frame)
        impostor.put_many(1, keys[:20], entities(keys[:20], seed=7))
        ship(impostor, r)

        (message,) = r.summary(copy=True)
        (answer,) = w.reconcile(message, copy=True)
        assert podsync.peek(answer).is_summary  # 20,000 records: the responder descends the tree
        anchor = podsync.peek(answer).state_version
        # The writer moves on, far enough that it can no longer describe the exchange's start.
        for v in range(10):
            w.put(1, int(keys[1000 + v]), entities(keys[1000 + v : 1001 + v], seed=v + 1)[0])
            w.delete(1, int(keys[2000 + v]))
            w.flush()
        assert w.info().catchup_floor > anchor
        (reply,) = r.reconcile(answer, copy=True)
        before = fingerprint(w)
        with pytest.raises(podsync.RepairStale) as exc:
            w.reconcile(reply)
        assert exc.value.status == podsync.Status.E_REPAIR_STALE and "start again" in exc.value.message
        assert fingerprint(w) == before
        # Starting again works.
        result = podsync.reconcile(r, w)
        assert result.repaired and in_sync(r, w)


# --- bad input -------------------------------------------------------------------------------


def test_messages_and_frames_are_not_interchangeable(writer: podsync.Writer, replica: podsync.Replica) -> None:
    keys = np.arange(1, 301, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys))
    ship(writer, replica)
    writer.put(1, 1, entities([1], seed=1)[0])
    (delta,) = writer.flush(copy=True)
    (snapshot,) = writer.snapshot(copy=True)
    before = fingerprint(replica)

    (summary,) = replica.summary(copy=True)
    assert podsync.peek(summary).is_summary and not podsync.peek(summary).is_repair
    for frame in (delta, snapshot):
        assert not podsync.peek(frame).is_summary and not podsync.peek(frame).is_repair
    with pytest.raises(podsync.InvalidArgument) as exc:
        replica.apply(summary)
    assert "summary" in exc.value.message
    for frame in (delta, snapshot):
        for store in (writer, replica):
            with pytest.raises(podsync.InvalidArgument) as exc:
                store.reconcile(frame)
            assert "not a summary" in exc.value.message
    assert fingerprint(replica) == before
    # The responder's answer is no frame either.
    messages, repair = exchange(replica, writer)
    assert repair is not None
    for message in messages:
        with pytest.raises(podsync.InvalidArgument):
            replica.apply(message)
    with pytest.raises(podsync.InvalidArgument):
        writer.reconcile(repair)  # a repair is applied, not answered
    with pytest.raises(podsync.InvalidArgument):
        replica.reconcile(repair)
    assert fingerprint(replica) == before
    assert replica.apply(repair) == podsync.ApplyResult.OK and in_sync(replica, writer)


def test_damaged_messages_and_repairs_are_refused_with_the_state_unchanged(
    writer: podsync.Writer, replica: podsync.Replica
) -> None:
    keys = np.arange(1, 301, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys))
    ship(writer, replica)
    writer.put_many(1, keys[:3], entities(keys[:3], seed=1))
    writer.flush()  # lost
    (summary,) = replica.summary(copy=True)
    assert isinstance(summary, bytes)
    w_before = fingerprint(writer)
    r_before = fingerprint(replica)

    flipped = bytearray(summary)
    flipped[len(flipped) // 2] ^= 0x40
    damaged: list[tuple[object, type[podsync.PodSyncError]]] = [
        (summary[:-8], podsync.FrameTruncated),
        (summary[: len(summary) // 2], podsync.FrameTruncated),
        (b"", podsync.FrameTruncated),
        (bytes(flipped), podsync.FrameChecksum),
        (b"PSYN" + bytes(60), podsync.FrameError),
        (b"not a frame at all, but long enough to look at" * 3, podsync.FrameMagic),
    ]
    for message, error in damaged:
        for store in (writer, replica):
            with pytest.raises(error):
                store.reconcile(message)
    with pytest.raises(podsync.ArgumentTypeError):
        writer.reconcile(12345)
    with pytest.raises(TypeError):
        writer.reconcile("a str is not a message")
    assert fingerprint(writer) == w_before and fingerprint(replica) == r_before

    messages, repair = exchange(replica, writer)
    assert repair is not None
    bad_repair = bytearray(repair)
    bad_repair[-5] ^= 0x01
    for frame, error in ((repair[:-8], podsync.FrameTruncated), (bytes(bad_repair), podsync.FrameChecksum)):
        with pytest.raises(error):
            replica.apply(frame)
        assert fingerprint(replica) == r_before
    assert replica.apply(repair) == podsync.ApplyResult.OK and in_sync(replica, writer)


def test_a_message_of_another_schema_is_refused(writer: podsync.Writer) -> None:
    writer.put(1, 1, entities([1])[0])
    writer.flush()
    with podsync.Schema({1: ITEM}) as other_schema, podsync.Replica(other_schema) as other:
        (message,) = other.summary(copy=True)
        with pytest.raises(podsync.SchemaMismatch):
            writer.reconcile(message)


def test_resealed_forgeries_are_malformed(writer: podsync.Writer, replica: podsync.Replica, xxh3: XXH3) -> None:
    keys = np.arange(1, 301, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys))
    ship(writer, replica)
    seeded = xxh3.lib.XXH3_64bits_withSeed
    seeded.restype = ctypes.c_uint64
    seeded.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]

    def reseal(frame: bytearray) -> bytes:
        """Format 2: the checksum of bytes [16, end) seeded with bytes [0, 8)."""
        seed = int.from_bytes(frame[0:8], "little")
        frame[8:16] = int(seeded(bytes(frame[16:]), len(frame) - 16, seed)).to_bytes(8, "little")
        return bytes(frame)

    (summary,) = replica.summary(copy=True)
    assert writer.reconcile(reseal(bytearray(summary))) == []  # resealing alone changes nothing
    no_flag = bytearray(summary)
    no_flag[6] &= ~FLAG_SUMMARY  # the SUMMARY record without its flag
    repair_flag = bytearray(summary)
    repair_flag[6] |= FLAG_REPAIR  # flags REPAIR and SUMMARY, one record
    for forged in (reseal(no_flag), reseal(repair_flag)):
        for call in (writer.reconcile, replica.reconcile, replica.apply):
            with pytest.raises(podsync.FrameMalformed):
                call(forged)
    unknown = bytearray(summary)
    unknown[6] |= 0x20  # a critical flag this library does not know
    with pytest.raises(podsync.FrameFeature):
        writer.reconcile(reseal(unknown))
    assert in_sync(replica, writer)


def test_levels_roles_and_closed_stores(
    schema: podsync.Schema, writer: podsync.Writer, replica: podsync.Replica
) -> None:
    keys = np.arange(1, 101, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys))
    ship(writer, replica)
    sizes: dict[int, int] = {}
    for level in range(1, 4):
        (message,) = replica.summary(level, copy=True)
        sizes[level] = len(message)
        assert writer.reconcile(message) == []  # any level works
    assert sizes[1] < sizes[2] < sizes[3] and sizes[3] > 8 * 16**3  # 8 bytes of hash a bucket
    with pytest.raises(podsync.InvalidArgument):
        replica.summary(6)
    with pytest.raises(podsync.OutOfRangeError):
        replica.summary(-1)
    for bad in (1.0, True, "1"):
        with pytest.raises(podsync.ArgumentTypeError):
            replica.summary(bad)  # type: ignore[arg-type]
    assert len(writer.summary()) == 1  # any role may summarize

    # A writer is never repaired; a diverged replica answers no summaries.
    writer.put(1, 1, entities([1], seed=1)[0])
    writer.flush()
    with podsync.Replica(schema) as behind:
        for frame in writer.snapshot():
            behind.apply(frame)
        writer.put(1, 2, entities([2], seed=1)[0])
        writer.flush()
        messages, repair = exchange(replica, writer)
        assert repair is not None
        with pytest.raises(podsync.WrongRole):
            writer.apply(repair)
        with pytest.raises(podsync.WrongRole):
            podsync.reconcile(writer, behind)
    with podsync.Writer(schema) as stranger, podsync.Replica(schema) as lost:
        stranger.put(1, 1, entities([1], seed=5)[0])
        for frame in stranger.flush():
            lost.apply(frame)
        # A replica of the stranger's stream made diverged: digest mismatch after a forged history.
        with podsync.Writer(schema, stream_id=lost.info().stream_id) as twin:
            twin.put(1, 1, entities([1], seed=6)[0])
            twin.flush()
            twin.put(1, 3, entities([3])[0])
            with pytest.raises(podsync.DigestMismatch):
                for frame in twin.flush():
                    lost.apply(frame)
        assert lost.info().diverged
        with pytest.raises(podsync.Diverged):
            lost.reconcile(replica.summary(copy=True)[0])
        with pytest.raises(podsync.Diverged):
            podsync.reconcile(replica, lost)
        assert podsync.reconcile(lost, writer).repaired and in_sync(lost, writer)  # healed, from another stream
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.reconcile(replica, "writer")  # type: ignore[arg-type]
    with pytest.raises(podsync.OutOfRangeError):
        podsync.reconcile(replica, writer, max_messages=0)
    closed = podsync.Replica(schema)
    closed.close()
    with pytest.raises(podsync.ClosedError):
        closed.summary()
    with pytest.raises(podsync.ClosedError):
        closed.reconcile(replica.summary(copy=True)[0])
    with pytest.raises(podsync.ClosedError):
        podsync.reconcile(closed, writer)


# --- the outbox ----------------------------------------------------------------------------------


def test_messages_are_borrowed_from_the_outbox_like_frames(writer: podsync.Writer, replica: podsync.Replica) -> None:
    keys = np.arange(1, 301, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys))
    (frame,) = writer.flush()
    replica.apply(frame)

    (message,) = replica.summary()
    assert isinstance(message, memoryview) and message.readonly
    copied = replica.summary(copy=True)[0]
    assert isinstance(copied, bytes) and podsync.peek(copied).is_summary
    with pytest.raises(ValueError):
        message[0]  # released by the next producing call
    # The responder's answer revokes the frames it handed out before, as a flush would.
    assert writer.reconcile(copied) == []
    with pytest.raises(ValueError):
        frame[0]
    (message,) = replica.summary()
    derived = np.frombuffer(message, dtype=np.uint8)
    with pytest.raises(podsync.ViewsAliveError):
        replica.summary()
    assert int(derived[0]) == ord("P")  # still valid: nothing was freed
    del derived, message
    # A store given its own borrowed message (or a slice of it) reads a copy, not the outbox it reuses.
    (message,) = replica.summary()
    assert replica.reconcile(message) == []
    (message,) = replica.summary()
    assert replica.reconcile(message) == []  # again, now that the first message is gone
    # A slice kept alive while its outbox would be reused is refused, as for every producing call.
    (message,) = replica.summary()
    head = message[:]
    with pytest.raises(podsync.ViewsAliveError):
        replica.reconcile(head)
    assert bytes(head[:4]) == b"PSYN"  # still valid: nothing was freed
    del head, message
    # podsync.reconcile releases the messages it made: both stores produce frames afterwards.
    writer.put(1, 1, entities([1], seed=1)[0])
    writer.flush()
    assert podsync.reconcile(replica, writer).repaired
    assert writer.summary(copy=True) and replica.summary(copy=True)


def test_a_repair_lists_the_keys_it_changed(
    twins: tuple[podsync.Writer, podsync.Writer], replica: podsync.Replica
) -> None:
    real, impostor = twins
    keys = ids(5000)
    replica.track_changes()
    diverge(real, impostor, replica, keys[:30], keys[100:120])
    assert sorted(replica.changes(1).upserted.tolist()) == sorted(keys[100:120].tolist())
    real.delete(1, int(keys[500]))
    real.flush()  # lost as well

    result = podsync.reconcile(replica, real)
    assert result.repaired and in_sync(replica, real)
    ch = replica.changes(1)
    # Exactly the records that differed: the writer's 30, the impostor's 20 set back, 1 deletion;
    # the unchanged records of the repaired buckets are not listed.
    assert sorted(ch.upserted.tolist()) == sorted(keys[:30].tolist() + keys[100:120].tolist())
    assert ch.deleted.tolist() == [int(keys[500])] and not ch.replaced and ch.complete
    assert len(replica.changes(2)) == 0


def test_sections_read_a_repair_frame(twins: tuple[podsync.Writer, podsync.Writer], replica: podsync.Replica) -> None:
    real, impostor = twins
    keys = ids(5000)
    diverge(real, impostor, replica, keys[:5], keys[100:105])
    _, repair = exchange(replica, real)
    assert repair is not None and podsync.validate(repair).section_count == 1
    puts: set[int] = set()
    for section in podsync.sections(repair, real.schema()):
        puts |= set(section.put_keys.tolist())
    assert set(keys[:5].tolist()) | set(keys[100:105].tolist()) <= puts


def test_the_readme_examples_heal_a_replica(
    twins: tuple[podsync.Writer, podsync.Writer], schema: podsync.Schema
) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("**Reconciliation**", 1)[1].split("\n**", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    real, impostor = twins
    keys = ids(5000)
    with podsync.Replica(schema) as first, podsync.Replica(schema) as second:
        diverge(real, impostor, first, keys[:5], keys[500:505])  # diverged
        for frame in real.snapshot():
            second.apply(frame)
        real.put_many(1, keys[10:15], entities(keys[10:15], seed=3))
        real.delete(1, int(keys[20]))
        real.flush()  # lost: the second replica is behind
        for replica, block in zip((first, second), blocks):
            assert not in_sync(replica, real)
            exec(block, {"podsync": podsync, "replica": replica, "writer": real, "print": lambda *a: None})
            assert in_sync(replica, real), block
