#!/usr/bin/env bash
# Boot the ferrostack test guest under QEMU/TCG with a config drive and check
# the whole contract the compute tests rely on (guest-image/README.md):
# markers for boot, instance-id, public key, DHCP, user data, "ready", SSH
# into the guest as root with the config drive's key (through a QEMU user-mode
# port forward on 127.0.0.1; the host key pinned from the console; another key
# refused), and a clean ACPI shutdown on QMP system_powerdown.
#
# Usage: guest-image/test-boot.sh [IMAGEDIR]   (default: <repo>/target/guest-image)
# Env:   NIC=user (default; user-mode virtio NIC, exercises DHCP and SSH) or
#        NIC=none (no network: DHCP and SSH are not checked)
#        CONFIG_DRIVE=vfat (default) or iso9660 (installs genisoimage if missing)
#        MEM=256 guest RAM in MiB
#        KEEP=1 keeps the work directory (it is always kept on failure).
# Exit status is non-zero on any failure, with the tail of the serial log.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
imgdir=${1:-$repo/target/guest-image}
nic=${NIC:-user}
cd_fs=${CONFIG_DRIVE:-vfat}
mem=${MEM:-256}
boot_deadline=120
stop_deadline=60

log() { echo "test-boot: $*" >&2; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- prerequisites -------------------------------------------------------------
base=$imgdir/ferrostack-guest.qcow2
if [ ! -f "$base" ]; then
    log "no image at $base: building"
    "$here/build.sh" "$imgdir"
elif [ -n "$(find "$here" -type f -newer "$base" | head -n 1)" ]; then
    # A checkout that changed guest-image/ must not test yesterday's image.
    log "$base is older than guest-image/: rebuilding"
    "$here/build.sh" "$imgdir"
fi
base=$(cd "$(dirname "$base")" && pwd)/$(basename "$base")

need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v mcopy >/dev/null || need_pkgs+=(mtools)
command -v mkfs.vfat >/dev/null || [ -x /sbin/mkfs.vfat ] || need_pkgs+=(dosfstools)
if [ "$cd_fs" = iso9660 ]; then
    command -v genisoimage >/dev/null || need_pkgs+=(genisoimage)
fi
command -v python3 >/dev/null || command -v socat >/dev/null || need_pkgs+=(socat)
if [ "$nic" = user ]; then
    command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || need_pkgs+=(openssh-client)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { log "missing host packages: ${need_pkgs[*]}"; exit 1; }
    log "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null; }
fi
export PATH=$PATH:/sbin:/usr/sbin

work=$(mktemp -d /tmp/ferrostack-guest-test.XXXXXX)
serial=$work/serial.log
qmp_sock=$work/qmp.sock
qemu_pid=
ok=0

cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    if [ "$ok" = 1 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$work"
    else
        log "work directory kept: $work"
    fi
}
trap cleanup EXIT

fail() {
    log "FAIL: $*"
    if [ -f "$serial" ]; then
        echo "----- serial log tail ($serial) -----" >&2
        tail -n 40 "$serial" | tr -d '\033' >&2
        echo "-------------------------------------" >&2
    fi
    [ -f "$work/qemu.out" ] && sed 's/^/qemu: /' "$work/qemu.out" >&2
    exit 1
}

# qmp COMMAND: negotiate capabilities and run one command on the QMP socket.
qmp() {
    if command -v python3 >/dev/null; then
        python3 - "$qmp_sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()  # greeting
for cmd in ("qmp_capabilities", sys.argv[2]):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:  # skip events until this command's answer
        msg = json.loads(f.readline())
        if "return" in msg or "error" in msg:
            break
    if "error" in msg:
        sys.exit("qmp %s: %s" % (cmd, msg["error"]))
EOF
    else
        printf '{"execute":"qmp_capabilities"}\n{"execute":"%s"}\n' "$1" \
            | socat -t 2 - "UNIX-CONNECT:$qmp_sock" >/dev/null
    fi
}

# free_port: a port in 20000-32767 nothing listens on at 127.0.0.1.
free_port() {
    python3 -c '
import random, socket
for port in random.sample(range(20000, 32768), 200):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
'
}

# --- config drive (vfat, label config-2, Nova's openstack/latest layout) ---
uuid=$(cat /proc/sys/kernel/random/uuid)
token=$(tr -d - < /proc/sys/kernel/random/uuid)
if [ "$nic" = user ]; then
    # A real key pair: the guest must let its holder in, and no one else.
    ssh-keygen -q -t ed25519 -N '' -C test-boot@ferrostack -f "$work/id_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C intruder@ferrostack -f "$work/id_wrong"
    pubkey=$(cat "$work/id_ed25519.pub")
else
    pubkey="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${token} test-boot@ferrostack"
fi
cd_root=$work/configdrive
mkdir -p "$cd_root/openstack/latest"
cat > "$cd_root/openstack/latest/meta_data.json" <<EOF
{"uuid": "$uuid", "meta": {"role": "test"}, "hostname": "test-boot.novalocal", "name": "test-boot", "launch_index": 0, "availability_zone": "nova", "project_id": "p", "public_keys": {"testkey": "$pubkey\n"}, "keys": [{"name": "testkey", "type": "ssh", "data": "$pubkey\n"}]}
EOF
printf '#!/bin/sh\necho "user-data-token %s on $(hostname)"\n' "$token" > "$cd_root/openstack/latest/user_data"
echo '{"links": [], "networks": [], "services": []}' > "$cd_root/openstack/latest/network_data.json"
configdrive=$work/configdrive.$cd_fs
case $cd_fs in
    vfat)
        mkfs.vfat -n config-2 -C "$configdrive" 1024 >/dev/null 2>&1
        mcopy -s -i "$configdrive" "$cd_root/openstack" ::/
        ;;
    iso9660) # the options Nova uses
        genisoimage -o "$configdrive" -ldots -allow-lowercase -allow-multidot -l \
            -V config-2 -r -J -quiet "$cd_root" 2>/dev/null
        ;;
    *) fail "CONFIG_DRIVE must be vfat or iso9660" ;;
esac

overlay=$work/overlay.qcow2
qemu-img create -q -f qcow2 -b "$base" -F qcow2 "$overlay"

case $nic in
    none) nic_args=(-nic none) ;;
    user)
        # A free loopback port for the forward to the guest's port 22 (below
        # 32768, outside Linux's ephemeral range, so no outgoing connection
        # takes it between this check and QEMU's bind).
        ssh_port=$(free_port)
        [ -n "$ssh_port" ] || fail "no free port for the SSH forward"
        nic_args=(-nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$ssh_port-:22")
        ;;
    *) fail "NIC must be user or none" ;;
esac

# --- boot ------------------------------------------------------------------------
t0=$(ms)
qemu-system-x86_64 -accel tcg -m "$mem" -nographic -monitor none \
    -serial "file:$serial" \
    -drive "if=virtio,file=$overlay,format=qcow2" \
    -drive "if=virtio,file=$configdrive,format=raw,readonly=on" \
    -qmp "unix:$qmp_sock,server=on,wait=off" \
    "${nic_args[@]}" </dev/null >"$work/qemu.out" 2>&1 &
qemu_pid=$!
log "qemu pid $qemu_pid, work directory $work"

marker() { grep -a -q -F "ferrostack-guest: $1" "$serial" 2>/dev/null; }
while ! marker ready; do
    kill -0 "$qemu_pid" 2>/dev/null || fail "qemu exited before the guest was ready"
    [ $(( $(ms) - t0 )) -lt $(( boot_deadline * 1000 )) ] || fail "no 'ready' marker within ${boot_deadline} s"
    sleep 0.1
done
boot_ms=$(( $(ms) - t0 ))
guest_uptime=$(grep -a -o 'ferrostack-guest: uptime [0-9.]*' "$serial" | awk '{print $3}' | tail -n 1)
log "ready after $((boot_ms / 1000)).$(printf %03d $((boot_ms % 1000))) s (qemu start to 'ready'; guest kernel uptime ${guest_uptime:-?} s)"

marker booted || fail "no 'booted' marker"
marker "instance-id $uuid" || fail "instance-id marker missing or wrong (want $uuid)"
marker "public-key $pubkey" || fail "public-key marker missing or wrong"
grep -a -q -x "ferrostack-guest: public-key $pubkey" <(tr -d '\r' < "$serial") || fail "public-key line has trailing garbage"
marker "hostname test-boot.novalocal" || fail "hostname marker missing"
marker "user-data exit 0" || fail "user-data did not run or failed"
grep -a -q "user-data-token $token on test-boot" "$serial" || fail "user-data output missing"
if [ "$nic" = user ]; then
    marker "eth0 10.0.2.15/" || fail "no DHCP lease on eth0"
    marker "sshd ready" || fail "no 'sshd ready' marker"
    hostkey=$(grep -a -o 'ferrostack-guest: ssh-host-key ssh-ed25519 [A-Za-z0-9+/=]*' "$serial" \
        | tail -n 1 | cut -d ' ' -f 3-4)
    [ -n "$hostkey" ] || fail "no ssh-host-key marker"
    # The host key is pinned from the console (StrictHostKeyChecking=yes):
    # the marker must name the key the server really presents.
    echo "[127.0.0.1]:$ssh_port $hostkey" > "$work/known_hosts"
    ssh_opts=(-p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=20 -o IdentitiesOnly=yes
        -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$work/known_hosts" -o LogLevel=ERROR)
    t1=$(ms)
    got=$(ssh "${ssh_opts[@]}" -i "$work/id_ed25519" root@127.0.0.1 hostname 2>"$work/ssh.err") \
        || fail "ssh with the config drive's key failed: $(cat "$work/ssh.err")"
    ssh_ms=$(( $(ms) - t1 ))
    [ "$got" = test-boot ] || fail "ssh ... hostname printed '$got', want test-boot (from meta_data.json)"
    log "ssh root@guest hostname -> $got ($ssh_ms ms, host key pinned from the console)"
    if ssh "${ssh_opts[@]}" -i "$work/id_wrong" root@127.0.0.1 hostname >/dev/null 2>"$work/ssh-wrong.err"; then
        fail "ssh with a key that is not in the config drive got in"
    fi
    # Only publickey is offered: no password login to try.
    grep -q 'Permission denied (publickey)' "$work/ssh-wrong.err" \
        || fail "wrong key: expected 'Permission denied (publickey)', got: $(cat "$work/ssh-wrong.err")"
    log "ssh with another key: refused ($(tr -d '\r' < "$work/ssh-wrong.err" | tail -n 1))"
fi

# --- soft stop ---------------------------------------------------------------
t1=$(ms)
qmp system_powerdown || fail "QMP system_powerdown failed"
while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ $(( $(ms) - t1 )) -ge $(( stop_deadline * 1000 )) ]; then
        qmp quit || true
        sleep 2
        fail "guest did not power off within ${stop_deadline} s of system_powerdown"
    fi
    sleep 0.1
done
rc=0
wait "$qemu_pid" || rc=$?
qemu_pid=
stop_ms=$(( $(ms) - t1 ))
[ "$rc" = 0 ] || fail "qemu exited with status $rc"
marker "power-button" || fail "no power-button marker: shutdown was not the ACPI path"
log "powered off $((stop_ms / 1000)).$(printf %03d $((stop_ms % 1000))) s after system_powerdown"

echo "----- guest markers -----"
grep -a 'ferrostack-guest: ' "$serial" | tr -d '\r\033' | sed 's/\[6n//g'
echo "-------------------------"
ok=1
echo "PASS: boot $((boot_ms / 1000)).$(printf %03d $((boot_ms % 1000))) s, stop $((stop_ms / 1000)).$(printf %03d $((stop_ms % 1000))) s (TCG, $mem MiB, $cd_fs config drive, nic $nic)"
