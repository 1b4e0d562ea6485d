"""read_frames / aread_frames: frames from files, pipes, sockets and asyncio streams."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import threading
from collections.abc import Iterator

import numpy as np
import pytest

import podsync
from _support import entities, state


def produce(writer: podsync.Writer, batches: int = 5) -> list[bytes]:
    """Frames of several flushes (one of them split in many by max_frame_bytes is not needed)."""
    frames: list[bytes] = []
    for b in range(batches):
        keys = np.arange(1 + 10 * b, 11 + 10 * b, dtype=np.uint64)
        writer.put_many(1, keys, entities(keys, seed=b))
        if b % 2:
            writer.delete(1, int(keys[0]) - 5)
        frames.extend(writer.flush(copy=True))  # type: ignore[arg-type]
    return frames


@pytest.fixture
def frames(writer: podsync.Writer) -> list[bytes]:
    return produce(writer)


def apply_all(replica: podsync.Replica, frames: Iterator[bytearray] | list[bytes]) -> int:
    n = 0
    for frame in frames:
        assert replica.apply(frame) == podsync.ApplyResult.OK
        n += 1
    return n


def test_bytesio(writer: podsync.Writer, replica: podsync.Replica, frames: list[bytes]) -> None:
    stream = io.BytesIO(b"".join(frames))
    got = list(podsync.read_frames(stream))
    assert [bytes(f) for f in got] == frames and all(type(f) is bytearray for f in got)
    assert apply_all(replica, got) == len(frames)
    assert replica.digest() == writer.digest() and state(replica, 1) == state(writer, 1)
    assert list(podsync.read_frames(io.BytesIO(b""))) == []  # an empty stream: no frame


def test_a_file_and_a_reader_with_read_only(tmp_path, frames: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "frames.bin"
    path.write_bytes(b"".join(frames))
    with open(path, "rb") as f:
        assert [bytes(x) for x in podsync.read_frames(f)] == frames
    with open(path, "rb", buffering=0) as f:  # raw FileIO: readinto may return short counts
        assert [bytes(x) for x in podsync.read_frames(f)] == frames

    class Dribble:  # read(n) only, and at most 7 bytes at a time
        def __init__(self, data: bytes) -> None:
            self.data, self.pos = data, 0

        def read(self, n: int) -> bytes:
            out = self.data[self.pos : self.pos + min(n, 7)]
            self.pos += len(out)
            return out

    assert [bytes(x) for x in podsync.read_frames(Dribble(b"".join(frames)))] == frames


def test_a_pipe_written_in_odd_chunks(writer: podsync.Writer, replica: podsync.Replica, frames: list[bytes]) -> None:
    r, w = os.pipe()
    data = b"".join(frames)

    def send() -> None:
        with os.fdopen(w, "wb", buffering=0) as out:
            for i in range(0, len(data), 13):
                out.write(data[i : i + 13])

    t = threading.Thread(target=send)
    t.start()
    with os.fdopen(r, "rb") as inp:
        assert apply_all(replica, podsync.read_frames(inp)) == len(frames)
    t.join()
    assert replica.digest() == writer.digest()


def test_a_socket(writer: podsync.Writer, replica: podsync.Replica) -> None:
    a, b = socket.socketpair()

    def send() -> None:
        with a:
            for frame in produce(writer, 3):
                a.sendall(frame)

    t = threading.Thread(target=send)
    t.start()
    with b:
        n = apply_all(replica, podsync.read_frames(b))
    t.join()
    assert n == 3 and replica.digest() == writer.digest()


def test_a_stream_cut_inside_a_frame(frames: list[bytes]) -> None:
    data = b"".join(frames[:2])
    cut_body = data[: len(frames[0]) + 100]  # frame 2's header and part of its body
    assert podsync.peek(frames[1]).header_length < 100 < len(frames[1])
    it = podsync.read_frames(io.BytesIO(cut_body))
    assert bytes(next(it)) == frames[0]
    with pytest.raises(podsync.IncompleteFrame) as info:
        next(it)
    err = info.value
    assert err.received == 100 and err.expected == len(frames[1])
    assert f"100 of its {len(frames[1])} bytes" in str(err)
    assert isinstance(err, EOFError) and isinstance(err, podsync.FrameTruncated) and isinstance(err, podsync.PodSyncError)
    with pytest.raises(podsync.IncompleteFrame) as info:
        list(podsync.read_frames(io.BytesIO(frames[0][:40])))  # inside the header
    assert info.value.received == 40 and info.value.expected is None and "header" in str(info.value)


def test_garbage_and_limits(schema: podsync.Schema, frames: list[bytes]) -> None:
    with pytest.raises(podsync.FrameMagic):
        list(podsync.read_frames(io.BytesIO(b"x" * 200)))
    with podsync.Writer(schema, frame_format=1) as w1:
        (v1,) = produce(w1, 1)
    # The default writer's frame (format 2 since library 0.8.0: a header shorter than 88 bytes)
    # and a format-1 frame (the 88-byte header).
    for big, header in ((frames[0], None), (v1, podsync.FRAME_HEADER_SIZE)):
        info = podsync.peek(big)
        if header is None:
            assert info.format_version == 2 and info.header_length < podsync.FRAME_HEADER_SIZE
            header = info.header_length
        else:
            assert info.format_version == 1 and info.header_length == header == 88
        stream = io.BytesIO(big * 2)
        it = podsync.read_frames(stream, max_frame_bytes=len(big) - 1)
        with pytest.raises(podsync.FrameTooLarge, match=f"{len(big)} bytes, more than max_frame_bytes={len(big) - 1}"):
            next(it)
        assert stream.tell() == header  # nothing read past the header
        assert [bytes(f) for f in podsync.read_frames(io.BytesIO(big), max_frame_bytes=len(big))] == [big]
    assert podsync.DEFAULT_MAX_FRAME_BYTES == 1 << 30


def test_bad_arguments_are_refused_at_the_call() -> None:
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.read_frames(42)
    with pytest.raises(OverflowError):
        podsync.read_frames(io.BytesIO(), max_frame_bytes=10)  # less than a header
    with pytest.raises(TypeError, match="binary mode"):
        list(podsync.read_frames(io.StringIO("text")))
    with pytest.raises(podsync.ArgumentTypeError):
        podsync.aread_frames(io.BytesIO())  # not a StreamReader


def test_asyncio_stream_reader(writer: podsync.Writer, replica: podsync.Replica, frames: list[bytes]) -> None:
    async def main() -> list[bytes]:
        reader = asyncio.StreamReader()
        data = b"".join(frames)
        for i in range(0, len(data), 100):
            reader.feed_data(data[i : i + 100])
        reader.feed_eof()
        return [f async for f in podsync.aread_frames(reader)]

    got = asyncio.run(main())
    assert got == frames and all(type(f) is bytes for f in got)
    assert apply_all(replica, got) == len(frames) and replica.digest() == writer.digest()


def test_asyncio_cut_and_too_large(frames: list[bytes]) -> None:
    async def read(data: bytes, **kw: int) -> list[bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return [f async for f in podsync.aread_frames(reader, **kw)]

    with pytest.raises(podsync.IncompleteFrame) as info:
        asyncio.run(read(frames[0] + frames[1][:-1]))
    assert info.value.received == len(frames[1]) - 1 and info.value.expected == len(frames[1])
    with pytest.raises(podsync.IncompleteFrame):
        asyncio.run(read(frames[0][:10]))
    with pytest.raises(podsync.FrameTooLarge):
        asyncio.run(read(frames[0], max_frame_bytes=100))
    assert asyncio.run(read(b"")) == []


def test_asyncio_over_tcp_with_copied_frames(writer: podsync.Writer, replica: podsync.Replica) -> None:
    """The documented asyncio pattern: the sender writes copy=True frames, the receiver iterates."""

    async def main() -> int:
        applied = 0
        done = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, out: asyncio.StreamWriter) -> None:
            nonlocal applied
            async for frame in podsync.aread_frames(reader):
                replica.apply(frame)
                applied += 1
            out.close()
            done.set()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, out = await asyncio.open_connection("127.0.0.1", port)
        for b in range(4):
            keys = np.arange(1, 2001, dtype=np.uint64)
            writer.put_many(1, keys, entities(keys, seed=b))
            for frame in writer.flush(copy=True):  # copy=True: the transport may keep the buffer
                out.write(frame)
            await out.drain()
        out.close()
        await out.wait_closed()
        await done.wait()
        server.close()
        await server.wait_closed()
        return applied

    assert asyncio.run(main()) == 4
    assert replica.digest() == writer.digest() and replica.count(1) == 2000
