"""No silent corruption: records of another layout, numbers that are not records, and keys,
table ids or versions outside their C type are refused before anything is written."""

from __future__ import annotations

import array
import ctypes

import numpy as np
import pytest

import podsync
from _support import ENTITY, entities, state

# Same itemsize (40) as ENTITY, other layouts.
RENAMED = np.dtype([("id", "<u8"), ("position", "<f4", (3,)), ("rot", "<f4", (4,)), ("flags", "<u4")])
MOVED = np.dtype([("id", "<u8"), ("rot", "<f4", (4,)), ("pos", "<f4", (3,)), ("flags", "<u4")])
RETYPED = np.dtype([("id", "<u8"), ("pos", "<i4", (3,)), ("rot", "<f4", (4,)), ("flags", "<u4")])
RECOUNTED = np.dtype([("id", "<u8"), ("pos", "<f4", (4,)), ("rot", "<f4", (3,)), ("flags", "<u4")])


def nothing_written(writer: podsync.Writer) -> bool:
    return writer.info().pending_changes == 0 and writer.count(1) == 0


@pytest.mark.parametrize(
    "dtype, words",
    [
        (RENAMED, ["'pos' (f32[3] at offset 8) is missing", "'position' (f32[3] at offset 8) is not in the table"]),
        (MOVED, ["'rot' is f32[4] at offset 8 in the records but f32[4] at offset 20 in the table",
                 "'pos' is f32[3] at offset 24 in the records but f32[3] at offset 8 in the table"]),
        (RETYPED, ["'pos' is i32[3] at offset 8 in the records but f32[3] at offset 8 in the table"]),
        (RECOUNTED, ["'pos' is f32[4]", "'rot' is f32[3] at offset 24"]),
    ],
)  # fmt: skip
def test_structured_records_of_another_layout_are_refused(
    writer: podsync.Writer, dtype: np.dtype, words: list[str]
) -> None:
    assert dtype.itemsize == ENTITY.itemsize
    keys = np.arange(1, 4, dtype=np.uint64)
    records = np.zeros(3, dtype)
    for call in (lambda: writer.put_many(1, keys, records), lambda: writer.put(1, 1, records[0]),
                 lambda: writer.put(1, 1, records[:1])):  # fmt: skip
        with pytest.raises(podsync.DtypeMismatch) as info:
            call()
        message = str(info.value)
        assert "table 1" in message and all(w in message for w in words), message
        assert isinstance(info.value, TypeError) and isinstance(info.value, podsync.PodSyncError)
    assert nothing_written(writer)


def test_raw_bytes_and_equal_layouts_stay_accepted(writer: podsync.Writer, replica: podsync.Replica) -> None:
    recs = entities([1, 2, 3, 4, 5])
    writer.put_many(1, [1], recs[:1])  # the table's dtype
    writer.put_many(1, [2], recs[1:2].view(np.uint8).reshape(1, 40))  # raw bytes, (n, record_size)
    writer.put_many(1, [3], recs[2:3].view("V40"))  # opaque records
    writer.put(1, 4, recs[3].tobytes())  # bytes
    # Same fields, another dtype object: a ctypes structure, and the dtype with an alignment flag.
    class Entity(ctypes.Structure):
        _fields_ = [("id", ctypes.c_uint64), ("pos", ctypes.c_float * 3), ("rot", ctypes.c_float * 4),
                    ("flags", ctypes.c_uint32)]  # fmt: skip

    e = Entity.from_buffer_copy(recs[4].tobytes())
    writer.put(1, 5, e)
    writer.put_many(1, [5], np.frombuffer(recs[4].tobytes(), dtype=np.dtype(Entity)))
    writer.put(1, 6, (ctypes.c_ubyte * 40).from_buffer_copy(recs[4].tobytes()))  # raw ctypes bytes
    writer.put(1, 7, memoryview(recs[4:5]))  # a memoryview of records (format T{...}) is checked, and matches
    for frame in writer.flush():
        replica.apply(frame)
    assert sorted(state(replica, 1)) == [1, 2, 3, 4, 5, 6, 7]
    assert state(replica, 1)[3] == recs[2].tobytes()


def test_numbers_are_not_records(writer: podsync.Writer) -> None:
    keys = np.arange(1, 5, dtype=np.uint64)
    for bad in (np.zeros((4, 5), np.float64), np.zeros((4, 5), np.int64), np.zeros((4, 5), np.uint64),
                np.zeros((4, 10), np.float32), np.zeros((4, 40), np.int8), np.zeros((4, 40), np.bool_)):  # fmt: skip
        assert bad.nbytes == 4 * 40
        with pytest.raises(podsync.DtypeMismatch, match=f"an array of {bad.dtype} is not records"):
            writer.put_many(1, keys, bad)
        with pytest.raises(podsync.DtypeMismatch):
            writer.put(1, 1, bad[0])
    with pytest.raises(podsync.DtypeMismatch):
        writer.put(1, 1, array.array("d", [0.0] * 5))  # a typed buffer of floats
    with pytest.raises(podsync.DtypeMismatch):
        writer.put(1, 1, (ctypes.c_float * 10)())
    with pytest.raises(podsync.DtypeMismatch):
        writer.put_many(1, keys, memoryview(np.zeros((4, 5), np.float64)))
    assert nothing_written(writer)


def test_records_of_another_itemsize_are_refused(writer: podsync.Writer) -> None:
    keys = np.arange(1, 5, dtype=np.uint64)
    item = np.dtype([("a", "<u4"), ("b", "<u4")])
    with pytest.raises(podsync.RecordSizeError, match="8 bytes"):
        writer.put_many(1, keys, np.zeros((4, 5), item))  # 4 * 5 * 8 == 4 * 40 bytes, but 8-byte records
    with pytest.raises(podsync.RecordSizeError):
        writer.put_many(1, keys, np.zeros((4, 5), "V8"))
    assert nothing_written(writer)


def test_a_nested_dtype_and_its_flattened_twin_are_the_same_records() -> None:
    vec = np.dtype([("x", "<f4"), ("y", "<f4")])
    nested = np.dtype([("id", "<u8"), ("p", vec)])
    flat = np.dtype([("id", "<u8"), ("p.x", "<f4"), ("p.y", "<f4")])  # what C would declare
    schema = podsync.Schema().add_table(1, fields=[("id", 4, 0, 1), ("p.x", 9, 8, 1), ("p.y", 9, 12, 1)], record_size=16)
    with podsync.Writer(schema) as w:
        assert w.dtype(1) == nested  # the dotted names nest
        w.put_many(1, [1], np.ones(1, nested))
        w.put_many(1, [2], np.ones(1, flat))
        with pytest.raises(podsync.DtypeMismatch, match="'p.z'"):
            w.put_many(1, [3], np.ones(1, [("id", "<u8"), ("p.x", "<f4"), ("p.z", "<f4")]))


def test_bool_and_bytes_fields_match_their_encoded_types() -> None:
    dt = np.dtype([("ok", "?"), ("tag", "S7")])
    with podsync.Schema({1: dt}) as s, podsync.Writer(s) as w:
        w.put_many(1, [1], np.zeros(1, [("ok", "u1"), ("tag", "V7")]))  # bool is U8, S7/V7 are BYTES
        with pytest.raises(podsync.DtypeMismatch, match="'ok' is i8"):
            w.put_many(1, [1], np.zeros(1, [("ok", "i1"), ("tag", "V7")]))


def test_opaque_tables_take_any_records_of_their_size() -> None:
    with podsync.Schema().add_table(1, record_size=8) as s, podsync.Writer(s) as w:
        w.put_many(1, [1], np.zeros(1, [("a", "<u4"), ("b", "<f4")]))
        w.put_many(1, [2], np.zeros((1, 8), np.uint8))
        with pytest.raises(podsync.DtypeMismatch):
            w.put_many(1, [3], np.zeros(1, np.float64))  # still: numbers are not records


# --- keys, table ids and versions ------------------------------------------------------------------


@pytest.mark.parametrize("key", [-1, 2**64, -(2**63), np.int64(-1), np.int8(-5)])
def test_single_keys_outside_u64_raise_overflow(writer: podsync.Writer, key: object) -> None:
    rec = entities([1])[0]
    calls = {
        "put": lambda: writer.put(1, key, rec),  # type: ignore[arg-type]
        "get": lambda: writer.get(1, key),  # type: ignore[arg-type]
        "delete": lambda: writer.delete(1, key),  # type: ignore[arg-type]
        "contains": lambda: (1, key) in writer,
    }
    for name, call in calls.items():
        with pytest.raises(OverflowError, match="key") as info:
            call()
        assert isinstance(info.value, podsync.OutOfRangeError) and isinstance(info.value, podsync.PodSyncError), name
    assert nothing_written(writer)


def test_the_largest_key_is_fine(writer: podsync.Writer) -> None:
    top = 2**64 - 1
    writer.put(1, top, entities([1])[0])
    writer.put(1, np.uint64(top - 1), entities([2])[0])
    writer.flush()
    assert writer.get(1, top) is not None and (1, top - 1) in writer
    assert sorted(int(k) for k in writer.keys(1)) == [top - 1, top]


@pytest.mark.parametrize("key", [1.0, 1.5, True, "1", None])
def test_single_keys_of_another_type_raise_type_error(writer: podsync.Writer, key: object) -> None:
    with pytest.raises(TypeError) as info:
        writer.put(1, key, entities([1])[0])  # type: ignore[arg-type]
    assert isinstance(info.value, podsync.ArgumentTypeError)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_signed_key_arrays_with_negatives_raise_overflow(writer: podsync.Writer, dtype: type) -> None:
    keys = np.array([1, -2, 3], dtype=dtype)
    with pytest.raises(OverflowError, match=r"keys\[1\] is -2"):
        writer.put_many(1, keys, entities([1, 2, 3]))
    with pytest.raises(OverflowError, match=r"keys\[1\] is -2"):
        writer.delete_many(1, keys)
    assert nothing_written(writer)
    # Without negatives they are converted (a copy; uint64 arrays are read in place).
    writer.put_many(1, np.array([1, 2, 3], dtype=dtype), entities([1, 2, 3]))
    assert writer.delete_many(1, np.array([3], dtype=dtype)) == 1
    writer.flush()
    assert sorted(int(k) for k in writer.keys(1)) == [1, 2]


def test_key_sequences(writer: podsync.Writer) -> None:
    with pytest.raises(OverflowError, match=r"keys\[1\]"):
        writer.put_many(1, [1, -1], entities([1, 2]))
    with pytest.raises(OverflowError, match=r"keys\[0\]"):
        writer.put_many(1, [2**64, 1], entities([1, 2]))
    with pytest.raises(OverflowError):
        writer.put_many(1, [-1, 2**63], entities([1, 2]))  # numpy would make these float64
    with pytest.raises(TypeError, match=r"keys\[0\]"):
        writer.put_many(1, [1.5, 2], entities([1, 2]))
    with pytest.raises(TypeError):
        writer.put_many(1, np.array([1.0, 2.0]), entities([1, 2]))
    with pytest.raises(TypeError):
        writer.delete_many(1, np.array([True, False]))
    with pytest.raises(OverflowError):
        writer.delete_many(1, [-3])
    assert nothing_written(writer)
    writer.put_many(1, [2**63, 2**64 - 1], entities([1, 2]))
    writer.put_many(1, (np.uint32(7),), entities([7]))
    writer.put_many(1, [], entities([])[:0])
    assert writer.info().pending_changes == 3


def test_table_ids_outside_u32_are_not_wrapped(writer: podsync.Writer) -> None:
    rec = entities([1])[0]
    for table in (2**32 + 1, -1):  # ctypes would turn 2**32 + 1 into table 1
        with pytest.raises(OverflowError, match="table_id"):
            writer.put(table, 1, rec)
        with pytest.raises(OverflowError):
            writer.put_many(table, [1], entities([1]))
        with pytest.raises(OverflowError):
            writer.count(table)
        with pytest.raises(OverflowError):
            writer.table(table)
    with pytest.raises(OverflowError):
        podsync.Schema().add_table(2**32 + 1, ENTITY)
    assert nothing_written(writer)


def test_versions_and_times_outside_u64_raise_overflow(writer: podsync.Writer) -> None:
    writer.put(1, 1, entities([1])[0])
    writer.flush()
    for bad in (-1, 2**64):
        with pytest.raises(OverflowError, match="since_version"):
            writer.delta_since(bad)
        with pytest.raises(OverflowError, match="since_version"):
            writer.catch_up(bad)
        with pytest.raises(OverflowError, match="now_ms"):
            writer.set_time(bad)
    with pytest.raises(TypeError):
        writer.delta_since(1.0)  # type: ignore[arg-type]
    assert writer.delta_since(np.uint64(1)) == [] and len(writer.catch_up(np.int64(0))) == 1
    with pytest.raises(podsync.VersionAhead):
        writer.delta_since(2**64 - 1)  # in range: the library's answer
