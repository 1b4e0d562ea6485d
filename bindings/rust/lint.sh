#!/usr/bin/env bash
# Lints of the Rust binding (crates podsync-sys and podsync), warnings denied:
#   1. cargo clippy --all-targets: the library, tests, examples and build scripts. The podsync
#      crate also enables clippy::missing_errors_doc, missing_panics_doc, missing_safety_doc and
#      undocumented_unsafe_blocks, and both crates missing_docs, so an undocumented public item,
#      a fallible function without an `# Errors` section or an unexplained `unsafe` fails here;
#   2. cargo doc --no-deps with RUSTDOCFLAGS="-D warnings": broken intra-doc links, bad code
#      block attributes and other rustdoc warnings fail.
# Exits non-zero on the first failure. Run from anywhere; no crate registry is needed (--offline).
# The build script of podsync-sys needs libpodsync.so: set PODSYNC_LIB_DIR, or this script builds
# it with .ci/build-lib when the repository's .build/release has none.
# Environment: CARGO (cargo binary), PODSYNC_LIB_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v "${CARGO:-cargo}" >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo="${CARGO:-cargo}"

if ! "$cargo" clippy --version >/dev/null 2>&1; then
    echo "lint.sh: cargo clippy is not installed (rustup component add clippy)" >&2
    exit 1
fi

if [[ -z "${PODSYNC_LIB_DIR:-}" && ! -f "$root/.build/release/libpodsync.so" ]]; then
    echo "lint.sh: no libpodsync.so yet; building it with .ci/build-lib"
    (cd "$root" && bash .ci/build-lib >/dev/null)
fi

cd "$here"
echo "lint.sh: $("$cargo" clippy --version)"
echo "+ cargo clippy --offline --workspace --all-targets -- -D warnings"
"$cargo" clippy --offline --workspace --all-targets -- -D warnings
echo "+ RUSTDOCFLAGS=\"-D warnings\" cargo doc --offline --no-deps --workspace"
RUSTDOCFLAGS="${RUSTDOCFLAGS:+$RUSTDOCFLAGS }-D warnings" "$cargo" doc --offline --no-deps --workspace
echo "lint.sh: clippy and rustdoc clean"
