#!/usr/bin/env bash
# The NATS demo: one C writer process publishes a world of entities (40-byte records) ticking 1%
# at 60 Hz through the JetStream carrier, and three follower processes in three languages follow
# it through a local nats-server that this script starts (loopback, temporary store directory) and
# stops: the C follower from the start, the Rust follower from the start but killed (SIGKILL) a
# third of the way in and restarted two seconds later, the Python follower joining half-way (it
# bootstraps from the newest snapshot). At the end the four digests must be equal.
#
# Usage: examples/nats/run.sh [ENTITIES] [SECONDS]   (default 100000 20)
# Needs: nats-server, .build/release/libpodsync.so and libpodsync_nats.so, the podsync Python
# package, the Rust example nats_follower (.ci/demo builds and installs all of them).
set -euo pipefail
cd "$(dirname "$0")/../.."
entities="${1:-100000}"
seconds="${2:-20}"
out="$(mktemp -d)"
server_pid=""
# Runs on every exit: it must not change the script's status (a killed server's exit status, or a
# failed command under set -e here, would turn a MATCH into a failure).
cleanup() {
    local rc=$?
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$out"
    exit "$rc"
}
trap cleanup EXIT

lib=.build/release
for x in writer follower; do
    gcc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude "examples/nats/$x.c" -o "$out/$x" \
        -L"$lib" -lpodsync_nats -lpodsync -Wl,-rpath,"$PWD/$lib"
done
rust_follower=bindings/rust/target/release/examples/nats_follower
[[ -x "$rust_follower" ]] || (cd bindings/rust && cargo build --offline --release --quiet --features nats --example nats_follower)

# A free loopback port, and a server that says it is ready on it (if another process took the
# port meanwhile, this server exits: try another port).
for attempt in 1 2 3; do
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$out/jetstream" >"$out/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        grep -q "Server is ready" "$out/server.log" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$server_pid" 2>/dev/null && grep -q "Server is ready" "$out/server.log" && break
    echo "nats-server did not start on port $port (attempt $attempt):"; tail -n 5 "$out/server.log"
    kill "$server_pid" 2>/dev/null || true
    server_pid=""
done
[[ -n "$server_pid" ]] || { echo "cannot start nats-server"; exit 1; }
url="nats://127.0.0.1:$port"
final="$out/final"
timeout=$((seconds * 3 + 60))
echo "nats-server at $url; C writer: $entities entities, 1% ticks at 60 Hz for $seconds s"
echo "followers: C and Rust from the start (Rust killed at $((seconds / 3)) s, restarted at $((seconds / 3 + 2)) s), Python from $((seconds / 2)) s"

"$out/follower" "$url" world "$final" "$timeout" >"$out/c.txt" 2>&1 &
c_pid=$!
"$rust_follower" "$url" world "$final" "$timeout" >"$out/rust-killed.txt" 2>&1 &
rust_pid=$!
"$out/writer" "$url" world "$entities" "$seconds" 60 "$final" >"$out/writer.txt" 2>&1 &
writer_pid=$!
sleep $((seconds / 3))
kill -9 "$rust_pid"
wait "$rust_pid" 2>/dev/null || true
echo "Rust follower killed (SIGKILL) at $((seconds / 3)) s"
sleep 2
"$rust_follower" "$url" world "$final" "$timeout" >"$out/rust.txt" 2>&1 &
rust_pid=$!
sleep $((seconds / 2 - seconds / 3 - 2 > 0 ? seconds / 2 - seconds / 3 - 2 : 0))
python3 examples/nats/follower.py "$url" world "$final" "$timeout" >"$out/python.txt" 2>&1 &
python_pid=$!
status=0
wait "$writer_pid" || status=1
wait "$c_pid" || status=1
wait "$rust_pid" || status=1
wait "$python_pid" || status=1
cat "$out/writer.txt" "$out/c.txt" "$out/rust.txt" "$out/python.txt"
digests=$(cat "$out/writer.txt" "$out/c.txt" "$out/rust.txt" "$out/python.txt" | grep -o 'digest [0-9a-f]*' | sort -u | wc -l || true)
lines=$(cat "$out/writer.txt" "$out/c.txt" "$out/rust.txt" "$out/python.txt" | grep -c 'digest [0-9a-f]*' || true)
if [[ $status -eq 0 && $digests -eq 1 && $lines -eq 4 ]]; then
    echo "MATCH: the C writer and the C, Rust (killed and restarted) and Python (joined late) followers hold the same state"
else
    echo "MISMATCH (exit statuses $status, $digests distinct digests in $lines lines)"
    tail -n 20 "$out/server.log" "$out/rust-killed.txt" || true
    exit 1
fi
