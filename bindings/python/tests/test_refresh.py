"""The rolling refresh and one-way replicas (library 0.5.0): ``Writer(refresh_flushes=R,
refresh_ms=T)``, ``Replica(one_way=True)``, ``ApplyResult.REFRESHING``, ``StoreInfo.refreshing``,
the slice fields of ``FrameInfo`` and ``slice_sections``."""

from __future__ import annotations

import random

import numpy as np
import pytest

import podsync
from podsync import _ffi
from podsync._store import _options
from _support import ENTITY, ITEM, entities, state

OK = podsync.ApplyResult.OK
GAP = podsync.ApplyResult.GAP
DUPLICATE = podsync.ApplyResult.DUPLICATE
REFRESHING = podsync.ApplyResult.REFRESHING
U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1


def items(ids: np.ndarray, seed: int) -> np.ndarray:
    recs = np.zeros(len(ids), ITEM)
    recs["a"] = (np.asarray(ids, dtype=np.uint64) % 1000).astype(np.uint32)
    recs["b"] = seed
    return recs


def same_state(a: podsync.Store, b: podsync.Store) -> bool:
    return state(a, 1) == state(b, 1) and state(a, 2) == state(b, 2) and a.digest() == b.digest()


class World:
    """A writer's world: table 1 of entities, table 2 of items; ``tick`` changes about 1% of the
    records (updates, deletes and inserts in both tables) and flushes."""

    def __init__(self, writer: podsync.Writer, entities_count: int, items_count: int, seed: int) -> None:
        self.writer = writer
        self.rng = np.random.default_rng(seed)
        self.live1 = set(range(1, entities_count + 1))
        self.live2 = set(range(1, items_count + 1))
        self.next1, self.next2 = entities_count + 1, items_count + 1
        k1 = np.arange(1, entities_count + 1, dtype=np.uint64)
        k2 = np.arange(1, items_count + 1, dtype=np.uint64)
        writer.put_many(1, k1, entities(k1))
        writer.put_many(2, k2, items(k2, 0))
        self.time = 0
        self.digests: dict[int, int] = {}  # the writer's digest at each version

    def tick(self) -> list[podsync.Frame]:
        w, rng = self.writer, self.rng
        self.time += 10
        w.set_time(self.time)
        n1 = max(1, len(self.live1) // 100)
        chosen = rng.choice(np.array(sorted(self.live1), dtype=np.uint64), n1, replace=False)
        deleted, updated = chosen[: n1 // 4], chosen[n1 // 4 :]
        w.put_many(1, updated, entities(updated, self.time))
        assert w.delete_many(1, deleted) == len(deleted)
        self.live1.difference_update(int(k) for k in deleted)
        new = np.arange(self.next1, self.next1 + len(deleted), dtype=np.uint64)
        self.next1 += len(deleted)
        w.put_many(1, new, entities(new, self.time))
        self.live1.update(int(k) for k in new)
        # Table 2: one update, and every third tick one delete and one insert.
        (k2,) = rng.choice(np.array(sorted(self.live2), dtype=np.uint64), 1)
        w.put(2, int(k2), items(np.array([k2]), self.time)[0])
        if self.time % 30 == 0:
            gone = int(rng.choice(np.array(sorted(self.live2 - {int(k2)}), dtype=np.uint64)))
            assert w.delete(2, gone)
            self.live2.discard(gone)
            w.put(2, self.next2, items(np.array([self.next2]), self.time)[0])
            self.live2.add(self.next2)
            self.next2 += 1
        frames = w.flush(copy=True)
        self.digests[w.version] = w.digest()
        return frames


def check_apply(replica: podsync.Replica, frame: podsync.Frame, digests: dict[int, int]) -> podsync.ApplyResult:
    """Applies a frame to a one-way replica and checks what the result promises."""
    info_before = replica.info()
    frame_info = podsync.peek(frame)
    result = replica.apply(frame)
    info = replica.info()
    assert result != GAP, "a one-way replica never returns GAP"
    assert result in (OK, REFRESHING), result
    assert not info.diverged
    if result == OK:
        assert not info.refreshing
        assert info.state_version == frame_info.state_version
        assert replica.digest() == info.digest == digests[frame_info.state_version]
    else:
        assert info.refreshing
        # state_version stays the last version it was in sync at.
        assert info.state_version <= frame_info.state_version
        assert info.state_version == info_before.state_version or not info_before.refreshing
    return result


# --- the lossy link ---------------------------------------------------------------------------------


def test_one_way_replicas_converge_over_a_lossy_link_without_asking_back() -> None:
    R = 10
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, manual_clock=True, refresh_flushes=R, stream_id=0x5EED) as writer, podsync.Replica(
        schema, one_way=True
    ) as a, podsync.Replica(schema, one_way=True) as b:
        world = World(writer, 1000, 60, seed=11)
        link = random.Random(20260)  # the lossy link's own seeded randomness
        replicas = [a, b]
        dropped = [0, 0]
        results: list[dict[podsync.ApplyResult, int]] = [{}, {}]
        for _ in range(150):
            frames = world.tick()
            assert len(frames) == 1  # one frame a tick, so that every version has its digest
            assert podsync.peek(frames[0]).has_slice
            for i, replica in enumerate(replicas):
                if link.random() < 0.2:
                    dropped[i] += 1
                    continue
                res = check_apply(replica, frames[0], world.digests)
                results[i][res] = results[i].get(res, 0) + 1
        for i in range(2):
            assert 15 <= dropped[i] <= 45, dropped  # about 20% of 150
            assert results[i].get(REFRESHING, 0) > 0  # the loss did put them out of sync
            assert results[i].get(OK, 0) > 0  # and the refresh brought them back in between
            assert set(results[i]) <= {OK, REFRESHING}

        # One more lost frame for both, then a lossless link: the next frame finds them out of sync.
        world.tick()
        frames = world.tick()
        assert [check_apply(r, frames[0], world.digests) for r in replicas] == [REFRESHING, REFRESHING]
        assert all(r.info().refreshing for r in replicas)
        with pytest.raises(podsync.Diverged):  # an out-of-sync one-way replica serves nothing
            a.delta_since(0)
        in_sync_after: list[int | None] = [None, None]
        for n in range(2, 2 * R + 1):
            frames = world.tick()
            for i, replica in enumerate(replicas):
                res = check_apply(replica, frames[0], world.digests)
                if in_sync_after[i] is None and res == OK:
                    in_sync_after[i] = n
                if in_sync_after[i] is not None:
                    assert res == OK  # once in sync on a lossless link, it stays in sync
            if None not in in_sync_after:
                break
        assert None not in in_sync_after, f"not back in sync within 2*R = {2 * R} frames: {in_sync_after}"
        for replica in replicas:
            assert not replica.info().refreshing and replica.version == writer.version
            assert same_state(replica, writer)
            assert replica.count(1) == len(world.live1) and replica.count(2) == len(world.live2)
        # In sync again, it serves further replicas.
        with podsync.Replica(schema) as downstream:
            assert [downstream.apply(f) for f in a.snapshot()] == [OK]
            assert same_state(downstream, writer)


def test_a_one_way_replica_that_joins_late_converges_without_a_snapshot() -> None:
    R = 8
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, manual_clock=True, refresh_flushes=R) as writer, podsync.Replica(
        schema, one_way=True
    ) as late:
        world = World(writer, 400, 20, seed=3)
        for _ in range(5):
            world.tick()  # never seen by `late`
        seen: list[podsync.ApplyResult] = []
        for _ in range(2 * R + 1):
            seen.append(check_apply(late, world.tick()[0], world.digests))
            if seen[-1] == OK:
                break
        assert seen[0] == REFRESHING and seen[-1] == OK, seen
        assert same_state(late, writer)


# --- one-way against the ordinary replica ----------------------------------------------------------


def test_an_ordinary_replica_returns_gap_where_a_one_way_replica_returns_refreshing() -> None:
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, manual_clock=True, refresh_flushes=10) as writer, podsync.Replica(
        schema
    ) as plain, podsync.Replica(schema, one_way=True) as one_way:
        keys = np.arange(1, 301, dtype=np.uint64)
        writer.put_many(1, keys, entities(keys))
        (first,) = writer.flush(copy=True)
        assert plain.apply(first) == one_way.apply(first) == OK
        # A lost frame changing many keys (more than the next slice can cover), and deleting some.
        writer.put_many(1, keys[::3].copy(), entities(keys[::3], 7))
        writer.delete_many(1, keys[1::7].copy())
        writer.flush(copy=True)
        writer.put(1, 1000, entities([1000], 1)[0])
        (third,) = writer.flush(copy=True)
        assert podsync.peek(third).base_version == 2 and writer.version == 3

        before = state(plain, 1)
        assert plain.apply(third) == GAP
        assert plain.version == 1 and state(plain, 1) == before and not plain.info().refreshing

        assert one_way.apply(third) == REFRESHING
        info = one_way.info()
        assert info.refreshing and not info.diverged
        assert info.state_version == 1  # the last version it was in sync at
        assert one_way.get(1, 1000) is not None  # it took the frame's newer content anyway
        assert one_way.digest() != writer.digest()
        for serve in (one_way.snapshot, lambda: one_way.delta_since(1), lambda: one_way.snapshot_chunks(4096)):
            with pytest.raises(podsync.Diverged, match="refreshing|one-way|out of sync"):
                serve()
        assert one_way.metrics()["gaps"] == 0 and plain.metrics()["gaps"] == 1

        # The ordinary replica asks back; the refresh slices in the catch-up-free stream are harmless.
        assert [plain.apply(f) for f in writer.catch_up(plain.version)] == [OK]
        assert same_state(plain, writer)
        for t in range(20):  # the writer's next frames, all with slices, apply in order to both
            writer.put(1, 2000 + t, entities([2000 + t], t)[0])
            (frame,) = writer.flush(copy=True)
            assert plain.apply(frame) == OK and same_state(plain, writer)
            if one_way.apply(frame) == OK:
                break
        assert not one_way.info().refreshing and same_state(one_way, writer)


# --- refresh_ms: the refresh-only frame of an idle writer -----------------------------------------


def test_an_idle_writer_sends_a_refresh_only_frame_after_refresh_ms() -> None:
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, manual_clock=True, refresh_flushes=4, refresh_ms=100) as writer, podsync.Replica(
        schema, one_way=True
    ) as replica:
        keys = np.arange(1, 101, dtype=np.uint64)
        writer.set_time(1000)
        writer.put_many(1, keys, entities(keys))
        (first,) = writer.flush(copy=True)
        assert replica.apply(first) == OK
        version, sequence = writer.version, writer.info().sequence

        writer.set_time(1099)
        assert not writer.flush_due()
        assert writer.flush() == []  # an empty batch before refresh_ms: nothing
        writer.set_time(1100)
        assert writer.flush_due()
        frames = writer.flush(copy=True)
        assert len(frames) == 1
        info = podsync.validate(frames[0])
        assert info.has_slice and info.flags & _ffi.FRAME_SLICE
        assert info.section_count == 0 and info.slice_section_count >= 1
        assert podsync.sections(frames[0]) == []
        assert len(podsync.slice_sections(frames[0])) == info.slice_section_count
        assert info.format_version == 2  # slices are always format 2
        # A slice alone changes nothing: the version stays, the frame is one more in the sequence.
        assert info.base_version == info.state_version == writer.version == version
        assert info.sequence == writer.info().sequence == sequence + 1
        assert info.has_digest and info.state_digest == writer.digest()
        assert not writer.flush_due()  # a frame just went out
        assert writer.flush() == []
        # An in-sync replica has nothing to take from it.
        assert replica.apply(frames[0]) in (OK, DUPLICATE)
        assert not replica.info().refreshing and same_state(replica, writer)


def test_refresh_only_frames_bring_a_one_way_replica_back_while_the_writer_is_idle() -> None:
    R = 5
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, manual_clock=True, refresh_flushes=R, refresh_ms=100) as writer, podsync.Replica(
        schema, one_way=True
    ) as replica:
        keys = np.arange(1, 201, dtype=np.uint64)
        writer.set_time(0)
        writer.put_many(1, keys, entities(keys))
        assert [replica.apply(f) for f in writer.flush(copy=True)] == [OK]
        writer.set_time(10)
        writer.put_many(1, keys[::4].copy(), entities(keys[::4], 3))
        writer.delete_many(1, keys[1::10].copy())
        writer.flush()  # lost
        writer.set_time(20)
        writer.put(1, 500, entities([500], 1)[0])
        (frame,) = writer.flush(copy=True)
        digests = {writer.version: writer.digest()}
        assert check_apply(replica, frame, digests) == REFRESHING
        # The writer goes idle: only refresh-only frames, one every refresh_ms.
        now, results = 20, []
        for _ in range(2 * R + 2):
            now += 100
            writer.set_time(now)
            assert writer.flush_due()
            (frame,) = writer.flush(copy=True)
            assert podsync.peek(frame).section_count == 0
            results.append(check_apply(replica, frame, digests))
            if results[-1] == OK:
                break
        assert results[0] == REFRESHING and results[-1] == OK, results
        assert same_state(replica, writer) and replica.count(1) == 200 - 20 + 1


def test_without_refresh_ms_an_idle_writer_sends_nothing_and_without_refresh_flushes_no_slices() -> None:
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, manual_clock=True, refresh_flushes=3) as idle, podsync.Writer(
        schema, manual_clock=True, refresh_ms=100
    ) as plain:
        for w in (idle, plain):
            w.set_time(0)
            w.put_many(1, np.arange(1, 51, dtype=np.uint64), entities(np.arange(1, 51)))
            (frame,) = w.flush(copy=True)
            assert podsync.peek(frame).has_slice == (w is idle)
            w.set_time(10**9)
            assert not w.flush_due() and w.flush() == []


# --- the slice fields ------------------------------------------------------------------------------


def test_slice_fields_are_consistent_and_a_pass_covers_the_state_exactly_once() -> None:
    R = 6
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, manual_clock=True, refresh_flushes=R, refresh_ms=50) as writer:
        world = World(writer, 600, 40, seed=5)
        infos = [podsync.validate(f) for _ in range(3 * R) for f in world.tick()]
        # Then idle: refresh-only frames over a state that does not change, for two whole passes.
        frames: list[bytes] = []
        while sum(podsync.peek(f).is_last_slice for f in frames) < 3:
            world.time += 50
            writer.set_time(world.time)
            assert writer.flush_due()
            frames += writer.flush(copy=True)  # type: ignore[arg-type]
        infos += [podsync.validate(f) for f in frames]

        assert all(i.has_slice and i.slice_section_count >= 1 for i in infos)
        first_start = (infos[0].slice_start_table, infos[0].slice_start_key)
        assert infos[0].slice_index == 0 and infos[0].slice_pass == 0
        passes_ended = 0
        for prev, cur in zip(infos, infos[1:]):
            if prev.is_last_slice:  # a LAST slice ends its pass: the next starts the next pass over
                passes_ended += 1
                assert (cur.slice_pass, cur.slice_index) == (prev.slice_pass + 1, 0)
                assert (cur.slice_start_table, cur.slice_start_key) == first_start
                assert (prev.slice_end_table, prev.slice_end_key) == (0, 0)  # end only when not LAST
            else:
                assert (cur.slice_pass, cur.slice_index) == (prev.slice_pass, prev.slice_index + 1)
                # Contiguous: each slice starts where the one before it ended, moving forward.
                assert (cur.slice_start_table, cur.slice_start_key) == (prev.slice_end_table, prev.slice_end_key)
                assert (prev.slice_start_table, prev.slice_start_key) < (prev.slice_end_table, prev.slice_end_key)
        assert passes_ended >= 4

        # A whole pass of refresh-only frames over an unchanging state holds every record once.
        last = [i for i, f in enumerate(frames) if podsync.peek(f).is_last_slice]
        one_pass = frames[last[0] + 1 : last[1] + 1]
        assert podsync.peek(one_pass[0]).slice_index == 0
        assert R // 2 <= len(one_pass) <= 2 * R  # the state is re-sent about every R flushes
        got: dict[int, dict[int, bytes]] = {1: {}, 2: {}}
        for frame in one_pass:
            info = podsync.peek(frame)
            secs = podsync.slice_sections(frame, schema)
            assert len(secs) == info.slice_section_count
            for sec in secs:
                assert sec.delete_count == 0
                for key, rec in zip(sec.put_keys.tolist(), sec.records):
                    assert key not in got[sec.table_id], "a record in two slices of one pass"
                    got[sec.table_id][key] = rec.tobytes()
        assert got[1] == state(writer, 1) and got[2] == state(writer, 2)
        sizes = [sum(s.put_count for s in podsync.slice_sections(f)) for f in one_pass[:-1]]
        total = len(got[1]) + len(got[2])
        assert all(total // (2 * R) <= n <= 2 * total // R + 1 for n in sizes), (sizes, total)


def test_only_the_last_frame_of_a_flush_carries_the_slice() -> None:
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, refresh_flushes=2, max_frame_bytes=4096) as writer, podsync.Replica(
        schema
    ) as replica:
        keys = np.arange(1, 301, dtype=np.uint64)
        writer.put_many(1, keys, entities(keys))
        frames = writer.flush(copy=True)
        infos = [podsync.peek(f) for f in frames]
        assert len(frames) > 2
        assert [i.has_slice for i in infos] == [False] * (len(frames) - 1) + [True]
        assert all(i.slice_section_count == 0 and i.slice_pass == i.slice_index == 0 for i in infos[:-1])
        assert [replica.apply(f) for f in frames] == [OK] * len(frames)
        assert same_state(replica, writer)


def test_sections_and_slice_sections_read_a_frame_s_changes_and_its_slice_apart() -> None:
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    with podsync.Writer(schema, refresh_flushes=4) as writer:
        keys = np.arange(1, 201, dtype=np.uint64)
        writer.put_many(1, keys, entities(keys))
        writer.flush()
        writer.put(2, 7, items(np.array([7]), 1)[0])
        (frame,) = writer.flush(copy=True)
        info = podsync.validate(frame)
        assert info.has_slice and info.section_count == 1 and info.slice_section_count >= 1
        (change,) = podsync.sections(frame, schema)
        assert (change.table_id, change.put_keys.tolist(), change.delete_count) == (2, [7], 0)
        sliced = podsync.slice_sections(frame, schema)
        assert len(sliced) == info.slice_section_count
        records = {k: r.tobytes() for s in sliced if s.table_id == 1 for k, r in zip(s.put_keys.tolist(), s.records)}
        assert 200 // 8 <= len(records) <= 200 // 2  # about records / R of them
        whole = state(writer, 1)
        assert all(whole[k] == r for k, r in records.items())  # the writer's records, absolute values
        with pytest.raises(TypeError, match="slice_sections"):
            podsync.slice_sections("not a frame")


def test_a_refresh_writer_turns_xor_off_and_writes_slices_in_format_2() -> None:
    schema = podsync.Schema({1: ENTITY, 2: ITEM})
    keys = np.arange(1, 1001, dtype=np.uint64)
    # A writer pinned to format 1 still writes a frame with a slice in format 2; the default
    # writer (format 2 since library 0.8.0) writes format 2 either way.
    for frame_format in (1, None):
        for refresh in (0, 10):
            with podsync.Writer(
                schema, compression_level=1, refresh_flushes=refresh, frame_format=frame_format
            ) as writer:
                writer.put_many(1, keys, entities(keys))
                writer.flush()
                writer.put_many(1, keys[:400], entities(keys[:400], 1))
                (frame,) = writer.flush(copy=True)
                info = podsync.peek(frame)
                assert bool(info.transforms & podsync.TRANSFORM_XOR) == (refresh == 0)
                assert info.has_slice == (refresh != 0)
                assert info.format_version == (2 if refresh or frame_format is None else 1)


def test_frames_without_a_slice_have_zero_slice_fields(writer: podsync.Writer) -> None:
    writer.put(1, 1, entities([1])[0])
    (frame,) = writer.flush(copy=True)
    info = podsync.validate(frame)
    assert not info.has_slice and not info.is_last_slice and not info.flags & _ffi.FRAME_SLICE
    assert (info.slice_section_count, info.slice_pass, info.slice_index, info.slice_flags) == (0, 0, 0, 0)
    assert podsync.slice_sections(frame) == [] and len(podsync.sections(frame)) == 1


# --- options and info ------------------------------------------------------------------------------


def test_options_set_the_refresh_fields_and_the_one_way_flag() -> None:
    defaults = _options()
    assert (defaults.refresh_flushes, defaults.refresh_ms) == (0, 0) and not defaults.flags & _ffi.OPT_ONE_WAY
    opts = _options(refresh_flushes=U32_MAX, refresh_ms=U64_MAX, one_way=True)
    assert (opts.refresh_flushes, opts.refresh_ms) == (U32_MAX, U64_MAX)
    assert opts.flags & _ffi.OPT_ONE_WAY and opts.flags & _ffi.OPT_FRAME_DIGEST
    assert not _options(one_way=False).flags & _ffi.OPT_ONE_WAY
    others = [f for f, _ in type(opts)._fields_ if f not in ("refresh_flushes", "refresh_ms", "flags")]
    assert [getattr(opts, f) for f in others] == [getattr(defaults, f) for f in others]


@pytest.mark.parametrize("name, value", [("refresh_flushes", 1 << 32), ("refresh_flushes", -1), ("refresh_ms", 1 << 64),
                                         ("refresh_ms", -1)])  # fmt: skip
def test_refresh_options_out_of_range_raise_overflow_error(schema: podsync.Schema, name: str, value: int) -> None:
    with pytest.raises(OverflowError, match=name):
        podsync.Writer(schema, **{name: value})


def test_refresh_options_must_be_ints(schema: podsync.Schema) -> None:
    with pytest.raises(TypeError, match="refresh_flushes"):
        podsync.Writer(schema, refresh_flushes=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="refresh_ms"):
        podsync.Writer(schema, refresh_ms="100")  # type: ignore[arg-type]


def test_the_role_constructors_take_their_own_options(schema: podsync.Schema) -> None:
    with pytest.raises(TypeError):
        podsync.Writer(schema, one_way=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        podsync.Replica(schema, refresh_flushes=3)  # type: ignore[call-arg]
    with podsync.Store(schema, podsync.Role.REPLICA, one_way=True) as store:
        assert store.info().refreshing is False


def test_store_info_reports_refreshing(schema: podsync.Schema, writer: podsync.Writer) -> None:
    info = writer.info()
    assert info.refreshing is False and isinstance(info, podsync.StoreInfo)
    assert podsync.StoreInfo.__dataclass_fields__["refreshing"].default is False  # appended, with a default
    # Appended after the fields of 0.4.0 (those of library 0.6.0 follow it, appended likewise).
    assert list(podsync.StoreInfo.__dataclass_fields__).index("refreshing") == 11
