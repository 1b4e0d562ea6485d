#!/usr/bin/env bash
# The cross-language demo: one C writer process streams a world of entities (a snapshot, then
# ticks in which 1% of them move) through pipes to a Python replica process and a Rust replica
# process at once. At the end the three state digests must be equal, and the Python replica checks
# that its zero-copy numpy view of the table equals the writer's records.
#
# Usage: examples/xlang/run.sh [ENTITIES] [TICKS]   (default 100000 100)
# Needs: .build/release/libpodsync.so, the podsync Python package, the Rust example stdin_replica
# (.ci/demo builds and installs all three).
set -euo pipefail
cd "$(dirname "$0")/../.."
entities="${1:-100000}"
ticks="${2:-100}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

lib=.build/release
gcc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude examples/xlang/writer.c -o "$out/writer" \
    -L"$lib" -lpodsync -Wl,-rpath,"$PWD/$lib"
rust_replica=bindings/rust/target/release/examples/stdin_replica
[[ -x "$rust_replica" ]] || (cd bindings/rust && cargo build --offline --release --quiet --example stdin_replica)

mkfifo "$out/to_python" "$out/to_rust"
python3 examples/xlang/replica.py "$out/records.bin" <"$out/to_python" >"$out/python.txt" &
python_pid=$!
"$rust_replica" <"$out/to_rust" >"$out/rust.txt" &
rust_pid=$!
echo "C writer -> pipes -> Python replica + Rust replica: $entities entities, $ticks ticks of 1% changes"
"$out/writer" "$entities" "$ticks" "$out/records.bin" 2>"$out/writer.txt" | tee "$out/to_python" >"$out/to_rust"
status=0
wait "$python_pid" || status=1
wait "$rust_pid" || status=1
cat "$out/writer.txt" "$out/python.txt" "$out/rust.txt"
digests=$(grep -ho 'digest [0-9a-f]*' "$out/writer.txt" "$out/python.txt" "$out/rust.txt" | sort -u | wc -l)
if [[ $status -eq 0 && $digests -eq 1 ]] && grep -q 'table view equals' "$out/python.txt"; then
    echo "MATCH: the C writer, the Python replica and the Rust replica hold the same state"
else
    echo "MISMATCH"
    exit 1
fi
