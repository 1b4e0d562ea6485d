# Sourced by the .ci scripts: repository root as working directory, swift on PATH.
# shellcheck shell=bash
PODSYNC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$PODSYNC_ROOT"
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
PODSYNC_LIB="$PODSYNC_ROOT/.build/release/libpodsync.so"
PODSYNC_LIBDIR="$PODSYNC_ROOT/.build/release"
# Where .ci builds its C programs (ignored by git through .build/).
PODSYNC_OUT="$PODSYNC_ROOT/.build/ci"
