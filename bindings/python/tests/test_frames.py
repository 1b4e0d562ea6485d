"""Frames: ownership of the outbox, any buffer into apply, peek/validate/sections in place."""

from __future__ import annotations

import io

import numpy as np
import pytest

import podsync
from _support import ENTITY, ITEM, entities, library_outbox


def one_frame(w: podsync.Writer, keys: list[int], deletes: list[int] = [], seed: int = 0) -> memoryview:
    k = np.array(keys, np.uint64)
    w.put_many(1, k, entities(k, seed))
    for d in deletes:
        w.delete(1, d)
    (frame,) = w.flush()
    assert isinstance(frame, memoryview)
    return frame


def test_borrowed_frames_are_read_only_memoryviews_revoked_by_the_next_producer(writer: podsync.Writer) -> None:
    frame = one_frame(writer, [1, 2])
    assert frame.readonly and frame.format == "B" and frame.nbytes == podsync.peek(frame).frame_length
    assert frame.nbytes % 8 == 0
    with pytest.raises(TypeError):
        frame[0] = 0  # type: ignore[index]
    data = bytes(frame)
    writer.put(1, 3, entities([3])[0])
    second = writer.flush()  # revokes `frame`
    with pytest.raises(ValueError, match="released"):
        bytes(frame)
    assert len(second) == 1 and bytes(second[0]) != data
    writer.snapshot()
    with pytest.raises(ValueError):
        second[0].tobytes()


def test_a_failing_producer_revokes_the_frames_handed_out_before(
    writer: podsync.Writer, replica: podsync.Replica
) -> None:
    """The library may clear or move its outbox before a producing call fails (a durable flush
    whose log write fails, a delta or snapshot out of memory): frames borrowed before the call are
    released whether it succeeds or not, so none can read memory the library reused or freed. What
    the outbox holds after an error is the library's business (here: refused before any work, so
    it holds what it held)."""
    frame = one_frame(writer, [1, 2])
    kept = bytes(frame)
    assert library_outbox(writer) == [kept]
    with pytest.raises(podsync.VersionAhead):
        writer.delta_since(writer.version + 1)
    with pytest.raises(ValueError, match="released"):
        bytes(frame)
    assert library_outbox(writer) == [kept]  # refused before the outbox was touched

    (message,) = writer.summary(1)
    summary = bytes(message)
    with pytest.raises(podsync.InvalidArgument):
        writer.summary(6)  # levels 0 to 5
    with pytest.raises(ValueError):
        bytes(message)
    (message,) = writer.summary(1)
    with pytest.raises(podsync.InvalidArgument):
        writer.reconcile(kept)  # a frame, not a summary message
    with pytest.raises(ValueError):
        bytes(message)
    assert [podsync.peek(f).is_summary for f in library_outbox(writer)] == [True]

    (message,) = writer.summary(1)
    with pytest.raises(podsync.FrameChecksum):
        writer.reconcile(summary[:-8] + bytes(8))  # a damaged message
    with pytest.raises(ValueError):
        bytes(message)

    # The store still produces; its frames are what the library's outbox holds.
    writer.put(1, 3, entities([3])[0])
    frames = writer.flush()
    assert [bytes(f) for f in frames] == library_outbox(writer)
    assert replica.apply(kept) == podsync.ApplyResult.OK
    assert replica.apply(frames[0]) == podsync.ApplyResult.OK
    assert replica.digest() == writer.digest()


def test_derived_frame_views_make_the_producer_refuse(writer: podsync.Writer) -> None:
    frame = one_frame(writer, [1])
    head = frame[:88]  # a slice of the borrowed frame holds the outbox memory
    arr = np.frombuffer(frame, np.uint8)
    with pytest.raises(podsync.ViewsAliveError, match="frames"):
        writer.flush()
    with pytest.raises(ValueError):
        bytes(frame)  # the original was revoked anyway
    assert bytes(head[:4]) == b"PSYN" and arr[:4].tobytes() == b"PSYN"  # still valid memory
    del head, arr
    assert writer.flush() == []


def test_copy_true_returns_bytes_that_outlive_the_outbox(writer: podsync.Writer, replica: podsync.Replica) -> None:
    writer.put(1, 1, entities([1])[0])
    kept = writer.flush(copy=True)
    writer.put(1, 2, entities([2])[0])
    kept += writer.flush(copy=True)
    writer.snapshot(copy=True)
    assert all(type(f) is bytes for f in kept)
    assert [replica.apply(f) for f in kept] == [podsync.ApplyResult.OK] * 2
    assert replica.digest() == writer.digest()


def test_close_revokes_frames(schema: podsync.Schema) -> None:
    w = podsync.Writer(schema)
    frame = one_frame(w, [1])  # type: ignore[arg-type]
    w.close()
    with pytest.raises(ValueError):
        bytes(frame)


def test_close_with_a_derived_frame_view_keeps_memory_valid(schema: podsync.Schema) -> None:
    w = podsync.Writer(schema)
    frame = one_frame(w, [1])  # type: ignore[arg-type]
    arr = np.frombuffer(frame, np.uint8)
    expected = arr.tobytes()
    w.close()
    assert arr.tobytes() == expected
    del arr


@pytest.mark.parametrize(
    "convert",
    [
        bytes,
        bytearray,
        lambda f: memoryview(bytes(f)),
        lambda f: memoryview(bytearray(f)),
        lambda f: np.frombuffer(bytes(f), np.uint8),  # read-only numpy
        lambda f: np.frombuffer(bytearray(f), np.uint8),  # writable numpy
        lambda f: np.frombuffer(bytes(f), np.uint64),  # another itemsize
        lambda f: f,  # the borrowed memoryview itself
        lambda f: np.repeat(np.frombuffer(bytes(f), np.uint8), 2)[::2],  # non-contiguous: copied
        lambda f: memoryview(b"\0" + bytes(f))[1:],  # unaligned read-only
        lambda f: memoryview(bytearray(b"\0" + bytes(f)))[1:],  # unaligned writable
    ],
)
def test_apply_accepts_any_buffer(writer: podsync.Writer, replica: podsync.Replica, convert: object) -> None:
    frame = one_frame(writer, [1, 2, 3])
    assert replica.apply(convert(frame)) == podsync.ApplyResult.OK  # type: ignore[operator]
    assert replica.digest() == writer.digest()


def test_apply_does_not_hold_the_callers_buffer(writer: podsync.Writer, replica: podsync.Replica) -> None:
    buf = bytearray(one_frame(writer, [1]))
    replica.apply(buf)
    buf.extend(b"more")  # would raise BufferError if the binding still held an export of it


def test_apply_rejects_non_buffers(replica: podsync.Replica) -> None:
    with pytest.raises(TypeError, match="bytes-like"):
        replica.apply("not bytes")
    with pytest.raises(podsync.FrameTruncated):
        replica.apply(b"")


def test_peek_and_validate(writer: podsync.Writer, schema: podsync.Schema) -> None:
    frame = one_frame(writer, [1, 2], seed=1)
    full = podsync.validate(frame)
    head = podsync.peek(bytes(frame[: full.header_length]))  # the header alone is enough
    assert head == full
    # A writer writes format 2, the compact header, unless frame_format=1 asks for format 1
    # (library 0.8.0; format 1 was the default of libraries 0.5.0 to 0.7.x).
    assert full.format_version == 2 and 40 <= full.header_length < podsync.FRAME_HEADER_SIZE == 88
    assert full.header_length % 8 == 0 and podsync.FORMAT_VERSION == 2
    assert (full.term, full.snapshot_id, full.chunk_flags) == (0, 0, 0) and not full.is_chunk
    assert full.frame_length == frame.nbytes and full.section_count == 1 and full.codec == 0
    assert (full.base_version, full.state_version, full.sequence) == (0, 1, 1)
    assert full.has_digest and full.state_digest == writer.digest() and not full.is_snapshot
    assert full.schema_hash == writer.info().schema_hash and full.stream_id == writer.info().stream_id
    (snap,) = writer.snapshot()
    s = podsync.validate(snap)
    assert s.is_snapshot and s.base_version == 0 and s.state_version == 1 and s.sequence == 2
    assert s.format_version == 2 and s.header_length < podsync.FRAME_HEADER_SIZE
    # The same frame in format 1: the 88-byte header, the same fields.
    with podsync.Writer(schema, manual_clock=True, frame_format=1) as w1:
        frame1 = one_frame(w1, [1, 2], seed=1)
        head1 = podsync.peek(bytes(frame1[: podsync.FRAME_HEADER_SIZE]))
        full1 = podsync.validate(frame1)
        assert head1 == full1
        assert full1.format_version == 1 and full1.header_length == 88 and full1.frame_length == frame1.nbytes
        assert full1.frame_length > full.frame_length
        fields = ("section_count", "codec", "transforms", "base_version", "state_version", "sequence", "term",
                  "state_digest", "schema_hash", "flags")  # fmt: skip
        assert [getattr(full1, f) for f in fields] == [getattr(full, f) for f in fields]
        assert full1.stream_id == w1.info().stream_id
        (snap1,) = w1.snapshot()
        s1 = podsync.validate(snap1)
        assert s1.is_snapshot and s1.format_version == 1 and s1.header_length == 88 and s1.sequence == 2


def test_stream_reading_with_peek(writer: podsync.Writer, replica: podsync.Replica) -> None:
    """A byte stream of frames, read as a transport would: the 16-byte prefix (peek names the
    header's length), the rest of the header, peek, then the rest. Never a byte past a frame: the
    writer's frames are format 2, whose header (and the empty snapshot) is shorter than 88 bytes."""
    stream = io.BytesIO()
    (empty,) = writer.snapshot()  # the empty state: shorter than a format-1 header
    assert len(empty) < podsync.FRAME_HEADER_SIZE
    stream.write(empty)
    for tick in range(5):
        keys = np.arange(tick * 10, tick * 10 + 10, dtype=np.uint64)
        writer.put_many(1, keys, entities(keys, tick))
        for f in writer.flush():
            stream.write(f)
    end = stream.tell()
    stream.seek(0)
    applied = 0
    while prefix := stream.read(podsync.FRAME_PREFIX_SIZE):
        with pytest.raises(podsync.FrameTruncated) as exc:
            podsync.peek(prefix)
        announced = exc.value.frame_info
        assert announced is not None and announced.format_version == 2
        assert podsync.FRAME_PREFIX_SIZE < announced.header_length < podsync.FRAME_HEADER_SIZE
        head = prefix + stream.read(announced.header_length - len(prefix))
        length = podsync.peek(head).frame_length
        frame = bytearray(head) + stream.read(length - len(head))
        assert len(frame) == length
        assert replica.apply(frame) == podsync.ApplyResult.OK
        applied += 1
    assert stream.tell() == end and applied == 6
    assert replica.digest() == writer.digest() and replica.version == 5


def test_sections_read_in_place(writer: podsync.Writer, schema: podsync.Schema) -> None:
    writer.put_many(1, np.array([1, 2, 3], np.uint64), entities([1, 2, 3]))
    writer.put(2, 9, np.array([(4, 5)], ITEM))
    writer.flush()
    writer.put_many(1, np.array([2], np.uint64), entities([2], seed=7))
    writer.delete(1, 3)
    writer.delete(2, 9)
    (frame,) = writer.flush()
    secs = podsync.sections(frame, schema)
    assert [s.table_id for s in secs] == [1, 2]
    t1, t2 = secs
    assert t1.record_size == 40 and t1.put_keys.tolist() == [2] and t1.delete_keys.tolist() == [3]
    assert t1.records.dtype == ENTITY and t1.records[0]["flags"] == 9
    assert t2.put_count == 0 and t2.delete_keys.tolist() == [9] and t2.records.dtype == ITEM
    # in place: the arrays point into the frame's own bytes
    start = np.frombuffer(frame, np.uint8).__array_interface__["data"][0]
    address = t1.put_keys.__array_interface__["data"][0]
    assert start < address < start + frame.nbytes
    assert not t1.records.flags.writeable and not t1.put_keys.flags.writeable
    # without a schema the records are opaque
    (raw,) = [s for s in podsync.sections(bytes(frame)) if s.table_id == 1]
    assert raw.records.dtype == np.dtype("V40") and raw.records[0].tobytes() == t1.records[0].tobytes()
    del secs, t1, t2, raw
    writer.flush()  # the sections' arrays were the last holders of the outbox


def test_sections_of_an_unaligned_buffer_are_copied_once(writer: podsync.Writer, schema: podsync.Schema) -> None:
    frame = bytes(one_frame(writer, [5, 6]))
    shifted = memoryview(b"\0\0\0" + frame)[3:]
    (sec,) = podsync.sections(shifted, schema)
    assert sec.put_keys.tolist() == [5, 6] and sec.records["id"].tolist() == [5, 6]
    assert sec.put_keys.__array_interface__["data"][0] % 8 == 0


def test_sections_of_a_snapshot_and_an_empty_snapshot(writer: podsync.Writer, schema: podsync.Schema) -> None:
    (empty,) = writer.snapshot()
    assert podsync.sections(empty) == [] and podsync.validate(empty).section_count == 0
    one_frame(writer, [1, 2])
    (snap,) = writer.snapshot(copy=True)
    (sec,) = podsync.sections(snap, schema)
    assert sorted(sec.put_keys.tolist()) == [1, 2] and sec.delete_count == 0


def test_sections_validates_first(writer: podsync.Writer) -> None:
    frame = bytearray(one_frame(writer, [1]))
    frame[-1] ^= 0xFF
    with pytest.raises(podsync.FrameChecksum):
        podsync.sections(frame)
