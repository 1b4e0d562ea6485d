"""Stores: writers and replicas (``podsync_store``)."""

from __future__ import annotations

import ctypes
import enum
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Union, cast

import numpy as np
import numpy.typing as npt

from ._errors import (
    U32_MAX,
    U64_MAX,
    ApplyResult,
    ArgumentTypeError,
    ClosedError,
    InvalidArgument,
    RecordSizeError,
    SnapshotRequired,
    Status,
    checked_int,
    last_errmsg,
    raise_for,
)
from . import _chunks, _durability
from ._chunks import ChunkedSnapshot, ChunkPosition
from ._durability import Checkpoint, OpenInfo
from ._ffi import (
    CHANGES_INCOMPLETE,
    CHANGES_REPLACED,
    LIB,
    METRICS_VERSION,
    Metrics,
    OPT_FILL_IN_PLACE,
    OPT_FRAME_DIGEST,
    OPT_MANUAL_CLOCK,
    OPT_ONE_WAY,
    ROLE_REPLICA,
    ROLE_WRITER,
    STORE_INFO_VERSION,
    STORE_OPTIONS_VERSION,
    StoreInfo as _CStoreInfo,
    StoreOptions,
    StoreP,
)
from ._memory import (
    CHANGES,
    OUTBOX,
    RECORDS,
    StoreHandle,
    _Export,
    array_address,
    buffer_arg,
    empty_readonly,
    export_bytes,
)
from ._records import RecordRules, check_key, keys_array
from ._schema import Schema, TableSpec
from ._subscriptions import Subscription, subscription_bytes

#: A frame as handed out by a store: a read-only ``memoryview`` borrowed from the outbox
#: (``copy=False``, the default) or ``bytes`` (``copy=True``).
Frame = Union[memoryview, bytes]

_EMPTY_KEYS = ctypes.c_uint64(0)  # a valid pointer for calls with count 0
SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1


class Role(enum.IntEnum):
    WRITER = ROLE_WRITER
    REPLICA = ROLE_REPLICA


@dataclass(frozen=True)
class StoreInfo:
    """``podsync_store_info``: a store's state at the time of the call."""

    role: Role
    schema_hash: int
    stream_id: int  #: replica: the stream it follows (0 before the first frame)
    state_version: int  #: version of the flushed / applied state
    sequence: int  #: writer: frames produced so far; replica: last applied frame's
    digest: int  #: state digest of the flushed / applied state
    catchup_floor: int  #: oldest version delta_since can serve
    pending_changes: int  #: writer: distinct keys changed since the last flush
    generation: int  #: changes whenever record memory may have moved
    diverged: bool  #: replica: True after DigestMismatch until a snapshot
    table_count: int
    #: ``one_way`` replica (library 0.5.0): True while it is out of sync (apply returns
    #: ``REFRESHING``): each record is some version's, ``state_version`` is the last version it was
    #: in sync at, and it serves no deltas or snapshots. Last, with a default, so that the
    #: positional order and arity of the fields above stay.
    refreshing: bool = False
    # Since library 0.6.0 (store info version 3), appended with defaults likewise.
    #: the term the writer writes, or the replica follows (0: none; a writer's first term is 0)
    term: int = 0
    #: durable store: the newest version on disk (checkpoint or fsynced log); 0 without files
    durable_version: int = 0
    #: durable store: bytes in the log segments since the newest checkpoint (checkpoint when
    #: this grows large: it bounds the time an open takes)
    log_bytes: int = 0
    #: True for a store opened with :func:`podsync.open_store`
    durable: bool = False
    #: True after a log write failed: producing frames raises :class:`PodSyncIOError` until
    #: :meth:`Store.checkpoint` succeeds
    log_failed: bool = False


class TableView:
    """Zero-copy, read-only views of one table's records and keys (from :meth:`Store.view`).

    While the arrays (or anything derived from them) are alive, the store refuses writes and
    apply with :class:`ViewsAliveError`, so they never point into freed or moved memory. Use it as
    a context manager: leaving the block drops the view's own references, after which writes work
    again unless you kept the arrays (or slices of them) elsewhere.
    """

    __slots__ = ("_keys", "_records", "table_id", "generation")

    def __init__(self, table_id: int, keys: np.ndarray, records: np.ndarray, generation: int):
        self.table_id = table_id
        self.generation = generation  #: ``info().generation`` when the view was taken
        self._keys: np.ndarray | None = keys
        self._records: np.ndarray | None = records

    @property
    def keys(self) -> np.ndarray:
        """uint64 keys, parallel to :attr:`records` (order unspecified)."""
        if self._keys is None:
            raise ClosedError("the TableView was released")
        return self._keys

    @property
    def records(self) -> np.ndarray:
        """The records, as a structured array of the table's dtype."""
        if self._records is None:
            raise ClosedError("the TableView was released")
        return self._records

    def __len__(self) -> int:
        return len(self.keys)

    def release(self) -> None:
        """Drops this object's references to the arrays. Idempotent."""
        self._keys = None
        self._records = None

    def __enter__(self) -> TableView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Changes:
    """The keys of one table that a replica's last :meth:`~Store.apply` changed (from
    :meth:`Store.changes`; library 0.7.0).

    * :attr:`upserted`: read-only ``uint64`` array of the keys inserted, or replaced with other
      bytes, in the order the apply changed them (a put that left a record's bytes as they were is
      not listed);
    * :attr:`deleted`: read-only ``uint64`` array of the keys deleted. A frame's deletions come
      before its puts, so a key in both lists was deleted and then put again; a key a frame
      carries twice may be listed twice;
    * :attr:`replaced`: the apply replaced the whole state (a snapshot, or the last chunk of a
      chunked one): ``upserted`` then lists every key the table holds and ``deleted`` every key it
      no longer holds;
    * :attr:`complete`: False when the library could not get memory for the lists (the apply still
      went through): treat every key of the table as changed.

    Iterating gives the events in the order they happened, deletions first::

        for event, key in replica.changes(1):     # ("delete", 7), ..., ("upsert", 3), ...
            ...

    or use the arrays with numpy (``np.isin(keys, ch.deleted)``, ``replica.get(1, int(k))`` for
    ``k in ch.upserted``). ``len(ch)`` counts the events; ``bool(ch)`` is True when something
    changed or may have changed (``not ch.complete``).

    From ``changes(t)`` (``copy=True``, the default) the arrays are copies that stay valid
    whatever happens to the store. From ``changes(t, copy=False)`` they VIEW the store's lists
    without copying (:attr:`borrowed` is True), and, as for :meth:`Store.table`, while they (or
    anything derived from them) are alive the store refuses :meth:`~Store.apply` and
    :meth:`~Store.track_changes` with :class:`ViewsAliveError` instead of letting them dangle;
    use the object as a context manager (leaving the block drops its references) or
    :meth:`release` it.
    """

    __slots__ = ("_upserted", "_deleted", "_table_id", "_replaced", "_complete", "_borrowed")

    def __init__(
        self, table_id: int, upserted: np.ndarray, deleted: np.ndarray, replaced: bool, complete: bool, borrowed: bool
    ) -> None:
        self._table_id = table_id
        self._upserted: np.ndarray | None = upserted
        self._deleted: np.ndarray | None = deleted
        self._replaced = replaced
        self._complete = complete
        self._borrowed = borrowed

    @property
    def table_id(self) -> int:
        return self._table_id

    @property
    def upserted(self) -> np.ndarray:
        """uint64 keys inserted or replaced with other bytes (read-only)."""
        if self._upserted is None:
            raise ClosedError("the Changes were released")
        return self._upserted

    @property
    def deleted(self) -> np.ndarray:
        """uint64 keys deleted (read-only)."""
        if self._deleted is None:
            raise ClosedError("the Changes were released")
        return self._deleted

    @property
    def replaced(self) -> bool:
        """The apply replaced the whole state (``PODSYNC_CHANGES_REPLACED``)."""
        return self._replaced

    @property
    def complete(self) -> bool:
        """False if the lists are incomplete (``PODSYNC_CHANGES_INCOMPLETE``): treat every key of
        the table as changed."""
        return self._complete

    @property
    def borrowed(self) -> bool:
        """True for views of the store's memory (``changes(t, copy=False)``), False for copies."""
        return self._borrowed

    def __iter__(self) -> Iterator[tuple[str, int]]:
        """``("delete", key)`` for each deleted key, then ``("upsert", key)`` for each upserted
        one: the order the apply made them (keys as Python ints)."""
        for key in self.deleted.tolist():
            yield "delete", key
        for key in self.upserted.tolist():
            yield "upsert", key

    def __len__(self) -> int:
        return len(self.upserted) + len(self.deleted)

    def __bool__(self) -> bool:
        return len(self) > 0 or not self._complete

    def release(self) -> None:
        """Drops this object's references to the arrays (a borrowed view then no longer holds
        the store's guard, unless arrays taken out of it are still alive). Idempotent."""
        self._upserted = None
        self._deleted = None

    def __enter__(self) -> Changes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        if self._upserted is None or self._deleted is None:
            return f"<podsync.Changes table={self._table_id} (released)>"
        flags = (" replaced" if self._replaced else "") + ("" if self._complete else " INCOMPLETE")
        flags += " borrowed" if self._borrowed else ""
        return (
            f"<podsync.Changes table={self._table_id} upserted={len(self._upserted)} "
            f"deleted={len(self._deleted)}{flags}>"
        )


def _options(
    stream_id: int | None = None,
    frame_digest: bool | None = None,
    manual_clock: bool | None = None,
    max_batch_records: int | None = None,
    max_batch_bytes: int | None = None,
    max_batch_age_ms: int | None = None,
    max_frame_bytes: int | None = None,
    tombstone_horizon: int | None = None,
    compression_level: int | None = None,
    transforms: int | None = None,
    max_decoded_bytes: int | None = None,
    max_records: int | None = None,
    max_tombstones: int | None = None,
    frame_format: int | None = None,
    fill_in_place: bool | None = None,
    refresh_flushes: int | None = None,
    refresh_ms: int | None = None,
    one_way: bool | None = None,
) -> StoreOptions:
    """The options struct (version 4): the library's defaults, then every option given. Integers
    are checked against their C field's range (ctypes would wrap them silently): TypeError for a
    non-integer, OverflowError (also a ValueError) outside it."""
    values = {
        "stream_id": stream_id,
        "max_batch_records": max_batch_records,
        "max_batch_bytes": max_batch_bytes,
        "max_batch_age_ms": max_batch_age_ms,
        "max_frame_bytes": max_frame_bytes,
        "tombstone_horizon": tombstone_horizon,
        "max_decoded_bytes": max_decoded_bytes,
        "max_records": max_records,
        "max_tombstones": max_tombstones,
        "refresh_ms": refresh_ms,
    }
    checked = {name: checked_int(name, v, 0, U64_MAX) for name, v in values.items() if v is not None}
    if transforms is not None:
        checked["transforms"] = checked_int("transforms", transforms, 0, U32_MAX)
    if frame_format is not None:  # 0, 1 or 2: the library refuses others (InvalidArgument)
        checked["frame_format"] = checked_int("frame_format", frame_format, 0, U32_MAX)
    if refresh_flushes is not None:
        checked["refresh_flushes"] = checked_int("refresh_flushes", refresh_flushes, 0, U32_MAX)
    if compression_level is not None:  # may be negative: zstd's fast levels
        checked["compression_level"] = checked_int("compression_level", compression_level, -(1 << 31), (1 << 31) - 1)
    opts = StoreOptions()
    status = LIB.podsync_store_options_init(ctypes.byref(opts), STORE_OPTIONS_VERSION)
    if status < 0:
        raise_for(status, last_errmsg, "podsync_store_options_init")
    if frame_digest is not None:
        opts.flags = (opts.flags | OPT_FRAME_DIGEST) if frame_digest else (opts.flags & ~OPT_FRAME_DIGEST)
    if manual_clock is not None:
        opts.flags = (opts.flags | OPT_MANUAL_CLOCK) if manual_clock else (opts.flags & ~OPT_MANUAL_CLOCK)
    if fill_in_place is not None:
        opts.flags = (opts.flags | OPT_FILL_IN_PLACE) if fill_in_place else (opts.flags & ~OPT_FILL_IN_PLACE)
    if one_way is not None:
        opts.flags = (opts.flags | OPT_ONE_WAY) if one_way else (opts.flags & ~OPT_ONE_WAY)
    for name, value in checked.items():
        setattr(opts, name, value)
    return opts


def _prometheus_labels(labels: Mapping[str, str] | str | None) -> bytes | None:
    """Labels in the exposition format (``name="value",...``), as UTF-8 for the C call."""
    if labels is None:
        return None
    if isinstance(labels, str):
        text = labels
    elif isinstance(labels, Mapping):
        parts = []
        for name, value in labels.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ArgumentTypeError(
                    f"labels must map str to str, got {type(name).__name__}: {type(value).__name__}",
                    call="metrics_prometheus",
                )
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            parts.append(f'{name}="{escaped}"')
        text = ",".join(parts)
    else:
        raise ArgumentTypeError(
            f"labels must be a mapping, a str or None, got {type(labels).__name__}", call="metrics_prometheus"
        )
    if "\0" in text:
        raise InvalidArgument(Status.E_INVALID_ARGUMENT, "labels contain a NUL character", call="metrics_prometheus")
    return text.encode("utf-8")


def _borrowed_from(handles: list[StoreHandle], view: memoryview) -> bool:
    """Whether `view` (or the frame it slices) was lent by the outbox of one of these handles (a
    store's, and those of the other Python stores of the same feed)."""
    try:
        owner: Any = view.obj
    except ValueError:  # released: buffer_arg says so
        return False
    base = getattr(owner, "base", None)
    return type(base) is _Export and base.kind == OUTBOX and any(base.handle is h for h in handles)


class _FeedGroup:
    """The handles of the Python stores that wrap one feed (``podsync_store_feed`` returns the same
    ``podsync_store*`` for the same subscription, a new reference each time; each :class:`Store`
    has its own :class:`StoreHandle`, which releases its reference). They share the feed's outbox,
    so a producing call through one revokes the frames the others handed out, and is refused while
    anything derived from those frames is alive; and they share its records, which the writer's
    flush (a relay's apply) rewrites, so that call is refused while views of them are alive."""

    __slots__ = ("handles",)

    def __init__(self) -> None:
        self.handles: weakref.WeakSet[StoreHandle] = weakref.WeakSet()

    def live(self) -> list[StoreHandle]:
        """The handles that still hold their reference (their pointer not yet released)."""
        return [h for h in list(self.handles) if h.ptr is not None]


def _table(table_id: Any) -> int:
    """A table id as an int in 0..2**32-1 (ctypes would wrap 2**32 + 1 to table 1)."""
    if type(table_id) is int and 0 <= table_id <= U32_MAX:
        return table_id
    return checked_int("table_id", table_id, 0, U32_MAX)


def _version(value: Any, name: str = "since_version") -> int:
    return checked_int(name, value, 0, U64_MAX)


class Store:
    """A PodSync store (``podsync_store``): the tables of one schema, as a writer or a replica.

    Usually created as :class:`Writer` or :class:`Replica`; ``Store(schema, role)`` exposes every
    call of the C API whatever the role (a writer-only call on a replica raises
    :class:`WrongRole`, as in C). The schema may be a :class:`Schema` or its canonical encoding.

    Options (keyword arguments; ``None`` keeps the library's default, 0 means "no limit" as in C):
    ``stream_id``, ``frame_digest`` (default True), ``manual_clock`` (default False),
    ``max_batch_records``, ``max_batch_bytes``, ``max_batch_age_ms``, ``max_frame_bytes``,
    ``tombstone_horizon``, ``compression_level``, ``transforms``, ``max_decoded_bytes`` and, since
    library 0.4.0, the limits ``max_records`` (most live records the store holds, all tables
    together; a write or frame that would exceed it raises :class:`LimitError` and changes nothing;
    default 0: none) and ``max_tombstones`` (most deletions remembered for catch-up deltas; past it
    the oldest are forgotten and ``catchup_floor`` rises; default 1048576, 0: no limit), and, since
    library 0.5.0, ``frame_format`` (the format of the frames this store produces: 2, the default
    since library 0.8.0, compact headers (40 to 64 bytes for a small delta) that receivers of
    library 0.5.0 and later read; or 1, the 88-byte header of format 1, for older receivers; 0
    means 2, the default; chunks, refresh slices, terms, repairs and subscriptions are always
    format 2) and ``fill_in_place`` (replica: while it is empty and follows no stream, the chunks of a chunked
    snapshot fill its tables as they arrive, version 0 until the last chunk, instead of being
    staged beside the state: no double memory for a late joiner; default False),
    and the rolling refresh: ``refresh_flushes`` (writer: 0, the default, is off; R > 0: every
    flush also carries the next slice of the whole state, about records / R of them, so the state
    is re-sent every R flushes; turns the XOR transform off), ``refresh_ms`` (writer with
    ``refresh_flushes``: after this many milliseconds without a frame :meth:`flush_due` says True
    and a flush of an empty batch sends a slice alone; 0, the default: only with flushes) and
    ``one_way`` (replica on a link that cannot ask back: instead of ``GAP`` it takes the newer
    absolute content of the frames it gets, key by key, and returns ``REFRESHING`` until its digest
    equals a frame's; default False).
    Integer options are checked against their C type: :class:`TypeError` for a non-integer,
    :class:`OverflowError` (also a :class:`ValueError`) outside ``0..2**64-1`` (``transforms``,
    ``frame_format``, ``refresh_flushes``: ``0..2**32-1``; ``compression_level``: a signed 32-bit
    int); a ``frame_format`` other than 0, 1 or 2 raises :class:`InvalidArgument`. A replica fed from an
    untrusted source sets ``max_records`` and ``max_decoded_bytes``.

    A store that lives in a directory as well (checkpoints and a frame log; library 0.6.0) is
    made or restored by :func:`podsync.open_store`, which takes the same options.

    A store of part of a stream (library 0.8.0) is a replica that called :meth:`subscribe`, or the
    *feed* of a subscription that :meth:`feed` returns on a writer (a :class:`Store` of its own).

    A store is used by one thread at a time. ``close()`` frees it (idempotent; also done by
    ``with`` and, as a last resort, by garbage collection); any later call raises
    :class:`ClosedError`. Memory of views still alive at close stays valid until they die.
    """

    def __init__(self, schema: Schema | bytes | bytearray | memoryview, role: Role | int, **options: Any) -> None:
        self._handle: StoreHandle | None = None
        if isinstance(schema, Schema):
            sch, own = schema, False
        else:
            sch, own = Schema.from_bytes(schema), True
        try:
            opts = _options(**options)
            out = StoreP()
            status = LIB.podsync_store_create(sch._handle(), int(role), ctypes.byref(opts), ctypes.byref(out))
            if status < 0:
                raise_for(status, last_errmsg, "podsync_store_create")
            tables, schema_bytes = sch.tables, sch.to_bytes()
        finally:
            if own:
                sch.close()
        self._adopt(out, tables, schema_bytes)

    def _adopt(self, out: Any, tables: dict[int, TableSpec], schema_bytes: bytes) -> None:
        """Takes ownership of a ``podsync_store*`` made by podsync_store_create or _open."""
        self._tables: dict[int, TableSpec] = tables
        self._rules = RecordRules()
        self._schema_bytes = schema_bytes
        #: What :func:`podsync.open_store` found (:class:`OpenInfo`); None for a store made in
        #: memory (``Store``, ``Writer``, ``Replica``).
        self.open_info: OpenInfo | None = None
        self._handle = StoreHandle(out)
        # A feed (library 0.8.0): the handles of every Python store of this feed (None otherwise).
        self._group: _FeedGroup | None = None
        # A writer or a relay: the feeds it made, by address (see :meth:`feed`).
        self._feeds: dict[int, _FeedGroup] = {}
        # Out-parameters reused by every call (a store is used by one thread at a time).
        self._out_ptr = ctypes.c_void_p()
        self._out_ptr2 = ctypes.c_void_p()
        self._out_size = ctypes.c_size_t()
        self._out_u64 = ctypes.c_uint64()
        self._out_size2 = ctypes.c_size_t()
        self._out_u32 = ctypes.c_uint32()
        self._ref_ptr = ctypes.byref(self._out_ptr)
        self._ref_ptr2 = ctypes.byref(self._out_ptr2)
        self._ref_size = ctypes.byref(self._out_size)
        self._ref_u64 = ctypes.byref(self._out_u64)
        self._ref_size2 = ctypes.byref(self._out_size2)
        self._ref_u32 = ctypes.byref(self._out_u32)
        self._info = _CStoreInfo()
        self._ref_info = ctypes.byref(self._info)

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Frees the store (deferred until the last live view is gone; frames handed out as
        memoryviews are released now). Idempotent."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None:
            handle.close()

    __del__ = close

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> Store:
        self._h()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _h(self) -> StoreHandle:
        handle = self._handle
        if handle is None:
            raise ClosedError(f"operation on a closed {type(self).__name__}")
        return handle

    def _errmsg(self) -> bytes | None:
        handle = self._handle
        return LIB.podsync_store_errmsg(handle.ptr) if handle is not None else None

    def _fail(self, status: int, call: str) -> None:
        raise_for(status, self._errmsg, call)

    # --- schema -----------------------------------------------------------------------------

    @property
    def tables(self) -> dict[int, TableSpec]:
        """The schema's tables, by id (a copy)."""
        return dict(self._tables)

    def schema(self) -> Schema:
        """A new :class:`Schema` equal to this store's (e.g. to send ``to_bytes()`` to a replica)."""
        return Schema.from_bytes(self._schema_bytes)

    def dtype(self, table_id: int) -> np.dtype:
        return self._tables[table_id].dtype

    # --- writes (writer only) ---------------------------------------------------------------

    def _write_ptr(self, action: str) -> Any:
        handle = self._h()
        if handle.exports[RECORDS]:
            handle.ensure_unexported(RECORDS, action)
        return handle.ptr

    def put(self, table_id: int, key: int, record: Any) -> bool:
        """Inserts or replaces one record: a numpy record (``np.void``, a 0-d or 1-element structured
        array) of the table's fields, a ``ctypes.Structure``, ``bytes`` or any byte buffer of the
        table's record size. Returns True if the flush policy says to flush now
        (``PODSYNC_FLUSH_DUE``). A new key that would take the store past ``max_records`` raises
        :class:`LimitError` (nothing written).

        Checked first, nothing written otherwise: `key` is an int in ``0..2**64-1``
        (:class:`OutOfRangeError`, an ``OverflowError``, rather than wrapping -1 to 2**64-1); a
        structured record has the table's fields (:class:`DtypeMismatch` names the differences);
        numbers that are not records (a float64 or int64 array) are refused (:class:`DtypeMismatch`)."""
        ptr = self._write_ptr("put")
        table_id = _table(table_id)
        key = check_key(key, "put")
        spec = self._tables.get(table_id)
        keep: Any
        if isinstance(record, (np.void, np.ndarray)):
            contiguous = np.ascontiguousarray(record)
            if spec is not None:
                self._rules.check_dtype(spec, contiguous.dtype, "put")
            arg, size, keep = (array_address(contiguous) if contiguous.nbytes else None), contiguous.nbytes, contiguous
        else:
            if spec is not None and type(record) is not bytes:
                self._rules.check_object(spec, record, "put")
            if isinstance(record, (ctypes.Structure, ctypes.Union, ctypes.Array)):
                arg, size, keep = ctypes.addressof(record), ctypes.sizeof(record), record
            else:
                arg, size, keep = buffer_arg(record)
        status = LIB.podsync_store_put(ptr, table_id, key, arg, size)
        del keep
        if status < 0:
            self._fail(status, "podsync_store_put")
        return bool(status == Status.FLUSH_DUE)

    def put_many(self, table_id: int, keys: npt.ArrayLike, records: Any) -> bool:
        """Inserts or replaces ``len(keys)`` records in one call: ``keys[i]`` gets ``records[i]``.

        ``keys``: a 1-D C-contiguous ``uint64`` ndarray is read in place; an ndarray of another
        integer dtype, or a sequence of ints, is converted after checking that every key is in
        ``0..2**64-1`` (a negative key raises :class:`OutOfRangeError`, an ``OverflowError``, rather
        than wrapping); floats and bools are refused (:class:`ArgumentTypeError`).

        ``records``: a C-contiguous ndarray with ``len(records) == len(keys)`` and
        ``records.nbytes == len(keys) * record_size``: a structured array with the table's fields
        (names, offsets, types and counts; another layout of the same itemsize raises
        :class:`DtypeMismatch` naming the differences), or raw bytes (``uint8`` of shape
        ``(n, record_size)``, ``V<record_size>``); or a bytes-like object of
        ``len(keys) * record_size`` bytes. Arrays of numbers (``float64``, ``int64``, ...) are not
        records (:class:`DtypeMismatch`). Nothing is copied; no Python loop. A later duplicate key
        wins. Validated before any change: on error nothing was written (:class:`LimitError` if
        the new keys would take the store past ``max_records``). Returns True if a flush is due."""
        ptr = self._write_ptr("put_many")
        table_id = _table(table_id)
        k = keys_array(keys, call="put_many")
        n = k.shape[0]
        spec = self._tables.get(table_id)
        if isinstance(records, np.ndarray):
            if not records.flags.c_contiguous:
                raise InvalidArgument(
                    Status.E_INVALID_ARGUMENT, "records must be C-contiguous (use np.ascontiguousarray)", call="put_many"
                )
            if n and (records.ndim == 0 or records.shape[0] != n):
                raise InvalidArgument(
                    Status.E_INVALID_ARGUMENT, f"{n} keys but records has shape {records.shape}", call="put_many"
                )
            if spec is not None:
                self._rules.check_dtype(spec, records.dtype, "put_many")
            nbytes = records.nbytes
            rec_arg: Any = array_address(records) if nbytes else ctypes.addressof(_EMPTY_KEYS)
            keep: Any = records
        else:
            if spec is not None and type(records) is not bytes:
                self._rules.check_object(spec, records, "put_many")
            rec_arg, nbytes, keep = buffer_arg(records)
            if nbytes == 0:
                rec_arg = ctypes.addressof(_EMPTY_KEYS)
        if spec is not None and nbytes != n * spec.record_size:
            itemsize = getattr(records, "itemsize", None)
            raise RecordSizeError(
                Status.E_RECORD_SIZE,
                f"table {table_id} has {spec.record_size}-byte records; got {nbytes} bytes for "
                f"{n} keys" + (f" (itemsize {itemsize})" if itemsize is not None else ""),
                call="put_many",
            )
        keys_arg = array_address(k) if n else ctypes.addressof(_EMPTY_KEYS)
        status = LIB.podsync_store_put_many(ptr, table_id, keys_arg, rec_arg, n, nbytes)
        del keep
        if status < 0:
            self._fail(status, "podsync_store_put_many")
        return bool(status == Status.FLUSH_DUE)

    def delete(self, table_id: int, key: int) -> bool:
        """Deletes one record; returns True if there was one, False if not (nothing changed).
        `key` outside ``0..2**64-1`` raises :class:`OutOfRangeError`."""
        ptr = self._write_ptr("delete")
        status = LIB.podsync_store_delete(ptr, _table(table_id), check_key(key, "delete"))
        if status < 0:
            self._fail(status, "podsync_store_delete")
        return bool(status != Status.NOT_FOUND)

    def delete_many(self, table_id: int, keys: npt.ArrayLike) -> int:
        """Deletes the records under `keys` (as for :meth:`put_many`: a uint64 ndarray in place,
        other integer arrays and sequences of ints after a range check); absent keys are skipped.
        Returns how many records were deleted (see :meth:`flush_due` for the policy)."""
        ptr = self._write_ptr("delete_many")
        table_id = _table(table_id)
        k = keys_array(keys, call="delete_many")
        n = k.shape[0]
        keys_arg = array_address(k) if n else ctypes.addressof(_EMPTY_KEYS)
        status = LIB.podsync_store_delete_many(ptr, table_id, keys_arg, n, self._ref_size)
        if status < 0:
            self._fail(status, "podsync_store_delete_many")
        return self._out_size.value

    # --- flush policy (writer only) ---------------------------------------------------------

    def set_time(self, now_ms: int) -> None:
        """Sets the store's clock (milliseconds, any monotonic scale); the only time source with
        ``manual_clock=True``."""
        status = LIB.podsync_store_set_time(self._h().ptr, checked_int("now_ms", now_ms, 0, U64_MAX))
        if status < 0:
            self._fail(status, "podsync_store_set_time")

    def flush_due(self) -> bool:
        """True if the flush policy says the pending batch should be flushed now (with
        ``refresh_ms``, library 0.5.0: also when no frame went out for that long, even with nothing
        pending; :meth:`flush` then sends a refresh-only frame)."""
        status = LIB.podsync_store_flush_due(self._h().ptr)
        if status < 0:
            self._fail(status, "podsync_store_flush_due")
        return bool(status == Status.FLUSH_DUE)

    # --- producing frames -------------------------------------------------------------------

    def _produce(self, call: str, fn: Any, args: tuple[Any, ...], copy: bool) -> list[Frame]:
        handle = self._h()
        handle.revoke_frames()
        if handle.exports[OUTBOX]:
            handle.ensure_unexported(OUTBOX, call.replace("podsync_store_", ""))
        if self._group is not None:  # a feed: other Python stores share its outbox
            for other in self._group.live():
                if other is not handle:
                    other.revoke_frames()
                    if other.exports[OUTBOX]:
                        other.ensure_unexported(OUTBOX, call.replace("podsync_store_", "") + " (the feed's outbox)")
        ptr = handle.ptr
        status = fn(ptr, *args, self._ref_size)
        if status < 0:
            self._fail(status, call)
        if status == Status.SNAPSHOT_REQUIRED:
            raise SnapshotRequired(status, f"version {args[0]} is older than the store covers", call=call)
        frames: list[Frame] = []
        frame_fn = LIB.podsync_store_frame
        data, size = self._out_ptr, self._out_size
        for index in range(self._out_size.value):
            status = frame_fn(ptr, index, self._ref_ptr, self._ref_size)
            if status < 0:
                self._fail(status, "podsync_store_frame")
            address, nbytes = data.value or 0, size.value
            if copy:
                frames.append(ctypes.string_at(address, nbytes))
            else:
                view = memoryview(cast(Any, export_bytes(handle, OUTBOX, address, nbytes)))
                handle.outbox_views.append(view)
                frames.append(view)
        return frames

    def flush(self, *, copy: bool = False) -> list[Frame]:
        """Writer only: turns the pending batch into frames (none if it is empty), each advancing
        the version by one. With ``refresh_flushes`` (library 0.5.0) the last frame also carries
        the next refresh slice of the state (``peek(frame).has_slice``), and with ``refresh_ms``
        an empty batch gives one refresh-only frame (no changes; it leaves the version as it is)
        once :meth:`flush_due` says so.

        With ``copy=False`` (default) the frames are read-only ``memoryview``s of the store's
        outbox: no copy. They are valid until the next ``flush``/``delta_since``/``snapshot``/
        ``catch_up``/``summary``/``reconcile``/``close`` on this store, which ``release()``s them
        (using one afterwards raises ``ValueError``). If something derived from them is still
        alive then (a slice, a numpy array, :func:`podsync.sections` arrays), that call raises
        :class:`ViewsAliveError` instead of freeing memory in use. Send, write or apply them right away, or ask for
        ``copy=True`` to get ``bytes`` you may keep.

        ``socket.sendall(frame)`` and ``file.write(frame)`` are done with the frame when they
        return. **asyncio is not**: ``transport.write(frame)`` / ``StreamWriter.write(frame)`` may
        keep the memoryview (or a slice of it) in the transport's buffer until the bytes are sent
        (Python 3.12+ buffers without copying), and the next producing call then raises
        :class:`ViewsAliveError`. Use ``copy=True`` for asyncio transports and for anything else
        that keeps the buffer after the call (queues, other threads).

        A writer with feeds (:meth:`feed`, library 0.8.0) also hands each feed the changes of its
        subset (the feed's :meth:`flush` then makes its frames); while views of a feed's records
        (:meth:`table`, :meth:`keys`, :meth:`view` on the feed) are alive, the writer's flush
        raises :class:`ViewsAliveError` and changes nothing."""
        if self._feeds:
            self._check_feed_views("flush")
        return self._produce("podsync_store_flush", LIB.podsync_store_flush, (), copy)

    def delta_since(self, since_version: int, *, copy: bool = False) -> list[Frame]:
        """One frame carrying every change since `since_version` (as of the last flush); no frame
        if it is the current version; a snapshot if it is 0. Raises :class:`SnapshotRequired` if
        the version is older than the store covers (``info().catchup_floor``) and
        :class:`VersionAhead` if it is newer than the store, :class:`OutOfRangeError` (an
        ``OverflowError``) outside ``0..2**64-1``. Frames as in :meth:`flush` (use ``copy=True``
        for asyncio transports)."""
        since = _version(since_version)
        return self._produce("podsync_store_delta_since", LIB.podsync_store_delta_since, (since,), copy)

    def snapshot(self, *, copy: bool = False) -> list[Frame]:
        """The whole state as of the last flush (a writer's; a replica's as applied), flagged
        RESET: a list of one frame when it fits in ``max_frame_bytes``, else (library 0.5.0) of
        the chunks of a chunked snapshot, each at most ``max_frame_bytes``, to send and apply in
        order (a replica returns ``CHUNK_STAGED`` for each but the last). Every chunk is in the
        outbox at once; to hold one chunk at a time, and to keep writing while it streams, use
        :meth:`snapshot_chunks`. Frames as in :meth:`flush` (use ``copy=True`` for asyncio
        transports)."""
        return self._produce("podsync_store_snapshot", LIB.podsync_store_snapshot, (), copy)

    # --- reconciliation (since library 0.7.0) ----------------------------------------------

    def summary(self, level: int = 0, *, copy: bool = False) -> list[Frame]:
        """Starts a reconciliation (library 0.7.0): a list of ONE summary message, the hashes of
        every bucket of this store's hash tree at `level` (``16**level`` buckets; 0, the default,
        picks the level from the record count, about 256 records a bucket; else 1 to 5). Any role;
        usually a replica that needs healing (diverged, below the writer's catch-up floor, restored
        from an old checkpoint, of another term) sends it to a responder, the writer or an
        up-to-date replica, whose :meth:`reconcile` answers it.

        A message is a format-2 frame flagged SUMMARY (``peek(m).is_summary``): it is never
        applied (:meth:`apply` raises :class:`InvalidArgument`). It goes through the outbox like
        every frame: ``copy=False`` (default) gives a borrowed ``memoryview`` valid until the next
        producing call on this store (:meth:`flush`, :meth:`delta_since`, :meth:`snapshot`,
        :meth:`summary`, :meth:`reconcile`, ...), ``copy=True`` ``bytes`` (see :meth:`flush`).
        A `level` above 5 raises :class:`InvalidArgument` (a negative one :class:`OutOfRangeError`,
        a non-integer :class:`ArgumentTypeError`)."""
        lvl = checked_int("level", level, 0, U32_MAX)
        return self._produce("podsync_store_summary", LIB.podsync_store_summary, (lvl,), copy)

    def reconcile(self, message: Any, *, copy: bool = False) -> list[Frame]:
        """Answers a summary message of the other side of a reconciliation (library 0.7.0): a list
        of zero or one frame to send back.

        * On the responder (writer or up-to-date replica), given the replica's message: a message
          that descends the tree one level where buckets differ (``peek(f).is_summary``), or a
          REPAIR frame (``peek(f).is_repair``) holding only the records of the differing buckets
          (plus the changes since the exchange began), which the replica applies with
          :meth:`apply`; or ``[]`` when there is nothing to repair (same state, stream and
          version).
        * On the replica, given the responder's message: the next message (``[m]``).

        Each side answers what it is given, so the host just carries the messages; each holds all
        the exchange needs (a lost one is sent again, or the exchange started over with
        :meth:`summary`). Within one process :func:`podsync.reconcile` runs a whole exchange.

        `message`: any buffer, read in place (as for :meth:`apply`). Frames out as in
        :meth:`summary` (``copy``). Raises :class:`InvalidArgument` for a frame that is not a
        summary message (frames are applied), :class:`FrameError` subclasses for bytes that are
        not a valid message (:class:`FrameMalformed`, :class:`FrameChecksum`,
        :class:`FrameTruncated`, :class:`FrameTooLarge` for more than 2**20 buckets; checked
        before any work), :class:`SchemaMismatch` for another schema, :class:`Diverged` on a
        responder that is diverged or out of sync, :class:`RepairStale` when the exchange began at
        a version this store can no longer describe (start again with :meth:`summary`)."""
        handle = self._h()
        if type(message) is memoryview and _borrowed_from(self._outbox_handles(handle), message):
            # A message of this very store's outbox: the call revokes it and reuses the outbox.
            message = message.tobytes()
        arg, size, keep = buffer_arg(message)
        try:
            return self._produce("podsync_store_reconcile", LIB.podsync_store_reconcile, (arg, size), copy)
        finally:
            del keep

    # --- subscriptions (since library 0.8.0) ------------------------------------------------

    def subscribe(self, subscription: Subscription | bytes | bytearray | memoryview) -> None:
        """Replica: makes this empty replica a subscriber of `subscription` (library 0.8.0), a
        :class:`Subscription` or its encoding (any buffer, as :meth:`Subscription.encode` gives
        it; every byte is checked by the library). From then on it holds only that part of the
        stream: it applies only the frames of that subscription's feed (:meth:`feed` on the
        writer; or of another replica of the same subscription), whose versions are the writer's
        (its version jumps over versions that changed nothing in its subset), and refuses the
        writer's frames of the whole stream, or those of another subscription, with
        :class:`NotSubscribed` (nothing changed). Summaries and repairs obey the same rule, so
        :func:`podsync.reconcile` heals it from its feed. It serves its subset to further
        subscribers of the same subscription (:meth:`snapshot`, :meth:`delta_since`, ...).

        Once, before the replica holds anything: a replica that holds records or follows a
        stream already (it applied a frame), or that has a subscription, or a durable one
        (:func:`podsync.open_store`, in this version), raises :class:`InvalidArgument`, as does an
        encoding that breaks a rule or names a table the schema lacks; a writer raises
        :class:`WrongRole`."""
        data = subscription_bytes(subscription, "subscribe")
        arg, size, keep = buffer_arg(data)
        status = LIB.podsync_store_subscribe(self._h().ptr, arg, size)
        del keep
        if status < 0:
            self._fail(status, "podsync_store_subscribe")

    def feed(self, subscription: Subscription | bytes | bytearray | memoryview) -> Store:
        """Writer or relay: the *feed* of `subscription` (library 0.8.0; a :class:`Subscription` or
        the encoding a replica sent, any buffer) on this store, its *writer*: a writer, or a
        replica of the whole stream (a *relay*). The feed is a new :class:`Store` that holds this
        store's records of the subset (as of its last flush; a relay's: as of its last apply),
        follows each later :meth:`flush` of the writer (each :meth:`apply` of the relay), and
        produces the subscription's frames with the ordinary calls, encoded once for every
        replica of that subscription::

            feed = writer.feed(sub)                # once per distinct subscription
            writer.put_many(1, keys, records)
            writer.flush()                         # the whole stream's frames (for its replicas)
            for frame in feed.flush():             # the subset's changes since the feed's last
                subscriber.apply(frame)            # flush: one frame at the writer's version, or none

        A relay serves its subscribers as the writer would, from the frames it applies::

            relay_feed = relay.feed(sub)           # relay: a Replica following the whole stream
            relay.apply(frame)                     # a frame of the writer (or of another relay)
            for frame in relay_feed.flush():       # the subset's changes since the feed's last
                subscriber.apply(frame)            # flush, at the writer's version

        Each delta the relay applies reaches its feeds key by key; any other frame it applies (a
        snapshot, the last chunk of a chunked snapshot, a repair, a one-way refresh) rebuilds
        each feed from the relay's state: the feed's catch-up floor then starts at that version
        (subscribers further behind need its :meth:`snapshot`), and its chunked snapshots in
        flight end with :class:`SnapshotExpired`.

        A feed is a writer whose writes come from its writer: :meth:`put`, :meth:`delete` and the
        like raise :class:`WrongRole`. Its :meth:`flush` makes one frame (or none when nothing
        changed in the subset) at the writer's version, and :meth:`flush_due` is True while the
        writer's flushes (the relay's applies) left it such changes; reads, :meth:`digest` (the
        subset's), :meth:`info`, :meth:`delta_since`, :meth:`catch_up`, :meth:`snapshot`,
        :meth:`snapshot_chunks`, :meth:`summary` and :meth:`reconcile` work as on any writer (its catch-up floor starts at
        the writer's version when the feed was made). Its frames are format 2 and carry the
        subscription (:class:`NotSubscribed` anywhere else but at its subscribers). It takes the
        writer's options but the rolling refresh (a relay's: its ``compression_level`` sets the
        feed frames' compression). The feed holds the subset in memory of its own.

        Asking again for the same subscription gives the same feed (the same ``podsync_store*``)
        in another :class:`Store` object, each holding its own reference: close each (``with``,
        :meth:`close`, or garbage collection). The writer stops updating the feed once every
        object of it is closed; a feed that outlives its writer keeps its state and serves it,
        but no longer changes. The objects of one feed share its outbox: a producing call on one
        releases the frames the others handed out (as on a single store). While views of the
        feed's records (:meth:`table`, :meth:`keys`, :meth:`view`) are alive, the calls that
        rewrite them raise :class:`ViewsAliveError` and change nothing: the writer's
        :meth:`flush` (and ``podsync.nats.Publisher.flush``); a relay's :meth:`apply`, and so
        whatever applies frames to it (:func:`podsync.reconcile`, ``podsync.nats.Follower.poll``).
        The writer and its feeds are used from one thread at a time, together.

        Raises :class:`WrongRole` on a subscribed replica (:meth:`subscribe`) or a feed,
        :class:`Diverged` on a relay that is diverged or out of sync (a ``one_way`` replica while
        ``refreshing``), :class:`InvalidArgument` for an encoding that breaks a rule or names a
        table the schema lacks."""
        data = subscription_bytes(subscription, "feed")
        handle = self._h()
        arg, size, keep = buffer_arg(data)
        out = StoreP()
        status = LIB.podsync_store_feed(handle.ptr, arg, size, ctypes.byref(out))
        del keep
        if status < 0:
            self._fail(status, "podsync_store_feed")
        address = ctypes.cast(out, ctypes.c_void_p).value or 0
        feed = Store.__new__(Store)
        try:
            feed._adopt(out, dict(self._tables), self._schema_bytes)
        except BaseException:
            if getattr(feed, "_handle", None) is None:  # else the handle releases the reference
                LIB.podsync_store_free(out)
            raise
        # A live object of this address holds a reference, so the feed is the same one; else the
        # address is that of a feed released meanwhile (a new feed may reuse it).
        for key, group in list(self._feeds.items()):
            if not group.live():
                del self._feeds[key]
        group = self._feeds.get(address)
        if group is None:
            group = self._feeds[address] = _FeedGroup()
        group.handles.add(feed._handle)  # type: ignore[arg-type]
        feed._group = group
        return feed

    @property
    def subscription(self) -> tuple[bytes, int] | None:
        """The subscription this store holds (library 0.8.0), as ``(encoding, hash)``: a
        subscribed replica's (:meth:`subscribe`) or a feed's (:meth:`feed`); None for a store of
        the whole stream. The encoding is the canonical one (equal to
        :meth:`Subscription.encode`), the hash its :attr:`Subscription.hash` (a copy)."""
        status = LIB.podsync_store_subscription(self._h().ptr, self._ref_ptr, self._ref_size, self._ref_u64)
        if status < 0:
            self._fail(status, "podsync_store_subscription")
        if status == Status.NOT_FOUND:
            return None
        return ctypes.string_at(self._out_ptr.value or 0, self._out_size.value), self._out_u64.value

    def _outbox_handles(self, handle: StoreHandle) -> list[StoreHandle]:
        """The handles whose frames this store's producing calls revoke: its own, and those of the
        other objects of the same feed."""
        if self._group is None:
            return [handle]
        return [handle] + [h for h in self._group.live() if h is not handle]

    def _check_feed_views(self, action: str) -> None:
        """Before a call that rewrites this store's feeds' records (a writer's flush, a relay's
        apply): no view of them may be alive (raises :class:`ViewsAliveError`, nothing done)."""
        for address, group in list(self._feeds.items()):
            live = group.live()
            if not live:
                del self._feeds[address]
                continue
            for h in live:
                if h.exports[RECORDS]:
                    h.ensure_unexported(
                        RECORDS, f"{action} (this store updates its feed, whose records are viewed)"
                    )

    # --- chunked snapshots (since library 0.5.0) --------------------------------------------

    def snapshot_chunks(self, max_chunk_bytes: int = 0) -> ChunkedSnapshot:
        """Starts a chunked snapshot of the state (a writer's as of its last flush, a replica's
        as applied) and returns it as a :class:`ChunkedSnapshot`: an iterator of ``bytes``, one
        chunk (a complete frame of at most `max_chunk_bytes`) at a time, produced on demand::

            with writer.snapshot_chunks(16384) as chunks:
                for chunk in chunks:
                    sock.sendall(chunk)      # the writer may put and flush between chunks

        `max_chunk_bytes`: 0 for the store's ``max_frame_bytes``; at least ``MIN_CHUNK_BYTES``
        (512; smaller raises :class:`InvalidArgument`); a record larger than that still makes one
        chunk. Writes, flushes and applies on this store stay allowed while the
        snapshot is alive; the chunks keep describing the state at its ``state_version``. A
        diverged replica raises :class:`Diverged`. O(n log n) in the records (it sorts the keys).
        Unlike :meth:`snapshot`, the outbox and frames handed out are not touched."""
        size = checked_int("max_chunk_bytes", max_chunk_bytes, 0, SIZE_MAX)
        return _chunks.begin(self._h().ptr, size, self._errmsg)

    def snapshot_resume(self, position: ChunkPosition, max_chunk_bytes: int = 0) -> ChunkedSnapshot:
        """Continues a chunked snapshot from `position` (what the receiver's :meth:`staging`
        reported after ``CHUNK_GAP``): chunks from ``position.chunk_index``, starting at its key,
        under the same snapshot id, as a :class:`ChunkedSnapshot`. Served while a snapshot with
        that id and version is still alive on this store, or while the store is still at that
        version of that stream; otherwise :class:`SnapshotExpired` (the receiver then needs a new
        :meth:`snapshot_chunks`, whose chunk 0 replaces its staging). `max_chunk_bytes` as in
        :meth:`snapshot_chunks`."""
        if not isinstance(position, ChunkPosition):
            raise ArgumentTypeError(
                f"position must be a podsync.ChunkPosition, got {type(position).__name__}", call="snapshot_resume"
            )
        size = checked_int("max_chunk_bytes", max_chunk_bytes, 0, SIZE_MAX)
        return _chunks.resume(self._h().ptr, position, size, self._errmsg)

    def staging(self) -> ChunkPosition | None:
        """Replica: the chunked snapshot it is staging and the chunk it needs next, as a
        :class:`ChunkPosition` (after ``CHUNK_GAP``, send it to the producer, which continues with
        :meth:`snapshot_resume`), or None when it stages none. After ``CHUNK_GAP`` on a snapshot
        it never started, the position names that snapshot's chunk 0."""
        return _chunks.staging(self._h().ptr, self._errmsg)

    def catch_up(self, since_version: int, *, copy: bool = False) -> list[Frame]:
        """What a replica at `since_version` needs: :meth:`delta_since`, or a :meth:`snapshot`
        when the store no longer covers that version. Frames as in :meth:`flush` (use
        ``copy=True`` for asyncio transports)."""
        since = _version(since_version)
        try:
            return self.delta_since(since, copy=copy)
        except SnapshotRequired:
            return self.snapshot(copy=copy)

    # --- applying frames (replica only) -----------------------------------------------------

    def apply(self, frame: Any) -> ApplyResult:
        """Validates a whole frame (any buffer: bytes, bytearray, memoryview, numpy uint8 array;
        read in place for the call, no copy unless it is non-contiguous), then applies it
        atomically. Returns :attr:`ApplyResult.OK`, ``DUPLICATE``, ``GAP`` (ask the writer for
        ``catch_up(replica.version)``) or ``STALE``; raises a :class:`PodSyncError` subclass with
        the state unchanged (:class:`DigestMismatch` excepted: the frame was applied and the
        replica is now diverged), e.g. :class:`LimitError` for a frame that would take the replica
        past ``max_records`` and :class:`FrameTooLarge` for one that decodes to more than
        ``max_decoded_bytes``.

        Frames of format 1 and 2 are both read. A chunk of a chunked snapshot (library 0.5.0)
        returns ``CHUNK_STAGED`` (staged beside the state, which stays visible and unchanged;
        with ``fill_in_place`` an empty replica's tables fill instead, at version 0), ``OK`` for
        the last chunk (the switch to the snapshot's state, in one step), ``DUPLICATE`` for a chunk
        already staged, ``STALE`` for an older snapshot, ``CHUNK_GAP`` for a chunk ahead of the
        one expected (nothing changed: resume from :meth:`staging`), or raises
        :class:`ChunkMismatch` for a chunk that contradicts those staged (the staging is
        dropped).

        A ``one_way`` replica (library 0.5.0) never returns ``GAP``: out of sync, it takes what
        the frame holds of versions newer than each of its records (changes and refresh slices,
        key by key) and returns ``REFRESHING`` (``info().refreshing`` is True); a frame whose
        digest its state then equals returns ``OK`` and it is in sync again.

        A repair frame (library 0.7.0: the responder's last answer in a reconciliation, see
        :meth:`reconcile`) is applied whatever the replica's version, stream, term or diverged
        mark, when it was computed for the replica's exact state: it returns ``OK`` and the
        replica then holds the responder's state at its version and continues with its deltas;
        otherwise it raises :class:`RepairStale` (nothing changed: start a new exchange with
        :meth:`summary`). A summary message is not applied: :class:`InvalidArgument`.

        With change tracking on (:meth:`track_changes`, library 0.7.0) every apply first empties
        the change lists, then records the keys it changed (:meth:`changes`); while borrowed
        change views (``changes(t, copy=False)``) are alive, apply raises :class:`ViewsAliveError`.

        A relay (a replica of the whole stream that serves feeds, :meth:`feed`, library 0.8.0)
        updates its feeds with every apply, which rewrites their records: while views of a feed's
        records are alive, apply raises :class:`ViewsAliveError` and changes nothing (as it does
        for views of the replica's own records)."""
        ptr = self._write_ptr("apply")
        handle = self._handle
        if handle is not None and handle.exports[CHANGES]:
            handle.ensure_unexported(CHANGES, "apply")
        if self._feeds:
            self._check_feed_views("apply")
        arg, size, keep = buffer_arg(frame)
        status = LIB.podsync_store_apply(ptr, arg, size, None)
        del keep
        if status < 0:
            self._fail(status, "podsync_store_apply")
        return ApplyResult(status)

    # --- change events (replica; since library 0.7.0) -------------------------------------

    def track_changes(self, enabled: bool = True) -> None:
        """Replica: turns change tracking on (default) or off; either way the change lists start
        empty. With tracking on, every :meth:`apply` empties them, then records the keys it
        upserted and deleted, table by table (read them with :meth:`changes`). Off by default:
        it costs a key store per changed record, and a whole snapshot lists every key.

        Raises :class:`WrongRole` on a writer, :class:`ViewsAliveError` (nothing changed) while
        borrowed change views (``changes(t, copy=False)``) are alive, :class:`ArgumentTypeError`
        (a ``TypeError``) for anything but a bool (or the int 0 or 1)."""
        if not isinstance(enabled, (bool, np.bool_)) and not (type(enabled) is int and enabled in (0, 1)):
            raise ArgumentTypeError(f"enabled must be a bool, got {enabled!r}", call="track_changes")
        handle = self._h()
        if handle.exports[CHANGES]:
            handle.ensure_unexported(CHANGES, "track_changes")
        status = LIB.podsync_store_track_changes(handle.ptr, 1 if enabled else 0)
        if status < 0:
            self._fail(status, "podsync_store_track_changes")

    def changes(self, table_id: int, *, copy: bool = True) -> Changes:
        """Replica with :meth:`track_changes` on: the keys of table `table_id` that the last
        :meth:`apply` upserted and deleted, as :class:`Changes` (``upserted``, ``deleted``: uint64
        arrays; ``replaced``; ``complete``). An apply that changed nothing (``DUPLICATE``,
        ``GAP``, ``STALE``, ``CHUNK_GAP``, or one that raised; :class:`DigestMismatch` excepted:
        it lists what it applied) leaves both lists empty. A catch-up delta that re-sends a value
        the replica already holds does not list that key.

        ``copy=True`` (default): the arrays are read-only copies, valid forever (8 bytes per key).
        ``copy=False``: read-only zero-copy views of the store's lists; while they (or arrays
        derived from them) are alive, :meth:`apply` and :meth:`track_changes` raise
        :class:`ViewsAliveError` (use ``with replica.changes(t, copy=False) as ch: ...``).

        Raises :class:`WrongRole` on a writer, :class:`InvalidArgument` while tracking is off,
        :class:`UnknownTable` for a table not in the schema."""
        handle = self._h()
        table_id = _table(table_id)
        status = LIB.podsync_store_changes(
            handle.ptr, table_id, self._ref_ptr, self._ref_size, self._ref_ptr2, self._ref_size2, self._ref_u32
        )
        if status < 0:
            self._fail(status, "podsync_store_changes")
        flags = self._out_u32.value
        lists = []
        for address, count in ((self._out_ptr.value, self._out_size.value), (self._out_ptr2.value, self._out_size2.value)):
            if count == 0 or not address:
                lists.append(empty_readonly(np.dtype(np.uint64)))
            elif copy:
                arr = np.empty(count, np.uint64)
                ctypes.memmove(arr.ctypes.data, address, 8 * count)
                arr.flags.writeable = False
                lists.append(arr)
            else:
                lists.append(export_bytes(handle, CHANGES, address, 8 * count).view(np.uint64))
        return Changes(
            table_id, lists[0], lists[1], bool(flags & CHANGES_REPLACED), not flags & CHANGES_INCOMPLETE, not copy
        )

    # --- durability and failover (since library 0.6.0) -------------------------------------

    def checkpoint(self) -> None:
        """Durable store (:func:`podsync.open_store`): writes a complete checkpoint of the state
        now (a writer's as of its last flush, a replica's as applied): a temporary file, fsync,
        rename, fsync of the directory. Then a new log segment starts, and checkpoints and log
        segments older than the kept ones (``keep_checkpoints``) are removed. Checkpoint when
        :attr:`log_bytes` grows large: it bounds the time an open takes. A successful checkpoint
        also clears :attr:`log_failed`. :class:`PodSyncIOError` (disk full, read-only): nothing of
        the new checkpoint remains, the older files and the store are as they were. A store not
        opened with ``open_store``: :class:`InvalidArgument`; a diverged or refreshing replica:
        :class:`Diverged` (its state is no writer's; its log keeps what it applies)."""
        status = LIB.podsync_store_checkpoint(self._h().ptr)
        if status < 0:
            self._fail(status, "podsync_store_checkpoint")

    def checkpoint_steps(self, max_bytes: int) -> Checkpoint:
        """Begins a checkpoint of the state now (as :meth:`checkpoint`), to be written about
        `max_bytes` at a time (0: all in one step) while the store keeps working, and returns it
        as a :class:`Checkpoint`: ``step()`` until it returns True, or iterate it (each ``next()``
        writes one step)::

            with store.checkpoint_steps(1 << 20) as checkpoint:
                for _ in checkpoint:
                    store.put(1, key, record)    # writes and flushes between steps work
                    store.flush()

        A step writes at least one chunk of the image, and a chunk holds up to 4 MiB of records
        (or the store's ``max_frame_bytes`` when that is less), so `max_bytes` below that makes a
        step of one chunk. The checkpoint holds the state as of this call (its version is
        ``open_info.checkpoint_version`` at the next open); what is flushed meanwhile goes to the
        log. One checkpoint at a time: beginning another (or :meth:`checkpoint`) before this one
        completes or is closed raises :class:`InvalidArgument`. Leaving the ``with`` block before
        the checkpoint completes abandons it (its temporary file is removed). A store not opened
        with ``open_store``: :class:`InvalidArgument`."""
        size = checked_int("max_bytes", max_bytes, 0, SIZE_MAX)
        return _durability.begin_checkpoint(self._h().ptr, size, self._errmsg)

    def sync(self) -> None:
        """Durable store: forces the frame log to disk now (fsync), whatever the log policy
        (:attr:`durable_version` then reaches the last version logged). A store not opened with
        ``open_store``: :class:`InvalidArgument`."""
        status = LIB.podsync_store_sync(self._h().ptr)
        if status < 0:
            self._fail(status, "podsync_store_sync")

    def promote(self, new_term: int) -> None:
        """Failover: turns this replica into the writer of the stream it follows, in term
        `new_term` (above the term it follows, and never given twice: your coordinator picks
        it), continuing from its version with the same stream id. Its frames carry the term and
        its history: replicas at versions up to the promotion point continue with deltas from it;
        one that applied later versions of the old term raises :class:`HistoryDiverged` and
        needs a snapshot of this store; frames of the old writer are refused by replicas that
        follow the new term (:class:`TermFenced`). A durable store logs the promotion (fsync)
        before returning. A :class:`Replica` object becomes a :class:`Writer` (its class changes).

        Raises :class:`WrongRole` on a writer, :class:`Diverged` on a diverged or refreshing
        replica, :class:`InvalidArgument` for a replica that follows no stream or a term not above
        its own; a staged chunked snapshot is dropped."""
        term = checked_int("new_term", new_term, 0, U64_MAX)
        status = LIB.podsync_store_promote(self._h().ptr, term)
        if status < 0:
            self._fail(status, "podsync_store_promote")
        if type(self) is Replica:
            self.__class__ = Writer

    # --- reads ------------------------------------------------------------------------------

    def get(self, table_id: int, key: int) -> np.void | None:
        """A COPY of the record under `key` as a read-only numpy record of the table's dtype
        (``rec["pos"]``), or None if there is none. One record's bytes are copied, so it stays
        valid whatever happens to the store."""
        handle = self._h()
        table_id = _table(table_id)
        status = LIB.podsync_store_get(handle.ptr, table_id, check_key(key, "get"), self._ref_ptr)
        if status < 0:
            self._fail(status, "podsync_store_get")
        address = self._out_ptr.value
        if status == Status.NOT_FOUND or not address:
            return None
        spec = self._tables[table_id]
        raw = ctypes.string_at(address, spec.record_size)
        return np.frombuffer(raw, dtype=spec.dtype)[0]  # type: ignore[no-any-return]

    def __contains__(self, item: tuple[int, int]) -> bool:
        """``(table_id, key) in store``."""
        table_id, key = item
        status = LIB.podsync_store_get(self._h().ptr, _table(table_id), check_key(key, "get"), self._ref_ptr)
        if status < 0:
            self._fail(status, "podsync_store_get")
        return bool(status == Status.OK)

    def count(self, table_id: int) -> int:
        """Number of records in the table."""
        status = LIB.podsync_store_count(self._h().ptr, _table(table_id), self._ref_size)
        if status < 0:
            self._fail(status, "podsync_store_count")
        return self._out_size.value

    def _table_arrays(self, table_id: int, want_keys: bool, want_records: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
        handle = self._h()
        table_id = _table(table_id)
        status = LIB.podsync_store_table(handle.ptr, table_id, self._ref_ptr, self._ref_ptr2, self._ref_size)
        if status < 0:
            self._fail(status, "podsync_store_table")
        spec = self._tables[table_id]
        n = self._out_size.value
        keys: np.ndarray | None = None
        records: np.ndarray | None = None
        if n == 0:
            if want_keys:
                keys = empty_readonly(np.dtype(np.uint64))
            if want_records:
                records = empty_readonly(spec.dtype)
            return keys, records
        if want_keys:
            keys = export_bytes(handle, RECORDS, self._out_ptr2.value or 0, 8 * n).view(np.uint64)
        if want_records:
            records = export_bytes(handle, RECORDS, self._out_ptr.value or 0, n * spec.record_size).view(spec.dtype)
        return keys, records

    def table(self, table_id: int) -> np.ndarray:
        """The table's records as a read-only structured ndarray that VIEWS the store's memory:
        O(1), no copy. Order unspecified (parallel to :meth:`keys`). While this array or anything
        derived from it (slices, field views) is alive, writes and apply on this store raise
        :class:`ViewsAliveError`: a view never reads moved or freed memory. ``del`` it (or use
        :meth:`view`) before writing, or keep ``.copy()``."""
        return self._table_arrays(table_id, False, True)[1]  # type: ignore[return-value]

    def keys(self, table_id: int) -> np.ndarray:
        """The table's keys as a read-only uint64 ndarray viewing the store's memory (parallel to
        :meth:`table`; same rules)."""
        return self._table_arrays(table_id, True, False)[0]  # type: ignore[return-value]

    def view(self, table_id: int) -> TableView:
        """Keys and records of one table as a :class:`TableView`, best used as
        ``with store.view(1) as v: ... v.records["pos"] ...``; writes and apply raise
        :class:`ViewsAliveError` until the block is left (and any array taken out of it is gone)."""
        generation = self.info().generation
        keys, records = self._table_arrays(table_id, True, True)
        return TableView(table_id, keys, records, generation)  # type: ignore[arg-type]

    def info(self) -> StoreInfo:
        c = self._info
        c.version = STORE_INFO_VERSION
        status = LIB.podsync_store_info_get(self._h().ptr, self._ref_info)
        if status < 0:
            self._fail(status, "podsync_store_info_get")
        return StoreInfo(
            Role(c.role), c.schema_hash, c.stream_id, c.state_version, c.sequence, c.digest,
            c.catchup_floor, c.pending_changes, c.generation, bool(c.diverged), c.table_count,
            bool(c.refreshing), c.term, c.durable_version, c.log_bytes, bool(c.durable), bool(c.log_failed),
        )  # fmt: skip

    def metrics(self) -> dict[str, object]:
        """``podsync_store_metrics``: counters since the store was created (docs in podsync.h).
        Scalars are ints (including, since library 0.3.0, ``saved_by_zero_columns``,
        ``raw_column_bytes``, ``column_trials`` and ``dictionary_frames``, and since library 0.5.0
        ``chunks_out``, ``snapshot_bytes_held``, ``chunks_staged``, ``chunk_gaps`` and
        ``staging_bytes_held``); ``rejects`` maps a status name to how many applies returned it;
        ``encode_ns`` and ``apply_ns`` are log2 histograms (bucket i: [2^i, 2^(i+1)) ns)."""
        from ._errors import status_name

        c = self._c_metrics()
        # Every scalar field (version 2 appended four after the histograms), then the arrays.
        out: dict[str, object] = {
            field[0]: getattr(c, field[0]) for field in Metrics._fields_[2:] if field[1] is ctypes.c_uint64
        }
        out["rejects"] = {status_name(-k): n for k, n in enumerate(c.rejects) if n}
        out["encode_ns"] = list(c.encode_ns)
        out["apply_ns"] = list(c.apply_ns)
        return out

    def _c_metrics(self) -> Metrics:
        c = Metrics()
        c.version = METRICS_VERSION
        status = LIB.podsync_store_metrics(self._h().ptr, ctypes.byref(c))
        if status < 0:
            self._fail(status, "podsync_store_metrics")
        return c

    def metrics_prometheus(self, labels: Mapping[str, str] | str | None = None) -> str:
        """The store's :meth:`metrics` as Prometheus text exposition (format 0.0.4), as
        ``podsync_metrics_prometheus`` writes it: a ``# HELP`` and a ``# TYPE`` line per metric,
        names starting with ``podsync_``, counters ending in ``_total`` (bytes in
        ``_bytes_total``), the encode and apply times as histograms in seconds
        (``podsync_encode_duration_seconds``, ``podsync_apply_duration_seconds``).

        `labels` are added to every sample: a mapping ``{"store": "a", "role": "writer"}`` (values
        escaped here) or a string already in the exposition format (``'store="a",role="writer"'``).
        Label names match ``[a-zA-Z_][a-zA-Z0-9_]*``, do not start with ``__`` and are not ``le``,
        ``by`` or ``status``: anything else raises :class:`InvalidArgument` with the library's
        message naming it."""
        text = _prometheus_labels(labels)
        c = self._c_metrics()
        size = ctypes.c_size_t()
        call = "podsync_metrics_prometheus"
        status = LIB.podsync_metrics_prometheus(ctypes.byref(c), text, None, 0, ctypes.byref(size))
        if status < 0 and status != Status.E_BUFFER_TOO_SMALL:
            raise_for(status, last_errmsg, call)
        buf = ctypes.create_string_buffer(size.value)
        status = LIB.podsync_metrics_prometheus(ctypes.byref(c), text, buf, size.value, ctypes.byref(size))
        if status < 0:
            raise_for(status, last_errmsg, call)
        return buf.raw[: size.value - 1].decode("utf-8")

    # --- compression dictionaries (since library 0.3.0) -------------------------------------

    def collect_samples(self, max_bytes: int) -> None:
        """Starts keeping the packed stream of every frame this store produces from now on, each
        whole, while it fits in what is left of `max_bytes` (a frame that does not fit is skipped,
        not cut; library 0.4.0), to train a dictionary from with :meth:`train_dictionary`; 0 stops
        and discards them. Training needs 8 kept frames, so `max_bytes` should be at least 8 times
        a typical frame. Needs ``compression_level != 0`` (:class:`InvalidArgument` otherwise)."""
        max_bytes = checked_int("max_bytes", max_bytes, 0, SIZE_MAX)
        status = LIB.podsync_store_collect_samples(self._h().ptr, max_bytes)
        if status < 0:
            self._fail(status, "podsync_store_collect_samples")

    def train_dictionary(self, max_size: int = 0) -> int:
        """Trains a zstd dictionary of at most `max_size` bytes (0: 16 KiB; 256 .. 4 MiB) from the
        samples collected (at least 8 frames), loads it (frames produced from now on are
        compressed with it), stops collecting and returns its id. Takes tens to hundreds of
        milliseconds. Replicas need the same bytes (:meth:`dictionary`, sent out of band) loaded
        with :meth:`load_dictionary` before they can apply those frames."""
        max_size = checked_int("max_size", max_size, 0, SIZE_MAX)
        dict_id = ctypes.c_uint32()
        status = LIB.podsync_store_train_dictionary(self._h().ptr, max_size, ctypes.byref(dict_id))
        if status < 0:
            self._fail(status, "podsync_store_train_dictionary")
        return dict_id.value

    def load_dictionary(self, data: Any) -> int:
        """Loads a zstd dictionary (any buffer; copied by the library) so that frames compressed
        with it can be applied; frames this store produces from now on are compressed with it.
        Returns its id. Loading an id already loaded replaces it; a store keeps up to 8.
        :class:`InvalidArgument` if the bytes are not a zstd dictionary with an id."""
        arg, size, keep = buffer_arg(data)
        dict_id = ctypes.c_uint32()
        status = LIB.podsync_store_load_dictionary(self._h().ptr, arg, size, ctypes.byref(dict_id))
        del keep
        if status < 0:
            self._fail(status, "podsync_store_load_dictionary")
        return dict_id.value

    def dictionary(self) -> tuple[int, bytes] | None:
        """The dictionary this store compresses with, as ``(id, bytes)`` (a copy, to send to
        replicas), or None if it has none."""
        dict_id = ctypes.c_uint32()
        status = LIB.podsync_store_dictionary(self._h().ptr, self._ref_ptr, self._ref_size, ctypes.byref(dict_id))
        if status < 0:
            self._fail(status, "podsync_store_dictionary")
        if status == Status.NOT_FOUND:
            return None
        # Borrowed until the next train/load: copied so it outlives them.
        return dict_id.value, ctypes.string_at(self._out_ptr.value or 0, self._out_size.value)

    # --- digest -------------------------------------------------------------------------------

    def digest(self) -> int:
        """The order-independent digest of the (flushed / applied) state; O(1)."""
        status = LIB.podsync_store_digest(self._h().ptr, self._ref_u64)
        if status < 0:
            self._fail(status, "podsync_store_digest")
        return self._out_u64.value

    @property
    def version(self) -> int:
        """The version of the flushed (writer) or applied (replica) state."""
        return self.info().state_version

    @property
    def role(self) -> Role:
        return self.info().role

    @property
    def term(self) -> int:
        """The term the writer writes, or the replica follows (``info().term``; library 0.6.0)."""
        return self.info().term

    @property
    def durable_version(self) -> int:
        """Durable store: the newest version on disk, checkpoint or fsynced log (0 without files)."""
        return self.info().durable_version

    @property
    def log_bytes(self) -> int:
        """Durable store: bytes in the log segments since the newest checkpoint."""
        return self.info().log_bytes

    @property
    def durable(self) -> bool:
        """True for a store opened with :func:`podsync.open_store`."""
        return self.info().durable

    @property
    def log_failed(self) -> bool:
        """True after a log write failed: producing frames raises :class:`PodSyncIOError` until a
        :meth:`checkpoint` succeeds."""
        return self.info().log_failed

    @property
    def views_alive(self) -> int:
        """How many views of this store's record memory are alive (0: writes are allowed)."""
        handle = self._h()
        return handle.exports[RECORDS]

    def __repr__(self) -> str:
        if self._handle is None:
            return f"<podsync.{type(self).__name__} (closed)>"
        i = self.info()
        return (
            f"<podsync.{type(self).__name__} version={i.state_version} stream={i.stream_id:#x} "
            f"digest={i.digest:#018x} tables={i.table_count}>"
        )


class Writer(Store):
    """A store in the writer role: owns the state, ``put``/``delete`` and ``flush`` frames.

    Options: ``stream_id`` (0 or None: random), ``frame_digest`` (frames carry the digest; default
    True), ``manual_clock`` (time only from :meth:`set_time`), ``max_batch_records``,
    ``max_batch_bytes``, ``max_batch_age_ms`` (flush policy), ``max_frame_bytes`` (split flushes),
    ``tombstone_horizon`` (versions of deletions remembered for catch-up), ``compression_level``
    (0: frames never compressed; else the zstd level, 1 is fast; a frame is compressed only where
    that makes it at least 5% smaller), ``transforms`` (``TRANSFORM_*`` bits used before
    compressing), ``max_records`` (most live records, pending writes included: a write past it
    raises :class:`LimitError` and writes nothing), ``max_tombstones`` (deletions remembered for
    catch-up deltas), ``frame_format`` (2, the default since library 0.8.0, or 0: compact format-2
    headers, read by replicas of library 0.5.0 and later; 1: format-1 frames with their 88-byte
    header, for older replicas; chunks and refresh slices are always format 2),
    ``refresh_flushes`` (rolling refresh, library 0.5.0: 0 = off, the default; R > 0: every
    flush's last frame also carries the next slice of the whole state, about records / R of them,
    so the state is re-sent every R flushes and ``one_way`` replicas converge without asking back;
    turns the XOR transform off) and ``refresh_ms`` (with ``refresh_flushes``: after this many
    milliseconds without a frame :meth:`flush_due` is True and :meth:`flush` of an empty batch sends
    a refresh-only frame; 0 = only with flushes); None = library default.
    """

    def __init__(
        self,
        schema: Schema | bytes | bytearray | memoryview,
        *,
        stream_id: int | None = None,
        frame_digest: bool | None = None,
        manual_clock: bool | None = None,
        max_batch_records: int | None = None,
        max_batch_bytes: int | None = None,
        max_batch_age_ms: int | None = None,
        max_frame_bytes: int | None = None,
        tombstone_horizon: int | None = None,
        compression_level: int | None = None,
        transforms: int | None = None,
        max_records: int | None = None,
        max_tombstones: int | None = None,
        frame_format: int | None = None,
        refresh_flushes: int | None = None,
        refresh_ms: int | None = None,
    ) -> None:
        super().__init__(
            schema,
            Role.WRITER,
            stream_id=stream_id,
            frame_digest=frame_digest,
            manual_clock=manual_clock,
            max_batch_records=max_batch_records,
            max_batch_bytes=max_batch_bytes,
            max_batch_age_ms=max_batch_age_ms,
            max_frame_bytes=max_frame_bytes,
            tombstone_horizon=tombstone_horizon,
            compression_level=compression_level,
            transforms=transforms,
            max_records=max_records,
            max_tombstones=max_tombstones,
            frame_format=frame_format,
            refresh_flushes=refresh_flushes,
            refresh_ms=refresh_ms,
        )

    def __enter__(self) -> Writer:
        self._h()
        return self


class Replica(Store):
    """A store in the replica role: changes only by :meth:`apply`; can serve ``catch_up``,
    ``delta_since`` and ``snapshot`` frames to further replicas (``tombstone_horizon`` and
    ``max_tombstones`` bound how far back its deltas reach). What one frame may cost it:
    ``max_decoded_bytes`` bounds what a compressed frame may decode to (else
    :class:`FrameTooLarge`), ``max_records`` the records it holds (a frame that would exceed it
    raises :class:`LimitError`, nothing applied). A replica fed from an untrusted source sets
    both. ``fill_in_place`` (library 0.5.0): while the replica is empty and follows no stream, the
    chunks of a chunked snapshot fill its tables as they arrive (readers see them fill; version 0
    until the last chunk) instead of being staged beside the state. ``frame_format`` is the format
    of the frames it serves to further replicas (``delta_since``, ``snapshot``; 2, the default
    since library 0.8.0, or 1). ``one_way`` (library 0.5.0): a replica on a link that cannot ask
    back (broadcast, a lossy one-way link) never returns ``GAP``: out of sync, it takes the
    absolute content of the frames it gets, key by key, newest version first, returns
    ``REFRESHING`` and has ``info().refreshing`` set (serving no deltas or snapshots meanwhile); a
    frame whose digest it then equals returns ``OK`` again. It converges through the writer's
    rolling refresh (``Writer(refresh_flushes=R)``)."""

    def __init__(
        self,
        schema: Schema | bytes | bytearray | memoryview,
        *,
        frame_digest: bool | None = None,
        tombstone_horizon: int | None = None,
        max_decoded_bytes: int | None = None,
        max_records: int | None = None,
        max_tombstones: int | None = None,
        fill_in_place: bool | None = None,
        frame_format: int | None = None,
        one_way: bool | None = None,
    ) -> None:
        super().__init__(
            schema, Role.REPLICA, frame_digest=frame_digest, tombstone_horizon=tombstone_horizon,
            max_decoded_bytes=max_decoded_bytes, max_records=max_records, max_tombstones=max_tombstones,
            fill_in_place=fill_in_place, frame_format=frame_format, one_way=one_way,
        )

    def __enter__(self) -> Replica:
        self._h()
        return self

