#!/usr/bin/env bash
# Run every test ferrostack has: formatting, lints, Rust tests, the
# end-to-end suite (real OpenStack clients against the built binary),
# OpenStack's own API tests for identity and image (Tempest, through
# scripts/tempest.sh: red when a pass count falls below
# tests/tempest/floor.txt), then the dashboard in a real browser
# (tests/browser).
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -k seed -x      # extra arguments go to pytest
#
# Environment: PYTHON (interpreter for the e2e virtualenv, default python3),
# FERROSTACK_BIN (binary under test, default target/debug/ferrostack),
# E2E_WORKERS (parallel e2e test processes, default 2; 0: one at a time).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
VENV=$ROOT/tests/e2e/.venv
REQUIREMENTS=$ROOT/tests/e2e/requirements.txt

# Each step says when it starts (seconds since the script began), so a CI
# log shows where the time goes.
step() { printf '\n==> [%4d s] %s\n' "$SECONDS" "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# (a) System packages: install what is missing when we can (root + apt).
ensure_system_packages() {
    local missing=()
    command -v cc >/dev/null && command -v make >/dev/null || missing+=(build-essential)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    # Real VMs in the e2e suite: QEMU, qemu-img, and the config drive tools.
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    command -v qemu-img >/dev/null || missing+=(qemu-utils)
    command -v mkfs.vfat >/dev/null || missing+=(dosfstools)
    command -v mcopy >/dev/null || missing+=(mtools)
    # The guest image's build reads its sshd's shared-library needs with readelf.
    command -v readelf >/dev/null || missing+=(binutils)
    # Stand-in hosts for `ferrostack deploy` (tests/deploy/hosts.sh): network
    # namespaces (ip), private mount/UTS namespaces (unshare), one sshd each.
    command -v ip >/dev/null || missing+=(iproute2)
    command -v unshare >/dev/null || missing+=(util-linux)
    # The host data plane's tests (crates/hostnet): nftables for anti-spoofing
    # and security groups, dnsmasq for DHCP, bridge(8) from iproute2.
    command -v nft >/dev/null || missing+=(nftables)
    command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
    # ssh also logs into the test guest (guest-image/test-boot.sh, the
    # floating IP e2e tests).
    command -v ssh >/dev/null && command -v scp >/dev/null || missing+=(openssh-client)
    command -v /usr/sbin/sshd >/dev/null || missing+=(openssh-server)
    # The store's PostgreSQL backend: its tests start a private server
    # (crates/store/src/testing/postgres.rs) from Debian's binaries.
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
    command -v "$PYTHON" >/dev/null || missing+=(python3)
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        missing+=(python3-venv)
    fi
    # The dashboard's browser tests: Debian's Chromium, driven from Node.
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        step "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # Package scripts must not start services here (openssh-server would
        # start an sshd on port 22 of this machine where an init system
        # lets it). A policy-rc.d that exits 101 tells invoke-rc.d "not now";
        # add one only for this install, and only if there is none already.
        local own_policy=0 rc=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\n# temporary, from scripts/test.sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            own_policy=1
        fi
        apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
        # Installing Debian's qemu-system-x86 can remove a qemu-utils of
        # another version (a backport): check again for what it provided.
        if [ "$rc" -eq 0 ] && ! command -v qemu-img >/dev/null; then
            apt-get install -y -qq --no-install-recommends qemu-utils || rc=$?
        fi
        [ "$own_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
        [ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed"
    else
        die "missing system packages: ${missing[*]} (install them, or run as root)"
    fi
}

# (e) The e2e virtualenv, rebuilt only when requirements.txt or Python change.
ensure_venv() {
    local stamp="$VENV/.requirements.stamp" want
    want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version)')"
    if [ -x "$VENV/bin/pytest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        echo "e2e virtualenv is up to date ($VENV)"
        return
    fi
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" > "$stamp"
}

step "system packages"
ensure_system_packages
command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (rust-toolchain.toml pins the version)"

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The guest first: the privileged Rust tests boot it (they skip without it),
# and the e2e and browser tests upload it (they build it if missing or older
# than guest-image/).
step "guest image: build, boot under QEMU, check the config drive markers and SSH"
if [ "$(id -u)" -eq 0 ]; then
    guest-image/test-boot.sh
else
    echo "skipped: building and booting the test guest needs root (it installs QEMU and image tools)"
fi

step "cargo test --workspace"
cargo test --workspace

step "cargo build --bin ferrostack"
cargo build --bin ferrostack

step "e2e virtualenv"
ensure_venv

# The suite runs in E2E_WORKERS processes (pytest-xdist, default 2): its
# time is mostly waiting (guests booting, clients starting, servers
# converging), so two tests at once take much less than twice one. That is
# safe because everything a test makes is its own (tests/e2e/README.md,
# "Running in parallel"): ports, data and VM dirs, network namespace names
# and what lives inside them. A new test must keep it so: no fixed names or
# ports outside a namespace of its own, no cleanup of anything it did not
# make (by PID or by its own names, never "all qemu" or "all fs-*").
# `loadfile` keeps each file on one worker (module-scoped clouds, deploy's
# fixed hosts); conftest.py hands out the heaviest files first, and
# --no-loadscope-reorder keeps that order (xdist would sort by test count).
# E2E_WORKERS=0 runs it in this process, one test at a time.
step "pytest tests/e2e (${E2E_WORKERS:-2} workers)"
export FERROSTACK_BIN=${FERROSTACK_BIN:-$ROOT/target/debug/ferrostack}
"$VENV/bin/pytest" "$ROOT/tests/e2e" -v --durations=30 \
    -n "${E2E_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"

# The same clouds on PostgreSQL (a private server per worker, on a Unix
# socket: tests/e2e/postgres.py): the identity, token, quota and server
# tests, which cover what every service keeps in the store. The store's
# own tests already run on both databases in `cargo test`.
step "pytest tests/e2e on PostgreSQL (identity, tokens, quota, servers)"
(cd "$ROOT/tests/e2e" && FERROSTACK_E2E_DATABASE=postgresql "$VENV/bin/pytest" -v \
    test_identity_cli.py test_token.py test_quota.py test_servers.py \
    -n "${E2E_WORKERS:-2}" --dist loadfile --no-loadscope-reorder)

# Compute is not here: its API tests boot real guests for about 25 minutes on
# this machine's 2 cores (docs/compatibility.md, "Tempest"); developers run
# `scripts/tempest.sh compute` before resolving compute work.
step "Tempest: identity and image (scripts/tempest.sh)"
scripts/tempest.sh identity image

# The dashboard in Debian's Chromium, driven by playwright-core (pinned in
# tests/browser/package-lock.json; npm downloads no browser).
step "browser tests (tests/browser)"
(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund && npm test)
step "all tests passed"
