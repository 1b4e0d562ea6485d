"""What the binding accepts as keys and records, checked before any C call, so that nothing is
wrapped, truncated or reinterpreted silently.

* Keys are integers in ``0..2**64-1``. A ``uint64`` array is read in place; an array of another
  integer dtype is converted after a range check (a negative key raises :class:`OutOfRangeError`,
  an ``OverflowError``, instead of becoming ``2**64 - 1``); floats, bools and other objects are
  refused with :class:`ArgumentTypeError`.
* Records are either the table's records or raw bytes. A structured dtype must have the table's
  fields (names, offsets, types and counts; compared as the schema encodes them, so a nested dtype
  and its flattened twin are the same records); otherwise :class:`DtypeMismatch` names the
  differences. Raw bytes are ``uint8`` arrays of shape ``(n, record_size)``, ``V<record_size>`` or
  ``S<record_size>`` arrays, ``bytes`` and other byte buffers. Arrays of numbers (``float64``,
  ``int64``, ...) are not records and are refused, whatever their size.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np

from ._errors import (
    U64_MAX,
    ArgumentTypeError,
    DtypeMismatch,
    InvalidArgument,
    OutOfRangeError,
    RecordSizeError,
    SchemaInvalid,
    Status,
    checked_int,
)
from ._schema import FieldSpec, TableSpec, fields_from_dtype

_U64 = np.dtype(np.uint64)
_U8 = np.dtype(np.uint8)
#: Buffer formats (PEP 3118) that are plain bytes.
_BYTE_FORMATS = frozenset(("B", "b", "c", "<B", "=B", "|B", "@B"))


# --- keys ----------------------------------------------------------------------------------------


def keys_array(keys: Any, what: str = "keys", call: str = "") -> np.ndarray:
    """`keys` as a 1-D C-contiguous uint64 array: a uint64 ndarray as is (no copy), any other
    integer array or sequence of ints converted after checking every key is in ``0..2**64-1``."""
    if isinstance(keys, np.ndarray):
        if keys.dtype == _U64:
            if keys.ndim != 1:
                raise InvalidArgument(Status.E_INVALID_ARGUMENT, f"{what} must be 1-D, got shape {keys.shape}", call=call)
            if not keys.flags.c_contiguous:
                raise InvalidArgument(
                    Status.E_INVALID_ARGUMENT, f"{what} must be C-contiguous (use np.ascontiguousarray)", call=call
                )
            return keys
        if keys.dtype.kind not in "iu":
            raise ArgumentTypeError(
                f"{what} must be an array of integers (uint64 is read in place; other integer dtypes "
                f"are converted after a range check), got dtype {keys.dtype}",
                call=call,
            )
        if keys.ndim != 1:
            raise InvalidArgument(Status.E_INVALID_ARGUMENT, f"{what} must be 1-D, got shape {keys.shape}", call=call)
        return _checked_integer_array(keys, what, call)
    if isinstance(keys, (str, bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"{what} must be integers, got {type(keys).__name__}", call=call)
    try:
        arr = np.asarray(keys)
    except (OverflowError, ValueError, TypeError):
        arr = None
    if arr is not None and arr.size == 0:
        return np.empty(0, dtype=_U64)
    if arr is not None and arr.dtype.kind in "iu":
        return _checked_integer_array(arr.reshape(-1), what, call)
    # Python ints beyond int64/uint64 (object arrays), mixed signs (numpy may pick float64), floats,
    # bools: one key at a time, so that each is refused or accepted for what it is.
    try:
        items = list(keys)
    except TypeError:
        raise ArgumentTypeError(f"{what} must be a sequence of ints, got {type(keys).__name__}", call=call) from None
    return np.array([checked_int(f"{what}[{i}]", k, 0, U64_MAX) for i, k in enumerate(items)], dtype=_U64)


def _checked_integer_array(arr: np.ndarray, what: str, call: str) -> np.ndarray:
    if arr.dtype.kind == "i" and arr.size:
        negative = arr < 0
        if negative.any():
            index = int(np.argmax(negative))
            raise OutOfRangeError(
                f"{what}[{index}] is {int(arr[index])}: keys must be in 0..{U64_MAX} (a negative key "
                "would wrap to a huge one)",
                call=call,
            )
    return np.ascontiguousarray(arr, dtype=_U64)


def check_key(key: Any, call: str = "") -> int:
    """One key as an int in ``0..2**64-1`` (fast path for plain ints)."""
    if type(key) is int and 0 <= key <= U64_MAX:
        return key
    return checked_int(f"{call}: key" if call else "key", key, 0, U64_MAX)


# --- records -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def ctypes_dtype(ctype: type) -> np.dtype | None:
    """The numpy dtype of a ctypes structure or array type, None if numpy cannot describe it
    (bit fields, pointers): such records are then taken as raw bytes of the right size."""
    try:
        return np.dtype(ctype)
    except (TypeError, ValueError, NotImplementedError):
        return None


def _describe(f: FieldSpec) -> str:
    kind = f.type.name.lower()
    count = f"[{f.count}]" if f.count != 1 else ""
    return f"{kind}{count} at offset {f.offset}"


def field_differences(table: tuple[FieldSpec, ...], given: tuple[FieldSpec, ...]) -> list[str]:
    """How `given` fields differ from the `table`'s, one phrase per difference (empty: equal)."""
    t = {f.name: f for f in table}
    g = {f.name: f for f in given}
    out: list[str] = []
    for f in table:
        if f.name not in g:
            out.append(f"field {f.name!r} ({_describe(f)}) is missing")
    for f in given:
        if f.name not in t:
            out.append(f"field {f.name!r} ({_describe(f)}) is not in the table")
    for f in given:
        other = t.get(f.name)
        if other is not None and (other.type, other.offset, other.count) != (f.type, f.offset, f.count):
            out.append(f"field {f.name!r} is {_describe(f)} in the records but {_describe(other)} in the table")
    return out


def _is_raw(dt: np.dtype) -> bool:
    """uint8, or an unstructured V<n> / S<n>: bytes without a type."""
    return dt == _U8 or (dt.kind in "VS" and dt.names is None)


class RecordRules:
    """Checks records against a store's tables; remembers the dtypes already found to match."""

    __slots__ = ("_matching",)

    def __init__(self) -> None:
        self._matching: set[tuple[int, np.dtype]] = set()

    def check_dtype(self, spec: TableSpec, dt: np.dtype, call: str) -> None:
        """Raises unless records of dtype `dt` are records of `spec`'s table or raw bytes."""
        if dt is spec.dtype or (spec.table_id, dt) in self._matching:
            return
        rs = spec.record_size
        if dt.subdtype is not None:  # a ctypes array type: its elements decide
            base = dt.base
            if base.names is not None:
                self.check_dtype(spec, base, call)
            elif not _is_raw(base):
                raise self._not_records(spec, dt, call)
        elif dt.names is not None:
            if dt.itemsize != rs:
                raise RecordSizeError(
                    Status.E_RECORD_SIZE,
                    f"table {spec.table_id} has {rs}-byte records; records of dtype {dt} have {dt.itemsize} bytes",
                    call=call,
                )
            if spec.fields and dt != spec.dtype:
                try:
                    given = fields_from_dtype(dt)
                except SchemaInvalid as exc:
                    raise DtypeMismatch(
                        f"table {spec.table_id}: the records' dtype {dt} cannot be the table's: {exc.message}",
                        call=call,
                    ) from None
                differences = field_differences(spec.fields, given)
                if differences:
                    shown = "; ".join(differences[:6])
                    if len(differences) > 6:
                        shown += f"; and {len(differences) - 6} more"
                    raise DtypeMismatch(
                        f"table {spec.table_id}: the records' dtype does not match the table's fields: {shown} "
                        f"(the table's dtype is store.dtype({spec.table_id}) = {spec.dtype}; raw bytes as uint8 "
                        f"of shape (n, {rs}) are accepted as they are)",
                        call=call,
                    )
        elif not _is_raw(dt):
            raise self._not_records(spec, dt, call)
        elif dt.kind in "VS" and dt.itemsize != rs:
            raise RecordSizeError(
                Status.E_RECORD_SIZE,
                f"table {spec.table_id} has {rs}-byte records; raw records of dtype {dt} have {dt.itemsize} bytes",
                call=call,
            )
        self._matching.add((spec.table_id, dt))

    @staticmethod
    def _not_records(spec: TableSpec, dt: np.dtype, call: str) -> DtypeMismatch:
        rs = spec.record_size
        return DtypeMismatch(
            f"table {spec.table_id}: an array of {dt} is not records; pass a structured array of the "
            f"table's dtype (store.dtype({spec.table_id}) = {spec.dtype}) or raw bytes (uint8 of shape "
            f"(n, {rs}), V{rs}, bytes); if its bytes really are records, .view() them as such",
            call=call,
        )

    def check_object(self, spec: TableSpec, record: Any, call: str) -> None:
        """Checks a record given as a ctypes object or a non-bytes buffer (not an ndarray)."""
        if isinstance(record, (ctypes.Structure, ctypes.Union, ctypes.Array)):
            dt = ctypes_dtype(type(record))
            if dt is not None:
                self.check_dtype(spec, dt, call)
            return
        try:
            mv = memoryview(record)
        except TypeError:
            return  # buffer_arg reports it
        if mv.format in _BYTE_FORMATS:
            return
        try:
            arr = np.asarray(mv)
        except (TypeError, ValueError, NotImplementedError):
            return  # a format numpy does not know: the library checks the size
        self.check_dtype(spec, arr.dtype, call)
