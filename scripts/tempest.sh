#!/usr/bin/env bash
# OpenStack's own API tests (Tempest) against a fresh ferrostack.
#
#   scripts/tempest.sh identity image        # what CI runs (scripts/test.sh)
#   scripts/tempest.sh compute               # real QEMU guests; ~25 minutes on 2 cores
#
# SERVICE is identity, image, compute, volume or network; each becomes
# `tempest run --regex '^tempest\.api\.SERVICE'`, one run per service
# against the same cloud so each gets its own passed/failed/skipped line.
#
# What it does, in order: a virtualenv with Tempest pinned in
# tests/tempest/requirements.txt (rebuilt when that file changes); a fresh
# `ferrostack allinone` (temporary data dir, loopback ports below 32768,
# real QEMU, `--fake-network` so this machine's network is left alone);
# two public images from the repo's test guest and two flavors, made by
# the admin as an operator would; tempest.conf written the way an operator
# of this cloud would write it (see docs/compatibility.md, "Tempest", for
# every feature flag turned off and why); the runs; then everything it
# started is stopped: the allinone by PID, and any QEMU guest left in its
# instances dir by the pidfiles there.
#
# Exit status: 0 when every run completed and each service passed at least
# its floor (tests/tempest/floor.txt: "SERVICE MIN_PASSED"); 1 when a pass
# count fell below its floor; 2 when the run itself broke (the cloud did not
# start, the setup failed, Tempest did not report a result). Individual test
# failures are reported, not fatal: the floor is what CI holds.
#
# Results (subunit stream, failing test list, tempest.log, the cloud's log,
# tempest.conf without passwords) go to $TEMPEST_RESULTS, default
# target/tempest/<UTC timestamp>.
#
# Environment:
#   FERROSTACK_BIN        binary under test (default target/debug/ferrostack)
#   TEMPEST_VENV          virtualenv to use/create (default tests/tempest/.venv)
#   TEMPEST_RESULTS       results directory (see above)
#   TEMPEST_CONCURRENCY   test workers (default 2: the machine has 2 cores and
#                         the cloud under test shares them)
#   TEMPEST_PORT_BASE     first port tried for the cloud's listeners (21000)
#   TEMPEST_TIMEOUT       seconds one service's run may take (default 5400)
#   GUEST_IMAGE           the image uploaded (default
#                         target/guest-image/ferrostack-guest.qcow2, built with
#                         guest-image/build.sh when missing)
#   PYTHON                interpreter for the virtualenv (default python3)
#   TEMPEST_REGEX         run only the tests matching this regex (e.g.
#                         'tempest\.api\.compute\.admin\.test_hosts') instead of
#                         the whole service; for working on one API, not for
#                         the counts CI holds
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
BIN=${FERROSTACK_BIN:-$ROOT/target/debug/ferrostack}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
VENV=${TEMPEST_VENV:-$ROOT/tests/tempest/.venv}
REQUIREMENTS=$ROOT/tests/tempest/requirements.txt
FLOOR=$ROOT/tests/tempest/floor.txt
CONCURRENCY=${TEMPEST_CONCURRENCY:-2}
PORT_BASE=${TEMPEST_PORT_BASE:-21000}
RUN_TIMEOUT=${TEMPEST_TIMEOUT:-5400}
GUEST_IMAGE=${GUEST_IMAGE:-$ROOT/target/guest-image/ferrostack-guest.qcow2}
RESULTS=${TEMPEST_RESULTS:-$ROOT/target/tempest/$(date -u +%Y%m%dT%H%M%SZ)}

step() { printf '\n==> %s\n' "$*"; }
broken() { printf 'tempest.sh: error: %s\n' "$*" >&2; exit 2; }

[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || broken "usage: scripts/tempest.sh SERVICE... (identity image compute volume network)"
for service in "$@"; do
    case "$service" in
        identity | image | compute | volume | network) ;;
        *) broken "unknown service '$service' (identity, image, compute, volume, network)" ;;
    esac
done
[ -x "$BIN" ] || broken "$BIN does not exist: build it with 'cargo build -p ferrostack' or set FERROSTACK_BIN"

# --- the virtualenv -----------------------------------------------------------
ensure_venv() {
    local stamp="$VENV/.requirements.stamp" want
    want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version)')"
    if [ -x "$VENV/bin/tempest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        echo "tempest virtualenv is up to date ($VENV)"
        return
    fi
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" > "$stamp"
}
step "tempest virtualenv"
ensure_venv || broken "could not install Tempest into $VENV"

if [ ! -f "$GUEST_IMAGE" ]; then
    [ "$GUEST_IMAGE" = "$ROOT/target/guest-image/ferrostack-guest.qcow2" ] \
        || broken "GUEST_IMAGE $GUEST_IMAGE does not exist"
    step "guest-image/build.sh (the test guest is missing)"
    guest-image/build.sh || broken "could not build the test guest"
fi

# --- the cloud ----------------------------------------------------------------
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
WORK=$(mktemp -d /tmp/fs-tempest-XXXXXX)     # short: QMP socket paths stay < 108 bytes
DATA=$WORK/data
INSTANCES=$WORK/i
mkdir -p "$DATA" "$INSTANCES"
ALLINONE_PID=
ADMIN_PASSWORD="tempest-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

cleanup() {
    local status=$?
    if [ -n "$ALLINONE_PID" ] && kill -0 "$ALLINONE_PID" 2>/dev/null; then
        kill -TERM "$ALLINONE_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$ALLINONE_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$ALLINONE_PID" 2>/dev/null || true
    fi
    # Guests outlive their controller: end the ones this cloud started.
    local pidfile pid
    for pidfile in "$INSTANCES"/*/qemu.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile" 2>/dev/null || true)
        case "$pid" in '' | *[!0-9]*) continue ;; esac
        # Only a QEMU whose command line names this run's instances dir.
        if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$INSTANCES/"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    [ -f "$WORK/allinone.log" ] && cp "$WORK/allinone.log" "$RESULTS/ferrostack.log"
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# Eight listeners on consecutive free loopback ports from PORT_BASE.
pick_ports() {
    "$PYTHON" - "$PORT_BASE" <<'PY'
import socket, sys
base = int(sys.argv[1])
for start in range(base, 32768 - 8, 10):
    socks = []
    try:
        for port in range(start, start + 8):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(start)
    break
else:
    sys.exit("no free ports below 32768")
PY
}
FIRST_PORT=$(pick_ports) || broken "no free loopback ports"
LISTENERS=(identity compute image volume network placement host-api dashboard)
PORT_ARGS=()
for i in "${!LISTENERS[@]}"; do
    PORT_ARGS+=("--${LISTENERS[$i]}-port" "$((FIRST_PORT + i))")
done
IDENTITY_URL=http://127.0.0.1:$FIRST_PORT/v3

# The password policy an operator turning on Keystone's [security_compliance]
# would set, matching tempest.conf's [identity] user_* values below (Tempest's
# defaults): lockout after 2 failures for 5 s, the last 2 passwords unique.
SECURITY_ARGS=(--lockout-failure-attempts 2 --lockout-duration 5 --unique-last-password-count 2)

step "ferrostack allinone (ports $FIRST_PORT-$((FIRST_PORT + 7)), data in $WORK)"
(cd "$DATA" && exec env NO_COLOR=1 "$BIN" allinone --data-dir "$DATA" --bind 127.0.0.1 \
    --public-host 127.0.0.1 --instances-dir "$INSTANCES" --hypervisor qemu --fake-network \
    --host-name tempest-host --admin-password "$ADMIN_PASSWORD" "${PORT_ARGS[@]}" \
    "${SECURITY_ARGS[@]}" \
    > "$WORK/allinone.log" 2>&1 < /dev/null) &
ALLINONE_PID=$!
for _ in $(seq 1 300); do
    grep -q '^ferrostack ready' "$WORK/allinone.log" && break
    kill -0 "$ALLINONE_PID" 2>/dev/null || { tail -30 "$WORK/allinone.log" >&2; broken "allinone exited before it was ready"; }
    sleep 0.2
done
grep -q '^ferrostack ready' "$WORK/allinone.log" || { tail -30 "$WORK/allinone.log" >&2; broken "allinone was not ready within 60 s"; }

# --- what Tempest needs, made as the admin would make it ----------------------
step "images, flavors and a shared network"
SETUP_OUT=$WORK/setup.out
OS_AUTH_URL=$IDENTITY_URL OS_PASSWORD=$ADMIN_PASSWORD \
    "$VENV/bin/python" tests/tempest/setup_cloud.py "$GUEST_IMAGE" > "$SETUP_OUT" \
    || broken "setting up images and flavors failed (tests/tempest/setup_cloud.py)"
{ read -r IMAGE IMAGE_ALT; read -r SHARED_NETWORK; read -r NETWORK_EXTENSIONS; read -r PUBLIC_NETWORK; } < "$SETUP_OUT"

# --- tempest.conf ---------------------------------------------------------------
# An operator's configuration of this cloud: the services it has, Tempest's
# defaults for everything it offers, and a flag turned off only where
# docs/compatibility.md ("Tempest") says the feature is not offered.
WORKSPACE=$WORK/ws
# Its own workspace registry: nothing is added to ~/.tempest.
(cd "$WORK" && "$VENV/bin/tempest" init --workspace-path "$WORK/workspace.yaml" "$WORKSPACE" > /dev/null) \
    || broken "tempest init failed"
cat > "$WORKSPACE/etc/tempest.conf" <<CONF
[DEFAULT]
log_dir = $WORKSPACE
log_file = tempest.log

[auth]
use_dynamic_credentials = true
# No routers in this cloud: test projects use the shared network below
# instead of a routed network each.
create_isolated_networks = false
admin_username = admin
admin_password = $ADMIN_PASSWORD
admin_project_name = admin
admin_domain_name = Default

[identity]
uri_v3 = $IDENTITY_URL
auth_version = v3
region = RegionOne
# The cloud's password policy (SECURITY_ARGS above).
user_lockout_failure_attempts = 2
user_lockout_duration = 5
user_unique_last_password_count = 2
user_minimum_password_age = 0

[identity-feature-enabled]
# Offered and configured (SECURITY_ARGS): Keystone's [security_compliance].
security_compliance = true
# Keystone's own default: domain-specific drivers are off in an
# unconfigured Keystone too.
api_v2 = false
# Offered: OS-TRUST.
trust = true

[service_available]
nova = true
glance = true
cinder = true
neutron = true
# Not offered: no object storage, and the dashboard is not Horizon.
swift = false
horizon = false

[image]
build_timeout = 300

[image-feature-enabled]
# Offered: the interoperable import API with glance-direct (one store:
# no copy-image; nothing is downloaded: no web-download).
import_image = true

[compute]
image_ref = $IMAGE
image_ref_alt = $IMAGE_ALT
flavor_ref = 42
flavor_ref_alt = 84
fixed_network_name = $SHARED_NETWORK
min_microversion = 2.1
max_microversion = 2.96
build_timeout = 300
min_compute_nodes = 1

[compute-feature-enabled]
# Offered (same-host resize), off in Tempest's defaults.
resize = true
# Not offered (501 in docs/compatibility.md): shelve, rescue, migrations.
shelve = false
rescue = false
cold_migration = false
live_migration = false
# Not offered: volume encryption types.
attach_encrypted_volume = false

[network]
# The floating IP pool the setup made: an external network routed to the
# shared one.
public_network_id = $PUBLIC_NETWORK
floating_network_name = public

[network-feature-enabled]
# What the network API lists at /v2.0/extensions, as devstack writes it.
api_extensions = $NETWORK_EXTENSIONS

[volume]
catalog_type = volumev3
min_microversion = 3.0
max_microversion = 3.71
build_timeout = 300
volume_size = 1
# What get_pools and capabilities report of the local backend.
vendor_name = ferrostack
storage_protocol = local

[volume-feature-enabled]
# Offered (3.42), off in Tempest's defaults.
extend_attached_volume = true

[validation]
# The runner's cloud uses --fake-network (this machine's network is left
# alone), so guests have no address Tempest could reach over SSH.
run_validation = false
CONF
sed "s/^admin_password = .*/admin_password = (removed)/" "$WORKSPACE/etc/tempest.conf" > "$RESULTS/tempest.conf"

# --- the runs -------------------------------------------------------------------
declare -A FLOORS=()
if [ -f "$FLOOR" ]; then
    while read -r svc min _; do
        case "$svc" in '' | '#'*) continue ;; esac
        FLOORS[$svc]=$min
    done < "$FLOOR"
fi
SUMMARY=()
BELOW=0
BROKE=0
for service in "$@"; do
    step "tempest run --regex '${TEMPEST_REGEX:-^tempest\\.api\\.$service}' --concurrency $CONCURRENCY"
    started=$(date +%s)
    out=$RESULTS/$service.out
    (cd "$WORKSPACE" && timeout "$RUN_TIMEOUT" "$VENV/bin/tempest" run --concurrency "$CONCURRENCY" \
        --regex "${TEMPEST_REGEX:-^tempest\\.api\\.$service\\b}" > "$out" 2>&1) || true
    secs=$(( $(date +%s) - started ))
    (cd "$WORKSPACE" && "$VENV/bin/stestr" last --subunit > "$RESULTS/$service.subunit" 2>/dev/null) || true
    (cd "$WORKSPACE" && "$VENV/bin/stestr" failing --list > "$RESULTS/$service.failing" 2>/dev/null) || true
    [ -f "$WORKSPACE/tempest.log" ] && mv "$WORKSPACE/tempest.log" "$RESULTS/$service.tempest.log"
    if ! grep -q '^ - Passed: ' "$out"; then
        tail -30 "$out" >&2
        SUMMARY+=("tempest $service: no result (Tempest did not finish; see $out)")
        BROKE=1
        continue
    fi
    count() { sed -n "s/^ - $1: \\([0-9]*\\).*/\\1/p" "$out" | tail -1; }
    passed=$(count Passed) failed=$(count Failed) skipped=$(count Skipped)
    line="tempest $service: passed $passed, failed $failed, skipped $skipped (${secs}s)"
    floor=${FLOORS[$service]:-}
    if [ -n "$floor" ]; then
        if [ "$passed" -lt "$floor" ]; then
            line+=" BELOW FLOOR $floor"
            BELOW=1
        else
            line+=" (floor $floor)"
        fi
    fi
    SUMMARY+=("$line")
done

step "summary (results in $RESULTS)"
printf '%s\n' "${SUMMARY[@]}" | tee "$RESULTS/summary.txt"
[ "$BROKE" -eq 0 ] || exit 2
[ "$BELOW" -eq 0 ] || exit 1
exit 0
