"""Schemas from numpy dtypes, ctypes structures and field lists; encoding round trips."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import podsync
from podsync import FieldSpec, FieldType as T
from _support import ENTITY


def test_entity_dtype_maps_to_fields() -> None:
    with podsync.Schema({1: ENTITY}) as s:
        t = s[1]
        assert (t.table_id, t.record_size, t.alignment) == (1, 40, 8)
        assert t.fields == (
            FieldSpec("id", T.U64, 0, 1),
            FieldSpec("pos", T.F32, 8, 3),
            FieldSpec("rot", T.F32, 20, 4),
            FieldSpec("flags", T.U32, 36, 1),
        )
        assert t.dtype == ENTITY


def test_readme_schema_hash_matches_the_c_field_table() -> None:
    """The same table described as in examples/quickstart.c (explicit fields) has the same hash."""
    fields = [("id", T.U64, 0, 1), ("pos", T.F32, 8, 3), ("rot", T.F32, 20, 4), ("flags", T.U32, 36, 1)]
    with podsync.Schema({1: ENTITY}) as a, podsync.Schema().add_table(1, fields=fields, record_size=40, alignment=8) as b:
        assert a.hash == b.hash and a.to_bytes() == b.to_bytes() and a == b
        assert b.dtype(1) == ENTITY


def test_format_md_worked_example() -> None:
    """docs/FORMAT.md: table 1, 16-byte records aligned 16, field pos F64 x2 -> 47 bytes, known hash."""
    with podsync.Schema().add_table(1, np.dtype([("pos", "<f8", (2,))]), alignment=16) as s:
        raw = s.to_bytes()
        assert raw.hex() == (
            "5053594e5343483101000000010000001000000010000000010000000a000000"
            "000000000200000003000000706f73"
        )
        assert s.hash == 0x8116FBB5061E7903


@pytest.mark.parametrize(
    "np_type, ftype, count",
    [
        ("<u1", T.U8, 1), ("<u2", T.U16, 1), ("<u4", T.U32, 1), ("<u8", T.U64, 1),
        ("<i1", T.I8, 1), ("<i2", T.I16, 1), ("<i4", T.I32, 1), ("<i8", T.I64, 1),
        ("<f4", T.F32, 1), ("<f8", T.F64, 1), ("?", T.U8, 1), ("S5", T.BYTES, 5), ("V3", T.BYTES, 3),
        (("<f4", (3,)), T.F32, 3), (("<i2", (2, 3)), T.I16, 6), (("S4", (2,)), T.BYTES, 8),
    ],
)  # fmt: skip
def test_field_type_mapping(np_type: object, ftype: T, count: int) -> None:
    dt = np.dtype([("f", np_type)])
    with podsync.Schema({7: dt}) as s:
        assert s[7].fields == (FieldSpec("f", ftype, 0, count),)
        assert s[7].record_size == dt.itemsize


def test_nested_and_subarray_of_struct_are_flattened() -> None:
    vec = np.dtype([("x", "<f4"), ("y", "<f4")])
    dt = np.dtype([("id", "<u8"), ("p", vec), ("pts", vec, (2,))])
    with podsync.Schema({1: dt}) as s:
        assert [(f.name, f.offset) for f in s[1].fields] == [
            ("id", 0), ("p.x", 8), ("p.y", 12), ("pts[0].x", 16), ("pts[0].y", 20), ("pts[1].x", 24), ("pts[1].y", 28)
        ]
        assert s[1].dtype == dt  # reads keep the nesting
        back = podsync.Schema.from_bytes(s.to_bytes())
        assert back.dtype(1).names == ("id", "p.x", "p.y", "pts[0].x", "pts[0].y", "pts[1].x", "pts[1].y")
        assert back.hash == s.hash


def test_alignment_defaults_and_padding() -> None:
    aligned = np.dtype([("a", "<u1"), ("b", "<u8")], align=True)  # 16 bytes with padding
    packed = np.dtype([("a", "<u1"), ("b", "<u8"), ("c", "<u1")])  # 10 bytes, no padding
    with podsync.Schema({1: aligned, 2: packed, 3: np.dtype("V24"), 4: np.dtype("V6")}) as s:
        assert (s[1].record_size, s[1].alignment) == (16, 8)
        assert (s[2].record_size, s[2].alignment) == (10, 2)  # 8 halved until it divides 10
        assert (s[3].record_size, s[3].alignment, s[3].fields) == (24, 8, ())
        assert (s[4].record_size, s[4].alignment) == (6, 2)
    with podsync.Schema().add_table(1, ENTITY, alignment=64 // 8) as s:
        assert s[1].alignment == 8


def test_ctypes_structure() -> None:
    class Entity(ctypes.Structure):
        _fields_ = [
            ("id", ctypes.c_uint64),
            ("pos", ctypes.c_float * 3),
            ("rot", ctypes.c_float * 4),
            ("flags", ctypes.c_uint32),
        ]

    with podsync.Schema({1: Entity}) as a, podsync.Schema({1: ENTITY}) as b:
        assert a[1].record_size == ctypes.sizeof(Entity) == 40
        assert a[1].alignment == ctypes.alignment(Entity) == 8
        assert a.hash == b.hash


def test_opaque_record_size_only() -> None:
    with podsync.Schema().add_table(5, record_size=12, alignment=4) as s:
        assert s[5].dtype == np.dtype("V12") and s[5].fields == ()
        assert podsync.Schema.from_bytes(s.to_bytes())[5].record_size == 12


def test_round_trip_through_bytes() -> None:
    with podsync.Schema({1: ENTITY, 9: np.dtype([("s", "S8"), ("ok", "?")])}) as s:
        raw = s.to_bytes()
        with podsync.Schema.from_bytes(bytearray(raw)) as back:
            assert back.to_bytes() == raw and back.hash == s.hash and back == s
            assert back.dtype(1) == ENTITY
            assert back.dtype(9) == np.dtype({"names": ["s", "ok"], "formats": ["V8", "<u1"], "offsets": [0, 8], "itemsize": 9})
            assert sorted(back.tables) == [1, 9]


@pytest.mark.parametrize(
    "dtype, words",
    [
        (np.dtype([("a", ">u4")]), "big-endian"),
        (np.dtype([("a", "<c8")]), "no PodSync field type"),
        (np.dtype([("a", "<f2")]), "no PodSync field type"),
        (np.dtype([("a", "<U3")]), "no PodSync field type"),
        (np.dtype("<f8"), "not a structured dtype"),
    ],
)
def test_unsupported_dtypes_are_schema_invalid(dtype: np.dtype, words: str) -> None:
    with podsync.Schema() as s, pytest.raises(podsync.SchemaInvalid, match=words) as info:
        s.add_table(1, dtype)
    assert info.value.status == podsync.Status.E_SCHEMA_INVALID
    assert len(s) == 0


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(record_size=10, alignment=4), "multiple"),  # 10 % 4
        (dict(record_size=8, alignment=3), "power of two"),
        (dict(record_size=0), "size"),
        (dict(record_size=2 * 1048576), "size"),
    ],
)
def test_engine_rejects_bad_tables(kwargs: dict[str, int], words: str) -> None:
    with podsync.Schema() as s:
        with pytest.raises(podsync.SchemaInvalid) as info:
            s.add_table(1, **kwargs)
        assert info.value.message  # the library's message, from podsync_schema_errmsg
        assert words in info.value.message.lower() or words in str(info.value).lower()
        assert len(s) == 0 and 1 not in s
        s.add_table(1, record_size=8)  # the schema was left unchanged and usable


def test_engine_rejects_duplicate_table_and_overlapping_fields() -> None:
    with podsync.Schema({1: ENTITY}) as s:
        h = s.hash
        with pytest.raises(podsync.SchemaInvalid):
            s.add_table(1, ENTITY)
        with pytest.raises(podsync.SchemaInvalid):
            s.add_table(2, fields=[("a", T.U32, 0, 1), ("b", T.U32, 2, 1)], record_size=8)
        with pytest.raises(podsync.SchemaInvalid):
            s.add_table(3, fields=[("a", T.U32, 6, 1)], record_size=8)  # outside the record
        assert s.hash == h and sorted(s.tables) == [1]


def test_from_bytes_rejects_garbage() -> None:
    with podsync.Schema({1: ENTITY}) as s:
        raw = s.to_bytes()
    for bad in (b"", b"PSYNSCH1", raw[:-1], raw + b"\0", b"X" + raw[1:]):
        with pytest.raises(podsync.SchemaInvalid):
            podsync.Schema.from_bytes(bad)


def test_close_is_idempotent_and_use_after_close_raises() -> None:
    s = podsync.Schema({1: ENTITY})
    s.close()
    s.close()
    assert s.closed
    with pytest.raises(podsync.ClosedError):
        s.to_bytes()
    with pytest.raises(podsync.ClosedError):
        s.add_table(2, record_size=8)
    with pytest.raises(podsync.ClosedError):
        podsync.Writer(s)
    assert "closed" in repr(s)
