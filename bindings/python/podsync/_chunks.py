"""Chunked snapshots (library 0.5.0): ``podsync_snapshot_*`` and ``podsync_chunk_position``.

A snapshot streams as chunks, complete checksummed frames of at most ``max_chunk_bytes`` each
holding the records of one range of keys, all describing the state at one version. The producing
store keeps working (writes, flushes, applies) while the chunks go out: copy-on-write keeps the
snapshot consistent. A replica stages the chunks beside its state and switches at the last one.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._errors import U32_MAX, U64_MAX, ClosedError, Status, checked_int, raise_for
from ._ffi import CHUNK_POSITION_VERSION, LIB, ChunkPosition as _CChunkPosition, SnapshotP


@dataclass(frozen=True)
class ChunkPosition:
    """Where a chunked snapshot continues (``podsync_chunk_position``): the snapshot's identity
    (``stream_id``, ``term``, ``snapshot_id``, ``state_version``) and its next chunk
    (``chunk_index``, whose first key is ``(start_table, start_key)``).

    A replica reports the chunk it needs next with :meth:`Store.staging`; the producer continues
    from there with :meth:`Store.snapshot_resume`. :meth:`ChunkedSnapshot.position` gives the
    producer's side. Plain ints, so it pickles and compares; keyword construction is checked
    against the C field's range when it is passed to the library (:class:`OutOfRangeError`)."""

    stream_id: int
    snapshot_id: int
    state_version: int  #: the version the snapshot describes
    chunk_index: int  #: index of the next chunk (0 for the first; past the last when finished)
    start_table: int  #: the next chunk starts at key (start_table, start_key)
    start_key: int
    term: int = 0  #: the writer's term (0 in library 0.5.0)
    #: 0 for a snapshot; a chunked catch-up delta's base version (a delta is not resumed:
    #: :meth:`Store.snapshot_resume` raises :class:`SnapshotExpired`; ask for the delta again)
    base_version: int = 0

    @classmethod
    def _from_c(cls, c: _CChunkPosition) -> ChunkPosition:
        return cls(
            stream_id=c.stream_id, snapshot_id=c.snapshot_id, state_version=c.state_version,
            chunk_index=c.chunk_index, start_table=c.start_table, start_key=c.start_key, term=c.term,
            base_version=c.base_version,
        )  # fmt: skip

    def _to_c(self) -> _CChunkPosition:
        c = _CChunkPosition()
        c.version = CHUNK_POSITION_VERSION
        c.start_table = checked_int("start_table", self.start_table, 0, U32_MAX)
        for name in ("stream_id", "term", "snapshot_id", "state_version", "chunk_index", "start_key", "base_version"):
            setattr(c, name, checked_int(name, getattr(self, name), 0, U64_MAX))
        return c


def _new_c_position() -> _CChunkPosition:
    c = _CChunkPosition()
    c.version = CHUNK_POSITION_VERSION
    return c


class ChunkedSnapshot:
    """The chunks of one chunked snapshot, as an iterator of ``bytes`` (from
    :meth:`Store.snapshot_chunks` or :meth:`Store.snapshot_resume`; not constructed directly).

    Each ``next()`` produces one chunk (``podsync_snapshot_next``) and returns a COPY of its
    bytes, yours to keep, send or apply (the library's buffer is reused by the next chunk). Only
    one chunk is held at a time, so a snapshot of any size streams in ``max_chunk_bytes`` of
    memory plus the records changed meanwhile. The store
    may keep writing, flushing and applying between chunks: the chunks still describe the state at
    :attr:`state_version` (copy-on-write), so iterating while writing works.

    The object owns the ``podsync_snapshot`` handle, freed when the iteration ends, on
    :meth:`close`, on leaving a ``with`` block and, as a last resort, by garbage collection. The
    handle keeps its store alive in the library: closing the :class:`Store` first is allowed, the
    snapshot still finishes. A snapshot and its store are used by one thread at a time.

    ``next()`` after the last chunk raises ``StopIteration``; after :meth:`close` of an unfinished
    snapshot, :class:`ClosedError`. An error of the library (:class:`SnapshotExpired` when the
    store's state was replaced by an applied snapshot, :class:`NoMemory`, ...) leaves the object
    open: :meth:`position` still says where it stopped.
    """

    __slots__ = ("_ptr", "_final", "_finished", "snapshot_id", "state_version", "stream_id", "term", "__weakref__")

    def __init__(self, ptr: Any) -> None:
        self._ptr: Any = ptr  # SnapshotP, or None once freed
        self._final: ChunkPosition | None = None
        self._finished = False
        try:
            start = self._query_position()
        except BaseException:
            self._ptr = None
            LIB.podsync_snapshot_free(ptr)
            raise
        #: The snapshot's id (random, not 0; the same in every chunk and position).
        self.snapshot_id: int = start.snapshot_id
        #: The version the snapshot describes.
        self.state_version: int = start.state_version
        #: The stream whose state it is.
        self.stream_id: int = start.stream_id
        #: The writer's term (0 in library 0.5.0).
        self.term: int = start.term

    # --- iteration ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        ptr = self._ptr
        if ptr is None:
            if self._finished:
                raise StopIteration
            raise ClosedError("next chunk of a closed ChunkedSnapshot", call="podsync_snapshot_next")
        data, size = ctypes.c_void_p(), ctypes.c_size_t()
        status = LIB.podsync_snapshot_next(ptr, ctypes.byref(data), ctypes.byref(size))
        if status < 0:
            raise_for(status, lambda: LIB.podsync_snapshot_errmsg(ptr), "podsync_snapshot_next")
        if status == Status.DONE:
            self._finished = True
            self._free(keep_position=True)
            raise StopIteration
        # Borrowed until the next call on the snapshot: copied.
        return ctypes.string_at(data.value or 0, size.value)

    # --- state --------------------------------------------------------------------------------

    def _query_position(self) -> ChunkPosition:
        c = _new_c_position()
        ptr = self._ptr
        status = LIB.podsync_snapshot_position(ptr, ctypes.byref(c))
        if status < 0:
            raise_for(status, lambda: LIB.podsync_snapshot_errmsg(ptr), "podsync_snapshot_position")
        return ChunkPosition._from_c(c)

    def position(self) -> ChunkPosition:
        """The position of the next chunk: its index and first key (after the last chunk, the
        index past it). Still answers after the iteration ended or :meth:`close` (the position
        where it stopped)."""
        if self._ptr is None:
            if self._final is None:  # freed by the garbage collector path only; not reachable
                raise ClosedError("position of a closed ChunkedSnapshot", call="podsync_snapshot_position")
            return self._final
        return self._query_position()

    @property
    def finished(self) -> bool:
        """True once every chunk was produced."""
        return self._finished

    @property
    def closed(self) -> bool:
        """True once the handle is freed (after the last chunk, or :meth:`close`)."""
        return self._ptr is None

    # --- lifetime -----------------------------------------------------------------------------

    def _free(self, keep_position: bool) -> None:
        ptr = self._ptr
        if ptr is None:
            return
        if keep_position:
            try:
                self._final = self._query_position()
            except Exception:  # pragma: no cover - position never fails on a live handle
                self._final = None
        self._ptr = None
        LIB.podsync_snapshot_free(ptr)

    def close(self) -> None:
        """Frees the snapshot (the library then drops its copy-on-write records). Idempotent."""
        self._free(keep_position=True)

    def __enter__(self) -> ChunkedSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        ptr = getattr(self, "_ptr", None)
        if ptr is not None:
            self._ptr = None
            try:
                LIB.podsync_snapshot_free(ptr)
            except Exception:  # pragma: no cover - interpreter teardown
                pass

    def __repr__(self) -> str:
        state = "finished" if self._finished else ("closed" if self._ptr is None else "open")
        return (
            f"<podsync.ChunkedSnapshot {self.snapshot_id:#018x} of version {self.state_version} "
            f"of stream {self.stream_id:#x}: {state}, next chunk {self.position().chunk_index}>"
        )


def begin(store_ptr: Any, max_chunk_bytes: int, errmsg: Any) -> ChunkedSnapshot:
    out = SnapshotP()
    status = LIB.podsync_snapshot_begin(store_ptr, max_chunk_bytes, ctypes.byref(out))
    if status < 0:
        raise_for(status, errmsg, "podsync_snapshot_begin")
    return ChunkedSnapshot(out)


def resume(store_ptr: Any, position: ChunkPosition, max_chunk_bytes: int, errmsg: Any) -> ChunkedSnapshot:
    c = position._to_c()
    out = SnapshotP()
    status = LIB.podsync_snapshot_resume(store_ptr, ctypes.byref(c), max_chunk_bytes, ctypes.byref(out))
    if status < 0:
        raise_for(status, errmsg, "podsync_snapshot_resume")
    return ChunkedSnapshot(out)


def staging(store_ptr: Any, errmsg: Any) -> ChunkPosition | None:
    c = _new_c_position()
    status = LIB.podsync_store_staging(store_ptr, ctypes.byref(c))
    if status < 0:
        raise_for(status, errmsg, "podsync_store_staging")
    if status == Status.NOT_FOUND:
        return None
    return ChunkPosition._from_c(c)
