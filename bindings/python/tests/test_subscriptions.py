"""Subscriptions (library 0.8.0): a ``podsync.Subscription`` names part of a stream (tables, key
ranges, shards); ``Store.subscribe`` makes an empty replica hold only that part; ``Store.feed`` on
the writer returns the subscription's feed, a store that follows the writer's flushes and produces
the subset's frames; a replica applies only frames of its own subscription (``NotSubscribed``)."""

from __future__ import annotations

import ctypes
import gc
import pickle
import struct
from collections.abc import Iterator

import numpy as np
import pytest

import podsync
from _support import ITEM, XXH3, entities, state

OK = podsync.ApplyResult.OK


def items(ks: np.ndarray, seed: int = 0) -> np.ndarray:
    recs = np.zeros(len(ks), ITEM)
    recs["a"] = np.asarray(ks, dtype=np.uint64).astype(np.uint32)
    recs["b"] = seed
    return recs


def in_ranges(key: int, ranges: tuple[tuple[int, int], ...] | None) -> bool:
    return ranges is None or any(lo <= key <= hi for lo, hi in ranges)


def subset(store: podsync.Store, table: int, ranges: tuple[tuple[int, int], ...] | None) -> dict[int, bytes]:
    """The store's records of `table` whose key lies in `ranges` (inclusive; None: every key)."""
    return {k: v for k, v in state(store, table).items() if in_ranges(k, ranges)}


def expected(writer: podsync.Writer, sub: podsync.Subscription) -> dict[int, dict[int, bytes]]:
    """What a subscriber of a subscription without shards holds: the writer's records, filtered."""
    out = {t: {} for t in writer.tables}  # type: dict[int, dict[int, bytes]]
    for t, ranges in sub.tables.items():
        out[t] = subset(writer, t, ranges)
    return out


def holds(store: podsync.Store) -> dict[int, dict[int, bytes]]:
    return {t: state(store, t) for t in store.tables}


def frame_keys(frame: podsync.Frame, schema: podsync.Schema) -> dict[int, tuple[set[int], set[int]]]:
    """table -> (put keys, deleted keys) of a frame."""
    out: dict[int, tuple[set[int], set[int]]] = {}
    for sec in podsync.sections(frame, schema):
        puts, dels = out.setdefault(sec.table_id, (set(), set()))
        puts.update(sec.put_keys.tolist())
        dels.update(sec.delete_keys.tolist())
    return out


def address(store: podsync.Store) -> int:
    return ctypes.cast(store._handle.ptr, ctypes.c_void_p).value or 0


def fingerprint(store: podsync.Store) -> tuple[object, ...]:
    info = store.info()
    return holds(store), info.state_version, info.digest, info.stream_id, info.diverged


KEYS = np.arange(1, 1001, dtype=np.uint64)
SUB = podsync.Subscription({1: [(10, 99), (500, 599)], 2: None})


@pytest.fixture
def loaded(writer: podsync.Writer) -> podsync.Writer:
    """The writer with 1,000 entities and 1,000 items, flushed once (version 1)."""
    writer.put_many(1, KEYS, entities(KEYS))
    writer.put_many(2, KEYS, items(KEYS))
    assert len(writer.flush()) == 1
    return writer


@pytest.fixture
def feed(loaded: podsync.Writer) -> Iterator[podsync.Store]:
    with loaded.feed(SUB) as f:
        yield f


@pytest.fixture
def subscriber(schema: podsync.Schema) -> Iterator[podsync.Replica]:
    with podsync.Replica(schema) as r:
        r.subscribe(SUB)
        yield r


# --- the value -------------------------------------------------------------------------------


def test_a_subscription_encodes_canonically_and_is_a_value(xxh3: XXH3) -> None:
    sub = podsync.Subscription({1: [(10, 99), (500, 599)], 2: None}, shard_bits=3, shards=[1, 6])
    raw = sub.encode()
    # docs/FORMAT.md, "Subscriptions": magic, shard_bits u8, shard_count u32, shards, table_count
    # u32, then per table its id, range_count and (lo, hi) u64 pairs; little-endian.
    want = b"PSYNSUB1" + struct.pack("<BI2II", 3, 2, 1, 6, 2)
    want += struct.pack("<II4Q", 1, 2, 10, 99, 500, 599) + struct.pack("<II", 2, 0)
    assert raw == want and bytes(sub) == raw and sub.to_bytes() == raw
    assert sub.hash == xxh3(raw) != 0
    assert sub.tables == {1: ((10, 99), (500, 599)), 2: None}
    assert (sub.shard_bits, sub.shards) == (3, (1, 6))
    # Equal by encoding: an iterable of ids, empty ranges and numpy integers say the same.
    assert podsync.Subscription([1, 2]) == podsync.Subscription({1: None, 2: []})
    assert podsync.Subscription({np.uint32(1): [np.array([10, 99], np.uint64)]}) == podsync.Subscription({1: [(10, 99)]})
    assert podsync.Subscription([1]) != podsync.Subscription([2]) and podsync.Subscription([1]).hash != podsync.Subscription([2]).hash
    assert len({sub, podsync.Subscription({1: [(10, 99), (500, 599)], 2: None}, shard_bits=3, shards=(1, 6))}) == 1
    assert pickle.loads(pickle.dumps(sub)) == sub
    assert repr(sub) == "podsync.Subscription({1: [(10, 99), (500, 599)], 2: None}, shard_bits=3, shards=[1, 6])"
    assert podsync.Subscription({1: [(0, 2**64 - 1)]}).tables == {1: ((0, 2**64 - 1),)}


@pytest.mark.parametrize(
    "tables, kwargs, words",
    [
        ({1: [(99, 10)]}, {}, "inverted"),
        ({2: None, 1: None}, {}, "ascending"),  # tables out of order
        ([1, 1], {}, "ascending"),  # a table twice
        ({1: [(500, 599), (10, 99)]}, {}, "overlaps or touches"),  # ranges out of order
        ({1: [(10, 99), (50, 599)]}, {}, "overlaps or touches"),
        ({1: [(10, 99), (100, 599)]}, {}, "overlaps or touches"),  # adjacent
        ({}, {}, "at least one table"),
        ([1], {"shard_bits": 17, "shards": [0]}, "shard_bits"),
        ([1], {"shard_bits": 0, "shards": [0]}, ""),  # shards without shard bits
        ([1], {"shard_bits": 2, "shards": [4]}, ""),  # shard id past 2**bits
        ([1], {"shard_bits": 2, "shards": [2, 1]}, ""),  # shards out of order
        ([1], {"shard_bits": 2, "shards": []}, ""),  # shard bits keeping no shard
    ],
)  # fmt: skip
def test_the_library_refuses_subscriptions_that_break_a_rule(tables: object, kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(podsync.InvalidArgument) as exc:
        podsync.Subscription(tables, **kwargs)  # type: ignore[arg-type]
    assert exc.value.status == podsync.Status.E_INVALID_ARGUMENT
    assert exc.value.call == "podsync_subscription_encode" and words in exc.value.message


def test_the_binding_refuses_what_is_no_subscription() -> None:
    with pytest.raises(podsync.OutOfRangeError):
        podsync.Subscription({1: [(-1, 5)]})
    with pytest.raises(podsync.OutOfRangeError):
        podsync.Subscription({2**32: None})
    with pytest.raises(podsync.OutOfRangeError):
        podsync.Subscription([1], shard_bits=-1)
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.Subscription({1: [(1.5, 5)]})
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.Subscription({1: [(1, 2, 3)]})  # not a pair
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.Subscription({1: (1, 5)})  # a pair, not a sequence of pairs
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.Subscription(1)  # type: ignore[arg-type]
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.Subscription([1], shards=3)  # type: ignore[arg-type]


def test_tables_the_schema_lacks_are_refused_by_subscribe_and_feed(
    writer: podsync.Writer, replica: podsync.Replica
) -> None:
    sub = podsync.Subscription({1: None, 7: None})  # a valid encoding: the schema decides
    with pytest.raises(podsync.InvalidArgument) as exc:
        replica.subscribe(sub)
    assert "7" in exc.value.message
    with pytest.raises(podsync.InvalidArgument):
        writer.feed(sub)
    assert replica.subscription is None
    # Bytes are checked by the library, every one of them.
    for bad in (b"", b"PSYNSUB1", SUB.encode()[:-1], SUB.encode() + b"\0", b"X" + SUB.encode()[1:]):
        with pytest.raises(podsync.InvalidArgument):
            replica.subscribe(bad)
        with pytest.raises(podsync.InvalidArgument):
            writer.feed(bad)
    with pytest.raises(podsync.ArgumentTypeError):
        replica.subscribe({1: None})  # type: ignore[arg-type]
    with pytest.raises(podsync.ArgumentTypeError):
        writer.feed(None)  # type: ignore[arg-type]
    assert replica.subscription is None
    replica.subscribe(bytearray(SUB.encode()))  # any buffer
    assert replica.subscription == (SUB.encode(), SUB.hash)


def test_not_subscribed_is_an_error_of_its_own() -> None:
    assert podsync.Status.E_NOT_SUBSCRIBED == -27
    assert podsync.status_name(-27) == "PODSYNC_E_NOT_SUBSCRIBED"
    err = podsync.error_for(-27, "m", call="podsync_store_apply")
    assert type(err) is podsync.NotSubscribed and isinstance(err, podsync.PodSyncError)
    assert not isinstance(err, (podsync.FrameError, podsync.Diverged, podsync.UsageError))
    assert pickle.loads(pickle.dumps(err)).status == -27
    assert "NotSubscribed" in podsync.__all__ and "Subscription" in podsync.__all__


# --- feeds and subscribers -----------------------------------------------------------------


def test_a_subscriber_follows_its_feed_and_holds_exactly_the_subset(
    schema: podsync.Schema, loaded: podsync.Writer, feed: podsync.Store, subscriber: podsync.Replica
) -> None:
    w = loaded
    assert type(feed) is podsync.Store and feed.role == podsync.Role.WRITER
    assert feed.subscription == (SUB.encode(), SUB.hash) == subscriber.subscription
    assert w.subscription is None
    # The feed holds the writer's records of the subset, at the writer's version.
    assert holds(feed) == expected(w, SUB)
    assert feed.count(1) == 190 and feed.count(2) == 1000
    assert feed.version == w.version == feed.info().catchup_floor == 1
    assert feed.info().stream_id == w.info().stream_id

    (snap,) = feed.snapshot(copy=True)
    info = podsync.peek(snap)
    assert info.format_version == 2 and info.is_snapshot and info.state_version == 1
    assert info.state_digest == feed.digest() != w.digest()
    assert subscriber.apply(snap) == OK
    assert holds(subscriber) == expected(w, SUB) and subscriber.digest() == feed.digest()

    for rnd in range(1, 6):
        # Changes inside and outside the ranges, puts and deletes, in both tables.
        rng = np.random.default_rng(rnd)
        ks = np.unique(rng.integers(1, 1200, 80, dtype=np.uint64))
        w.put_many(1, ks, entities(ks, seed=rnd))
        w.delete_many(1, rng.integers(1, 1000, 20, dtype=np.uint64))
        w.put_many(2, ks[:10], items(ks[:10], seed=rnd))
        w.delete(2, int(ks[-1]))
        frames = w.flush()
        assert len(frames) == 1
        assert feed.flush_due()
        (frame,) = feed.flush()
        assert not feed.flush_due()
        for t, (puts, dels) in frame_keys(frame, schema).items():
            assert all(in_ranges(k, SUB.tables[t]) for k in puts | dels), t
        assert podsync.peek(frame).state_version == w.version == feed.version == 1 + rnd
        assert subscriber.apply(frame) == OK
        assert holds(subscriber) == expected(w, SUB) == holds(feed)
        assert subscriber.digest() == feed.digest() and subscriber.version == w.version


def test_versions_jump_over_flushes_that_change_nothing_in_the_subset(
    loaded: podsync.Writer, feed: podsync.Store, subscriber: podsync.Replica
) -> None:
    w = loaded
    assert [subscriber.apply(f) for f in feed.snapshot()] == [OK]
    w.put(1, 200, entities([200], seed=1)[0])  # outside the ranges
    w.flush()
    assert w.version == 2 and not feed.flush_due()
    assert feed.flush() == [] and feed.version == 1  # no frame, no version
    w.put(1, 50, entities([50], seed=1)[0])
    w.flush()
    (frame,) = feed.flush()
    info = podsync.peek(frame)
    assert (info.base_version, info.state_version) == (1, 3) and feed.version == w.version == 3
    assert subscriber.apply(frame) == OK and subscriber.version == 3
    # Several writer flushes make one feed frame, at the writer's version.
    for k in (11, 12, 13):
        w.put(1, k, entities([k], seed=2)[0])
        w.flush()
    (frame,) = feed.flush()
    assert (podsync.peek(frame).base_version, podsync.peek(frame).state_version) == (3, 6)
    assert subscriber.apply(frame) == OK and subscriber.digest() == feed.digest()
    assert holds(subscriber) == expected(w, SUB)


def test_late_subscribers_catch_up_from_the_feed(
    schema: podsync.Schema, loaded: podsync.Writer, feed: podsync.Store, subscriber: podsync.Replica
) -> None:
    w = loaded
    assert [subscriber.apply(f) for f in feed.catch_up(0)] == [OK]  # delta_since(0): a snapshot
    v = subscriber.version
    w.put_many(1, KEYS[:100], entities(KEYS[:100], seed=3))
    w.flush()
    lost = feed.flush(copy=True)
    w.delete(1, 60)
    w.flush()
    (later,) = feed.flush(copy=True)
    assert len(lost) == 1
    assert subscriber.apply(later) == podsync.ApplyResult.GAP  # nothing changed
    (delta,) = feed.delta_since(v)
    assert podsync.peek(delta).base_version == v and not podsync.peek(delta).is_snapshot
    assert subscriber.apply(delta) == OK
    assert holds(subscriber) == expected(w, SUB) and subscriber.digest() == feed.digest()
    assert subscriber.apply(later) == podsync.ApplyResult.DUPLICATE
    # A feed made now describes no older version: below its catch-up floor, a snapshot.
    with w.feed(podsync.Subscription([2])) as late:
        assert late.info().catchup_floor == late.version == w.version == 3
        with pytest.raises(podsync.SnapshotRequired):
            late.delta_since(1)
        (frame,) = late.catch_up(1)
        assert podsync.peek(frame).is_snapshot
    # A subscriber serves further subscribers of its subscription.
    with podsync.Replica(schema) as second:
        second.subscribe(SUB)
        assert [second.apply(f) for f in subscriber.snapshot()] == [OK]
        assert holds(second) == holds(subscriber) and second.digest() == feed.digest()
        w.put(1, 70, entities([70], seed=4)[0])
        w.flush()
        (frame,) = feed.flush()
        assert second.apply(frame) == OK == subscriber.apply(frame)
        assert holds(second) == expected(w, SUB)


def test_a_chunked_snapshot_of_a_feed_fills_a_subscriber(
    loaded: podsync.Writer, feed: podsync.Store, subscriber: podsync.Replica
) -> None:
    results = [subscriber.apply(chunk) for chunk in feed.snapshot_chunks(2048)]
    assert len(results) > 2 and results[-1] == OK
    assert set(results[:-1]) == {podsync.ApplyResult.CHUNK_STAGED}
    assert holds(subscriber) == expected(loaded, SUB) and subscriber.digest() == feed.digest()


def test_shards_split_the_stream_into_disjoint_parts_that_make_it_whole(schema: podsync.Schema) -> None:
    bits = 2
    with podsync.Writer(schema, manual_clock=True) as w:
        keys = np.random.default_rng(7).permutation(np.arange(1, 4001, dtype=np.uint64) * np.uint64(7919))
        w.put_many(1, keys, entities(keys))
        w.put_many(2, keys[:1000], items(keys[:1000]))
        w.flush()
        subs = [podsync.Subscription([1, 2], shard_bits=bits, shards=[s]) for s in range(1 << bits)]
        feeds = [w.feed(s) for s in subs]
        replicas = [podsync.Replica(schema) for _ in subs]
        try:
            for r, f, s in zip(replicas, feeds, subs):
                r.subscribe(s)
                assert [r.apply(x) for x in f.snapshot()] == [OK]
            w.put_many(1, keys[:500], entities(keys[:500], seed=1))
            w.delete_many(1, keys[500:700])
            w.delete_many(2, keys[:50])
            w.flush()
            for r, f in zip(replicas, feeds):
                assert [r.apply(x) for x in f.flush()] == [OK]
                assert r.digest() == f.digest() and r.version == w.version
            for t, total in ((1, 3800), (2, 950)):
                parts = [state(r, t) for r in replicas]
                union: dict[int, bytes] = {}
                for part in parts:
                    assert not set(part) & set(union)  # disjoint
                    union.update(part)
                    assert 0.15 * total < len(part) < 0.35 * total  # about a quarter each
                assert union == state(w, t)
            # Two shards together hold what their two replicas hold.
            with w.feed(podsync.Subscription([1], shard_bits=bits, shards=[0, 2])) as pair:
                assert state(pair, 1) == {**state(replicas[0], 1), **state(replicas[2], 1)}
                assert pair.count(2) == 0
            # Ranges and shards together: the keys of both.
            ranged = podsync.Subscription({1: [(0, 7919 * 2000)]}, shard_bits=bits, shards=[3])
            with w.feed(ranged) as f:
                assert state(f, 1) == {k: v for k, v in state(replicas[3], 1).items() if k <= 7919 * 2000}
        finally:
            for store in feeds + replicas:
                store.close()


# --- the rules a subscription keeps ----------------------------------------------------------


def test_frames_of_another_part_of_the_stream_raise_not_subscribed(
    schema: podsync.Schema, loaded: podsync.Writer, feed: podsync.Store, subscriber: podsync.Replica
) -> None:
    w = loaded
    assert [subscriber.apply(f) for f in feed.snapshot()] == [OK]
    w.put(1, 20, entities([20], seed=1)[0])
    (whole,) = w.flush(copy=True)
    (part,) = feed.flush(copy=True)
    (whole_snapshot,) = w.snapshot(copy=True)
    (part_snapshot,) = feed.snapshot(copy=True)

    # A subscriber refuses the whole stream's frames, nothing changed.
    before = fingerprint(subscriber)
    for frame in (whole, whole_snapshot):
        with pytest.raises(podsync.NotSubscribed) as exc:
            subscriber.apply(frame)
        assert exc.value.status == podsync.Status.E_NOT_SUBSCRIBED and "whole stream" in exc.value.message
    assert fingerprint(subscriber) == before

    with podsync.Replica(schema) as plain, podsync.Replica(schema) as other:
        # A replica without a subscription refuses a feed's frames...
        for frame in (part, part_snapshot):
            with pytest.raises(podsync.NotSubscribed):
                plain.apply(frame)
        assert plain.version == 0 and plain.count(1) == 0
        # ... and keeps following the whole stream.
        assert plain.apply(whole_snapshot) == OK and holds(plain) == holds(w)
        with pytest.raises(podsync.NotSubscribed):
            plain.apply(part)
        # A replica of another subscription refuses them too.
        other.subscribe(podsync.Subscription({1: [(10, 99)]}))
        for frame in (part, part_snapshot, whole):
            with pytest.raises(podsync.NotSubscribed):
                other.apply(frame)
        assert other.version == 0

    assert subscriber.apply(part) == OK and holds(subscriber) == expected(w, SUB)


def test_subscribe_is_for_an_empty_replica_once(
    schema: podsync.Schema, loaded: podsync.Writer, replica: podsync.Replica
) -> None:
    with pytest.raises(podsync.WrongRole):
        loaded.subscribe(SUB)
    for frame in loaded.snapshot():
        replica.apply(frame)
    before = fingerprint(replica)
    with pytest.raises(podsync.InvalidArgument) as exc:
        replica.subscribe(SUB)  # it holds records and follows a stream
    assert exc.value.status == podsync.Status.E_INVALID_ARGUMENT
    assert fingerprint(replica) == before and replica.subscription is None
    with podsync.Replica(schema) as r:
        r.subscribe(SUB)
        with pytest.raises(podsync.InvalidArgument):
            r.subscribe(SUB)  # once
        with pytest.raises(podsync.InvalidArgument):
            r.subscribe(podsync.Subscription([2]))
        assert r.subscription == (SUB.encode(), SUB.hash)
    with podsync.Replica(schema) as r:
        # A replica that followed a stream, even emptied, cannot.
        with podsync.Writer(schema) as empty:
            empty.put(1, 1, entities([1])[0])
            empty.flush()
            empty.delete(1, 1)
            empty.flush()
            for frame in empty.snapshot():
                r.apply(frame)
        assert r.count(1) == 0
        with pytest.raises(podsync.InvalidArgument):
            r.subscribe(SUB)


def test_a_feed_is_written_only_by_its_writer(
    loaded: podsync.Writer, feed: podsync.Store, subscriber: podsync.Replica
) -> None:
    before = holds(feed)
    with pytest.raises(podsync.WrongRole) as exc:
        feed.put(1, 20, entities([20])[0])
    assert exc.value.status == podsync.Status.E_WRONG_ROLE
    with pytest.raises(podsync.WrongRole):
        feed.put_many(1, KEYS[:3], entities(KEYS[:3]))
    with pytest.raises(podsync.WrongRole):
        feed.delete(1, 20)
    with pytest.raises(podsync.WrongRole):
        feed.delete_many(1, KEYS[:3])
    with pytest.raises(podsync.WrongRole):
        feed.feed(SUB)  # a feed serves no feeds
    with pytest.raises(podsync.WrongRole):
        subscriber.feed(SUB)  # nor does a replica
    with pytest.raises(podsync.WrongRole):
        feed.subscribe(SUB)
    with pytest.raises(podsync.WrongRole):
        feed.apply(loaded.snapshot()[0])
    assert holds(feed) == before and not feed.flush_due()


def test_a_feed_made_before_the_first_flush_starts_empty(schema: podsync.Schema, writer: podsync.Writer) -> None:
    writer.put(1, 20, entities([20])[0])  # pending: not in the feed
    with writer.feed(SUB) as f, podsync.Replica(schema) as r:
        r.subscribe(SUB)
        assert f.version == 0 and f.count(1) == 0 and f.flush() == []
        writer.flush()
        assert f.get(1, 20) is not None
        (frame,) = f.flush()
        assert r.apply(frame) == OK and r.version == writer.version == f.version == 1
        assert holds(r) == expected(writer, SUB) and r.digest() == f.digest()


# --- references and memory -------------------------------------------------------------------


def test_the_same_subscription_gives_the_same_feed_with_a_reference_each(
    schema: podsync.Schema, loaded: podsync.Writer, subscriber: podsync.Replica
) -> None:
    w = loaded
    a = w.feed(SUB)
    b = w.feed(SUB.encode())
    c = w.feed(podsync.Subscription([1]))
    assert a is not b and address(a) == address(b) != address(c)
    assert [subscriber.apply(f) for f in a.snapshot()] == [OK]
    # b sees what a's writer flushed, and a flush through either moves the one feed.
    w.put(1, 20, entities([20], seed=1)[0])
    w.flush()
    assert a.flush_due() and b.flush_due()
    (frame,) = b.flush()
    assert not a.flush_due() and a.version == b.version == w.version
    assert subscriber.apply(frame) == OK
    # Closing one object releases its reference only: the feed keeps following the writer.
    a.close()
    assert a.closed and not b.closed
    with pytest.raises(podsync.ClosedError):
        a.flush()
    w.put(1, 21, entities([21], seed=1)[0])
    w.flush()
    (frame,) = b.flush()
    assert subscriber.apply(frame) == OK and holds(subscriber) == expected(w, SUB)
    # A third object of the same feed, then every one released: a new feed starts afresh.
    d = w.feed(SUB)
    assert address(d) == address(b) and d.version == w.version
    b.close()
    d.close()
    c.close()
    del a, b, c, d
    gc.collect()
    with w.feed(SUB) as fresh:
        assert fresh.version == w.version and holds(fresh) == expected(w, SUB)
        assert fresh.info().catchup_floor == w.version  # made now, not the old feed


def test_objects_of_one_feed_share_its_outbox(loaded: podsync.Writer) -> None:
    w = loaded
    with w.feed(SUB) as a, w.feed(SUB) as b:
        frames = a.snapshot()
        assert len(frames[0]) > 0
        b.snapshot()  # reuses the feed's outbox: a's frames are released
        with pytest.raises(ValueError):
            len(frames[0])
        frames = a.snapshot()
        keys = np.frombuffer(frames[0], dtype=np.uint8)  # derived from a borrowed frame
        with pytest.raises(podsync.ViewsAliveError):
            b.flush()
        with pytest.raises(podsync.ViewsAliveError):
            b.snapshot()
        del keys
        assert b.snapshot(copy=True)
        # A message of one object given to the other: read before the outbox is reused.
        (message,) = a.summary()
        assert b.reconcile(message) == []


def test_views_of_a_feeds_records_hold_back_the_writers_flush(loaded: podsync.Writer, feed: podsync.Store) -> None:
    w = loaded
    w.put(1, 20, entities([20], seed=1)[0])
    view = feed.table(1)
    assert len(view) == 190
    version = w.version
    with pytest.raises(podsync.ViewsAliveError):
        w.flush()
    assert w.version == version and w.info().pending_changes == 1 and not feed.flush_due()
    del view
    with feed.view(1) as v:
        assert len(v) == 190
    assert len(w.flush()) == 1 and feed.flush_due()
    # A closed feed object whose views are alive still holds the feed, and the rule.
    keys = feed.keys(1)
    feed.close()
    w.put(1, 21, entities([21], seed=1)[0])
    with pytest.raises(podsync.ViewsAliveError):
        w.flush()
    assert 20 in keys.tolist()
    del keys
    assert len(w.flush()) == 1
    # Views of the writer's own records hold back writes, not flushes (as before).
    view = w.table(1)
    assert w.flush() == []
    del view


def test_a_feed_outlives_its_writer(schema: podsync.Schema, loaded: podsync.Writer, subscriber: podsync.Replica) -> None:
    w = loaded
    feed = w.feed(SUB)
    try:
        w.put(1, 20, entities([20], seed=1)[0])
        w.flush()
        want = expected(w, SUB)
        w.close()
        del w
        gc.collect()
        assert holds(feed) == want
        (frame,) = feed.flush()
        assert [subscriber.apply(f) for f in feed.snapshot()] == [OK]
        assert holds(subscriber) == want and subscriber.digest() == feed.digest()
        assert feed.flush() == [] and not feed.flush_due()
    finally:
        feed.close()


# --- reconciliation ----------------------------------------------------------------------------


def test_reconciliation_heals_a_subscriber_that_missed_frames(
    schema: podsync.Schema, loaded: podsync.Writer, feed: podsync.Store, subscriber: podsync.Replica
) -> None:
    w = loaded
    assert [subscriber.apply(f) for f in feed.snapshot()] == [OK]
    for rnd in range(3):  # every frame lost
        w.put_many(1, KEYS[rnd * 30 : rnd * 30 + 40], entities(KEYS[rnd * 30 : rnd * 30 + 40], seed=rnd + 1))
        w.delete(2, 900 + rnd)
        w.flush()
        feed.flush()
    assert subscriber.digest() != feed.digest()

    result = podsync.reconcile(subscriber, feed)
    assert result.repaired and result.result is OK
    assert holds(subscriber) == expected(w, SUB) == holds(feed)
    assert (subscriber.digest(), subscriber.version) == (feed.digest(), feed.version) == (feed.digest(), w.version)
    # By hand, bytes only, as across processes: the repair carries the subscription.
    w.put(1, 20, entities([20], seed=9)[0])
    w.flush()
    feed.flush()
    (message,) = subscriber.summary(copy=True)
    while True:
        (answer,) = feed.reconcile(message, copy=True)
        if podsync.peek(answer).is_repair:
            break
        (message,) = subscriber.reconcile(answer, copy=True)
    with podsync.Replica(schema) as plain:
        for f in w.snapshot():
            plain.apply(f)
        with pytest.raises(podsync.NotSubscribed):
            plain.apply(answer)  # a repair of the subset is no repair of the whole stream
    assert subscriber.apply(answer) == OK and holds(subscriber) == expected(w, SUB)
    # Then it continues with the feed's frames.
    w.put(1, 21, entities([21], seed=9)[0])
    w.flush()
    assert [subscriber.apply(f) for f in feed.flush()] == [OK]
    assert subscriber.digest() == feed.digest()


def test_summaries_of_another_part_of_the_stream_raise_not_subscribed(
    schema: podsync.Schema, loaded: podsync.Writer, feed: podsync.Store, subscriber: podsync.Replica
) -> None:
    w = loaded
    assert [subscriber.apply(f) for f in feed.snapshot()] == [OK]
    (message,) = subscriber.summary(copy=True)
    with pytest.raises(podsync.NotSubscribed):
        w.reconcile(message)  # the writer holds the whole stream
    with pytest.raises(podsync.NotSubscribed):
        podsync.reconcile(subscriber, w)
    with podsync.Replica(schema) as plain:
        for f in w.snapshot():
            plain.apply(f)
        with pytest.raises(podsync.NotSubscribed):
            podsync.reconcile(plain, feed)
        assert holds(plain) == holds(w)
    assert holds(subscriber) == expected(w, SUB)


# --- relays: a replica of the whole stream serves feeds ------------------------------------------


def tick(w: podsync.Writer, rnd: int) -> None:
    """Puts and deletes inside and outside SUB's ranges, in both tables (not flushed)."""
    rng = np.random.default_rng(100 + rnd)
    ks = np.unique(rng.integers(1, 1200, 60, dtype=np.uint64))
    w.put_many(1, ks, entities(ks, seed=rnd))
    w.delete_many(1, rng.integers(1, 1000, 15, dtype=np.uint64))
    w.put_many(2, ks[:8], items(ks[:8], seed=rnd))
    w.delete(2, int(ks[-1]))


@pytest.fixture
def relay(schema: podsync.Schema, loaded: podsync.Writer) -> Iterator[podsync.Replica]:
    """A replica of the whole stream that applied the loaded writer's snapshot."""
    with podsync.Replica(schema) as r:
        assert [r.apply(f) for f in loaded.snapshot()] == [OK]
        yield r


def test_a_relay_serves_feeds_from_the_frames_it_applies(
    schema: podsync.Schema, loaded: podsync.Writer, relay: podsync.Replica, subscriber: podsync.Replica
) -> None:
    w, r, s = loaded, relay, subscriber
    with w.feed(SUB) as wf, r.feed(SUB) as rf:
        # The relay's feed holds the relay's records of the subset, at its version.
        assert type(rf) is podsync.Store and rf.role == podsync.Role.WRITER
        assert rf.subscription == (SUB.encode(), SUB.hash) and r.subscription is None
        assert holds(rf) == expected(w, SUB) == holds(wf)
        assert rf.version == r.version == w.version == rf.info().catchup_floor == 1
        assert rf.digest() == wf.digest() and rf.info().stream_id == w.info().stream_id
        assert r.feed(SUB.encode()) is not rf  # the same feed, another reference
        gc.collect()
        (snap,) = rf.snapshot()
        assert podsync.peek(snap).format_version == 2 and podsync.peek(snap).state_version == 1
        assert s.apply(snap) == OK

        for rnd in range(1, 7):
            if rnd == 4:
                w.put(1, 200, entities([200], seed=rnd)[0])  # outside the ranges only
            else:
                tick(w, rnd)
            frames = w.flush(copy=True)
            assert len(frames) == 1
            assert [r.apply(f) for f in frames] == [OK]
            got = rf.flush()
            wf.flush()
            if rnd == 4:
                assert got == [] and not rf.flush_due() and rf.version == 4  # versions jump
                continue
            (frame,) = got
            for t, (puts, dels) in frame_keys(frame, schema).items():
                assert all(in_ranges(k, SUB.tables[t]) for k in puts | dels), t
            assert podsync.peek(frame).state_version == w.version == rf.version == r.version == 1 + rnd
            assert s.apply(frame) == OK
            assert holds(s) == expected(w, SUB) == holds(rf) == holds(wf)
            assert s.digest() == wf.digest() == rf.digest() and s.version == w.version

        # The relay misses a frame, then gets a snapshot of the writer: its feed is rebuilt.
        v = s.version
        chunks = rf.snapshot_chunks(2048)  # a chunked snapshot of the feed, in flight
        next(chunks)
        tick(w, 10)
        w.flush()  # lost on the way to the relay
        tick(w, 11)
        (later,) = w.flush(copy=True)
        before = fingerprint(rf)
        assert r.apply(later) == podsync.ApplyResult.GAP
        assert fingerprint(rf) == before and rf.flush() == []
        assert [r.apply(f) for f in w.snapshot()] == [OK]
        assert r.digest() == w.digest() and r.version == w.version == v + 2
        assert holds(rf) == expected(w, SUB) and rf.version == w.version
        assert rf.info().catchup_floor == rf.version  # the floor restarts at the snapshot
        with pytest.raises(podsync.SnapshotExpired):
            next(chunks)
        chunks.close()
        wf.flush()
        assert rf.digest() == wf.digest()

        # The subscriber, behind the floor, sees a gap, needs a snapshot and heals from it.
        tick(w, 12)
        (frame,) = w.flush(copy=True)
        assert r.apply(frame) == OK
        (delta,) = rf.flush(copy=True)
        wf.flush()
        assert podsync.peek(delta).base_version == v + 2 and s.version == v
        assert s.apply(delta) == podsync.ApplyResult.GAP
        with pytest.raises(podsync.SnapshotRequired):
            rf.delta_since(s.version)
        (heal,) = rf.catch_up(s.version)
        assert podsync.peek(heal).is_snapshot
        assert s.apply(heal) == OK
        assert s.apply(delta) == podsync.ApplyResult.DUPLICATE
        assert holds(s) == expected(w, SUB) == holds(rf)
        assert s.digest() == wf.digest() == rf.digest() and s.version == w.version == rf.version

        # And it follows the relay's feed again.
        tick(w, 13)
        (frame,) = w.flush()
        assert r.apply(frame) == OK
        assert [s.apply(f) for f in rf.flush()] == [OK]
        wf.flush()
        assert holds(s) == expected(w, SUB) and s.digest() == wf.digest()


def test_views_of_a_relay_feeds_records_hold_back_the_relays_apply(
    schema: podsync.Schema, loaded: podsync.Writer, relay: podsync.Replica
) -> None:
    w, r = loaded, relay
    rf = r.feed(SUB)
    tick(w, 1)
    (frame,) = w.flush(copy=True)
    view = rf.table(1)
    assert len(view) == 190
    before, feed_before = fingerprint(r), fingerprint(rf)
    with pytest.raises(podsync.ViewsAliveError):
        r.apply(frame)
    assert fingerprint(r) == before and fingerprint(rf) == feed_before and not rf.flush_due()
    # A snapshot (a rebuild of the feed) and a reconciliation's repair are refused alike.
    with pytest.raises(podsync.ViewsAliveError):
        r.apply(w.snapshot()[0])
    with pytest.raises(podsync.ViewsAliveError):
        podsync.reconcile(r, w)
    assert fingerprint(r) == before and fingerprint(rf) == feed_before
    # Views of the relay's own records hold back its apply as before; producing calls are free.
    del view
    own = r.table(1)
    with pytest.raises(podsync.ViewsAliveError):
        r.apply(frame)
    del own
    with rf.view(1) as v:
        assert len(v) == 190
        assert rf.snapshot(copy=True) and r.catch_up(0, copy=True)
    assert r.apply(frame) == OK and rf.flush_due()
    assert holds(rf) == expected(w, SUB)
    # A closed feed object whose views are alive still holds the feed, and the rule.
    keys = rf.keys(2)
    rf.close()
    tick(w, 2)
    (frame,) = w.flush(copy=True)
    with pytest.raises(podsync.ViewsAliveError):
        r.apply(frame)
    assert r.version == w.version - 1
    del keys
    assert r.apply(frame) == OK and r.digest() == w.digest()
    # Once every object of the feed is gone, the relay applies whatever is viewed nowhere.
    gc.collect()
    assert not r._feeds or not any(g.live() for g in r._feeds.values())


def test_only_a_relay_in_sync_serves_feeds(
    schema: podsync.Schema, loaded: podsync.Writer, subscriber: podsync.Replica
) -> None:
    w = loaded
    # A subscribed replica (and a feed) serve no feeds: WrongRole.
    with pytest.raises(podsync.WrongRole) as exc:
        subscriber.feed(SUB)
    assert exc.value.status == podsync.Status.E_WRONG_ROLE
    with w.feed(SUB) as wf, pytest.raises(podsync.WrongRole):
        wf.feed(SUB)
    # A replica that follows nothing yet makes an empty feed, rebuilt by its first snapshot.
    with podsync.Replica(schema) as r:
        with r.feed(SUB) as rf:
            assert rf.version == 0 and rf.count(1) == 0 and rf.flush() == []
            assert [r.apply(f) for f in w.snapshot()] == [OK]
            assert holds(rf) == expected(w, SUB) and rf.version == w.version
    # A one-way replica out of sync (refreshing) is no writer's state: Diverged.
    with podsync.Replica(schema, one_way=True) as r:
        assert [r.apply(f) for f in w.snapshot()] == [OK]
        tick(w, 1)
        w.flush()  # lost
        tick(w, 2)
        (frame,) = w.flush(copy=True)
        assert r.apply(frame) == podsync.ApplyResult.REFRESHING and r.info().refreshing
        with pytest.raises(podsync.Diverged) as dexc:
            r.feed(SUB)
        assert dexc.value.status == podsync.Status.E_DIVERGED
