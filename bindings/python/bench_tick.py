#!/usr/bin/env python3
"""Speed check of the Python binding (not a test): the pipe demo's workload in one process.

N records of 40 bytes (u64 id, 7 x f32, u32 flags); each tick 1% of them change. Per tick we time
put_many of the changed records + flush + apply of every frame on a replica, and report the median
over the ticks, with each phase's median. Then the cost of a whole-table numpy view (must be O(1):
the same for 100 and for 100,000 records) next to the cost of copying the table.

    python3 bindings/python/bench_tick.py [--records 100000] [--ticks 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import podsync

ENTITY = np.dtype([("id", "<u8"), ("pos", "<f4", (3,)), ("rot", "<f4", (4,)), ("flags", "<u4")])


def us(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f} us"


def view_cost(n: int, repeats: int = 2000) -> tuple[float, float]:
    """(median seconds per table() view, seconds per table().copy()) for a table of n records."""
    with podsync.Writer(podsync.Schema({1: ENTITY})) as w:
        keys = np.arange(1, n + 1, dtype=np.uint64)
        recs = np.zeros(n, ENTITY)
        recs["id"] = keys
        w.put_many(1, keys, recs)
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            view = w.table(1)
            t1 = time.perf_counter()
            del view
            samples.append(t1 - t0)
        t0 = time.perf_counter()
        for _ in range(20):
            copy = w.table(1).copy()
        copy_time = (time.perf_counter() - t0) / 20
        del copy
        return statistics.median(samples), copy_time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--change", type=float, default=0.01, help="fraction changed per tick")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, ticks = args.records, args.ticks
    changed = max(1, int(n * args.change))
    rng = np.random.default_rng(args.seed)

    print(f"command: {' '.join([sys.executable.rsplit('/', 1)[-1]] + sys.argv)}")
    print(f"podsync {podsync.__version__}, libpodsync {podsync.library_version()} from {podsync.LIBRARY_PATH}")
    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}")
    print(f"workload: {n} records of {ENTITY.itemsize} B, {changed} changed per tick, {ticks} ticks")

    schema = podsync.Schema({1: ENTITY})
    with podsync.Writer(schema) as writer, podsync.Replica(schema.to_bytes()) as replica:
        keys = np.arange(1, n + 1, dtype=np.uint64)
        world = np.zeros(n, ENTITY)
        world["id"] = keys
        world["pos"] = rng.random((n, 3), dtype=np.float32) * 1000
        world["rot"][:, 3] = 1
        writer.put_many(1, keys, world)
        writer.flush()
        for f in writer.snapshot():
            replica.apply(f)

        totals, puts, flushes, applies, sizes, copied = [], [], [], [], [], []
        # Ticks alternate between borrowed frames (copy=False, the default) and bytes (copy=True),
        # so both modes see the same conditions; the phase figures are from the borrowed ticks.
        for tick in range(2 * ticks + 20):
            copy = tick % 2 == 1
            idx = rng.choice(n, size=changed, replace=False)
            world["pos"][idx] += rng.standard_normal((changed, 3), dtype=np.float32)
            world["flags"][idx] += 1
            ck = keys[idx]
            cr = world[idx]  # the changed records, contiguous (prepared outside the timer)
            t0 = time.perf_counter()
            writer.put_many(1, ck, cr)
            t1 = time.perf_counter()
            frames = writer.flush(copy=copy)
            t2 = time.perf_counter()
            for f in frames:
                replica.apply(f)
            t3 = time.perf_counter()
            if tick < 20:
                continue  # warm-up
            if copy:
                copied.append(t3 - t0)
                continue
            totals.append(t3 - t0)
            puts.append(t1 - t0)
            flushes.append(t2 - t1)
            applies.append(t3 - t2)
            sizes.append(sum(len(f) for f in frames))
        assert replica.digest() == writer.digest(), "replica diverged"
        assert replica.count(1) == n

    print()
    print(f"tick = put_many + flush + apply, median of {len(totals)} ticks (frames borrowed, copy=False):")
    print(f"  tick      {us(statistics.median(totals))}   (min {us(min(totals)).strip()}, "
          f"p90 {us(sorted(totals)[int(len(totals) * 0.9)]).strip()})")
    print(f"  put_many  {us(statistics.median(puts))}")
    print(f"  flush     {us(statistics.median(flushes))}")
    print(f"  apply     {us(statistics.median(applies))}")
    print(f"  per changed record {statistics.median(totals) / changed * 1e9:.0f} ns; "
          f"frame bytes per tick {statistics.median(sizes):.0f}")
    print(f"  tick with flush(copy=True) (bytes frames, interleaved ticks): {us(statistics.median(copied)).strip()}")
    print()
    print("whole-table numpy view (table(); O(1), no copy) vs a copy of the table:")
    for size in (100, n):
        view, copy_time = view_cost(size)
        print(f"  {size:>7} records: view {us(view)}   copy {us(copy_time)}")
    print("writer and replica digests equal: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
