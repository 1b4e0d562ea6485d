"""Change events (library 0.7.0): ``Replica.track_changes`` and ``Replica.changes`` list the keys each
apply upserted and deleted, table by table; writers skip unchanged writes."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import podsync
from _support import ITEM, entities

U64 = np.dtype(np.uint64)


def keys(*ks: int) -> np.ndarray:
    return np.array(ks, dtype=np.uint64)


def items(ks: np.ndarray, seed: int = 0) -> np.ndarray:
    recs = np.zeros(len(ks), ITEM)
    recs["a"] = np.asarray(ks, dtype=np.uint32)
    recs["b"] = seed
    return recs


def ship(writer: podsync.Writer, replica: podsync.Replica) -> list[podsync.ApplyResult]:
    return [replica.apply(frame) for frame in writer.flush()]


def as_sets(ch: podsync.Changes) -> tuple[set[int], set[int]]:
    return set(ch.upserted.tolist()), set(ch.deleted.tolist())


@pytest.fixture
def tracking(replica: podsync.Replica) -> podsync.Replica:
    replica.track_changes()
    return replica


def test_deltas_list_inserts_updates_and_deletes_exactly(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    r = tracking
    writer.put_many(1, keys(1, 2, 3, 4), entities([1, 2, 3, 4]))
    writer.put_many(2, keys(10, 11), items(keys(10, 11)))
    assert ship(writer, r) == [podsync.ApplyResult.OK]
    ch = r.changes(1)
    assert isinstance(ch, podsync.Changes) and ch.table_id == 1
    assert ch.upserted.dtype == U64 and ch.deleted.dtype == U64
    assert sorted(ch.upserted.tolist()) == [1, 2, 3, 4] and ch.deleted.tolist() == []
    assert not ch.replaced and ch.complete and not ch.borrowed
    assert sorted(r.changes(2).upserted.tolist()) == [10, 11]

    # One update (other bytes), one delete, one insert; key 4 rewritten with its own bytes (not a
    # change); table 2 untouched.
    writer.put(1, 2, entities([2], seed=5)[0])
    writer.delete(1, 3)
    writer.put(1, 7, entities([7])[0])
    writer.put(1, 4, entities([4])[0])
    assert ship(writer, r) == [podsync.ApplyResult.OK]
    ch = r.changes(1)
    assert sorted(ch.upserted.tolist()) == [2, 7]
    assert ch.deleted.tolist() == [3]
    assert not ch.replaced and ch.complete
    assert len(ch) == 3 and bool(ch)
    events = list(ch)
    assert events[0] == ("delete", 3)  # a frame's deletions come before its puts
    assert sorted(events[1:]) == [("upsert", 2), ("upsert", 7)]
    assert all(type(k) is int for _, k in events)
    t2 = r.changes(2)
    assert len(t2) == 0 and not t2 and list(t2) == [] and t2.complete
    # The lists describe what the replica now holds.
    assert r.get(1, 2) == entities([2], seed=5)[0] and (1, 3) not in r and (1, 7) in r

    # A delete and a re-insert of the same key across two applies: each apply lists its own.
    writer.delete(1, 7)
    ship(writer, r)
    assert r.changes(1).deleted.tolist() == [7] and r.changes(1).upserted.tolist() == []
    writer.put(1, 7, entities([7], seed=1)[0])
    ship(writer, r)
    assert r.changes(1).upserted.tolist() == [7] and r.changes(1).deleted.tolist() == []


def test_arrays_are_read_only(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    writer.put_many(1, keys(1, 2), entities([1, 2]))
    writer.put(2, 1, items(keys(1))[0])
    ship(writer, tracking)
    writer.delete(1, 1)
    ship(writer, tracking)
    for copy in (True, False):
        with tracking.changes(1, copy=copy) as ch:
            assert ch.deleted.tolist() == [1]
            assert not ch.upserted.flags.writeable and not ch.deleted.flags.writeable
            with pytest.raises(ValueError):
                ch.deleted[0] = 9
            if not copy:
                with pytest.raises(ValueError):
                    ch.deleted.flags.writeable = True  # a view of the store cannot be made writable
    assert tracking.changes(1).deleted.tolist() == [1]  # nothing was written through
    with pytest.raises(AttributeError):
        tracking.changes(1).upserted = keys(1)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        tracking.changes(1).replaced = True  # type: ignore[misc]


def test_a_duplicate_apply_empties_the_lists(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    writer.put_many(1, keys(1, 2, 3), entities([1, 2, 3]))
    writer.put(2, 5, items(keys(5))[0])
    (frame,) = writer.flush(copy=True)
    assert tracking.apply(frame) == podsync.ApplyResult.OK
    assert len(tracking.changes(1)) == 3 and len(tracking.changes(2)) == 1
    assert tracking.apply(frame) == podsync.ApplyResult.DUPLICATE
    for table in (1, 2):
        ch = tracking.changes(table)
        assert ch.upserted.tolist() == [] and ch.deleted.tolist() == [] and not ch.replaced and not ch


def test_a_gap_or_a_failed_apply_empties_the_lists(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    writer.put(1, 1, entities([1])[0])
    ship(writer, tracking)
    assert tracking.changes(1).upserted.tolist() == [1]
    writer.put(1, 2, entities([2])[0])
    writer.flush()  # lost
    writer.put(1, 3, entities([3])[0])
    assert ship(writer, tracking) == [podsync.ApplyResult.GAP]
    assert len(tracking.changes(1)) == 0
    ship_again = writer.catch_up(1)
    assert [tracking.apply(f) for f in ship_again] == [podsync.ApplyResult.OK]
    assert sorted(tracking.changes(1).upserted.tolist()) == [2, 3]
    with pytest.raises(podsync.FrameError):
        tracking.apply(b"not a frame at all, but long enough to look at" * 3)
    assert len(tracking.changes(1)) == 0


def test_a_catch_up_delta_does_not_list_values_the_replica_already_holds(
    writer: podsync.Writer, tracking: podsync.Replica
) -> None:
    writer.put_many(1, keys(1, 2, 3), entities([1, 2, 3]))
    ship(writer, tracking)
    at = tracking.version
    original = entities([1])[0]
    # Versions the replica misses: key 1 changes and comes back to the bytes the replica holds,
    # key 2 changes for good, key 3 is deleted, key 4 appears.
    writer.put(1, 1, entities([1], seed=7)[0])
    writer.put(1, 2, entities([2], seed=7)[0])
    writer.flush()
    writer.put(1, 1, original)
    writer.delete(1, 3)
    writer.put(1, 4, entities([4])[0])
    writer.flush()
    frames = writer.delta_since(at, copy=True)
    assert len(frames) == 1
    # The delta does carry key 1 (its value changed since `at`)...
    put_keys = set()
    for section in podsync.sections(frames[0]):
        if section.table_id == 1:
            put_keys |= set(section.put_keys.tolist())
    assert 1 in put_keys
    # ...but the replica already holds those bytes: not listed.
    assert tracking.apply(frames[0]) == podsync.ApplyResult.OK
    ch = tracking.changes(1)
    assert sorted(ch.upserted.tolist()) == [2, 4]
    assert ch.deleted.tolist() == [3]
    assert tracking.digest() == writer.digest()


def test_a_snapshot_from_another_writer_replaces_the_state(schema: podsync.Schema, tracking: podsync.Replica) -> None:
    with podsync.Writer(schema) as a, podsync.Writer(schema) as b:
        a.put_many(1, keys(*range(1, 11)), entities(list(range(1, 11))))
        a.put_many(2, keys(1, 2), items(keys(1, 2)))
        ship(a, tracking)
        assert not tracking.changes(1).replaced
        b.put_many(1, keys(*range(5, 16)), entities(list(range(5, 16))))  # 5..10 the same bytes as a's
        b.put_many(2, keys(2), items(keys(2), seed=1))
        b.flush()
        (snap,) = b.snapshot()
        assert podsync.peek(snap).stream_id == b.info().stream_id != a.info().stream_id
        assert tracking.apply(snap) == podsync.ApplyResult.OK
        ch = tracking.changes(1)
        assert ch.replaced and ch.complete
        assert sorted(ch.upserted.tolist()) == list(range(5, 16))  # every key the new state holds
        assert sorted(ch.deleted.tolist()) == [1, 2, 3, 4]  # every key it no longer holds
        t2 = tracking.changes(2)
        assert t2.replaced and t2.upserted.tolist() == [2] and t2.deleted.tolist() == [1]
        events = list(ch)
        assert [e for e, _ in events] == ["delete"] * 4 + ["upsert"] * 11
        assert tracking.digest() == b.digest()
        # The next delta of b is no replacement any more.
        b.delete(1, 5)
        ship(b, tracking)
        ch = tracking.changes(1)
        assert not ch.replaced and ch.deleted.tolist() == [5] and ch.upserted.tolist() == []


def test_a_chunked_snapshot_lists_on_its_last_chunk(schema: podsync.Schema, tracking: podsync.Replica) -> None:
    with podsync.Writer(schema) as w:
        ks = np.arange(1, 501, dtype=np.uint64)
        w.put_many(1, ks, entities(ks))
        w.flush()
        results = []
        with w.snapshot_chunks(4096) as chunks:
            for chunk in chunks:
                results.append(tracking.apply(chunk))
                ch = tracking.changes(1)
                if results[-1] == podsync.ApplyResult.CHUNK_STAGED:
                    assert len(ch) == 0 and not ch.replaced  # staged: nothing visible changed
        assert results.count(podsync.ApplyResult.CHUNK_STAGED) >= 2 and results[-1] == podsync.ApplyResult.OK
        ch = tracking.changes(1)
        assert ch.replaced and np.array_equal(np.sort(ch.upserted), ks) and ch.deleted.tolist() == []


def test_compressed_frames_give_the_same_lists(schema: podsync.Schema) -> None:
    rng = np.random.default_rng(3)
    with (
        podsync.Writer(schema, compression_level=1) as zw,
        podsync.Writer(schema, compression_level=0) as pw,
        podsync.Replica(schema) as zr,
        podsync.Replica(schema) as pr,
    ):
        zr.track_changes()
        pr.track_changes()
        compressed = 0
        for step in range(6):
            present = pw.keys(1).copy()
            ks = (rng.choice(3000, size=1500, replace=False) + 1).astype(np.uint64)
            recs = entities(ks, seed=step % 2)  # many rewrites leave the bytes as they were
            gone = rng.choice(np.setdiff1d(present, ks), size=min(200, len(present) // 4), replace=False)
            for w in (zw, pw):
                w.put_many(1, ks, recs)
                w.delete_many(1, gone)
            zframes, pframes = zw.flush(copy=True), pw.flush(copy=True)
            compressed += sum(podsync.peek(f).codec == podsync.CODEC_ZSTD for f in zframes)
            assert all(podsync.peek(f).codec == podsync.CODEC_NONE for f in pframes)
            for f in zframes:
                zr.apply(f)
            for f in pframes:
                pr.apply(f)
            z, p = zr.changes(1), pr.changes(1)
            assert len(z.upserted) > 0 and (step == 0 or len(z.deleted) > 0)
            if step >= 2:  # rewrites of the bytes a key held (seed 0 at step 0) are not listed
                assert len(z.upserted) < len(ks)
            assert np.array_equal(np.sort(z.upserted), np.sort(p.upserted))
            assert np.array_equal(np.sort(z.deleted), np.sort(p.deleted))
            assert z.replaced == p.replaced is False
        assert compressed >= 1  # the lists above did come from compressed frames
        # A compressed snapshot lists the whole state too.
        with podsync.Replica(schema) as fresh:
            fresh.track_changes()
            (snap,) = zw.snapshot()
            assert podsync.peek(snap).codec == podsync.CODEC_ZSTD
            fresh.apply(snap)
            with zw.view(1) as v:
                expected = np.sort(v.keys)
            ch = fresh.changes(1)
            assert ch.replaced and np.array_equal(np.sort(ch.upserted), expected)


def test_errors(writer: podsync.Writer, replica: podsync.Replica) -> None:
    # A writer has no change events.
    with pytest.raises(podsync.WrongRole):
        writer.track_changes()
    with pytest.raises(podsync.WrongRole):
        writer.changes(1)
    # A replica does not track by default.
    with pytest.raises(podsync.InvalidArgument, match="tracking is off"):
        replica.changes(1)
    replica.track_changes()
    assert len(replica.changes(1)) == 0
    with pytest.raises(podsync.UnknownTable):
        replica.changes(99)
    with pytest.raises(podsync.OutOfRangeError):
        replica.changes(-1)
    with pytest.raises(podsync.OutOfRangeError):
        replica.changes(1 << 32)
    for bad in ("yes", 2, 1.0, None):
        with pytest.raises(podsync.ArgumentTypeError):
            replica.track_changes(bad)  # type: ignore[arg-type]
    replica.track_changes(False)
    with pytest.raises(podsync.InvalidArgument):
        replica.changes(1)
    replica.close()
    with pytest.raises(podsync.ClosedError):
        replica.changes(1)
    with pytest.raises(podsync.ClosedError):
        replica.track_changes()


def test_tracking_starts_empty_and_off_stops_it(writer: podsync.Writer, replica: podsync.Replica) -> None:
    writer.put(1, 1, entities([1])[0])
    ship(writer, replica)  # applied while not tracking: nothing recorded
    replica.track_changes()
    assert len(replica.changes(1)) == 0
    writer.put(1, 2, entities([2])[0])
    ship(writer, replica)
    assert replica.changes(1).upserted.tolist() == [2]
    replica.track_changes(True)  # turning it on again empties the lists
    assert len(replica.changes(1)) == 0
    replica.track_changes(False)
    writer.put(1, 3, entities([3])[0])
    ship(writer, replica)
    replica.track_changes(1)  # type: ignore[arg-type]  # 0 and 1 are accepted as in C
    assert len(replica.changes(1)) == 0  # the apply while off was not recorded
    assert replica.count(1) == 3


def test_unchanged_writes_send_nothing(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    writer.put_many(1, keys(1, 2, 3), entities([1, 2, 3]))
    writer.put(2, 9, items(keys(9))[0])
    assert len(ship(writer, tracking)) == 1
    version, digest, sequence = writer.version, writer.digest(), writer.info().sequence
    # Puts of the bytes the clean keys already hold: no pending change, no frame, same version.
    writer.put(1, 1, entities([1])[0])
    writer.put_many(1, keys(2, 3), entities([2, 3]))
    writer.put(2, 9, items(keys(9))[0].tobytes())
    assert writer.info().pending_changes == 0
    assert writer.flush() == []
    assert (writer.version, writer.digest(), writer.info().sequence) == (version, digest, sequence)
    # A changed value does go out, and only that key.
    writer.put(1, 1, entities([1])[0])
    writer.put(1, 2, entities([2], seed=4)[0])
    assert writer.info().pending_changes == 1
    frames = writer.flush(copy=True)
    assert len(frames) == 1 and writer.version == version + 1
    (section,) = podsync.sections(frames[0])
    assert section.put_keys.tolist() == [2] and section.delete_keys.tolist() == []
    assert tracking.apply(frames[0]) == podsync.ApplyResult.OK
    assert tracking.changes(1).upserted.tolist() == [2]
    # Changed and changed back before a flush: whatever is sent, the replica lists nothing, as
    # its bytes are what they were.
    writer.put(1, 3, entities([3], seed=8)[0])
    writer.put(1, 3, entities([3])[0])
    results = ship(writer, tracking)
    assert all(r == podsync.ApplyResult.OK for r in results)
    assert len(tracking.changes(1)) == 0 and tracking.digest() == writer.digest()


def test_borrowed_views_are_zero_copy_and_guard_the_memory(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    writer.put_many(1, keys(1, 2, 3), entities([1, 2, 3]))
    writer.delete(1, 2)  # never flushed before: coalesced away
    ship(writer, tracking)
    writer.delete(1, 1)
    writer.put(1, 4, entities([4])[0])
    ship(writer, tracking)
    copied = tracking.changes(1)
    view = tracking.changes(1, copy=False)
    again = tracking.changes(1, copy=False)
    assert view.borrowed and not copied.borrowed
    assert view.upserted.tolist() == copied.upserted.tolist() == [4]
    assert view.deleted.tolist() == copied.deleted.tolist() == [1]
    # Views of the same memory; the copies own theirs.
    assert view.upserted.__array_interface__["data"][0] == again.upserted.__array_interface__["data"][0]
    assert not view.upserted.flags.owndata and copied.upserted.flags.owndata
    assert copied.upserted.__array_interface__["data"][0] != view.upserted.__array_interface__["data"][0]
    del again

    writer.put(1, 5, entities([5])[0])
    (frame,) = writer.flush(copy=True)
    version = tracking.version
    # The next apply would rewrite the lists under the views: refused, nothing changed.
    with pytest.raises(podsync.ViewsAliveError, match="change-event"):
        tracking.apply(frame)
    with pytest.raises(podsync.ViewsAliveError):
        tracking.track_changes()
    assert tracking.version == version and (1, 5) not in tracking
    assert view.upserted.tolist() == [4] and view.deleted.tolist() == [1]
    # Something derived from a view keeps the guard.
    derived = view.deleted[:1]
    view.release()
    with pytest.raises(podsync.ClosedError):
        view.upserted
    with pytest.raises(podsync.ViewsAliveError):
        tracking.apply(frame)
    del derived
    # Copies never hold it; reads and table views are independent of it.
    assert tracking.apply(frame) == podsync.ApplyResult.OK
    assert copied.upserted.tolist() == [4] and copied.deleted.tolist() == [1]  # still the old apply's
    assert tracking.changes(1).upserted.tolist() == [5]


def test_borrowed_views_in_a_with_block(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    for step in range(5):
        writer.put(1, step + 1, entities([step + 1])[0])
        (frame,) = writer.flush(copy=True)
        assert tracking.apply(frame) == podsync.ApplyResult.OK  # the previous block released its views
        with tracking.changes(1, copy=False) as ch:
            assert ch.upserted.tolist() == [step + 1]
            assert list(ch) == [("upsert", step + 1)]
            with pytest.raises(podsync.ViewsAliveError):
                tracking.apply(frame)
    assert "released" in repr(ch)


def test_empty_borrowed_lists_hold_no_guard(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    writer.put(1, 1, entities([1])[0])
    ship(writer, tracking)
    ch = tracking.changes(2, copy=False)  # table 2 had no change: nothing borrowed
    assert ch.upserted.shape == (0,) and ch.deleted.shape == (0,) and not ch.upserted.flags.writeable
    writer.put(1, 2, entities([2])[0])
    assert ship(writer, tracking) == [podsync.ApplyResult.OK]


def test_close_with_borrowed_views_defers_the_free(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as w:
        r = podsync.Replica(schema)
        r.track_changes()
        ks = np.arange(1, 1001, dtype=np.uint64)
        w.put_many(1, ks, entities(ks))
        for f in w.flush():
            r.apply(f)
        upserted = r.changes(1, copy=False).upserted
        handle = r._handle
        assert handle is not None
        r.close()
        with pytest.raises(podsync.ClosedError):
            r.changes(1)
        gc.collect()
        assert handle.ptr is not None  # the view keeps the engine's memory
        assert np.array_equal(np.sort(upserted), ks)  # and it is still valid
        del upserted
        assert handle.ptr is None  # freed with the last view


def test_follower_style_loop_with_copies_never_blocks(writer: podsync.Writer, tracking: podsync.Replica) -> None:
    """The default (copies) keeps no guard: holding the last Changes across applies is fine."""
    seen: dict[int, int] = {}
    ch = None
    for step in range(10):
        writer.put(1, step % 4 + 1, entities([step % 4 + 1], seed=step)[0])
        if step % 3 == 2:
            writer.delete(1, (step + 1) % 4 + 1)
        for frame in writer.flush():
            tracking.apply(frame)  # `ch` of the previous step is alive: no ViewsAliveError
        ch = tracking.changes(1)
        for event, key in ch:
            if event == "upsert":
                seen[key] = seen.get(key, 0) + 1
            else:
                seen.pop(key, None)
    assert set(seen) == {int(k) for k in tracking.keys(1)}
    assert ch is not None and repr(ch).startswith("<podsync.Changes table=1")


def test_keys_span_the_whole_u64_range() -> None:
    with podsync.Writer(podsync.Schema({7: np.dtype([("v", "<u2")])})) as w, podsync.Replica(w.schema()) as r:
        r.track_changes()
        w.put_many(7, keys(2**64 - 1, 0, 2**63), np.zeros(3, np.dtype([("v", "<u2")])))
        ship(w, r)
        assert sorted(r.changes(7).upserted.tolist()) == [0, 2**63, 2**64 - 1]
