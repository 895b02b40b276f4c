#!/usr/bin/env bash
# Stand-in "hosts" for testing `ferrostack deploy` on one machine.
#
#   tests/deploy/hosts.sh up   STATE_DIR N   # make hosts fsd-h1..fsd-hN
#   tests/deploy/hosts.sh down STATE_DIR     # remove them again
#
# Each host is a network namespace fsd-hK with address 10.201.0.(10+K) on a
# bridge (fsdbr0, 10.201.0.1 in the root namespace), running its own sshd in a
# private mount + UTS namespace: its own host name and its own
# /etc/ferrostack, /var/lib/ferrostack, /var/log/ferrostack, /run/ferrostack,
# /usr/local/bin, /etc/systemd/system and PostgreSQL's directories (bind
# mounts of STATE/hK/root/*).
# Everything a login starts is a child of that sshd, so it inherits all three
# namespaces. See tests/deploy/README.md for what this is and is not.
#
# Needs root, iproute2 (ip), util-linux (unshare) and openssh-server (sshd).
# The names are fixed (fsdbr0, fsd-hK, fsdvK, 10.201.0.0/24), so only one set
# of hosts can exist at a time; `up` refuses to clobber another STATE_DIR's.
set -euo pipefail

BRIDGE=fsdbr0
SUBNET=10.201.0
BRIDGE_ADDR=$SUBNET.1
# Directories ferrostack deploy writes on a target host, and for each the name
# of the per-host directory under STATE/hK/root that is bind-mounted over it.
MOUNTS=(
    /etc/ferrostack:etc-ferrostack
    /var/lib/ferrostack:var-lib-ferrostack
    /var/log/ferrostack:var-log-ferrostack
    /run/ferrostack:run-ferrostack
    /usr/local/bin:usr-local-bin
    /etc/systemd/system:etc-systemd-system
    # PostgreSQL's clusters (deploy's CONFIG_DATABASE_HOST): configuration,
    # data, sockets and logs of the host's own clusters. The binaries under
    # /usr/lib/postgresql are the machine's, shared by every host.
    /etc/postgresql:etc-postgresql
    /var/lib/postgresql:var-lib-postgresql
    /run/postgresql:run-postgresql
    /var/log/postgresql:var-log-postgresql
)
SSH_DEADLINE=${FSD_SSH_DEADLINE:-30}   # seconds to wait for every sshd

die() { echo "hosts.sh: $*" >&2; exit 1; }
log() { echo "hosts.sh: $*" >&2; }

ns_name() { echo "fsd-h$1"; }
veth_name() { echo "fsdv$1"; }   # root-side end; 15-character limit on names
host_addr() { echo "$SUBNET.$((10 + $1))"; }

usage() {
    echo "usage: $0 up STATE_DIR N | down STATE_DIR" >&2
    exit 2
}

# A PID is ours to kill only if it is still the sshd we started for this host:
# the PID could have been reused since it was recorded, so check its command
# line names this host's sshd_config (unique to STATE_DIR and K).
is_our_sshd() {
    local pid=$1 config=$2
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$config"
}

# Is PID still running? A zombie is not: it has released its namespaces and
# only waits for its parent to reap it. Our sshds are reparented to PID 1,
# which here may reap slowly, so `kill -0` alone would wait on zombies.
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }   # field 3, after "pid (comm) "
    [ "${stat%% *}" != Z ]
}

# Send TERM to the given PIDs, wait up to ~5s, then KILL what is left.
kill_pids() {
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    local _ pid alive
    for _ in $(seq 50); do
        alive=()
        for pid in "$@"; do
            running "$pid" && alive+=("$pid")
        done
        [ ${#alive[@]} -eq 0 ] && return 0
        sleep 0.1
    done
    kill -KILL "${alive[@]}" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# down: tolerate every kind of partial state (nothing made yet, some hosts
# made, sshd dead, namespace gone), so it can always be re-run.
# ---------------------------------------------------------------------------
cmd_down() {
    local state=$1 n k ns pid pids
    # N is recorded first thing by `up`; without it there is nothing of ours.
    n=$(cat "$state/count" 2>/dev/null || echo 0)
    for k in $(seq 1 "$n"); do
        ns=$(ns_name "$k")
        # 1. The sshd we recorded (it may have been started in a namespace
        #    that is already gone, so do not rely on `ip netns pids` alone).
        pid=$(cat "$state/h$k/launcher.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && is_our_sshd "$pid" "$state/h$k/sshd_config"; then
            kill_pids "$pid"
        fi
        # 2. Everything else in the namespace: logins, and whatever the tests
        #    (or ferrostack deploy) started there. All of it was started by us
        #    through this host's sshd; nothing else runs in fsd-hK.
        if ip netns list | grep -qx "$ns\( .*\)\?"; then
            mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
            kill_pids "${pids[@]}"
            ip netns delete "$ns" 2>/dev/null || true
        fi
        # Deleting the namespace destroys the veth pair once no process holds
        # it; delete the root-side end explicitly in case something does.
        ip link delete "$(veth_name "$k")" 2>/dev/null || true
    done
    ip link delete "$BRIDGE" 2>/dev/null || true
    # Mount points `up` had to create in the root file system: remove them if
    # still empty (rmdir refuses otherwise, so nothing is ever lost).
    if [ -f "$state/created-dirs" ]; then
        tac "$state/created-dirs" | while read -r dir; do
            rmdir "$dir" 2>/dev/null || true
        done
        rm -f "$state/created-dirs"
    fi
    rm -f "$state/count"
}

# ---------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------
write_sshd_config() {
    local state=$1 k=$2
    local dir=$state/h$k
    cat > "$dir/sshd_config" <<EOF
# sshd for stand-in host fsd-h$k (written by tests/deploy/hosts.sh)
ListenAddress $(host_addr "$k")
Port 22
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $state/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: no login session machinery to go wrong in a namespace.
UsePAM no
# The state directory may be under /tmp (world-writable parent).
StrictModes no
# scp in OpenSSH 9 speaks sftp; internal-sftp needs no helper binary.
Subsystem sftp internal-sftp
# Keep the environment deploy sees predictable.
PermitUserEnvironment no
AcceptEnv LANG LC_*
EOF
}

# Start host K's sshd in the background. `ip netns exec` puts it in the
# network namespace (and, as a side effect, a mount namespace with /sys
# remounted); unshare adds a private mount namespace and a UTS namespace, in
# which the inner sh sets the host name and bind-mounts the per-host
# directories before exec'ing sshd. ip, unshare, sh and setsid all exec (none
# of them forks here), so $! ends up being sshd's own PID.
start_sshd() {
    local state=$1 k=$2
    local dir=$state/h$k ns binds="" spec target src
    ns=$(ns_name "$k")
    for spec in "${MOUNTS[@]}"; do
        target=${spec%%:*}
        src=$dir/root/${spec#*:}
        binds+="mount --bind '$src' '$target' && "
    done
    # The per-host /etc/hosts makes every fsd-hK name resolve inside hosts.
    binds+="mount --bind '$state/etc-hosts' /etc/hosts && "
    # setsid: detach from our terminal/session so the caller's ^C or exit
    # does not reach sshd; `down` is what stops it.
    setsid ip netns exec "$ns" \
        unshare --mount --uts --propagation private \
        sh -c "set -e; hostname $ns; ${binds} exec /usr/sbin/sshd -D -e -f '$dir/sshd_config'" \
        < /dev/null >> "$dir/sshd.log" 2>&1 &
    echo $! > "$dir/launcher.pid"
}

# EXIT trap of `up`: on failure, undo the partial `up`.
up_exit() {
    if [ "$1" -ne 0 ]; then
        log "up failed, tearing down"
        cmd_down "$UP_STATE"
    fi
}

cmd_up() {
    local state=$1 n=$2 k ns dir addr spec target
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || [ "$n" -gt 200 ]; then
        die "N must be 1..200, got '$n'"
    fi
    [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, bind mounts)"
    local tool
    for tool in ip unshare setsid ssh ssh-keygen /usr/sbin/sshd; do
        command -v "$tool" >/dev/null || die "missing $tool (apt-get install iproute2 util-linux openssh-server openssh-client)"
    done

    mkdir -p "$state"
    state=$(cd "$state" && pwd)   # absolute: it goes into configs and mounts
    # It is written unquoted into sshd_config and ssh_config.
    [[ $state =~ ^[A-Za-z0-9/._-]+$ ]] || die "STATE_DIR path must be [A-Za-z0-9/._-] only: $state"

    # A previous, failed `up` with this STATE_DIR: clean it up first.
    cmd_down "$state"

    # Names are fixed, so hosts left behind by another STATE_DIR would clash.
    if ip link show "$BRIDGE" >/dev/null 2>&1 || ip netns list | grep -q '^fsd-h[0-9]'; then
        die "$BRIDGE or fsd-h* namespaces already exist (another STATE_DIR?); run '$0 down THAT_STATE_DIR' first"
    fi

    # Record N before creating anything, so `down` can undo a partial `up`;
    # and if this `up` fails, undo it right away so nothing is left running
    # (the logs under STATE_DIR stay for a look).
    echo "$n" > "$state/count"
    UP_STATE=$state
    trap 'up_exit $?' EXIT

    # One client key for all hosts; regenerated each time (cheap, and a stale
    # one would be indistinguishable from a fresh one anyway).
    rm -f "$state/id_ed25519" "$state/id_ed25519.pub"
    ssh-keygen -q -t ed25519 -N '' -C fsd-client -f "$state/id_ed25519"
    cp "$state/id_ed25519.pub" "$state/authorized_keys"
    chmod 600 "$state/authorized_keys"
    : > "$state/known_hosts"
    : > "$state/addresses"
    {
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost ip6-loopback"
        for k in $(seq 1 "$n"); do echo "$(host_addr "$k") $(ns_name "$k")"; done
    } > "$state/etc-hosts"

    # Mount points must exist in the root file system for the bind mounts.
    # Note the ones we create, so `down` can remove them again.
    : > "$state/created-dirs"
    for spec in "${MOUNTS[@]}"; do
        target=${spec%%:*}
        if [ ! -d "$target" ]; then
            mkdir -p "$target"
            echo "$target" >> "$state/created-dirs"
        fi
    done
    # sshd's privilege separation directory (normally made by its unit file).
    if [ ! -d /run/sshd ]; then
        mkdir -m 0755 /run/sshd
        echo /run/sshd >> "$state/created-dirs"
    fi

    # The bridge: the "switch" every host is plugged into. The root namespace
    # gets .1 so tests (and ferrostack deploy) can reach the hosts directly.
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up

    cat > "$state/ssh_config" <<EOF
# Client config for the stand-in hosts (written by tests/deploy/hosts.sh).
# Use with: ssh -F $state/ssh_config 10.201.0.11 ...
Host $SUBNET.*
    User root
    IdentityFile $state/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $state/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
EOF

    for k in $(seq 1 "$n"); do
        ns=$(ns_name "$k")
        dir=$state/h$k
        addr=$(host_addr "$k")
        # Per-host state: wipe what a previous run left, so each `up` starts
        # from empty hosts (this is what makes the tests repeatable).
        rm -rf "$dir"
        mkdir -p "$dir"
        for spec in "${MOUNTS[@]}"; do
            mkdir -p "$dir/root/${spec#*:}"
        done
        # PostgreSQL's own directories belong to its user, as its package
        # leaves them (the socket directory is group-writable and setgid).
        if id postgres >/dev/null 2>&1; then
            chown postgres:postgres "$dir"/root/*-postgresql
            chmod 2775 "$dir/root/run-postgresql"
        fi

        ip netns add "$ns"
        ip -n "$ns" link set lo up
        # One veth pair per host: fsdvK stays in the root namespace on the
        # bridge, the peer becomes eth0 inside the host.
        ip link add "$(veth_name "$k")" type veth peer name eth0 netns "$ns"
        ip link set "$(veth_name "$k")" master "$BRIDGE" up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up

        ssh-keygen -q -t ed25519 -N '' -C "$ns" -f "$dir/ssh_host_ed25519_key"
        # Pin the host key, so the client never has to ask.
        echo "$addr $(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >> "$state/known_hosts"
        write_sshd_config "$state" "$k"
        /usr/sbin/sshd -t -f "$dir/sshd_config" || die "sshd rejects $dir/sshd_config"
        start_sshd "$state" "$k"
        echo "$addr" >> "$state/addresses"
    done

    # Wait until every sshd accepts a login (the veths need a moment, sshd
    # needs to bind). A host whose sshd died is reported with its log.
    local deadline=$((SECONDS + SSH_DEADLINE)) pending
    for k in $(seq 1 "$n"); do
        addr=$(host_addr "$k")
        pending=1
        while [ $SECONDS -lt $deadline ]; do
            if ssh -F "$state/ssh_config" -o ConnectTimeout=2 "$addr" true 2>/dev/null; then
                pending=0
                break
            fi
            if ! running "$(cat "$state/h$k/launcher.pid")"; then
                log "sshd of $(ns_name "$k") exited; its log:"
                cat "$state/h$k/sshd.log" >&2
                break
            fi
            sleep 0.2
        done
        [ $pending -eq 0 ] || die "no ssh login to $addr ($(ns_name "$k")); see $state/h$k/sshd.log"
    done

    cat "$state/addresses"
}

case ${1:-} in
    up)
        [ $# -eq 3 ] || usage
        cmd_up "$2" "$3"
        ;;
    down)
        [ $# -eq 2 ] || usage
        [ "$(id -u)" -eq 0 ] || die "needs root"
        [ -d "$2" ] || exit 0   # nothing was ever made there
        cmd_down "$(cd "$2" && pwd)"
        ;;
    *)
        usage
        ;;
esac
