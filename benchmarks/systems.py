"""The systems compared by benchmarks/suite.py, each behind the same small interface.

Every system gets the same inputs: the writer's truth (a numpy structured array ``world``, one row
per key, the key is the row's ``id`` field) and, per tick, the positions ``idx`` of the rows that
changed (already updated in ``world``). Encode starts from there (so the gather of the changed rows
is part of every system's encode) and ends with the bytes a transport would carry; apply starts
from those bytes and ends when the replica holds the new values and can serve reads by key.

    setup(world)            untimed: build the writer side and bootstrap a replica
    tick(world, idx)        -> (encode_s, bytes, apply_s)
    snapshot(world)         -> (encode_s, bytes, apply_s), applied to a fresh replica
    check(world, truth_sorted) / check_snapshot(...) -> (ok, detail): replica equals the writer
                            (untimed; truth_sorted = the writer's rows sorted by key)

Timers are time.perf_counter() around exactly the calls named in each docstring; the garbage
collector is disabled by the driver while a system runs.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Byte-for-byte equality of two structured arrays (NaN-safe, layout-exact)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(
        np.array_equal(np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))
    )


def gather(world: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The changed rows as one contiguous array: np.take, the fastest numpy gather of structured
    rows (4-6x faster than world[idx], which goes through per-field copies)."""
    return np.take(world, idx)


def scatter(dst: np.ndarray, pos: np.ndarray, rows: np.ndarray) -> None:
    """dst[pos] = rows through opaque V<itemsize> views (2-5x faster than a structured scatter)."""
    v = f"V{dst.dtype.itemsize}"
    dst.view(v)[pos] = np.ascontiguousarray(rows).view(v)


class SortedReplica:
    """The replica the serializers (Arrow, msgpack, FlatBuffers) apply into: records sorted by key
    plus the sorted key array, so a key is found by binary search (np.searchsorted, vectorized)."""

    def __init__(self, records: np.ndarray) -> None:
        order = np.argsort(records["id"], kind="stable")
        self.records = np.take(records, order)
        self.keys = np.ascontiguousarray(self.records["id"])

    def upsert(self, rows: np.ndarray) -> None:
        ids = rows["id"]
        pos = np.searchsorted(self.keys, ids)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == ids[found]
        if found.all():
            scatter(self.records, pos, rows)
            return
        # new keys (not produced by these workloads, kept for correctness): update, then merge
        scatter(self.records, pos[found], rows[found])
        merged = np.concatenate([self.records, rows[~found]])
        self.__init__(merged)  # type: ignore[misc]

    def equals(self, truth_sorted: np.ndarray) -> tuple[bool, str]:
        if len(self.records) != len(truth_sorted):
            return False, f"{len(self.records)} records, expected {len(truth_sorted)}"
        if not same_bytes(self.records, truth_sorted):
            bad = int(
                np.count_nonzero(
                    (
                        self.records.view(np.uint8).reshape(len(self.records), -1)
                        != truth_sorted.view(np.uint8).reshape(len(self.records), -1)
                    ).any(axis=1)
                )
            )
            return False, f"{bad} records differ from the writer's"
        return True, f"yes: {len(self.records):,} records byte-equal"


class System:
    """Base class: name (row label), key (short id), kind ("python" or "floor")."""

    name = "?"
    key = "?"
    kind = "python"
    note = ""

    def __init__(self, layout: Any) -> None:
        self.layout = layout
        self.dtype: np.dtype = layout.dtype
        self.record_size = self.dtype.itemsize

    def setup(self, world: np.ndarray) -> None:
        raise NotImplementedError

    def tick(self, world: np.ndarray, idx: np.ndarray) -> tuple[float, int, float]:
        raise NotImplementedError

    def snapshot(self, world: np.ndarray) -> tuple[float, int, float]:
        raise NotImplementedError

    def check(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        raise NotImplementedError

    def check_snapshot(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        raise NotImplementedError

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------------
# PodSync (the Python binding: put_many, flush, apply)
# ---------------------------------------------------------------------------------------------------


def podsync_supports_compression() -> bool:
    import podsync

    return "compression_level" in inspect.signature(podsync.Writer.__init__).parameters


class PodSyncPy(System):
    """encode = gather of the changed keys and rows (np.take) + writer.put_many + writer.flush();
    apply = replica.apply(frame) for each frame; check = digests after every tick, and at the end
    the replica's zero-copy table view (sorted by key) equals the writer's truth byte for byte."""

    kind = "python"

    def __init__(self, layout: Any, level: int = 0) -> None:
        super().__init__(layout)
        import podsync

        self.podsync = podsync
        self.level = level
        self.key = "podsync" if level == 0 else "podsync_zstd"
        self.name = "PodSync (Python)" if level == 0 else f"PodSync + zstd {level} (Python)"
        self.schema = podsync.Schema({1: self.dtype})
        self.digests_ok = True
        self.snap: Any = None

    def _writer(self) -> Any:
        opts: dict[str, Any] = dict(
            stream_id=0x5EED, max_batch_records=0, max_batch_bytes=0, max_batch_age_ms=0, max_frame_bytes=0
        )
        if self.level:
            opts["compression_level"] = self.level
        return self.podsync.Writer(self.schema, **opts)

    def setup(self, world: np.ndarray) -> None:
        self.keys = np.ascontiguousarray(world["id"])
        self.writer = self._writer()
        self.replica = self.podsync.Replica(self.schema.to_bytes())
        self.writer.put_many(1, self.keys, world)
        for frame in self.writer.flush():
            self.replica.apply(frame)
        self.digests_ok = self.writer.digest() == self.replica.digest()

    def tick(self, world: np.ndarray, idx: np.ndarray) -> tuple[float, int, float]:
        writer, replica = self.writer, self.replica
        t0 = time.perf_counter()
        writer.put_many(1, np.take(self.keys, idx), gather(world, idx))
        frames = writer.flush()
        t1 = time.perf_counter()
        for frame in frames:
            replica.apply(frame)
        t2 = time.perf_counter()
        nbytes = sum(f.nbytes for f in frames)
        del frames
        if writer.digest() != replica.digest():
            self.digests_ok = False
        return t1 - t0, nbytes, t2 - t1

    def snapshot(self, world: np.ndarray) -> tuple[float, int, float]:
        if self.snap is not None:
            self.snap.close()
        fresh = self.podsync.Replica(self.schema.to_bytes())
        t0 = time.perf_counter()
        frames = self.writer.snapshot()
        t1 = time.perf_counter()
        for frame in frames:
            fresh.apply(frame)
        t2 = time.perf_counter()
        nbytes = sum(f.nbytes for f in frames)
        del frames
        self.snap = fresh
        return t1 - t0, nbytes, t2 - t1

    def _equal(self, store: Any, truth_sorted: np.ndarray) -> tuple[bool, str]:
        if store.digest() != self.writer.digest():
            return False, "digest differs from the writer's"
        with store.view(1) as view:
            order = np.argsort(view.keys, kind="stable")
            keys_ok = np.array_equal(view.keys[order], truth_sorted["id"])
            recs_ok = len(order) == len(truth_sorted) and same_bytes(view.records[order], truth_sorted)
            n = len(order)
        if not (keys_ok and recs_ok):
            return False, "table view differs from the writer's truth"
        return True, f"yes: digests equal, {n:,} records (table view) byte-equal"

    def check(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        if not self.digests_ok:
            return False, "replica digest differed from the writer's after a tick"
        return self._equal(self.replica, truth_sorted)

    def check_snapshot(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        return self._equal(self.snap, truth_sorted)

    def close(self) -> None:
        for s in ("snap", "replica", "writer"):
            store = getattr(self, s, None)
            if store is not None:
                store.close()
                setattr(self, s, None)


# ---------------------------------------------------------------------------------------------------
# Serializers: Apache Arrow IPC, msgpack, FlatBuffers
# ---------------------------------------------------------------------------------------------------


class Serializer(System):
    """A stateless serializer: encode(rows) -> bytes, decode(bytes) -> rows; the replica is a
    SortedReplica (apply = decode + key lookup + scatter)."""

    def encode_rows(self, rows: np.ndarray) -> Any:
        raise NotImplementedError

    def decode_rows(self, payload: Any) -> np.ndarray:
        raise NotImplementedError

    def size(self, payload: Any) -> int:
        return len(payload)

    def setup(self, world: np.ndarray) -> None:
        # the replica starts as a copy of the writer's state (the snapshot phase measures, and
        # checks, the same bootstrap through encode + decode)
        self.replica = SortedReplica(world.copy())
        self.snap: SortedReplica | None = None

    def tick(self, world: np.ndarray, idx: np.ndarray) -> tuple[float, int, float]:
        t0 = time.perf_counter()
        payload = self.encode_rows(gather(world, idx))
        t1 = time.perf_counter()
        self.replica.upsert(self.decode_rows(payload))
        t2 = time.perf_counter()
        return t1 - t0, self.size(payload), t2 - t1

    def snapshot(self, world: np.ndarray) -> tuple[float, int, float]:
        self.snap = None
        t0 = time.perf_counter()
        payload = self.encode_rows(world)
        t1 = time.perf_counter()
        snap = SortedReplica(self.decode_rows(payload))
        t2 = time.perf_counter()
        self.snap = snap
        return t1 - t0, self.size(payload), t2 - t1

    def check(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        return self.replica.equals(truth_sorted)

    def check_snapshot(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        assert self.snap is not None
        return self.snap.equals(truth_sorted)


class ArrowIPC(Serializer):
    """encode = a RecordBatch of the changed rows (one column per scalar: for the 40 B entity id,
    7 float32, flags; a fixed_size_list<float32> column for a wide float field) written with
    pyarrow.ipc.new_stream (compression None or 'zstd' at Arrow's default level);
    apply = pyarrow.ipc.open_stream + read_next_batch + columns to numpy + key lookup + scatter."""

    def __init__(self, layout: Any, compression: str | None) -> None:
        super().__init__(layout)
        import pyarrow as pa

        self.pa = pa
        self.compression = compression
        self.key = "arrow" if compression is None else "arrow_zstd"
        self.name = "pyarrow IPC" if compression is None else "pyarrow IPC + zstd"
        if compression:
            self.name += f" {pa.Codec.default_compression_level(compression)}"
        self.options = pa.ipc.IpcWriteOptions(compression=compression)
        fields = []
        self.columns: list[tuple[str, int | None, int]] = []  # (field, element or None, list size)
        for name in self.dtype.names:
            base, shape = self.dtype[name].base, self.dtype[name].shape
            pa_type = pa.from_numpy_dtype(base)
            if not shape:
                fields.append(pa.field(name, pa_type, nullable=False))
                self.columns.append((name, None, 0))
            elif shape[0] <= 8:  # a few scalars: one column each (x, y, z, ...)
                for j in range(shape[0]):
                    fields.append(pa.field(f"{name}{j}", pa_type, nullable=False))
                    self.columns.append((name, j, 0))
            else:
                fields.append(pa.field(name, pa.list_(pa_type, shape[0]), nullable=False))
                self.columns.append((name, None, shape[0]))
        self.schema = pa.schema(fields)

    def encode_rows(self, rows: np.ndarray) -> Any:
        pa = self.pa
        arrays = []
        for name, j, width in self.columns:
            if width:
                flat = np.ascontiguousarray(rows[name]).reshape(-1)
                arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(flat), width))
            elif j is None:
                arrays.append(pa.array(np.ascontiguousarray(rows[name])))
            else:
                arrays.append(pa.array(np.ascontiguousarray(rows[name][:, j])))
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.schema, options=self.options) as writer:
            writer.write_batch(batch)
        return sink.getvalue()

    def size(self, payload: Any) -> int:
        return int(payload.size)

    def decode_rows(self, payload: Any) -> np.ndarray:
        batch = self.pa.ipc.open_stream(payload).read_next_batch()
        out = np.empty(batch.num_rows, self.dtype)
        for i, (name, j, width) in enumerate(self.columns):
            col = batch.column(i)
            if width:
                out[name] = col.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
            elif j is None:
                out[name] = col.to_numpy(zero_copy_only=False)
            else:
                out[name][:, j] = col.to_numpy(zero_copy_only=False)
        return out


class _Zstd:
    def __init__(self, level: int) -> None:
        import zstandard

        self.level = level
        self.cctx = zstandard.ZstdCompressor(level=level)
        self.dctx = zstandard.ZstdDecompressor()


class MsgpackRows(Serializer):
    """encode = each changed record as a msgpack array [id, [pos...], [rot...], flags] (fields
    through ndarray.tolist(), floats as float32: use_single_float=True), the list packed with
    msgpack.packb, then optionally zstandard (level 3, its default);
    apply = (decompress) + msgpack.unpackb + np.array(rows, dtype) + key lookup + scatter."""

    def __init__(self, layout: Any, zstd_level: int | None) -> None:
        super().__init__(layout)
        import msgpack

        self.msgpack = msgpack
        self.zstd = _Zstd(zstd_level) if zstd_level else None
        self.key = "msgpack_rows" + ("_zstd" if zstd_level else "")
        self.name = "msgpack rows" + (f" + zstd {zstd_level}" if zstd_level else "")

    def encode_rows(self, rows: np.ndarray) -> bytes:
        packed = self.msgpack.packb(
            list(zip(*(rows[f].tolist() for f in self.dtype.names))), use_single_float=True
        )
        return self.zstd.cctx.compress(packed) if self.zstd else packed

    def decode_rows(self, payload: bytes) -> np.ndarray:
        if self.zstd:
            payload = self.zstd.dctx.decompress(payload)
        return np.array(list(self.msgpack.unpackb(payload, use_list=False)), dtype=self.dtype)


class MsgpackColumns(Serializer):
    """encode = a msgpack map {field: raw little-endian bytes of that field's column} (numpy
    gather + tobytes per field: the fast way to use msgpack from numpy), optionally zstandard
    (level 3); apply = (decompress) + unpackb + np.frombuffer per field + key lookup + scatter."""

    def __init__(self, layout: Any, zstd_level: int | None) -> None:
        super().__init__(layout)
        import msgpack

        self.msgpack = msgpack
        self.zstd = _Zstd(zstd_level) if zstd_level else None
        self.key = "msgpack_cols" + ("_zstd" if zstd_level else "")
        self.name = "msgpack column blobs" + (f" + zstd {zstd_level}" if zstd_level else "")

    def encode_rows(self, rows: np.ndarray) -> bytes:
        packed = self.msgpack.packb({f: np.ascontiguousarray(rows[f]).tobytes() for f in self.dtype.names})
        return self.zstd.cctx.compress(packed) if self.zstd else packed

    def decode_rows(self, payload: bytes) -> np.ndarray:
        if self.zstd:
            payload = self.zstd.dctx.decompress(payload)
        cols = self.msgpack.unpackb(payload)
        n = len(cols["id"]) // 8
        out = np.empty(n, self.dtype)
        for f in self.dtype.names:
            base, shape = self.dtype[f].base, self.dtype[f].shape
            out[f] = np.frombuffer(cols[f], dtype=base).reshape((n,) + shape)
        return out


class FlatBuffers(Serializer):
    """The schema of benchmarks/peers.fbs: table Batch { records: [Record]; } where Record is a
    struct with the record's exact layout. encode = flatbuffers.Builder: StartVector(record size,
    n, 8), the gathered rows' raw bytes copied into the builder (what CreateNumpyVector does for
    scalar vectors; it refuses structured dtypes), EndVector, the table, Finish, Output() (bytes);
    apply = the runtime's Table accessors to find the vector + np.frombuffer over it (zero-copy)
    + key lookup + scatter. No flatc-generated code is involved (see peers.fbs)."""

    key = "flatbuffers"
    name = "FlatBuffers (vector of structs)"

    def __init__(self, layout: Any) -> None:
        super().__init__(layout)
        import flatbuffers
        from flatbuffers import encode, packer, table

        self.fb = flatbuffers
        self.fb_encode, self.fb_packer, self.fb_table = encode, packer, table

    def encode_rows(self, rows: np.ndarray) -> bytes:
        data = np.ascontiguousarray(rows).tobytes()
        n = len(rows)
        b = self.fb.Builder(len(data) + 64)
        b.StartVector(self.record_size, n, 8)
        b.head = b.head - len(data)
        b.Bytes[b.head : b.head + len(data)] = data
        b.vectorNumElems = n
        vec = b.EndVector()
        b.StartObject(1)
        b.PrependUOffsetTRelativeSlot(0, vec, 0)
        root = b.EndObject()
        b.Finish(root)
        return bytes(b.Output())

    def decode_rows(self, payload: bytes) -> np.ndarray:
        root = self.fb_encode.Get(self.fb_packer.uoffset, payload, 0)
        tab = self.fb_table.Table(payload, root)
        o = tab.Offset(4)
        if o == 0:
            return np.empty(0, self.dtype)
        start, n = tab.Vector(o), tab.VectorLen(o)
        return np.frombuffer(payload, dtype=self.dtype, count=n, offset=start)


# ---------------------------------------------------------------------------------------------------
# A hand-written delta encoder: numpy XOR against the last sent value + byte shuffle + zstd 1
# ---------------------------------------------------------------------------------------------------


def _shuffle(rows: np.ndarray) -> np.ndarray:
    """(k, width) uint8 -> width * k bytes: byte 0 of every row, then byte 1, ..."""
    return np.ascontiguousarray(rows.T).reshape(-1)


def _unshuffle(data: np.ndarray, k: int, width: int) -> np.ndarray:
    return data.reshape(width, k).T.copy()  # a writable copy, even when k == 1


class NumpyXorZstd(System):
    """The simplest strong encoder a user could write in about 20 lines of numpy. The writer keeps
    the last sent value of every record. encode = the changed rows sorted by key (np.argsort +
    np.take); keys gap-coded (first key, then the differences, as u64); each record XORed with
    its last sent value (zeros for a new key); key gaps and XORed rows byte-shuffled (byte 0 of
    every row, then byte 1, ...); the whole payload compressed with zstandard level 1 (no header:
    the record count is the decompressed length / (8 + record size)); the last sent values
    updated. apply = decompress + un-shuffle + key lookup in the replica (records sorted by key,
    np.searchsorted) + XOR with the replica's own values + scatter. Snapshot: the same encoder
    over every row against zeros, decoded into a fresh replica."""

    key = "numpy_xor_zstd"
    name = "numpy XOR+shuffle+zstd-1"

    def __init__(self, layout: Any) -> None:
        super().__init__(layout)
        self.zstd = _Zstd(1)

    def encode(self, rows: np.ndarray, prev: np.ndarray | None) -> bytes:
        """rows (and prev, the values last sent for the same keys; None = zeros) sorted by key."""
        k, r = len(rows), self.record_size
        gaps = np.diff(rows["id"], prepend=np.uint64(0))  # first key, then differences (mod 2^64)
        x = np.ascontiguousarray(rows).view(np.uint8).reshape(k, r)
        if prev is not None:
            x = x ^ np.ascontiguousarray(prev).view(np.uint8).reshape(k, r)
        body = np.concatenate([_shuffle(gaps.view(np.uint8).reshape(k, 8)), _shuffle(x)])
        return self.zstd.cctx.compress(body.tobytes())

    def decode(self, payload: bytes) -> tuple[np.ndarray, np.ndarray]:
        """-> (keys, XORed rows as (k, record size) uint8)."""
        body = np.frombuffer(self.zstd.dctx.decompress(payload), np.uint8)
        r = self.record_size
        k = len(body) // (8 + r)
        keys = np.cumsum(_unshuffle(body[: 8 * k], k, 8).view("<u8").reshape(-1), dtype=np.uint64)
        return keys, _unshuffle(body[8 * k :], k, r)

    def setup(self, world: np.ndarray) -> None:
        # both sides start from the writer's state (the snapshot phase measures the bootstrap)
        self.last = world.copy()
        self.replica = SortedReplica(world.copy())
        self.snap: SortedReplica | None = None

    def tick(self, world: np.ndarray, idx: np.ndarray) -> tuple[float, int, float]:
        t0 = time.perf_counter()
        if len(self.last) < len(world):  # rows never sent: their last value is zeros
            self.last = np.concatenate([self.last, np.zeros(len(world) - len(self.last), self.dtype)])
        pos = idx[np.argsort(world["id"][idx], kind="stable")]
        rows = gather(world, pos)
        payload = self.encode(rows, gather(self.last, pos))
        scatter(self.last, pos, rows)
        t1 = time.perf_counter()
        keys, x = self.decode(payload)
        rep = self.replica
        at = np.searchsorted(rep.keys, keys)
        found = at < len(rep.keys)
        found[found] = rep.keys[at[found]] == keys[found]
        if found.all():
            old = np.take(rep.records, at).view(np.uint8).reshape(len(keys), -1)
            scatter(rep.records, at, (old ^ x).view(self.dtype).reshape(-1))
        else:  # new keys (not produced by these workloads): XORed with zeros
            old = np.zeros_like(x)
            old[found] = np.take(rep.records, at[found]).view(np.uint8).reshape(-1, self.record_size)
            rep.upsert((old ^ x).view(self.dtype).reshape(-1))
        t2 = time.perf_counter()
        return t1 - t0, len(payload), t2 - t1

    def snapshot(self, world: np.ndarray) -> tuple[float, int, float]:
        self.snap = None
        t0 = time.perf_counter()
        payload = self.encode(np.take(world, np.argsort(world["id"], kind="stable")), None)
        t1 = time.perf_counter()
        _, x = self.decode(payload)
        snap = SortedReplica.__new__(SortedReplica)  # rows arrive sorted by key: no sort needed
        snap.records = x.view(self.dtype).reshape(-1)
        snap.keys = np.ascontiguousarray(snap.records["id"])
        t2 = time.perf_counter()
        self.snap = snap
        return t1 - t0, len(payload), t2 - t1

    def check(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        if not same_bytes(self.last, world):
            return False, "the writer's last sent values differ from the truth"
        return self.replica.equals(truth_sorted)

    def check_snapshot(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        assert self.snap is not None
        return self.snap.equals(truth_sorted)


# ---------------------------------------------------------------------------------------------------
# CRDTs: pycrdt (Yrs) and loro — the table as a map of str(key) -> record bytes
# ---------------------------------------------------------------------------------------------------


class CRDT(System):
    """Shared parts: str keys are computed once in setup (not timed); record values are the
    record's bytes; check = the replica's map equals the writer's map, and the writer's map equals
    the truth."""

    def _values(self, rows: np.ndarray) -> list[bytes]:
        data = np.ascontiguousarray(rows).tobytes()
        r = self.record_size
        return [data[i : i + r] for i in range(0, len(data), r)]

    def _map_to_records(self, mapping: dict[str, Any]) -> np.ndarray:
        blob = b"".join(bytes(v) for v in mapping.values())
        recs = np.frombuffer(blob, dtype=self.dtype).copy()
        keys_ok = all(int(k) == int(i) for k, i in zip(mapping.keys(), recs["id"]))
        if not keys_ok:
            raise ValueError("map keys do not match the records' ids")
        return recs[np.argsort(recs["id"], kind="stable")]

    def _compare(
        self, writer_map: dict[str, Any], replica_map: dict[str, Any], truth_sorted: np.ndarray
    ) -> tuple[bool, str]:
        if len(replica_map) != len(writer_map) or any(
            bytes(replica_map.get(k, b"")) != bytes(v) for k, v in writer_map.items()
        ):
            return False, "replica map differs from the writer map"
        if not same_bytes(self._map_to_records(writer_map), truth_sorted):
            return False, "writer map differs from the truth"
        return True, f"yes: replica map = writer map = truth ({len(writer_map):,} entries)"


class Pycrdt(CRDT):
    """pycrdt (Yrs) Doc with a Map. encode = state vector, one transaction setting
    map[str(key)] = record bytes for each changed row, get_update(state vector);
    apply = replica Doc.apply_update(update). Snapshot: get_update() (whole state) applied to a
    fresh Doc."""

    key = "pycrdt"
    name = "pycrdt (Yrs) map"

    def __init__(self, layout: Any) -> None:
        super().__init__(layout)
        import pycrdt

        self.pycrdt = pycrdt

    def setup(self, world: np.ndarray) -> None:
        pc = self.pycrdt
        self.str_keys = [str(k) for k in world["id"].tolist()]
        self.doc = pc.Doc()
        self.map = self.doc.get("t", type=pc.Map)
        values = self._values(world)
        with self.doc.transaction():
            for k, v in zip(self.str_keys, values):
                self.map[k] = v
        self.rdoc = pc.Doc()
        self.rmap = self.rdoc.get("t", type=pc.Map)
        self.rdoc.apply_update(self.doc.get_update())
        self.snap_map: Any = None

    def tick(self, world: np.ndarray, idx: np.ndarray) -> tuple[float, int, float]:
        keys, m, doc = self.str_keys, self.map, self.doc
        t0 = time.perf_counter()
        state = doc.get_state()
        values = self._values(gather(world, idx))
        with doc.transaction():
            for i, v in zip(idx.tolist(), values):
                m[keys[i]] = v
        update = doc.get_update(state)
        t1 = time.perf_counter()
        self.rdoc.apply_update(update)
        t2 = time.perf_counter()
        return t1 - t0, len(update), t2 - t1

    def snapshot(self, world: np.ndarray) -> tuple[float, int, float]:
        pc = self.pycrdt
        self.snap_map = None
        fresh = pc.Doc()
        t0 = time.perf_counter()
        update = self.doc.get_update()
        t1 = time.perf_counter()
        fresh.apply_update(update)
        fmap = fresh.get("t", type=pc.Map)
        t2 = time.perf_counter()
        self.snap_doc, self.snap_map = fresh, fmap
        return t1 - t0, len(update), t2 - t1

    def check(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        return self._compare(self.map.to_py(), self.rmap.to_py(), truth_sorted)

    def check_snapshot(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        return self._compare(self.map.to_py(), self.snap_map.to_py(), truth_sorted)


class Loro(CRDT):
    """loro LoroDoc with a LoroMap. encode = oplog version vector, map.insert(str(key), record
    bytes) for each changed row, commit, export(ExportMode.Updates(vv)); apply = replica
    import_(update). Snapshot: export(ExportMode.Snapshot()); apply = import_ into a fresh doc +
    len(map) — loro imports snapshots lazily and the first read materializes the state, so it is
    counted in apply."""

    key = "loro"
    name = "loro map"

    def __init__(self, layout: Any) -> None:
        super().__init__(layout)
        import loro

        self.loro = loro

    def setup(self, world: np.ndarray) -> None:
        lo = self.loro
        self.str_keys = [str(k) for k in world["id"].tolist()]
        self.doc = lo.LoroDoc()
        self.map = self.doc.get_map("t")
        for k, v in zip(self.str_keys, self._values(world)):
            self.map.insert(k, v)
        self.doc.commit()
        self.rdoc = lo.LoroDoc()
        self.rdoc.import_(self.doc.export(lo.ExportMode.Snapshot()))
        len(self.rdoc.get_map("t"))
        self.snap_doc: Any = None

    def tick(self, world: np.ndarray, idx: np.ndarray) -> tuple[float, int, float]:
        lo, keys, m, doc = self.loro, self.str_keys, self.map, self.doc
        t0 = time.perf_counter()
        vv = doc.oplog_vv
        for i, v in zip(idx.tolist(), self._values(gather(world, idx))):
            m.insert(keys[i], v)
        doc.commit()
        update = doc.export(lo.ExportMode.Updates(vv))
        t1 = time.perf_counter()
        self.rdoc.import_(update)
        t2 = time.perf_counter()
        return t1 - t0, len(update), t2 - t1

    def snapshot(self, world: np.ndarray) -> tuple[float, int, float]:
        lo = self.loro
        self.snap_doc = None
        fresh = lo.LoroDoc()
        t0 = time.perf_counter()
        snap = self.doc.export(lo.ExportMode.Snapshot())
        t1 = time.perf_counter()
        fresh.import_(snap)
        len(fresh.get_map("t"))
        t2 = time.perf_counter()
        self.snap_doc = fresh
        return t1 - t0, len(snap), t2 - t1

    def _map(self, doc: Any) -> dict[str, Any]:
        value = doc.get_map("t").get_deep_value()
        return dict(value)

    def check(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        return self._compare(self._map(self.doc), self._map(self.rdoc), truth_sorted)

    def check_snapshot(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        return self._compare(self._map(self.doc), self._map(self.snap_doc), truth_sorted)


# ---------------------------------------------------------------------------------------------------
# The physical floor, measured in the same run
# ---------------------------------------------------------------------------------------------------


class NumpyFloor(System):
    """Tick: encode = np.take(world, idx) (numpy gather of the changed rows into one buffer),
    apply = replica[idx] = buffer through V<size> views (scatter to known positions: no key
    lookup, no framing, no checks).
    Snapshot: encode = np.copyto into a preallocated, already-touched buffer (a plain memcpy),
    apply = np.copyto into a freshly allocated array (the replica's new memory)."""

    key = "floor"
    name = "floor: numpy gather + memcpy"
    kind = "floor"

    def setup(self, world: np.ndarray) -> None:
        self.replica = world.copy()
        self.buf = np.empty_like(world)
        self.buf[...] = world  # touched
        self.snap: np.ndarray | None = None

    def tick(self, world: np.ndarray, idx: np.ndarray) -> tuple[float, int, float]:
        t0 = time.perf_counter()
        rows = gather(world, idx)
        t1 = time.perf_counter()
        scatter(self.replica, idx, rows)
        t2 = time.perf_counter()
        return t1 - t0, rows.nbytes, t2 - t1

    def snapshot(self, world: np.ndarray) -> tuple[float, int, float]:
        self.snap = None
        fresh = np.empty_like(world)
        t0 = time.perf_counter()
        np.copyto(self.buf, world)
        t1 = time.perf_counter()
        np.copyto(fresh, self.buf)
        t2 = time.perf_counter()
        self.snap = fresh
        return t1 - t0, self.buf.nbytes, t2 - t1

    def check(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        ok = same_bytes(self.replica, world)
        return ok, f"yes: {len(world):,} records byte-equal" if ok else "replica array differs"

    def check_snapshot(self, world: np.ndarray, truth_sorted: np.ndarray) -> tuple[bool, str]:
        assert self.snap is not None
        ok = same_bytes(self.snap, world)
        return ok, f"yes: {len(world):,} records byte-equal" if ok else "copy differs"


def all_systems(layout: Any, podsync_level: int) -> list[tuple[str, Any]]:
    """(key, factory) for every system, in table order. Factories import their package lazily so
    a package that failed to install is reported by the driver and the rest still runs."""
    out: list[tuple[str, Any]] = [("podsync", lambda: PodSyncPy(layout))]
    if podsync_level:
        out.append(("podsync_zstd", lambda: PodSyncPy(layout, podsync_level)))
    out += [
        ("arrow", lambda: ArrowIPC(layout, None)),
        ("arrow_zstd", lambda: ArrowIPC(layout, "zstd")),
        ("msgpack_rows", lambda: MsgpackRows(layout, None)),
        ("msgpack_rows_zstd", lambda: MsgpackRows(layout, 3)),
        ("msgpack_cols", lambda: MsgpackColumns(layout, None)),
        ("msgpack_cols_zstd", lambda: MsgpackColumns(layout, 3)),
        ("flatbuffers", lambda: FlatBuffers(layout)),
        ("numpy_xor_zstd", lambda: NumpyXorZstd(layout)),
        ("pycrdt", lambda: Pycrdt(layout)),
        ("loro", lambda: Loro(layout)),
        ("floor", lambda: NumpyFloor(layout)),
    ]
    return out
