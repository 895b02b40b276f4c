#!/usr/bin/env bash
# Network benchmark (issue 11, item 8): port creates through the Neutron API
# of a fresh `ferrostack allinone --hypervisor fake` on loopback (started and
# stopped by the benchmark itself), then the host data plane's drivers in
# network namespaces standing in for a host: a port created to wired (tap,
# chains, DHCP hosts entry), a security-group rule change to effective,
# 1000 ports from scratch and after an agent restart, the nftables rule
# count. One table, every figure beside its goal.
#
#   sudo scripts/bench-network.sh
#
# The data plane part needs root, iproute2, nft and dnsmasq (without them
# it says so and the API part still runs). Everything it creates lives in
# namespaces fsnb-<pid>-* / fsnbd-<pid>-* and /run/ferrostack/bench-<pid>-*,
# removed at the end. Results go to bench-out/network.{txt,json}. See
# docs/benchmarks.md.
#
# Environment (all optional):
#   BENCH_CONCURRENCY=1,10  API concurrencies
#   BENCH_API_PORTS=1000    port creates (then deletes) per concurrency
#   BENCH_HOST_PORTS=1000   ports on the host for the scale figures
#   BENCH_SINGLES=30        single ports wired one after another
#   BENCH_WIDTH=8           ensures at once (the agent's max_concurrent)
#   BENCH_OUT=bench-out     results directory
#   FERROSTACK_BIN=path     use this ferrostack binary instead of building one
#   BENCH_ARGS="..."        more arguments (e.g. --skip-api, --skip-dataplane)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=$(mkdir -p "${BENCH_OUT:-bench-out}" && cd "${BENCH_OUT:-bench-out}" && pwd)
RELEASE=${CARGO_TARGET_DIR:-$ROOT/target}/release

packages=(-p ferrostack-bench)
[ -n "${FERROSTACK_BIN:-}" ] || packages+=(-p ferrostack)
FERROSTACK_BIN=${FERROSTACK_BIN:-$RELEASE/ferrostack}
printf '\n==> cargo build --release %s\n' "${packages[*]}" >&2
cargo build --release "${packages[@]}"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# shellcheck disable=SC2086
"$RELEASE/ferrostack-bench" network --ferrostack-bin "$FERROSTACK_BIN" \
    --concurrency "${BENCH_CONCURRENCY:-1,10}" --api-ports "${BENCH_API_PORTS:-1000}" \
    --host-ports "${BENCH_HOST_PORTS:-1000}" --singles "${BENCH_SINGLES:-30}" \
    --width "${BENCH_WIDTH:-8}" --json "$OUT/network.json" ${BENCH_ARGS:-} \
    | tee "$OUT/network.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo
echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "results saved in $OUT/network.{txt,json}"
