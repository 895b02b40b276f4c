#!/usr/bin/env bash
# Identity API benchmark: ferrostack against the reference Python Keystone
# (from PyPI, under uWSGI), same machine, same client, same operations.
#
#   scripts/bench-identity.sh
#
# Prints one table per server and a comparison; everything it creates goes to
# bench-out/ (git-ignored). See docs/benchmarks.md.
#
# Environment (all optional):
#   BENCH_DURATION=3          seconds per (operation, concurrency) cell
#   BENCH_CONCURRENCY=1,10,50 concurrencies
#   BENCH_OUT=bench-out       work and results directory
#   KEYSTONE_PROCESSES=2      uWSGI worker processes for Keystone
#   KEYSTONE_CACHE=1          Keystone's in-process cache (dogpile memory); 0 = off
#   KEYSTONE_VERSION=30.0.0   UWSGI_VERSION=2.0.31   PYTHON=python3
#   FERROSTACK_BIN=path       use this ferrostack binary instead of building one
#   SKIP_FERROSTACK=1 / SKIP_KEYSTONE=1   run one side only
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=$(mkdir -p "${BENCH_OUT:-bench-out}" && cd "${BENCH_OUT:-bench-out}" && pwd)
DURATION=${BENCH_DURATION:-3}
CONCURRENCY=${BENCH_CONCURRENCY:-1,10,50}
KEYSTONE_PROCESSES=${KEYSTONE_PROCESSES:-2}
KEYSTONE_CACHE=${KEYSTONE_CACHE:-1}
KEYSTONE_VERSION=${KEYSTONE_VERSION:-30.0.0}
UWSGI_VERSION=${UWSGI_VERSION:-2.0.31}
PYTHON=${PYTHON:-python3}
PASSWORD=bench-admin-secret
START_DEADLINE=120

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Servers started here; stopped by PID with SIGTERM after their run or on exit.
PIDS=()
stop_servers() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
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

ensure_system_packages() {
    local missing=()
    command -v cc >/dev/null && command -v make >/dev/null || missing+=(build-essential)
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
    # uWSGI is compiled against the interpreter's headers.
    local include
    include=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    [ -f "$include/Python.h" ] || missing+=(python3-dev)
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        step "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        die "missing system packages: ${missing[*]}"
    fi
}

bench() { # label url json-file
    "$ROOT/target/release/ferrostack-bench" run --label "$1" --url "$2" \
        --username admin --password "$PASSWORD" --project admin \
        --duration "$DURATION" --concurrency "$CONCURRENCY" --json "$3"
}

run_ferrostack() {
    step "ferrostack allinone"
    local data=$OUT/ferrostack-data log=$OUT/ferrostack.log port args=()
    rm -rf "$data"
    for service in identity compute image volume network placement host-api dashboard; do
        port=$(free_port)
        args+=("--$service-port" "$port")
        [ "$service" = identity ] && FERROSTACK_PORT=$port
    done
    "$FERROSTACK_BIN" allinone --data-dir "$data" --bind 127.0.0.1 \
        --public-host 127.0.0.1 --admin-password "$PASSWORD" --log warn "${args[@]}" \
        >"$log" 2>&1 &
    PIDS+=($!)
    wait_for $! "grep -qs '^ferrostack ready' '$log'" "$log"
    bench ferrostack "http://127.0.0.1:$FERROSTACK_PORT/v3" "$OUT/ferrostack.json"
    stop_servers
}

setup_keystone_venv() {
    local venv=$OUT/keystone-venv want="keystone==$KEYSTONE_VERSION uwsgi==$UWSGI_VERSION $("$PYTHON" -V 2>&1)"
    if [ -x "$venv/bin/uwsgi" ] && [ "$(cat "$venv/.stamp" 2>/dev/null)" = "$want" ]; then
        return
    fi
    step "Keystone $KEYSTONE_VERSION + uWSGI $UWSGI_VERSION virtualenv (uWSGI compiles; takes a minute)"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "keystone==$KEYSTONE_VERSION" "uwsgi==$UWSGI_VERSION"
    echo "$want" >"$venv/.stamp"
}

run_keystone() {
    setup_keystone_venv
    local cache=off
    [ "$KEYSTONE_CACHE" = 1 ] && cache="in-process"
    step "Keystone under uWSGI ($KEYSTONE_PROCESSES processes, cache: $cache)"
    local venv=$OUT/keystone-venv dir=$OUT/keystone port
    port=$(free_port)
    rm -rf "$dir"
    mkdir -p "$dir"
    cat >"$dir/keystone.conf" <<EOF
[DEFAULT]
log_file = $dir/keystone.log
[database]
connection = sqlite:///$dir/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $dir/fernet-keys
[credential]
key_repository = $dir/credential-keys
EOF
    if [ "$KEYSTONE_CACHE" = 1 ]; then
        # Stand-in for the memcached every production Keystone is given:
        # without a cache each validation rebuilds the token from SQL.
        printf '[cache]\nenabled = true\nbackend = dogpile.cache.memory\n' >>"$dir/keystone.conf"
    fi
    local manage=("$venv/bin/keystone-manage" --config-file "$dir/keystone.conf")
    local me
    me=$(id -un)
    {
        "${manage[@]}" db_sync
        "${manage[@]}" fernet_setup --keystone-user "$me" --keystone-group "$(id -gn)"
        "${manage[@]}" credential_setup --keystone-user "$me" --keystone-group "$(id -gn)"
        "${manage[@]}" bootstrap --bootstrap-password "$PASSWORD" \
            --bootstrap-region-id RegionOne \
            --bootstrap-public-url "http://127.0.0.1:$port/v3"
    } >"$dir/manage.log" 2>&1 || { tail -n 30 "$dir/manage.log" >&2; die "keystone-manage failed"; }

    # keystone.wsgi.api is the WSGI module of the pinned Keystone (older
    # releases shipped a keystone-wsgi-public script instead).
    OS_KEYSTONE_CONFIG_FILES=$dir/keystone.conf "$venv/bin/uwsgi" \
        --http "127.0.0.1:$port" --http-keepalive \
        --module keystone.wsgi.api:application \
        --processes "$KEYSTONE_PROCESSES" --master --need-app --die-on-term \
        --disable-logging >"$dir/uwsgi.log" 2>&1 &
    PIDS+=($!)
    wait_for $! "'$PYTHON' -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:$port/v3\", timeout=2)' 2>/dev/null" \
        "$dir/uwsgi.log"
    bench keystone "http://127.0.0.1:$port/v3" "$OUT/keystone.json"
    stop_servers
}

ensure_system_packages
packages=(-p ferrostack-bench)
if [ -z "${SKIP_FERROSTACK:-}" ] && [ -z "${FERROSTACK_BIN:-}" ]; then
    packages+=(-p ferrostack)
fi
FERROSTACK_BIN=${FERROSTACK_BIN:-$ROOT/target/release/ferrostack}
step "cargo build --release ${packages[*]}"
cargo build --release "${packages[@]}"

[ -n "${SKIP_FERROSTACK:-}" ] || run_ferrostack
[ -n "${SKIP_KEYSTONE:-}" ] || run_keystone

if [ -z "${SKIP_FERROSTACK:-}${SKIP_KEYSTONE:-}" ]; then
    echo
    "$ROOT/target/release/ferrostack-bench" compare "$OUT/keystone.json" "$OUT/ferrostack.json"
fi
echo
echo "machine: $(nproc) cores, $(uname -sr); results saved in $OUT/{ferrostack,keystone}.json"
