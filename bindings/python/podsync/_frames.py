"""Reading frames without a store: peek, validate and sections read in place."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import U64_MAX, ArgumentTypeError, InternalError, Status, checked_int, error_for, last_errmsg, raise_for
from ._ffi import (
    CHUNK_LAST,
    FRAME_CHUNK,
    FRAME_HAS_DIGEST,
    FRAME_INFO_VERSION,
    FRAME_REPAIR,
    FRAME_RESET,
    FRAME_SECTION_VERSION,
    FRAME_SLICE,
    FRAME_SUMMARY,
    LIB,
    FrameInfo as _CFrameInfo,
    FrameSection as _CFrameSection,
)
from ._memory import buffer_arg

if TYPE_CHECKING:
    from ._schema import Schema


@dataclass(frozen=True)
class FrameInfo:
    """A frame's header (``podsync_frame_info``)."""

    format_version: int
    header_length: int
    flags: int
    section_count: int
    codec: int
    frame_length: int
    schema_hash: int
    stream_id: int
    sequence: int
    base_version: int
    state_version: int
    state_digest: int
    transforms: int
    payload_length: int
    #: id of the zstd dictionary the payload is compressed with, 0 for none (library 0.3.0; peek
    #: fills it only when the bytes given reach the zstd frame's header). Last, so that the
    #: positional order of the fields of 0.2.0 stays.
    dictionary_id: int
    # Since library 0.5.0 (frame info version 3), appended with defaults so that the positional
    # order and arity of the fields above stay.
    term: int = 0  #: the writer's term (0 for format 1, and in library 0.5.0)
    snapshot_id: int = 0  #: a chunk (:attr:`is_chunk`): its snapshot's id; else 0
    chunk_index: int = 0  #: a chunk: its index in the snapshot (0 for the first)
    chunk_start_table: int = 0  #: a chunk covers keys from (chunk_start_table, chunk_start_key)
    chunk_start_key: int = 0
    chunk_end_table: int = 0  #: ... to (chunk_end_table, chunk_end_key) excluded; not the last chunk
    chunk_end_key: int = 0
    chunk_record_count: int = 0  #: the last chunk only: the records of all chunks together
    chunk_flags: int = 0  #: ``CHUNK_*`` bits (:data:`podsync.CHUNK_LAST`)
    # The rolling refresh (library 0.5.0): meaningful when :attr:`has_slice`, else 0.
    #: sections of the refresh slice, after the ``section_count`` sections of changes
    slice_section_count: int = 0
    slice_pass: int = 0  #: the refresh pass the slice belongs to
    slice_index: int = 0  #: the slice's index in its pass (0 for the first)
    slice_start_table: int = 0  #: the slice covers (slice_start_table, slice_start_key) ...
    slice_start_key: int = 0
    slice_end_table: int = 0  #: ... to (slice_end_table, slice_end_key) excluded; not the last slice
    slice_end_key: int = 0
    slice_flags: int = 0  #: ``CHUNK_LAST``: the pass's last slice

    @property
    def has_slice(self) -> bool:
        """The frame carries a slice of the writer's rolling refresh (``FRAME_SLICE`` in
        :attr:`flags`, set by the library's frame info, not a header flag; library 0.5.0)."""
        return bool(self.flags & FRAME_SLICE)

    @property
    def is_last_slice(self) -> bool:
        """A refresh slice with the LAST flag: the one that ends its pass."""
        return bool(self.flags & FRAME_SLICE) and bool(self.slice_flags & CHUNK_LAST)

    @property
    def is_snapshot(self) -> bool:
        """RESET flag: the frame replaces the receiver's whole state (with :attr:`is_chunk`: it is
        one chunk of such a snapshot)."""
        return bool(self.flags & FRAME_RESET)

    @property
    def is_chunk(self) -> bool:
        """CHUNK flag: one chunk of a chunked snapshot (format 2; library 0.5.0)."""
        return bool(self.flags & FRAME_CHUNK)

    @property
    def is_last_chunk(self) -> bool:
        """A chunk with the LAST flag: the one that completes its snapshot."""
        return bool(self.flags & FRAME_CHUNK) and bool(self.chunk_flags & CHUNK_LAST)

    @property
    def is_summary(self) -> bool:
        """SUMMARY flag (format 2; library 0.7.0): a reconciliation message (from
        :meth:`Store.summary` or :meth:`Store.reconcile`), answered with :meth:`Store.reconcile`,
        never applied."""
        return self.format_version >= 2 and bool(self.flags & FRAME_SUMMARY)

    @property
    def is_repair(self) -> bool:
        """REPAIR flag (format 2; library 0.7.0): a repair frame, the responder's last answer in a
        reconciliation (:meth:`Store.reconcile`), applied with :meth:`Store.apply` by the replica
        whose summary it answers."""
        return self.format_version >= 2 and bool(self.flags & FRAME_REPAIR)

    @property
    def has_digest(self) -> bool:
        """HAS_DIGEST flag: ``state_digest`` holds the writer's digest after the frame."""
        return bool(self.flags & FRAME_HAS_DIGEST)

    @classmethod
    def _from_c(cls, c: _CFrameInfo) -> FrameInfo:
        return cls(
            c.format_version, c.header_length, c.flags, c.section_count, c.codec,
            c.frame_length, c.schema_hash, c.stream_id, c.sequence, c.base_version,
            c.state_version, c.state_digest, c.transforms, c.payload_length, c.dictionary_id,
            c.term, c.snapshot_id, c.chunk_index, c.chunk_start_table, c.chunk_start_key,
            c.chunk_end_table, c.chunk_end_key, c.chunk_record_count, c.chunk_flags,
            c.slice_section_count, c.slice_pass, c.slice_index, c.slice_start_table, c.slice_start_key,
            c.slice_end_table, c.slice_end_key, c.slice_flags,
        )  # fmt: skip


@dataclass(frozen=True)
class Section:
    """One table's changes in a frame. The arrays VIEW the frame's bytes (no copy): they keep the
    frame's buffer alive, are read-only, and show whatever the buffer holds (don't modify a
    bytearray frame while they are in use)."""

    table_id: int
    record_size: int
    put_keys: np.ndarray  #: uint64, put_count keys
    records: np.ndarray  #: put_count records (the schema's dtype if given, else ``V<record_size>``)
    delete_keys: np.ndarray  #: uint64, delete_count keys

    @property
    def put_count(self) -> int:
        return len(self.put_keys)

    @property
    def delete_count(self) -> int:
        return len(self.delete_keys)


def peek(frame: Any) -> FrameInfo:
    """Reads a frame's header from its first bytes (the rest of the frame need not be there),
    e.g. to learn ``frame_length`` when reading a byte stream. Checks magic, format version and
    header length only (:class:`FrameError` otherwise).

    It needs the whole header: ``header_length`` bytes, which is 88 (``FRAME_HEADER_SIZE``) for
    format 1 and 40 to 2040 for format 2 (library 0.5.0), so a format-2 frame may be shorter than
    88 bytes. Given fewer, it raises :class:`FrameTruncated` whose ``frame_info`` (once the
    16-byte prefix, ``FRAME_PREFIX_SIZE``, is there) holds the ``format_version`` and the
    ``header_length`` to read (every other field 0); :func:`read_frames` reads a stream that way.
    """
    ptr, size, keep = buffer_arg(frame)
    info = _CFrameInfo()
    info.version = FRAME_INFO_VERSION
    status = LIB.podsync_frame_peek(ptr, size, ctypes.byref(info))
    del keep
    if status < 0:
        raw = last_errmsg()
        err = error_for(status, raw.decode("utf-8", "replace") if raw else "", call="podsync_frame_peek")
        # A prefix that announces a header longer than the bytes given: its format and length.
        err.frame_info = FrameInfo._from_c(info) if info.header_length else None
        raise err
    return FrameInfo._from_c(info)


def validate(frame: Any, max_decoded_bytes: int | None = None) -> FrameInfo:
    """Validates a whole frame (the buffer must be exactly the frame): header, checksum and every
    section's layout, without a schema; records are checked, not decoded. Returns its header;
    raises a :class:`FrameError` subclass (``FrameTruncated``, ``FrameChecksum``,
    ``FrameMalformed``, ...) otherwise, and :class:`DictionaryMissing` for a frame compressed with
    a dictionary (no store, so no dictionary: apply it to a store that has loaded it).

    ``max_decoded_bytes`` bounds what a compressed frame may decompress to, and the decoded size
    of its sections (8 bytes a key plus the records): a larger one raises :class:`FrameTooLarge`
    before anything is allocated (``podsync_frame_validate_limited``, library 0.4.0). None or 0
    means the library's 1 GiB; an int outside ``0..2**64-1`` raises :class:`OverflowError`. Use it
    for frames from an untrusted source.

    When the frame is rejected after its header was read, the exception's ``frame_info`` holds
    that header (e.g. ``err.frame_info.dictionary_id`` for :class:`DictionaryMissing`); otherwise
    it is None."""
    fn: Any = LIB.podsync_frame_validate
    name = "podsync_frame_validate"
    extra: tuple[int, ...] = ()
    if max_decoded_bytes is not None:
        extra = (checked_int("max_decoded_bytes", max_decoded_bytes, 0, U64_MAX),)
        fn, name = LIB.podsync_frame_validate_limited, "podsync_frame_validate_limited"
    ptr, size, keep = buffer_arg(frame)
    info = _CFrameInfo()
    info.version = FRAME_INFO_VERSION
    status = fn(ptr, size, *extra, ctypes.byref(info))
    del keep
    if status < 0:
        raw = last_errmsg()
        err = error_for(status, raw.decode("utf-8", "replace") if raw else "", call=name)
        # The library fills the header's fields once it could read them (a valid header has a
        # nonzero header_length); an untouched struct stays all zero.
        err.frame_info = FrameInfo._from_c(info) if info.header_length else None
        raise err
    return FrameInfo._from_c(info)


def sections(frame: Any, schema: Schema | None = None) -> list[Section]:
    """The frame's sections, validated first (as :func:`validate`), with keys and records as
    read-only numpy arrays over the frame's own bytes: no copy when the buffer is C-contiguous and
    8-byte aligned (frames from a store are 64-byte aligned); otherwise the frame is first copied
    once into an aligned buffer. With a `schema`, records use its tables' dtypes. These are the
    frame's ``section_count`` sections of changes; a refresh slice's are :func:`slice_sections`."""
    return _read_sections(frame, schema, False, "sections")


def slice_sections(frame: Any, schema: Schema | None = None) -> list[Section]:
    """The sections of the refresh slice a frame carries (:attr:`FrameInfo.has_slice`; library
    0.5.0), read as :func:`sections` reads the sections of changes: the writer's records whose
    (table id, key hash) lies in the slice's range (``slice_start_*`` to ``slice_end_*``, ordered
    as chunk ranges are), as of the frame's version. ``slice_section_count`` of them (an
    empty list for a frame without a slice)."""
    return _read_sections(frame, schema, True, "slice_sections")


def _read_sections(frame: Any, schema: Schema | None, of_slice: bool, call: str) -> list[Section]:
    try:
        data = frame if isinstance(frame, np.ndarray) else np.asarray(memoryview(frame))
    except TypeError:
        raise ArgumentTypeError(
            f"expected a bytes-like object (buffer protocol), got {type(frame).__name__}", call=call
        ) from None
    if data.dtype != np.uint8 or data.ndim != 1 or not data.flags.c_contiguous:
        data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    base = int(data.__array_interface__["data"][0]) if data.size else 0
    if base % 8:
        aligned = np.empty(data.size + 64, dtype=np.uint8)
        start = (-aligned.__array_interface__["data"][0]) % 64
        aligned = aligned[start : start + data.size]
        aligned[:] = data
        data = aligned
        base = int(data.__array_interface__["data"][0])
    data = data.view()
    data.flags.writeable = False
    info = validate(data)
    result: list[Section] = []
    first, count = (info.section_count, info.slice_section_count) if of_slice else (0, info.section_count)
    for index in range(first, first + count):
        sec = _CFrameSection()
        sec.version = FRAME_SECTION_VERSION
        status = LIB.podsync_frame_section_get(base, data.size, index, ctypes.byref(sec))
        if status < 0:
            raise_for(status, last_errmsg, "podsync_frame_section_get")
        size = sec.record_size

        def at(address: int | None, nbytes: int) -> np.ndarray:
            if nbytes == 0:
                return data[0:0]
            offset = (address or 0) - base
            if not 0 <= offset <= data.size - nbytes:  # defensive: must point into the frame
                raise InternalError(
                    Status.E_INTERNAL, "podsync_frame_section_get returned a pointer outside the frame",
                    call="podsync_frame_section_get",
                )
            return data[offset : offset + nbytes]

        dtype: np.dtype = np.dtype(f"V{size}")
        if schema is not None and sec.table_id in schema and schema[sec.table_id].record_size == size:
            dtype = schema[sec.table_id].dtype
        put_keys = at(sec.put_keys, 8 * sec.put_count).view(np.uint64)
        records = at(sec.records, size * sec.put_count).view(dtype)
        delete_keys = at(sec.delete_keys, 8 * sec.delete_count).view(np.uint64)
        result.append(Section(sec.table_id, size, put_keys, records, delete_keys))
    return result
