"""podsync.nats, the NATS JetStream carrier (include/podsync_nats.h), against real nats-server
processes the fixtures start: loopback only, a free port, a temporary store directory, stopped at
the end. Nothing here is skipped: without nats-server (or the carrier library) the tests FAIL,
saying what is missing."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

import podsync
import podsync.nats as pn
from podsync import _ffi
from _support import ENTITY, REPO, entities

NATS_HEADER = REPO / "include" / "podsync_nats.h"
ENTITIES = 1000
OPTS = pn.Options(timeout_ms=2000, snapshot_every_versions=40, snapshot_every_ms=0)


# --- the server --------------------------------------------------------------------------------


def nats_server_binary() -> str:
    found = shutil.which("nats-server") or shutil.which("nats-server", path="/usr/sbin:/usr/local/sbin:/sbin:/usr/local/bin")
    if not found:
        pytest.fail(
            "nats-server is not installed (not on PATH nor in /usr/sbin): the NATS carrier tests need a real "
            "server; install it (apt-get install nats-server) and run them again",
            pytrace=False,
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class NatsServer:
    """One `nats-server -js -a 127.0.0.1 -p <port> -sd <dir>`; restartable on the same port and
    store directory."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.store = root / "store"
        self.log = root / "nats-server.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        for _attempt in range(5):  # a free port may be taken by someone else meanwhile
            if not self.port or _attempt:
                self.port = free_port()
            if self._launch():
                return
        pytest.fail(f"nats-server did not start; its log:\n{self.log.read_text(errors='replace')[-3000:]}", pytrace=False)

    def restart(self) -> None:
        assert self._launch(), self.log.read_text(errors="replace")[-3000:]

    def _launch(self) -> bool:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if port_open(self.port):
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def stop(self, kill: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.kill() if kill else proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(nats_server_binary(), tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def stream(request: pytest.FixtureRequest) -> str:
    """A stream name of its own for each test."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:60]


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def schema() -> Iterator[podsync.Schema]:
    with podsync.Schema({1: ENTITY}) as s:
        yield s


def world(schema: podsync.Schema) -> podsync.Writer:
    """A writer of ENTITIES records, flushed (the world exists before the publisher starts)."""
    w = podsync.Writer(schema, max_frame_bytes=256 << 10)
    ids = np.arange(ENTITIES, dtype=np.uint64)
    w.put_many(1, ids, entities(ids))
    w.flush()
    return w


def tick(w: podsync.Writer, rng: np.random.Generator, changes: int = ENTITIES // 100) -> None:
    keys = rng.choice(ENTITIES, changes, replace=False).astype(np.uint64)
    w.put_many(1, keys, entities(keys, seed=int(rng.integers(1, 1 << 30))))


def follow_to(follower: pn.Follower, replica: podsync.Store, version: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while replica.version != version and time.monotonic() < deadline:
        follower.poll(50)
    assert replica.version == version, (replica.version, version, follower.stats, follower.message)


class RawNats:
    """A plain JetStream client through libnats (ctypes): publishes whatever bytes it is given."""

    def __init__(self, url: str) -> None:
        name = ctypes.util.find_library("nats") or "libnats.so.3.4"
        lib = ctypes.CDLL(name)
        vp, P = ctypes.c_void_p, ctypes.POINTER
        lib.natsConnection_ConnectTo.argtypes = [P(vp), ctypes.c_char_p]
        lib.natsConnection_JetStream.argtypes = [P(vp), vp, vp]
        lib.js_Publish.argtypes = [P(vp), vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, vp, P(ctypes.c_int)]
        lib.natsStatus_GetText.argtypes = [ctypes.c_int]
        lib.natsStatus_GetText.restype = ctypes.c_char_p
        for fn in ("jsPubAck_Destroy", "jsCtx_Destroy", "natsConnection_Destroy"):
            getattr(lib, fn).argtypes = [vp]
            getattr(lib, fn).restype = None
        self.lib = lib
        self.nc, self.js = vp(), vp()
        self._check(lib.natsConnection_ConnectTo(ctypes.byref(self.nc), url.encode()), "connect")
        self._check(lib.natsConnection_JetStream(ctypes.byref(self.js), self.nc, None), "JetStream")

    def _check(self, status: int, what: str) -> None:
        assert status == 0, f"raw libnats {what}: {self.lib.natsStatus_GetText(status).decode()}"

    def publish(self, subject: str, data: bytes) -> None:
        """js_Publish: returns once the stream stored the message."""
        ack, err = ctypes.c_void_p(), ctypes.c_int(0)
        status = self.lib.js_Publish(ctypes.byref(ack), self.js, subject.encode(), data, len(data), None, ctypes.byref(err))
        self._check(status, f"js_Publish on {subject} (JetStream error {err.value})")
        self.lib.jsPubAck_Destroy(ack)

    def close(self) -> None:
        self.lib.jsCtx_Destroy(self.js)
        self.lib.natsConnection_Destroy(self.nc)


# --- replication over a real server ------------------------------------------------------------


def test_publisher_and_follower_converge_over_50_ticks(schema: podsync.Schema, url: str, stream: str) -> None:
    rng = np.random.default_rng(1)
    with world(schema) as w, podsync.Replica(schema) as r, \
            pn.Publisher(w, url, stream, OPTS) as pub, pn.Follower(r, url, stream, OPTS) as fol:  # fmt: skip
        assert pub.stats.snapshots_published == 1 and pub.stats.snapshot_version == w.version == 1
        for _ in range(50):
            tick(w, rng)  # 1% of the records change
            assert pub.flush() == 1
            fol.poll(0)
        follow_to(fol, r, w.version)
        assert r.digest() == w.digest()
        assert r.count(1) == ENTITIES
        ps, fs = pub.stats, fol.stats
        assert ps == pn.PublisherStats(
            connected=True, frames_published=50, bytes_published=ps.bytes_published, frames_pending=0,
            frames_dropped=0, snapshots_published=ps.snapshots_published, snapshot_version=ps.snapshot_version,
            last_sequence=50, reconnects=0,
        )  # fmt: skip
        assert ps.bytes_published > 50 * podsync.FRAME_HEADER_SIZE
        assert ps.snapshots_published == 2 and ps.snapshot_version == 41  # at creation, then 40 versions later
        assert fs.connected and fs.snapshots_taken == 1 and fs.rejected == 0 and fs.last_rejected_status == 0
        assert fs.last_rejected_status_name is None
        assert fs.frames_applied == 51 and fs.duplicates == 0  # the snapshot (one chunk) + 50 frames
        assert fs.state_version == w.version == 51 and fs.next_sequence == ps.last_sequence + 1
        assert fs.bytes_received >= ps.bytes_published and fs.gaps_repaired == 0 and fs.reconnects == 0
        assert fol.poll(0) == 0  # nothing new
        assert pub.flush() == 0  # nothing to flush
        assert pub.message == "" and isinstance(fol.message, str)


def test_a_late_follower_bootstraps_from_the_snapshot(schema: podsync.Schema, url: str, stream: str) -> None:
    rng = np.random.default_rng(2)
    opts = pn.Options(timeout_ms=2000, snapshot_every_versions=10, snapshot_every_ms=0, storage="memory", client_name="late test")
    with world(schema) as w, pn.Publisher(w, url, stream, opts) as pub:
        for _ in range(25):
            tick(w, rng)
            pub.flush()
        assert pub.stats.snapshot_version == 21
        with podsync.Replica(schema) as late, pn.Follower(late, url, stream, opts) as fol:
            follow_to(fol, late, w.version)
            assert late.digest() == w.digest()
            fs = fol.stats
            assert fs.snapshots_taken == 1  # the newest snapshot, then the frames after it
            assert fs.frames_applied >= 1 + (w.version - 21) and fs.rejected == 0
            # An explicit snapshot: a follower joining now takes it and needs no frame.
            tick(w, rng)
            pub.flush()
            pub.snapshot()
            assert pub.stats.snapshot_version == w.version and pub.stats.snapshots_published == 4
            follow_to(fol, late, w.version)
        with podsync.Replica(schema) as later, pn.Follower(later, [url], stream, opts) as fol2:
            assert fol2.url == url
            follow_to(fol2, later, w.version)
            assert later.digest() == w.digest()
            assert fol2.stats.snapshots_taken == 1


def test_a_follower_under_asyncio_with_poll_async(schema: podsync.Schema, url: str, stream: str) -> None:
    rng = np.random.default_rng(3)

    async def main(w: podsync.Writer, r: podsync.Replica) -> None:
        with pn.Publisher(w, url, stream, OPTS) as pub, pn.Follower(r, url, stream, OPTS) as fol:
            for _ in range(20):
                tick(w, rng)
                assert await pub.flush_async() == 1
                await fol.poll_async(0)
            deadline = time.monotonic() + 20
            while r.version != w.version and time.monotonic() < deadline:
                await fol.poll_async(50)
            assert r.version == w.version and r.digest() == w.digest()

            # The event loop runs while a poll waits in its thread; the follower refuses a second
            # call meanwhile instead of racing with the first.
            beats = 0

            async def heartbeat() -> None:
                nonlocal beats
                while True:
                    beats += 1
                    await asyncio.sleep(0.01)

            beating = asyncio.create_task(heartbeat())
            polling = asyncio.create_task(fol.poll_async(400))
            await asyncio.sleep(0.1)
            with pytest.raises(pn.ConcurrentUseError, match="in use by another thread"):
                fol.stats
            with pytest.raises(pn.ConcurrentUseError):
                fol.poll(0)
            assert await polling == 0
            beating.cancel()
            assert beats >= 5, beats
            assert fol.stats.state_version == w.version

            # A frame published while poll_async waits is applied by that very poll.
            polling = asyncio.create_task(fol.poll_async(5000))
            await asyncio.sleep(0.05)
            tick(w, rng)
            await pub.flush_async()
            assert await polling == 1
            assert r.digest() == w.digest()

    with world(schema) as w, podsync.Replica(schema) as r:
        asyncio.run(main(w, r))


def test_garbage_on_the_frame_subject_is_rejected_and_counted(schema: podsync.Schema, url: str, stream: str) -> None:
    rng = np.random.default_rng(4)
    with world(schema) as w, podsync.Replica(schema) as r, \
            pn.Publisher(w, url, stream, OPTS) as pub, pn.Follower(r, url, stream, OPTS) as fol:  # fmt: skip
        for _ in range(5):
            tick(w, rng)
            pub.flush()
        follow_to(fol, r, w.version)
        version, digest = r.version, r.digest()

        # A frame of another schema, and a damaged frame of this one (another writer's).
        with podsync.Schema({1: np.dtype([("x", "<u8"), ("y", "<u8")])}) as other, podsync.Writer(other) as stranger:
            stranger.put(1, 7, b"\x01" * 16)
            foreign = stranger.flush(copy=True)[0]
        with podsync.Writer(schema) as twin:
            twin.put(1, 3, entities([3], seed=9))
            damaged = bytearray(twin.flush(copy=True)[0])
            damaged[-1] ^= 0xFF
        raw = RawNats(url)
        try:
            subject = f"podsync.{stream}.frames"
            raw.publish(subject, b"not a frame at all")
            raw.publish(subject, bytes(damaged))
            raw.publish(subject, foreign)
        finally:
            raw.close()

        deadline = time.monotonic() + 10
        while fol.stats.rejected < 3 and time.monotonic() < deadline:
            assert fol.poll(50) == 0
        fs = fol.stats
        assert fs.rejected == 3, (fs, fol.message)
        assert fs.last_rejected_status == podsync.Status.E_SCHEMA_MISMATCH
        assert fs.last_rejected_status_name == "PODSYNC_E_SCHEMA_MISMATCH"
        assert "sequence" in fol.message  # why the last one was skipped
        assert r.version == version and r.digest() == digest  # state unchanged
        assert fs.next_sequence == pub.stats.last_sequence + 4

        # The follower keeps following.
        for _ in range(5):
            tick(w, rng)
            pub.flush()
        follow_to(fol, r, w.version)
        assert r.digest() == w.digest() and fol.stats.rejected == 3


def test_a_server_restart_keeps_frames_pending_then_publishes_them(
    schema: podsync.Schema, tmp_path: Path, stream: str
) -> None:
    """Errors while the server is down are NatsConnectionError / NatsTimeoutError (nothing lost);
    frames kept by the publisher are published once it is back."""
    server = NatsServer(nats_server_binary(), tmp_path)
    server.start()
    rng = np.random.default_rng(5)
    opts = pn.Options(timeout_ms=500, reconnect_wait_ms=50)
    try:
        with world(schema) as w, podsync.Replica(schema) as r, \
                pn.Publisher(w, server.url, stream, opts) as pub, pn.Follower(r, server.url, stream, opts) as fol:  # fmt: skip
            tick(w, rng)
            pub.flush()
            follow_to(fol, r, w.version)
            server.stop(kill=True)
            for i in range(3):
                tick(w, rng)
                with pytest.raises((pn.NatsConnectionError, pn.NatsTimeoutError)) as info:
                    pub.flush()
                assert info.value.published == 0 and isinstance(info.value, (ConnectionError, TimeoutError))
                assert info.value.status in (pn.E_CONNECTION, pn.E_TIMEOUT)
                assert info.value.status_name in ("PODSYNC_NATS_E_CONNECTION", "PODSYNC_NATS_E_TIMEOUT")
                assert pub.stats.frames_pending == i + 1
            assert not pub.stats.connected
            try:
                assert fol.poll(0) == 0  # nothing to apply; the follower may not have noticed yet
            except (pn.NatsConnectionError, pn.NatsTimeoutError) as polled:
                assert polled.applied == 0
            server.restart()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    pub.flush()
                    break
                except (pn.NatsConnectionError, pn.NatsTimeoutError):
                    time.sleep(0.1)
            ps = pub.stats
            assert ps.frames_pending == 0 and ps.connected and ps.reconnects >= 1
            deadline = time.monotonic() + 20
            while r.version != w.version and time.monotonic() < deadline:
                try:
                    fol.poll(50)
                except (pn.NatsConnectionError, pn.NatsTimeoutError):
                    time.sleep(0.1)
            assert r.version == w.version and r.digest() == w.digest()
    finally:
        server.stop()


def test_a_follower_waits_for_its_stream_then_follows(schema: podsync.Schema, url: str, stream: str) -> None:
    with world(schema) as w, podsync.Replica(schema) as r, pn.Follower(r, url, stream, OPTS) as fol:
        for _ in range(2):
            with pytest.raises(pn.StreamMissingError, match=f"the stream {stream} does not exist"):
                fol.poll(10)
        with pn.Publisher(w, url, stream, OPTS) as pub:
            tick(w, np.random.default_rng(7))
            pub.flush()
            follow_to(fol, r, w.version)
            assert r.digest() == w.digest() and fol.stats.snapshots_taken == 1


def test_a_frame_larger_than_the_server_takes_is_replaced_by_a_snapshot(url: str, stream: str) -> None:
    """MessageTooLargeError: the frame is not published, a snapshot in chunks that fit replaces it,
    and followers heal from it."""
    record = np.dtype([("b", "V1000")])
    with podsync.Schema({1: record}) as big, podsync.Writer(big, compression_level=0) as w, \
            podsync.Replica(big) as r, pn.Publisher(w, url, stream, OPTS) as pub, \
            pn.Follower(r, url, stream, OPTS) as fol:  # fmt: skip
        keys = np.arange(2000, dtype=np.uint64)
        w.put_many(1, keys, np.frombuffer(np.random.default_rng(8).bytes(2000 * 1000), dtype=record))
        with pytest.raises(pn.MessageTooLargeError, match="larger than the server accepts") as info:
            pub.flush()  # one 2 MB frame (the writer's max_frame_bytes is 64 MiB by default)
        assert isinstance(info.value, ValueError) and info.value.published == 0
        ps = pub.stats
        assert ps.frames_dropped == 1 and ps.frames_published == 0 and ps.snapshots_published == 2
        assert ps.snapshot_version == w.version == 1
        follow_to(fol, r, w.version)
        assert r.digest() == w.digest()
        assert fol.stats.snapshots_taken == 1 and fol.stats.frames_applied >= 2  # chunks that fit


def test_a_relay_republishes_what_its_follower_applies(schema: podsync.Schema, url: str, stream: str) -> None:
    """Writer -> stream A -> follower 1, relaying to stream B -> follower 2: both converge."""
    rng = np.random.default_rng(9)
    far = stream[:50] + "_far"
    with world(schema) as w, podsync.Replica(schema) as r1, podsync.Replica(schema) as r2, \
            pn.Publisher(w, url, stream, OPTS) as pub, pn.Follower(r1, url, stream, OPTS) as near:  # fmt: skip
        assert near.relay_stats is None
        with pytest.raises(podsync.InvalidArgument, match="stream_name must be 1 to 64 characters"):
            near.relay(url, "no good")
        assert near.relay_stats is None
        near.relay(url, far, OPTS)
        with pytest.raises(podsync.InvalidArgument, match="relays already"):
            near.relay(url, far + "2", OPTS)
        with pn.Follower(r2, url, far, OPTS) as remote:
            for _ in range(20):
                tick(w, rng)
                pub.flush()
                near.poll(0)
                try:
                    remote.poll(0)
                except pn.StreamMissingError:
                    pass  # until the relay made it
            follow_to(near, r1, w.version)
            follow_to(remote, r2, w.version)
            assert r1.digest() == r2.digest() == w.digest()
            rs = near.relay_stats
            assert rs is not None and rs.connected and rs.frames_pending == 0 and rs.snapshots_published >= 1
            assert rs.frames_published + rs.snapshots_published >= 2
            assert remote.stats.rejected == 0


# --- arguments and errors ----------------------------------------------------------------------


def test_bad_arguments_raise_with_clear_messages(schema: podsync.Schema, url: str) -> None:
    with podsync.Writer(schema) as w, podsync.Replica(schema) as r:
        for bad in ("bad name!", "a.b", "", "x" * 65, "wörld"):
            with pytest.raises(podsync.InvalidArgument, match="stream_name must be 1 to 64 characters of A-Z a-z 0-9 - _"):
                pn.Publisher(w, url, bad)
            with pytest.raises(podsync.InvalidArgument, match="stream_name must be 1 to 64 characters"):
                pn.Follower(r, url, bad)
        with pytest.raises(podsync.InvalidArgument, match="stream must not contain a NUL"):
            pn.Publisher(w, url, "world\0x")
        with pytest.raises(podsync.InvalidArgument, match="url must not contain a NUL"):
            pn.Publisher(w, url + "\0", "world")
        with pytest.raises(podsync.WrongRole, match="a publisher needs a writer store") as wrong:
            pn.Publisher(r, url, "world")
        assert wrong.value.status == podsync.Status.E_WRONG_ROLE and "podsync_nats_publisher_create" in str(wrong.value)
        with pytest.raises(podsync.WrongRole, match="a follower needs a replica store"):
            pn.Follower(w, url, "world")
        with pytest.raises(podsync.ArgumentTypeError, match="store must be a podsync.Writer"):
            pn.Publisher("a store", url, "world")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="stream must be a str"):
            pn.Follower(r, url, b"world")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="url must be a str"):
            pn.Follower(r, 4222, "world")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="options must be a podsync.nats.Options"):
            pn.Follower(r, url, "world", {"timeout_ms": 5})  # type: ignore[arg-type]

        with pytest.raises(podsync.InvalidArgument, match="storage must be 'file' or 'memory'"):
            pn.Options(storage="tape")
        with pytest.raises(podsync.OutOfRangeError, match="max_reconnects must be in -1"):
            pn.Options(max_reconnects=-2)
        with pytest.raises(OverflowError):
            pn.Options(max_bytes=-1)
        with pytest.raises(TypeError, match="timeout_ms must be an int"):
            pn.Options(timeout_ms=1.5)  # type: ignore[arg-type]
        with pytest.raises(podsync.InvalidArgument, match="client_name must not contain a NUL"):
            pn.Options(client_name="a\0b")
        # What only the library checks, at creation (before connecting).
        with pytest.raises(podsync.InvalidArgument, match="timeout_ms must be 1 to 3600000"):
            pn.Publisher(w, url, "world", pn.Options(timeout_ms=0))
        with pytest.raises(podsync.InvalidArgument, match="replicas must be 0 to 5"):
            pn.Publisher(w, url, "world", pn.Options(replicas=6))

        for empty in ("", " ", [], [url, ""]):
            with pytest.raises(podsync.InvalidArgument, match="url must name a server"):
                pn.Publisher(w, empty, "world")  # type: ignore[arg-type]
        # Nobody listening: a connection error, quickly.
        with pytest.raises(pn.NatsConnectionError, match="cannot connect") as refused:
            pn.Publisher(w, f"nats://127.0.0.1:{free_port()}", "world", pn.Options(max_reconnects=0, timeout_ms=500))
        assert isinstance(refused.value, ConnectionError) and refused.value.status == pn.E_CONNECTION

        # A failed creation leaves the store as it was, usable and freeable.
        assert w._h().pins == 0 and r._h().pins == 0
        w.put(1, 1, entities([1]))
        assert len(w.flush()) == 1

        # A follower of a stream nobody created.
        with pn.Follower(r, url, "nobody_publishes_here", OPTS) as fol:
            with pytest.raises(pn.StreamMissingError, match="does not exist") as missing:
                fol.poll(0)
            assert isinstance(missing.value, LookupError) and missing.value.applied == 0
            assert "does not exist" in fol.message
            with pytest.raises(podsync.OutOfRangeError):
                fol.poll(-1)
            with pytest.raises(podsync.InvalidArgument, match="timeout_ms must be at most 3600000"):
                fol.poll(3_600_001)


def test_errors_map_statuses_to_classes() -> None:
    expected = {
        -60: (pn.NatsConnectionError, ConnectionError, "PODSYNC_NATS_E_CONNECTION"),
        -61: (pn.NatsTimeoutError, TimeoutError, "PODSYNC_NATS_E_TIMEOUT"),
        -62: (pn.StreamMissingError, LookupError, "PODSYNC_NATS_E_STREAM_MISSING"),
        -63: (pn.MessageTooLargeError, ValueError, "PODSYNC_NATS_E_MSG_TOO_LARGE"),
        -64: (pn.NatsServerError, pn.NatsError, "PODSYNC_NATS_E_SERVER"),
        -65: (pn.NotAMessageError, ValueError, "PODSYNC_NATS_E_NOT_A_MESSAGE"),
    }
    for status, (cls, builtin, name) in expected.items():
        err = pn.error_for(status, "details", call="podsync_nats_x")
        assert type(err) is cls and isinstance(err, (pn.NatsError, podsync.PodSyncError, builtin))
        assert err.status == status == pn.NatsStatus[name.removeprefix("PODSYNC_NATS_")]
        assert err.status_name == name == pn.status_name(status)
        assert str(err) == f"podsync_nats_x: {name}: details" and err.message == "details"
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is cls and back.status == status and str(back) == str(err)
    assert type(pn.error_for(-70)) is pn.NatsError and pn.error_for(-70).status_name == "PODSYNC_UNKNOWN_STATUS"
    # Engine statuses a carrier call passes through: the package's exceptions and names.
    assert type(pn.error_for(-6, "x")) is podsync.WrongRole and pn.status_name(-6) == "PODSYNC_E_WRONG_ROLE"
    assert type(pn.error_for(-31)) is podsync.PodSyncIOError
    assert type(pn.error_for(-1)) is podsync.InvalidArgument
    assert issubclass(pn.ConcurrentUseError, podsync.UsageError)


# --- the store's lifetime and memory -----------------------------------------------------------


def test_the_carrier_keeps_its_store_alive_and_honours_close(schema: podsync.Schema, url: str, stream: str) -> None:
    def publisher_only() -> pn.Publisher:
        return pn.Publisher(world(schema), url, stream, OPTS)  # the writer is referenced only by it

    pub = publisher_only()
    gc.collect()
    w = pub.store
    assert isinstance(w, podsync.Writer) and not w.closed and w.version == 1
    w.put(1, 5, entities([5], seed=3))
    assert pub.flush() == 1

    # Frames the store handed out are released by the publisher's flush, as by store.flush().
    w.put(1, 6, entities([6], seed=3))
    frames = w.flush()  # taken behind the publisher's back: never published (a snapshot heals)
    arr = np.frombuffer(frames[0], dtype=np.uint8)
    with pytest.raises(podsync.ViewsAliveError):
        pub.flush()
    del arr
    pub.flush()
    with pytest.raises(ValueError):
        bytes(frames[0])

    # The store closed while the publisher is attached: calls raise, memory stays until close.
    handle = w._h()
    w.close()
    with pytest.raises(podsync.ClosedError, match="the store attached to this Publisher was closed"):
        pub.flush()
    assert handle.ptr is not None and handle.pins == 1
    pub.close()
    assert handle.ptr is None and handle.pins == 0  # freed with the publisher
    pub.close()  # idempotent
    with pytest.raises(podsync.ClosedError, match="closed Publisher"):
        pub.stats
    assert "closed" in repr(pub)


def test_poll_refuses_while_views_of_the_replica_are_alive(schema: podsync.Schema, url: str, stream: str) -> None:
    rng = np.random.default_rng(6)
    with world(schema) as w, podsync.Replica(schema) as r, \
            pn.Publisher(w, url, stream, OPTS) as pub, pn.Follower(r, url, stream, OPTS) as fol:  # fmt: skip
        follow_to(fol, r, w.version)
        table = r.table(1)
        tick(w, rng)
        pub.flush()
        with pytest.raises(podsync.ViewsAliveError, match="poll"):
            fol.poll(0)
        assert r.version == w.version - 1  # nothing applied
        del table
        follow_to(fol, r, w.version)
        with fol:
            pass
        assert fol.closed and not r.closed and r.digest() == w.digest()
        assert r._h().pins == 0 and w._h().pins == 1  # the follower let go; the publisher holds the writer
    assert w.closed and r.closed


# --- the C contract ------------------------------------------------------------------------------


def header_text() -> str:
    assert NATS_HEADER.is_file(), f"{NATS_HEADER} not found"
    return re.sub(r"/\*.*?\*/", "", NATS_HEADER.read_text(), flags=re.S)


def test_table_declares_every_header_function_exactly() -> None:
    text = header_text()
    declared: dict[str, tuple[str, int]] = {}
    for m in re.finditer(r"PODSYNC_API\s+([^;(]*?)\b(podsync_nats_\w+)\s*\(([^)]*)\)\s*;", text, re.S):
        params = m.group(3).strip()
        declared[m.group(2)] = (m.group(1).strip(), 0 if params in ("", "void") else params.count(",") + 1)
    assert len(declared) >= 17
    assert list(pn.FUNCTIONS) == list(declared)  # header order
    for name, (ret, count) in declared.items():
        restype, argtypes = pn.FUNCTIONS[name]
        assert len(argtypes) == count, name
        expected = {"void": None, "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32}.get(ret, ctypes.c_char_p)
        assert restype is expected, name
        fn = getattr(pn.NLIB, name)
        assert fn.argtypes == argtypes and fn.restype is restype, name


def test_constants_and_struct_layouts_match_the_header() -> None:
    text = NATS_HEADER.read_text()
    defines = {m.group(1): int(m.group(2)) for m in re.finditer(r"#define\s+PODSYNC_NATS_(\w+)\s+(-?\d+)\b", text)}
    assert defines["ABI_VERSION"] == pn.ABI_VERSION
    assert defines["OPTIONS_VERSION"] == pn.OPTIONS_VERSION
    assert defines["PUBLISHER_STATS_VERSION"] == pn.PUBLISHER_STATS_VERSION
    assert defines["FOLLOWER_STATS_VERSION"] == pn.FOLLOWER_STATS_VERSION
    assert defines["STORAGE_FILE"] == pn.STORAGE_FILE and defines["STORAGE_MEMORY"] == pn.STORAGE_MEMORY
    for status in pn.NatsStatus:
        assert defines[status.name] == status == getattr(pn, status.name)
    assert pn.library_version() == "{}.{}.{}".format(
        defines["VERSION_NUMBER"] // 10000, defines["VERSION_NUMBER"] // 100 % 100, defines["VERSION_NUMBER"] % 100
    )

    structs = {
        "podsync_nats_options": pn.NatsOptions,
        "podsync_nats_publisher_stats": pn.CPublisherStats,
        "podsync_nats_follower_stats": pn.CFollowerStats,
    }
    plain = header_text()
    for cname, struct in structs.items():
        body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (cname, cname), plain, re.S)
        assert body, cname
        names = re.findall(r"(\w+);", body.group(1))
        assert [f[0] for f in struct._fields_] == names, cname
    # Sizes and offsets by the C rules on LP64 (asserted here without a compiler).
    assert ctypes.sizeof(pn.NatsOptions) == 72 and pn.NatsOptions.max_age_ms.offset == 16
    assert pn.NatsOptions.client_name.offset == 64
    assert ctypes.sizeof(pn.CPublisherStats) == 72 and pn.CPublisherStats.reconnects.offset == 64
    assert ctypes.sizeof(pn.CFollowerStats) == 88 and pn.CFollowerStats.last_rejected_status.offset == 80

    # The Python stats carry every counter of the C structs (version and reserved aside).
    for struct, cls in ((pn.CPublisherStats, pn.PublisherStats), (pn.CFollowerStats, pn.FollowerStats)):
        c_names = [f[0] for f in struct._fields_ if f[0] not in ("version", "reserved")]
        assert [f.name for f in fields(cls)] == c_names


def test_options_defaults_are_the_librarys() -> None:
    c, keep = pn.Options()._to_c()
    assert keep is None and c.client_name is None
    assert (c.version, c.storage, c.replicas, c.max_reconnects, c.max_age_ms, c.max_bytes) == (1, 0, 1, -1, 0, 0)
    assert (c.snapshot_every_versions, c.snapshot_every_ms, c.timeout_ms, c.reconnect_wait_ms) == (600, 10000, 5000, 100)
    c, keep = pn.Options(storage="memory", replicas=3, max_reconnects=-1, client_name="x", max_bytes=2**64 - 1)._to_c()
    assert c.storage == pn.STORAGE_MEMORY and c.replicas == 3 and c.client_name == b"x" and c.max_bytes == 2**64 - 1
    assert pn.Options(storage=pn.STORAGE_MEMORY) == pn.Options(storage=1)
    with pytest.raises(TypeError):
        pn.Options(1000)  # type: ignore[misc]  # keyword arguments only


# --- loading -----------------------------------------------------------------------------------


def mapped_files(prefix: str) -> str:
    """Python code printing the files of this process whose name starts with `prefix`."""
    return textwrap.dedent(
        f"""
        import os
        seen = set()
        for line in open("/proc/self/maps"):
            parts = line.split()
            if len(parts) >= 6 and os.path.basename(parts[5]).startswith({prefix!r}):
                seen.add(parts[5])
        print("MAPPED", sorted(seen))
        """
    )


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PODSYNC_NATS_LIB",)}
    if "site-packages" in podsync.__file__ or "dist-packages" in podsync.__file__:
        environ.pop("PODSYNC_LIBRARY", None)
    environ.update(env)
    libs = Path(podsync.__file__).resolve().parents[1] / "podsync.libs"  # a repaired wheel's dependencies
    if libs.is_dir():
        environ["LD_LIBRARY_PATH"] = str(libs)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", env=environ, timeout=120)


def test_one_engine_in_the_process() -> None:
    result = run_python(
        "import podsync, podsync.nats as n\nprint('PATHS', podsync.LIBRARY_PATH, n.LIBRARY_PATH, n.ENGINE_PATH)\n"
        + mapped_files("libpodsync")
    )
    assert result.returncode == 0, result.stderr
    engine, carrier, engine_file = re.search(r"PATHS (\S+) (\S+) (\S+)", result.stdout).groups()  # type: ignore[union-attr]
    mapped = eval(re.search(r"MAPPED (.*)", result.stdout).group(1))  # type: ignore[union-attr]
    assert Path(engine_file).resolve() == Path(engine).resolve()
    assert sorted(Path(p).resolve() for p in mapped) == sorted({Path(engine).resolve(), Path(carrier).resolve()}), mapped
    assert Path(carrier).resolve().parent == Path(engine).resolve().parent or "PODSYNC_LIBRARY" in os.environ


def test_search_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODSYNC_NATS_LIB", raising=False)
    found = pn._candidates()
    assert found[0] == ("bundled with the package", Path(_ffi.__file__).resolve().parent / "_lib" / "libpodsync_nats.so")
    assert found[-1][0] == "system (ldconfig)"
    beside = Path(pn.ENGINE_PATH).parent / "libpodsync_nats.so"
    assert [p for _, p in found[1:-1]] == ([beside] if beside != found[0][1] else [])
    monkeypatch.setenv("PODSYNC_NATS_LIB", "/x/libpodsync_nats.so")
    assert pn._candidates() == [("$PODSYNC_NATS_LIB", Path("/x/libpodsync_nats.so"))]


def test_a_missing_or_wrong_carrier_library_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "libpodsync_nats.so"
    result = run_python("import podsync.nats", PODSYNC_NATS_LIB=str(missing))
    assert result.returncode != 0 and "LibraryNotFoundError" in result.stderr
    assert str(missing) in result.stderr and "PODSYNC_NATS_LIB" in result.stderr
    result = run_python("import podsync.nats", PODSYNC_NATS_LIB=podsync.LIBRARY_PATH)  # the engine, not the carrier
    assert result.returncode != 0 and "not the PodSync NATS carrier" in result.stderr
    # `import podsync` itself never needs the carrier.
    result = run_python("import podsync; print(podsync.__version__)", PODSYNC_NATS_LIB=str(missing))
    assert result.returncode == 0 and result.stdout.strip() == podsync.__version__


def test_a_carrier_bound_to_another_engine_copy_is_refused(tmp_path: Path) -> None:
    """The carrier links libpodsync.so.0. Loaded after the package's engine (SONAME
    libpodsync.so.0) it binds to that very engine, whatever lies beside it; an engine of another
    SONAME makes it load a second copy, which the loader detects and refuses."""
    engine = Path(podsync.LIBRARY_PATH).read_bytes()
    assert engine.count(b"libpodsync.so.0\0") >= 1
    beside = tmp_path / "carrier"
    beside.mkdir()
    shutil.copy2(pn.LIBRARY_PATH, beside / "libpodsync_nats.so")
    (beside / "libpodsync.so.0").write_bytes(engine)  # a second copy of the engine, by its SONAME

    # The package's engine (SONAME libpodsync.so.0): the copy beside the carrier is never loaded.
    result = run_python("import podsync.nats\n" + mapped_files("libpodsync"), PODSYNC_NATS_LIB=str(beside / "libpodsync_nats.so"))
    assert result.returncode == 0, result.stderr
    mapped = eval(re.search(r"MAPPED (.*)", result.stdout).group(1))  # type: ignore[union-attr]
    assert str(beside / "libpodsync.so.0") not in mapped and len(mapped) == 2, mapped

    # An engine of another SONAME: the carrier would use the copy beside it; refused.
    other = tmp_path / "other"
    other.mkdir()
    (other / "libpodsync.so").write_bytes(engine.replace(b"libpodsync.so.0\0", b"libpodsync.so.9\0"))
    result = run_python(
        "import podsync.nats", PODSYNC_LIBRARY=str(other / "libpodsync.so"), PODSYNC_NATS_LIB=str(beside / "libpodsync_nats.so")
    )
    assert result.returncode != 0, result.stdout
    assert "bound to another copy of the engine" in result.stderr and str(beside / "libpodsync.so.0") in result.stderr


def test_the_installed_package_bundles_the_carrier() -> None:
    package = Path(podsync.__file__).resolve().parent
    if os.environ.get("PODSYNC_EXPECT_INSTALLED"):  # .ci/test-python and .ci/test-wheel
        assert Path(pn.LIBRARY_PATH) == package / "_lib" / "libpodsync_nats.so"
        assert (package / "_lib" / "libpodsync.so.0").is_file()
    else:  # e.g. from a source checkout: one of the places searched
        assert Path(pn.LIBRARY_PATH) in [p for _, p in pn._candidates() if isinstance(p, Path)]
