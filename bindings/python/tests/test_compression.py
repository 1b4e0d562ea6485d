"""Compressed frames (library 0.2.0): writers with ``compression_level`` send zstd frames with transforms
where that pays; replicas apply them; ``max_decoded_bytes`` bounds what a frame may decode to."""

from __future__ import annotations

import numpy as np
import pytest

import podsync

ENTITY = np.dtype([("id", "<u8"), ("pos", "<f4", (7,)), ("flags", "<u4")])


def world(n: int) -> tuple[np.ndarray, np.ndarray]:
    keys = np.arange(1, n + 1, dtype=np.uint64)
    records = np.zeros(n, ENTITY)
    records["id"] = keys
    records["pos"] = np.random.default_rng(1).random((n, 7), dtype=np.float32) * 100
    return keys, records


@pytest.mark.parametrize("transforms", [0, podsync.TRANSFORM_XOR, podsync.TRANSFORM_ALL])
def test_compressed_ticks_round_trip_and_are_smaller(transforms: int) -> None:
    schema = podsync.Schema({1: ENTITY})
    keys, records = world(20_000)
    rng = np.random.default_rng(7)
    with podsync.Writer(schema, compression_level=1, transforms=transforms) as w, podsync.Replica(schema) as r:
        w.put_many(1, keys, records)
        for f in w.flush():
            r.apply(f)
        wire = plain = 0
        for _ in range(10):
            idx = rng.choice(len(keys), 200, replace=False)
            records["pos"][idx, :2] += np.float32(0.01)
            w.put_many(1, keys[idx].copy(), records[idx].copy())
            for f in w.flush():
                info = podsync.peek(f)
                wire += len(f)
                plain += info.payload_length + info.header_length if info.codec == podsync.CODEC_ZSTD else len(f)
                assert r.apply(f) == podsync.ApplyResult.OK
        assert r.digest() == w.digest()
        with r.view(1) as v:
            order = np.argsort(v.keys)
            assert np.array_equal(v.records[order]["pos"], records["pos"])
        if transforms == podsync.TRANSFORM_ALL:
            assert wire * 3 < 200 * 10 * 48, f"XOR + transposition + zstd: {wire} bytes for 2,000 changed records"


def test_a_replica_bounds_decoded_size() -> None:
    schema = podsync.Schema({1: ENTITY})
    keys, records = world(5_000)
    with podsync.Writer(schema, compression_level=1) as w, podsync.Replica(schema, max_decoded_bytes=1024) as r:
        w.put_many(1, keys, records)
        frames = w.flush(copy=True)
        assert podsync.peek(frames[0]).codec == podsync.CODEC_ZSTD
        with pytest.raises(podsync.FrameTooLarge) as e:
            r.apply(frames[0])
        assert e.value.status == -21 and "1024" in e.value.message
        assert r.count(1) == 0


def test_metrics_count_a_known_scenario() -> None:
    schema = podsync.Schema({1: ENTITY})
    keys, records = world(100)
    with podsync.Writer(schema) as w, podsync.Replica(schema) as r:
        w.put_many(1, keys, records)
        w.put_many(1, keys[:10].copy(), records[:10].copy())  # 10 coalesced writes
        frames = w.flush(copy=True)
        r.apply(frames[0])
        assert r.apply(frames[0]) == podsync.ApplyResult.DUPLICATE
        bad = bytearray(frames[0])
        bad[-1] ^= 1
        with pytest.raises(podsync.FrameChecksum):
            r.apply(bytes(bad))
        wm, rm = w.metrics(), r.metrics()
        assert (wm["writes"], wm["coalesced_writes"], wm["frames_out"], wm["records_out"]) == (110, 10, 1, 100)
        assert wm["raw_bytes_out"] == wm["wire_bytes_out"] == len(frames[0])
        assert sum(wm["encode_ns"]) == 1
        assert (rm["frames_applied"], rm["records_applied"], rm["duplicates"]) == (1, 100, 1)
        assert rm["rejects"] == {"PODSYNC_E_FRAME_CHECKSUM": 1}
        assert sum(rm["apply_ns"]) == 3


def test_fields_sends_quantized_integers_as_differences() -> None:
    """TRANSFORM_FIELDS (library 0.9.0): i16 positions that move by -2..2 go as zigzag differences
    (a frame says so in its transforms), round trip, and cost fewer bytes than without FIELDS."""
    obj = np.dtype([("x", "<i2"), ("y", "<i2"), ("z", "<i2"), ("heading", "<u2"), ("hp", "<u2"), ("flags", "<u2")])
    schema = podsync.Schema({2: obj})
    rng = np.random.default_rng(12)
    n = 5_000
    keys = np.arange(n, dtype=np.uint64)
    objects = np.zeros(n, obj)
    objects["x"] = rng.integers(0, 2000, n)
    objects["y"] = rng.integers(0, 2000, n)
    objects["heading"] = rng.integers(0, 360, n)
    objects["hp"] = 100
    without_fields = podsync.TRANSFORM_ALL & ~podsync.TRANSFORM_FIELDS
    sizes = {}
    with (
        podsync.Writer(schema, compression_level=1) as w,
        podsync.Writer(schema, compression_level=1, transforms=without_fields) as w0,
        podsync.Replica(schema) as r,
    ):
        for writer in (w, w0):
            writer.put_many(2, keys, objects)
        for f in w.flush(copy=True):
            r.apply(f)
        w0.flush()
        sizes = {"with": 0, "without": 0}
        fields_frames = 0
        for _ in range(20):
            idx = rng.choice(n, 1000, replace=False)
            objects["x"][idx] += rng.integers(-2, 3, len(idx)).astype(np.int16)
            objects["y"][idx] += rng.integers(-2, 3, len(idx)).astype(np.int16)
            for writer in (w, w0):
                writer.put_many(2, keys[idx].copy(), objects[idx].copy())
            for f in w.flush(copy=True):
                sizes["with"] += len(f)
                fields_frames += podsync.peek(f).transforms & podsync.TRANSFORM_FIELDS != 0
                assert r.apply(f) == podsync.ApplyResult.OK
            for f in w0.flush():
                assert podsync.peek(f).transforms & podsync.TRANSFORM_FIELDS == 0
                sizes["without"] += len(f)
        assert r.digest() == w.digest()
        assert fields_frames == 20
        assert sizes["with"] * 100 < sizes["without"] * 95, sizes


def test_key_ranks_name_settled_random_keys_by_rank() -> None:
    """TRANSFORM_KEY_RANKS (library 0.9.0): once a table's keys have settled (two flushes without a
    key added or removed), a delta names random 64-bit keys by their rank among the replica's keys;
    the replica converges, and the ticks cost fewer bytes than without ranks."""
    schema = podsync.Schema({1: ENTITY})
    rng = np.random.default_rng(64)
    n = 20_000
    keys = rng.integers(0, 2**63, n, dtype=np.uint64)
    keys = np.unique(keys)
    records = np.zeros(len(keys), ENTITY)
    records["id"] = keys
    records["pos"] = rng.random((len(keys), 7), dtype=np.float32) * 100
    without_ranks = podsync.TRANSFORM_ALL & ~podsync.TRANSFORM_KEY_RANKS
    with (
        podsync.Writer(schema, compression_level=1) as w,
        podsync.Writer(schema, compression_level=1, transforms=without_ranks) as w0,
        podsync.Replica(schema) as r,
    ):
        for writer in (w, w0):
            writer.put_many(1, keys, records)
        for f in w.flush(copy=True):
            r.apply(f)
        w0.flush()
        ranked, sizes = [], {"with": 0, "without": 0}
        for tick in range(6):
            idx = rng.choice(len(keys), 200, replace=False)
            records["pos"][idx, :3] += np.float32(0.01)
            for writer in (w, w0):
                writer.put_many(1, keys[idx].copy(), records[idx].copy())
            frames = w.flush(copy=True)
            ranked.append(any(podsync.peek(f).transforms & podsync.TRANSFORM_KEY_RANKS for f in frames))
            for f in frames:
                assert r.apply(f) == podsync.ApplyResult.OK
                if tick >= 2:
                    sizes["with"] += len(f)
            for f in w0.flush():
                assert podsync.peek(f).transforms & podsync.TRANSFORM_KEY_RANKS == 0
                if tick >= 2:
                    sizes["without"] += len(f)
        assert ranked == [False, True, True, True, True, True]
        assert r.digest() == w.digest()
        assert sizes["with"] * 100 < sizes["without"] * 85, sizes
