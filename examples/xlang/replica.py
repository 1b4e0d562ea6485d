"""replica.py — the Python replica of the cross-language demo (examples/xlang/run.sh).

Reads the writer's stream from standard input (u32 schema length, the schema's canonical encoding,
then frames back to back), applies every frame, and reports its version and digest. Given the
writer's records file, it also checks that its zero-copy table view equals the writer's records.

Usage: python3 replica.py [RECORDS_FILE] < stream
"""

from __future__ import annotations

import struct
import sys

import numpy as np

import podsync


def read_exactly(stream, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError(f"stream ended after {len(data)} of {size} bytes")
    return data


def main() -> int:
    stream = sys.stdin.buffer
    (schema_size,) = struct.unpack("<I", read_exactly(stream, 4))
    frames = applied = 0
    with podsync.Replica(read_exactly(stream, schema_size)) as replica:
        # Frames back to back: read_frames reads each frame's 16-byte prefix, its header, then
        # exactly the rest (frames of format 1 and 2 alike).
        for frame in podsync.read_frames(stream):
            result = replica.apply(frame)
            frames += 1
            applied += result == podsync.ApplyResult.OK
        version, digest, count = replica.version, replica.digest(), replica.count(1)
        print(f"Python replica: version {version} digest {digest:016x} records {count} ({frames} frames, {applied} applied)")
        if len(sys.argv) > 1:
            with open(sys.argv[1], "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                keys = np.frombuffer(f.read(8 * n), dtype="<u8")
                records = np.frombuffer(f.read(), dtype=replica.dtype(1))
            with replica.view(1) as table:  # zero-copy, read-only views of the engine's memory
                mine = np.argsort(table.keys)
                theirs = np.argsort(keys)
                same = np.array_equal(table.keys[mine], keys[theirs]) and np.array_equal(
                    table.records[mine].view(np.uint8).reshape(len(mine), -1),
                    records[theirs].view(np.uint8).reshape(len(theirs), -1),
                )
            print(f"Python replica: table view {'equals' if same else 'DIFFERS FROM'} the writer's {n} records")
            if not same:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
