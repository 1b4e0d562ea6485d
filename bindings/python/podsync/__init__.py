"""PodSync for Python: replicate tables of fixed-size records from one writer to many replicas.

A ctypes binding of libpodsync.so (``include/podsync.h``): no compiled extension. Records are
numpy structured arrays; bulk calls take whole arrays; reads view the engine's memory without
copying, and the binding makes those views safe (see ``Store.table``).

    import numpy as np, podsync

    entity = np.dtype([("id", "<u8"), ("pos", "<f4", (3,)), ("rot", "<f4", (4,)), ("flags", "<u4")])
    schema = podsync.Schema({1: entity})
    with podsync.Writer(schema) as writer, podsync.Replica(schema) as replica:
        recs = np.zeros(3, entity); recs["id"] = [1, 2, 3]
        writer.put_many(1, recs["id"].copy(), recs)
        for frame in writer.flush():
            replica.apply(frame)
        assert replica.digest() == writer.digest()

A store can also live in a directory (library 0.6.0): ``podsync.open_store(path, schema, "writer")``
creates or restores it from its checkpoints and frame log (see :func:`open_store`).

A replica can say which keys each apply changed (library 0.7.0): ``replica.track_changes()``, then
after each ``apply`` ``replica.changes(table_id)`` gives a :class:`Changes` (``upserted`` and
``deleted`` uint64 arrays, ``replaced`` for a snapshot; iterate it for ``("delete", key)`` /
``("upsert", key)`` events). See :meth:`Store.changes`.

A replica that differs from the writer (diverged, below the catch-up floor, restored from an old
checkpoint, of another term) is healed by reconciliation (library 0.7.0), not a whole snapshot: it
sends ``replica.summary()``, a message of hashes of its state's buckets; the responder (the writer,
or an up-to-date replica) answers with ``responder.reconcile(message)``, another message (the
replica answers that with ``replica.reconcile``) or a repair frame holding only the records of the
buckets that differ, which the replica applies with ``apply``. The host carries the messages across
processes; within one, ``podsync.reconcile(replica, responder)`` runs the whole exchange and returns a
:class:`ReconcileResult`. See :meth:`Store.reconcile`.

A replica can hold part of a stream (library 0.8.0): a :class:`Subscription` names tables, key
ranges per table and/or shards (``podsync.Subscription({1: [(0, 999)], 2: None}, shard_bits=2,
shards=[1])``); the empty replica calls ``replica.subscribe(sub)`` and sends ``sub.encode()`` to the
writer, whose ``writer.feed(data)`` returns the subscription's *feed*, a :class:`Store` that follows
the writer's flushes and whose ``flush()``, ``catch_up()``, ``snapshot()`` and ``reconcile()`` make
the subset's frames. A replica applies only frames of its own subscription (or, without one, of the
whole stream): others raise :class:`NotSubscribed`. See :meth:`Store.feed`.

Over NATS JetStream, ``podsync.nats`` (a separate import: it loads ``libpodsync_nats.so``, which
needs libnats) attaches a writer to a stream (:class:`podsync.nats.Publisher`) and replicas to it
(:class:`podsync.nats.Follower`).

Every exception the package raises is a :class:`PodSyncError` (most also derive from the builtin
Python code expects: ``ValueError``, ``TypeError``, ``OverflowError``, ``BufferError``...), except
the ``ImportError``s of a library that cannot be loaded (:class:`LibraryNotFoundError`,
:class:`LibraryVersionError`), raised by ``import podsync`` itself.

The library is loaded at import: ``$PODSYNC_LIBRARY`` if set, else the copy bundled in the
package (``podsync/_lib/libpodsync.so``), else the repository's ``.build/release/libpodsync.so``
(when running from a source checkout), else the system's; its ABI version must be
:data:`ABI_VERSION`.
"""

from __future__ import annotations

from ._errors import (
    ApplyResult,
    ArgumentTypeError,
    BufferTooSmall,
    ChunkMismatch,
    ClosedError,
    DictionaryMissing,
    DigestMismatch,
    Diverged,
    DtypeMismatch,
    FileCorrupt,
    FrameChecksum,
    FrameError,
    FrameFeature,
    FrameMagic,
    FrameMalformed,
    FrameTooLarge,
    FrameTruncated,
    FrameVersion,
    HistoryDiverged,
    IncompleteFrame,
    InternalError,
    InvalidArgument,
    LimitError,
    NoMemory,
    NotSubscribed,
    OutOfRangeError,
    PodSyncError,
    PodSyncIOError,
    RecordSizeError,
    RepairStale,
    SchemaInvalid,
    SchemaMismatch,
    SnapshotExpired,
    SnapshotRequired,
    Status,
    StreamMismatch,
    TermFenced,
    UnknownTable,
    UnsupportedCodec,
    UsageError,
    VersionAhead,
    ViewsAliveError,
    WrongRole,
    error_for,
    status_name,
)
from ._ffi import (
    ABI_VERSION,
    CHUNK_LAST,
    CODEC_NONE,
    CODEC_ZSTD,
    FORMAT_VERSION,
    FRAME_HEADER_SIZE,
    FRAME_PREFIX_SIZE,
    MIN_CHUNK_BYTES,
    TRANSFORM_ALL,
    TRANSFORM_COLUMNS,
    TRANSFORM_FIELDS,
    TRANSFORM_KEY_RANKS,
    TRANSFORM_KEY_GAPS,
    TRANSFORM_TRANSPOSE,
    TRANSFORM_XOR,
    LIB as _LIB,
    LIBRARY_PATH,
    LibraryNotFoundError,
    LibraryVersionError,
)
from ._chunks import ChunkedSnapshot, ChunkPosition
from ._durability import Checkpoint, LogPolicy, OpenInfo, open_store
from ._frames import FrameInfo, Section, peek, sections, slice_sections, validate
from ._schema import FieldSpec, FieldType, Schema, TableSpec
from ._store import Changes, Frame, Replica, Role, Store, StoreInfo, TableView, Writer
from ._reconcile import ReconcileResult, reconcile
from ._subscriptions import Subscription
from ._stream import DEFAULT_MAX_FRAME_BYTES, aread_frames, read_frames

#: This package's version (it mirrors the library version it was written for).
__version__ = "0.9.0"


def library_version() -> str:
    """The loaded library's version, e.g. ``"0.1.0"`` (``podsync_version_number``)."""
    n = int(_LIB.podsync_version_number())
    return f"{n // 10000}.{n // 100 % 100}.{n % 100}"


def library_abi_version() -> int:
    """The ABI version the loaded library implements (equal to :data:`ABI_VERSION`)."""
    return int(_LIB.podsync_abi_version())


__all__ = [
    "ABI_VERSION",
    "CHUNK_LAST",
    "CODEC_NONE",
    "CODEC_ZSTD",
    "TRANSFORM_ALL",
    "TRANSFORM_COLUMNS",
    "TRANSFORM_FIELDS",
    "TRANSFORM_KEY_RANKS",
    "TRANSFORM_KEY_GAPS",
    "TRANSFORM_TRANSPOSE",
    "TRANSFORM_XOR",
    "FORMAT_VERSION",
    "FRAME_HEADER_SIZE",
    "FRAME_PREFIX_SIZE",
    "LIBRARY_PATH",
    "MIN_CHUNK_BYTES",
    "DEFAULT_MAX_FRAME_BYTES",
    "ApplyResult",
    "ArgumentTypeError",
    "BufferTooSmall",
    "Changes",
    "Checkpoint",
    "ChunkMismatch",
    "ChunkPosition",
    "ChunkedSnapshot",
    "ClosedError",
    "DictionaryMissing",
    "DigestMismatch",
    "Diverged",
    "DtypeMismatch",
    "FieldSpec",
    "FileCorrupt",
    "FieldType",
    "Frame",
    "FrameChecksum",
    "FrameError",
    "FrameFeature",
    "FrameInfo",
    "FrameMagic",
    "FrameMalformed",
    "FrameTooLarge",
    "FrameTruncated",
    "FrameVersion",
    "HistoryDiverged",
    "IncompleteFrame",
    "InternalError",
    "InvalidArgument",
    "LibraryNotFoundError",
    "LibraryVersionError",
    "LimitError",
    "LogPolicy",
    "NoMemory",
    "NotSubscribed",
    "OpenInfo",
    "OutOfRangeError",
    "PodSyncError",
    "PodSyncIOError",
    "RecordSizeError",
    "ReconcileResult",
    "RepairStale",
    "Replica",
    "Role",
    "Schema",
    "SchemaInvalid",
    "SchemaMismatch",
    "Section",
    "SnapshotExpired",
    "SnapshotRequired",
    "Status",
    "Store",
    "StoreInfo",
    "StreamMismatch",
    "Subscription",
    "TableSpec",
    "TableView",
    "TermFenced",
    "UnknownTable",
    "UnsupportedCodec",
    "UsageError",
    "VersionAhead",
    "ViewsAliveError",
    "WrongRole",
    "Writer",
    "__version__",
    "aread_frames",
    "error_for",
    "library_abi_version",
    "library_version",
    "open_store",
    "peek",
    "read_frames",
    "reconcile",
    "sections",
    "slice_sections",
    "status_name",
    "validate",
]
