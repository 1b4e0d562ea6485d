"""Status codes and the exceptions negative statuses turn into."""

from __future__ import annotations

import enum
import operator
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._ffi import LIB

if TYPE_CHECKING:
    from ._frames import FrameInfo


class Status(enum.IntEnum):
    """Every status of ``podsync.h``; the values are pinned forever (docs/ABI.md)."""

    OK = 0
    FLUSH_DUE = 1
    NOT_FOUND = 2
    DUPLICATE = 3
    GAP = 4
    STALE = 5
    SNAPSHOT_REQUIRED = 6
    CHUNK_GAP = 7  #: since library 0.5.0
    CHUNK_STAGED = 8  #: since library 0.5.0
    REFRESHING = 9  #: since library 0.5.0 (apply on a one-way replica out of sync)
    DONE = 10  #: since library 0.5.0 (podsync_snapshot_next: every chunk was produced)
    E_INVALID_ARGUMENT = -1
    E_UNKNOWN_TABLE = -2
    E_RECORD_SIZE = -3
    E_BUFFER_TOO_SMALL = -4
    E_NO_MEMORY = -5
    E_WRONG_ROLE = -6
    E_SCHEMA_INVALID = -7
    E_FRAME_TRUNCATED = -10
    E_FRAME_MAGIC = -11
    E_FRAME_VERSION = -12
    E_FRAME_CHECKSUM = -13
    E_FRAME_MALFORMED = -14
    E_SCHEMA_MISMATCH = -15
    E_STREAM_MISMATCH = -16
    E_UNSUPPORTED_CODEC = -17
    E_DIGEST_MISMATCH = -18
    E_DIVERGED = -19
    E_VERSION_AHEAD = -20
    E_FRAME_TOO_LARGE = -21
    E_DICTIONARY_MISSING = -22
    E_LIMIT = -23
    E_SNAPSHOT_EXPIRED = -24  #: since library 0.5.0
    E_TERM_FENCED = -25  #: since library 0.6.0
    E_HISTORY_DIVERGED = -26  #: since library 0.6.0
    E_NOT_SUBSCRIBED = -27  #: since library 0.8.0
    E_FRAME_FEATURE = -28  #: since library 0.5.0
    E_CHUNK_MISMATCH = -29  #: since library 0.5.0
    E_REPAIR_STALE = -30  #: since library 0.7.0
    E_IO = -31  #: since library 0.6.0
    E_FILE_CORRUPT = -32  #: since library 0.6.0
    E_INTERNAL = -99


class ApplyResult(enum.IntEnum):
    """What :meth:`Store.apply` did with a valid frame (the non-error outcomes of apply)."""

    OK = 0  #: applied
    DUPLICATE = 3  #: the replica already had these changes; nothing changed
    GAP = 4  #: the frame's base is ahead of the replica; nothing changed: ask for a catch-up delta
    STALE = 5  #: a snapshot older than the replica; ignored
    #: a chunk ahead of the one the replica expects (or of a snapshot it has not started); nothing
    #: changed: resume the snapshot from :meth:`Store.staging` (since library 0.5.0)
    CHUNK_GAP = 7
    #: a chunk of a chunked snapshot was staged; the visible state stays as it was until the last
    #: chunk, which returns OK (since library 0.5.0)
    CHUNK_STAGED = 8
    #: a ``one_way`` replica that is out of sync (where another replica would return GAP, or be
    #: diverged) took what the frame holds of newer versions, key by key; ``info().refreshing`` is
    #: True until its digest equals a frame's, which returns OK again (since library 0.5.0)
    REFRESHING = 9


def status_name(status: int) -> str:
    """The library's name of a status, e.g. ``"PODSYNC_E_FRAME_CHECKSUM"``
    (``"PODSYNC_UNKNOWN_STATUS"`` for values it does not know)."""
    raw = LIB.podsync_status_name(int(status))
    return raw.decode("ascii") if raw else "PODSYNC_UNKNOWN_STATUS"


def last_errmsg() -> bytes | None:
    """The calling thread's last error message (``podsync_last_errmsg``, library 0.4.0): how the
    functions without a handle (schema decode, store create, options init, the frame functions)
    report one. Read right after the failing call, on the same thread."""
    return LIB.podsync_last_errmsg()  # type: ignore[no-any-return]


class PodSyncError(Exception):
    """A PodSync call failed. ``status`` is the negative ``PODSYNC_E_*`` value (or, for
    :class:`SnapshotRequired`, the informational status), ``status_name`` its name, and ``message``
    the library's message: the handle's (``podsync_*_errmsg``) or, for calls without a handle, the
    thread's last one (``podsync_last_errmsg``); it may be empty."""

    status: int
    status_name: str
    message: str
    #: The frame's header when :func:`podsync.validate` rejected a frame after reading its header
    #: (e.g. :class:`DictionaryMissing`: ``frame_info.dictionary_id`` names the dictionary, since
    #: library 0.4.0), or, when :func:`podsync.peek` was given fewer bytes than the header, the
    #: ``format_version`` and ``header_length`` its prefix announces (since library 0.5.0); None
    #: for every other error.
    frame_info: FrameInfo | None = None

    def __init__(self, status: int, message: str = "", *, call: str = "") -> None:
        self.status = int(status)
        self.status_name = status_name(self.status)
        self.message = message
        self.call = call
        where = f"{call}: " if call else ""
        text = f"{where}{self.status_name}"
        if message:
            text += f": {message}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles (e.g. across multiprocessing) whatever the subclass's constructor signature.
        return (_rebuild_error, (type(self), self.args, self.__dict__))


def _rebuild_error(cls: type[PodSyncError], args: tuple[Any, ...], state: dict[str, Any]) -> PodSyncError:
    err = cls.__new__(cls, *args)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class UsageError(PodSyncError):
    """Base of the errors the binding detects itself, before calling the library: a wrong type or
    layout, an integer outside its C type, a closed handle, live views. ``status`` is
    ``PODSYNC_E_INVALID_ARGUMENT`` (what the C API returns for a bad argument); the text is just the
    message (no status name). Each subclass also derives from the builtin exception Python code
    expects for that mistake (``TypeError``, ``OverflowError``, ``ValueError``, ``BufferError``)."""

    def __init__(self, message: str = "", *, call: str = "") -> None:
        self.status = int(Status.E_INVALID_ARGUMENT)
        self.status_name = "PODSYNC_E_INVALID_ARGUMENT"
        self.message = message
        self.call = call
        Exception.__init__(self, f"{call}: {message}" if call else message)


class InvalidArgument(PodSyncError, ValueError):
    """PODSYNC_E_INVALID_ARGUMENT: a NULL pointer, a bad value or a wrong struct version."""


class UnknownTable(PodSyncError, LookupError):
    """PODSYNC_E_UNKNOWN_TABLE: no table with that id in the schema."""


class RecordSizeError(PodSyncError, ValueError):
    """PODSYNC_E_RECORD_SIZE: a record's size differs from its table's."""


class BufferTooSmall(PodSyncError):
    """PODSYNC_E_BUFFER_TOO_SMALL (the binding sizes its buffers itself: seeing it is a bug)."""


class NoMemory(PodSyncError, MemoryError):
    """PODSYNC_E_NO_MEMORY: an allocation failed or a limit would be exceeded."""


class WrongRole(PodSyncError, TypeError):
    """PODSYNC_E_WRONG_ROLE: a writer-only call on a replica, or the reverse."""


class SchemaInvalid(PodSyncError, ValueError):
    """PODSYNC_E_SCHEMA_INVALID: a table or field definition (or a schema encoding) was rejected."""


class FrameError(PodSyncError, ValueError):
    """The bytes are not a valid frame: base of the frame-validation family."""


class FrameTruncated(FrameError):
    """PODSYNC_E_FRAME_TRUNCATED: the buffer is shorter than the frame says it is."""


class FrameMagic(FrameError):
    """PODSYNC_E_FRAME_MAGIC: not a PodSync frame."""


class FrameVersion(FrameError):
    """PODSYNC_E_FRAME_VERSION: a frame format version this library does not read."""


class FrameChecksum(FrameError):
    """PODSYNC_E_FRAME_CHECKSUM: the XXH3-64 checksum does not match (corruption)."""


class FrameMalformed(FrameError):
    """PODSYNC_E_FRAME_MALFORMED: a length, count, offset or flag is inconsistent."""


class UnsupportedCodec(FrameError):
    """PODSYNC_E_UNSUPPORTED_CODEC: the frame uses a codec this library does not implement."""


class SchemaMismatch(PodSyncError):
    """PODSYNC_E_SCHEMA_MISMATCH: the frame was written for another schema."""


class StreamMismatch(PodSyncError):
    """PODSYNC_E_STREAM_MISMATCH: a delta of another writer stream; the replica needs a snapshot."""


class Diverged(PodSyncError):
    """The replica's records differ from the writer's; only a snapshot heals it.
    Raised as itself for PODSYNC_E_DIVERGED (the replica was already diverged; nothing changed)
    and as :class:`DigestMismatch` when a frame just made it so. Also raised, as itself, when a
    ``one_way`` replica that is out of sync (``info().refreshing``; library 0.5.0) is asked for a
    delta or a snapshot: it serves none until the rolling refresh brings it back in sync. And as
    :class:`HistoryDiverged` (library 0.6.0) when a frame of a new term shows the replica holds
    versions of an older term the new writer never had (nothing changed; a snapshot heals it)."""


class HistoryDiverged(Diverged):
    """PODSYNC_E_HISTORY_DIVERGED: a frame of a newer term (a promoted replica, or a writer that
    reopened in a new term) whose history left the replica's term at a version the replica is
    already past: the replica applied versions of the old term the new writer never had (or it
    cannot tell). Nothing changed, and the replica is not marked diverged, but only a snapshot
    of the new writer heals it, as for :class:`Diverged` (since library 0.6.0)."""


class DigestMismatch(Diverged):
    """PODSYNC_E_DIGEST_MISMATCH: the frame WAS applied (the replica's version moved), but the
    replica's digest then differed from the writer's: it is now marked diverged. The one error
    after which state changed."""


class FrameTooLarge(FrameError):
    """PODSYNC_E_FRAME_TOO_LARGE: a compressed frame decodes to more than the replica's
    ``max_decoded_bytes`` (checked before anything is allocated)."""


class DictionaryMissing(PodSyncError, LookupError):
    """PODSYNC_E_DICTIONARY_MISSING: the frame is compressed with a zstd dictionary this store has
    not loaded (``dictionary_id`` of :func:`peek` names it); nothing changed. Load it with
    :meth:`Store.load_dictionary` (the bytes of the writer's :meth:`Store.dictionary`) and apply
    the frame again. The frame itself is valid, so this is no :class:`FrameError`."""


class LimitError(PodSyncError):
    """PODSYNC_E_LIMIT: a limit the host set would be exceeded (``max_records``: a write or a frame
    would leave the store holding more records than that); nothing changed (since library 0.4.0).
    The writer flushes or deletes before writing more; a replica refuses such a frame whole and
    stays at its version (raise the limit, or resynchronize from a source that fits)."""


class SnapshotExpired(PodSyncError, LookupError):
    """PODSYNC_E_SNAPSHOT_EXPIRED: :meth:`Store.snapshot_resume` (or the next chunk of a snapshot
    whose state was replaced on its store) asked for the state of a snapshot this store no longer
    holds: no live snapshot of that id and version, and the store has moved past that version (or
    to another stream). Start a new snapshot (:meth:`Store.snapshot_chunks`); its chunk 0 replaces
    the receiver's staging (since library 0.5.0)."""


class FrameFeature(FrameError):
    """PODSYNC_E_FRAME_FEATURE: the frame uses a critical flag, transform or extension record this
    library does not implement (written by a newer PodSync); upgrade the library (since 0.5.0)."""


class ChunkMismatch(PodSyncError, ValueError):
    """PODSYNC_E_CHUNK_MISMATCH: a chunk contradicts the chunks staged before it (overlapping or
    missing keys, another state digest, a forged record count). The staging was dropped and the
    visible state is unchanged; the receiver needs the snapshot again from chunk 0 (since library
    0.5.0)."""


class TermFenced(PodSyncError):
    """PODSYNC_E_TERM_FENCED: a frame of an older term than the one the replica follows: an old
    writer that came back after a replica was promoted (or after it reopened in a new term).
    Nothing changed; drop the frame and the old writer (since library 0.6.0)."""


class RepairStale(PodSyncError):
    """PODSYNC_E_REPAIR_STALE (since library 0.7.0), raised by the reconciliation:

    * by :meth:`Store.apply` for a repair frame computed for another state than the replica's
      (its digest moved since it sent its summary: it applied a frame meanwhile, or the repair
      was meant for another store). Nothing changed: start a new exchange with
      :meth:`Store.summary`;
    * by :meth:`Store.reconcile` on a responder when the exchange began at a version it can no
      longer describe (it moved past it and the catch-up floor passed it): start again with a new
      :meth:`Store.summary` of the replica.

    The exchange, not the data, is out of date: this is no :class:`FrameError` and no
    :class:`Diverged`."""


class NotSubscribed(PodSyncError):
    """PODSYNC_E_NOT_SUBSCRIBED (since library 0.8.0): the frame, summary message or repair is for
    another part of the stream than the store holds: a frame of a feed (a subscription's frames,
    :meth:`Store.feed`) given to a replica of the whole stream, a frame of the whole stream (the
    writer's own) given to a subscribed replica (:meth:`Store.subscribe`), or a frame of another
    subscription. Raised by :meth:`Store.apply` and :meth:`Store.reconcile`; nothing changed.
    Send the replica the frames of its own subscription's feed (or of the whole stream). The frame
    itself is valid, so this is no :class:`FrameError`."""


class PodSyncIOError(PodSyncError, OSError):
    """PODSYNC_E_IO: a file operation of a durable store failed: the directory cannot be created,
    read or locked (a second :func:`podsync.open_store` of a directory whose store is open), the
    disk is full, the directory read-only. Also an ``OSError`` (its ``errno`` is None: the library
    reports the cause in :attr:`message`). A failed checkpoint leaves the older files as they were;
    a failed log append hands out no frame and the store refuses to produce frames until a
    checkpoint succeeds (``info().log_failed``); a replica's apply that raises it DID apply the
    frame (only logging it failed). The store keeps working in memory (since library 0.6.0)."""


class FileCorrupt(PodSyncError, ValueError):
    """PODSYNC_E_FILE_CORRUPT: no checkpoint in the directory verifies, or a log segment names
    another stream or schema; :func:`podsync.open_store` opened nothing (since library 0.6.0). A
    newer checkpoint that does not verify while an older one does is not an error: the store opens
    from the older one and ``open_info.fallback`` says so."""


class VersionAhead(PodSyncError, ValueError):
    """PODSYNC_E_VERSION_AHEAD: delta_since a version the store has not reached."""


class InternalError(PodSyncError):
    """PODSYNC_E_INTERNAL: a bug in PodSync; please report it with the message."""


class SnapshotRequired(PodSyncError):
    """delta_since returned PODSYNC_SNAPSHOT_REQUIRED (an informational status, not an error of the
    engine): the store no longer covers that version, send a snapshot instead (or use
    :meth:`Store.catch_up`, which does that for you). Nothing was produced; the outbox is empty."""


class ClosedError(UsageError, ValueError):
    """The handle was closed (like I/O on a closed file): a :class:`PodSyncError` and, as before
    0.4.0, a ``ValueError``."""


class ViewsAliveError(UsageError, BufferError):
    """A call that would move or free memory that live views point into was refused (like resizing
    a ``bytearray`` that has exports). Nothing changed. Release the views first: ``del`` the arrays
    (and whatever was derived from them), leave the ``with store.view(...)`` block, or take
    ``.copy()``s. A :class:`PodSyncError` and, as before 0.4.0, a ``BufferError``."""


class ArgumentTypeError(UsageError, TypeError):
    """An argument of the wrong type (a float where an int is needed, a non-integer key array,
    something that is not a buffer): a :class:`PodSyncError` and a ``TypeError``."""


class DtypeMismatch(ArgumentTypeError):
    """Records whose layout is not the table's: a structured dtype whose fields differ from the
    table's (names, offsets, types or counts; the message names the differences), or an array of
    numbers (float, int64, ...) that is not records at all. Nothing was written. Raw bytes stay
    accepted: ``uint8`` of shape ``(n, record_size)``, ``V<record_size>``, ``bytes``."""


class OutOfRangeError(UsageError, OverflowError, ValueError):
    """An integer argument outside the range of its C type (a key or version outside
    ``0..2**64-1``, a table id outside ``0..2**32-1``, ...), which ctypes or numpy would otherwise
    wrap silently (-1 would become 2**64-1). An ``OverflowError``, and a ``ValueError`` as well,
    which is what 0.3.0 raised for negative options."""


class IncompleteFrame(FrameTruncated, EOFError):
    """A byte stream ended inside a frame (:func:`podsync.read_frames`); ``received`` and
    ``expected`` count its bytes (``expected`` is None if the header itself was cut). Also an
    ``EOFError``."""

    received: int = 0
    expected: int | None = None


def checked_int(name: str, value: object, lo: int, hi: int) -> int:
    """`value` as an int in ``lo..hi`` (the range of the C field it goes to):
    :class:`ArgumentTypeError` (a TypeError) for a non-integer (floats and bools included, never
    truncated), :class:`OutOfRangeError` (an OverflowError) outside the range (ctypes would
    silently wrap it: 2**64 would become 0, "no limit"; -1 would become 2**64-1)."""
    if type(value) is int and lo <= value <= hi:  # the common case, fast
        return value
    if isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be an int, got bool")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ArgumentTypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if not lo <= number <= hi:
        raise OutOfRangeError(f"{name} must be in {lo}..{hi}, got {number}")
    return number


U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1


_BY_STATUS: dict[int, type[PodSyncError]] = {
    Status.E_INVALID_ARGUMENT: InvalidArgument,
    Status.E_UNKNOWN_TABLE: UnknownTable,
    Status.E_RECORD_SIZE: RecordSizeError,
    Status.E_BUFFER_TOO_SMALL: BufferTooSmall,
    Status.E_NO_MEMORY: NoMemory,
    Status.E_WRONG_ROLE: WrongRole,
    Status.E_SCHEMA_INVALID: SchemaInvalid,
    Status.E_FRAME_TRUNCATED: FrameTruncated,
    Status.E_FRAME_MAGIC: FrameMagic,
    Status.E_FRAME_VERSION: FrameVersion,
    Status.E_FRAME_CHECKSUM: FrameChecksum,
    Status.E_FRAME_MALFORMED: FrameMalformed,
    Status.E_SCHEMA_MISMATCH: SchemaMismatch,
    Status.E_STREAM_MISMATCH: StreamMismatch,
    Status.E_UNSUPPORTED_CODEC: UnsupportedCodec,
    Status.E_DIGEST_MISMATCH: DigestMismatch,
    Status.E_DIVERGED: Diverged,
    Status.E_VERSION_AHEAD: VersionAhead,
    Status.E_FRAME_TOO_LARGE: FrameTooLarge,
    Status.E_DICTIONARY_MISSING: DictionaryMissing,
    Status.E_LIMIT: LimitError,
    Status.E_SNAPSHOT_EXPIRED: SnapshotExpired,
    Status.E_TERM_FENCED: TermFenced,
    Status.E_HISTORY_DIVERGED: HistoryDiverged,
    Status.E_NOT_SUBSCRIBED: NotSubscribed,
    Status.E_FRAME_FEATURE: FrameFeature,
    Status.E_CHUNK_MISMATCH: ChunkMismatch,
    Status.E_REPAIR_STALE: RepairStale,
    Status.E_IO: PodSyncIOError,
    Status.E_FILE_CORRUPT: FileCorrupt,
    Status.E_INTERNAL: InternalError,
    Status.SNAPSHOT_REQUIRED: SnapshotRequired,
}


def error_for(status: int, message: str = "", *, call: str = "") -> PodSyncError:
    """The exception for a status: its family's subclass, or PodSyncError for an unknown one."""
    cls = _BY_STATUS.get(int(status), PodSyncError)
    return cls(status, message, call=call)


def raise_for(status: int, errmsg: Callable[[], bytes | None] | None, call: str) -> None:
    """Raises the exception of a negative status, with the handle's message read right away."""
    raw = errmsg() if errmsg is not None else None
    message = raw.decode("utf-8", "replace") if raw else ""
    raise error_for(status, message, call=call)
