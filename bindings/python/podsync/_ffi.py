"""The ctypes layer: finding and loading libpodsync.so, the C structs, and ONE table that declares
``argtypes`` and ``restype`` for every function of ``include/podsync.h``.

Nothing in here is public API; the rest of the package calls ``LIB.podsync_*`` through it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any

#: The ABI version this package was written against (``PODSYNC_ABI_VERSION`` of the header).
ABI_VERSION = 1
#: The frame format version of the header this package mirrors: the newest the library writes and
#: reads (library 0.5.0 and later read formats 1 and 2; they write 2 for chunks, on request and, since
#: 0.6.0, for frames of a term above 0).
FORMAT_VERSION = 2

#: The oldest library version that has every function of the table below.
LIBRARY_MIN_VERSION = "0.8.0"

#: Environment variable naming the shared library to load (a path to ``libpodsync.so``).
LIBRARY_ENV = "PODSYNC_LIBRARY"
LIBRARY_NAME = "libpodsync.so"

# --- constants of podsync.h (values pinned by docs/ABI.md) --------------------------------------

ROLE_WRITER = 1
ROLE_REPLICA = 2

OPT_FRAME_DIGEST = 0x1
OPT_MANUAL_CLOCK = 0x2
OPT_FILL_IN_PLACE = 0x4  # since library 0.5.0
OPT_ONE_WAY = 0x8  # since library 0.5.0

STORE_OPTIONS_VERSION = 4
STORE_INFO_VERSION = 3
FRAME_INFO_VERSION = 3
FRAME_SECTION_VERSION = 1
CHUNK_POSITION_VERSION = 1  # since library 0.5.0

FRAME_HEADER_SIZE = 88  # the fixed header of format 1; format 2 (the default since 0.8.0): 40..2040
FRAME_PREFIX_SIZE = 16  # the prefix every frame starts with (since library 0.5.0)
FRAME_RESET = 0x1
FRAME_HAS_DIGEST = 0x2
FRAME_CHUNK = 0x4  # since library 0.5.0
FRAME_REPAIR = 0x8  # format-2 header flag: a repair frame (since library 0.7.0)
FRAME_SUMMARY = 0x10  # format-2 header flag: a summary message, never applied (since library 0.7.0)
FRAME_SLICE = 0x10000  # podsync_frame_info.flags only, not a header flag: a refresh slice (0.5.0)
CHUNK_LAST = 0x1  # podsync_frame_info.chunk_flags and slice_flags (since library 0.5.0)
MIN_CHUNK_BYTES = 512  # since library 0.5.0
CODEC_NONE = 0
CODEC_ZSTD = 1

TRANSFORM_XOR = 0x1
TRANSFORM_TRANSPOSE = 0x2
TRANSFORM_KEY_GAPS = 0x4
TRANSFORM_COLUMNS = 0x8  # since library 0.3.0
TRANSFORM_FIELDS = 0x10  # since library 0.9.0
TRANSFORM_KEY_RANKS = 0x20  # since library 0.9.0
TRANSFORM_ALL = 0x3F

# Durability and failover (since library 0.6.0)
LOG_NONE = 0
LOG_EVERY_FRAME = 1
LOG_INTERVAL = 2
LOG_OS = 3
DURABILITY_OPTIONS_VERSION = 1
OPEN_INFO_VERSION = 1
OPENED_CREATED = 0x1
OPENED_NEW_TERM = 0x2
OPENED_FALLBACK = 0x4

# Change events (since library 0.7.0): podsync_store_changes' flags_out
CHANGES_REPLACED = 0x1  # the last apply replaced the whole state (a snapshot)
CHANGES_INCOMPLETE = 0x2  # the lists could not be had: treat every key of the table as changed

# Subscriptions (since library 0.8.0)
SUBSCRIPTION_VERSION = 1
MAX_SHARD_BITS = 16  # shard_bits: 0 (no shard filter) to 16

MAX_TABLES = 1024
MAX_FIELDS = 1024
MAX_FIELD_NAME = 255
MAX_RECORD_SIZE = 1048576
MAX_ALIGNMENT = 64

TYPE_U8 = 1
TYPE_U16 = 2
TYPE_U32 = 3
TYPE_U64 = 4
TYPE_I8 = 5
TYPE_I16 = 6
TYPE_I32 = 7
TYPE_I64 = 8
TYPE_F32 = 9
TYPE_F64 = 10
TYPE_BYTES = 11


# --- structs (layouts asserted against docs/ABI.md in tests/test_ffi.py) ------------------------


class Field(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("type", c_uint32),
        ("offset", c_uint32),
        ("count", c_uint32),
        ("reserved", c_uint32),
    ]


class StoreOptions(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("flags", c_uint32),
        ("stream_id", c_uint64),
        ("max_batch_records", c_uint64),
        ("max_batch_bytes", c_uint64),
        ("max_batch_age_ms", c_uint64),
        ("max_frame_bytes", c_uint64),
        ("tombstone_horizon", c_uint64),
        # since options version 2 (library 0.2.0)
        ("compression_level", ctypes.c_int32),
        ("transforms", c_uint32),
        ("max_decoded_bytes", c_uint64),
        # since options version 3 (library 0.4.0)
        ("max_records", c_uint64),
        ("max_tombstones", c_uint64),
        # since options version 4 (library 0.5.0)
        ("frame_format", c_uint32),
        ("refresh_flushes", c_uint32),  # "reserved" (must be 0) before the rolling refresh
        ("refresh_ms", c_uint64),
    ]


METRICS_VERSION = 3
METRICS_BUCKETS = 32
METRICS_STATUSES = 32


class Metrics(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("reserved", c_uint32),
        ("frames_out", c_uint64),
        ("records_out", c_uint64),
        ("raw_bytes_out", c_uint64),
        ("wire_bytes_out", c_uint64),
        ("saved_by_key_gaps", c_uint64),
        ("saved_by_compression", c_uint64),
        ("compressed_frames", c_uint64),
        ("writes", c_uint64),
        ("coalesced_writes", c_uint64),
        ("frames_applied", c_uint64),
        ("records_applied", c_uint64),
        ("wire_bytes_in", c_uint64),
        ("duplicates", c_uint64),
        ("gaps", c_uint64),
        ("stale", c_uint64),
        ("resyncs", c_uint64),
        ("rejects", c_uint64 * METRICS_STATUSES),
        ("encode_ns", c_uint64 * METRICS_BUCKETS),
        ("apply_ns", c_uint64 * METRICS_BUCKETS),
        # since metrics version 2 (library 0.3.0)
        ("saved_by_zero_columns", c_uint64),
        ("raw_column_bytes", c_uint64),
        ("column_trials", c_uint64),
        ("dictionary_frames", c_uint64),
        # since metrics version 3 (library 0.5.0)
        ("chunks_out", c_uint64),
        ("snapshot_bytes_held", c_uint64),
        ("chunks_staged", c_uint64),
        ("chunk_gaps", c_uint64),
        ("staging_bytes_held", c_uint64),
    ]


class StoreInfo(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("role", c_uint32),
        ("schema_hash", c_uint64),
        ("stream_id", c_uint64),
        ("state_version", c_uint64),
        ("sequence", c_uint64),
        ("digest", c_uint64),
        ("catchup_floor", c_uint64),
        ("pending_changes", c_uint64),
        ("generation", c_uint64),
        ("diverged", c_uint32),
        ("table_count", c_uint32),
        # since store info version 2 (library 0.5.0)
        ("refreshing", c_uint32),
        ("reserved", c_uint32),
        # since store info version 3 (library 0.6.0)
        ("term", c_uint64),
        ("durable_version", c_uint64),
        ("log_bytes", c_uint64),
        ("durable", c_uint32),
        ("log_failed", c_uint32),
    ]


class FrameInfo(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("format_version", c_uint32),
        ("header_length", c_uint32),
        ("flags", c_uint32),
        ("section_count", c_uint32),
        ("codec", c_uint32),
        ("frame_length", c_uint64),
        ("schema_hash", c_uint64),
        ("stream_id", c_uint64),
        ("sequence", c_uint64),
        ("base_version", c_uint64),
        ("state_version", c_uint64),
        ("state_digest", c_uint64),
        # since frame info version 2 (library 0.2.0)
        ("transforms", c_uint32),
        ("dictionary_id", c_uint32),  # "reserved" (always 0) before library 0.3.0
        ("payload_length", c_uint64),
        # since frame info version 3 (library 0.5.0)
        ("term", c_uint64),
        ("snapshot_id", c_uint64),
        ("chunk_index", c_uint64),
        ("chunk_start_key", c_uint64),
        ("chunk_end_key", c_uint64),
        ("chunk_record_count", c_uint64),
        ("chunk_start_table", c_uint32),
        ("chunk_end_table", c_uint32),
        ("chunk_flags", c_uint32),
        ("slice_section_count", c_uint32),
        ("slice_pass", c_uint64),
        ("slice_index", c_uint64),
        ("slice_start_key", c_uint64),
        ("slice_end_key", c_uint64),
        ("slice_start_table", c_uint32),
        ("slice_end_table", c_uint32),
        ("slice_flags", c_uint32),
        ("reserved", c_uint32),
    ]


class FrameSection(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("table_id", c_uint32),
        ("record_size", c_uint32),
        ("reserved", c_uint32),
        ("put_count", c_uint64),
        ("delete_count", c_uint64),
        ("put_keys", c_void_p),  # const uint64_t *: read as an address (same ABI)
        ("records", c_void_p),
        ("delete_keys", c_void_p),
    ]


class ChunkPosition(Structure):
    """``podsync_chunk_position`` (since library 0.5.0)."""

    _fields_ = [
        ("version", c_uint32),
        ("start_table", c_uint32),
        ("stream_id", c_uint64),
        ("term", c_uint64),
        ("snapshot_id", c_uint64),
        ("state_version", c_uint64),
        ("chunk_index", c_uint64),
        ("start_key", c_uint64),
        ("base_version", c_uint64),
    ]


class DurabilityOptions(Structure):
    """``podsync_durability_options`` (since library 0.6.0)."""

    _fields_ = [
        ("version", c_uint32),
        ("log_policy", c_uint32),
        ("sync_interval_ms", c_uint64),
        ("new_term", c_uint64),
        ("keep_checkpoints", c_uint32),
        ("flags", c_uint32),
    ]


class OpenInfo(Structure):
    """``podsync_open_info`` (since library 0.6.0)."""

    _fields_ = [
        ("version", c_uint32),
        ("flags", c_uint32),
        ("checkpoint_version", c_uint64),
        ("restored_version", c_uint64),
        ("log_frames", c_uint64),
        ("dropped_bytes", c_uint64),
        ("term", c_uint64),
        ("skipped_status", c_int32),
        ("reserved", c_uint32),
    ]


class KeyRange(Structure):
    """``podsync_key_range`` (since library 0.8.0): lo <= key <= hi."""

    _fields_ = [
        ("lo", c_uint64),
        ("hi", c_uint64),
    ]


class SubscriptionTable(Structure):
    """``podsync_subscription_table`` (since library 0.8.0): range_count 0 means every key."""

    _fields_ = [
        ("table_id", c_uint32),
        ("range_count", c_uint32),
        ("ranges", POINTER(KeyRange)),
    ]


class Subscription(Structure):
    """``podsync_subscription`` (since library 0.8.0)."""

    _fields_ = [
        ("version", c_uint32),
        ("shard_bits", c_uint32),
        ("shard_count", c_uint32),
        ("table_count", c_uint32),
        ("shards", POINTER(c_uint32)),
        ("tables", POINTER(SubscriptionTable)),
    ]


# Opaque handles: distinct pointer types so that a schema is never passed where a store is wanted.
class _SchemaT(Structure):
    pass


class _StoreT(Structure):
    pass


class _SnapshotT(Structure):
    pass


class _CheckpointT(Structure):
    pass


SchemaP = POINTER(_SchemaT)
StoreP = POINTER(_StoreT)
SnapshotP = POINTER(_SnapshotT)
CheckpointP = POINTER(_CheckpointT)

_u64p = POINTER(c_uint64)
_sizep = POINTER(c_size_t)

# --- THE table: every function of podsync.h, in header order: name -> (restype, argtypes) -------
# restype is always given explicitly (None for void): a missing restype would make ctypes assume
# int and truncate returned pointers to 32 bits. Pointer OUTPUTS (const T **) are declared as
# POINTER(c_void_p) — the same ABI — so the binding reads addresses as ints without casts; data
# INPUTS (const void *, const uint64_t *) are c_void_p so that an address, bytes or NULL fit.
FUNCTIONS: dict[str, tuple[Any, list[Any]]] = {
    # Versions
    "podsync_version_number": (c_uint32, []),
    "podsync_abi_version": (c_uint32, []),
    # Status codes
    "podsync_status_name": (c_char_p, [c_int32]),
    "podsync_last_errmsg": (c_char_p, []),  # since library 0.4.0
    # Schema
    "podsync_schema_create": (c_int32, [POINTER(SchemaP)]),
    "podsync_schema_free": (None, [SchemaP]),
    "podsync_schema_errmsg": (c_char_p, [SchemaP]),
    "podsync_schema_add_table": (
        c_int32,
        [SchemaP, c_uint32, c_uint32, c_uint32, POINTER(Field), c_size_t],
    ),
    "podsync_schema_hash": (c_int32, [SchemaP, _u64p]),
    "podsync_schema_encode": (c_int32, [SchemaP, c_void_p, c_size_t, _sizep]),
    "podsync_schema_decode": (c_int32, [c_void_p, c_size_t, POINTER(SchemaP)]),
    # Stores
    "podsync_store_options_init": (c_int32, [POINTER(StoreOptions), c_uint32]),
    "podsync_store_create": (
        c_int32,
        [SchemaP, c_uint32, POINTER(StoreOptions), POINTER(StoreP)],
    ),
    "podsync_store_free": (None, [StoreP]),
    "podsync_store_errmsg": (c_char_p, [StoreP]),
    # Writes
    "podsync_store_put": (c_int32, [StoreP, c_uint32, c_uint64, c_void_p, c_size_t]),
    "podsync_store_put_many": (
        c_int32,
        [StoreP, c_uint32, c_void_p, c_void_p, c_size_t, c_size_t],
    ),
    "podsync_store_delete": (c_int32, [StoreP, c_uint32, c_uint64]),
    "podsync_store_delete_many": (c_int32, [StoreP, c_uint32, c_void_p, c_size_t, _sizep]),
    # Flush policy
    "podsync_store_set_time": (c_int32, [StoreP, c_uint64]),
    "podsync_store_flush_due": (c_int32, [StoreP]),
    # Producing frames
    "podsync_store_flush": (c_int32, [StoreP, _sizep]),
    "podsync_store_delta_since": (c_int32, [StoreP, c_uint64, _sizep]),
    "podsync_store_snapshot": (c_int32, [StoreP, _sizep]),
    "podsync_store_frame": (c_int32, [StoreP, c_size_t, POINTER(c_void_p), _sizep]),
    # Applying frames
    "podsync_store_apply": (c_int32, [StoreP, c_void_p, c_size_t, _u64p]),
    # Chunked snapshots (since library 0.5.0)
    "podsync_snapshot_begin": (c_int32, [StoreP, c_size_t, POINTER(SnapshotP)]),
    "podsync_snapshot_resume": (
        c_int32,
        [StoreP, POINTER(ChunkPosition), c_size_t, POINTER(SnapshotP)],
    ),
    "podsync_snapshot_next": (c_int32, [SnapshotP, POINTER(c_void_p), _sizep]),
    "podsync_snapshot_position": (c_int32, [SnapshotP, POINTER(ChunkPosition)]),
    "podsync_snapshot_errmsg": (c_char_p, [SnapshotP]),
    "podsync_snapshot_free": (None, [SnapshotP]),
    "podsync_store_staging": (c_int32, [StoreP, POINTER(ChunkPosition)]),
    # Durability and failover (since library 0.6.0)
    "podsync_durability_options_init": (c_int32, [POINTER(DurabilityOptions), c_uint32]),
    "podsync_store_open": (
        c_int32,
        [c_char_p, SchemaP, c_uint32, POINTER(StoreOptions), POINTER(DurabilityOptions), POINTER(OpenInfo),
         POINTER(StoreP)],
    ),  # fmt: skip
    "podsync_store_checkpoint": (c_int32, [StoreP]),
    "podsync_checkpoint_begin": (c_int32, [StoreP, POINTER(CheckpointP)]),
    "podsync_checkpoint_step": (c_int32, [CheckpointP, c_size_t]),
    "podsync_checkpoint_errmsg": (c_char_p, [CheckpointP]),
    "podsync_checkpoint_free": (None, [CheckpointP]),
    "podsync_store_sync": (c_int32, [StoreP]),
    "podsync_store_promote": (c_int32, [StoreP, c_uint64]),
    # Reads
    "podsync_store_get": (c_int32, [StoreP, c_uint32, c_uint64, POINTER(c_void_p)]),
    "podsync_store_count": (c_int32, [StoreP, c_uint32, _sizep]),
    "podsync_store_table": (
        c_int32,
        [StoreP, c_uint32, POINTER(c_void_p), POINTER(c_void_p), _sizep],
    ),
    "podsync_store_info_get": (c_int32, [StoreP, POINTER(StoreInfo)]),
    "podsync_store_digest": (c_int32, [StoreP, _u64p]),
    # Change events (since library 0.7.0)
    "podsync_store_track_changes": (c_int32, [StoreP, c_uint32]),
    "podsync_store_changes": (
        c_int32,
        [StoreP, c_uint32, POINTER(c_void_p), _sizep, POINTER(c_void_p), _sizep, POINTER(c_uint32)],
    ),
    # Reconciliation (since library 0.7.0)
    "podsync_store_summary": (c_int32, [StoreP, c_uint32, _sizep]),
    "podsync_store_reconcile": (c_int32, [StoreP, c_void_p, c_size_t, _sizep]),
    # Subscriptions (since library 0.8.0)
    "podsync_subscription_encode": (
        c_int32,
        [POINTER(Subscription), c_void_p, c_size_t, _sizep, _u64p],
    ),
    "podsync_store_subscribe": (c_int32, [StoreP, c_void_p, c_size_t]),
    "podsync_store_feed": (c_int32, [StoreP, c_void_p, c_size_t, POINTER(StoreP)]),
    "podsync_store_subscription": (c_int32, [StoreP, POINTER(c_void_p), _sizep, _u64p]),
    "podsync_store_metrics": (c_int32, [StoreP, POINTER(Metrics)]),
    # Compression dictionaries (since library 0.3.0)
    "podsync_store_collect_samples": (c_int32, [StoreP, c_size_t]),
    "podsync_store_train_dictionary": (c_int32, [StoreP, c_size_t, POINTER(c_uint32)]),
    "podsync_store_load_dictionary": (c_int32, [StoreP, c_void_p, c_size_t, POINTER(c_uint32)]),
    "podsync_store_dictionary": (
        c_int32,
        [StoreP, POINTER(c_void_p), _sizep, POINTER(c_uint32)],
    ),
    # Reading frames without a store
    "podsync_frame_peek": (c_int32, [c_void_p, c_size_t, POINTER(FrameInfo)]),
    "podsync_frame_validate": (c_int32, [c_void_p, c_size_t, POINTER(FrameInfo)]),
    # since library 0.4.0
    "podsync_frame_validate_limited": (c_int32, [c_void_p, c_size_t, c_uint64, POINTER(FrameInfo)]),
    "podsync_frame_section_get": (
        c_int32,
        [c_void_p, c_size_t, c_size_t, POINTER(FrameSection)],
    ),
    # Metrics as Prometheus text (since library 0.4.0)
    "podsync_metrics_prometheus": (
        c_int32,
        [POINTER(Metrics), c_char_p, c_void_p, c_size_t, _sizep],
    ),
}


class LibraryNotFoundError(ImportError):
    """libpodsync.so could not be loaded from any of the places searched (listed in the message)."""


class LibraryVersionError(ImportError):
    """The loaded libpodsync.so implements another ABI version than this package expects."""


def _candidates() -> list[tuple[str, Path | str]]:
    """Where the library is looked for, in order, as (description, path) pairs."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        # An explicit choice is authoritative: never fall back silently to another copy.
        return [(f"${LIBRARY_ENV}", Path(env))]
    here = Path(__file__).resolve().parent
    found: list[tuple[str, Path | str]] = [("bundled with the package", here / "_lib" / LIBRARY_NAME)]
    root = here.parents[2] if len(here.parents) > 2 else here
    if (root / "include" / "podsync.h").is_file():
        # Running from a source checkout (bindings/python/podsync -> the repository root).
        found.append(("repository build tree", root / ".build" / "release" / LIBRARY_NAME))
    system = ctypes.util.find_library("podsync")
    found.append(("system (ldconfig)", system if system else "libpodsync.so (not in ldconfig)"))
    return found


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in FUNCTIONS.items():
        fn = getattr(lib, name)  # AttributeError names a symbol the library lacks
        fn.restype = restype
        fn.argtypes = argtypes


def load_library() -> tuple[ctypes.CDLL, str]:
    """Loads the library (see :func:`_candidates`), declares every function, checks the ABI."""
    tried: list[str] = []
    for what, path in _candidates():
        if isinstance(path, Path) and not path.is_file():
            tried.append(f"  {what}: {path} (no such file)")
            continue
        if isinstance(path, str) and "not in ldconfig" in path:
            tried.append(f"  {what}: {path}")
            continue
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            tried.append(f"  {what}: {path} ({exc})")
            continue
        try:
            _declare(lib)
        except AttributeError as exc:
            if hasattr(lib, "podsync_version_number"):  # PodSync, but without a function declared
                found = lib.podsync_version_number()
                tried.append(
                    f"  {what}: {path} (PodSync library {found // 10000}.{found // 100 % 100}.{found % 100} "
                    f"is older than the {LIBRARY_MIN_VERSION} this package needs: {exc})"
                )
            else:
                tried.append(f"  {what}: {path} (not a PodSync library: {exc})")
            continue
        abi = lib.podsync_abi_version()
        if abi != ABI_VERSION:
            raise LibraryVersionError(
                f"{path} implements PodSync ABI version {abi}, but this podsync package needs ABI "
                f"version {ABI_VERSION}; install the matching library or package"
            )
        return lib, str(path)
    raise LibraryNotFoundError(
        "cannot load libpodsync.so; tried, in order:\n"
        + "\n".join(tried)
        + f"\nSet {LIBRARY_ENV} to the path of libpodsync.so, or build it with `bash .ci/build-lib` "
        "in the PodSync repository and reinstall this package."
    )


LIB, LIBRARY_PATH = load_library()
