"""Schemas: tables of fixed-size records, described by numpy structured dtypes (or ctypes
structures, or explicit field lists), and their canonical encoding."""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from ._errors import (
    U32_MAX,
    ArgumentTypeError,
    ClosedError,
    SchemaInvalid,
    Status,
    checked_int,
    last_errmsg,
    raise_for,
)
from ._ffi import (
    LIB,
    MAX_ALIGNMENT,
    MAX_FIELD_NAME,
    Field,
    SchemaP,
)
from ._layout import (
    _ELEMENT_SIZE,
    FieldSpec,
    FieldType,
    _invalid,
    dtype_from_fields,
    fields_from_dtype,
)

__all__ = ["FieldSpec", "FieldType", "Schema", "SchemaSource", "TableSpec", "dtype_from_fields", "fields_from_dtype"]


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
          ``outer[i].inner`` for subarrays of structures), and :meth:`from_bytes` nests them again.
          Big-endian, complex, float16, unicode and object fields, and field names containing
          ``.``, ``[`` or ``]`` (the separators of flattened names, which would come back nested),
          are rejected with :class:`SchemaInvalid`. Reads of this table return arrays of this very
          dtype.
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
        call = "Schema.add_table"
        table_id = checked_int("table_id", table_id, 0, U32_MAX)
        if record_size is not None:
            record_size = checked_int("record_size", record_size, 0, U32_MAX)
        if alignment is not None:
            alignment = checked_int("alignment", alignment, 0, U32_MAX)
        if fields is not None:
            if dtype is not None:
                raise ArgumentTypeError("give either a dtype or fields, not both", call=call)
            if record_size is None:
                raise ArgumentTypeError("fields= needs record_size=", call=call)
            try:
                specs = tuple(
                    f if isinstance(f, FieldSpec) else FieldSpec(f[0], FieldType(f[1]), f[2], f[3])
                    for f in fields
                )
            except (TypeError, ValueError, IndexError) as exc:
                raise ArgumentTypeError(
                    f"fields must be FieldSpec or (name, type, offset, count) tuples: {exc}", call=call
                ) from None
            for f in specs:
                checked_int(f"field {f.name!r} offset", f.offset, 0, U32_MAX)
                checked_int(f"field {f.name!r} count", f.count, 0, U32_MAX)
            specs = tuple(sorted(specs, key=lambda f: f.offset))
            np_dtype = dtype_from_fields(specs, record_size)  # opaque if numpy cannot lay them out
            natural = 1
        else:
            if dtype is None:
                if record_size is None:
                    raise ArgumentTypeError("add_table needs a dtype, fields= or record_size=", call=call)
                np_dtype = np.dtype(f"V{record_size}")
            else:
                try:
                    np_dtype = np.dtype(dtype)
                except (TypeError, ValueError) as exc:
                    raise ArgumentTypeError(f"table {table_id}: not a dtype: {exc}", call=call) from None
                if record_size is not None and record_size != np_dtype.itemsize:
                    raise _invalid(
                        f"table {table_id}: record_size {record_size} != dtype itemsize "
                        f"{np_dtype.itemsize}"
                    )
            specs = fields_from_dtype(np_dtype, strict=True)
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
        rebuilt from the fields, with the same layout and hash as the writer's and the same field
        names: flattened nested fields (``p.x``, ``pts[1].y``) become nested structures and
        subarrays of structures again (see :func:`dtype_from_fields`); ``BYTES`` comes back as
        ``V<n>`` and ``bool`` as ``u1`` (the encoding keeps sizes, not those numpy types; pickling
        a schema keeps its dtypes)."""
        try:
            raw = bytes(memoryview(data))
        except TypeError:
            raise ArgumentTypeError(
                f"expected the encoding as a bytes-like object, got {type(data).__name__}", call="Schema.from_bytes"
            ) from None
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

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as the canonical encoding (plus each table's dtype, restored when it still
        describes the table's fields), so a schema crosses process boundaries (multiprocessing)
        and ``copy.deepcopy`` gives an equal, independent schema."""
        return (_unpickle_schema, (self.to_bytes(), {t: spec.dtype for t, spec in self._tables.items()}))

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


def _unpickle_schema(raw: bytes, dtypes: Mapping[int, np.dtype]) -> Schema:
    schema = Schema.from_bytes(raw)
    for table_id, dt in dtypes.items():
        spec = schema._tables.get(table_id)
        if spec is None or dt.itemsize != spec.record_size:
            continue
        try:
            same = dt.names is None or fields_from_dtype(dt) == spec.fields
        except SchemaInvalid:
            same = False
        if same:
            schema._tables[table_id] = TableSpec(spec.table_id, spec.record_size, spec.alignment, spec.fields, dt)
    return schema


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
