#!/usr/bin/env bash
# Block storage benchmark (issue 12, item 6): volumes through the public
# APIs of a fresh `ferrostack allinone` on loopback (started and stopped by
# the benchmark itself): a blank 10 GiB volume to available, a volume from
# a 1 GiB image to available (copy-on-write), and, with the test guest and
# root, an attach to a running QEMU guest until the guest sees the disk.
# Then the local backend's own figures (snapshots, full and incremental
# backups, restore throughput) from its example. One table each, every
# figure beside its goal.
#
#   sudo scripts/bench-volumes.sh
#
# Environment (all optional):
#   BENCH_SAMPLES=20        samples per figure
#   FERROSTACK_GUEST_IMAGE  the test guest (default: target/guest-image/ferrostack-guest.qcow2, from guest-image/build.sh)
#   FERROSTACK_BIN=path     use this ferrostack binary instead of building one
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
RELEASE=${CARGO_TARGET_DIR:-$ROOT/target}/release

packages=(-p ferrostack-bench)
[ -n "${FERROSTACK_BIN:-}" ] || packages+=(-p ferrostack)
FERROSTACK_BIN=${FERROSTACK_BIN:-$RELEASE/ferrostack}
printf '\n==> cargo build --release %s\n' "${packages[*]}" >&2
cargo build --release "${packages[@]}"

args=(volumes --ferrostack-bin "$FERROSTACK_BIN" --samples "${BENCH_SAMPLES:-20}")
GUEST=${FERROSTACK_GUEST_IMAGE:-$ROOT/target/guest-image/ferrostack-guest.qcow2}
if [ "$(id -u)" -eq 0 ] && [ -f "$GUEST" ]; then
    args+=(--guest-image "$GUEST")
else
    echo "NOTE: no attach figure (needs root and the test guest at $GUEST)" >&2
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$RELEASE/ferrostack-bench" "${args[@]}"
printf '\n==> the local backend (cargo run --release -p ferrostack-volume --example backend_bench)\n' >&2
cargo run -q --release -p ferrostack-volume --example backend_bench
