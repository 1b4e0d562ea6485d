"""The ctypes layer against the header: every function declared, struct layouts, loading rules."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import podsync
from podsync import _ffi
from _support import HEADER, have_gcc

needs_header = pytest.mark.skipif(not HEADER.is_file(), reason="include/podsync.h not found")


def header_functions() -> dict[str, int]:
    """name -> parameter count of every PODSYNC_API function in podsync.h."""
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found: dict[str, int] = {}
    for match in re.finditer(r"PODSYNC_API\s+[^;(]*?\b(podsync_\w+)\s*\(([^)]*)\)\s*;", text, re.S):
        name, params = match.group(1), match.group(2).strip()
        found[name] = 0 if params in ("", "void") else params.count(",") + 1
    return found


@needs_header
def test_table_declares_every_header_function_exactly() -> None:
    declared = header_functions()
    assert len(declared) >= 30  # the parser found them
    assert set(_ffi.FUNCTIONS) == set(declared)
    for name, count in declared.items():
        restype, argtypes = _ffi.FUNCTIONS[name]
        assert len(argtypes) == count, name
        fn = getattr(_ffi.LIB, name)
        assert fn.argtypes == argtypes and fn.restype is restype, name


@needs_header
def test_pointer_returning_functions_have_pointer_restype() -> None:
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    for match in re.finditer(r"PODSYNC_API\s+([^;(]*?)\b(podsync_\w+)\s*\(", text):
        ret, name = match.group(1).strip(), match.group(2)
        restype = _ffi.FUNCTIONS[name][0]
        if "*" in ret:
            assert restype in (ctypes.c_char_p, ctypes.c_void_p), name
        elif ret == "void":
            assert restype is None, name
        elif ret == "int32_t":
            assert restype is ctypes.c_int32, name
        elif ret == "uint32_t":
            assert restype is ctypes.c_uint32, name


@needs_header
def test_header_constants_match() -> None:
    defines = dict(
        (m.group(1), int(m.group(2)))
        for m in re.finditer(r"#define\s+PODSYNC_(\w+)\s+\(?(-?\d+|0x[0-9a-fA-F]+)u?\)?\s", HEADER.read_text())
        if not m.group(2).startswith("0x")
    )
    assert defines["ABI_VERSION"] == podsync.ABI_VERSION
    assert defines["FORMAT_VERSION"] == podsync.FORMAT_VERSION
    assert defines["FRAME_HEADER_SIZE"] == podsync.FRAME_HEADER_SIZE
    for status in podsync.Status:
        macro = status.name if status.name.startswith("E_") else status.name
        assert defines[macro] == status.value, macro
    for ftype in podsync.FieldType:
        assert defines[f"TYPE_{ftype.name}"] == ftype.value
    assert defines["METRICS_VERSION"] == _ffi.METRICS_VERSION
    assert defines["STORE_OPTIONS_VERSION"] == _ffi.STORE_OPTIONS_VERSION == 4
    assert defines["STORE_INFO_VERSION"] == _ffi.STORE_INFO_VERSION
    assert defines["FRAME_SECTION_VERSION"] == _ffi.FRAME_SECTION_VERSION
    assert defines["E_LIMIT"] == podsync.Status.E_LIMIT == -23
    assert defines["FRAME_INFO_VERSION"] == _ffi.FRAME_INFO_VERSION == 3
    # Library 0.5.0: format 2, chunked snapshots.
    assert defines["FORMAT_VERSION"] == 2
    assert defines["METRICS_VERSION"] == 3
    assert defines["FRAME_PREFIX_SIZE"] == podsync.FRAME_PREFIX_SIZE == _ffi.FRAME_PREFIX_SIZE == 16
    assert defines["MIN_CHUNK_BYTES"] == podsync.MIN_CHUNK_BYTES
    assert defines["CHUNK_POSITION_VERSION"] == _ffi.CHUNK_POSITION_VERSION == 1
    assert (defines["CHUNK_GAP"], defines["CHUNK_STAGED"], defines["DONE"]) == (7, 8, 10)
    assert (defines["E_SNAPSHOT_EXPIRED"], defines["E_FRAME_FEATURE"], defines["E_CHUNK_MISMATCH"]) == (-24, -28, -29)
    assert podsync.ApplyResult.CHUNK_GAP == podsync.Status.CHUNK_GAP
    assert podsync.ApplyResult.CHUNK_STAGED == podsync.Status.CHUNK_STAGED
    # The rolling refresh (library 0.5.0).
    assert defines["REFRESHING"] == podsync.Status.REFRESHING == podsync.ApplyResult.REFRESHING == 9
    # Durability and failover (library 0.6.0).
    assert defines["STORE_INFO_VERSION"] == _ffi.STORE_INFO_VERSION == 3
    assert (defines["E_TERM_FENCED"], defines["E_HISTORY_DIVERGED"], defines["E_IO"], defines["E_FILE_CORRUPT"]) == (
        -25, -26, -31, -32)  # fmt: skip
    assert defines["DURABILITY_OPTIONS_VERSION"] == _ffi.DURABILITY_OPTIONS_VERSION == 1
    assert defines["OPEN_INFO_VERSION"] == _ffi.OPEN_INFO_VERSION == 1
    # Subscriptions (library 0.8.0).
    assert defines["E_NOT_SUBSCRIBED"] == podsync.Status.E_NOT_SUBSCRIBED == -27
    assert defines["SUBSCRIPTION_VERSION"] == _ffi.SUBSCRIPTION_VERSION == 1
    for policy in podsync.LogPolicy:
        assert defines[f"LOG_{policy.name}"] == policy.value == getattr(_ffi, f"LOG_{policy.name}"), policy
    hex_defines = {
        m.group(1): int(m.group(2), 16)
        for m in re.finditer(r"#define\s+PODSYNC_(\w+)\s+0x([0-9a-fA-F]+)u?\s", HEADER.read_text())
    }
    for name in ("XOR", "TRANSPOSE", "KEY_GAPS", "COLUMNS", "ALL"):
        assert hex_defines[f"TRANSFORM_{name}"] == getattr(podsync, f"TRANSFORM_{name}"), name
    for name in ("OPT_FRAME_DIGEST", "OPT_MANUAL_CLOCK", "OPT_FILL_IN_PLACE", "OPT_ONE_WAY", "FRAME_RESET",
                 "FRAME_HAS_DIGEST", "FRAME_CHUNK", "FRAME_SLICE", "CHUNK_LAST", "OPENED_CREATED",
                 "OPENED_NEW_TERM", "OPENED_FALLBACK", "CHANGES_REPLACED", "CHANGES_INCOMPLETE"):  # fmt: skip
        assert hex_defines[name] == getattr(_ffi, name), name
    assert podsync.CHUNK_LAST == hex_defines["CHUNK_LAST"]


def test_a_version_1_metrics_struct_is_filled_up_to_apply_ns() -> None:
    """Older callers pass the 904-byte struct of metrics version 1: the library must not write
    the fields appended in version 2."""
    with podsync.Writer(podsync.Schema({1: np.dtype([("x", "<u8")])})) as w:
        w.put(1, 1, bytes(8))
        w.flush()
        m = _ffi.Metrics()
        m.version = 1
        m.saved_by_zero_columns = m.raw_column_bytes = m.column_trials = m.dictionary_frames = 7
        assert _ffi.LIB.podsync_store_metrics(w._h().ptr, ctypes.byref(m)) == 0
        assert (m.frames_out, m.records_out) == (1, 1)
        assert [m.saved_by_zero_columns, m.raw_column_bytes, m.column_trials, m.dictionary_frames] == [7] * 4


def test_a_version_2_metrics_struct_is_filled_up_to_dictionary_frames() -> None:
    """Hosts of library 0.3.0/0.4.0 pass the 936-byte struct of metrics version 2: the library
    must not write the chunk counters appended in version 3 (library 0.5.0)."""
    with podsync.Writer(podsync.Schema({1: np.dtype([("x", "<u8")])})) as w:
        w.put(1, 1, bytes(8))
        w.flush()
        w.snapshot()
        m = _ffi.Metrics()
        m.version = 2
        m.chunks_out = m.snapshot_bytes_held = m.chunks_staged = m.chunk_gaps = m.staging_bytes_held = 7
        assert _ffi.LIB.podsync_store_metrics(w._h().ptr, ctypes.byref(m)) == 0
        assert (m.frames_out, m.records_out) == (2, 2)
        assert [m.chunks_out, m.snapshot_bytes_held, m.chunks_staged, m.chunk_gaps, m.staging_bytes_held] == [7] * 5
        assert set(w.metrics()) >= {"chunks_out", "snapshot_bytes_held", "chunks_staged", "chunk_gaps", "staging_bytes_held"}


def test_a_version_1_store_info_struct_is_filled_up_to_table_count() -> None:
    """Hosts of library 0.1.0 to 0.4.0 pass the 80-byte store info of version 1: the library must
    not write the fields appended in version 2 (library 0.5.0); a version-2 struct gets them, its
    reserved field written as 0."""
    with podsync.Writer(podsync.Schema({1: np.dtype([("x", "<u8")])})) as w:
        old = _ffi.StoreInfo()
        old.version, old.refreshing, old.reserved = 1, 7, 7
        assert _ffi.LIB.podsync_store_info_get(w._h().ptr, ctypes.byref(old)) == 0
        assert (old.role, old.table_count, old.refreshing, old.reserved) == (_ffi.ROLE_WRITER, 1, 7, 7)
        new = _ffi.StoreInfo()
        new.version, new.refreshing, new.reserved = 2, 7, 7
        assert _ffi.LIB.podsync_store_info_get(w._h().ptr, ctypes.byref(new)) == 0
        assert (new.role, new.table_count, new.refreshing, new.reserved) == (_ffi.ROLE_WRITER, 1, 0, 0)


def test_a_version_3_options_struct_gets_format_1_frames_and_garbage_past_it_is_ignored() -> None:
    """Hosts of library 0.4.0 pass the 88-byte version-3 struct: options_init must not write the
    version-4 fields, and a store created from it writes format-1 frames without refresh slices
    whatever the bytes past 88 hold (a frame_format of 2 and a refresh_flushes of 1 would otherwise
    be read), although a version-4 struct's defaults give format 2 since library 0.8.0."""
    opts = _ffi.StoreOptions()
    opts.frame_format = opts.refresh_flushes = opts.refresh_ms = 7
    assert _ffi.LIB.podsync_store_options_init(ctypes.byref(opts), 3) == 0
    assert (opts.version, opts.max_tombstones, opts.frame_format, opts.refresh_flushes, opts.refresh_ms) == (
        3, 1048576, 7, 7, 7)  # fmt: skip
    opts.frame_format, opts.refresh_flushes, opts.refresh_ms = 2, 1, 1  # what a version-4 reader would use
    full = _ffi.StoreOptions()
    full.refresh_ms = 7
    assert _ffi.LIB.podsync_store_options_init(ctypes.byref(full), 4) == 0
    # A version-4 struct defaults to format 2 since library 0.8.0 (format 1 before).
    assert (full.version, full.frame_format, full.refresh_flushes, full.refresh_ms) == (4, 2, 0, 0)
    with podsync.Schema({1: np.dtype([("x", "<u8")])}) as s:
        for options, format_version in ((opts, 1), (full, 2)):
            out = _ffi.StoreP()
            assert _ffi.LIB.podsync_store_create(s._handle(), _ffi.ROLE_WRITER, ctypes.byref(options), ctypes.byref(out)) == 0
            try:
                assert _ffi.LIB.podsync_store_put(out, 1, 1, bytes(8), 8) == 0
                count, data, size = ctypes.c_size_t(), ctypes.c_void_p(), ctypes.c_size_t()
                assert _ffi.LIB.podsync_store_flush(out, ctypes.byref(count)) == 0 and count.value == 1
                assert _ffi.LIB.podsync_store_frame(out, 0, ctypes.byref(data), ctypes.byref(size)) == 0
                info = podsync.peek(ctypes.string_at(data.value, size.value))
                assert info.format_version == format_version and not info.has_slice
                if format_version == 1:
                    assert info.header_length == podsync.FRAME_HEADER_SIZE == 88
                else:  # the default struct's writer: the compact header
                    assert info.header_length < podsync.FRAME_HEADER_SIZE
            finally:
                _ffi.LIB.podsync_store_free(out)


def test_a_version_2_options_struct_is_read_and_written_only_up_to_max_decoded_bytes() -> None:
    """Hosts of library 0.2.0/0.3.0 pass the 72-byte version-2 struct: options_init must not write
    the version-3 limits, and the store created from it gets their defaults (docs/ABI.md)."""
    opts = _ffi.StoreOptions()
    opts.max_records = opts.max_tombstones = 7
    assert _ffi.LIB.podsync_store_options_init(ctypes.byref(opts), 2) == 0
    assert (opts.version, opts.max_decoded_bytes) == (2, 1 << 30)
    assert (opts.max_records, opts.max_tombstones) == (7, 7)
    full = _ffi.StoreOptions()
    assert _ffi.LIB.podsync_store_options_init(ctypes.byref(full), 3) == 0
    assert (full.version, full.max_records, full.max_tombstones) == (3, 0, 1048576)
    # A version-2 struct whose bytes past 72 hold garbage: ignored, so no max_records of 7.
    with podsync.Schema({1: np.dtype([("x", "<u8")])}) as s:
        out = _ffi.StoreP()
        assert _ffi.LIB.podsync_store_create(s._handle(), _ffi.ROLE_WRITER, ctypes.byref(opts), ctypes.byref(out)) == 0
        try:
            keys = np.arange(1, 11, dtype=np.uint64)
            assert _ffi.LIB.podsync_store_put_many(out, 1, keys.ctypes.data, keys.ctypes.data, 10, 80) == 0
        finally:
            _ffi.LIB.podsync_store_free(out)


@pytest.mark.parametrize(
    "struct, size, offsets",
    [
        (_ffi.Field, 24, {"name": 0, "type": 8, "offset": 12, "count": 16, "reserved": 20}),
        (
            _ffi.StoreOptions,
            104,
            {"version": 0, "flags": 4, "stream_id": 8, "max_batch_records": 16, "max_batch_bytes": 24,
             "max_batch_age_ms": 32, "max_frame_bytes": 40, "tombstone_horizon": 48,
             "compression_level": 56, "transforms": 60, "max_decoded_bytes": 64,
             "max_records": 72, "max_tombstones": 80, "frame_format": 88, "refresh_flushes": 92,
             "refresh_ms": 96},
        ),
        (
            _ffi.StoreInfo,
            120,
            {"version": 0, "role": 4, "schema_hash": 8, "stream_id": 16, "state_version": 24,
             "sequence": 32, "digest": 40, "catchup_floor": 48, "pending_changes": 56,
             "generation": 64, "diverged": 72, "table_count": 76, "refreshing": 80, "reserved": 84,
             "term": 88, "durable_version": 96, "log_bytes": 104, "durable": 112, "log_failed": 116},
        ),
        (
            _ffi.DurabilityOptions,
            32,
            {"version": 0, "log_policy": 4, "sync_interval_ms": 8, "new_term": 16, "keep_checkpoints": 24,
             "flags": 28},
        ),
        (
            _ffi.OpenInfo,
            56,
            {"version": 0, "flags": 4, "checkpoint_version": 8, "restored_version": 16, "log_frames": 24,
             "dropped_bytes": 32, "term": 40, "skipped_status": 48, "reserved": 52},
        ),
        (
            _ffi.FrameInfo,
            208,
            {"version": 0, "format_version": 4, "header_length": 8, "flags": 12, "section_count": 16,
             "codec": 20, "frame_length": 24, "schema_hash": 32, "stream_id": 40, "sequence": 48,
             "base_version": 56, "state_version": 64, "state_digest": 72, "transforms": 80,
             "dictionary_id": 84, "payload_length": 88, "term": 96, "snapshot_id": 104,
             "chunk_index": 112, "chunk_start_key": 120, "chunk_end_key": 128,
             "chunk_record_count": 136, "chunk_start_table": 144, "chunk_end_table": 148,
             "chunk_flags": 152, "slice_section_count": 156, "slice_pass": 160, "slice_index": 168,
             "slice_start_key": 176, "slice_end_key": 184, "slice_start_table": 192,
             "slice_end_table": 196, "slice_flags": 200, "reserved": 204},
        ),
        (
            _ffi.Metrics,
            976,
            {"version": 0, "reserved": 4, "frames_out": 8, "records_out": 16, "raw_bytes_out": 24,
             "wire_bytes_out": 32, "saved_by_key_gaps": 40, "saved_by_compression": 48,
             "compressed_frames": 56, "writes": 64, "coalesced_writes": 72, "frames_applied": 80,
             "records_applied": 88, "wire_bytes_in": 96, "duplicates": 104, "gaps": 112,
             "stale": 120, "resyncs": 128, "rejects": 136, "encode_ns": 392, "apply_ns": 648,
             "saved_by_zero_columns": 904, "raw_column_bytes": 912, "column_trials": 920,
             "dictionary_frames": 928, "chunks_out": 936, "snapshot_bytes_held": 944,
             "chunks_staged": 952, "chunk_gaps": 960, "staging_bytes_held": 968},
        ),
        (
            _ffi.ChunkPosition,
            64,
            {"version": 0, "start_table": 4, "stream_id": 8, "term": 16, "snapshot_id": 24,
             "state_version": 32, "chunk_index": 40, "start_key": 48, "base_version": 56},
        ),
        (_ffi.KeyRange, 16, {"lo": 0, "hi": 8}),
        (_ffi.SubscriptionTable, 16, {"table_id": 0, "range_count": 4, "ranges": 8}),
        (
            _ffi.Subscription,
            32,
            {"version": 0, "shard_bits": 4, "shard_count": 8, "table_count": 12, "shards": 16, "tables": 24},
        ),
        (
            _ffi.FrameSection,
            56,
            {"version": 0, "table_id": 4, "record_size": 8, "reserved": 12, "put_count": 16,
             "delete_count": 24, "put_keys": 32, "records": 40, "delete_keys": 48},
        ),
    ],
)  # fmt: skip
def test_struct_layouts_match_abi_md(struct: type[ctypes.Structure], size: int, offsets: dict[str, int]) -> None:
    assert ctypes.sizeof(struct) == size
    assert [f[0] for f in struct._fields_] == list(offsets)
    for name, offset in offsets.items():
        assert getattr(struct, name).offset == offset, name


def test_versions_and_status_names() -> None:
    assert podsync.library_abi_version() == podsync.ABI_VERSION == 1
    assert podsync.library_version() == "0.9.0" == podsync.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", podsync.__version__)
    for status in podsync.Status:
        assert podsync.status_name(status) == "PODSYNC_" + status.name
    assert podsync.status_name(-42) == "PODSYNC_UNKNOWN_STATUS"
    err = podsync.error_for(-42, "x")
    assert type(err) is podsync.PodSyncError and err.status == -42


def test_py_typed_marker_is_shipped() -> None:
    assert (Path(podsync.__file__).parent / "py.typed").is_file()


def run_import(env_library: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PODSYNC_LIBRARY=env_library)
    code = "import podsync"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/", timeout=60
    )


def test_missing_library_error_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "libpodsync.so"
    result = run_import(str(missing))
    assert result.returncode != 0
    assert "LibraryNotFoundError" in result.stderr
    assert str(missing) in result.stderr and "PODSYNC_LIBRARY" in result.stderr


def test_non_podsync_library_is_refused() -> None:
    import _ctypes  # a shared object that certainly exists and is not PodSync

    path = getattr(_ctypes, "__file__", None)
    if not path:
        pytest.skip("_ctypes is built in")
    result = run_import(path)
    assert "LibraryNotFoundError" in result.stderr and "not a PodSync library" in result.stderr


def test_search_order_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODSYNC_LIBRARY", raising=False)
    candidates = [what for what, _ in _ffi._candidates()]
    in_checkout = (Path(_ffi.__file__).resolve().parents[3] / "include" / "podsync.h").is_file()
    expected = ["bundled with the package"] + (["repository build tree"] if in_checkout else []) + ["system (ldconfig)"]
    assert candidates == expected
    monkeypatch.setenv("PODSYNC_LIBRARY", "/x/libpodsync.so")
    assert [str(p) for _, p in _ffi._candidates()] == ["/x/libpodsync.so"]


@pytest.mark.skipif(not have_gcc(), reason="gcc not available")
def test_abi_mismatch_raises_import_error(tmp_path: Path) -> None:
    """A library exporting every podsync_* symbol but reporting ABI version 2."""
    stubs = "\n".join(
        f"int {name}(void) {{ return {2 if name == 'podsync_abi_version' else 0}; }}"
        for name in _ffi.FUNCTIONS
    )
    src = tmp_path / "fake.c"
    src.write_text(stubs + "\n")
    lib = tmp_path / "libpodsync.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    result = run_import(str(lib))
    assert result.returncode != 0
    assert "LibraryVersionError" in result.stderr
    assert "ABI version 2" in result.stderr and "needs ABI version 1" in result.stderr
    assert issubclass(podsync.LibraryVersionError, ImportError)
    assert issubclass(podsync.LibraryNotFoundError, ImportError)


@pytest.mark.skipif(not have_gcc(), reason="gcc not available")
def test_an_older_podsync_library_is_named_as_such(tmp_path: Path) -> None:
    """A library of 0.7.0 (every function but those of 0.8.0): the error says it is too old, not
    that it is not PodSync."""
    assert _ffi.LIBRARY_MIN_VERSION == "0.8.0"
    added = {"podsync_subscription_encode", "podsync_store_subscribe", "podsync_store_feed",
             "podsync_store_subscription"}  # fmt: skip
    assert added <= set(_ffi.FUNCTIONS)
    stubs = "\n".join(
        f"int {name}(void) {{ return {700 if name == 'podsync_version_number' else 1}; }}"
        for name in _ffi.FUNCTIONS
        if name not in added
    )
    src = tmp_path / "old.c"
    src.write_text(stubs + "\n")
    lib = tmp_path / "libpodsync.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    result = run_import(str(lib))
    assert result.returncode != 0 and "LibraryNotFoundError" in result.stderr
    assert "PodSync library 0.7.0 is older than the 0.8.0 this package needs" in result.stderr
    assert any(name in result.stderr for name in added)


def test_import_from_any_directory() -> None:
    code = textwrap.dedent(
        """
        import podsync, numpy as np
        s = podsync.Schema({1: np.dtype([("x", "<u8")])})
        print(podsync.__version__, s.hash != 0)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PODSYNC_LIBRARY"} if "site-packages" in podsync.__file__ else dict(os.environ)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [podsync.__version__, "True"]


@pytest.mark.skipif(not os.environ.get("PODSYNC_EXPECT_INSTALLED"), reason="only under .ci/test-python")
def test_the_installed_package_and_its_bundled_library_are_under_test() -> None:
    package = Path(podsync.__file__).resolve().parent
    assert "-packages" in str(package), package
    assert Path(podsync.LIBRARY_PATH).resolve() == package / "_lib" / "libpodsync.so"
