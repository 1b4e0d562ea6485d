"""Borrowed memory, made safe.

The engine lends three kinds of memory (docs/ABI.md, "Borrowed pointers"):

* **records and keys** (``podsync_store_get`` / ``podsync_store_table``): valid until the next write
  (put, put_many, delete, delete_many), apply or free on that store;
* **the outbox** (``podsync_store_frame``): valid until the next flush, delta_since, snapshot,
  summary, reconcile or free;
* **change events** (``podsync_store_changes``, library 0.7.0): valid until the next apply,
  track_changes or free.

A numpy array over such memory cannot be invalidated after the fact, so the binding never lets the
memory go while a view of it exists. Every view is created from an :class:`_Export` token (the
array's ``base``; numpy keeps the root base alive through every slice, field view or
``memoryview`` derived from the array). The token counts itself on its :class:`StoreHandle` while
alive. A call that would invalidate one kind of memory first checks that kind's count and raises
:class:`ViewsAliveError` instead (like ``bytearray`` refusing to resize while exported); freeing
the store is deferred until the last view has died. Frames are handed out as ``memoryview`` objects,
which, unlike arrays, can be revoked: the next producing call ``release()``s them.
"""

from __future__ import annotations

import ctypes
import gc
from typing import Any, cast

import numpy as np

from ._errors import ArgumentTypeError, ViewsAliveError
from ._ffi import LIB, StoreP

RECORDS = 0  # kind of an export: table records / keys (invalidated by writes and apply)
OUTBOX = 1  # kind of an export: frames of the outbox (invalidated by the calls that produce frames)
CHANGES = 2  # kind of an export: change-event key lists (invalidated by apply and track_changes)
_KIND_NAMES = (
    "record/key views (table(), keys(), view())",
    "borrowed frames (memoryviews)",
    "change-event views (changes(copy=False))",
)


class StoreHandle:
    """Owns one ``podsync_store*``; frees it once the Python store is closed AND no view is alive
    AND no carrier (``podsync.nats``) is attached to it."""

    __slots__ = ("ptr", "closing", "exports", "outbox_views", "pins", "__weakref__")

    def __init__(self, ptr: Any) -> None:
        self.ptr = ptr  # StoreP, or None once freed
        self.closing = False
        self.exports = [0, 0, 0]  # live export tokens per kind (RECORDS, OUTBOX, CHANGES)
        self.outbox_views: list[memoryview] = []  # frames handed out, revoked on the next producer
        # Objects of the C side that hold this store's pointer (a podsync.nats Publisher or
        # Follower): the store is not freed while one is attached, even after close().
        self.pins = 0

    def revoke_frames(self) -> None:
        """Releases every frame memoryview handed out (accessing one then raises ValueError)."""
        views, self.outbox_views = self.outbox_views, []
        for mv in views:
            try:
                mv.release()
            except BufferError:  # something holds a buffer of this very memoryview; the token
                pass  # then stays alive and the caller's check reports it

    def ensure_unexported(self, kind: int, action: str) -> None:
        """Raises ViewsAliveError if views of `kind` are alive (after one gc pass for cycles)."""
        if self.exports[kind]:
            gc.collect()
            if self.exports[kind]:
                raise ViewsAliveError(
                    f"cannot {action}: {self.exports[kind]} view(s) of this store's memory are "
                    f"alive ({_KIND_NAMES[kind]}); the call would invalidate them. Release them "
                    "first (del the arrays and anything derived from them, leave the `with` "
                    "block, or keep .copy()s instead). Nothing changed."
                )

    def close(self) -> None:
        self.closing = True
        self.revoke_frames()
        self.maybe_free()

    def maybe_free(self) -> None:
        if self.closing and self.ptr is not None and not any(self.exports) and not self.pins:
            ptr, self.ptr = self.ptr, None
            LIB.podsync_store_free(ptr)

    def __del__(self) -> None:  # last resort (e.g. interpreter shutdown): never leak the store
        ptr = getattr(self, "ptr", None)
        if ptr is not None:
            self.ptr = None
            try:
                LIB.podsync_store_free(ptr)
            except Exception:  # pragma: no cover - interpreter teardown
                pass


class _Export:
    """The base object of every array over engine memory: keeps the handle (hence the memory)
    alive and counts itself on it while any array, slice or memoryview derived from it lives."""

    __slots__ = ("handle", "kind", "address", "nbytes", "__array_interface__")

    def __init__(self, handle: StoreHandle, kind: int, address: int, nbytes: int) -> None:
        self.handle = handle
        self.kind = kind
        self.address = address
        self.nbytes = nbytes
        # Read-only flag True: numpy makes the array read-only and refuses to make it writeable.
        self.__array_interface__ = {
            "version": 3,
            "shape": (nbytes,),
            "typestr": "|u1",
            "data": (address, True),
        }
        handle.exports[kind] += 1

    def __del__(self) -> None:
        handle = self.handle
        handle.exports[self.kind] -= 1
        try:
            handle.maybe_free()
        except Exception:  # pragma: no cover - interpreter teardown
            pass


def export_bytes(handle: StoreHandle, kind: int, address: int, nbytes: int) -> np.ndarray:
    """A read-only uint8 array over [address, address+nbytes) tied to `handle` (see module doc)."""
    return np.asarray(_Export(handle, kind, address, nbytes))


def empty_readonly(dtype: np.dtype) -> np.ndarray:
    arr = np.empty(0, dtype=dtype)
    arr.flags.writeable = False
    return arr


# --- reading caller buffers without copying ------------------------------------------------------


def buffer_arg(obj: Any) -> tuple[Any, int, Any]:
    """(pointer argument, size in bytes, object to keep alive during the call) for any object of the
    buffer protocol. No copy for bytes and for C-contiguous buffers; a non-contiguous buffer is
    copied once. The pointer is only valid while the keep-alive object is referenced."""
    if type(obj) is bytes:
        return obj, len(obj), None  # ctypes passes a pointer to the bytes' own storage
    if type(obj) is memoryview:  # a frame borrowed from a store: its address is known
        owner: Any = obj.obj  # (raises ValueError if the memoryview was released)
        if type(owner) is np.ndarray:
            base: Any = owner.base
            if type(base) is _Export and obj.nbytes == base.nbytes:
                return base.address, base.nbytes, obj
    try:
        mv = memoryview(obj)
    except TypeError:
        raise ArgumentTypeError(
            f"expected a bytes-like object (buffer protocol), got {type(obj).__name__}"
        ) from None
    nbytes = mv.nbytes
    if nbytes == 0:
        return b"", 0, None
    if not mv.c_contiguous:
        data = mv.tobytes()
        return data, len(data), None
    if not mv.readonly:
        anchor = ctypes.c_char.from_buffer(mv)  # holds an export of obj for the call
        return ctypes.addressof(anchor), nbytes, anchor
    arr = np.frombuffer(mv, dtype=np.uint8)  # read-only buffers: numpy reads them in place
    return arr.__array_interface__["data"][0], nbytes, arr


def array_address(arr: np.ndarray) -> int:
    """The address of an ndarray's first byte (writable arrays through the cheaper ctypes path)."""
    if arr.flags.writeable:
        return ctypes.addressof(ctypes.c_char.from_buffer(cast(Any, arr)))
    return int(arr.__array_interface__["data"][0])


__all__ = [
    "CHANGES",
    "OUTBOX",
    "RECORDS",
    "StoreHandle",
    "StoreP",
    "array_address",
    "buffer_arg",
    "empty_readonly",
    "export_bytes",
]
