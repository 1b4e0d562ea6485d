"""Schemas from numpy dtypes, ctypes structures and field lists; encoding round trips."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import podsync
from podsync import FieldSpec, FieldType as T
from _support import ENTITY, entities


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


def test_nested_and_subarray_of_struct_are_flattened_and_nested_again() -> None:
    vec = np.dtype([("x", "<f4"), ("y", "<f4")])
    dt = np.dtype([("id", "<u8"), ("p", vec), ("pts", vec, (2,))])
    with podsync.Schema({1: dt}) as s:
        assert [(f.name, f.offset) for f in s[1].fields] == [
            ("id", 0), ("p.x", 8), ("p.y", 12), ("pts[0].x", 16), ("pts[0].y", 20), ("pts[1].x", 24), ("pts[1].y", 28)
        ]
        assert s[1].dtype == dt  # reads keep the nesting
        back = podsync.Schema.from_bytes(s.to_bytes())
        # The encoding carries the flattened names; from_bytes nests them again: same dtype.
        assert back.dtype(1) == dt and back.dtype(1).names == ("id", "p", "pts")
        assert back.dtype(1)["p"].names == ("x", "y") and back.dtype(1)["pts"].shape == (2,)
        assert back[1].fields == s[1].fields and back.hash == s.hash


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


# --- pickling and nested dtypes through the encoding ----------------------------------------------


def test_schema_pickles_and_deep_copies() -> None:
    import copy
    import pickle

    with podsync.Schema({1: ENTITY, 9: np.dtype([("s", "S8"), ("ok", "?")])}) as s:
        s.add_table(5, record_size=12, alignment=4)
        for back in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s), copy.copy(s)):
            assert back == s and back.hash == s.hash and back.to_bytes() == s.to_bytes()
            assert back.dtype(1) == ENTITY and back.dtype(9) == s.dtype(9)  # the dtypes, not just the layout
            assert back.dtype(5) == np.dtype("V12") and back[5].alignment == 4
            assert back._ptr is not s._ptr  # its own handle
            back.close()
            assert s.hash  # the original is unaffected
        with podsync.Writer(pickle.loads(pickle.dumps(s))) as w:
            w.put(1, 1, entities([1])[0])
    with pytest.raises(podsync.ClosedError):
        pickle.dumps(s)


def test_pickled_schema_in_another_process() -> None:
    import pickle
    import subprocess
    import sys

    with podsync.Schema({1: ENTITY}) as s:
        code = "import pickle, sys, podsync; s = pickle.loads(sys.stdin.buffer.read()); print(s.hash, s.dtype(1).names)"
        out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(s), capture_output=True, timeout=60, cwd="/", check=False)
        assert out.returncode == 0, out.stderr
        assert out.stdout.decode().split(" ", 1) == [str(s.hash), str(ENTITY.names) + "\n"]


VEC = np.dtype([("x", "<f4"), ("y", "<f4")])
NESTED = [
    np.dtype([("id", "<u8"), ("p", VEC)]),
    np.dtype([("a", [("b", [("c", "<u2"), ("d", "<u1", (3,))]), ("e", "<f8")]), ("f", "<i4")]),
    np.dtype([("grid", VEC, (2, 3)), ("n", "<u4")]),
    np.dtype([("id", "<u8"), ("pts", [("pos", VEC), ("w", "<f4")], (4,))]),  # nested inside a subarray
    np.dtype([("u", "u1"), ("s", [("a", "u1"), ("b", "<u8")], (2,))], align=True),  # padded elements
    np.dtype([("s", [("a", "<u8"), ("b", "u1")], (3,)), ("tail", "<u2")], align=True),  # stride > extent
    np.dtype([("one", VEC, (1,)), ("k", "<u4")]),
    np.dtype([("tag", "S3"), ("inner", [("flag", "?"), ("v", "<i2")])]),
]


def names_tree(dt: np.dtype) -> object:
    """Field names (recursively, with subarray shapes) of a dtype."""
    if dt.subdtype is not None:
        return (names_tree(dt.base), dt.shape)
    if dt.names is None:
        return None
    return [(n, names_tree(dt.fields[n][0])) for n in dt.names]  # type: ignore[index]


@pytest.mark.parametrize("dt", NESTED, ids=range(len(NESTED)))
def test_nested_dtypes_round_trip_with_the_same_field_names(dt: np.dtype) -> None:
    with podsync.Schema({1: dt}) as s, podsync.Schema.from_bytes(s.to_bytes()) as back:
        rebuilt = back.dtype(1)
        assert names_tree(rebuilt) == names_tree(dt)
        assert back[1].fields == s[1].fields and back.hash == s.hash and rebuilt.itemsize == dt.itemsize
        # Records written with either dtype are the same records on both sides.
        recs = np.frombuffer(np.random.default_rng(1).bytes(dt.itemsize * 3), dtype=dt)
        with podsync.Writer(s) as w, podsync.Replica(back) as r:
            w.put_many(1, [1, 2, 3], recs)
            w.put_many(1, [4], recs[:1].copy().view(rebuilt))  # the rebuilt dtype on the original side
            for frame in w.flush():
                r.apply(frame)
            for key, rec in zip((1, 2, 3, 4), (*recs, recs[0])):
                got = r.get(1, key)
                assert got is not None and got.dtype == rebuilt
                a, b = got.tobytes(), rec.tobytes()
                for f in s[1].fields:  # every field's bytes (padding is not replicated as is)
                    assert a[f.offset : f.offset + f.size] == b[f.offset : f.offset + f.size], f.name


def test_nested_access_on_the_replica_side() -> None:
    dt = np.dtype([("id", "<u8"), ("pts", [("pos", VEC), ("w", "<f4")], (4,))])
    with podsync.Schema({1: dt}) as s, podsync.Writer(s) as w, podsync.Replica(s.to_bytes()) as r:
        rec = np.zeros(1, dt)
        rec["pts"]["pos"]["y"][0, 2] = 7.5
        w.put(1, 1, rec)
        for frame in w.flush():
            r.apply(frame)
        assert r.get(1, 1)["pts"]["pos"]["y"][2] == 7.5  # type: ignore[index]
        with r.view(1) as v:
            assert v.records["pts"]["w"].shape == (1, 4)


def test_dtype_field_names_with_separators_are_refused_at_creation() -> None:
    for name in ("p.x", "a[0]", "b]"):
        with pytest.raises(podsync.SchemaInvalid, match="cannot contain") as info:
            podsync.Schema({1: np.dtype([("id", "<u8"), (name, "<f4")])})
        assert repr(name) in str(info.value)
    with pytest.raises(podsync.SchemaInvalid, match="'outer.in.ner'"):
        podsync.Schema({1: np.dtype([("outer", [("in.ner", "<u4")])])})


def test_c_style_dotted_names_nest_when_consistent_and_stay_flat_otherwise() -> None:
    def table(fields: list[tuple[str, int, int, int]], size: int) -> np.dtype:
        with podsync.Schema().add_table(1, fields=fields, record_size=size) as s, podsync.Schema.from_bytes(s.to_bytes()) as back:
            assert back.dtype(1) == s.dtype(1)
            return s.dtype(1)

    F32, U32 = 9, 3
    nested = table([("pos.x", F32, 0, 1), ("pos.y", F32, 4, 1), ("id", U32, 8, 1)], 12)
    assert nested.names == ("pos", "id") and nested["pos"].names == ("x", "y")
    both = table([("a", U32, 0, 1), ("a.b", U32, 4, 1)], 8)  # "a" is a field and a group
    assert both.names == ("a", "a.b")
    interleaved = table([("a.x", U32, 0, 1), ("b", U32, 4, 1), ("a.y", U32, 8, 1)], 12)
    assert interleaved.names == ("a.x", "b", "a.y")
    partial = table([("p[0].x", U32, 0, 1), ("p[2].x", U32, 4, 1)], 8)  # p[1] missing
    assert partial.names == ("p[0].x", "p[2].x")
    uneven = table([("p[0].x", U32, 0, 1), ("p[1].x", F32, 4, 1)], 8)  # elements of other types
    assert uneven.names == ("p[0].x", "p[1].x")
