"""Every exception family, each from real bad input to the real library."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import podsync
from _support import ENTITY, ITEM, XXH3, entities, state


def first_delta(writer: podsync.Writer) -> bytes:
    keys = np.array([1, 2, 3], np.uint64)
    writer.put_many(1, keys, entities(keys))
    writer.delete(2, 1)
    (f,) = writer.flush(copy=True)
    return f  # type: ignore[return-value]


@pytest.fixture
def frame(writer: podsync.Writer) -> bytes:
    """A delta of the default writer: format 2 since library 0.8.0 (a compact header)."""
    f = first_delta(writer)
    info = podsync.peek(f)
    assert info.format_version == 2 and info.header_length < podsync.FRAME_HEADER_SIZE
    return f


@pytest.fixture
def frame_v1(schema: podsync.Schema) -> bytes:
    """The same delta from a writer pinned to format 1, for the checks of format 1's fixed layout
    (the 88-byte header: frame_length at 16, flags at 24, codec at 30)."""
    with podsync.Writer(schema, manual_clock=True, frame_format=1) as w1:
        f = first_delta(w1)
    info = podsync.peek(f)
    assert info.format_version == 1 and info.header_length == podsync.FRAME_HEADER_SIZE == 88
    return f


def leb128(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned LEB128 at data[pos:] and the position after it."""
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return value, pos


def v2_codec_offset(frame: bytes) -> int:
    """Where a format-2 frame's codec byte is: after the fixed fields (32 bytes, 40 with
    HAS_DIGEST) and the LEB128 core fields frame_length, term, sequence, base_version,
    version_delta and section_count (docs/FORMAT.md, "Header" of "Format version 2")."""
    pos = 40 if podsync.peek(frame).has_digest else 32
    for _ in range(6):
        _, pos = leb128(frame, pos)
    return pos


def check(exc: pytest.ExceptionInfo[podsync.PodSyncError], status: podsync.Status) -> None:
    err = exc.value
    assert err.status == status and err.status_name == "PODSYNC_" + status.name
    assert err.status_name in str(err)


def assert_unchanged(replica: podsync.Replica, before: tuple[int, int, dict[int, bytes]]) -> None:
    assert (replica.version, replica.digest(), state(replica, 1)) == before


def snapshot_of(replica: podsync.Replica) -> tuple[int, int, dict[int, bytes]]:
    return replica.version, replica.digest(), state(replica, 1)


def test_calls_without_a_handle_carry_the_threads_last_message(schema: podsync.Schema) -> None:
    """Library 0.4.0: podsync_last_errmsg gives handle-less calls a message too."""
    calls = {
        "podsync_frame_peek": lambda: podsync.peek(b"short"),
        "podsync_frame_validate": lambda: podsync.validate(b"not a frame" * 10),
        "podsync_frame_validate_limited": lambda: podsync.validate(b"not a frame" * 10, max_decoded_bytes=64),
        "podsync_schema_decode": lambda: podsync.Schema.from_bytes(b"not a schema"),
        "podsync_store_create": lambda: podsync.Store(schema, 99),
    }
    for call, fn in calls.items():
        with pytest.raises(podsync.PodSyncError) as exc:
            fn()
        assert exc.value.call == call
        assert exc.value.message, f"{call}: no message"
        assert exc.value.message in str(exc.value)
    # The message belongs to the failing call, not to an earlier one.
    with pytest.raises(podsync.FrameTruncated) as short:
        podsync.peek(b"short")
    with pytest.raises(podsync.FrameMagic) as magic:
        podsync.peek(b"x" * 100)
    assert short.value.message != magic.value.message


def test_hierarchy() -> None:
    for cls in (
        podsync.InvalidArgument, podsync.UnknownTable, podsync.RecordSizeError, podsync.NoMemory,
        podsync.WrongRole, podsync.SchemaInvalid, podsync.FrameError, podsync.SchemaMismatch,
        podsync.StreamMismatch, podsync.Diverged, podsync.VersionAhead, podsync.SnapshotRequired,
        podsync.InternalError, podsync.BufferTooSmall, podsync.DictionaryMissing, podsync.LimitError,
        podsync.FrameTooLarge, podsync.SnapshotExpired, podsync.FrameFeature, podsync.ChunkMismatch,
        podsync.TermFenced, podsync.HistoryDiverged, podsync.PodSyncIOError, podsync.FileCorrupt,
    ):  # fmt: skip
        assert issubclass(cls, podsync.PodSyncError)
    for cls in (podsync.FrameTruncated, podsync.FrameMagic, podsync.FrameVersion, podsync.FrameChecksum,
                podsync.FrameMalformed, podsync.UnsupportedCodec, podsync.FrameFeature):  # fmt: skip
        assert issubclass(cls, podsync.FrameError)
    # Library 0.5.0: a chunk that contradicts the staged ones is not a bad frame; an expired
    # snapshot is something the store no longer holds.
    assert not issubclass(podsync.ChunkMismatch, podsync.FrameError) and issubclass(podsync.ChunkMismatch, ValueError)
    assert issubclass(podsync.SnapshotExpired, LookupError)
    assert issubclass(podsync.DigestMismatch, podsync.Diverged)
    # Library 0.6.0: a history that left the replica's needs a snapshot, as a diverged replica
    # does; a file error is an OSError; a fenced frame is neither a bad frame nor a divergence.
    assert issubclass(podsync.HistoryDiverged, podsync.Diverged)
    assert issubclass(podsync.PodSyncIOError, OSError) and issubclass(podsync.FileCorrupt, ValueError)
    assert not issubclass(podsync.TermFenced, (podsync.Diverged, podsync.FrameError))
    assert issubclass(podsync.InvalidArgument, ValueError) and issubclass(podsync.NoMemory, MemoryError)
    assert issubclass(podsync.UnknownTable, LookupError)
    for status in podsync.Status:
        if status < 0:
            err = podsync.error_for(status, "m")
            assert err.status == status and err.message == "m"
            assert type(err) is not podsync.PodSyncError, status


def test_invalid_argument(schema: podsync.Schema) -> None:
    with pytest.raises(podsync.InvalidArgument) as exc:
        podsync.Store(schema, 7)  # no such role
    check(exc, podsync.Status.E_INVALID_ARGUMENT)


def test_unknown_table(writer: podsync.Writer) -> None:
    with pytest.raises(podsync.UnknownTable) as exc:
        writer.put(99, 1, bytes(40))
    check(exc, podsync.Status.E_UNKNOWN_TABLE)
    assert "99" in exc.value.message  # the library's message (podsync_store_errmsg)
    for call in (lambda: writer.count(99), lambda: writer.get(99, 1), lambda: writer.table(99),
                 lambda: writer.delete(99, 1), lambda: writer.delete_many(99, [1])):  # fmt: skip
        with pytest.raises(podsync.UnknownTable):
            call()


def test_record_size(writer: podsync.Writer) -> None:
    with pytest.raises(podsync.RecordSizeError) as exc:
        writer.put(1, 1, bytes(39))
    check(exc, podsync.Status.E_RECORD_SIZE)
    assert exc.value.message
    with pytest.raises(podsync.RecordSizeError):
        writer.put(1, 1, np.zeros(1, ITEM))
    assert writer.info().pending_changes == 0


def test_wrong_role(schema: podsync.Schema, frame: bytes) -> None:
    with podsync.Store(schema, podsync.Role.REPLICA) as r, podsync.Store(schema, podsync.Role.WRITER) as w:
        with pytest.raises(podsync.WrongRole) as exc:
            r.put(1, 1, bytes(40))
        check(exc, podsync.Status.E_WRONG_ROLE)
        for call in (lambda: r.put_many(1, [1], bytes(40)), lambda: r.delete(1, 1), lambda: r.flush(),
                     lambda: r.set_time(5), lambda: w.apply(frame)):  # fmt: skip
            with pytest.raises(podsync.WrongRole):
                call()


def test_schema_invalid() -> None:
    with podsync.Schema() as s, pytest.raises(podsync.SchemaInvalid) as exc:
        s.add_table(1, record_size=12, alignment=8)
    check(exc, podsync.Status.E_SCHEMA_INVALID)
    with pytest.raises(podsync.SchemaInvalid):
        podsync.Schema.from_bytes(b"PSYNSCH1\x01\x00\x00\x00")


def test_frame_truncated(replica: podsync.Replica, frame: bytes, frame_v1: bytes) -> None:
    before = snapshot_of(replica)
    for f in (frame_v1, frame):
        header = podsync.peek(f).header_length  # 88 in format 1, less in format 2
        for bad in (f[:-8], f[: header - 1], f[: podsync.FRAME_PREFIX_SIZE], b"PSYN"):
            with pytest.raises(podsync.FrameTruncated) as exc:
                replica.apply(bad)
            check(exc, podsync.Status.E_FRAME_TRUNCATED)
        with pytest.raises(podsync.FrameTruncated):
            podsync.validate(f[:100])
        with pytest.raises(podsync.FrameTruncated):
            podsync.peek(f[: header - 8])
    with pytest.raises(podsync.FrameTruncated):
        replica.apply(frame_v1[:87])
    assert_unchanged(replica, before)


def test_frame_magic(replica: podsync.Replica, frame: bytes) -> None:
    bad = b"XSYN" + frame[4:]
    with pytest.raises(podsync.FrameMagic) as exc:
        replica.apply(bad)
    check(exc, podsync.Status.E_FRAME_MAGIC)
    with pytest.raises(podsync.FrameMagic):
        podsync.peek(bad)


def test_frame_version(replica: podsync.Replica, frame: bytes, frame_v1: bytes) -> None:
    # Library 0.5.0 reads formats 1 and 2 (a u16 2 at offset 4 now reads as format 2 with a
    # header of 0 bytes: malformed); 3 is a version no library reads.
    for f in (frame_v1, frame):
        bad = f[:4] + (3).to_bytes(2, "little") + f[6:]
        with pytest.raises(podsync.FrameVersion) as exc:
            replica.apply(bad)
        check(exc, podsync.Status.E_FRAME_VERSION)


@pytest.mark.parametrize("fmt", [1, 2])
def test_frame_checksum_on_every_single_bit_flip_of_the_checked_bytes(
    replica: podsync.Replica, frame: bytes, frame_v1: bytes, fmt: int
) -> None:
    frame = frame_v1 if fmt == 1 else frame
    info = podsync.peek(frame)
    assert info.format_version == fmt and info.has_digest
    # The only checked byte read before the checksum is frame_length's: format 1's u64 at 16,
    # format 2's minimal LEB128 at 40 (after the digest) (steps 5 to 7, V6 to V9).
    if fmt == 1:
        length_field = range(16, 24)
    else:
        length_field = range(40, leb128(frame, 40)[1])
        assert leb128(frame, 40)[0] == len(frame)
    before = snapshot_of(replica)
    rng = np.random.default_rng(1)
    positions = sorted(set(rng.integers(16, len(frame), size=64).tolist()) | {16, 40, len(frame) - 1})
    for pos in positions:
        bad = bytearray(frame)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(podsync.FrameError) as exc:  # checksum, or truncated/malformed if the length moved
            replica.apply(bad)
        if pos not in length_field:
            check(exc, podsync.Status.E_FRAME_CHECKSUM)
    bad = bytearray(frame)
    bad[8] ^= 0x10  # the checksum itself
    with pytest.raises(podsync.FrameChecksum):
        podsync.validate(bad)
    assert_unchanged(replica, before)


def test_frame_malformed(replica: podsync.Replica, frame: bytes, frame_v1: bytes, xxh3: XXH3) -> None:
    for f in (frame_v1, frame):
        with pytest.raises(podsync.FrameMalformed) as exc:
            replica.apply(f + bytes(8))  # more bytes than the frame: size must be exact
        check(exc, podsync.Status.E_FRAME_MALFORMED)
    assert xxh3.reseal(bytearray(frame)) == frame and xxh3.reseal(bytearray(frame_v1)) == frame_v1
    bad = bytearray(frame_v1)
    bad[24] |= 0x80  # an unknown flag of format 1 (flags u32 at 24), checksum recomputed
    with pytest.raises(podsync.FrameMalformed):
        replica.apply(xxh3.reseal(bad))
    with pytest.raises(podsync.FrameMalformed):
        podsync.validate(xxh3.reseal(bad))


def test_unsupported_codec(replica: podsync.Replica, frame: bytes, frame_v1: bytes, xxh3: XXH3) -> None:
    before = snapshot_of(replica)
    bad = bytearray(frame_v1)
    assert bad[30] == podsync.CODEC_NONE
    bad[30] = 2  # codec 2 (unknown) at format 1's byte 30, checksum recomputed
    with pytest.raises(podsync.UnsupportedCodec) as exc:
        replica.apply(xxh3.reseal(bad))
    check(exc, podsync.Status.E_UNSUPPORTED_CODEC)
    assert isinstance(exc.value, podsync.FrameError)
    # Format 2: the codec byte follows the LEB128 core fields (step V14).
    bad = bytearray(frame)
    at = v2_codec_offset(frame)
    assert bad[at] == podsync.CODEC_NONE
    bad[at] = 2
    with pytest.raises(podsync.UnsupportedCodec) as exc:
        replica.apply(xxh3.reseal(bad))
    check(exc, podsync.Status.E_UNSUPPORTED_CODEC)
    with pytest.raises(podsync.UnsupportedCodec):
        podsync.validate(bytes(bad))
    assert_unchanged(replica, before)


def test_schema_mismatch(frame: bytes) -> None:
    with podsync.Schema({1: ENTITY}) as other, podsync.Replica(other) as r:
        with pytest.raises(podsync.SchemaMismatch) as exc:
            r.apply(frame)
        check(exc, podsync.Status.E_SCHEMA_MISMATCH)
        assert r.version == 0


def test_stream_mismatch(schema: podsync.Schema, replica: podsync.Replica, frame: bytes) -> None:
    assert replica.apply(frame) == podsync.ApplyResult.OK
    with podsync.Writer(schema) as other:
        other.put(1, 1, entities([1])[0])
        other.flush()
        other.put(1, 2, entities([2])[0])
        (delta,) = other.flush()
        with pytest.raises(podsync.StreamMismatch) as exc:
            replica.apply(delta)
        check(exc, podsync.Status.E_STREAM_MISMATCH)
        (snap,) = other.snapshot()  # a snapshot of another stream moves the replica to it
        assert replica.apply(snap) == podsync.ApplyResult.OK and replica.digest() == other.digest()


def test_digest_mismatch_then_diverged_then_healed(schema: podsync.Schema, replica: podsync.Replica) -> None:
    """Two writers that (wrongly) share a stream id: the replica applies A's v1 and B's v1->v2."""
    with podsync.Writer(schema, stream_id=77) as a, podsync.Writer(schema, stream_id=77) as b:
        a.put(1, 1, entities([1], seed=1)[0])
        (a1,) = a.flush()
        b.put(1, 1, entities([1], seed=2)[0])
        b.flush()
        b.put(1, 2, entities([2])[0])
        (b2,) = b.flush()
        assert replica.apply(a1) == podsync.ApplyResult.OK
        with pytest.raises(podsync.DigestMismatch) as exc:
            replica.apply(b2)
        check(exc, podsync.Status.E_DIGEST_MISMATCH)
        assert isinstance(exc.value, podsync.Diverged)
        info = replica.info()
        assert info.diverged and info.state_version == 2  # applied, then marked diverged
        b.put(1, 3, entities([3])[0])
        (b3,) = b.flush()
        with pytest.raises(podsync.Diverged) as exc2:
            replica.apply(b3)
        check(exc2, podsync.Status.E_DIVERGED)
        assert type(exc2.value) is podsync.Diverged
        with pytest.raises(podsync.Diverged):
            replica.snapshot()  # a diverged replica serves nothing
        with pytest.raises(podsync.Diverged):
            replica.delta_since(0)
        (snap,) = b.snapshot()
        assert replica.apply(snap) == podsync.ApplyResult.OK
        assert not replica.info().diverged and replica.digest() == b.digest()


def test_version_ahead(writer: podsync.Writer, frame: bytes) -> None:
    with pytest.raises(podsync.VersionAhead) as exc:
        writer.delta_since(writer.version + 1)
    check(exc, podsync.Status.E_VERSION_AHEAD)


def test_snapshot_required_and_catch_up(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, tombstone_horizon=2) as w, podsync.Replica(schema) as r:
        for v in range(6):
            w.put(1, v + 10, entities([v + 10])[0])
            w.delete(1, v + 9)
            w.flush()
        floor = w.info().catchup_floor
        assert floor > 1
        with pytest.raises(podsync.SnapshotRequired) as exc:
            w.delta_since(1)
        assert exc.value.status == podsync.Status.SNAPSHOT_REQUIRED
        (frame,) = w.delta_since(floor)
        assert not podsync.peek(frame).is_snapshot
        (healing,) = w.catch_up(1)
        assert podsync.peek(healing).is_snapshot
        assert r.apply(healing) == podsync.ApplyResult.OK and r.digest() == w.digest()


def test_stale_and_gap_are_values_not_errors(writer: podsync.Writer, replica: podsync.Replica) -> None:
    writer.put(1, 1, entities([1])[0])
    (old_snap,) = writer.snapshot(copy=True)
    writer.flush()
    writer.put(1, 2, entities([2])[0])
    (d2,) = writer.flush(copy=True)
    writer.put(1, 3, entities([3])[0])
    (d3,) = writer.flush(copy=True)
    assert replica.apply(d3) == podsync.ApplyResult.GAP and replica.version == 0
    for f in writer.catch_up(replica.version):
        assert replica.apply(f) == podsync.ApplyResult.OK
    assert replica.apply(d2) == podsync.ApplyResult.DUPLICATE
    assert replica.apply(old_snap) == podsync.ApplyResult.STALE


def test_no_memory_from_an_allocation_the_engine_cannot_make() -> None:
    """Run in a child limited in address space: a 1 MiB-record table asked to hold 160 MiB."""
    code = textwrap.dedent(
        """
        import resource, numpy as np, podsync
        schema = podsync.Schema().add_table(1, record_size=1 << 20, alignment=64)
        w = podsync.Writer(schema)
        records = np.zeros((160, 1 << 20), np.uint8)  # Python's own copy: 160 MiB
        keys = np.arange(160, dtype=np.uint64)
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + (64 << 20), resource.RLIM_INFINITY))
        try:
            w.put_many(1, keys, records)
        except podsync.NoMemory as e:
            assert e.status == -5 and w.count(1) == 0 and w.info().pending_changes == 0
            print("NoMemory:", e)
        else:
            print("no error")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("NoMemory: podsync_store_put_many: PODSYNC_E_NO_MEMORY"), result.stdout


def test_errors_leave_the_writer_unchanged(writer: podsync.Writer) -> None:
    writer.put_many(1, np.array([1, 2], np.uint64), entities([1, 2]))
    before = writer.info()
    for call in (lambda: writer.put(1, 3, bytes(3)), lambda: writer.put(5, 3, bytes(40)),
                 lambda: writer.delta_since(10)):  # fmt: skip
        with pytest.raises(podsync.PodSyncError):
            call()
    assert writer.info() == before


# --- every exception the package raises is a PodSyncError -----------------------------------------


def test_every_exported_exception_derives_from_podsync_error() -> None:
    import_errors = {podsync.LibraryNotFoundError, podsync.LibraryVersionError}  # raised by `import podsync`
    exported = [getattr(podsync, name) for name in podsync.__all__]
    classes = [c for c in exported if isinstance(c, type) and issubclass(c, BaseException)]
    assert len(classes) > 30
    for cls in classes:
        assert cls in import_errors or issubclass(cls, podsync.PodSyncError), cls.__name__
    # ...keeping the builtins they derived from before, for code that catches those.
    assert issubclass(podsync.ViewsAliveError, BufferError) and issubclass(podsync.ClosedError, ValueError)
    assert issubclass(podsync.OutOfRangeError, OverflowError) and issubclass(podsync.OutOfRangeError, ValueError)
    assert issubclass(podsync.ArgumentTypeError, TypeError) and issubclass(podsync.DtypeMismatch, TypeError)
    assert issubclass(podsync.IncompleteFrame, EOFError) and issubclass(podsync.IncompleteFrame, podsync.FrameTruncated)
    for cls in (podsync.ViewsAliveError, podsync.ClosedError, podsync.OutOfRangeError, podsync.DtypeMismatch):
        assert issubclass(cls, podsync.UsageError)
        err = cls("what went wrong", call="put")
        assert str(err) == "put: what went wrong" and err.message == "what went wrong"
        assert err.status == podsync.Status.E_INVALID_ARGUMENT and err.status_name == "PODSYNC_E_INVALID_ARGUMENT"


def test_views_alive_and_closed_are_podsync_errors(writer: podsync.Writer) -> None:
    writer.put_many(1, np.array([1], np.uint64), entities([1]))
    writer.flush()
    view = writer.table(1)
    with pytest.raises(podsync.PodSyncError) as info:
        writer.put(1, 2, entities([2])[0])
    assert type(info.value) is podsync.ViewsAliveError and isinstance(info.value, BufferError)
    del view
    writer.close()
    with pytest.raises(podsync.PodSyncError) as closed:
        writer.count(1)
    assert type(closed.value) is podsync.ClosedError and isinstance(closed.value, ValueError)


def test_no_builtin_exception_is_raised_directly_by_the_package() -> None:
    """Every `raise X(...)` in the package's source raises one of its own classes."""
    import ast
    import builtins
    from pathlib import Path

    builtin_errors = {n for n in dir(builtins) if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)}
    offenders = []
    for path in sorted(Path(podsync.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                if isinstance(func, ast.Name) and func.id in builtin_errors:
                    offenders.append(f"{path.name}:{node.lineno}: raise {func.id}")
    assert offenders == []


def test_errors_pickle() -> None:
    import pickle

    for err in (
        podsync.error_for(podsync.Status.E_FRAME_CHECKSUM, "bad sum", call="podsync_store_apply"),
        podsync.ClosedError("closed", call="put"),
        podsync.OutOfRangeError("key must be in 0..", call="put"),
        podsync.SnapshotRequired(podsync.Status.SNAPSHOT_REQUIRED, "too old", call="delta_since"),
        podsync.error_for(podsync.Status.E_IO, "disk full", call="podsync_store_flush"),  # an OSError too
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
        assert (back.status, back.message, back.call) == (err.status, err.message, err.call)
