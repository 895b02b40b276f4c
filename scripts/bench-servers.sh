#!/usr/bin/env bash
# Servers benchmark: boot-and-delete through the compute API of
# `ferrostack allinone`, first on the fake hypervisor (control plane only,
# concurrency 1, 10, 50), then on QEMU (sequential boots, the boot split into
# API, control plane and hypervisor), then token validation alone and while
# fake-hypervisor boot-and-delete runs (how compute traffic slows identity).
#
#   scripts/bench-servers.sh
#
# Prints one table per hypervisor; everything it creates goes to bench-out/
# (git-ignored), except QEMU's instance directory, which must be short (unix
# socket paths are limited to 108 bytes) and lives in /tmp/fsb-XXXXXX while
# the run lasts. See docs/benchmarks.md.
#
# Environment (all optional):
#   BENCH_DURATION=10          seconds per boot-and-delete cell
#   BENCH_CONCURRENCY=1,10,50  boot-and-delete concurrencies
#   BENCH_QEMU_RUNS=5          sequential QEMU boots
#   BENCH_POLL_MS=20           milliseconds between status polls
#   BENCH_VALIDATE_CONCURRENCY=10  concurrent token validations (validate part)
#   BENCH_OUT=bench-out        work and results directory
#   GUEST_IMAGE=path           image to boot (default: the repo's test guest,
#                              built with guest-image/build.sh when missing)
#   FERROSTACK_BIN=path        use this ferrostack binary instead of building one
#   SKIP_FAKE=1 / SKIP_QEMU=1 / SKIP_VALIDATE=1  skip a part
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=$(mkdir -p "${BENCH_OUT:-bench-out}" && cd "${BENCH_OUT:-bench-out}" && pwd)
DURATION=${BENCH_DURATION:-10}
CONCURRENCY=${BENCH_CONCURRENCY:-1,10,50}
QEMU_RUNS=${BENCH_QEMU_RUNS:-5}
POLL_MS=${BENCH_POLL_MS:-20}
VALIDATE_CONCURRENCY=${BENCH_VALIDATE_CONCURRENCY:-10}
RELEASE=${CARGO_TARGET_DIR:-$ROOT/target}/release
GUEST_IMAGE=${GUEST_IMAGE:-$ROOT/target/guest-image/ferrostack-guest.qcow2}
PASSWORD=bench-admin-secret
START_DEADLINE=120

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Servers started here; stopped by PID with SIGTERM after their run or on exit.
PIDS=()
INSTANCES=
stop_servers() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    # QEMU is daemonized and outlives allinone on purpose. The benchmark
    # deletes every server it boots; if it stopped half-way, stop the VMs it
    # left, by the pid in their pidfile and only if that pid is still QEMU
    # running from this run's instance directory.
    if [ -n "$INSTANCES" ]; then
        local pidfile pid
        for pidfile in "$INSTANCES"/*/qemu.pid; do
            [ -f "$pidfile" ] || continue
            pid=$(tr -dc 0-9 <"$pidfile")
            if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$INSTANCES/"; then
                echo "stopping VM left behind: pid $pid ($pidfile)" >&2
                kill -TERM "$pid" 2>/dev/null || true
            fi
        done
        sleep 1
        rm -rf "$INSTANCES"
        INSTANCES=
    fi
}
trap stop_servers EXIT

# Wait until `$2` (a command) succeeds, while PID $1 lives; $3 names the log.
wait_for() {
    local pid=$1 check=$2 log=$3 deadline=$((SECONDS + START_DEADLINE))
    until eval "$check"; do
        kill -0 "$pid" 2>/dev/null || { tail -n 50 "$log" >&2; die "server exited; log: $log"; }
        [ $SECONDS -lt $deadline ] || { tail -n 50 "$log" >&2; die "server not ready after ${START_DEADLINE}s; log: $log"; }
        sleep 0.2
    done
}

# start_allinone NAME HYPERVISOR LOGFILTER: a fresh allinone on free loopback
# ports; sets AUTH_URL and ALLINONE_PID.
start_allinone() {
    local name=$1 hypervisor=$2 filter=$3 port args=()
    local data=$OUT/$name-data log=$OUT/$name.log
    rm -rf "$data"
    for service in identity compute image volume network placement host-api dashboard; do
        port=$(free_port)
        args+=("--$service-port" "$port")
        [ "$service" = identity ] && AUTH_URL=http://127.0.0.1:$port/v3
    done
    INSTANCES=$(mktemp -d /tmp/fsb-XXXXXX)
    "$FERROSTACK_BIN" --log "$filter" allinone --data-dir "$data" --bind 127.0.0.1 \
        --public-host 127.0.0.1 --admin-password "$PASSWORD" \
        --hypervisor "$hypervisor" --instances-dir "$INSTANCES" "${args[@]}" \
        >"$log" 2>&1 &
    ALLINONE_PID=$!
    PIDS+=("$ALLINONE_PID")
    wait_for "$ALLINONE_PID" "grep -qs '^ferrostack ready' '$log'" "$log"
    # The host registers right after `ready` (after the KVM probe on QEMU).
    wait_for "$ALLINONE_PID" "grep -qs 'compute host up' '$log'" "$log"
}

# Other work on the machine shows in every figure but the CPU per server.
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2; }

bench() { # label scenario extra-args...
    local label=$1 scenario=$2
    shift 2
    "$RELEASE/ferrostack-bench" servers --label "$label" --scenario "$scenario" \
        --url "$AUTH_URL" --username admin --password "$PASSWORD" --project admin \
        --image-file "$GUEST_IMAGE" --flavor-vcpus 1 --flavor-ram 64 --flavor-disk 0 \
        --poll-ms "$POLL_MS" --json "$OUT/$label.json" "$@" | tee "$OUT/$label.txt"
}

run_fake() {
    step "allinone --hypervisor fake: boot-and-delete x$CONCURRENCY, ${DURATION}s per cell"
    # Request logging off, as for the identity benchmark; only the host's
    # start-up line, which start_allinone waits for.
    start_allinone servers-fake fake 'warn,ferrostack::compute_host=info'
    load
    bench servers-fake boot-delete --duration "$DURATION" --concurrency "$CONCURRENCY" \
        --server-pid "$ALLINONE_PID"
    load
    stop_servers
}

run_qemu() {
    step "allinone --hypervisor qemu: $QEMU_RUNS sequential boots"
    start_allinone servers-qemu qemu info
    grep -E 'KVM probe|compute host up' "$OUT/servers-qemu.log" | sed 's/^[^ ]* *//' >&2
    load
    bench servers-qemu qemu-timing --runs "$QEMU_RUNS" --instances-dir "$INSTANCES"
    load
    stop_servers
}

run_validate() {
    step "allinone --hypervisor fake: token-validate x$VALIDATE_CONCURRENCY alone, then during boot-and-delete x$CONCURRENCY, ${DURATION}s per cell"
    start_allinone servers-validate fake 'warn,ferrostack::compute_host=info'
    load
    bench servers-validate validate-under-boot-delete --duration "$DURATION" \
        --concurrency "$CONCURRENCY" --validate-concurrency "$VALIDATE_CONCURRENCY" \
        --server-pid "$ALLINONE_PID"
    load
    stop_servers
}

if [ ! -f "$GUEST_IMAGE" ]; then
    [ "$GUEST_IMAGE" = "$ROOT/target/guest-image/ferrostack-guest.qcow2" ] \
        || die "no image at $GUEST_IMAGE"
    step "guest-image/build.sh (the test guest is missing)"
    guest-image/build.sh
fi
packages=(-p ferrostack-bench)
[ -n "${FERROSTACK_BIN:-}" ] || packages+=(-p ferrostack)
FERROSTACK_BIN=${FERROSTACK_BIN:-$RELEASE/ferrostack}
step "cargo build --release ${packages[*]}"
cargo build --release "${packages[@]}"

[ -n "${SKIP_FAKE:-}" ] || run_fake
[ -n "${SKIP_QEMU:-}" ] || run_qemu
[ -n "${SKIP_VALIDATE:-}" ] || run_validate

echo
echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "results saved in $OUT/servers-{fake,qemu,validate}.{txt,json}; logs in $OUT/servers-{fake,qemu,validate}.log"
