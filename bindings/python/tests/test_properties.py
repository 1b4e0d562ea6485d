"""Property-based tests (hypothesis): random operation sequences over a lossy, duplicating,
reordering transport; a writer, a replica and a replica of the replica must converge."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import podsync
from _support import ENTITY, ITEM, entities, state

KEYS = st.integers(min_value=0, max_value=40)
TABLES = st.sampled_from([1, 2])
OK_RESULTS = {podsync.ApplyResult.OK, podsync.ApplyResult.DUPLICATE, podsync.ApplyResult.GAP, podsync.ApplyResult.STALE}


def apply_catch_up(replica: podsync.Replica, frames: list[podsync.Frame]) -> None:
    """Applies what catch_up returned: a delta or a one-frame snapshot (OK, or DUPLICATE when the
    replica already has it), or, since library 0.5.0, the chunks of a snapshot larger than
    max_frame_bytes: staged until the last, which switches (or all DUPLICATE at that version)."""
    infos = [podsync.peek(f) for f in frames]
    results = [replica.apply(f) for f in frames]
    if any(i.is_chunk for i in infos):
        assert all(i.is_chunk for i in infos) and infos[-1].is_last_chunk
        assert [i.chunk_index for i in infos] == list(range(len(infos)))
        staged = [podsync.ApplyResult.CHUNK_STAGED] * (len(frames) - 1)
        assert results in (staged + [podsync.ApplyResult.OK], [podsync.ApplyResult.DUPLICATE] * len(frames))
    else:
        # DUPLICATE: at version 0 the catch-up is the empty snapshot, which a replica already
        # following the stream has
        assert all(r in (podsync.ApplyResult.OK, podsync.ApplyResult.DUPLICATE) for r in results), results


def record(table: int, key: int, seed: int) -> bytes:
    if table == 1:
        return entities([key], seed)[0].tobytes()
    return np.array([(key, seed)], ITEM).tobytes()


def records(table: int, keys: list[int], seed: int) -> np.ndarray:
    if table == 1:
        return entities(keys, seed)
    out = np.zeros(len(keys), ITEM)
    out["a"] = keys
    out["b"] = seed
    return out


class Replication(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.schema = podsync.Schema({1: ENTITY, 2: ITEM})
        self.writer: podsync.Writer | None = None
        self.replica = podsync.Replica(self.schema, tombstone_horizon=3)
        self.chained = podsync.Replica(self.schema)
        self.model: dict[int, dict[int, bytes]] = {1: {}, 2: {}}  # the writer's state, pending included
        self.flushed: dict[int, dict[int, bytes]] = {1: {}, 2: {}}
        self.network: list[bytes] = []

    @rule(horizon=st.sampled_from([0, 2, 5]), max_frame=st.sampled_from([0, 512, 2048]))
    @precondition(lambda self: self.writer is None)
    def start(self, horizon: int, max_frame: int) -> None:
        self.writer = podsync.Writer(self.schema, tombstone_horizon=horizon, max_frame_bytes=max_frame)

    @property
    def w(self) -> podsync.Writer:
        assert self.writer is not None
        return self.writer

    @rule(table=TABLES, key=KEYS, seed=st.integers(0, 3))
    @precondition(lambda self: self.writer is not None)
    def put(self, table: int, key: int, seed: int) -> None:
        rec = record(table, key, seed)
        self.w.put(table, key, rec)
        self.model[table][key] = rec

    @rule(table=TABLES, keys=st.lists(KEYS, max_size=25), seed=st.integers(0, 3))
    @precondition(lambda self: self.writer is not None)
    def put_many(self, table: int, keys: list[int], seed: int) -> None:
        recs = records(table, keys, seed)
        self.w.put_many(table, np.array(keys, np.uint64), recs)
        for i, k in enumerate(keys):  # a later duplicate wins
            self.model[table][k] = recs[i].tobytes()

    @rule(table=TABLES, key=KEYS)
    @precondition(lambda self: self.writer is not None)
    def delete(self, table: int, key: int) -> None:
        assert self.w.delete(table, key) == (key in self.model[table])
        self.model[table].pop(key, None)

    @rule(table=TABLES, keys=st.lists(KEYS, max_size=10, unique=True))
    @precondition(lambda self: self.writer is not None)
    def delete_many(self, table: int, keys: list[int]) -> None:
        expected = sum(k in self.model[table] for k in keys)
        assert self.w.delete_many(table, np.array(keys, np.uint64)) == expected
        for k in keys:
            self.model[table].pop(k, None)

    @rule(copy=st.booleans())
    @precondition(lambda self: self.writer is not None)
    def flush(self, copy: bool) -> None:
        frames = self.w.flush(copy=copy)
        self.network.extend(bytes(f) for f in frames)
        self.flushed = {t: dict(m) for t, m in self.model.items()}
        assert self.w.digest() == self.reference_digest()

    def reference_digest(self) -> int:
        """The writer's digest equals that of a fresh replica fed a snapshot (a second opinion)."""
        with podsync.Replica(self.schema) as fresh:
            for f in self.w.snapshot():
                fresh.apply(f)
            assert {t: state(fresh, t) for t in (1, 2)} == self.flushed
            return fresh.digest()

    @rule(data=st.data())
    @precondition(lambda self: self.network)
    def deliver(self, data: st.DataObject) -> None:
        """Deliver any frame in flight (reordering), removing it."""
        i = data.draw(st.integers(0, len(self.network) - 1))
        frame = self.network.pop(i)
        before = self.replica.version
        result = self.replica.apply(frame)
        assert result in OK_RESULTS
        info = podsync.peek(frame)
        if result == podsync.ApplyResult.OK:
            assert self.replica.version == info.state_version > before
        else:
            assert self.replica.version == before
        if result == podsync.ApplyResult.GAP:
            assert info.base_version > before
        if not info.is_snapshot:  # FORMAT.md, "Which frames apply" (one stream, never diverged)
            if info.state_version <= before:
                assert result == podsync.ApplyResult.DUPLICATE
            elif info.base_version > before:
                assert result == podsync.ApplyResult.GAP
            else:
                assert result == podsync.ApplyResult.OK
        elif info.state_version < before:
            assert result == podsync.ApplyResult.STALE

    @rule(data=st.data())
    @precondition(lambda self: self.network)
    def duplicate(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.network) - 1))
        self.network.append(self.network[i])

    @rule(data=st.data())
    @precondition(lambda self: self.network)
    def drop(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.network) - 1))
        del self.network[i]

    @rule(data=st.data())
    @precondition(lambda self: self.network)
    def corrupt(self, data: st.DataObject) -> None:
        """A corrupted copy is an error and changes nothing."""
        frame = bytearray(data.draw(st.sampled_from(self.network)))
        pos = data.draw(st.integers(16, len(frame) - 1))
        frame[pos] ^= 1 << data.draw(st.integers(0, 7))
        before = (self.replica.version, self.replica.digest())
        with pytest.raises(podsync.FrameError):
            self.replica.apply(frame)
        assert (self.replica.version, self.replica.digest()) == before

    @rule()
    @precondition(lambda self: self.writer is not None)
    def heal(self) -> None:
        """The replica asks for what it misses: a delta, or a snapshot beyond the horizon."""
        apply_catch_up(self.replica, self.w.catch_up(self.replica.version))
        assert self.replica.version == self.w.version
        assert self.replica.digest() == self.w.digest()

    @rule()
    def chain(self) -> None:
        """The second replica follows the first (deltas within the first's horizon, else a snapshot)."""
        if self.replica.version == 0 and self.replica.info().stream_id == 0:
            return  # the first replica follows nothing yet
        apply_catch_up(self.chained, self.replica.catch_up(self.chained.version))
        assert self.chained.version == self.replica.version
        assert self.chained.digest() == self.replica.digest()

    @invariant()
    def replica_never_ahead_and_equal_when_level(self) -> None:
        if self.writer is None:
            return
        assert self.replica.version <= self.w.version
        assert self.w.version == self.w.info().sequence or self.w.info().sequence >= self.w.version
        if self.replica.version == self.w.version:
            assert self.replica.digest() == self.w.digest()
        assert {t: state(self.w, t) for t in (1, 2)} == self.model  # reads see pending writes

    def teardown(self) -> None:
        try:
            if self.writer is not None:
                self.flush(copy=False)
                self.heal()
                self.chain()
                for t in (1, 2):
                    assert state(self.replica, t) == state(self.w, t) == self.flushed[t]
                    assert state(self.chained, t) == self.flushed[t]
                assert self.replica.digest() == self.chained.digest() == self.w.digest()
        finally:
            for s in (self.writer, self.replica, self.chained):
                if s is not None:
                    s.close()
            self.schema.close()


Replication.TestCase.settings = settings(
    max_examples=int(os.environ.get("PODSYNC_HYPOTHESIS_EXAMPLES", "150")), stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestReplication = Replication.TestCase


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_arbitrary_bytes_never_crash_and_never_change_state(data: st.DataObject) -> None:
    with podsync.Schema({1: ENTITY}) as schema, podsync.Writer(schema) as w, podsync.Replica(schema) as r:
        keys = np.arange(1, 6, dtype=np.uint64)
        w.put_many(1, keys, entities(keys))
        (frame,) = w.flush(copy=True)
        blob = bytearray(frame)
        for _ in range(data.draw(st.integers(1, 4))):
            pos = data.draw(st.integers(0, len(blob) - 1))
            blob[pos] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(blob)))
        candidate = bytes(blob[:cut]) if data.draw(st.booleans()) else bytes(blob)
        assume(candidate != frame)
        try:
            podsync.validate(candidate)
            validated = True
        except podsync.PodSyncError:
            validated = False
        try:
            result = r.apply(candidate)
        except podsync.PodSyncError:
            assert r.version == 0 and r.digest() == 0
        else:  # only possible if the change was outside the checksummed bytes and harmless
            assert validated and result == podsync.ApplyResult.OK
            assert r.digest() == w.digest()


@settings(max_examples=50, deadline=None)
@given(
    fields=st.lists(
        st.tuples(
            st.sampled_from(["<u1", "<u2", "<u4", "<u8", "<i1", "<i2", "<i4", "<i8", "<f4", "<f8", "?", "S3", "V5"]),
            st.integers(1, 3),
        ),
        min_size=1,
        max_size=6,
    ),
    align=st.booleans(),
)
def test_any_supported_dtype_round_trips(fields: list[tuple[str, int]], align: bool) -> None:
    dt = np.dtype([(f"f{i}", t, (n,)) if n > 1 else (f"f{i}", t) for i, (t, n) in enumerate(fields)], align=align)
    with podsync.Schema({3: dt}) as s, podsync.Schema.from_bytes(s.to_bytes()) as back:
        assert back.hash == s.hash and back[3].record_size == dt.itemsize
        assert back[3].fields == s[3].fields
        with podsync.Writer(s) as w, podsync.Replica(back) as r:
            recs = np.frombuffer(np.random.default_rng(0).bytes(dt.itemsize * 4), dtype=dt)
            w.put_many(3, np.arange(4, dtype=np.uint64), recs)
            for f in w.flush():
                r.apply(f)
            assert r.digest() == w.digest()
            with r.view(3) as v:
                order = np.argsort(v.keys)
                assert v.records.view(np.uint8).reshape(4, -1)[order].tobytes() == recs.tobytes()


# --- nested dtypes round-trip through the schema encoding ----------------------------------------

LEAF_TYPES = st.sampled_from(["<u1", "<u2", "<u4", "<u8", "<i2", "<i8", "<f4", "<f8", "?", "S3", "V2"])


def _nested_dtypes(depth: int) -> st.SearchStrategy[np.dtype]:
    leaf = st.tuples(LEAF_TYPES, st.sampled_from([(), (2,), (3,)]))
    child: st.SearchStrategy[object] = leaf if depth == 0 else st.one_of(leaf, _nested_dtypes(depth - 1).map(lambda d: (d, ())),
                                                                   _nested_dtypes(depth - 1).map(lambda d: (d, (2,))))

    def build(items: list[tuple[object, tuple[int, ...]]], align: bool) -> np.dtype:
        fields = [(f"f{i}", t, shape) if shape else (f"f{i}", t) for i, (t, shape) in enumerate(items)]
        return np.dtype(fields, align=align)

    return st.builds(build, st.lists(child, min_size=1, max_size=4), st.booleans())  # type: ignore[arg-type]


def _names(dt: np.dtype) -> object:
    """The field names, nested; subarray shapes of structures (not of leaves: S3 x 2 is V6)."""
    if dt.subdtype is not None:
        return (_names(dt.base), dt.shape) if dt.base.names is not None else None
    if dt.names is None:
        return None
    return [(n, _names(dt.fields[n][0])) for n in dt.names]  # type: ignore[index]


@settings(max_examples=150, deadline=None)
@given(dt=_nested_dtypes(2))
def test_nested_dtypes_round_trip(dt: np.dtype) -> None:
    with podsync.Schema({1: dt}) as s, podsync.Schema.from_bytes(s.to_bytes()) as back:
        assert _names(back.dtype(1)) == _names(dt)
        assert back[1].fields == s[1].fields and back.hash == s.hash
        assert podsync._schema.fields_from_dtype(back.dtype(1)) == s[1].fields
