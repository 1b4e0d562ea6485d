"""Helpers shared by the tests (imported as `_support`; the tests directory is on sys.path)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import subprocess
from pathlib import Path

import numpy as np

import podsync

REPO = Path(__file__).resolve().parents[3]
HEADER = REPO / "include" / "podsync.h"

ENTITY = np.dtype(
    [("id", "<u8"), ("pos", "<f4", (3,)), ("rot", "<f4", (4,)), ("flags", "<u4")]
)  # 40 bytes, the README's entity
ITEM = np.dtype([("a", "<u4"), ("b", "<u4")])  # 8 bytes, a second table


def entities(ids: np.ndarray | list[int], seed: int = 0) -> np.ndarray:
    """Entity records for ids, deterministic per (id, seed)."""
    ids = np.asarray(ids, dtype=np.uint64)
    recs = np.zeros(len(ids), ENTITY)
    recs["id"] = ids
    recs["pos"] = (ids[:, None] * np.array([1.0, 2.0, 3.0]) + seed).astype(np.float32)
    recs["rot"][:, 3] = 1.0
    recs["flags"] = (ids + np.uint64(seed)).astype(np.uint32)
    return recs


def state(store: podsync.Store, table: int) -> dict[int, bytes]:
    """A table's contents as {key: record bytes} (copied)."""
    with store.view(table) as v:
        return {int(k): v.records[i].tobytes() for i, k in enumerate(v.keys)}


def library_outbox(store: podsync.Store) -> list[bytes]:
    """The frames the library's outbox holds now, copied: podsync_store_frame for index 0, 1, ...
    until it returns an error (through the raw C API, not the binding's frame machinery)."""
    from podsync._ffi import LIB

    ptr = store._handle.ptr
    data, size = ctypes.c_void_p(), ctypes.c_size_t()
    frames: list[bytes] = []
    while LIB.podsync_store_frame(ptr, len(frames), ctypes.byref(data), ctypes.byref(size)) >= 0:
        assert data.value, "podsync_store_frame returned OK and NULL"
        frames.append(ctypes.string_at(data.value, size.value))
    return frames


class XXH3:
    """XXH3-64 through the system libxxhash (the library PodSync itself links), to craft frames
    with valid checksums."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
        self.lib = ctypes.CDLL(name)
        self.lib.XXH3_64bits.restype = ctypes.c_uint64
        self.lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self.lib.XXH3_64bits_withSeed.restype = ctypes.c_uint64
        self.lib.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]

    def __call__(self, data: bytes, seed: int = 0) -> int:
        if seed == 0:
            return int(self.lib.XXH3_64bits(data, len(data)))
        return int(self.lib.XXH3_64bits_withSeed(data, len(data), seed))

    def reseal(self, frame: bytearray) -> bytearray:
        """Recomputes a frame's checksum (bytes 8..16) over bytes [16, end): seed 0 in format 1
        (the u16 at offset 4 is 1), seeded with bytes [0, 8) read as a little-endian u64 in format
        2 (docs/FORMAT.md, "Header" of "Format version 2")."""
        seed = 0 if int.from_bytes(frame[4:6], "little") == 1 else int.from_bytes(frame[:8], "little")
        frame[8:16] = self(bytes(frame[16:]), seed).to_bytes(8, "little")
        return frame


@functools.cache
def have_gcc() -> bool:
    """gcc is there AND works (.ci/test-wheel hides libzstd, which gcc's cc1 itself links)."""
    if not any(os.access(os.path.join(p, "gcc"), os.X_OK) for p in os.environ.get("PATH", "").split(":")):
        return False
    try:
        result = subprocess.run(
            ["gcc", "-x", "c", "-c", "-o", os.devnull, "-"], input=b"int x;\n", capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0
