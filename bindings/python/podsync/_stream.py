"""Frames read from a byte stream (a file, a pipe, a socket, an asyncio ``StreamReader``): the
loop every receiver needs — read the 88-byte header, :func:`peek` the frame's length, read the
rest — written once, bounded, with a clear error for a stream cut inside a frame.

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
    IncompleteFrame,
    InvalidArgument,
    Status,
    checked_int,
)
from ._ffi import FRAME_HEADER_SIZE
from ._frames import peek

#: Default bound on one frame's length (``max_frame_bytes``): 1 GiB.
DEFAULT_MAX_FRAME_BYTES = 1 << 30


def _limit(max_frame_bytes: int) -> int:
    return checked_int("max_frame_bytes", max_frame_bytes, FRAME_HEADER_SIZE, (1 << 64) - 1)


def _frame_length(header: Any, limit: int, call: str) -> int:
    """The frame's length from its header (checked by podsync_frame_peek: magic, format version,
    header length), bounded by `limit`."""
    info = peek(header)
    length = info.frame_length
    if length < max(info.header_length, FRAME_HEADER_SIZE):
        raise FrameMalformed(
            Status.E_FRAME_MALFORMED, f"frame_length {length} is shorter than the frame's header", call=call
        )
    if length > limit:
        raise FrameTooLarge(
            Status.E_FRAME_TOO_LARGE,
            f"the next frame is {length} bytes, more than max_frame_bytes={limit}; nothing was read past "
            "its header (raise max_frame_bytes if the sender is trusted)",
            call=call,
        )
    return length


def _incomplete(received: int, expected: int | None, call: str) -> IncompleteFrame:
    if expected is None:
        text = f"the stream ended inside a frame header ({received} of {FRAME_HEADER_SIZE} bytes)"
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
    ``read(n)``. For each frame it reads the 88-byte header, learns the frame's length from it
    (:func:`peek`: magic, format version and header length are checked), then reads exactly the
    rest. Each frame is a new ``bytearray``, yours to keep; pass it to :meth:`Store.apply`, which
    validates the whole frame.

    The end of the stream between two frames ends the iteration. An end inside a frame raises
    :class:`IncompleteFrame` (a :class:`FrameTruncated` and an ``EOFError``) with ``received``
    and ``expected`` byte counts. Bytes that are not a frame header raise the :class:`FrameError`
    of :func:`peek` (``FrameMagic``, ``FrameVersion``, ...): a byte stream cannot resynchronize.
    A frame longer than `max_frame_bytes` (default 1 GiB) raises :class:`FrameTooLarge` before
    anything past its header is read or allocated. Errors of the stream itself (``OSError``,
    ``socket.timeout``) propagate as they are.

    A blocking stream is needed; with asyncio use :func:`aread_frames`.
    """
    limit = _limit(max_frame_bytes)
    read = _read_into(stream)
    return _frames(read, limit)


def _frames(read: Callable[[memoryview], int], limit: int) -> Iterator[bytearray]:
    while True:
        header = bytearray(FRAME_HEADER_SIZE)
        got = _fill(read, memoryview(header))
        if got == 0:
            return
        if got < FRAME_HEADER_SIZE:
            raise _incomplete(got, None, "read_frames")
        length = _frame_length(header, limit, "read_frames")
        frame = bytearray(length)
        frame[:FRAME_HEADER_SIZE] = header
        with memoryview(frame) as view:
            got = _fill(read, view[FRAME_HEADER_SIZE:])
        if got < length - FRAME_HEADER_SIZE:
            raise _incomplete(FRAME_HEADER_SIZE + got, length, "read_frames")
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
            header = await reader.readexactly(FRAME_HEADER_SIZE)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return
            raise _incomplete(len(exc.partial), None, "aread_frames") from None
        length = _frame_length(header, limit, "aread_frames")
        try:
            rest = await reader.readexactly(length - FRAME_HEADER_SIZE)
        except asyncio.IncompleteReadError as exc:
            raise _incomplete(FRAME_HEADER_SIZE + len(exc.partial), length, "aread_frames") from None
        yield header + rest
