#!/usr/bin/env bash
# Smoke test for the stand-in hosts: after `tests/deploy/hosts.sh up STATE N`
# (N >= 2), prove that the hosts are as separate as ferrostack deploy needs:
#
#   tests/deploy/smoke.sh STATE_DIR
#
# Each check prints "ok - ..." or "not ok - ..."; the exit status is 1 if any
# failed. It leaves one `sleep 300` running on fsd-h1 on purpose: the test
# that a detached process outlives its ssh session; `hosts.sh down` kills it.
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR}
STATE=$(cd "$STATE" && pwd)
N=$(cat "$STATE/count" 2>/dev/null) || { echo "no hosts in $STATE (run hosts.sh up first)" >&2; exit 2; }
[ "$N" -ge 2 ] || { echo "need at least 2 hosts, $STATE has $N" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (ip netns)" >&2; exit 2; }

failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
# check DESCRIPTION EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (expected '$2', got '$3')"; fi
}

addr() { echo "10.201.0.$((10 + $1))"; }
# Run a command on host K over the real network, as deploy will.
on() {
    local k=$1
    shift
    ssh -F "$STATE/ssh_config" "$(addr "$k")" "$@"
}

# A marker name no one else would use, so checks in the root file system can
# not be fooled by (or disturb) anything already there.
MARK=fsd-smoke-$$-$RANDOM

# --- 1. Every host is its own host: name, address, sockets, routes --------
for k in $(seq 1 "$N"); do
    check "fsd-h$k: hostname over ssh" "fsd-h$k" "$(on "$k" hostname)"
    check "fsd-h$k: eth0 address over ssh" "$(addr "$k")/24" \
        "$(on "$k" "ip -4 -o addr show dev eth0 | awk '{print \$4}'")"
    # sshd saw the connection arrive at this host's address, from the bridge.
    # shellcheck disable=SC2016 # expanded by the remote shell
    check "fsd-h$k: SSH_CONNECTION ends at the host's address" "10.201.0.1 $(addr "$k") 22" \
        "$(on "$k" 'set -- $SSH_CONNECTION; echo $1 $3 $4')"
    # Its network is its own: only its sshd listens, only the bridge subnet
    # is routed (the machine's own listeners and uplink are not there).
    check "fsd-h$k: only sshd listens" "$(addr "$k"):22" \
        "$(on "$k" "ss -Hltn | awk '{print \$4}' | sort | tr '\n' ' ' | sed 's/ \$//'")"
    check "fsd-h$k: only the bridge subnet is routed" "10.201.0.0/24" \
        "$(on "$k" "ip -4 route show | awk '{print \$1}' | tr '\n' ' ' | sed 's/ \$//'")"
    check "fsd-h$k: the name of every host resolves" "$(addr 1)" \
        "$(on "$k" "getent hosts fsd-h1 | awk '{print \$1}'")"
done
root_name=$(hostname)
case $root_name in
    fsd-h*) not_ok "root namespace host name is unchanged (it is $root_name)" ;;
    *) ok "root namespace host name is unchanged ($root_name)" ;;
esac

# --- 2. Each host has its own deploy directories ----------------------------
# Write a file on h1 in every directory deploy writes to; it must be on h1
# only: not on h2, not in the root namespace.
for dir in /etc/ferrostack /var/lib/ferrostack /var/log/ferrostack /run/ferrostack \
    /usr/local/bin /etc/systemd/system; do
    on 1 "echo h1 > $dir/$MARK"
    check "h1 reads back its $dir/$MARK" "h1" "$(on 1 "cat $dir/$MARK")"
    check "h2 does not see h1's $dir/$MARK" "absent" \
        "$(on 2 "test -e $dir/$MARK && echo present || echo absent")"
    check "root namespace does not see h1's $dir/$MARK" "absent" \
        "$(test -e "$dir/$MARK" && echo present || echo absent)"
    on 1 "rm -f $dir/$MARK"
done
# The machine's own /usr/local/bin (which may hold a ferrostack binary) is
# hidden on the hosts, so deploy really has to copy its binary.
check "hosts start with an empty /usr/local/bin" "0" "$(on 2 'ls -A /usr/local/bin | wc -l')"

# --- 3. scp, the way deploy copies its binary --------------------------------
src=$(mktemp)
echo "binary-$MARK" > "$src"
if scp -q -F "$STATE/ssh_config" "$src" "$(addr 1):/usr/local/bin/$MARK"; then
    check "scp to h1:/usr/local/bin lands on h1" "binary-$MARK" "$(on 1 "cat /usr/local/bin/$MARK")"
    check "scp to h1 is not visible on h2" "absent" \
        "$(on 2 "test -e /usr/local/bin/$MARK && echo present || echo absent")"
    check "scp to h1 lands in STATE/h1/root/usr-local-bin" "binary-$MARK" \
        "$(cat "$STATE/h1/root/usr-local-bin/$MARK" 2>/dev/null || echo absent)"
    on 1 "rm -f /usr/local/bin/$MARK"
else
    not_ok "scp to h1:/usr/local/bin"
fi
rm -f "$src"

# --- 4. A detached process outlives its ssh session ---------------------------
# This is how deploy starts ferrostack when there is no systemd.
ns_pids() { ip netns pids "$1" 2>/dev/null || true; }
# PIDs in namespace $1 whose command line is exactly "sleep 300".
sleeps_in() {
    local pid
    for pid in $(ns_pids "$1"); do
        [ "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" = "sleep 300 " ] && echo "$pid"
    done
    return 0
}
before=$(sleeps_in fsd-h1 | sort)
on 1 'setsid nohup sleep 300 >/dev/null 2>&1 < /dev/null &'
# The ssh command has returned, so the session is over; give sshd a moment to
# finish tearing it down before looking.
sleep 1
new=$(comm -13 <(echo "$before") <(sleeps_in fsd-h1 | sort) | head -n1)
if [ -n "$new" ]; then
    ok "detached 'sleep 300' outlives the ssh session (pid $new, listed by ip netns pids fsd-h1)"
    sshd_pid=$(cat "$STATE/h1/launcher.pid")
    # It inherited the host's namespaces from sshd: network, host name, mounts.
    for nsname in net uts mnt; do
        check "the detached process is in h1 sshd's $nsname namespace" \
            "$(readlink "/proc/$sshd_pid/ns/$nsname")" "$(readlink "/proc/$new/ns/$nsname")"
    done
    check "the detached process is not in the root uts namespace" "different" \
        "$([ "$(readlink "/proc/$new/ns/uts")" != "$(readlink /proc/self/ns/uts)" ] && echo different || echo same)"
    check "h2's namespace does not list it" "absent" \
        "$(ns_pids fsd-h2 | grep -qx "$new" && echo present || echo absent)"
else
    not_ok "detached 'sleep 300' on h1 is gone after the ssh session (or not in ip netns pids fsd-h1)"
fi

# --- 5. Hosts reach each other over the bridge ------------------------------
# From inside h2's network namespace, open h1's sshd port and read its banner.
banner=$(ip netns exec fsd-h2 timeout 5 bash -c \
    "exec 3<>/dev/tcp/$(addr 1)/22 && head -c 8 <&3" 2>/dev/null || true)
check "h2 reaches h1's sshd port (banner)" "SSH-2.0-" "$banner"
if ip netns exec fsd-h2 timeout 5 bash -c "</dev/tcp/$(addr 1)/22" 2>/dev/null; then
    ok "h2 connects to $(addr 1):22"
else
    not_ok "h2 connects to $(addr 1):22"
fi

echo
if [ "$failures" -eq 0 ]; then
    echo "smoke: all checks passed on $N hosts"
else
    echo "smoke: $failures check(s) failed"
    exit 1
fi
