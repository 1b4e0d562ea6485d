"""Record layouts: numpy dtypes <-> PodSync fields (``podsync_field``), both ways.

A dtype is flattened into fields (nested structures as ``outer.inner``, subarrays of structures as
``outer[i].inner``, subarrays of numbers as counts); fields are turned back into a dtype, nesting
the flattened names again, so that a nested dtype survives the schema encoding with its names.
"""

from __future__ import annotations

import enum
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import SchemaInvalid, Status


class FieldType(enum.IntEnum):
    """``PODSYNC_TYPE_*``: a field's element type."""

    U8 = 1
    U16 = 2
    U32 = 3
    U64 = 4
    I8 = 5
    I16 = 6
    I32 = 7
    I64 = 8
    F32 = 9
    F64 = 10
    BYTES = 11  #: opaque bytes; count is the length in bytes


_ELEMENT_SIZE = {
    FieldType.U8: 1, FieldType.U16: 2, FieldType.U32: 4, FieldType.U64: 8,
    FieldType.I8: 1, FieldType.I16: 2, FieldType.I32: 4, FieldType.I64: 8,
    FieldType.F32: 4, FieldType.F64: 8, FieldType.BYTES: 1,
}  # fmt: skip

_NUMPY_OF_TYPE = {
    FieldType.U8: "<u1", FieldType.U16: "<u2", FieldType.U32: "<u4", FieldType.U64: "<u8",
    FieldType.I8: "<i1", FieldType.I16: "<i2", FieldType.I32: "<i4", FieldType.I64: "<i8",
    FieldType.F32: "<f4", FieldType.F64: "<f8",
}  # fmt: skip

_TYPE_OF_NUMPY = {
    ("u", 1): FieldType.U8, ("u", 2): FieldType.U16, ("u", 4): FieldType.U32,
    ("u", 8): FieldType.U64, ("i", 1): FieldType.I8, ("i", 2): FieldType.I16,
    ("i", 4): FieldType.I32, ("i", 8): FieldType.I64, ("f", 4): FieldType.F32,
    ("f", 8): FieldType.F64, ("b", 1): FieldType.U8,
}  # fmt: skip


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record: ``count`` elements of ``type`` at byte ``offset``."""

    name: str
    type: FieldType
    offset: int
    count: int = 1

    @property
    def size(self) -> int:
        return _ELEMENT_SIZE[self.type] * self.count


def _invalid(message: str) -> SchemaInvalid:
    return SchemaInvalid(Status.E_SCHEMA_INVALID, message, call="Schema.add_table")


#: Characters that separate the parts of a flattened name (``outer.inner``, ``outer[i].inner``).
_SEPARATORS = frozenset(".[]")


def _leaf_fields(
    dtype: np.dtype, prefix: str, base_offset: int, strict: bool = False
) -> Iterable[tuple[str, np.dtype, int]]:
    """(name, leaf dtype possibly with a subarray, offset) of every non-structured field, nested
    structures flattened as ``outer.inner`` and subarrays of structures as ``outer[i].inner``.
    `strict`: a name containing ``.``, ``[`` or ``]`` raises SchemaInvalid (it would come back
    from the encoding as a nested field, see :func:`dtype_from_fields`)."""
    assert dtype.names is not None
    for name in dtype.names:
        field_dtype, offset = dtype.fields[name][:2]  # type: ignore[index]
        full = f"{prefix}{name}"
        if strict and _SEPARATORS.intersection(name):
            raise _invalid(
                f"field {full!r}: a dtype field name cannot contain '.', '[' or ']': they separate the "
                "parts of a nested field's flattened name in the schema encoding, so Schema.from_bytes "
                "would rebuild this field as a nested one; use a nested dtype or another name"
            )
        base = field_dtype.base if field_dtype.subdtype is not None else field_dtype
        if base.names is not None:
            if field_dtype.subdtype is not None:
                shape = field_dtype.shape
                for index in np.ndindex(*shape):
                    flat = int(np.ravel_multi_index(index, shape))
                    label = ",".join(str(i) for i in index)
                    yield from _leaf_fields(
                        base, f"{full}[{label}].", base_offset + offset + flat * base.itemsize, strict
                    )
            else:
                yield from _leaf_fields(base, f"{full}.", base_offset + offset, strict)
        else:
            yield full, field_dtype, base_offset + offset


def fields_from_dtype(dtype: np.dtype, strict: bool = False) -> tuple[FieldSpec, ...]:
    """The PodSync fields describing a numpy dtype (see :meth:`Schema.add_table`); `strict`
    refuses names that would not come back from the encoding (see :func:`_leaf_fields`)."""
    if dtype.names is None:
        if dtype.kind == "V" and dtype.subdtype is None:
            return ()  # opaque record
        raise _invalid(
            f"dtype {dtype} is not a structured dtype; use a structured dtype, np.dtype('V<size>') "
            "for an opaque record, or record_size= without a dtype"
        )
    specs: list[FieldSpec] = []
    for name, field_dtype, offset in _leaf_fields(dtype, "", 0, strict):
        if field_dtype.subdtype is not None:
            base, shape = field_dtype.subdtype
            count = math.prod(shape)
        else:
            base, count = field_dtype, 1
        if base.byteorder == ">" or (base.byteorder == "=" and not np.little_endian):
            raise _invalid(f"field {name!r}: big-endian {base} (records are little-endian)")
        if base.kind in ("V", "S"):
            ftype, count = FieldType.BYTES, count * base.itemsize
        else:
            found = _TYPE_OF_NUMPY.get((base.kind, base.itemsize))
            if found is None:
                raise _invalid(
                    f"field {name!r}: numpy type {base} has no PodSync field type (supported: "
                    "u1/u2/u4/u8, i1/i2/i4/i8, f4/f8, bool as U8, S<n>/V<n> as BYTES)"
                )
            ftype = found
        if count == 0:
            raise _invalid(f"field {name!r}: empty subarray")
        specs.append(FieldSpec(name, ftype, int(offset), int(count)))
    specs.sort(key=lambda f: f.offset)
    return tuple(specs)


def _leaf_format(f: FieldSpec) -> np.dtype:
    if f.type == FieldType.BYTES:
        return np.dtype(f"V{f.count}")
    base = np.dtype(_NUMPY_OF_TYPE[FieldType(f.type)])
    return base if f.count == 1 else np.dtype((base, (f.count,)))


def dtype_from_fields(fields: Iterable[FieldSpec], record_size: int) -> np.dtype:
    """A numpy dtype laying out `fields` in a record of `record_size` bytes (BYTES as ``V<n>``).

    Flattened names are nested again, so that a nested dtype comes back with its field names:
    ``p.x``, ``p.y`` become a field ``p`` holding a structure with ``x`` and ``y``;
    ``pts[0].x`` .. ``pts[1].y`` a field ``pts`` holding a ``(2,)`` subarray of such structures
    (when the elements have the same layout at a constant stride). Names that describe no
    consistent nesting (``a`` and ``a.b`` both, interleaved groups, a partial index grid) stay
    flat, as they are. Fields numpy cannot lay out (overlaps) give an opaque ``V<record_size>``."""
    specs = tuple(fields)
    if not specs:
        return np.dtype(f"V{record_size}")
    try:
        nested = _nested_dtype(specs, record_size)
        if nested is not None:
            return nested
    except (_Flat, ValueError, TypeError):
        pass
    try:
        return np.dtype(
            {
                "names": [f.name for f in specs],
                "formats": [_leaf_format(f) for f in specs],
                "offsets": [f.offset for f in specs],
                "itemsize": record_size,
            }
        )
    except (ValueError, TypeError):  # e.g. overlapping fields: describe them opaquely
        return np.dtype(f"V{record_size}")


class _Flat(Exception):
    """The names do not describe a nesting: keep them flat."""


_COMPONENT = re.compile(r"([^.\[\]]+)(?:\[(\d+(?:,\d+)*)\])?")

_Path = tuple[tuple[str, "tuple[int, ...] | None"], ...]


def _nested_dtype(specs: tuple[FieldSpec, ...], record_size: int) -> np.dtype | None:
    """The nested dtype the flattened names describe, None if there is no nesting (raises _Flat
    if they describe none consistently)."""
    paths: list[tuple[_Path, FieldSpec]] = []
    for f in specs:
        parts: list[tuple[str, tuple[int, ...] | None]] = []
        for part in f.name.split("."):
            match = _COMPONENT.fullmatch(part)
            if match is None:
                raise _Flat
            index = tuple(int(i) for i in match.group(2).split(",")) if match.group(2) else None
            parts.append((match.group(1), index))
        if parts[-1][1] is not None:  # "a[0]" as a leaf: flattening never writes that
            raise _Flat
        paths.append((tuple(parts), f))
    if all(len(p) == 1 for p, _ in paths):
        return None
    entries = _level(paths)
    return np.dtype(
        {
            "names": [name for name, _, _ in entries],
            "formats": [dt for _, dt, _ in entries],
            "offsets": [offset for _, _, offset in entries],
            "itemsize": record_size,
        }
    )


def _level(paths: list[tuple[_Path, FieldSpec]]) -> list[tuple[str, np.dtype, int]]:
    """(name, dtype, absolute offset) of the fields of one level of nesting."""
    groups: dict[str, list[tuple[_Path, FieldSpec]]] = {}
    for path, f in paths:
        groups.setdefault(path[0][0], []).append((path, f))
    out: list[tuple[str, np.dtype, int]] = []
    for name, members in groups.items():
        if len(members) == 1 and len(members[0][0]) == 1:
            f = members[0][1]
            out.append((name, _leaf_format(f), f.offset))
        elif any(len(path) == 1 for path, _ in members):
            raise _Flat  # "a" is both a field and a group (or a duplicate name)
        elif all(path[0][1] is None for path, _ in members):
            dt, base = _struct([(path[1:], f) for path, f in members])
            out.append((name, dt, base))
        elif all(path[0][1] is not None for path, _ in members):
            dt, base = _subarray(members)
            out.append((name, dt, base))
        else:
            raise _Flat  # "a.x" and "a[0].x" both
    spans = sorted((offset, offset + dt.itemsize) for _, dt, offset in out)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise _Flat  # groups interleave
    return out


def _struct(paths: list[tuple[_Path, FieldSpec]]) -> tuple[np.dtype, int]:
    """A structure of the given fields, relative to its first byte; and that byte's offset."""
    entries = _level(paths)
    base = min(offset for _, _, offset in entries)
    end = max(offset + dt.itemsize for _, dt, offset in entries)
    dt = np.dtype(
        {
            "names": [name for name, _, _ in entries],
            "formats": [d for _, d, _ in entries],
            "offsets": [offset - base for _, _, offset in entries],
            "itemsize": end - base,
        }
    )
    return dt, base


def _subarray(members: list[tuple[_Path, FieldSpec]]) -> tuple[np.dtype, int]:
    """``outer[i,j].inner`` fields as a subarray of structures: every index of the grid present,
    every element of the same layout, at a constant stride."""
    by_index: dict[tuple[int, ...], list[tuple[_Path, FieldSpec]]] = {}
    for path, f in members:
        index = path[0][1]
        assert index is not None
        by_index.setdefault(index, []).append((path[1:], f))
    if len({len(index) for index in by_index}) != 1:
        raise _Flat
    ndim = len(next(iter(by_index)))
    shape = tuple(max(index[d] for index in by_index) + 1 for d in range(ndim))
    if len(by_index) != math.prod(shape):
        raise _Flat  # a partial grid
    elements = {index: _struct(paths) for index, paths in by_index.items()}
    first, base = elements[(0,) * ndim]
    stride = first.itemsize
    if len(elements) > 1:
        second = tuple(int(i) for i in np.unravel_index(1, shape))
        stride = elements[second][1] - base
        if stride < first.itemsize:
            raise _Flat
    for index, (dt, start) in elements.items():
        if dt != first or start != base + int(np.ravel_multi_index(index, shape)) * stride:
            raise _Flat
    if stride != first.itemsize:
        padded: dict[str, Any] = {
            "names": list(first.names or ()),
            "formats": [first.fields[n][0] for n in first.names or ()],  # type: ignore[index]
            "offsets": [first.fields[n][1] for n in first.names or ()],  # type: ignore[index]
            "itemsize": stride,
        }
        first = np.dtype(padded)  # type: ignore[call-overload]
    return np.dtype((first, shape)), base
