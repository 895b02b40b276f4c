#!/usr/bin/env bash
# Quick start, step 1 of 2: install what ferrostack needs, build it, and run
# `ferrostack allinone` in the foreground (Ctrl-C stops it; state is kept).
#
#   sudo ./scripts/allinone.sh [extra allinone options, e.g. --admin-password secret]
#
# As root the binary goes to /usr/local/bin and state to /var/lib/ferrostack;
# as another user it runs from target/release with state in
# ~/.local/share/ferrostack.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    # QEMU and the tools the driver uses for disks and config drives; the
    # host data plane's tools (iproute2, nftables, dnsmasq for DHCP).
    for pkg in build-essential pkg-config ca-certificates qemu-system-x86 qemu-utils dosfstools mtools \
        iproute2 nftables dnsmasq-base; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
        echo ">> installing ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    fi
fi

if ! command -v cargo >/dev/null; then
    echo "error: no Rust toolchain found. ferrostack needs Rust 1.85 or newer (rust-toolchain.toml pins the tested one)." >&2
    echo "       Install it with rustup, then run this script again." >&2
    exit 1
fi

echo ">> building ferrostack (release)"
cargo build --release --locked -p ferrostack
bin=target/release/ferrostack
if [ "$(id -u)" = 0 ]; then
    install -m 0755 "$bin" /usr/local/bin/ferrostack
    bin=/usr/local/bin/ferrostack
fi
echo ">> starting: $bin allinone $*"
exec "$bin" allinone "$@"
