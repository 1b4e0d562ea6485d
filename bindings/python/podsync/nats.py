"""PodSync's carrier on NATS JetStream: ``libpodsync_nats.so`` (``include/podsync_nats.h``).

A :class:`Publisher` attaches a writer store to a NATS server (or cluster) and a stream name: each
:meth:`Publisher.flush` flushes the store and publishes its frames to the JetStream stream
``<stream>`` (subject ``podsync.<stream>.frames``, one message per frame), and from time to time a
chunked snapshot to the stream ``<stream>_SNAP``. A :class:`Follower` attaches a replica store:
each :meth:`Follower.poll` bootstraps it from the newest snapshot when it needs one and applies the
frames in stream order, repairing gaps from the stream::

    import podsync, podsync.nats

    with podsync.Writer(schema, max_frame_bytes=256 << 10) as writer, \\
         podsync.nats.Publisher(writer, "nats://127.0.0.1:4222", "world") as publisher:
        writer.put_many(1, keys, records)
        publisher.flush()                      # frames acknowledged by the stream

    with podsync.Replica(schema) as replica, \\
         podsync.nats.Follower(replica, "nats://127.0.0.1:4222", "world") as follower:
        follower.poll(timeout_ms=100)          # or: await follower.poll_async(100)

**Threads.** A store and the publisher or follower attached to it are used from ONE thread at a
time, together (the rule of ``podsync.h``: the carrier drives the store inside its own calls). Do
not touch the store (writes, reads, views, ``flush``) while a call of its carrier runs in another
thread, e.g. while :meth:`Follower.poll_async` is awaited. Calls on one carrier from two threads at
once raise :class:`ConcurrentUseError` instead of racing. Distinct stores with their carriers are
independent and may run in different threads. The carrier's calls release the GIL while they wait
for the server.

**Relays.** :meth:`Follower.relay` republishes what a follower applies to another stream (another
region's server), with snapshots, for followers there.

**Lifetime.** A publisher or follower keeps a reference to its store, so the store outlives it;
``store.close()`` while a carrier is attached makes the carrier's later calls raise
:class:`~podsync.ClosedError`, and the store's memory is freed when the carrier is closed.

**Errors.** The carrier's own statuses raise subclasses of :class:`NatsError` (a
:class:`~podsync.PodSyncError`): :class:`NatsConnectionError`, :class:`NatsTimeoutError`,
:class:`StreamMissingError`, :class:`MessageTooLargeError`, :class:`NatsServerError`,
:class:`NotAMessageError`; an engine status a carrier call passes through raises the package's
usual exception (``WrongRole``, ``InvalidArgument``, ``PodSyncIOError``...).

**Loading.** ``import podsync.nats`` loads ``libpodsync_nats.so`` (after ``import podsync`` loaded
``libpodsync.so``) from, in order: ``$PODSYNC_NATS_LIB`` (a path; when set nothing else is tried),
the copy bundled beside the package's ``libpodsync.so`` (``podsync/_lib/libpodsync_nats.so``),
the directory of the ``libpodsync.so`` the package loaded, the system's (``ldconfig``). The
carrier links ``libpodsync.so.0``; the loader checks that it is bound to the very engine the package
loaded (one engine in the process, so stores can be handed to it), else it tries the next place.
It needs ``libnats`` (``apt-get install libnats3.4`` / ``libnats-dev``) unless a wheel bundles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import enum
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import _ffi
from ._errors import (
    U64_MAX,
    ArgumentTypeError,
    ClosedError,
    InvalidArgument,
    PodSyncError,
    Status,
    UsageError,
    _BY_STATUS,
    checked_int,
)
from ._ffi import LIB, LibraryNotFoundError, StoreP
from ._memory import CHANGES, OUTBOX, RECORDS, StoreHandle
from ._store import Store

#: The ABI version of ``podsync_nats.h`` this module was written against (PODSYNC_NATS_ABI_VERSION).
ABI_VERSION = 1
#: The oldest carrier library version that has every function of the table below.
LIBRARY_MIN_VERSION = "0.1.0"

#: Environment variable naming the carrier library to load (a path to ``libpodsync_nats.so``).
LIBRARY_ENV = "PODSYNC_NATS_LIB"
LIBRARY_NAME = "libpodsync_nats.so"

# --- constants of podsync_nats.h ------------------------------------------------------------------

OPTIONS_VERSION = 1
PUBLISHER_STATS_VERSION = 1
FOLLOWER_STATS_VERSION = 1
STORAGE_FILE = 0
STORAGE_MEMORY = 1

E_CONNECTION = -60
E_TIMEOUT = -61
E_STREAM_MISSING = -62
E_MSG_TOO_LARGE = -63
E_SERVER = -64
E_NOT_A_MESSAGE = -65


class NatsStatus(enum.IntEnum):
    """The carrier's own statuses (``PODSYNC_NATS_E_*``; ``podsync.h`` reserves -60..-79)."""

    E_CONNECTION = E_CONNECTION  #: cannot connect, or the connection is lost or closed
    E_TIMEOUT = E_TIMEOUT  #: the server did not answer within timeout_ms
    E_STREAM_MISSING = E_STREAM_MISSING  #: a follower's stream does not exist (yet)
    E_MSG_TOO_LARGE = E_MSG_TOO_LARGE  #: a frame is larger than the server accepts
    E_SERVER = E_SERVER  #: JetStream refused a request
    E_NOT_A_MESSAGE = E_NOT_A_MESSAGE  #: a message on the carrier's subjects that is not what it should be


# --- structs ---------------------------------------------------------------------------------------


class NatsOptions(ctypes.Structure):
    """``podsync_nats_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint32),
        ("storage", ctypes.c_uint32),
        ("replicas", ctypes.c_uint32),
        ("max_reconnects", ctypes.c_int32),
        ("max_age_ms", ctypes.c_uint64),
        ("max_bytes", ctypes.c_uint64),
        ("snapshot_every_versions", ctypes.c_uint64),
        ("snapshot_every_ms", ctypes.c_uint64),
        ("timeout_ms", ctypes.c_uint64),
        ("reconnect_wait_ms", ctypes.c_uint64),
        ("client_name", ctypes.c_char_p),
    ]


class CPublisherStats(ctypes.Structure):
    """``podsync_nats_publisher_stats`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint32),
        ("connected", ctypes.c_uint32),
        ("frames_published", ctypes.c_uint64),
        ("bytes_published", ctypes.c_uint64),
        ("frames_pending", ctypes.c_uint64),
        ("frames_dropped", ctypes.c_uint64),
        ("snapshots_published", ctypes.c_uint64),
        ("snapshot_version", ctypes.c_uint64),
        ("last_sequence", ctypes.c_uint64),
        ("reconnects", ctypes.c_uint64),
    ]


class CFollowerStats(ctypes.Structure):
    """``podsync_nats_follower_stats`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint32),
        ("connected", ctypes.c_uint32),
        ("frames_applied", ctypes.c_uint64),
        ("duplicates", ctypes.c_uint64),
        ("snapshots_taken", ctypes.c_uint64),
        ("gaps_repaired", ctypes.c_uint64),
        ("rejected", ctypes.c_uint64),
        ("next_sequence", ctypes.c_uint64),
        ("state_version", ctypes.c_uint64),
        ("bytes_received", ctypes.c_uint64),
        ("reconnects", ctypes.c_uint64),
        ("last_rejected_status", ctypes.c_int32),
        ("reserved", ctypes.c_uint32),
    ]


class _PublisherT(ctypes.Structure):
    pass


class _FollowerT(ctypes.Structure):
    pass


PublisherP = ctypes.POINTER(_PublisherT)
FollowerP = ctypes.POINTER(_FollowerT)
_sizep = ctypes.POINTER(ctypes.c_size_t)

# --- THE table: every function of podsync_nats.h, in header order: name -> (restype, argtypes) ----
# restype always explicit (None for void), as in _ffi.FUNCTIONS.
FUNCTIONS: dict[str, tuple[Any, list[Any]]] = {
    "podsync_nats_version_number": (ctypes.c_uint32, []),
    "podsync_nats_status_name": (ctypes.c_char_p, [ctypes.c_int32]),
    "podsync_nats_last_errmsg": (ctypes.c_char_p, []),
    "podsync_nats_options_init": (ctypes.c_int32, [ctypes.POINTER(NatsOptions), ctypes.c_uint32]),
    # Publisher
    "podsync_nats_publisher_create": (
        ctypes.c_int32,
        [StoreP, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(NatsOptions), ctypes.POINTER(PublisherP)],
    ),
    "podsync_nats_publisher_flush": (ctypes.c_int32, [PublisherP, _sizep]),
    "podsync_nats_publisher_snapshot": (ctypes.c_int32, [PublisherP]),
    "podsync_nats_publisher_stats_get": (ctypes.c_int32, [PublisherP, ctypes.POINTER(CPublisherStats)]),
    "podsync_nats_publisher_errmsg": (ctypes.c_char_p, [PublisherP]),
    "podsync_nats_publisher_free": (None, [PublisherP]),
    # Follower
    "podsync_nats_follower_create": (
        ctypes.c_int32,
        [StoreP, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(NatsOptions), ctypes.POINTER(FollowerP)],
    ),
    "podsync_nats_follower_poll": (ctypes.c_int32, [FollowerP, ctypes.c_uint64, _sizep]),
    "podsync_nats_follower_stats_get": (ctypes.c_int32, [FollowerP, ctypes.POINTER(CFollowerStats)]),
    "podsync_nats_follower_errmsg": (ctypes.c_char_p, [FollowerP]),
    "podsync_nats_follower_relay": (
        ctypes.c_int32,
        [FollowerP, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(NatsOptions)],
    ),
    "podsync_nats_follower_relay_stats": (ctypes.c_int32, [FollowerP, ctypes.POINTER(CPublisherStats)]),
    "podsync_nats_follower_free": (None, [FollowerP]),
}


# --- loading ---------------------------------------------------------------------------------------


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _dladdr_function() -> Any:
    for name in (None, "libdl.so.2"):
        try:
            fn = ctypes.CDLL(name).dladdr
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
        return fn
    return None


_DLADDR = _dladdr_function()


def _address(fn: Any) -> int:
    return int(ctypes.cast(fn, ctypes.c_void_p).value or 0)


def _file_of(address: int) -> str | None:
    """The file of the shared object that holds `address` (dladdr), or None."""
    if _DLADDR is None or not address:
        return None
    info = _DlInfo()
    if not _DLADDR(address, ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname)


#: The file of the engine the package loaded (its path, even when found through ldconfig).
ENGINE_PATH: str = _file_of(_address(LIB.podsync_store_create)) or _ffi.LIBRARY_PATH


def _candidates() -> list[tuple[str, Path | str]]:
    """Where the carrier library is looked for, in order, as (description, path) pairs."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [(f"${LIBRARY_ENV}", Path(env))]  # an explicit choice: no silent fallback
    bundled = Path(_ffi.__file__).resolve().parent / "_lib" / LIBRARY_NAME
    found: list[tuple[str, Path | str]] = [("bundled with the package", bundled)]
    engine = Path(ENGINE_PATH)
    if engine.is_absolute():
        beside = engine.parent / LIBRARY_NAME
        if beside != bundled:
            found.append((f"beside the loaded {engine.name}", beside))
    system = ctypes.util.find_library("podsync_nats")
    found.append(("system (ldconfig)", system if system else "libpodsync_nats.so (not in ldconfig)"))
    return found


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in FUNCTIONS.items():
        fn = getattr(lib, name)  # AttributeError names a symbol the library lacks
        fn.restype = restype
        fn.argtypes = argtypes


def _version_text(n: int) -> str:
    return f"{n // 10000}.{n // 100 % 100}.{n % 100}"


def load_library() -> tuple[ctypes.CDLL, str]:
    """Loads the carrier library (see :func:`_candidates`), declares every function and checks
    that it uses the engine the package loaded."""
    tried: list[str] = []
    engine_fn = _address(LIB.podsync_store_create)
    for what, path in _candidates():
        if isinstance(path, Path) and not path.is_file():
            tried.append(f"  {what}: {path} (no such file)")
            continue
        if isinstance(path, str) and "not in ldconfig" in path:
            tried.append(f"  {what}: {path}")
            continue
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            tried.append(f"  {what}: {path} ({exc})")
            continue
        try:
            _declare(lib)
        except AttributeError as exc:
            if hasattr(lib, "podsync_nats_version_number"):  # the carrier, without a function declared
                found = _version_text(int(lib.podsync_nats_version_number()))
                tried.append(f"  {what}: {path} (PodSync NATS carrier {found} lacks a function this package needs: {exc})")
            else:
                tried.append(f"  {what}: {path} (not the PodSync NATS carrier: {exc})")
            continue
        # The engine this library is bound to (dlsym through its handle searches its dependencies,
        # i.e. the libpodsync.so.0 it was linked against) must be the package's: a store made by
        # one copy of the engine handed to another would be undefined behaviour.
        try:
            bound = _address(lib.podsync_store_create)
        except AttributeError:
            bound = 0
        if bound != engine_fn:
            other = _file_of(bound) or "an unknown file"
            tried.append(
                f"  {what}: {path} (bound to another copy of the engine, {other}, than the one podsync "
                f"loaded, {ENGINE_PATH}: put it beside that libpodsync.so)"
            )
            continue
        return lib, str(path)
    raise LibraryNotFoundError(
        "cannot load libpodsync_nats.so (the NATS carrier); tried, in order:\n"
        + "\n".join(tried)
        + f"\nSet {LIBRARY_ENV} to the path of libpodsync_nats.so (built by `bash .ci/build-lib` when "
        "libnats-dev is installed; it needs libnats at run time), next to the libpodsync.so that "
        "podsync loads, and reinstall this package to bundle it."
    )


NLIB, LIBRARY_PATH = load_library()


def library_version() -> str:
    """The loaded carrier library's version, e.g. ``"0.1.0"`` (``podsync_nats_version_number``)."""
    return _version_text(int(NLIB.podsync_nats_version_number()))


# --- errors ----------------------------------------------------------------------------------------


def status_name(status: int) -> str:
    """The name of a status: the carrier's (``PODSYNC_NATS_E_TIMEOUT``), else the engine's."""
    raw = NLIB.podsync_nats_status_name(int(status))
    return raw.decode("ascii") if raw else "PODSYNC_UNKNOWN_STATUS"


class NatsError(PodSyncError):
    """A carrier error (``PODSYNC_NATS_E_*``): base of the classes below. ``status``,
    ``status_name`` (``"PODSYNC_NATS_E_..."``) and ``message`` as for every :class:`PodSyncError`.
    Errors of :meth:`Publisher.flush` carry ``published`` (frames acknowledged before the error),
    those of :meth:`Follower.poll` carry ``applied``."""

    def __init__(self, status: int, message: str = "", *, call: str = "") -> None:
        self.status = int(status)
        self.status_name = status_name(self.status)
        self.message = message
        self.call = call
        text = f"{call}: " if call else ""
        text += self.status_name + (f": {message}" if message else "")
        Exception.__init__(self, text)


class NatsConnectionError(NatsError, ConnectionError):
    """PODSYNC_NATS_E_CONNECTION: cannot connect, or the connection is lost or closed (the client
    reconnects in the background; nothing is lost: a publisher keeps its frames for the next flush,
    a follower resumes where it was). Also a ``ConnectionError``."""


class NatsTimeoutError(NatsError, TimeoutError):
    """PODSYNC_NATS_E_TIMEOUT: the server did not answer within ``timeout_ms`` (nothing lost, as
    for :class:`NatsConnectionError`). Also a ``TimeoutError``."""


class StreamMissingError(NatsError, LookupError):
    """PODSYNC_NATS_E_STREAM_MISSING: the follower's stream does not exist (yet): no publisher has
    created it. Poll again later."""


class MessageTooLargeError(NatsError, ValueError):
    """PODSYNC_NATS_E_MSG_TOO_LARGE: a frame was larger than the server accepts; it was not
    published and a snapshot in chunks that fit replaced it (followers heal). Give the writer a
    ``max_frame_bytes`` below the server's max_payload less 4 KiB."""


class NatsServerError(NatsError):
    """PODSYNC_NATS_E_SERVER: JetStream refused a request (the message has its error code and
    description)."""


class NotAMessageError(NatsError, ValueError):
    """PODSYNC_NATS_E_NOT_A_MESSAGE: a message on the carrier's subjects that is not what it should
    be (a snapshot marker with missing or contradictory headers). Frames that are not good frames
    of the stream are NOT raised: the follower skips and counts them
    (:attr:`FollowerStats.rejected`)."""


class ConcurrentUseError(UsageError, RuntimeError):
    """A carrier call while another call on the same publisher or follower runs in another thread
    (e.g. ``stats`` while :meth:`Follower.poll_async` is awaited). Nothing was done: await or join
    the first call, and keep a store and its carrier to one thread at a time."""


_NATS_ERRORS: dict[int, type[NatsError]] = {
    E_CONNECTION: NatsConnectionError,
    E_TIMEOUT: NatsTimeoutError,
    E_STREAM_MISSING: StreamMissingError,
    E_MSG_TOO_LARGE: MessageTooLargeError,
    E_SERVER: NatsServerError,
    E_NOT_A_MESSAGE: NotAMessageError,
}


def error_for(status: int, message: str = "", *, call: str = "") -> PodSyncError:
    """The exception for a status a carrier call returned: a :class:`NatsError` subclass for the
    carrier's statuses (-60..-79), else the engine's exception (``podsync.error_for``)."""
    status = int(status)
    cls = _NATS_ERRORS.get(status)
    if cls is not None:
        return cls(status, message, call=call)
    if -79 <= status <= -60:
        return NatsError(status, message, call=call)
    return _BY_STATUS.get(status, PodSyncError)(status, message, call=call)


def _raise(status: int, errmsg: Callable[[], bytes | None], call: str, **attrs: Any) -> None:
    raw = errmsg()
    err = error_for(status, raw.decode("utf-8", "replace") if raw else "", call=call)
    for name, value in attrs.items():
        setattr(err, name, value)
    raise err


def _last_errmsg() -> bytes | None:
    return NLIB.podsync_nats_last_errmsg()  # type: ignore[no-any-return]


# --- options ---------------------------------------------------------------------------------------

_STORAGE = {"file": STORAGE_FILE, "memory": STORAGE_MEMORY, STORAGE_FILE: STORAGE_FILE, STORAGE_MEMORY: STORAGE_MEMORY}


def _invalid(message: str, call: str = "podsync.nats.Options") -> InvalidArgument:
    return InvalidArgument(Status.E_INVALID_ARGUMENT, message, call=call)


def _text(name: str, value: object, call: str) -> bytes:
    """A str argument as NUL-terminated UTF-8 (a NUL inside would cut it silently in C)."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a str, got {type(value).__name__}", call=call)
    if "\0" in value:
        raise _invalid(f"{name} must not contain a NUL character", call)
    return value.encode("utf-8")


@dataclass(frozen=True, kw_only=True)
class Options:
    """``podsync_nats_options``: keyword arguments, ``None`` keeping the library's default.

    * ``storage``: the storage of the streams a publisher creates: ``"file"`` (default) or
      ``"memory"`` (or :data:`STORAGE_FILE` / :data:`STORAGE_MEMORY`);
    * ``replicas``: their replicas in a cluster (0 or 1: one; at most 5);
    * ``max_reconnects``: reconnect attempts per server (-1, the default: forever);
    * ``max_age_ms``, ``max_bytes``: the frame stream's limits when a publisher creates it (0, the
      default: none; existing streams are used as they are);
    * ``snapshot_every_versions`` (default 600), ``snapshot_every_ms`` (default 10000): when a
      publisher publishes a new snapshot (0: never by that measure);
    * ``timeout_ms``: each request and publish acknowledgement (default 5000; 1 to 3600000);
    * ``reconnect_wait_ms``: between reconnect attempts (default 100);
    * ``client_name``: the connection's name in the server's monitoring (default ``"podsync"``).

    Integers are checked against their C field (:class:`~podsync.OutOfRangeError`, an
    ``OverflowError``, outside it; :class:`~podsync.ArgumentTypeError` for a non-integer); the
    library checks the rest when a publisher or follower is created (:class:`~podsync.InvalidArgument`).
    """

    storage: str | int | None = None
    replicas: int | None = None
    max_reconnects: int | None = None
    max_age_ms: int | None = None
    max_bytes: int | None = None
    snapshot_every_versions: int | None = None
    snapshot_every_ms: int | None = None
    timeout_ms: int | None = None
    reconnect_wait_ms: int | None = None
    client_name: str | None = None

    def __post_init__(self) -> None:
        self._to_c()  # every check, at construction

    def _to_c(self) -> tuple[NatsOptions, bytes | None]:
        """The C struct (the library's defaults, then every option given) and the client name's
        bytes, which must stay referenced while the struct is used."""
        c = NatsOptions()
        status = NLIB.podsync_nats_options_init(ctypes.byref(c), OPTIONS_VERSION)
        if status < 0:
            _raise(status, _last_errmsg, "podsync_nats_options_init")
        if self.storage is not None:
            key = self.storage.lower() if isinstance(self.storage, str) else self.storage
            if isinstance(key, bool) or key not in _STORAGE:
                raise _invalid(f"storage must be 'file' or 'memory' (STORAGE_FILE / STORAGE_MEMORY), got {self.storage!r}")
            c.storage = _STORAGE[key]
        if self.replicas is not None:
            c.replicas = checked_int("replicas", self.replicas, 0, (1 << 32) - 1)
        if self.max_reconnects is not None:
            c.max_reconnects = checked_int("max_reconnects", self.max_reconnects, -1, (1 << 31) - 1)
        for name in ("max_age_ms", "max_bytes", "snapshot_every_versions", "snapshot_every_ms", "timeout_ms",
                     "reconnect_wait_ms"):  # fmt: skip
            value = getattr(self, name)
            if value is not None:
                setattr(c, name, checked_int(name, value, 0, U64_MAX))
        name_bytes = None
        if self.client_name is not None:
            name_bytes = _text("client_name", self.client_name, "podsync.nats.Options")
            c.client_name = name_bytes
        return c, name_bytes


# --- stats -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublisherStats:
    """``podsync_nats_publisher_stats``: a publisher's counters at the time of the call."""

    connected: bool  #: True while the connection is up
    frames_published: int  #: frames acknowledged by the stream
    bytes_published: int  #: their bytes
    frames_pending: int  #: kept for the next flush (the server could not be reached)
    frames_dropped: int  #: dropped past the pending limit (64 MiB) or too large; a snapshot healed
    snapshots_published: int
    snapshot_version: int  #: the version of the newest complete snapshot
    last_sequence: int  #: the frame stream's sequence of the last acknowledged frame
    reconnects: int


@dataclass(frozen=True)
class FollowerStats:
    """``podsync_nats_follower_stats``: a follower's counters at the time of the call."""

    connected: bool  #: True while the connection is up
    frames_applied: int  #: frames that changed the replica (snapshot chunks included)
    duplicates: int  #: frames it already had
    snapshots_taken: int  #: bootstraps and fallbacks to the newest snapshot
    gaps_repaired: int  #: gaps filled from the stream by sequence
    rejected: int  #: messages skipped: not good frames of this stream (see :meth:`Follower.poll`)
    next_sequence: int  #: the frame stream's sequence it reads next
    state_version: int  #: the replica's version
    bytes_received: int
    reconnects: int
    last_rejected_status: int  #: the status of the last skipped message (0: none)

    @property
    def last_rejected_status_name(self) -> str | None:
        """The name of :attr:`last_rejected_status` (``"PODSYNC_E_SCHEMA_MISMATCH"``...), None if
        nothing was rejected."""
        return status_name(self.last_rejected_status) if self.last_rejected_status else None


def _publisher_stats(c: CPublisherStats) -> PublisherStats:
    return PublisherStats(
        connected=bool(c.connected), frames_published=c.frames_published, bytes_published=c.bytes_published,
        frames_pending=c.frames_pending, frames_dropped=c.frames_dropped, snapshots_published=c.snapshots_published,
        snapshot_version=c.snapshot_version, last_sequence=c.last_sequence, reconnects=c.reconnects,
    )  # fmt: skip


# --- publisher and follower -----------------------------------------------------------------------


def _attach(store: object, what: str) -> StoreHandle:
    """The store's handle, pinned (not freed while the carrier holds its pointer)."""
    if not isinstance(store, Store):
        raise ArgumentTypeError(
            f"store must be a podsync.Writer, Replica or Store, got {type(store).__name__}", call=what
        )
    handle = store._h()  # ClosedError for a closed store
    handle.pins += 1
    return handle


def _url(url: object, call: str) -> bytes:
    """The server URL list: a str (one URL or a comma-separated list) or a list of str."""
    urls = list(url) if isinstance(url, (list, tuple)) else [url]
    encoded = [_text("url", u, call) for u in urls]
    if not encoded or not all(u.strip() for u in encoded):
        raise _invalid("url must name a server (nats://host:port), or a list of them", call)
    return b",".join(encoded)


class _Carrier:
    """What a publisher and a follower share: the pinned store, the handle, the one-thread guard."""

    _kind = ""
    _free: Any = None

    def __init__(self, store: Store, url: str | Sequence[str], stream: str, options: Options | None,
                 create: Any) -> None:  # fmt: skip
        self._ptr: Any = None
        self._handle: StoreHandle | None = None
        self._lock = threading.Lock()
        call = f"podsync.nats.{type(self).__name__}"
        url_bytes = _url(url, call)
        stream_bytes = _text("stream", stream, call)
        if options is None:
            copts, keep = None, None
        elif isinstance(options, Options):
            copts, keep = options._to_c()
        else:
            raise ArgumentTypeError(f"options must be a podsync.nats.Options or None, got {type(options).__name__}", call=call)
        handle = _attach(store, call)
        try:
            out = self._pointer_type()
            status = create(handle.ptr, url_bytes, stream_bytes, ctypes.byref(copts) if copts is not None else None,
                            ctypes.byref(out))  # fmt: skip
            del keep
            if status < 0:
                _raise(status, _last_errmsg, f"podsync_nats_{self._kind}_create")
        except BaseException:
            handle.pins -= 1
            handle.maybe_free()
            raise
        self._ptr = out
        self._handle = handle
        self._store = store
        self.url = url_bytes.decode("utf-8")  #: the server URL list, comma-separated
        self.stream = stream  #: the stream name

    _pointer_type: Any = None

    @property
    def store(self) -> Store:
        """The store this carrier drives (kept alive by it)."""
        return self._store

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @contextlib.contextmanager
    def _using(self, what: str) -> Iterator[Any]:
        """The carrier's pointer for one call: not closed, its store not closed, no other thread in."""
        if not self._lock.acquire(blocking=False):
            raise ConcurrentUseError(
                f"the {type(self).__name__} is in use by another thread (a call such as poll_async is in "
                f"flight); a store and its carrier are used from one thread at a time",
                call=what,
            )
        try:
            ptr = self._ptr
            if ptr is None:
                raise ClosedError(f"operation on a closed {type(self).__name__}", call=what)
            if self._store.closed:
                raise ClosedError(f"the store attached to this {type(self).__name__} was closed", call=what)
            yield ptr
        finally:
            self._lock.release()

    def close(self) -> None:
        """Closes the connection and frees the carrier (the store is not closed). Waits for a call in
        flight in another thread to return first. Idempotent."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            ptr, self._ptr = getattr(self, "_ptr", None), None
            if ptr is not None:
                type(self)._free(ptr)
            handle, self._handle = getattr(self, "_handle", None), None
            if handle is not None:
                handle.pins -= 1
                handle.maybe_free()  # a store closed meanwhile is freed now

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter teardown
            pass

    def __exit__(self, *exc: object) -> None:
        self.close()


class Publisher(_Carrier):
    """Publishes a writer store's frames to the JetStream stream `stream` (and snapshots to
    ``<stream>_SNAP``) on the NATS server(s) at `url` (``"nats://host:port"``, a comma-separated
    list or a list of such URLs) (``podsync_nats_publisher_*``).

    Creating it connects, creates the two streams if they do not exist (with the options' storage,
    replicas and limits) and publishes a snapshot of the store's state as of its last flush, so a
    follower can start at once. `store` must be a :class:`~podsync.Writer` (else
    :class:`~podsync.WrongRole`); `stream` is 1 to 64 characters of ``A-Z a-z 0-9 - _`` (else
    :class:`~podsync.InvalidArgument`). Give the writer a ``max_frame_bytes`` no larger than the
    server's max_payload less 4 KiB (1 MiB - 4 KiB by default; the writer's own default is 64 MiB):
    a larger frame is not published (:class:`MessageTooLargeError`; a snapshot replaces it).

    Write to the store as usual, then call :meth:`flush` (not ``store.flush()``: frames flushed
    behind the publisher's back are never published, and followers then need a snapshot).

    The store and this publisher are used from one thread at a time, together. The publisher keeps
    a reference to the store (it outlives the publisher). ``close()`` (also ``with`` and garbage
    collection) closes the connection; the store stays open.
    """

    _kind = "publisher"
    _pointer_type = PublisherP
    _free = NLIB.podsync_nats_publisher_free

    def __init__(self, store: Store, url: str | Sequence[str], stream: str, options: Options | None = None) -> None:
        super().__init__(store, url, stream, options, NLIB.podsync_nats_publisher_create)
        self._published = ctypes.c_size_t()
        self._ref_published = ctypes.byref(self._published)

    def __enter__(self) -> Publisher:
        with self._using("podsync.nats.Publisher"):
            pass
        return self

    def _errmsg(self) -> bytes | None:
        ptr = self._ptr
        return NLIB.podsync_nats_publisher_errmsg(ptr) if ptr is not None else None

    def flush(self) -> int:
        """Flushes the store and publishes its frames (after any an earlier call could not publish),
        each acknowledged by the stream; then, when due, a snapshot. Returns how many frames were
        acknowledged.

        Frames the server could not take (:class:`NatsConnectionError`, :class:`NatsTimeoutError`)
        are kept and published first by the next flush (up to 64 MiB; past that they are dropped and
        a snapshot is published once the server answers again). The exception's ``published`` says
        how many frames were acknowledged before it. An engine error of the store's flush raises as
        it does for ``store.flush()``. Like ``store.flush()``, it releases the frames the store
        handed out before (memoryviews) and raises :class:`~podsync.ViewsAliveError` if something
        derived from them is alive."""
        with self._using("podsync_nats_publisher_flush") as ptr:
            if self._store._feeds:  # the writer's flush rewrites its feeds' records (library 0.8.0)
                self._store._check_feed_views("flush (podsync.nats.Publisher)")
            handle = self._store._h()
            handle.revoke_frames()
            if handle.exports[OUTBOX]:
                handle.ensure_unexported(OUTBOX, "flush (podsync.nats.Publisher)")
            status = NLIB.podsync_nats_publisher_flush(ptr, self._ref_published)
            if status < 0:
                _raise(status, self._errmsg, "podsync_nats_publisher_flush", published=self._published.value)
            return self._published.value

    async def flush_async(self, *, executor: Executor | None = None) -> int:
        """:meth:`flush` in a thread of `executor` (the event loop's default when None), so that
        waiting for the server's acknowledgements does not block the event loop. Do not touch the
        store until it returns."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, self.flush)

    def snapshot(self) -> None:
        """Publishes a chunked snapshot of the store's state now (as of its last flush; frames still
        pending are published first) and removes the older snapshots once it is complete."""
        with self._using("podsync_nats_publisher_snapshot") as ptr:
            status = NLIB.podsync_nats_publisher_snapshot(ptr)
            if status < 0:
                _raise(status, self._errmsg, "podsync_nats_publisher_snapshot")

    @property
    def stats(self) -> PublisherStats:
        """The publisher's counters (:class:`PublisherStats`)."""
        with self._using("podsync_nats_publisher_stats_get") as ptr:
            c = CPublisherStats(version=PUBLISHER_STATS_VERSION)
            status = NLIB.podsync_nats_publisher_stats_get(ptr, ctypes.byref(c))
            if status < 0:
                _raise(status, _last_errmsg, "podsync_nats_publisher_stats_get")
        return _publisher_stats(c)

    @property
    def message(self) -> str:
        """The message of the publisher's last error ("" if none)."""
        with self._using("podsync_nats_publisher_errmsg"):
            raw = self._errmsg()
        return raw.decode("utf-8", "replace") if raw else ""

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else f"url={self.url!r}"
        return f"<podsync.nats.Publisher stream={getattr(self, 'stream', '?')!r} {state}>"


class Follower(_Carrier):
    """Applies the frames of the JetStream stream `stream` on the NATS server(s) at `url` to a
    replica store (``podsync_nats_follower_*``).

    Creating it connects; nothing is read until :meth:`poll`, which bootstraps the replica from
    the newest snapshot when it needs one, then applies the frames in stream order. A store
    restored from disk (:func:`podsync.open_store`) at a version no older than the newest snapshot
    continues with the frames after it. `store` must be a :class:`~podsync.Replica` (else
    :class:`~podsync.WrongRole`); `stream` as for :class:`Publisher`.

    The store and this follower are used from one thread at a time, together: do not read or
    write the replica (nor keep views of it across a poll in another thread) while a :meth:`poll`
    or :meth:`poll_async` is running. The follower keeps a reference to the store (it outlives the
    follower). ``close()`` (also ``with`` and garbage collection) closes the connection; the store
    stays open.
    """

    _kind = "follower"
    _pointer_type = FollowerP
    _free = NLIB.podsync_nats_follower_free

    def __init__(self, store: Store, url: str | Sequence[str], stream: str, options: Options | None = None) -> None:
        super().__init__(store, url, stream, options, NLIB.podsync_nats_follower_create)
        self._applied = ctypes.c_size_t()
        self._ref_applied = ctypes.byref(self._applied)

    def __enter__(self) -> Follower:
        with self._using("podsync.nats.Follower"):
            pass
        return self

    def _errmsg(self) -> bytes | None:
        ptr = self._ptr
        return NLIB.podsync_nats_follower_errmsg(ptr) if ptr is not None else None

    def poll(self, timeout_ms: int = 0) -> int:
        """Applies what arrived, waiting up to `timeout_ms` for the first message (0: only what is
        already there; at most 3600000), and returns how many frames changed the replica.

        Bootstraps from the newest snapshot when the replica needs one, applies the frames in
        stream order, repairs a gap from the stream, and falls back to the newest snapshot when the
        stream no longer holds what it needs. Messages that are not good frames of this stream
        (damaged, of another schema or writer, fenced by a newer term) are skipped and counted
        (:attr:`FollowerStats.rejected`, ``last_rejected_status``; :attr:`message` says why): the
        follower keeps following and the replica is unchanged by them.

        Raises :class:`StreamMissingError` while the stream does not exist,
        :class:`NatsConnectionError` / :class:`NatsTimeoutError` while the server cannot be reached
        (the next poll resumes from the last sequence applied; ``applied`` on the exception counts
        the frames applied before it), and :class:`~podsync.ViewsAliveError` (nothing done) while
        views of the replica's records (or borrowed change events, ``changes(t, copy=False)``, or,
        for a relay, views of the records of one of its feeds, :meth:`~podsync.Store.feed`) are
        alive, since applying frames would invalidate them. With change tracking on
        (:meth:`~podsync.Store.track_changes`), ``replica.changes(t)`` after a poll lists what the
        poll's LAST apply changed, not all of them."""
        timeout = checked_int("timeout_ms", timeout_ms, 0, U64_MAX)
        with self._using("podsync_nats_follower_poll") as ptr:
            handle = self._store._h()
            if handle.exports[RECORDS]:
                handle.ensure_unexported(RECORDS, "poll (podsync.nats.Follower)")
            if handle.exports[CHANGES]:
                handle.ensure_unexported(CHANGES, "poll (podsync.nats.Follower)")
            if self._store._feeds:  # a relay's apply rewrites its feeds' records (library 0.8.0)
                self._store._check_feed_views("poll (podsync.nats.Follower)")
            status = NLIB.podsync_nats_follower_poll(ptr, timeout, self._ref_applied)
            if status < 0:
                _raise(status, self._errmsg, "podsync_nats_follower_poll", applied=self._applied.value)
            return self._applied.value

    async def poll_async(self, timeout_ms: int = 0, *, executor: Executor | None = None) -> int:
        """:meth:`poll` in a thread of `executor` (the event loop's default when None), for asyncio:
        the event loop keeps running while it waits up to `timeout_ms` for messages. Returns how
        many frames changed the replica. Do not touch the replica (reads included) until it
        returns; other calls on this follower meanwhile raise :class:`ConcurrentUseError`. If the
        awaiting task is cancelled, the poll still runs to its end in its thread."""
        timeout = checked_int("timeout_ms", timeout_ms, 0, U64_MAX)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, self.poll, timeout)

    @property
    def stats(self) -> FollowerStats:
        """The follower's counters (:class:`FollowerStats`)."""
        with self._using("podsync_nats_follower_stats_get") as ptr:
            c = CFollowerStats(version=FOLLOWER_STATS_VERSION)
            status = NLIB.podsync_nats_follower_stats_get(ptr, ctypes.byref(c))
            if status < 0:
                _raise(status, _last_errmsg, "podsync_nats_follower_stats_get")
        return FollowerStats(
            connected=bool(c.connected), frames_applied=c.frames_applied, duplicates=c.duplicates,
            snapshots_taken=c.snapshots_taken, gaps_repaired=c.gaps_repaired, rejected=c.rejected,
            next_sequence=c.next_sequence, state_version=c.state_version, bytes_received=c.bytes_received,
            reconnects=c.reconnects, last_rejected_status=c.last_rejected_status,
        )  # fmt: skip

    def relay(self, url: str | Sequence[str], stream: str, options: Options | None = None) -> None:
        """Relays: from now on every frame this follower applies is republished to the stream
        `stream` at `url` (typically another region's server or cluster), with snapshots of the
        replica beside them as a publisher keeps them, so that followers there follow the relay as
        they would the writer (``podsync_nats_follower_relay``). The relay publishes during
        :meth:`poll`, after applying; when its server cannot be reached it keeps its frames and
        poll raises its carrier error (what the follower applied stays applied). A follower relays
        to one stream (a second call raises :class:`~podsync.InvalidArgument`); the relay is closed
        with the follower. Arguments as for :class:`Publisher`."""
        call = "podsync_nats_follower_relay"
        url_bytes = _url(url, call)
        stream_bytes = _text("stream", stream, call)
        if options is None:
            copts, keep = None, None
        elif isinstance(options, Options):
            copts, keep = options._to_c()
        else:
            raise ArgumentTypeError(f"options must be a podsync.nats.Options or None, got {type(options).__name__}", call=call)
        with self._using(call) as ptr:
            status = NLIB.podsync_nats_follower_relay(
                ptr, url_bytes, stream_bytes, ctypes.byref(copts) if copts is not None else None
            )
            del keep
            if status < 0:
                _raise(status, self._errmsg, call)

    @property
    def relay_stats(self) -> PublisherStats | None:
        """The relay's counters (:class:`PublisherStats`), None when this follower does not relay."""
        with self._using("podsync_nats_follower_relay_stats") as ptr:
            c = CPublisherStats(version=PUBLISHER_STATS_VERSION)
            status = NLIB.podsync_nats_follower_relay_stats(ptr, ctypes.byref(c))
            if status < 0:
                _raise(status, _last_errmsg, "podsync_nats_follower_relay_stats")
        return None if status == Status.NOT_FOUND else _publisher_stats(c)

    @property
    def message(self) -> str:
        """The message of the last error or skipped message ("" if none)."""
        with self._using("podsync_nats_follower_errmsg"):
            raw = self._errmsg()
        return raw.decode("utf-8", "replace") if raw else ""

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else f"url={self.url!r}"
        return f"<podsync.nats.Follower stream={getattr(self, 'stream', '?')!r} {state}>"


__all__ = [
    "ABI_VERSION",
    "E_CONNECTION",
    "E_MSG_TOO_LARGE",
    "E_NOT_A_MESSAGE",
    "E_SERVER",
    "E_STREAM_MISSING",
    "E_TIMEOUT",
    "ENGINE_PATH",
    "LIBRARY_PATH",
    "STORAGE_FILE",
    "STORAGE_MEMORY",
    "ConcurrentUseError",
    "Follower",
    "FollowerStats",
    "MessageTooLargeError",
    "NatsConnectionError",
    "NatsError",
    "NatsServerError",
    "NatsStatus",
    "NatsTimeoutError",
    "NotAMessageError",
    "Options",
    "Publisher",
    "PublisherStats",
    "StreamMissingError",
    "error_for",
    "library_version",
    "status_name",
]
