"""Compression dictionaries (library 0.3.0): a writer collects samples, trains a dictionary and
compresses its next frames with it; a replica without that dictionary refuses them with
DictionaryMissing and nothing changed, and applies them once it has loaded the writer's bytes.
Also the metrics fields of struct version 2 and the COLUMNS transform."""

from __future__ import annotations

import numpy as np
import pytest

import podsync
from _support import ENTITY, state

N = 200  # records in the world; ticks change half of them


def world(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    keys = np.arange(1, n + 1, dtype=np.uint64)
    records = np.zeros(n, ENTITY)
    records["id"] = keys
    records["pos"] = np.random.default_rng(3).random((n, 3), dtype=np.float32) * 100
    records["rot"][:, 3] = 1.0
    return keys, records


def tick(writer: podsync.Writer, keys: np.ndarray, records: np.ndarray, rng: np.random.Generator) -> list[bytes]:
    idx = rng.choice(len(keys), len(keys) // 2, replace=False)
    records["pos"][idx] += np.float32(0.5)
    writer.put_many(1, keys[idx].copy(), records[idx].copy())
    return writer.flush(copy=True)  # type: ignore[return-value]


def trained_pair(
    schema: podsync.Schema, max_size: int = 4096
) -> tuple[podsync.Writer, podsync.Replica, np.ndarray, np.ndarray, np.random.Generator, int]:
    """A compressing writer that trained a dictionary on 12 ticks, and a replica at its state
    that has NOT loaded the dictionary."""
    keys, records = world()
    rng = np.random.default_rng(7)
    w = podsync.Writer(schema, compression_level=3)
    r = podsync.Replica(schema)
    w.collect_samples(1 << 20)
    w.put_many(1, keys, records)
    for f in w.flush():
        r.apply(f)
    for _ in range(12):  # training needs at least 8 sample frames
        for f in tick(w, keys, records, rng):
            assert podsync.peek(f).dictionary_id == 0
            assert r.apply(f) == podsync.ApplyResult.OK
    assert w.dictionary() is None
    dict_id = w.train_dictionary(max_size)
    return w, r, keys, records, rng, dict_id


def test_train_missing_load_apply(schema: podsync.Schema) -> None:
    w, r, keys, records, rng, dict_id = trained_pair(schema)
    with w, r:
        assert dict_id != 0
        current = w.dictionary()
        assert current is not None
        assert current[0] == dict_id and 256 <= len(current[1]) <= 4096
        assert isinstance(current[1], bytes)

        (frame,) = tick(w, keys, records, rng)
        info = podsync.peek(frame)
        assert (info.codec, info.dictionary_id) == (podsync.CODEC_ZSTD, dict_id)

        # Without the dictionary: refused, nothing changed.
        before = (r.version, r.digest(), state(r, 1))
        with pytest.raises(podsync.DictionaryMissing) as exc:
            r.apply(frame)
        assert exc.value.status == podsync.Status.E_DICTIONARY_MISSING == -22
        assert exc.value.status_name == "PODSYNC_E_DICTIONARY_MISSING"
        assert str(dict_id) in exc.value.message
        assert (r.version, r.digest(), state(r, 1)) == before
        for limit in (None, 1 << 20):  # validation needs the dictionary too
            with pytest.raises(podsync.DictionaryMissing) as missing:
                podsync.validate(frame, max_decoded_bytes=limit)
            # Since library 0.4.0 the header's fields come with the error: which dictionary.
            assert missing.value.frame_info == info
        assert r.dictionary() is None

        # Load the writer's bytes (sent out of band): the same frame now applies.
        assert r.load_dictionary(current[1]) == dict_id
        assert r.dictionary() == current
        assert r.apply(frame) == podsync.ApplyResult.OK
        assert r.digest() == w.digest() and r.version == w.version

        for _ in range(3):  # and so do the next ones
            for f in tick(w, keys, records, rng):
                assert podsync.peek(f).dictionary_id == dict_id
                assert r.apply(f) == podsync.ApplyResult.OK
        assert r.digest() == w.digest()
        with r.view(1) as v:
            order = np.argsort(v.keys)
            assert np.array_equal(v.records[order]["pos"], records["pos"])

        wm, rm = w.metrics(), r.metrics()
        assert wm["dictionary_frames"] == 4
        assert rm["rejects"] == {"PODSYNC_E_DICTIONARY_MISSING": 1}


def test_a_fresh_replica_with_the_dictionary_takes_a_snapshot(schema: podsync.Schema) -> None:
    w, r, keys, records, rng, dict_id = trained_pair(schema)
    with w, r, podsync.Replica(schema) as fresh:
        tick(w, keys, records, rng)
        current = w.dictionary()
        assert current is not None
        fresh.load_dictionary(memoryview(current[1]))  # any buffer
        for f in w.catch_up(0):
            assert fresh.apply(f) == podsync.ApplyResult.OK
        assert fresh.digest() == w.digest()


def test_loading_replaces_and_reloading_is_harmless(schema: podsync.Schema) -> None:
    w, r, keys, records, rng, dict_id = trained_pair(schema)
    with w, r:
        current = w.dictionary()
        assert current is not None
        assert r.load_dictionary(current[1]) == dict_id
        assert r.load_dictionary(bytearray(current[1])) == dict_id  # same id: replaced
        (frame,) = tick(w, keys, records, rng)
        assert r.apply(frame) == podsync.ApplyResult.OK
        assert r.digest() == w.digest()


def test_train_without_samples_is_invalid(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, compression_level=1) as w:
        with pytest.raises(podsync.InvalidArgument) as exc:
            w.train_dictionary()
        assert "collect_samples" in exc.value.message
        assert w.dictionary() is None


def test_train_with_too_few_frames_is_invalid(schema: podsync.Schema) -> None:
    keys, records = world()
    rng = np.random.default_rng(1)
    with podsync.Writer(schema, compression_level=1) as w:
        w.collect_samples(1 << 20)
        w.put_many(1, keys, records)
        w.flush()
        for _ in range(3):
            tick(w, keys, records, rng)
        with pytest.raises(podsync.InvalidArgument) as exc:
            w.train_dictionary()
        assert "8" in exc.value.message
        assert w.dictionary() is None


def test_collect_zero_stops_and_discards(schema: podsync.Schema) -> None:
    keys, records = world()
    rng = np.random.default_rng(1)
    with podsync.Writer(schema, compression_level=1) as w:
        w.collect_samples(1 << 20)
        for _ in range(10):
            tick(w, keys, records, rng)
        w.collect_samples(0)
        with pytest.raises(podsync.InvalidArgument):
            w.train_dictionary()


def test_collect_needs_compression(schema: podsync.Schema) -> None:
    with podsync.Writer(schema) as w:  # compression_level 0 (the default)
        with pytest.raises(podsync.InvalidArgument) as exc:
            w.collect_samples(1 << 20)
        assert "compression_level" in exc.value.message


def test_bad_arguments(schema: podsync.Schema) -> None:
    with podsync.Writer(schema, compression_level=1) as w, podsync.Replica(schema) as r:
        for garbage in (b"not a zstd dictionary at all" * 20, bytes(1024), b""):
            with pytest.raises(podsync.InvalidArgument):
                r.load_dictionary(garbage)
        assert r.dictionary() is None
        with pytest.raises(podsync.InvalidArgument):
            w.train_dictionary(100)  # below the 256-byte minimum
        with pytest.raises(ValueError):
            w.collect_samples(-1)
        with pytest.raises(ValueError):
            w.train_dictionary(-1)
        with pytest.raises(TypeError):
            r.load_dictionary(12345)  # not a buffer
    with pytest.raises(podsync.ClosedError):
        w.dictionary()
    with pytest.raises(podsync.ClosedError):
        r.load_dictionary(b"x")


def test_dictionary_missing_family() -> None:
    assert issubclass(podsync.DictionaryMissing, podsync.PodSyncError)
    assert not issubclass(podsync.DictionaryMissing, podsync.FrameError)  # the frame is valid
    err = podsync.error_for(-22, "m")
    assert type(err) is podsync.DictionaryMissing and err.message == "m"


def test_metrics_v2_fields(schema: podsync.Schema) -> None:
    # 2,000 records: a frame of 80 KB, where COLUMNS pays. (A writer of library 0.8.0 packs a frame
    # of up to 32 KiB with and without COLUMNS and sends the smaller: the 200 records of world()
    # go without, so no zero column would be counted.)
    keys, records = world(2000)
    with podsync.Writer(schema, compression_level=1) as w, podsync.Writer(schema) as plain:
        for store in (w, plain):
            store.put_many(1, keys, records)  # >= 64 records of one table
            (frame,) = store.flush()
            if store is w:
                assert podsync.peek(frame).transforms & podsync.TRANSFORM_COLUMNS
            del frame
        wm, pm = w.metrics(), plain.metrics()
        new = ("saved_by_zero_columns", "raw_column_bytes", "column_trials", "dictionary_frames")
        assert all(isinstance(wm[k], int) for k in new)
        assert wm["compressed_frames"] == 1
        assert wm["column_trials"] >= 1
        assert wm["saved_by_zero_columns"] > 0  # rot[0..2] and the upper bytes of id are all zero
        assert wm["dictionary_frames"] == 0
        assert [pm[k] for k in new] == [0, 0, 0, 0]  # nothing packed without compression


def test_without_columns_no_column_is_dropped(schema: podsync.Schema) -> None:
    keys, records = world()
    transforms = podsync.TRANSFORM_ALL & ~podsync.TRANSFORM_COLUMNS
    with podsync.Writer(schema, compression_level=1, transforms=transforms) as w, podsync.Replica(schema) as r:
        w.put_many(1, keys, records)
        for f in w.flush():
            assert podsync.peek(f).transforms & podsync.TRANSFORM_COLUMNS == 0
            r.apply(f)
        m = w.metrics()
        assert (m["saved_by_zero_columns"], m["raw_column_bytes"]) == (0, 0)
        assert r.digest() == w.digest()
