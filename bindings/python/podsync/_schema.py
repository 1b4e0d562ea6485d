"""Schemas: tables of fixed-size records, described by numpy structured dtypes (or ctypes
structures, or explicit field lists), and their canonical encoding."""

from __future__ import annotations

import ctypes
import enum
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from ._errors import ClosedError, SchemaInvalid, Status, last_errmsg, raise_for
from ._ffi import (
    LIB,
    MAX_ALIGNMENT,
    MAX_FIELD_NAME,
    Field,
    SchemaP,
)


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


@dataclass(frozen=True)
class TableSpec:
    """A table of a schema. ``dtype`` is the numpy dtype records of this table are read as: the
    dtype it was defined with, or one rebuilt from the fields (``Schema.from_bytes``), or an opaque
    ``V<record_size>`` for a table without fields."""

    table_id: int
    record_size: int
    alignment: int
    fields: tuple[FieldSpec, ...]
    dtype: np.dtype


SchemaSource = Union[npt.DTypeLike, "type[ctypes.Structure]", None]


def _invalid(message: str) -> SchemaInvalid:
    return SchemaInvalid(Status.E_SCHEMA_INVALID, message, call="Schema.add_table")


def _leaf_fields(dtype: np.dtype, prefix: str, base_offset: int) -> Iterable[tuple[str, np.dtype, int]]:
    """(name, leaf dtype possibly with a subarray, offset) of every non-structured field, nested
    structures flattened as ``outer.inner`` and subarrays of structures as ``outer[i].inner``."""
    assert dtype.names is not None
    for name in dtype.names:
        field_dtype, offset = dtype.fields[name][:2]  # type: ignore[index]
        full = f"{prefix}{name}"
        base = field_dtype.base if field_dtype.subdtype is not None else field_dtype
        if base.names is not None:
            if field_dtype.subdtype is not None:
                shape = field_dtype.shape
                for index in np.ndindex(*shape):
                    flat = int(np.ravel_multi_index(index, shape))
                    label = ",".join(str(i) for i in index)
                    yield from _leaf_fields(
                        base, f"{full}[{label}].", base_offset + offset + flat * base.itemsize
                    )
            else:
                yield from _leaf_fields(base, f"{full}.", base_offset + offset)
        else:
            yield full, field_dtype, base_offset + offset


def fields_from_dtype(dtype: np.dtype) -> tuple[FieldSpec, ...]:
    """The PodSync fields describing a numpy dtype (see :meth:`Schema.add_table`)."""
    if dtype.names is None:
        if dtype.kind == "V" and dtype.subdtype is None:
            return ()  # opaque record
        raise _invalid(
            f"dtype {dtype} is not a structured dtype; use a structured dtype, np.dtype('V<size>') "
            "for an opaque record, or record_size= without a dtype"
        )
    specs: list[FieldSpec] = []
    for name, field_dtype, offset in _leaf_fields(dtype, "", 0):
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


def dtype_from_fields(fields: Iterable[FieldSpec], record_size: int) -> np.dtype:
    """A numpy dtype laying out `fields` in a record of `record_size` bytes (BYTES as ``V<n>``)."""
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for f in fields:
        if f.type == FieldType.BYTES:
            fmt: Any = f"V{f.count}"
        else:
            base = _NUMPY_OF_TYPE[FieldType(f.type)]
            fmt = base if f.count == 1 else (base, (f.count,))
        names.append(f.name)
        formats.append(fmt)
        offsets.append(f.offset)
    if not names:
        return np.dtype(f"V{record_size}")
    return np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": record_size}
    )


def _natural_alignment(dtype: np.dtype, fields: tuple[FieldSpec, ...], record_size: int) -> int:
    if fields:
        align = max(_ELEMENT_SIZE[f.type] for f in fields)
        align = max(align, dtype.alignment if dtype.names is not None else 1)
    else:
        align = 8
    align = min(1 << (align.bit_length() - 1), MAX_ALIGNMENT)  # a power of two
    while align > 1 and record_size % align:
        align //= 2
    return align


class Schema:
    """A set of tables, each with an id, a fixed record size, an alignment and fields.

    Build it from numpy structured dtypes (or ctypes structures)::

        entity = np.dtype([("id", "<u8"), ("pos", "<f4", (3,)), ("rot", "<f4", (4,)), ("flags", "<u4")])
        schema = podsync.Schema({1: entity})

    or rebuild the writer's schema from its canonical encoding: ``Schema.from_bytes(data)``.
    A store copies its schema, so a schema may be closed once the stores exist (closing is
    optional: the handle is also freed when the object is collected).
    """

    def __init__(self, tables: Mapping[int, SchemaSource] | None = None) -> None:
        out = SchemaP()
        status = LIB.podsync_schema_create(ctypes.byref(out))
        if status < 0:
            raise_for(status, last_errmsg, "podsync_schema_create")
        self._ptr: Any = out
        self._tables: dict[int, TableSpec] = {}
        for table_id, source in (tables or {}).items():
            self.add_table(table_id, source)

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Frees the C schema. Idempotent; any later use raises :class:`ClosedError`."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr is not None:
            LIB.podsync_schema_free(ptr)

    __del__ = close

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def __enter__(self) -> Schema:
        self._handle()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self) -> Any:
        if self._ptr is None:
            raise ClosedError("operation on a closed Schema")
        return self._ptr

    def _errmsg(self) -> bytes | None:
        return LIB.podsync_schema_errmsg(self._ptr) if self._ptr is not None else None

    # --- tables -----------------------------------------------------------------------------

    def add_table(
        self,
        table_id: int,
        dtype: SchemaSource = None,
        *,
        alignment: int | None = None,
        record_size: int | None = None,
        fields: Iterable[FieldSpec | tuple[str, int, int, int]] | None = None,
    ) -> Schema:
        """Adds table `table_id` and returns the schema (so calls chain).

        * ``dtype``: a numpy structured dtype (or anything ``np.dtype()`` accepts, including a
          ``ctypes.Structure`` subclass). Its itemsize is the record size. Field types map
          ``u1..u8``/``i1..i8``/``f4``/``f8`` to ``PODSYNC_TYPE_U8..F64``, ``bool`` to ``U8``,
          ``S<n>``/``V<n>`` to ``BYTES`` (count n); a subarray ``("pos", "<f4", (3,))`` has count 3
          (the product of its shape); nested structures are flattened as ``outer.inner`` (and
          ``outer[i].inner`` for subarrays of structures). Big-endian, complex, float16, unicode
          and object fields are rejected with :class:`SchemaInvalid`. Reads of this table return
          arrays of this very dtype.
        * ``np.dtype("V<n>")``, or ``record_size=n`` without a dtype: an opaque record.
        * ``fields``: explicit ``FieldSpec`` or ``(name, type, offset, count)`` tuples (the C way),
          with ``record_size``; the dtype is then built from them.
        * ``alignment``: defaults to the largest element alignment of the fields (the ctypes
          structure's alignment, 8 for an opaque record), halved until it divides the record size;
          a power of two in 1..64.

        Raises :class:`SchemaInvalid` (with the library's message naming the offending part) and
        leaves the schema unchanged if the table is rejected.
        """
        ptr = self._handle()
        if fields is not None:
            if dtype is not None:
                raise TypeError("give either a dtype or fields, not both")
            if record_size is None:
                raise TypeError("fields= needs record_size=")
            specs = tuple(
                f if isinstance(f, FieldSpec) else FieldSpec(f[0], FieldType(f[1]), f[2], f[3])
                for f in fields
            )
            specs = tuple(sorted(specs, key=lambda f: f.offset))
            try:
                np_dtype = dtype_from_fields(specs, record_size)
            except (ValueError, TypeError):  # e.g. overlapping fields: describe them opaquely
                np_dtype = np.dtype(f"V{record_size}")
            natural = 1
        else:
            if dtype is None:
                if record_size is None:
                    raise TypeError("add_table needs a dtype, fields= or record_size=")
                np_dtype = np.dtype(f"V{record_size}")
            else:
                np_dtype = np.dtype(dtype)
                if record_size is not None and record_size != np_dtype.itemsize:
                    raise _invalid(
                        f"table {table_id}: record_size {record_size} != dtype itemsize "
                        f"{np_dtype.itemsize}"
                    )
            specs = fields_from_dtype(np_dtype)
            record_size = np_dtype.itemsize
            natural = 1
            if isinstance(dtype, type) and issubclass(dtype, ctypes.Structure):
                natural = ctypes.alignment(dtype)
        if alignment is None:
            alignment = max(natural, _natural_alignment(np_dtype, specs, record_size))
            while alignment > 1 and record_size % alignment:
                alignment //= 2
        for f in specs:
            if not 1 <= len(f.name.encode("utf-8")) <= MAX_FIELD_NAME:
                raise _invalid(f"field name {f.name!r}: must be 1..{MAX_FIELD_NAME} UTF-8 bytes")
        names = [f.name.encode("utf-8") for f in specs]
        array = (Field * max(len(specs), 1))()
        for i, f in enumerate(specs):
            array[i] = Field(names[i], int(f.type), f.offset, f.count, 0)
        status = LIB.podsync_schema_add_table(
            ptr, table_id, record_size, alignment, array if specs else None, len(specs)
        )
        if status < 0:
            raise_for(status, self._errmsg, "podsync_schema_add_table")
        self._tables[int(table_id)] = TableSpec(
            int(table_id), int(record_size), int(alignment), specs, np_dtype
        )
        return self

    @property
    def tables(self) -> dict[int, TableSpec]:
        """The tables, by id (a copy)."""
        return dict(self._tables)

    def __getitem__(self, table_id: int) -> TableSpec:
        return self._tables[table_id]

    def __contains__(self, table_id: object) -> bool:
        return table_id in self._tables

    def __len__(self) -> int:
        return len(self._tables)

    def dtype(self, table_id: int) -> np.dtype:
        """The numpy dtype of table `table_id`'s records."""
        return self._tables[table_id].dtype

    # --- hash and encoding ------------------------------------------------------------------

    @property
    def hash(self) -> int:
        """The schema hash (XXH3-64 of the canonical encoding) every frame carries."""
        out = ctypes.c_uint64()
        status = LIB.podsync_schema_hash(self._handle(), ctypes.byref(out))
        if status < 0:
            raise_for(status, self._errmsg, "podsync_schema_hash")
        return out.value

    def to_bytes(self) -> bytes:
        """The canonical encoding (docs/FORMAT.md), e.g. to send to a replica's process."""
        ptr = self._handle()
        size = ctypes.c_size_t()
        status = LIB.podsync_schema_encode(ptr, None, 0, ctypes.byref(size))
        if status < 0 and status != Status.E_BUFFER_TOO_SMALL:
            raise_for(status, self._errmsg, "podsync_schema_encode")
        buf = ctypes.create_string_buffer(size.value)
        status = LIB.podsync_schema_encode(ptr, buf, size.value, ctypes.byref(size))
        if status < 0:
            raise_for(status, self._errmsg, "podsync_schema_encode")
        return buf.raw[: size.value]

    @classmethod
    def from_bytes(cls, data: Any) -> Schema:
        """Rebuilds a schema from its canonical encoding (any bytes-like object). Every byte is
        validated by the library (:class:`SchemaInvalid` otherwise). The tables' dtypes are
        rebuilt from the fields (nesting flattened, ``BYTES`` as ``V<n>``, ``bool`` as ``u1``): the
        same layout and the same hash as the writer's."""
        raw = bytes(data)
        out = SchemaP()
        status = LIB.podsync_schema_decode(raw, len(raw), ctypes.byref(out))
        if status < 0:
            raise_for(status, last_errmsg, "podsync_schema_decode")
        self = cls.__new__(cls)
        self._ptr = out
        self._tables = {}
        for spec in _parse_encoding(raw):
            self._tables[spec.table_id] = spec
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schema):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<podsync.Schema (closed)>"
        tables = ", ".join(f"{t.table_id}: {t.record_size} B" for t in self._tables.values())
        return f"<podsync.Schema {{{tables}}} hash={self.hash:#018x}>"


def _parse_encoding(raw: bytes) -> list[TableSpec]:
    """Reads a canonical encoding that podsync_schema_decode already validated."""
    pos = 8  # magic
    (table_count,) = struct.unpack_from("<I", raw, pos)
    pos += 4
    tables: list[TableSpec] = []
    for _ in range(table_count):
        table_id, record_size, alignment, field_count = struct.unpack_from("<4I", raw, pos)
        pos += 16
        fields: list[FieldSpec] = []
        for _ in range(field_count):
            ftype, offset, count, name_length = struct.unpack_from("<4I", raw, pos)
            pos += 16
            name = raw[pos : pos + name_length].decode("utf-8", "surrogateescape")
            pos += name_length
            fields.append(FieldSpec(name, FieldType(ftype), offset, count))
        specs = tuple(fields)
        tables.append(
            TableSpec(table_id, record_size, alignment, specs, dtype_from_fields(specs, record_size))
        )
    return tables
