#!/usr/bin/env bash
# Control-plane scale-out benchmark (issue 14, item 5): token validation,
# fake-hypervisor boot-and-delete and cross-controller invalidation on
# SQLite with one controller against PostgreSQL with one and three, and one
# pinned controller against two (taskset), every cloud started and stopped
# by the benchmark itself on loopback (controllers on 127.0.0.2, .3, ...; a
# private PostgreSQL from Debian's package in a temporary directory). One
# table, then each goal beside its figures.
#
#   sudo scripts/bench-controllers.sh
#
# Environment (all optional):
#   BENCH_ARGS="--duration 5 ..."  more arguments (ferrostack-bench controllers --help)
#   FERROSTACK_BIN=path            use this ferrostack binary instead of building one
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
RELEASE=${CARGO_TARGET_DIR:-$ROOT/target}/release

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing Debian's postgresql (the private database server)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
fi
packages=(-p ferrostack-bench)
[ -n "${FERROSTACK_BIN:-}" ] || packages+=(-p ferrostack)
FERROSTACK_BIN=${FERROSTACK_BIN:-$RELEASE/ferrostack}
printf '\n==> cargo build --release %s\n' "${packages[*]}" >&2
cargo build --release "${packages[@]}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# shellcheck disable=SC2086
"$RELEASE/ferrostack-bench" controllers --ferrostack-bin "$FERROSTACK_BIN" ${BENCH_ARGS:-}
