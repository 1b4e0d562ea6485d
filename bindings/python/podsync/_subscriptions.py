"""Subscriptions (library 0.8.0): a replica that holds part of a stream (:class:`Subscription`)."""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

import numpy as np

from ._errors import U32_MAX, U64_MAX, ArgumentTypeError, Status, checked_int, last_errmsg, raise_for
from ._ffi import (
    LIB,
    SUBSCRIPTION_VERSION,
    KeyRange as _CKeyRange,
    Subscription as _CSubscription,
    SubscriptionTable as _CSubscriptionTable,
)

#: The key ranges of one table of a subscription: None (or an empty sequence) for every key of
#: the table, else ``(lo, hi)`` pairs, both inclusive.
Ranges = Union[None, Sequence[tuple[int, int]]]


class Subscription:
    """A subscription (library 0.8.0): the part of a stream a replica holds. A record ``(t, key)``
    belongs to it when table ``t`` is listed, ``key`` lies in one of the table's key ranges (or the
    table lists none), and, with ``shard_bits`` s > 0, the key's shard (the top s bits of its seed,
    the hash the digest and the hash tree use: shards split every table evenly) is listed::

        sub = podsync.Subscription({1: [(0, 999), (5000, 5999)], 2: None}, shard_bits=2, shards=[0, 3])
        replica.subscribe(sub)            # the replica, once, while it is empty
        feed = writer.feed(sub.encode())  # the writer (the bytes crossed from the replica's process)
        writer.flush(); frames = feed.flush()   # the subset's frames, for every replica of it

    `tables`: a mapping from table id to its key ranges (None, or an empty sequence, for every key
    of the table; else ``(lo, hi)`` pairs, inclusive, ascending, neither overlapping nor adjacent:
    ``hi + 1 < next lo``), in ascending table id; or an iterable of table ids (every key of each).
    At least one table. `shard_bits`: 0 (the default: no shard filter) to 16; `shards`: the shard
    ids kept, strictly ascending, each below ``2**shard_bits`` (none with ``shard_bits`` 0).

    The binding passes tables, ranges and shards to the library in the order given (it does not
    sort them): the constructor encodes the subscription with ``podsync_subscription_encode``,
    which raises :class:`InvalidArgument` naming the rule broken (inverted or unsorted ranges,
    unsorted tables, no table, shards out of order or range). Whether the tables exist is checked
    against a schema by :meth:`Store.subscribe` and :meth:`Store.feed` (:class:`InvalidArgument`).
    An integer outside its C type raises :class:`OutOfRangeError`, a non-integer or a range that is
    not a pair :class:`ArgumentTypeError`.

    A subscription is an immutable value: :meth:`encode` gives its canonical encoding (the bytes a
    replica sends to its writer, which :meth:`Store.subscribe` and :meth:`Store.feed` take as well),
    :attr:`hash` the ``subscription_hash`` its frames carry. Two subscriptions are equal when their
    encodings are."""

    __slots__ = ("_tables", "_shard_bits", "_shards", "_encoding", "_hash")

    def __init__(
        self, tables: Mapping[int, Ranges] | Iterable[int], *, shard_bits: int = 0, shards: Iterable[int] = ()
    ) -> None:
        call = "Subscription"
        if isinstance(tables, Mapping):
            items = list(tables.items())
        elif isinstance(tables, (str, bytes, bytearray, memoryview)) or not isinstance(tables, Iterable):
            raise ArgumentTypeError(
                f"tables must be a mapping of table id to key ranges, or an iterable of table ids; got "
                f"{type(tables).__name__}",
                call=call,
            )
        else:
            items = [(t, None) for t in tables]
        # A list, not a dict: an iterable may repeat an id, which the library then refuses.
        self._tables = tuple(
            (tid, _ranges(tid, ranges, call))
            for tid, ranges in ((checked_int("table_id", t, 0, U32_MAX), r) for t, r in items)
        )
        self._shard_bits = checked_int("shard_bits", shard_bits, 0, U32_MAX)
        if isinstance(shards, (str, bytes, bytearray, memoryview)) or not isinstance(shards, Iterable):
            raise ArgumentTypeError(f"shards must be an iterable of shard ids, got {type(shards).__name__}", call=call)
        self._shards = tuple(checked_int("shard", s, 0, U32_MAX) for s in shards)
        self._encoding, self._hash = self._encode()

    def _encode(self) -> tuple[bytes, int]:
        """The canonical encoding and its hash, from ``podsync_subscription_encode``."""
        c_tables = (_CSubscriptionTable * max(len(self._tables), 1))()
        keep: list[Any] = [c_tables]
        for i, (table_id, ranges) in enumerate(self._tables):
            c_tables[i].table_id = table_id
            if ranges:
                c_ranges = (_CKeyRange * len(ranges))(*ranges)
                keep.append(c_ranges)
                c_tables[i].range_count = len(ranges)
                c_tables[i].ranges = ctypes.cast(c_ranges, ctypes.POINTER(_CKeyRange))
        c_shards = (ctypes.c_uint32 * max(len(self._shards), 1))(*self._shards)
        sub = _CSubscription()
        sub.version = SUBSCRIPTION_VERSION
        sub.shard_bits = self._shard_bits
        sub.shard_count = len(self._shards)
        sub.table_count = len(self._tables)
        sub.shards = ctypes.cast(c_shards, ctypes.POINTER(ctypes.c_uint32))
        sub.tables = ctypes.cast(c_tables, ctypes.POINTER(_CSubscriptionTable))
        size, digest = ctypes.c_size_t(), ctypes.c_uint64()
        call = "podsync_subscription_encode"
        status = LIB.podsync_subscription_encode(ctypes.byref(sub), None, 0, ctypes.byref(size), None)
        if status < 0 and status != Status.E_BUFFER_TOO_SMALL:
            raise_for(status, last_errmsg, call)
        buf = ctypes.create_string_buffer(size.value)
        status = LIB.podsync_subscription_encode(ctypes.byref(sub), buf, size.value, ctypes.byref(size), ctypes.byref(digest))
        del keep
        if status < 0:
            raise_for(status, last_errmsg, call)
        return buf.raw[: size.value], digest.value

    # --- the value ----------------------------------------------------------------------------

    @property
    def tables(self) -> dict[int, tuple[tuple[int, int], ...] | None]:
        """The tables, by id in the order given, each with its ranges (a tuple of ``(lo, hi)``)
        or None for every key (a new dict)."""
        return dict(self._tables)

    @property
    def shard_bits(self) -> int:
        return self._shard_bits

    @property
    def shards(self) -> tuple[int, ...]:
        return self._shards

    @property
    def hash(self) -> int:
        """The subscription's hash (XXH3-64 of :meth:`encode`): the ``subscription_hash`` the
        frames of its feed carry, and what :attr:`Store.subscription` reports."""
        return self._hash

    def encode(self) -> bytes:
        """The canonical encoding (docs/FORMAT.md, "Subscriptions"): the bytes a replica sends to
        its writer once, for :meth:`Store.feed` (which, like :meth:`Store.subscribe`, takes them
        or the :class:`Subscription` itself)."""
        return self._encoding

    to_bytes = encode  #: the same as :meth:`encode` (as :meth:`Schema.to_bytes`)

    def __bytes__(self) -> bytes:
        return self._encoding

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Subscription):
            return NotImplemented
        return self._encoding == other._encoding

    def __hash__(self) -> int:
        return hash(self._encoding)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (dict(self._tables), self._shard_bits, self._shards))

    def __repr__(self) -> str:
        tables = ", ".join(
            f"{t}: " + ("None" if r is None else "[" + ", ".join(f"({lo}, {hi})" for lo, hi in r) + "]")
            for t, r in self._tables
        )
        shards = f", shard_bits={self._shard_bits}, shards={list(self._shards)}" if self._shard_bits else ""
        return f"podsync.Subscription({{{tables}}}{shards})"


def _rebuild(tables: dict[int, Any], shard_bits: int, shards: tuple[int, ...]) -> Subscription:
    return Subscription(tables, shard_bits=shard_bits, shards=shards)


def _ranges(table_id: int, ranges: Any, call: str) -> tuple[tuple[int, int], ...] | None:
    """A table's ranges as a tuple of (lo, hi) ints (None for every key), each bound checked."""
    if ranges is None:
        return None
    if isinstance(ranges, np.ndarray):
        ranges = ranges.tolist()
    if isinstance(ranges, (str, bytes, bytearray, memoryview)) or not isinstance(ranges, Iterable):
        raise ArgumentTypeError(
            f"table {table_id}: the ranges must be None or a sequence of (lo, hi) pairs, got {type(ranges).__name__}",
            call=call,
        )
    out = []
    for pair in ranges:
        if isinstance(pair, (str, bytes, bytearray, memoryview)) or not isinstance(pair, (Sequence, np.ndarray)) or len(pair) != 2:
            raise ArgumentTypeError(f"table {table_id}: a range must be a (lo, hi) pair, got {pair!r}", call=call)
        lo, hi = pair
        out.append((checked_int("lo", lo, 0, U64_MAX), checked_int("hi", hi, 0, U64_MAX)))
    return tuple(out) or None


def subscription_bytes(subscription: Any, call: str) -> Any:
    """What :meth:`Store.subscribe` and :meth:`Store.feed` pass on: a :class:`Subscription`'s
    encoding, or the caller's buffer as it is (the library checks every byte)."""
    if isinstance(subscription, Subscription):
        return subscription.encode()
    if isinstance(subscription, (Mapping, str)) or subscription is None:
        raise ArgumentTypeError(
            f"expected a podsync.Subscription or its encoding (bytes), got {type(subscription).__name__}", call=call
        )
    return subscription
