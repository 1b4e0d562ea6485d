"""Limits (library 0.4.0): the options ``max_records`` and ``max_tombstones`` (options struct
version 3), LimitError (PODSYNC_E_LIMIT), and ``validate(frame, max_decoded_bytes=...)``
(podsync_frame_validate_limited), with the header's fields on the error of a rejected frame."""

from __future__ import annotations

import numpy as np
import pytest

import podsync
from podsync._store import _options
from _support import entities, state

U64_MAX = (1 << 64) - 1
PACKED = np.dtype([("id", "<u8"), ("pos", "<f4", (7,)), ("flags", "<u4")])  # 40 bytes, compressible


# --- options -------------------------------------------------------------------------------------


def test_options_round_trip_and_defaults() -> None:
    defaults = _options()
    assert (defaults.version, defaults.max_records, defaults.max_tombstones) == (4, 0, 1048576)
    assert defaults.frame_format == 2  # options version 4 (library 0.5.0); 2 since library 0.8.0
    assert (defaults.refresh_flushes, defaults.refresh_ms) == (0, 0)  # the rolling refresh: off
    opts = _options(max_records=3, max_tombstones=U64_MAX, max_decoded_bytes=4096)
    assert (opts.max_records, opts.max_tombstones, opts.max_decoded_bytes) == (3, U64_MAX, 4096)
    # Every other field keeps its default.
    others = [f for f, _ in type(opts)._fields_ if f not in ("max_records", "max_tombstones", "max_decoded_bytes")]
    assert [getattr(opts, f) for f in others] == [getattr(defaults, f) for f in others]
    assert _options(max_records=np.uint64(5)).max_records == 5  # any integer type (__index__)
    assert _options(max_records=0, max_tombstones=0).max_tombstones == 0  # 0: no limit


def test_every_store_constructor_takes_the_limits(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, max_records=1, max_tombstones=1) as w, podsync.Replica(
        schema, max_records=1, max_tombstones=1
    ) as r, podsync.Store(schema, podsync.Role.REPLICA, max_records=1) as s:
        w.put(2, 1, bytes(8))
        with pytest.raises(podsync.LimitError):
            w.put(2, 2, bytes(8))
        assert r.count(1) == s.count(1) == 0


@pytest.mark.parametrize("name", ["max_records", "max_tombstones", "max_decoded_bytes", "tombstone_horizon", "stream_id"])
@pytest.mark.parametrize("value", [-1, 1 << 64, -(1 << 70)])
def test_integer_options_out_of_range_raise_overflow_error(schema: podsync.Schema, name: str, value: int) -> None:
    with pytest.raises(OverflowError, match=name):
        podsync.Store(schema, podsync.Role.WRITER, **{name: value})
    # Also a ValueError, which is what 0.3.0 raised for negative values.
    with pytest.raises(ValueError):
        podsync.Store(schema, podsync.Role.WRITER, **{name: value})


@pytest.mark.parametrize("value", [1.0, "3", True])
def test_integer_options_must_be_ints(schema: podsync.Schema, value: object) -> None:
    with pytest.raises(TypeError, match="max_records"):
        podsync.Writer(schema, max_records=value)  # type: ignore[arg-type]


def test_narrower_options_are_range_checked_too(schema: podsync.Schema) -> None:
    with pytest.raises(OverflowError, match="transforms"):
        podsync.Writer(schema, transforms=1 << 32)
    with pytest.raises(OverflowError, match="compression_level"):
        podsync.Writer(schema, compression_level=1 << 31)
    with podsync.Writer(schema, max_records=U64_MAX, max_tombstones=U64_MAX, compression_level=-5) as w:
        w.put(2, 1, bytes(8))


# --- LimitError ---------------------------------------------------------------------------------


def test_limit_status_and_exception_family() -> None:
    assert podsync.Status.E_LIMIT == -23
    assert podsync.status_name(-23) == "PODSYNC_E_LIMIT"
    err = podsync.error_for(-23, "m", call="c")
    assert type(err) is podsync.LimitError and isinstance(err, podsync.PodSyncError)
    assert (err.status, err.status_name, err.message, err.frame_info) == (-23, "PODSYNC_E_LIMIT", "m", None)
    assert not isinstance(err, podsync.FrameError)  # the frame is valid; the host's limit is not met


def test_a_writer_with_max_records_refuses_a_fourth_record(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, max_records=3, manual_clock=True) as w:
        w.put_many(1, np.array([1, 2], np.uint64), entities([1, 2]))
        w.put(1, 3, entities([3])[0])
        before = (w.info(), state(w, 1), state(w, 2))
        with pytest.raises(podsync.LimitError) as exc:
            w.put(1, 4, entities([4])[0])
        assert exc.value.status == -23 and "max_records" in exc.value.message
        assert (w.info(), state(w, 1), state(w, 2)) == before  # nothing changed
        with pytest.raises(podsync.LimitError):
            w.put(2, 1, bytes(8))  # all tables together
        with pytest.raises(podsync.LimitError):
            w.put_many(1, np.array([3, 4], np.uint64), entities([3, 4]))  # refused whole
        assert (w.info(), state(w, 1), state(w, 2)) == before
        assert w.get(1, 4) is None and w.count(1) == 3

        # Replacing a record is no new record; after a delete a new key fits again.
        w.put(1, 3, entities([3], seed=9)[0])
        assert w.get(1, 3)["flags"] == 3 + 9
        assert w.delete(1, 1)
        w.put(1, 4, entities([4])[0])
        (frame,) = w.flush(copy=True)
        with podsync.Replica(schema) as r:
            assert r.apply(frame) == podsync.ApplyResult.OK
            assert sorted(state(r, 1)) == [2, 3, 4] and r.digest() == w.digest()


def test_a_replica_with_max_records_refuses_a_frame(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as w, podsync.Replica(schema, max_records=3) as r:
        w.put_many(1, np.array([1, 2], np.uint64), entities([1, 2]))
        (first,) = w.flush(copy=True)
        assert r.apply(first) == podsync.ApplyResult.OK
        w.put_many(1, np.array([3, 4], np.uint64), entities([3, 4]))
        (second,) = w.flush(copy=True)

        before = (r.info(), state(r, 1))
        with pytest.raises(podsync.LimitError) as exc:
            r.apply(second)
        assert exc.value.status_name == "PODSYNC_E_LIMIT" and "max_records" in exc.value.message
        assert (r.info(), state(r, 1)) == before and r.version == 1
        (snap,) = w.snapshot(copy=True)
        with pytest.raises(podsync.LimitError):
            r.apply(snap)  # a snapshot of 4 records does not fit either
        assert (r.info(), state(r, 1)) == before
        assert r.metrics()["rejects"] == {"PODSYNC_E_LIMIT": 2}

        # The writer drops a record: the catch-up delta fits (deletes count before puts).
        w.delete(1, 1)
        w.flush()
        (delta,) = w.catch_up(r.version)
        assert r.apply(delta) == podsync.ApplyResult.OK
        assert r.count(1) == 3 and r.digest() == w.digest()


def test_max_tombstones_raises_the_catchup_floor(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, max_tombstones=2) as w:
        w.put_many(2, np.arange(1, 4, dtype=np.uint64), np.zeros(3, [("a", "<u4"), ("b", "<u4")]))
        w.flush()
        for key in (1, 2):
            w.delete(2, key)
            w.flush()
        assert w.info().catchup_floor == 0  # two deletions remembered
        w.delete(2, 3)
        w.flush()  # the third: the oldest (at version 2) is forgotten
        assert w.info().catchup_floor == 2
        with pytest.raises(podsync.SnapshotRequired):
            w.delta_since(1)
        (delta,) = w.delta_since(2)
        assert not podsync.peek(delta).is_snapshot
    with podsync.Writer(schema, max_tombstones=0) as w:  # 0: no limit
        w.put_many(2, np.arange(1, 4, dtype=np.uint64), np.zeros(3, [("a", "<u4"), ("b", "<u4")]))
        w.flush()
        for key in (1, 2, 3):
            w.delete(2, key)
            w.flush()
        assert w.info().catchup_floor == 0


# --- validate(frame, max_decoded_bytes) -----------------------------------------------------------


@pytest.fixture
def compressed() -> tuple[bytes, int]:
    """A zstd frame of 5,000 40-byte records (8 + 40 bytes each decoded: 240,000) and that size."""
    schema = podsync.Schema({1: PACKED})
    keys = np.arange(1, 5001, dtype=np.uint64)
    records = np.zeros(5000, PACKED)
    records["id"] = keys
    with podsync.Writer(schema, compression_level=1) as w:
        w.put_many(1, keys, records)
        (frame,) = w.flush(copy=True)
    assert podsync.peek(frame).codec == podsync.CODEC_ZSTD
    return frame, 5000 * (8 + 40)  # type: ignore[return-value]


def test_validate_with_a_small_max_decoded_bytes_raises_frame_too_large(compressed: tuple[bytes, int]) -> None:
    frame, decoded = compressed
    header = podsync.peek(frame)
    assert podsync.validate(frame) == header
    assert podsync.validate(frame, max_decoded_bytes=0) == header  # 0: the library's 1 GiB
    assert podsync.validate(frame, max_decoded_bytes=decoded) == header
    assert podsync.validate(frame, max_decoded_bytes=U64_MAX) == header
    for limit in (1, 1024, header.payload_length, decoded - 1):
        with pytest.raises(podsync.FrameTooLarge) as exc:
            podsync.validate(frame, max_decoded_bytes=limit)
        assert exc.value.status == podsync.Status.E_FRAME_TOO_LARGE
        assert exc.value.call == "podsync_frame_validate_limited"
        assert exc.value.frame_info == header  # the header's fields come with the error
    # The same bound as a replica's max_decoded_bytes.
    with podsync.Replica(podsync.Schema({1: PACKED}), max_decoded_bytes=decoded - 1) as r:
        with pytest.raises(podsync.FrameTooLarge):
            r.apply(frame)


def test_validate_limit_argument_is_checked(compressed: tuple[bytes, int]) -> None:
    frame, _ = compressed
    for bad in (-1, 1 << 64):
        with pytest.raises(OverflowError, match="max_decoded_bytes"):
            podsync.validate(frame, max_decoded_bytes=bad)
    with pytest.raises(TypeError):
        podsync.validate(frame, max_decoded_bytes=1.5)  # type: ignore[arg-type]


def test_frame_info_on_validation_errors(writer: podsync.Writer) -> None:
    writer.put(1, 1, entities([1])[0])
    (frame,) = writer.flush(copy=True)
    header = podsync.peek(frame)
    bad = bytearray(frame)
    bad[-1] ^= 1
    for limit in (None, 1 << 20):
        with pytest.raises(podsync.FrameChecksum) as exc:
            podsync.validate(bytes(bad), max_decoded_bytes=limit)
        assert exc.value.frame_info == header  # read before the checksum failed
        with pytest.raises(podsync.FrameMagic) as magic:
            podsync.validate(b"not a frame" * 10, max_decoded_bytes=limit)
        assert magic.value.frame_info is None  # no header to report
        with pytest.raises(podsync.FrameTruncated) as short:
            podsync.validate(frame[:-1], max_decoded_bytes=limit)
        assert short.value.frame_info == header


def test_uncompressed_frames_are_not_bounded_by_max_decoded_bytes(schema: podsync.Schema) -> None:
    """max_decoded_bytes bounds what decoding allocates; a plain frame's sections are read in place."""
    with podsync.Writer(schema) as w:
        keys = np.arange(1, 101, dtype=np.uint64)
        w.put_many(1, keys, entities(keys))
        (frame,) = w.flush(copy=True)
        assert podsync.peek(frame).codec == podsync.CODEC_NONE
        assert podsync.validate(frame, max_decoded_bytes=1).section_count == 1
        with podsync.Replica(schema, max_decoded_bytes=1) as r:
            assert r.apply(frame) == podsync.ApplyResult.OK and r.count(1) == 100
