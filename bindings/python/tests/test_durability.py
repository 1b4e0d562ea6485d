"""Library 0.6.0: durable stores (podsync.open_store, OpenInfo, checkpoints whole and step by step,
the frame log and its policies, sync), terms and failover (Store.promote, TermFenced,
HistoryDiverged) and the file errors (PodSyncIOError, FileCorrupt)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import podsync
from _support import ITEM, entities, state

OK = podsync.ApplyResult.OK
GAP = podsync.ApplyResult.GAP

State = dict[int, dict[int, bytes]]


def items(keys: np.ndarray, seed: int = 0) -> np.ndarray:
    out = np.zeros(len(keys), ITEM)
    out["a"] = keys.astype(np.uint32)
    out["b"] = seed
    return out


def full_state(store: podsync.Store) -> State:
    return {1: state(store, 1), 2: state(store, 2)}


def write_round(writer: podsync.Store, round_: int, n: int = 8) -> list[bytes]:
    """Puts `n` entities (keys overlapping the previous round's, new values), an item and a
    delete, and flushes; returns the frames as bytes."""
    keys = np.arange(round_ * 4 + 1, round_ * 4 + 1 + n, dtype=np.uint64)
    writer.put_many(1, keys, entities(keys, seed=round_))
    writer.put(2, round_ + 1, items(np.array([round_ + 1], np.uint64), seed=round_)[0])
    if round_ > 1:
        writer.delete(2, round_ - 1)
    return [bytes(f) for f in writer.flush(copy=True)]


def files(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern))


def open_writer(directory: Path, schema: podsync.Schema | None = None, **kw: object) -> podsync.Store:
    return podsync.open_store(directory, schema, "writer" if schema is not None else None, **kw)


# --- create, reopen ------------------------------------------------------------------------------


def test_create_then_reopen_restores_version_digest_stream_and_records(schema: podsync.Schema, tmp_path: Path) -> None:
    d = tmp_path / "w"  # missing: created
    with podsync.open_store(d, schema, podsync.Role.WRITER, stream_id=0x5EED) as w:
        assert type(w) is podsync.Writer and w.durable and w.info().durable
        info = w.open_info
        assert info is not None and info.created and not info.new_term and not info.fallback
        assert (info.checkpoint_version, info.restored_version, info.dropped_bytes, info.term) == (0, 0, 0, 0)
        assert info.flags == 0x1 and info.skipped_status == 0
        assert w.info().stream_id == 0x5EED  # given when creating
        assert files(d, "checkpoint-*.psc") and (d / "LOCK").exists()  # the version-0 checkpoint, at once
        for r in range(1, 4):
            write_round(w, r)
        version, digest, before = w.version, w.digest(), full_state(w)
        assert version == 3 and w.durable_version == 3 and w.log_bytes > 0
    # Reopened without a schema (read from the directory) and with it: the same store.
    for given in (None, schema, schema.to_bytes()):
        with podsync.open_store(d, given, stream_id=0xBAD) as again:  # stream_id is ignored when opening
            assert type(again) is podsync.Writer
            info = again.open_info
            assert info is not None and not info.created and not info.new_term and info.dropped_bytes == 0
            assert (info.checkpoint_version, info.restored_version, info.term) == (0, 3, 0)
            assert info.log_frames >= 3
            assert (again.version, again.digest(), again.info().stream_id, again.term) == (version, digest, 0x5EED, 0)
            assert full_state(again) == before
            assert again.tables.keys() == schema.tables.keys() and again.dtype(1) == schema.tables[1].dtype
            # The records' versions came back too: a delta since an old version, not a snapshot.
            delta = again.delta_since(1, copy=True)
            assert len(delta) == 1 and not podsync.peek(delta[0]).is_snapshot


def test_a_durable_replica_reopens_where_it_was_and_keeps_following(schema: podsync.Schema, tmp_path: Path) -> None:
    with podsync.Writer(schema) as w:
        with podsync.open_store(tmp_path / "r", schema.to_bytes(), "replica") as r:
            assert type(r) is podsync.Replica and r.open_info is not None and r.open_info.created
            for round_ in range(1, 4):
                for f in write_round(w, round_):
                    assert r.apply(f) == OK
            before = full_state(r)
        with podsync.open_store(tmp_path / "r") as r:
            assert type(r) is podsync.Replica and r.role == podsync.Role.REPLICA
            assert (r.version, r.digest(), r.info().stream_id) == (w.version, w.digest(), w.info().stream_id)
            assert full_state(r) == before
            for f in write_round(w, 4):
                assert r.apply(f) == OK  # a delta: it continues where it was
            assert r.digest() == w.digest()


def test_a_writer_logging_every_frame_reopens_at_its_last_flush_in_the_same_term(
    schema: podsync.Schema, tmp_path: Path
) -> None:
    d = tmp_path / "w"
    with podsync.Replica(schema) as replica:
        w = open_writer(d, schema, log_policy="every_frame")
        for round_ in range(1, 5):
            for f in write_round(w, round_):
                replica.apply(f)
        flushed, digest, stream = w.version, w.digest(), w.info().stream_id
        w.put(1, 999, entities([999])[0])  # pending, never flushed: not handed out, not kept
        assert w.info().pending_changes == 1
        w.close()
        with open_writer(d) as w:
            info = w.open_info
            assert info is not None and not info.new_term and info.term == 0 == w.term
            assert (w.version, w.digest(), w.info().stream_id) == (flushed, digest, stream)
            assert w.get(1, 999) is None and w.info().pending_changes == 0
            # The replica that saw every version handed out continues with the next flush.
            for f in write_round(w, 5):
                assert podsync.peek(f).term == 0
                assert replica.apply(f) == OK
            assert replica.digest() == w.digest() and replica.term == 0


def test_a_writer_logging_through_the_os_reopens_in_a_new_term_its_frames_carry(
    schema: podsync.Schema, tmp_path: Path
) -> None:
    d = tmp_path / "w"
    with podsync.Replica(schema) as replica:
        with open_writer(d, schema, log_policy="os") as w:
            for round_ in range(1, 4):
                for f in write_round(w, round_):
                    replica.apply(f)
            stream, flushed = w.info().stream_id, w.version
        with open_writer(d, log_policy=podsync.LogPolicy.OS) as w:
            info = w.open_info
            assert info is not None and info.new_term and info.flags & 0x2
            assert info.term == 1 == w.term == w.info().term  # previous term + 1
            # The process ended cleanly: what it wrote is there (the OS had it), but it cannot
            # prove that, so it starts a new term from the version it restored.
            assert (w.info().stream_id, w.version, info.restored_version) == (stream, flushed, flushed)
            frames = write_round(w, 4)
            assert frames
            for f in frames:
                header = podsync.peek(f)
                assert (header.term, header.format_version, header.stream_id) == (1, 2, stream)
            # A replica at the restored version continues with deltas, and follows the new term.
            assert replica.term == 0
            for f in frames:
                assert replica.apply(f) == OK
            assert replica.term == 1 and replica.digest() == w.digest()
        # The host may name the term (a coordinator's): new_term.
        with open_writer(d, log_policy="os", new_term=7) as w:
            assert w.open_info is not None and w.open_info.new_term and w.term == 7
            assert all(podsync.peek(f).term == 7 for f in write_round(w, 5))


@pytest.mark.parametrize(
    "policy, reopens_at", [("interval", 2), (podsync.LogPolicy.INTERVAL, 2), ("none", 1), (0, 1), ("NONE", 1)]
)
def test_every_policy_but_every_frame_reopens_a_writer_in_a_new_term(
    schema: podsync.Schema, tmp_path: Path, policy: object, reopens_at: int
) -> None:
    d = tmp_path / "w"
    with open_writer(d, schema, log_policy=policy, sync_interval_ms=5) as w:  # type: ignore[arg-type]
        write_round(w, 1)
        w.checkpoint()
        write_round(w, 2)
        w.sync()
        assert w.durable_version == reopens_at  # no log: the checkpoint; interval: synced now
    with open_writer(d, log_policy=policy) as w:  # type: ignore[arg-type]
        info = w.open_info
        assert info is not None and info.new_term and w.term == 1
        assert (info.checkpoint_version, w.version) == (1, reopens_at)
        assert info.log_frames == reopens_at - 1


# --- checkpoints ---------------------------------------------------------------------------------


def test_checkpoint_then_more_flushes_then_reopen(schema: podsync.Schema, tmp_path: Path) -> None:
    d = tmp_path / "w"
    with open_writer(d, schema, keep_checkpoints=2) as w:
        for round_ in range(1, 4):
            write_round(w, round_)
        assert w.log_bytes > 0
        w.checkpoint()
        at_checkpoint = w.version
        assert w.log_bytes == 0 and w.durable_version == at_checkpoint
        for round_ in range(4, 7):
            write_round(w, round_)
        assert w.log_bytes > 0
        final, digest, before = w.version, w.digest(), full_state(w)
        for _ in range(3):  # older files go: two checkpoints kept
            w.checkpoint()
        assert len(files(d, "checkpoint-*.psc")) == 2
        assert not files(d, "*.tmp")
        write_round(w, 7)
        final, digest, before = w.version, w.digest(), full_state(w)
    with open_writer(d) as w:
        info = w.open_info
        assert info is not None and not info.new_term and not info.fallback
        assert info.checkpoint_version == final - 1 and info.restored_version == final
        assert info.log_frames >= 1
        assert (w.version, w.digest(), full_state(w)) == (final, digest, before)
    assert at_checkpoint == 3


def test_keep_checkpoints_1_keeps_one(schema: podsync.Schema, tmp_path: Path) -> None:
    d = tmp_path / "w"
    with open_writer(d, schema, keep_checkpoints=1) as w:
        for round_ in range(1, 4):
            write_round(w, round_)
            w.checkpoint()
        assert len(files(d, "checkpoint-*.psc")) == 1
        digest = w.digest()
    with open_writer(d) as w:
        assert w.digest() == digest and w.open_info is not None and w.open_info.checkpoint_version == 3


def test_checkpoint_steps_interleaved_with_puts_and_flushes(schema: podsync.Schema, tmp_path: Path) -> None:
    d = tmp_path / "w"
    with podsync.Replica(schema) as replica:
        # A checkpoint's chunks are at most max_frame_bytes (4 MiB by default): small ones here, so
        # that the checkpoint takes many steps.
        with open_writer(d, schema, max_frame_bytes=4096) as w:
            keys = np.arange(1, 3001, dtype=np.uint64)
            w.put_many(1, keys, entities(keys))
            w.put_many(2, keys, items(keys))
            for f in w.flush():
                replica.apply(f)
            began = w.version
            image = full_state(w)
            with w.checkpoint_steps(4096) as checkpoint:
                assert not checkpoint.finished and not checkpoint.closed
                for step in checkpoint:
                    assert step == checkpoint.steps
                    # The store keeps working between steps; the checkpoint keeps the image.
                    w.put_many(1, keys[step : step + 5], entities(keys[step : step + 5], seed=step))
                    w.delete(2, int(keys[-step]))
                    for f in w.flush():
                        assert replica.apply(f) == OK
            assert checkpoint.finished and checkpoint.closed and checkpoint.steps > 3
            assert checkpoint.step() is True  # done stays done
            assert "finished" in repr(checkpoint)
            assert w.version > began
            final, digest, before = w.version, w.digest(), full_state(w)
            assert before != image
        with open_writer(d) as w:
            info = w.open_info
            assert info is not None and info.checkpoint_version == began and info.restored_version == final
            assert (w.version, w.digest(), full_state(w)) == (final, digest, before)
            for f in write_round(w, 100):
                assert replica.apply(f) == OK
            assert replica.digest() == w.digest()


def test_checkpoint_step_and_finish_and_abandon(schema: podsync.Schema, tmp_path: Path) -> None:
    d = tmp_path / "w"
    with open_writer(d, schema, max_frame_bytes=4096) as w:
        keys = np.arange(1, 2001, dtype=np.uint64)
        w.put_many(1, keys, entities(keys))
        w.flush()
        checkpoints = files(d, "checkpoint-*.psc")
        # Abandoned: leaving the block before it completes removes its temporary file.
        with w.checkpoint_steps(1024) as checkpoint:
            assert checkpoint.step() is False
            assert files(d, "*.tmp")
        assert checkpoint.closed and not checkpoint.finished
        with pytest.raises(podsync.ClosedError):
            checkpoint.step()
        with pytest.raises(podsync.ClosedError):
            next(checkpoint)
        assert not files(d, "*.tmp") and files(d, "checkpoint-*.psc") == checkpoints
        # step() by hand, then finish() the rest; one checkpoint at a time.
        checkpoint = w.checkpoint_steps(1024)
        assert checkpoint.step() is False and checkpoint.step(2048) is False
        with pytest.raises(podsync.InvalidArgument, match="already"):
            w.checkpoint()
        with pytest.raises(podsync.InvalidArgument, match="already"):
            w.checkpoint_steps(1024)
        checkpoint.finish()
        assert checkpoint.finished and checkpoint.closed and not files(d, "*.tmp")
        assert len(files(d, "checkpoint-*.psc")) == 2 and files(d, "checkpoint-*.psc") != checkpoints
        # max_bytes 0: one step.
        checkpoint = w.checkpoint_steps(0)
        assert list(checkpoint) == [] and checkpoint.finished and checkpoint.steps == 1
        with pytest.raises(OverflowError):
            w.checkpoint_steps(-1)
        # Garbage collection frees (abandons) an unfinished one.
        checkpoint = w.checkpoint_steps(1024)
        checkpoint.step()
        del checkpoint
        gc.collect()
        assert not files(d, "*.tmp")
        w.checkpoint()  # and another can begin


def test_checkpoint_and_sync_need_a_durable_store(writer: podsync.Writer) -> None:
    assert not writer.durable and writer.open_info is None
    info = writer.info()
    assert (info.term, info.durable_version, info.log_bytes, info.durable, info.log_failed) == (0, 0, 0, False, False)
    assert (writer.term, writer.durable_version, writer.log_bytes, writer.log_failed) == (0, 0, 0, False)
    with pytest.raises(podsync.InvalidArgument):
        writer.checkpoint()
    with pytest.raises(podsync.InvalidArgument):
        writer.checkpoint_steps(1024)
    with pytest.raises(podsync.InvalidArgument):
        writer.sync()


# --- damaged files -------------------------------------------------------------------------------


def test_a_corrupt_newest_checkpoint_falls_back_to_the_one_before(schema: podsync.Schema, tmp_path: Path) -> None:
    d = tmp_path / "w"
    with open_writer(d, schema) as w:
        write_round(w, 1)
        w.checkpoint()
        older = w.version
        write_round(w, 2)
        w.checkpoint()
        newer = w.version
        write_round(w, 3)
        final, digest, before = w.version, w.digest(), full_state(w)
    newest = files(d, "checkpoint-*.psc")[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a block: its checksum fails
    newest.write_bytes(bytes(data))
    with open_writer(d) as w:
        info = w.open_info
        assert info is not None and info.fallback and info.flags & 0x4
        assert info.skipped_status == podsync.Status.E_FILE_CORRUPT
        assert info.checkpoint_version == older < newer
        # The log from the older checkpoint on is kept: nothing is lost.
        assert info.restored_version == final
        assert (w.version, w.digest(), full_state(w)) == (final, digest, before)


def test_no_checkpoint_that_verifies_is_file_corrupt(schema: podsync.Schema, tmp_path: Path) -> None:
    d = tmp_path / "w"
    with open_writer(d, schema) as w:
        write_round(w, 1)
        w.checkpoint()
    for path in files(d, "checkpoint-*.psc"):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    with pytest.raises(podsync.FileCorrupt) as exc:
        podsync.open_store(d, schema)
    assert exc.value.status == podsync.Status.E_FILE_CORRUPT and exc.value.message
    assert isinstance(exc.value, podsync.PodSyncError)


def log_tail_test(schema: podsync.Schema, tmp_path: Path, damage: str) -> None:
    d = tmp_path / "w"
    states: dict[int, tuple[int, State]] = {}
    with open_writer(d, schema) as w:
        states[w.version] = (w.digest(), full_state(w))
        for round_ in range(1, 9):
            write_round(w, round_)
            states[w.version] = (w.digest(), full_state(w))
        final = w.version
    segment = files(d, "log-*.psl")[-1]
    size = segment.stat().st_size
    if damage == "truncate":
        os.truncate(segment, size * 2 // 3)
    else:
        data = bytearray(segment.read_bytes())
        data[size // 2] ^= 0xFF
        segment.write_bytes(bytes(data))
    with open_writer(d) as w:
        info = w.open_info
        assert info is not None and info.dropped_bytes > 0
        if damage == "truncate":  # the torn record at the end of what is left
            assert info.dropped_bytes < size * 2 // 3
        else:  # the corrupt record (which holds the byte flipped) and everything after it
            assert size - size // 2 <= info.dropped_bytes < size
        assert info.restored_version == w.version < final
        # What was restored is exactly a state the writer had flushed.
        assert w.version in states
        digest, records = states[w.version]
        assert (w.digest(), full_state(w)) == (digest, records)
        if damage == "corrupt":  # it cannot prove it lost nothing: a new term
            assert info.new_term and w.term == 1
        else:  # a torn last record (every frame policy) was never handed out: the same term
            assert not info.new_term and w.term == 0


def test_a_truncated_log_restores_a_flushed_prefix(schema: podsync.Schema, tmp_path: Path) -> None:
    log_tail_test(schema, tmp_path, "truncate")


def test_a_corrupt_log_record_restores_a_flushed_prefix_in_a_new_term(schema: podsync.Schema, tmp_path: Path) -> None:
    log_tail_test(schema, tmp_path, "corrupt")


FULL_DISK = r"""
import resource, signal, sys
import podsync
from _support import ENTITY, ITEM, entities, library_outbox

directory = sys.argv[1]
schema = podsync.Schema({1: ENTITY, 2: ITEM})
w = podsync.open_store(directory + "/w", schema, "writer")
r = podsync.open_store(directory + "/r", schema, "replica")
# A "full disk": no file may grow past 4 KiB (a write past it fails with EFBIG instead of SIGXFSZ).
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
handed_out = 0
try:
    for key in range(1000):
        w.put(1, key, entities([key])[0])
        for frame in w.flush():
            handed_out = w.version
            assert r.apply(frame) == podsync.ApplyResult.OK
    raise AssertionError("the log never filled")
except podsync.PodSyncIOError as exc:
    assert isinstance(exc, OSError) and exc.call == "podsync_store_flush", exc
assert handed_out > 0, "the first flush failed"
# The library cleared its outbox before raising, the frame of the flush before included: that
# frame, still borrowed here, was released by the failed flush and cannot read the memory.
try:
    bytes(frame)
    raise AssertionError("a frame borrowed before the failed flush is still readable")
except ValueError:
    pass
assert library_outbox(w) == []
failed_at = w.version
assert w.log_failed and w.info().log_failed and failed_at == handed_out + 1  # reached, never handed out
assert w.durable_version == handed_out
for produce in (w.flush, w.snapshot, lambda: w.delta_since(1), lambda: w.snapshot_chunks(1024)):
    try:
        produce()
        raise AssertionError("a frame was produced after the log failed")
    except podsync.PodSyncIOError:
        pass
    assert library_outbox(w) == []
w.put(1, 5000, entities([5000])[0])  # the store still works in memory
assert w.get(1, 5000) is not None
w.checkpoint()  # small: fits; a new segment starts
assert not w.log_failed and w.durable_version == failed_at
frames = w.flush(copy=True)
assert len(frames) == 1 and w.version == failed_at + 1
assert library_outbox(w) == frames
# The replica missed the version never handed out: a delta since its version heals it.
r.checkpoint()  # (its log is about as full as the writer's was)
assert r.apply(frames[0]) == podsync.ApplyResult.GAP
for frame in w.catch_up(r.version, copy=True):
    assert r.apply(frame) == podsync.ApplyResult.OK
assert r.digest() == w.digest()
# The replica's own log fills too: the frame is applied, then apply raises.
for n in range(1000):
    w.put(1, 6000 + n % 4, entities([n])[0])
    frames = w.flush(copy=True)
    w.checkpoint()  # the writer's log stays short
    try:
        assert r.apply(frames[0]) == podsync.ApplyResult.OK
    except podsync.PodSyncIOError:
        break
else:
    raise AssertionError("the replica's log never filled")
assert r.log_failed and r.version == w.version and r.digest() == w.digest()
r.checkpoint()
assert not r.log_failed
print("ok")
"""


def test_a_full_disk_fails_the_flush_and_stops_frames_until_a_checkpoint(tmp_path: Path) -> None:
    """In a child process whose files may not grow past 4 KiB (RLIMIT_FSIZE)."""
    package_root = Path(podsync.__file__).resolve().parents[1]
    tests = Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(package_root), str(tests)]))
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok"]


# --- the lock and other open errors --------------------------------------------------------------


def test_a_second_open_of_a_locked_directory_is_an_io_error(schema: podsync.Schema, tmp_path: Path) -> None:
    d = tmp_path / "w"
    w = open_writer(d, schema)
    with pytest.raises(podsync.PodSyncIOError) as exc:
        podsync.open_store(d)
    assert exc.value.status == podsync.Status.E_IO and exc.value.status_name == "PODSYNC_E_IO"
    assert isinstance(exc.value, OSError) and isinstance(exc.value, podsync.PodSyncError)
    assert exc.value.message and "podsync_store_open" in str(exc.value)
    # A view of the records keeps the store (so the lock) alive past close().
    write_round(w, 1)
    view = w.table(1)
    w.close()
    with pytest.raises(podsync.PodSyncIOError):
        podsync.open_store(d)
    del view
    gc.collect()
    with podsync.open_store(d) as again:
        assert again.version == 1


def test_open_errors(schema: podsync.Schema, tmp_path: Path) -> None:
    with pytest.raises(podsync.InvalidArgument):
        podsync.open_store(tmp_path / "a")  # nothing to open, no schema and role to create with
    with pytest.raises(podsync.InvalidArgument):
        podsync.open_store(tmp_path / "a", schema)  # no role
    with pytest.raises(podsync.InvalidArgument):
        podsync.open_store(tmp_path / "a", schema, "leader")
    with pytest.raises(podsync.InvalidArgument):
        podsync.open_store(tmp_path / "a", schema, "writer", log_policy="sometimes")
    with pytest.raises(podsync.InvalidArgument):
        podsync.open_store(tmp_path / "a", schema, "writer", log_policy=9)
    with pytest.raises(podsync.InvalidArgument):
        podsync.open_store(tmp_path / "a", schema, "writer", keep_checkpoints=0)
    with pytest.raises(OverflowError):
        podsync.open_store(tmp_path / "a", schema, "writer", new_term=-1)
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.open_store(3.5, schema, "writer")  # type: ignore[arg-type]
    with pytest.raises(podsync.InvalidArgument):
        podsync.open_store("bad\0name", schema, "writer")
    with pytest.raises(podsync.PodSyncIOError):
        podsync.open_store(tmp_path / "no" / "such" / "parent", schema, "writer")
    with open_writer(tmp_path / "w", schema):
        pass
    with pytest.raises(podsync.WrongRole):
        podsync.open_store(tmp_path / "w", None, "replica")
    with podsync.Schema({1: ITEM}) as other, pytest.raises(podsync.SchemaMismatch):
        podsync.open_store(tmp_path / "w", other)
    with podsync.open_store(str(tmp_path / "w"), None, podsync.Role.WRITER) as w:  # str, and the right role
        assert w.version == 0


# --- terms and failover --------------------------------------------------------------------------


def test_promotion_fencing_and_divergence(schema: podsync.Schema, tmp_path: Path) -> None:
    """Writer W; replicas A (durable), B, C. W dies after handing out versions 1..4: A has 1..3,
    B 1..2, C 1..4. A is promoted in term 2: B continues with deltas from A, C (which applied
    version 4, that A never saw) is told and heals with A's snapshot, and W's next old-term frame
    is fenced off by B, which follows A now."""
    W = podsync.Writer(schema)
    A = podsync.open_store(tmp_path / "a", schema, "replica")
    B, C = podsync.Replica(schema), podsync.Replica(schema)
    try:
        frames = [write_round(W, r) for r in range(1, 5)]
        for f in frames[0] + frames[1] + frames[2]:
            assert A.apply(f) == OK
        for f in frames[0] + frames[1]:
            assert B.apply(f) == OK
        for batch in frames:
            for f in batch:
                assert C.apply(f) == OK
        assert (A.version, B.version, C.version) == (3, 2, 4)

        with pytest.raises(podsync.InvalidArgument):
            A.promote(0)  # not above the term it follows
        A.promote(2)
        assert type(A) is podsync.Writer and A.role == podsync.Role.WRITER
        assert (A.term, A.version, A.info().stream_id) == (2, 3, W.info().stream_id)
        with pytest.raises(podsync.WrongRole):
            A.promote(3)  # a writer already
        new = write_round(A, 5)
        assert all(podsync.peek(f).term == 2 for f in new)

        # B (behind the promotion point) continues with deltas from A.
        assert all(B.apply(f) == GAP for f in new)
        catch_up = A.catch_up(B.version, copy=True)
        assert catch_up and not any(podsync.peek(f).is_snapshot for f in catch_up)
        assert all(B.apply(f) == OK for f in catch_up)
        assert (B.version, B.digest(), B.term) == (A.version, A.digest(), 2)

        # C applied a version of the old term A never had: told, unchanged, healed by a snapshot.
        c_version, c_digest = C.version, C.digest()
        with pytest.raises(podsync.HistoryDiverged) as exc:
            C.apply(new[0])
        assert exc.value.status == podsync.Status.E_HISTORY_DIVERGED and isinstance(exc.value, podsync.Diverged)
        assert (C.version, C.digest()) == (c_version, c_digest)
        assert not C.info().diverged  # not marked: nothing changed, it still serves what it has
        assert all(C.apply(f) == OK for f in A.snapshot(copy=True))
        assert (C.version, C.digest(), C.term) == (A.version, A.digest(), 2)

        # W comes back and writes on in term 0: B, following term 2, fences it off.
        old = write_round(W, 6)
        assert podsync.peek(old[0]).term == 0
        b_version, b_digest = B.version, B.digest()
        with pytest.raises(podsync.TermFenced) as fenced:
            B.apply(old[0])
        assert fenced.value.status == podsync.Status.E_TERM_FENCED and fenced.value.status_name == "PODSYNC_E_TERM_FENCED"
        assert (B.version, B.digest()) == (b_version, b_digest)

        # Everyone follows A on.
        for f in write_round(A, 7):
            assert B.apply(f) == OK and C.apply(f) == OK
        assert A.digest() == B.digest() == C.digest()
        a_version, a_digest = A.version, A.digest()
    finally:
        W.close(), A.close(), B.close(), C.close()
    # The promotion was logged: A reopens as the writer of term 2.
    with podsync.open_store(tmp_path / "a") as again:
        assert type(again) is podsync.Writer and again.term == 2
        assert (again.version, again.digest()) == (a_version, a_digest)


def test_promote_refusals(schema: podsync.Schema) -> None:
    with podsync.Replica(schema) as lonely, pytest.raises(podsync.InvalidArgument):
        lonely.promote(1)  # follows no stream
    with podsync.Writer(schema) as w, pytest.raises(podsync.WrongRole):
        w.promote(1)
    with podsync.Replica(schema) as r, pytest.raises(OverflowError):
        r.promote(-1)


def test_the_exceptions_of_durability() -> None:
    for cls, status, builtin in (
        (podsync.TermFenced, podsync.Status.E_TERM_FENCED, None),
        (podsync.HistoryDiverged, podsync.Status.E_HISTORY_DIVERGED, None),
        (podsync.PodSyncIOError, podsync.Status.E_IO, OSError),
        (podsync.FileCorrupt, podsync.Status.E_FILE_CORRUPT, ValueError),
    ):
        err = podsync.error_for(status, "m", call="c")
        assert type(err) is cls and err.status == status and err.message == "m"
        assert podsync.status_name(status) == "PODSYNC_" + status.name
        if builtin is not None:
            assert isinstance(err, builtin)
    assert (podsync.Status.E_TERM_FENCED, podsync.Status.E_HISTORY_DIVERGED) == (-25, -26)
    assert (podsync.Status.E_IO, podsync.Status.E_FILE_CORRUPT) == (-31, -32)
    assert [p.name for p in podsync.LogPolicy] == ["NONE", "EVERY_FRAME", "INTERVAL", "OS"]
