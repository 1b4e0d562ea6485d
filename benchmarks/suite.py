#!/usr/bin/env python3
"""PodSync side by side with the peers users would otherwise pick — one run, printed tables.

Run through `bash benchmarks/run` (it builds the library and the C programs, sets up the virtual
environment and calls this script); `--smoke` is the tiny size CI runs (.ci/bench-smoke).

Workloads (fixed seeds; keys are splitmix64(0..N-1), the same in Python and C):
  entity40   40 B records (u64 id, f32 pos[3], f32 rot[4], u32 flags), 1% of the keys change per
             tick: pos drifts by up to +-0.05, 1 in 16 changed records gets new flags
  record256  256 B records (u64 id, u32 seq, u32 flags, f32 v[60]; v[0:16] continuous, v[16:60]
             small integers), 10% change per tick: seq + 1 and v[0:6] drift by up to +-0.05
  quant20    small game objects at 60 Hz as in benchmarks/c/small_records_bench.c: the 12 B of
             i16 x, y, z, u16 heading, hp, flags after the u64 id every layout carries (20 B; keys
             are the object ids 0..N-1), 0.8% change per tick (40 of 5,000): x, y by -2..2,
             heading by 0..6 (mod 360), hp - 1 for 1 in 10 changed objects
  snapshot   the whole state of each, encoded by the writer and applied to a fresh replica

Per case, every Python system runs in this one process, one tick at a time, in an order that
rotates every repetition (a warm-up tick first, not counted); each figure is the median over the
repetitions. The C program (benchmarks/c/suite_bench.c: PodSync from C, the minimal C reference
store, memcpy; interleaved the same way) runs right after, in the same run. Then the C runs:
steady ticks (`suite_bench steady`: 1,000 consecutive 1% ticks at N = 1,000,000, every flush and
apply timed on its own next to the reference store's apply, reported as p50 / p99 / max), the
scaling runs (delta_since with fixed changes as the state grows, memory per record) and put
throughput against the record size. A system whose replica does not equal the writer is reported,
not timed, and makes the exit status 1. RESULTS.md opens with the goals of issue 15 (bytes against
the numpy XOR+shuffle+zstd-1 encoder and pyarrow IPC + zstd, apply against the reference store,
compressed against plain, steady ticks, bulk load), each computed from this run or shown as "not
measured".

--only takes layouts and C runs (quant20,steady: the quant20 cases and the steady ticks, no
scaling or put-size runs; a list naming no C run keeps every C run); --systems keeps only the named
Python systems (podsync,podsync_zstd,numpy_xor_zstd,arrow_zstd,...).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
import systems  # noqa: E402

SEED = 0x5EED

# ---------------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------------


def splitmix_keys(n: int) -> np.ndarray:
    """splitmix64(i) for i in 0..n-1: distinct u64 keys (the C programs use the same)."""
    with np.errstate(over="ignore"):
        z = np.arange(n, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class Layout:
    def __init__(self, key: str, dtype: np.dtype, fraction: float, title: str) -> None:
        self.key, self.dtype, self.fraction, self.title = key, dtype, fraction, title

    def make_world(self, n: int, rng: np.random.Generator) -> np.ndarray:
        world = np.zeros(n, self.dtype)
        world["id"] = splitmix_keys(n)
        if self.key == "quant20":  # object ids as a game hands them out, as small_records_bench.c
            world["id"] = np.arange(n, dtype=np.uint64)
            world["x"] = rng.integers(0, 2000, n, dtype=np.int16)
            world["y"] = rng.integers(0, 2000, n, dtype=np.int16)
            world["z"] = rng.integers(0, 100, n, dtype=np.int16)
            world["heading"] = rng.integers(0, 360, n, dtype=np.uint16)
            world["hp"] = 100
        elif self.key == "entity40":
            world["pos"] = rng.random((n, 3), dtype=np.float32) * 1000
            q = rng.random((n, 4), dtype=np.float32) * 2 - 1
            world["rot"] = q / (np.sqrt((q * q).sum(axis=1, keepdims=True)) + np.float32(1e-6))
            world["flags"] = rng.integers(0, 16, n, dtype=np.uint32)
        else:
            world["flags"] = rng.integers(0, 16, n, dtype=np.uint32)
            world["v"][:, :16] = rng.random((n, 16), dtype=np.float32) * 1000
            world["v"][:, 16:] = rng.integers(0, 256, (n, 44)).astype(np.float32)
        return world

    def tick(self, world: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """Changes k distinct random rows of world in place; returns their positions."""
        n = len(world)
        idx = np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)
        idx = rng.permutation(idx)  # random order, as changes arrive
        if self.key == "quant20":  # the moves of small_records_bench.c
            world["x"][idx] += rng.integers(-2, 3, k, dtype=np.int16)
            world["y"][idx] += rng.integers(-2, 3, k, dtype=np.int16)
            world["heading"][idx] = (world["heading"][idx] + rng.integers(0, 7, k, dtype=np.uint16)) % 360
            hit = idx[rng.integers(0, 10, k) == 0]
            world["hp"][hit] -= 1
        elif self.key == "entity40":
            world["pos"][idx] += (rng.random((k, 3), dtype=np.float32) - np.float32(0.5)) * np.float32(0.1)
            flip = rng.integers(0, 16, k) == 0
            world["flags"][idx[flip]] = rng.integers(0, 16, int(flip.sum()), dtype=np.uint32)
        else:
            world["seq"][idx] += 1
            world["v"][idx, :6] += (rng.random((k, 6), dtype=np.float32) - np.float32(0.5)) * np.float32(0.1)
        return idx


LAYOUTS = {
    "entity40": Layout(
        "entity40",
        np.dtype([("id", "<u8"), ("pos", "<f4", (3,)), ("rot", "<f4", (4,)), ("flags", "<u4")]),
        0.01,
        "40 B entities (u64 id, 7 f32, u32 flags), 1% change per tick",
    ),
    "record256": Layout(
        "record256",
        np.dtype([("id", "<u8"), ("seq", "<u4"), ("flags", "<u4"), ("v", "<f4", (60,))]),
        0.10,
        "256 B records (u64 id, u32 seq, u32 flags, 60 f32), 10% change per tick",
    ),
    # 12 bytes of payload as in benchmarks/c/small_records_bench.c, plus the u64 id every layout of
    # the suite carries (the serializers' replicas find a row by its "id" field): 20 B records
    "quant20": Layout(
        "quant20",
        np.dtype(
            [("id", "<u8"), ("x", "<i2"), ("y", "<i2"), ("z", "<i2")]
            + [("heading", "<u2"), ("hp", "<u2"), ("flags", "<u2")]
        ),
        0.008,
        "quant20: 20 B quantized game objects (u64 id 0..N-1 + the 12 B of i16 x, y, z, u16 heading, "
        "hp, flags), 0.8% change per tick (40 of 5,000 at 60 Hz)",
    ),
}

# ---------------------------------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------------------------------

FULL = dict(
    cases=[
        ("entity40", 100_000),
        ("entity40", 1_000_000),
        ("record256", 100_000),
        ("record256", 1_000_000),
        ("quant20", 5_000),
        ("quant20", 100_000),
    ],
    tick_reps=11,
    snapshot_reps=5,
    budget=20.0,  # seconds per system per case for its setup, ticks and check
    snapshot_budget=6.0,  # seconds per system per case for its snapshots and check
    c_reps=9,
    scaling_n=[10_000, 100_000, 1_000_000, 10_000_000],
    scaling_changes=1000,
    scaling_reps=9,
    putsize_sizes=[8, 16, 32, 40, 64, 128, 256, 512, 1024, 4096],
    putsize_bytes=128_000_000,
    putsize_max_n=1_000_000,
    putsize_reps=3,
    steady_n=1_000_000,  # steady ticks (C, 40 B): TICKS consecutive ticks of FRACTION of N
    steady_ticks=1000,
    steady_fraction=0.01,
)
SMOKE = dict(
    cases=[("entity40", 2000), ("record256", 2000), ("quant20", 2000)],
    tick_reps=1,
    snapshot_reps=1,
    budget=20.0,
    snapshot_budget=20.0,
    c_reps=1,
    scaling_n=[1000, 10_000],
    scaling_changes=100,
    scaling_reps=1,
    putsize_sizes=[8, 40, 256, 4096],
    putsize_bytes=1_000_000,
    putsize_max_n=20_000,
    putsize_reps=1,
    steady_n=2000,
    steady_ticks=50,
    steady_fraction=0.01,
)

PODSYNC_ZSTD_LEVEL = 1

# ---------------------------------------------------------------------------------------------------
# Running the Python systems
# ---------------------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def new_entry(sysobj: Any, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": getattr(sysobj, "name", key),
        "kind": getattr(sysobj, "kind", "python"),
        "doc": " ".join((type(sysobj).__doc__ or "").split()) if sysobj is not None else "",
        "tick": {"status": "pending", "encode": [], "apply": [], "bytes": [], "total": []},
        "snapshot": {"status": "pending", "encode": [], "apply": [], "bytes": [], "total": []},
        "setup_s": None,
    }


def estimate(prev: dict[str, Any] | None, n: int) -> dict[str, float] | None:
    """Costs of a system at N extrapolated linearly from the previous case of the same layout."""
    if not prev or prev.get("setup_s") is None:
        return None
    f = n / prev["n"]
    t, s = prev["tick"], prev["snapshot"]
    est = {
        "setup": prev["setup_s"] * f,
        "tick_rep": (statistics.median(t["total"]) + t.get("overhead_s", 0.0)) * f if t["total"] else 0.0,
        "tick_check": t.get("check_s", 0.0) * f,
        "snap_rep": (statistics.median(s["total"]) + s.get("overhead_s", 0.0)) * f if s["total"] else 0.0,
        "snap_check": s.get("check_s", 0.0) * f,
        "from_n": prev["n"],
    }
    return est


def run_case(
    layout: Layout,
    n: int,
    cfg: dict[str, Any],
    prev_case: dict[str, Any] | None,
    podsync_level: int,
    only_systems: set[str] | None = None,
) -> dict[str, Any]:
    rng = np.random.default_rng([SEED, n, layout.dtype.itemsize])
    world = layout.make_world(n, rng)
    k = max(1, int(round(n * layout.fraction)))
    budget = cfg["budget"]
    case: dict[str, Any] = {
        "layout": layout.key,
        "title": layout.title,
        "n": n,
        "tick_records": k,
        "record_size": layout.dtype.itemsize,
        "systems": {},
    }
    log(f"\n== {layout.key}, N = {n:,}, {k:,} records per tick")

    # instantiate + set up (untimed, but measured for the budget)
    active: list[tuple[str, Any]] = []
    for key, factory in systems.all_systems(layout, podsync_level):
        if only_systems and key not in only_systems:
            continue
        try:
            s = factory()
        except Exception as e:  # a package that is not installed or not importable
            entry = new_entry(None, key)
            entry["name"] = key
            entry["tick"]["status"] = entry["snapshot"]["status"] = "unavailable"
            entry["tick"]["reason"] = entry["snapshot"]["reason"] = f"{type(e).__name__}: {e}"
            case["systems"][key] = entry
            log(f"   {key}: unavailable ({type(e).__name__}: {e})")
            continue
        entry = new_entry(s, key)
        entry["n"] = n
        case["systems"][key] = entry
        prev = prev_case["systems"].get(key) if prev_case else None
        est = estimate(prev, n) if prev and prev["tick"]["status"] == "ok" else None
        if est is not None:
            need = est["setup"] + est["tick_rep"] * 2 + est["tick_check"]
            if need > budget:
                reason = (
                    f"over budget at N = {n:,}: setup + 2 ticks + check est. {need:.0f} s > "
                    f"{budget:.0f} s (from N = {est['from_n']:,})"
                )
                entry["tick"]["status"] = entry["snapshot"]["status"] = "skipped"
                entry["tick"]["reason"] = entry["snapshot"]["reason"] = reason
                log(f"   {s.name}: skipped ({reason})")
                continue
        gc.collect()
        t0 = time.perf_counter()
        try:
            s.setup(world)
        except Exception as e:
            entry["tick"]["status"] = entry["snapshot"]["status"] = "failed"
            entry["tick"]["reason"] = entry["snapshot"]["reason"] = f"setup: {type(e).__name__}: {e}"
            log(f"   {s.name}: setup failed: {e}")
            s.close()
            continue
        entry["setup_s"] = time.perf_counter() - t0
        entry["est"] = est
        active.append((key, s))
        log(f"   setup {s.name}: {entry['setup_s']:.2f} s")

    # ticks: warm-up, then tick_reps repetitions; the order rotates every repetition
    reps = cfg["tick_reps"]
    spent = {key: 0.0 for key, _ in active}
    running = {key: s for key, s in active}
    planned = {key: reps for key, _ in active}
    for key, s in active:
        entry = case["systems"][key]
        est = entry.get("est")
        if est and est["tick_rep"] > 0:
            room = budget - est["setup"] - est["tick_check"]
            planned[key] = max(1, min(reps, int(room / est["tick_rep"]) - 1))

    def finish_ticks(key: str, s: Any, why: str | None) -> None:
        entry = case["systems"][key]
        t0 = time.perf_counter()
        try:
            ok, detail = s.check(world, truth_sorted())
        except Exception as e:
            ok, detail = False, f"check raised {type(e).__name__}: {e}"
        entry["tick"]["check_s"] = time.perf_counter() - t0
        entry["tick"]["check"] = detail
        entry["tick"]["status"] = "ok" if ok else "not converged"
        if why:
            entry["tick"]["reason"] = why
        if ok and not entry["tick"]["total"]:
            entry["tick"]["status"] = "skipped"
            entry["tick"]["reason"] = f"over budget at N = {n:,}: no tick fits in {budget:.0f} s after setup"
            entry["snapshot"]["status"] = "skipped"
            entry["snapshot"]["reason"] = "over budget in the ticks"
        log(f"   ticks {s.name}: {'converged' if ok else 'NOT CONVERGED'} ({detail})")
        running.pop(key, None)

    sorted_cache: dict[str, np.ndarray] = {}

    def truth_sorted() -> np.ndarray:
        # the truth changes every tick; recompute lazily (cached per tick)
        if "v" not in sorted_cache:
            sorted_cache["v"] = np.take(world, np.argsort(world["id"], kind="stable"))
        return sorted_cache["v"]

    gc.disable()
    try:
        for rep in range(-1, reps):
            if not running:
                break
            idx = layout.tick(world, k, rng)
            sorted_cache.clear()
            order = list(running.items())
            shift = (rep + 1) % len(order)
            order = order[shift:] + order[:shift]
            for key, s in order:
                entry = case["systems"][key]
                t0 = time.perf_counter()
                try:
                    enc, nbytes, app = s.tick(world, idx)
                except Exception as e:
                    entry["tick"]["status"] = entry["snapshot"]["status"] = "failed"
                    entry["tick"]["reason"] = f"tick raised {type(e).__name__}: {e}"
                    entry["snapshot"]["reason"] = "its ticks failed"
                    log(f"   {s.name}: tick failed: {e}")
                    running.pop(key, None)
                    continue
                wall = time.perf_counter() - t0
                spent[key] += wall
                if rep >= 0:
                    t = entry["tick"]
                    t["encode"].append(enc)
                    t["apply"].append(app)
                    t["bytes"].append(nbytes)
                    t["total"].append(enc + app)
                    t["overhead_s"] = max(0.0, wall - enc - app)
            gc.enable()
            gc.collect()
            gc.disable()
            for key, s in list(running.items()):
                done = len(case["systems"][key]["tick"]["total"])
                if done >= planned[key] and done < reps:
                    finish_ticks(key, s, f"{done} of {reps} ticks (time budget {budget:.0f} s)")
                elif spent[key] + case["systems"][key]["setup_s"] > budget and 1 <= done < reps:
                    finish_ticks(key, s, f"{done} of {reps} ticks (time budget {budget:.0f} s)")
    finally:
        gc.enable()
    for key, s in list(running.items()):
        finish_ticks(key, s, None)

    # snapshots: each system encodes its whole state and applies it to a fresh replica
    sreps = cfg["snapshot_reps"]
    sbudget = cfg["snapshot_budget"]
    snap_running: dict[str, Any] = {}
    splanned: dict[str, int] = {}
    for key, s in active:
        entry = case["systems"][key]
        if entry["tick"]["status"] != "ok" or entry["tick"].get("reason"):
            if entry["snapshot"]["status"] == "pending":
                entry["snapshot"]["status"] = "skipped"
                entry["snapshot"]["reason"] = (
                    "over budget in the ticks"
                    if entry["tick"]["status"] == "ok"
                    else f"ticks {entry['tick']['status']}"
                )
            continue
        est = entry.get("est")
        splanned[key] = sreps
        if est and est["snap_rep"] > 0:
            if est["snap_rep"] + est["snap_check"] > sbudget:
                entry["snapshot"]["status"] = "skipped"
                entry["snapshot"]["reason"] = (
                    f"over budget at N = {n:,}: est. {est['snap_rep'] + est['snap_check']:.1f} s "
                    f"for one snapshot + check > {sbudget:.0f} s (from N = {est['from_n']:,})"
                )
                log(f"   snapshot {s.name}: skipped ({entry['snapshot']['reason']})")
                continue
            splanned[key] = max(1, min(sreps, int((sbudget - est["snap_check"]) / est["snap_rep"])))
        snap_running[key] = s
    sspent = {key: 0.0 for key in snap_running}
    gc.disable()
    try:
        for rep in range(sreps):
            if not snap_running:
                break
            order = list(snap_running.items())
            shift = rep % len(order)
            order = order[shift:] + order[:shift]
            for key, s in order:
                entry = case["systems"][key]
                t0 = time.perf_counter()
                try:
                    enc, nbytes, app = s.snapshot(world)
                except Exception as e:
                    entry["snapshot"]["status"] = "failed"
                    entry["snapshot"]["reason"] = f"snapshot raised {type(e).__name__}: {e}"
                    snap_running.pop(key, None)
                    continue
                wall = time.perf_counter() - t0
                sspent[key] += wall
                sn = entry["snapshot"]
                sn["encode"].append(enc)
                sn["apply"].append(app)
                sn["bytes"].append(nbytes)
                sn["total"].append(enc + app)
                sn["overhead_s"] = max(0.0, wall - enc - app)
                last = rep == sreps - 1 or rep + 1 >= splanned[key] or sspent[key] + wall > sbudget
                if last:
                    gc.enable()
                    t0 = time.perf_counter()
                    try:
                        ok, detail = s.check_snapshot(world, truth_sorted())
                    except Exception as e:
                        ok, detail = False, f"check raised {type(e).__name__}: {e}"
                    sn["check_s"] = time.perf_counter() - t0
                    sn["check"] = detail
                    sn["status"] = "ok" if ok else "not converged"
                    if rep < sreps - 1:
                        sn["reason"] = f"{rep + 1} of {sreps} snapshots (time budget {sbudget:.0f} s)"
                    log(f"   snapshot {s.name}: {'converged' if ok else 'NOT CONVERGED'} ({detail})")
                    snap_running.pop(key, None)
                    gc.disable()
            gc.enable()
            gc.collect()
            gc.disable()
    finally:
        gc.enable()
    for key, s in active:
        try:
            s.close()
        except Exception:
            pass
    del active, running, snap_running
    gc.collect()
    return case


# ---------------------------------------------------------------------------------------------------
# The C programs
# ---------------------------------------------------------------------------------------------------


def run_c(binary: Path, args: list[str], timeout: float = 600) -> dict[str, Any]:
    cmd = [str(binary)] + args
    log(f"   + {' '.join(cmd)}")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out: dict[str, Any] = {
        "command": " ".join([binary.name] + args),
        "series": {},
        "values": {},
        "checks": {},
        "exit": proc.returncode,
        "stderr": proc.stderr.strip(),
        "wall_s": time.perf_counter() - t0,
    }
    for line in proc.stdout.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "series" in obj:
            out["series"][obj["series"]] = [x / 1e9 for x in obj["samples"]]
        elif "value" in obj:
            out["values"][obj["value"]] = obj["v"]
        elif "check" in obj:
            out["checks"][obj["check"]] = {"ok": obj["ok"], "detail": obj["detail"]}
    if proc.returncode not in (0, 3):
        log(f"   {binary.name} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    for name, c in out["checks"].items():
        if not c["ok"]:
            log(f"   C check {name}: NOT CONVERGED ({c['detail']})")
    return out


# ---------------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    cpu = next(
        (
            l.split(":", 1)[1].strip()
            for l in read("/proc/cpuinfo").splitlines()
            if l.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        (int(l.split()[1]) for l in read("/proc/meminfo").splitlines() if l.startswith("MemTotal:")), 0
    )
    distro = next(
        (
            l.split("=", 1)[1].strip().strip('"')
            for l in read("/etc/os-release").splitlines()
            if l.startswith("PRETTY_NAME=")
        ),
        "",
    )
    try:
        gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        gcc = "?"
    pkgs = {}
    for p in [
        "numpy",
        "pyarrow",
        "msgpack",
        "zstandard",
        "flatbuffers",
        "pycrdt",
        "loro",
        "matplotlib",
        "podsync",
    ]:
        try:
            pkgs[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            pkgs[p] = "not installed"
    try:
        import podsync

        lib = f"{podsync.library_version()} (ABI {podsync.library_abi_version()})"
    except Exception as e:  # noqa: BLE001
        lib = f"not loadable: {e}"
    try:
        head = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(HERE.parent),
                "status",
                "--porcelain",
                "--",
                "Sources",
                "include",
                "Package.swift",
            ],
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        dirty = [l[3:] for l in dirty if l.strip()]
        source = f"commit {head}" + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")
    except OSError:
        source = "?"
    return {
        "source": source,
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "distro": distro,
        "python": platform.python_version(),
        "gcc": gcc,
        "packages": pkgs,
        "libpodsync": lib,
        "loadavg_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repetition (what CI runs)")
    ap.add_argument(
        "--out", type=Path, default=HERE, help="where RESULTS.md, results.json and results.png go"
    )
    ap.add_argument("--bin", type=Path, required=True, help="directory of the compiled C programs")
    ap.add_argument("--command", default="bash benchmarks/run", help="the command to record in RESULTS.md")
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated layouts (entity40,record256,quant20) and C runs (steady,scaling,putsize) "
        "to run; without a C run's name every C run runs",
    )
    ap.add_argument(
        "--systems", default="", help="comma-separated system keys to run (podsync,numpy_xor_zstd,...)"
    )
    ap.add_argument("--budget", type=float, default=None, help="seconds per system per case and phase")
    ap.add_argument("--no-c", action="store_true", help="skip the C programs (debugging)")
    ap.add_argument(
        "--rerender", type=Path, help="only redraw RESULTS.md and the plot from this results.json"
    )
    args = ap.parse_args()
    if args.rerender:
        results = json.loads(args.rerender.read_text())
        args.out.mkdir(parents=True, exist_ok=True)
        text, failures = report.render(results)
        print(text)
        plot_ok = report.plot(results, args.out / "results.png")
        (args.out / "RESULTS.md").write_text(report.results_md(results, text, plot_ok))
        return 1 if failures else 0
    cfg = dict(SMOKE if args.smoke else FULL)
    if args.budget:
        cfg["budget"] = args.budget
    only = {x for x in args.only.split(",") if x}
    c_runs = {"steady", "scaling", "putsize"}
    c_only = (only & c_runs) or c_runs
    started = time.time()
    t_start = time.perf_counter()

    podsync_level = PODSYNC_ZSTD_LEVEL if systems.podsync_supports_compression() else 0
    results: dict[str, Any] = {
        "command": args.command,
        "smoke": args.smoke,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "config": cfg,
        "podsync_zstd_level": podsync_level,
        "cases": [],
        "scaling": [],
        "putsize": [],
        "steady": None,
    }
    if not podsync_level:
        log("podsync: this build has no compression option; the PodSync + zstd rows are left out")

    prev: dict[str, dict[str, Any]] = {}
    for layout_key, n in cfg["cases"]:
        if only and layout_key not in only:
            continue
        layout = LAYOUTS[layout_key]
        case = run_case(
            layout, n, cfg, prev.get(layout_key), podsync_level, {x for x in args.systems.split(",") if x}
        )
        if not args.no_c:
            binary = args.bin / f"suite_bench{layout.dtype.itemsize}"
            case["c"] = run_c(
                binary,
                ["workload", str(n), str(layout.fraction), str(cfg["c_reps"]), str(PODSYNC_ZSTD_LEVEL)],
            )
        results["cases"].append(case)
        prev[layout_key] = case

    if not args.no_c and "steady" in c_only:
        n, ticks, fraction = cfg["steady_n"], cfg["steady_ticks"], cfg["steady_fraction"]
        log(f"\n== steady ticks: {ticks:,} consecutive ticks of {fraction:.0%} at N = {n:,} (C, 40 B)")
        results["steady"] = run_c(
            args.bin / "suite_bench40", ["steady", str(n), str(ticks), str(fraction), str(PODSYNC_ZSTD_LEVEL)]
        )
    if not args.no_c and "scaling" in c_only:
        log("\n== scaling: delta_since with fixed changes, memory per record (C, 40 B)")
        for n in cfg["scaling_n"]:
            results["scaling"].append(
                run_c(
                    args.bin / "suite_bench40",
                    ["scaling", str(n), str(cfg["scaling_changes"]), str(cfg["scaling_reps"])],
                )
            )
    if not args.no_c and "putsize" in c_only:
        log("\n== put throughput against the record size (C)")
        for size in cfg["putsize_sizes"]:
            n = max(1000, min(cfg["putsize_max_n"], cfg["putsize_bytes"] // size))
            results["putsize"].append(
                run_c(args.bin / "suite_bench40", ["putsize", str(size), str(n), str(cfg["putsize_reps"])])
            )

    results["machine"]["loadavg_end"] = os.getloadavg()
    results["duration_s"] = time.perf_counter() - t_start
    results["started"] = started

    args.out.mkdir(parents=True, exist_ok=True)
    text, failures = report.render(results)
    print(text)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    plot_ok = report.plot(results, args.out / "results.png")
    (args.out / "RESULTS.md").write_text(report.results_md(results, text, plot_ok))
    log(
        f"\nwrote {args.out / 'RESULTS.md'}, {args.out / 'results.json'}, {args.out / 'results.png'}"
        f" in {results['duration_s']:.0f} s"
    )
    if failures:
        log("FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
