"""follower.py — the NATS demo's Python follower: a replica following the stream through the
JetStream carrier (podsync.nats) until it reaches the version the writer wrote to FINAL_FILE.

Usage: python3 follower.py URL STREAM FINAL_FILE [TIMEOUT_SECONDS]
"""

from __future__ import annotations

import sys
import time

import podsync
import podsync.nats


def main() -> int:
    url, stream, final_file = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    schema = podsync.Schema().add_table(1, record_size=40, alignment=8)
    with podsync.Replica(schema) as replica, podsync.nats.Follower(replica, url, stream) as follower:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                follower.poll(100)
            except (podsync.nats.NatsConnectionError, podsync.nats.NatsTimeoutError, podsync.nats.StreamMissingError):
                time.sleep(0.05)
            try:
                with open(final_file) as f:
                    final = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                final = 0
            if final and replica.version == final:
                stats = follower.stats
                print(
                    f"Python follower: version {replica.version} digest {replica.digest():016x} records {replica.count(1)} "
                    f"({stats.frames_applied} frames applied, {stats.snapshots_taken} snapshots, {stats.bytes_received} bytes received)"
                )
                return 0
        print(f"Python follower: stuck at version {replica.version} after {timeout:.0f} s", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
