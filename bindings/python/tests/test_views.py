"""Zero-copy views of the engine's memory, and why they can never read freed memory."""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest

import podsync
from _support import ENTITY, entities


def fill(w: podsync.Writer, n: int = 100, seed: int = 0) -> np.ndarray:
    keys = np.arange(1, n + 1, dtype=np.uint64)
    w.put_many(1, keys, entities(keys, seed))
    return keys


def test_table_is_a_read_only_zero_copy_view(writer: podsync.Writer) -> None:
    fill(writer)
    recs = writer.table(1)
    keys = writer.keys(1)
    assert recs.dtype == ENTITY and recs.shape == (100,) and keys.dtype == np.uint64
    assert not recs.flags.writeable and not keys.flags.writeable and not recs.flags.owndata
    with pytest.raises(ValueError):
        recs["flags"][0] = 1
    with pytest.raises(ValueError):
        recs.flags.writeable = True  # cannot be made writable either
    # it views the store's memory: same address as a second view
    again = writer.table(1)
    assert recs.__array_interface__["data"][0] == again.__array_interface__["data"][0]
    assert np.array_equal(recs["id"], keys)  # records parallel to keys (id == key here)
    assert writer.views_alive == 3


def test_writes_refused_while_a_view_is_alive(writer: podsync.Writer) -> None:
    fill(writer)
    recs = writer.table(1)
    before = recs.copy()
    gen = writer.info().generation
    for call in (
        lambda: writer.put(1, 1, entities([1])[0]),
        lambda: writer.put_many(1, np.array([500], np.uint64), entities([500])),
        lambda: writer.delete(1, 1),
        lambda: writer.delete_many(1, [1, 2]),
    ):
        with pytest.raises(podsync.ViewsAliveError, match="view"):
            call()
    assert isinstance(podsync.ViewsAliveError("x"), BufferError)
    assert writer.info().generation == gen and writer.count(1) == 100
    assert np.array_equal(recs, before)
    # reads and flushes do not move records: allowed, and the view stays valid
    writer.flush()
    writer.snapshot()
    assert writer.info().generation == gen and np.array_equal(recs, before)
    del recs
    writer.put(1, 1, entities([1], seed=3)[0])  # allowed again
    assert writer.info().generation != gen


def test_derived_arrays_keep_the_guard(writer: podsync.Writer) -> None:
    fill(writer)
    pos = writer.table(1)["pos"][10:20, 0]  # a field view of a slice: base chain to the export
    k = writer.keys(1)[::2]
    mv = memoryview(writer.table(1))
    with pytest.raises(podsync.ViewsAliveError):
        writer.delete(1, 5)
    del pos, k
    with pytest.raises(podsync.ViewsAliveError):
        writer.delete(1, 5)
    mv.release()
    assert writer.delete(1, 5) is True


def test_copies_do_not_hold_the_guard(writer: podsync.Writer) -> None:
    fill(writer)
    copy = writer.table(1).copy()
    keys = np.array(writer.keys(1))
    writer.delete_many(1, keys[:50])
    assert writer.count(1) == 50 and len(copy) == 100 and copy.flags.writeable


def test_reference_cycles_are_collected_before_refusing(writer: podsync.Writer) -> None:
    fill(writer)
    holder: dict[str, object] = {"arr": writer.table(1)}
    holder["self"] = holder  # a cycle: only the garbage collector frees it
    del holder
    writer.delete(1, 1)  # the binding runs gc once before refusing


def test_view_context_manager(writer: podsync.Writer, replica: podsync.Replica) -> None:
    keys = fill(writer)
    for f in writer.flush():
        replica.apply(f)
    with replica.view(1) as v:
        assert len(v) == 100 and set(v.keys.tolist()) == set(keys.tolist())
        assert v.generation == replica.info().generation
        total = float(v.records["pos"][:, 0].sum())
        writer.delete(1, 1)
        (frame,) = writer.flush()
        with pytest.raises(podsync.ViewsAliveError):
            replica.apply(frame)  # apply is refused while the view is alive
    assert total == float(keys.sum())
    with pytest.raises(podsync.ClosedError):
        v.records
    assert replica.apply(frame) == podsync.ApplyResult.OK  # the block released it


def test_view_kept_past_the_block_still_guards(writer: podsync.Writer) -> None:
    fill(writer)
    with writer.view(1) as v:
        leaked = v.records
    with pytest.raises(podsync.ViewsAliveError):
        writer.delete(1, 1)
    del leaked
    writer.delete(1, 1)


def test_close_with_live_views_defers_the_free(schema: podsync.Schema) -> None:
    w = podsync.Writer(schema)
    fill(w, 1000, seed=2)
    recs = w.table(1)
    keys = w.keys(1)
    expected = entities(np.sort(keys), 2)
    handle = w._handle
    assert handle is not None
    w.close()  # the store is closed for Python, but the memory stays until the views die
    with pytest.raises(podsync.ClosedError):
        w.table(1)
    gc.collect()
    order = np.argsort(keys)
    assert np.array_equal(recs[order], expected)  # still valid memory
    assert handle.ptr is not None  # not freed yet
    del recs, keys
    assert handle.ptr is None  # the last view died: the engine store was freed


def test_empty_table_view(writer: podsync.Writer) -> None:
    recs = writer.table(1)
    assert recs.shape == (0,) and recs.dtype == ENTITY and not recs.flags.writeable
    assert writer.views_alive == 0
    writer.put(1, 1, entities([1])[0])


def test_view_creation_is_o1(writer: podsync.Writer) -> None:
    """Not a benchmark: a view of 100,000 records costs about what a view of 10 does."""

    def per_view(n: int) -> float:
        with podsync.Writer(writer.schema()) as w:
            fill(w, n)
            for _ in range(50):
                w.table(1)
            start = time.perf_counter()
            for _ in range(500):
                w.table(1)
            return (time.perf_counter() - start) / 500

    small, large = per_view(10), per_view(100_000)
    assert large < small * 5 + 20e-6, (small, large)


def test_stale_view_cannot_exist_under_replica_churn(schema: podsync.Schema) -> None:
    """Many applies that grow and shrink the table (moving memory): every view taken is checked
    against a copy at the end of its life, and none ever observes a change."""
    rng = np.random.default_rng(7)
    with podsync.Writer(schema) as w, podsync.Replica(schema) as r:
        for step in range(30):
            keys = rng.choice(5000, size=int(rng.integers(1, 2000)), replace=False).astype(np.uint64) + 1
            w.put_many(1, keys, entities(keys, seed=step))
            w.delete_many(1, rng.choice(5000, size=500).astype(np.uint64) + 1)
            frames = w.flush()
            view = r.table(1)
            snapshot = view.copy()
            for f in frames:
                if len(view):  # an empty table has no memory to protect
                    with pytest.raises(podsync.ViewsAliveError):
                        r.apply(f)
            assert np.array_equal(view, snapshot)
            del view
            for f in frames:
                r.apply(f)
        assert r.digest() == w.digest()
