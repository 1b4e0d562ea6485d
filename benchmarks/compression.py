"""Wire bytes and time of PodSync's compression (issue 4 goals), side by side in one run.

Workload (fixed seed): N entities of 40 B (u64 id, 7 f32: position xyz + orientation quaternion,
u32 flags); per tick 1% of them move: positions drift by small random steps, orientations rotate
slightly, flags rarely change. For each tick the same changed rows are sent by:
  - PodSync, plain frames (compression_level 0) and compressed frames (compression_level 1);
  - pyarrow IPC stream + zstd level 1 (a RecordBatch of the changed rows).
Reports bytes per tick, encode + apply time per tick (PodSync compressed vs plain), and the 1M
snapshot: PodSync compressed vs zstd level 1 on the raw record array.

Usage (needs numpy, pyarrow, zstandard and the podsync package):
  PYTHONPATH=bindings/python PODSYNC_LIBRARY=.build/release/libpodsync.so \\
      benchmarks/.venv/bin/python benchmarks/compression.py [N ...]
"""

from __future__ import annotations

import io
import statistics
import sys
import time

import numpy as np
import pyarrow as pa
import zstandard

import podsync

ENTITY = np.dtype([("id", "<u8"), ("pos", "<f4", (3,)), ("rot", "<f4", (4,)), ("flags", "<u4")])
TICKS = 30
LEVEL = int(__import__("os").environ.get("PODSYNC_LEVEL", "1"))


def world(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    keys = np.arange(1, n + 1, dtype=np.uint64)
    records = np.zeros(n, ENTITY)
    records["id"] = keys
    records["pos"] = rng.uniform(-1000, 1000, (n, 3)).astype(np.float32)
    q = rng.normal(size=(n, 4)).astype(np.float32)
    records["rot"] = q / np.linalg.norm(q, axis=1, keepdims=True)
    records["flags"] = rng.integers(0, 4, n, dtype=np.uint32)
    return keys, records


def move(records: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> None:
    records["pos"][idx] += rng.normal(0, 0.05, (len(idx), 3)).astype(np.float32)
    rot = records["rot"][idx] + rng.normal(0, 0.002, (len(idx), 4)).astype(np.float32)
    records["rot"][idx] = rot / np.linalg.norm(rot, axis=1, keepdims=True)
    flip = rng.random(len(idx)) < 0.001
    records["flags"][idx[flip]] ^= 1


def arrow_bytes(rows: np.ndarray) -> bytes:
    cols = {"id": rows["id"]}
    for i in range(3):
        cols[f"p{i}"] = rows["pos"][:, i].copy()
    for i in range(4):
        cols[f"r{i}"] = rows["rot"][:, i].copy()
    cols["flags"] = rows["flags"]
    batch = pa.RecordBatch.from_pydict(cols)
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression=pa.Codec("zstd", compression_level=1))
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def run(n: int) -> None:
    rng = np.random.default_rng(20261124)
    keys, records = world(n, rng)
    schema = podsync.Schema({1: ENTITY})
    changed = max(1, n // 100)
    plain_w = podsync.Writer(schema, compression_level=0)
    zstd_w = podsync.Writer(schema, compression_level=LEVEL)
    plain_r, zstd_r = podsync.Replica(schema), podsync.Replica(schema)
    for w, r in ((plain_w, plain_r), (zstd_w, zstd_r)):
        w.put_many(1, keys, records)
        for f in w.flush():
            r.apply(f)
    sizes = {"plain": [], "zstd": [], "arrow": []}
    times = {"plain": [], "zstd": []}
    for _ in range(TICKS):
        idx = np.sort(rng.choice(n, changed, replace=False))
        move(records, idx, rng)
        tick_keys, tick_rows = keys[idx].copy(), records[idx].copy()
        # Alternate the order each tick so neither variant always runs first.
        order = [("plain", plain_w, plain_r), ("zstd", zstd_w, zstd_r)]
        if len(sizes["plain"]) % 2:
            order.reverse()
        for name, w, r in order:
            t = time.perf_counter()
            w.put_many(1, tick_keys, tick_rows)
            frames = w.flush()
            for f in frames:
                r.apply(f)
            times[name].append(time.perf_counter() - t)
            sizes[name].append(sum(len(f) for f in frames))
        sizes["arrow"].append(len(arrow_bytes(tick_rows)))
    for w, r in ((plain_w, plain_r), (zstd_w, zstd_r)):
        assert r.digest() == w.digest(), "replica diverged"
    med = {k: statistics.median(v) for k, v in sizes.items()}
    tmed = {k: statistics.median(v) for k, v in times.items()}
    print(f"N = {n:,}, {changed:,} changed records per tick, median of {TICKS} ticks")
    print(f"  wire bytes per tick: PodSync plain {med['plain']:>10,.0f}   PodSync zstd {med['zstd']:>9,.0f}   "
          f"pyarrow IPC+zstd(1) {med['arrow']:>9,.0f}")
    print(f"  PodSync zstd / pyarrow IPC+zstd = {med['zstd'] / med['arrow']:.2f}x (goal <= 0.70x); "
          f"bytes per changed record {med['zstd'] / changed:.1f} (plain {med['plain'] / changed:.1f}, pyarrow {med['arrow'] / changed:.1f})")
    print(f"  put_many + flush + apply per tick: plain {tmed['plain'] * 1e6:,.0f} us, zstd {tmed['zstd'] * 1e6:,.0f} us "
          f"= {tmed['zstd'] / tmed['plain']:.2f}x (goal <= 1.5x)")
    if n >= 1_000_000:
        snap = zstd_w.snapshot(copy=True)[0]
        raw = records.tobytes()
        t = time.perf_counter()
        zraw = zstandard.ZstdCompressor(level=1).compress(raw)
        tz = time.perf_counter() - t
        print(f"  snapshot: PodSync zstd {len(snap):,} B vs zstd(1) of the raw {len(raw):,}-byte array {len(zraw):,} B "
              f"= {len(snap) / len(zraw):.2f}x (goal <= 1.00x); zstd(1) of the raw array took {tz * 1e3:.0f} ms")
    for s in (plain_w, zstd_w, plain_r, zstd_r):
        s.close()


if __name__ == "__main__":
    print("command:", " ".join(sys.argv), "| podsync", podsync.__version__, "| pyarrow", pa.__version__)
    for n in [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]:
        run(n)
