"""Durable stores (library 0.6.0): ``podsync_store_open``, checkpoints, the frame log, promotion.

A durable store lives in a directory as well as in memory: complete checkpoints
(``checkpoint-<n>.psc``), frame log segments (``log-<n>.psl``) and a ``LOCK`` held by the store
that has it open (docs/FORMAT.md, "Files"). :func:`open_store` creates or restores one; the
:class:`Store` it returns has :meth:`Store.checkpoint`, :meth:`Store.checkpoint_steps`,
:meth:`Store.sync` and, like any replica, :meth:`Store.promote`.
"""

from __future__ import annotations

import ctypes
import enum
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import (
    U32_MAX,
    U64_MAX,
    ArgumentTypeError,
    ClosedError,
    FileCorrupt,
    InvalidArgument,
    Status,
    checked_int,
    last_errmsg,
    raise_for,
)
from ._ffi import (
    DURABILITY_OPTIONS_VERSION,
    LIB,
    LOG_EVERY_FRAME,
    LOG_INTERVAL,
    LOG_NONE,
    LOG_OS,
    OPEN_INFO_VERSION,
    OPENED_CREATED,
    OPENED_FALLBACK,
    OPENED_NEW_TERM,
    ROLE_REPLICA,
    ROLE_WRITER,
    STORE_INFO_VERSION,
    CheckpointP,
    DurabilityOptions as _CDurabilityOptions,
    OpenInfo as _COpenInfo,
    StoreInfo as _CStoreInfo,
    StoreP,
)

if TYPE_CHECKING:
    from ._schema import Schema
    from ._store import Role, Store

SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1


class LogPolicy(enum.IntEnum):
    """``PODSYNC_LOG_*``: when a durable store's frame log reaches the disk. :func:`open_store`
    also takes the lower-case names as strings (``"every_frame"``, ``"interval"``, ``"os"``,
    ``"none"``)."""

    NONE = LOG_NONE  #: no frame log: the store reopens at its last checkpoint (a writer in a new term)
    #: fsync each flush's frames before :meth:`Store.flush` returns them (and each applied frame):
    #: a writer reopens at exactly the last version it handed out, in the same term (the default)
    EVERY_FRAME = LOG_EVERY_FRAME
    #: fsync when ``sync_interval_ms`` passed since the last one (and on :meth:`Store.sync`)
    INTERVAL = LOG_INTERVAL
    #: write, never fsync: survives a kill of the process, not a power loss
    OS = LOG_OS


@dataclass(frozen=True)
class OpenInfo:
    """What :func:`open_store` found (``podsync_open_info``), as ``store.open_info``."""

    created: bool  #: the directory held no checkpoint: a new store was made (checkpoint at version 0)
    #: the writer started a new term (it could not prove it lost nothing, or ``new_term`` said so)
    new_term: bool
    fallback: bool  #: a newer checkpoint did not verify; an older one was used (``skipped_status``)
    checkpoint_version: int  #: the version of the checkpoint restored
    restored_version: int  #: the version after replaying the log
    log_frames: int  #: log frames replayed (duplicates of the checkpoint included)
    dropped_bytes: int  #: log bytes from the first torn or corrupt record on, dropped
    term: int  #: the term the store writes (writer) or follows (replica)
    #: why a newer checkpoint was skipped (a negative status, usually ``Status.E_FILE_CORRUPT``);
    #: 0 if none was
    skipped_status: int
    flags: int  #: the raw ``PODSYNC_OPENED_*`` bits

    @classmethod
    def _from_c(cls, c: _COpenInfo) -> OpenInfo:
        return cls(
            created=bool(c.flags & OPENED_CREATED), new_term=bool(c.flags & OPENED_NEW_TERM),
            fallback=bool(c.flags & OPENED_FALLBACK), checkpoint_version=c.checkpoint_version,
            restored_version=c.restored_version, log_frames=c.log_frames, dropped_bytes=c.dropped_bytes,
            term=c.term, skipped_status=c.skipped_status, flags=c.flags,
        )  # fmt: skip


_POLICY_NAMES = {"none": LogPolicy.NONE, "every_frame": LogPolicy.EVERY_FRAME, "interval": LogPolicy.INTERVAL,
                 "os": LogPolicy.OS}  # fmt: skip


def _log_policy(value: Any) -> int:
    if isinstance(value, str):
        found = _POLICY_NAMES.get(value.lower().replace("-", "_"))
        if found is None:
            raise InvalidArgument(
                Status.E_INVALID_ARGUMENT,
                f"log_policy {value!r} is none of {', '.join(repr(n) for n in _POLICY_NAMES)}",
                call="open_store",
            )
        return int(found)
    return checked_int("log_policy", value, 0, U32_MAX)  # the library refuses values it does not know


def durability_options(
    log_policy: LogPolicy | str | int, sync_interval_ms: int, new_term: int, keep_checkpoints: int
) -> _CDurabilityOptions:
    """The options struct: the library's defaults, then every option given, range-checked."""
    c = _CDurabilityOptions()
    status = LIB.podsync_durability_options_init(ctypes.byref(c), DURABILITY_OPTIONS_VERSION)
    if status < 0:
        raise_for(status, last_errmsg, "podsync_durability_options_init")
    c.log_policy = _log_policy(log_policy)
    c.sync_interval_ms = checked_int("sync_interval_ms", sync_interval_ms, 0, U64_MAX)
    c.new_term = checked_int("new_term", new_term, 0, U64_MAX)
    c.keep_checkpoints = checked_int("keep_checkpoints", keep_checkpoints, 0, U32_MAX)  # >= 1: the library
    return c


def _role(role: Any) -> int:
    if role is None:
        return 0
    if isinstance(role, str):
        found = {"writer": ROLE_WRITER, "replica": ROLE_REPLICA}.get(role.lower())
        if found is None:
            raise InvalidArgument(
                Status.E_INVALID_ARGUMENT, f"role {role!r} is neither 'writer' nor 'replica'", call="open_store"
            )
        return found
    return checked_int("role", role, 0, U32_MAX)  # the library refuses values it does not know


def _path(directory: Any) -> bytes:
    try:
        path = os.fsencode(directory)
    except TypeError:
        raise ArgumentTypeError(
            f"directory must be a str, bytes or os.PathLike, got {type(directory).__name__}", call="open_store"
        ) from None
    if not path or b"\0" in path:
        raise InvalidArgument(
            Status.E_INVALID_ARGUMENT, "directory is empty or contains a NUL character", call="open_store"
        )
    return path


# --- the schema of a directory -------------------------------------------------------------------

_FILE_HEADER = struct.Struct("<8sII")  # magic, file_version, header_length (docs/FORMAT.md, "Files")
_BLOCK_HEADER = struct.Struct("<IIQQ")  # kind, reserved, length, checksum
_KIND_SCHEMA = 1


def _schema_in_checkpoint(path: Path) -> bytes | None:
    """The SCHEMA block's body (the schema's canonical encoding) of a checkpoint file, or None if
    the file does not start as one should. Its checksum is not checked here: the caller decodes
    it (every byte validated) and compares its hash with the store's."""
    try:
        with open(path, "rb") as f:
            head = f.read(_FILE_HEADER.size)
            if len(head) < _FILE_HEADER.size:
                return None
            magic, _, header_length = _FILE_HEADER.unpack(head)
            if magic != b"PSYNCKPT" or header_length < 48:
                return None
            f.seek(header_length)
            block = f.read(_BLOCK_HEADER.size)
            if len(block) < _BLOCK_HEADER.size:
                return None
            kind, _, length, _ = _BLOCK_HEADER.unpack(block)
            if kind != _KIND_SCHEMA or length > path.stat().st_size:
                return None
            body = f.read(length)
            return body if len(body) == length else None
    except OSError:
        return None


def schema_of_directory(directory: bytes, schema_hash: int) -> Schema:
    """The schema of the store just opened from `directory` (whose hash is `schema_hash`), read
    from the SCHEMA block of its checkpoints, newest first: the C API has no call that returns a
    store's schema, and the binding needs its tables to read records."""
    from ._schema import Schema

    root = Path(os.fsdecode(directory))
    for path in sorted(root.glob("checkpoint-*.psc"), reverse=True):
        body = _schema_in_checkpoint(path)
        if body is None:
            continue
        try:
            schema = Schema.from_bytes(body)
        except Exception:
            continue
        if schema.hash == schema_hash:
            return schema
        schema.close()
    raise FileCorrupt(
        Status.E_FILE_CORRUPT,
        f"no checkpoint in {root} holds the schema of the store opened (hash {schema_hash:#018x}); "
        "pass schema= to open_store",
        call="open_store",
    )


# --- open ----------------------------------------------------------------------------------------


def open_store(
    directory: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    schema: Schema | bytes | bytearray | memoryview | None = None,
    role: Role | int | str | None = None,
    *,
    log_policy: LogPolicy | str | int = "every_frame",
    sync_interval_ms: int = 100,
    new_term: int = 0,
    keep_checkpoints: int = 2,
    **options: Any,
) -> Store:
    """Opens the durable store in `directory` (``podsync_store_open``), creating the directory
    and the store if it holds no checkpoint, and returns it as a :class:`Writer` or a
    :class:`Replica` (by the role found), with :attr:`Store.open_info` saying what was found.

    * An empty or missing directory: a store of `schema` (a :class:`Schema` or its encoding) and
      `role` (``Role``, ``1``/``2``, or ``"writer"``/``"replica"``; both required, else
      :class:`InvalidArgument`) is created and its first checkpoint (version 0) written at once,
      so a writer's stream id is durable before its first frame (``open_info.created``).
    * Otherwise the newest checkpoint that verifies is restored, then the log after it, up to the
      first torn or corrupt record (``open_info.dropped_bytes``); a newer checkpoint that does not
      verify is skipped (``open_info.fallback``). `schema` may be None (the binding then reads it
      from the directory); given, it must be the store's (:class:`SchemaMismatch`). `role` None
      takes the files' role; another role raises :class:`WrongRole`. A restored writer keeps its
      stream id, version and record versions: replicas continue with deltas.

    Durability: `log_policy` (:class:`LogPolicy` or its name: ``"every_frame"``, the default,
    fsyncs a flush's frames before returning them, so a writer reopens at exactly the last
    version it handed out, in the same term; ``"interval"`` fsyncs every `sync_interval_ms`;
    ``"os"`` never fsyncs; ``"none"`` keeps no log: with any of these a writer reopens at its
    last durable version in a NEW term); `new_term` (the term a writer that reopens without proof
    that it lost nothing starts, 0: its previous term + 1; where replicas may be promoted, pass
    your coordinator's term); `keep_checkpoints` (complete checkpoints kept, at least 1).
    `options` are those of :class:`Store` (``stream_id`` is used only when creating).

    The directory is locked while the store is open (until :meth:`Store.close`, or until the last
    view of its memory and the last :class:`Checkpoint` are gone): a second open raises
    :class:`PodSyncIOError`, as does a directory that cannot be created or read. No checkpoint
    that verifies: :class:`FileCorrupt`.
    """
    from ._schema import Schema
    from ._store import Replica, Writer, _options

    path = _path(directory)
    role_value = _role(role)
    opts = _options(**options)
    durable = durability_options(log_policy, sync_interval_ms, new_term, keep_checkpoints)
    sch: Schema | None
    if schema is None or isinstance(schema, Schema):
        sch, own = schema, False
    else:
        sch, own = Schema.from_bytes(schema), True
    c_open = _COpenInfo()
    c_open.version = OPEN_INFO_VERSION
    c_info = _CStoreInfo()
    c_info.version = STORE_INFO_VERSION
    out = StoreP()
    try:
        status = LIB.podsync_store_open(
            path, sch._handle() if sch is not None else None, role_value, ctypes.byref(opts), ctypes.byref(durable),
            ctypes.byref(c_open), ctypes.byref(out),
        )  # fmt: skip
        if status < 0:
            raise_for(status, last_errmsg, "podsync_store_open")
        try:
            status = LIB.podsync_store_info_get(out, ctypes.byref(c_info))
            if status < 0:
                raise_for(status, lambda: LIB.podsync_store_errmsg(out), "podsync_store_info_get")
            if sch is None:
                sch, own = schema_of_directory(path, c_info.schema_hash), True
            tables, schema_bytes = sch.tables, sch.to_bytes()
        except BaseException:
            LIB.podsync_store_free(out)
            raise
    finally:
        if own and sch is not None:
            sch.close()
    cls: type[Store] = Writer if c_info.role == ROLE_WRITER else Replica
    store = cls.__new__(cls)
    store._adopt(out, tables, schema_bytes)
    store.open_info = OpenInfo._from_c(c_open)
    return store


# --- checkpoints written step by step --------------------------------------------------------------


class Checkpoint:
    """A checkpoint being written step by step (from :meth:`Store.checkpoint_steps`; not
    constructed directly): the image of the store's state was taken when it began, and each step
    writes about ``max_bytes`` more of it (at least one chunk) while the store keeps working
    (writes, flushes, applies between steps; copy-on-write keeps the image).

    Drive it with :meth:`step` (True once the checkpoint is complete and durable) or iterate it:
    each ``next()`` writes one step and yields the number of steps written so far; the iteration
    ends when the checkpoint is complete::

        with store.checkpoint_steps(1 << 20) as checkpoint:
            for _ in checkpoint:
                store.put_many(1, keys, records)   # the store keeps working between steps
                frames = store.flush()
        assert checkpoint.finished

    :meth:`finish` writes everything left at once. The object owns the ``podsync_checkpoint``
    handle, freed when the checkpoint completes, on :meth:`close`, on leaving a ``with`` block and,
    as a last resort, by garbage collection; closing it before it completes ABANDONS the checkpoint
    (its temporary file is removed; the older checkpoints stay). The handle keeps its store alive
    in the library (so closing the :class:`Store` first is allowed, but the directory stays locked
    until the checkpoint is freed too). A checkpoint and its store are used by one thread at a time.

    A failed write (:class:`PodSyncIOError` when the disk is full or the directory read-only)
    abandons the checkpoint in the library, leaving the older files as they were; a later step
    raises :class:`InvalidArgument` (begin a new one). After :meth:`close` of an unfinished
    checkpoint, steps raise :class:`ClosedError`.
    """

    __slots__ = ("_ptr", "_finished", "max_bytes", "steps", "__weakref__")

    def __init__(self, ptr: Any, max_bytes: int) -> None:
        self._ptr: Any = ptr  # CheckpointP, or None once freed
        self._finished = False
        #: the default size of a step (0: everything in one step)
        self.max_bytes: int = max_bytes
        #: steps written so far
        self.steps: int = 0

    def step(self, max_bytes: int | None = None) -> bool:
        """Writes at least one chunk and about `max_bytes` (default: :attr:`max_bytes`; 0:
        everything left). Returns True once the checkpoint is complete and durable (as
        :meth:`Store.checkpoint`: a new log segment started and the oldest files went), False
        while more remains. True again if called after completion."""
        if self._finished:
            return True
        ptr = self._ptr
        if ptr is None:
            raise ClosedError("step of a closed Checkpoint (abandoned)", call="podsync_checkpoint_step")
        size = self.max_bytes if max_bytes is None else checked_int("max_bytes", max_bytes, 0, SIZE_MAX)
        status = LIB.podsync_checkpoint_step(ptr, size)
        if status < 0:
            raise_for(status, lambda: LIB.podsync_checkpoint_errmsg(ptr), "podsync_checkpoint_step")
        self.steps += 1
        if status == Status.DONE:
            self._finished = True
            self._free()
            return True
        return False

    def finish(self) -> None:
        """Writes everything left (one step of any size) and completes the checkpoint."""
        self.step(0)

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        if self._finished:
            raise StopIteration
        if self.step():
            raise StopIteration
        return self.steps

    @property
    def finished(self) -> bool:
        """True once the checkpoint is complete and durable."""
        return self._finished

    @property
    def closed(self) -> bool:
        """True once the handle is freed (after completion, or :meth:`close`)."""
        return self._ptr is None

    def _free(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            LIB.podsync_checkpoint_free(ptr)

    def close(self) -> None:
        """Frees the handle, abandoning an unfinished checkpoint (its temporary file is removed).
        Idempotent."""
        self._free()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        ptr = getattr(self, "_ptr", None)
        if ptr is not None:
            self._ptr = None
            try:
                LIB.podsync_checkpoint_free(ptr)
            except Exception:  # pragma: no cover - interpreter teardown
                pass

    def __repr__(self) -> str:
        state = "finished" if self._finished else ("abandoned" if self._ptr is None else "open")
        return f"<podsync.Checkpoint: {state} after {self.steps} step(s)>"


def begin_checkpoint(store_ptr: Any, max_bytes: int, errmsg: Any) -> Checkpoint:
    out = CheckpointP()
    status = LIB.podsync_checkpoint_begin(store_ptr, ctypes.byref(out))
    if status < 0:
        raise_for(status, errmsg, "podsync_checkpoint_begin")
    return Checkpoint(out, max_bytes)

