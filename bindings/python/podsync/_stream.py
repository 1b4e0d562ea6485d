"""Frames read from a byte stream (a file, a pipe, a socket, an asyncio ``StreamReader``): the
loop every receiver needs — read the 16-byte prefix, learn the header's length from it, read the
rest of the header, :func:`peek` the frame's length, read the rest — written once, bounded, with a
clear error for a stream cut inside a frame. Format-1 frames (an 88-byte header) and format-2
frames (a 40- to 2040-byte header, so a frame may be shorter than 88 bytes; library 0.5.0) may be
mixed in one stream.

Sending is the other half: ``sock.sendall(frame)`` or ``file.write(frame)`` of each frame that
:meth:`Store.flush` returns, in order, is all a stream needs (frames are self-delimiting). With
asyncio, ask the store for ``copy=True`` frames: a transport may keep the memoryview it was given
until the bytes are sent, which would block the store's next flush (:class:`ViewsAliveError`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from ._errors import (
    ArgumentTypeError,
    FrameMalformed,
    FrameTooLarge,
    FrameTruncated,
    IncompleteFrame,
    InvalidArgument,
    Status,
    checked_int,
)
from ._ffi import FRAME_PREFIX_SIZE
from ._frames import FrameInfo, peek

#: Default bound on one frame's length (``max_frame_bytes``): 1 GiB.
DEFAULT_MAX_FRAME_BYTES = 1 << 30


def _limit(max_frame_bytes: int) -> int:
    return checked_int("max_frame_bytes", max_frame_bytes, FRAME_PREFIX_SIZE, (1 << 64) - 1)


def _header_length(prefix: Any, limit: int, call: str) -> int:
    """The header length the 16-byte prefix announces (podsync_frame_peek checks magic and format
    version, and fills header_length when given fewer bytes than the header), bounded by `limit`
    (a frame is at least as long as its header)."""
    try:
        info: FrameInfo = peek(prefix)
    except FrameTruncated as err:
        if err.frame_info is None or err.frame_info.header_length <= len(prefix):
            raise
        length = err.frame_info.header_length
    else:
        length = info.header_length  # a header that fits in the prefix (no format has one)
    if length > limit:
        raise _too_large(f"the next frame's header is {length} bytes", limit, "its prefix", call)
    return length


def _too_large(what: str, limit: int, read: str, call: str) -> FrameTooLarge:
    return FrameTooLarge(
        Status.E_FRAME_TOO_LARGE,
        f"{what}, more than max_frame_bytes={limit}; nothing was read past {read} (raise "
        "max_frame_bytes if the sender is trusted)",
        call=call,
    )


def _frame_length(header: Any, limit: int, call: str) -> int:
    """The frame's length from its whole header (checked by podsync_frame_peek: magic, format
    version, header length), bounded by `limit`."""
    info = peek(header)
    length = info.frame_length
    if length < max(info.header_length, len(header)):
        raise FrameMalformed(
            Status.E_FRAME_MALFORMED, f"frame_length {length} is shorter than the frame's header", call=call
        )
    if length > limit:
        raise _too_large(f"the next frame is {length} bytes", limit, "its header", call)
    return length


def _incomplete(received: int, expected: int | None, call: str, header: int = FRAME_PREFIX_SIZE) -> IncompleteFrame:
    if expected is None:
        text = f"the stream ended inside a frame header ({received} of {header} bytes)"
    else:
        text = f"the stream ended inside a frame: {received} of its {expected} bytes arrived"
    err = IncompleteFrame(Status.E_FRAME_TRUNCATED, text, call=call)
    err.received, err.expected = received, expected
    return err


def _read_into(stream: Any) -> Callable[[memoryview], int]:
    """A function filling (part of) a memoryview from `stream`, returning the bytes read (0: EOF)."""
    recv_into = getattr(stream, "recv_into", None)
    if recv_into is not None:  # a socket
        return recv_into  # type: ignore[no-any-return]
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:  # a binary file, pipe or BytesIO

        def read(view: memoryview) -> int:
            n = readinto(view)
            if n is None:
                raise InvalidArgument(
                    Status.E_INVALID_ARGUMENT,
                    "the stream is non-blocking and has no data now: read_frames needs a blocking "
                    "stream (use aread_frames with asyncio)",
                    call="read_frames",
                )
            return int(n)

        return read
    read_fn = getattr(stream, "read", None)
    if read_fn is not None:  # anything with read(n) -> bytes

        def read(view: memoryview) -> int:
            data = read_fn(len(view))
            if isinstance(data, str):
                raise ArgumentTypeError(
                    "the stream is in text mode; open it in binary mode ('rb')", call="read_frames"
                )
            if data is None:
                raise InvalidArgument(
                    Status.E_INVALID_ARGUMENT,
                    "the stream is non-blocking and has no data now: read_frames needs a blocking stream",
                    call="read_frames",
                )
            view[: len(data)] = data
            return len(data)

        return read
    raise ArgumentTypeError(
        f"read_frames needs a binary file object or a socket (readinto, recv_into or read), got "
        f"{type(stream).__name__}",
        call="read_frames",
    )


def _fill(read: Callable[[memoryview], int], view: memoryview) -> int:
    """Reads until `view` is full or the stream ends; returns the bytes read."""
    done, size = 0, len(view)
    while done < size:
        n = read(view[done:])
        if n == 0:
            break
        done += n
    return done


def read_frames(stream: Any, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Iterator[bytearray]:
    """Yields the frames of a byte stream, one by one, until it ends.

    `stream` is a binary file object (``open(path, "rb")``, ``sys.stdin.buffer``, a pipe,
    ``io.BytesIO``), a socket (read with ``recv_into``) or anything with ``readinto`` or
    ``read(n)``. For each frame it reads the 16-byte prefix (``FRAME_PREFIX_SIZE``), which gives
    the header's length (88 bytes in format 1, 40 to 2040 in format 2), then the rest of the
    header, learns the frame's length from it (:func:`peek`: magic, format version and header
    length are checked), then reads exactly the rest: never a byte past the frame, so frames of
    both formats, and format-2 frames shorter than 88 bytes, may follow each other. Each frame is a
    new ``bytearray``, yours to keep; pass it to :meth:`Store.apply`, which validates the whole
    frame.

    The end of the stream between two frames ends the iteration. An end inside a frame raises
    :class:`IncompleteFrame` (a :class:`FrameTruncated` and an ``EOFError``) with ``received``
    and ``expected`` byte counts. Bytes that are not a frame header raise the :class:`FrameError`
    of :func:`peek` (``FrameMagic``, ``FrameVersion``, ...): a byte stream cannot resynchronize.
    A frame longer than `max_frame_bytes` (default 1 GiB; at least 16) raises
    :class:`FrameTooLarge` before anything past its header is read or allocated (a header is at
    most 2040 bytes). Errors of the stream itself (``OSError``,
    ``socket.timeout``) propagate as they are.

    A blocking stream is needed; with asyncio use :func:`aread_frames`.
    """
    limit = _limit(max_frame_bytes)
    read = _read_into(stream)
    return _frames(read, limit)


def _frames(read: Callable[[memoryview], int], limit: int) -> Iterator[bytearray]:
    while True:
        prefix = bytearray(FRAME_PREFIX_SIZE)
        got = _fill(read, memoryview(prefix))
        if got == 0:
            return
        if got < FRAME_PREFIX_SIZE:
            raise _incomplete(got, None, "read_frames")
        header_length = _header_length(prefix, limit, "read_frames")
        header = prefix + bytearray(header_length - FRAME_PREFIX_SIZE)
        with memoryview(header) as view:
            got = _fill(read, view[FRAME_PREFIX_SIZE:])
        if got < header_length - FRAME_PREFIX_SIZE:
            raise _incomplete(FRAME_PREFIX_SIZE + got, None, "read_frames", header_length)
        length = _frame_length(header, limit, "read_frames")
        frame = bytearray(length)  # header_length <= length <= limit
        frame[:header_length] = header
        with memoryview(frame) as view:
            got = _fill(read, view[header_length:])
        if got < length - header_length:
            raise _incomplete(header_length + got, length, "read_frames")
        yield frame


def aread_frames(
    reader: asyncio.StreamReader, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> AsyncIterator[bytes]:
    """The asyncio version of :func:`read_frames`: an async generator of the frames read from an
    ``asyncio.StreamReader`` (from ``asyncio.open_connection``, ``start_server``,
    ``connect_read_pipe``...), each as ``bytes``::

        reader, writer = await asyncio.open_connection(host, port)
        async for frame in podsync.aread_frames(reader):
            replica.apply(frame)

    Same rules: the end of the stream between frames ends the iteration, an end inside a frame
    raises :class:`IncompleteFrame`, a frame longer than `max_frame_bytes` (default 1 GiB)
    raises :class:`FrameTooLarge` before its body is read.

    On the sending side, write frames produced with ``copy=True``
    (``writer.write(frame)`` for ``frame in store.flush(copy=True)``): an asyncio transport may
    keep the buffer it was given (Python 3.12+ keeps memoryviews without copying) until the bytes
    are sent, and a borrowed frame kept alive that way makes the store's next
    ``flush``/``delta_since``/``snapshot`` raise :class:`ViewsAliveError`.
    """
    limit = _limit(max_frame_bytes)
    if not callable(getattr(reader, "readexactly", None)):
        raise ArgumentTypeError(
            f"aread_frames needs an asyncio.StreamReader (readexactly), got {type(reader).__name__}",
            call="aread_frames",
        )
    return _aframes(reader, limit)


async def _aframes(reader: asyncio.StreamReader, limit: int) -> AsyncIterator[bytes]:
    while True:
        try:
            prefix = await reader.readexactly(FRAME_PREFIX_SIZE)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return
            raise _incomplete(len(exc.partial), None, "aread_frames") from None
        header_length = _header_length(prefix, limit, "aread_frames")
        try:
            header = prefix + await reader.readexactly(header_length - FRAME_PREFIX_SIZE)
        except asyncio.IncompleteReadError as exc:
            raise _incomplete(FRAME_PREFIX_SIZE + len(exc.partial), None, "aread_frames", header_length) from None
        length = _frame_length(header, limit, "aread_frames")
        try:
            rest = await reader.readexactly(length - header_length)
        except asyncio.IncompleteReadError as exc:
            raise _incomplete(header_length + len(exc.partial), length, "aread_frames") from None
        yield header + rest
