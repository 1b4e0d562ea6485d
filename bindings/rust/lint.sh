#!/usr/bin/env bash
# Lints of the Rust binding (crates podsync-sys and podsync), warnings denied:
#   1. cargo clippy --all-targets: the library, tests, examples and build scripts. The podsync
#      crate also enables clippy::missing_errors_doc, missing_panics_doc, missing_safety_doc and
#      undocumented_unsafe_blocks, and both crates missing_docs, so an undocumented public item,
#      a fallible function without an `# Errors` section or an unexplained `unsafe` fails here;
#   2. cargo doc --no-deps with RUSTDOCFLAGS="-D warnings": broken intra-doc links, bad code
#      block attributes and other rustdoc warnings fail;
#   3. both again with --features nats (the NATS JetStream carrier: module podsync::nats, the
#      declarations of include/podsync_nats.h), when libpodsync_nats.so is there (.ci/build-lib
#      builds it when libnats is installed); skipped with a message otherwise, unless
#      PODSYNC_RUST_NATS=1 asks for it (then a missing library fails; PODSYNC_RUST_NATS=0 skips).
# Exits non-zero on the first failure. Run from anywhere; no crate registry is needed (--offline).
# The build script of podsync-sys needs libpodsync.so: set PODSYNC_LIB_DIR, or this script builds
# it with .ci/build-lib when the repository's .build/release has none.
# Environment: CARGO (cargo binary), PODSYNC_LIB_DIR, PODSYNC_NATS_LIB_DIR (libpodsync_nats.so's
# directory; default PODSYNC_LIB_DIR's), PODSYNC_RUST_NATS.
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

# The NATS carrier's library, for the lints with --features nats.
nats_dir="${PODSYNC_NATS_LIB_DIR:-${PODSYNC_LIB_DIR:-.build/release}}"
[[ "$nats_dir" == /* ]] || nats_dir="$root/$nats_dir"
feature_sets=("")
case "${PODSYNC_RUST_NATS:-}" in
    0) echo "lint.sh: SKIP --features nats (PODSYNC_RUST_NATS=0)" ;;
    *) if [[ -f "$nats_dir/libpodsync_nats.so" ]]; then
           feature_sets+=("nats")
       elif [[ "${PODSYNC_RUST_NATS:-}" == 1 ]]; then
           echo "lint.sh: PODSYNC_RUST_NATS=1, but $nats_dir/libpodsync_nats.so is not built" >&2
           exit 1
       else
           echo "lint.sh: SKIP --features nats: $nats_dir/libpodsync_nats.so is not built (.ci/build-lib builds it when libnats is installed)"
       fi ;;
esac

cd "$here"
echo "lint.sh: $("$cargo" clippy --version)"
for features in "${feature_sets[@]}"; do
    flags=()
    [[ -n "$features" ]] && flags=(--features "$features")
    echo "+ cargo clippy --offline --workspace --all-targets${flags[*]:+ ${flags[*]}} -- -D warnings"
    "$cargo" clippy --offline --workspace --all-targets "${flags[@]}" -- -D warnings
    echo "+ RUSTDOCFLAGS=\"-D warnings\" cargo doc --offline --no-deps --workspace${flags[*]:+ ${flags[*]}}"
    RUSTDOCFLAGS="${RUSTDOCFLAGS:+$RUSTDOCFLAGS }-D warnings" "$cargo" doc --offline --no-deps --workspace "${flags[@]}"
done
echo "lint.sh: clippy and rustdoc clean (features: default${feature_sets[1]:+, ${feature_sets[1]}})"
