#!/usr/bin/env bash
# Build the ferrostack test guest: a small bootable disk image (MBR + one FAT16
# partition + SYSLINUX + Debian cloud kernel + busybox initramfs), as raw and
# qcow2. See guest-image/README.md.
#
# Usage: guest-image/build.sh [OUTDIR]     (default: <repo>/target/guest-image)
#
# Guest contents come from Debian packages fetched with `apt-get download` into
# OUTDIR/cache/debs and unpacked with `dpkg-deb -x`: the host gets no kernel or
# busybox installed. Host tools (mtools, dosfstools, syslinux, qemu-utils) are
# installed with apt-get when missing and running as root.
#
# Why this shape: SYSLINUX on FAT can be installed into a partition image
# without loop devices or mounts (its mtools installer), so the build needs no
# privileges beyond installing tools; the root filesystem is the initramfs, so
# there is no ext4 to build either. GRUB was rejected (bigger, needs
# grub-install on a block device or a hand-built core.img).
#
# Environment:
#   GUEST_KERNEL_PKG  kernel metapackage (default linux-image-cloud-amd64: a
#                     quarter of linux-image-amd64's download; it has
#                     virtio-blk/net, iso9660, vfat and the ACPI button as
#                     modules, which the initramfs carries).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:-$repo/target/guest-image}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=$out/cache
kernel_meta=${GUEST_KERNEL_PKG:-linux-image-cloud-amd64}
start=$(date +%s)

log() { echo "guest-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- host tools --------------------------------------------------------------
need_pkgs=()
command -v mcopy >/dev/null || need_pkgs+=(mtools)
command -v mkfs.vfat >/dev/null || [ -x /sbin/mkfs.vfat ] || need_pkgs+=(dosfstools)
command -v syslinux >/dev/null || need_pkgs+=(syslinux)
command -v qemu-img >/dev/null || need_pkgs+=(qemu-utils)
command -v gzip >/dev/null || need_pkgs+=(gzip)
command -v readelf >/dev/null || need_pkgs+=(binutils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing host packages: ${need_pkgs[*]} (run as root or install them)"
    log "installing host tools: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null; }
fi
export PATH=$PATH:/sbin:/usr/sbin

# --- guest packages: download once, unpack fresh -----------------------------
mkdir -p "$cache/debs"
resolve_kernel() {
    apt-cache depends "$kernel_meta" 2>/dev/null \
        | awk '/^ *Depends: linux-image-[0-9]/ { print $2; exit }'
}
kernel_pkg=$(resolve_kernel)
if [ -z "$kernel_pkg" ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update >/dev/null
    kernel_pkg=$(resolve_kernel)
fi
[ -n "$kernel_pkg" ] || die "cannot resolve $kernel_meta to a kernel package (apt-get update?)"

# A kernel ABI bump leaves the previous kernel's .deb behind: drop it.
for d in "$cache/debs"/linux-image-*.deb; do
    [ -e "$d" ] || continue
    case ${d##*/} in "${kernel_pkg}"_*) ;; *) rm -f "$d" ;; esac
done
have_deb() { compgen -G "$cache/debs/${1}_*.deb" >/dev/null; }
fetch=()
# dropbear-bin and the shared libraries it links (readelf -d: libtomcrypt1,
# libtommath1, libgmp10 via libtomcrypt, zlib1g, libcrypt1, libc6 with the
# dynamic loader): only those .so files go into the initramfs.
ssh_pkgs=(dropbear-bin libtomcrypt1 libtommath1 libgmp10 zlib1g libcrypt1 libc6)
guest_pkgs=("$kernel_pkg" busybox-static syslinux-common "${ssh_pkgs[@]}")
for p in "${guest_pkgs[@]}"; do
    have_deb "$p" || fetch+=("$p")
done
if [ ${#fetch[@]} -gt 0 ]; then
    log "downloading ${fetch[*]}"
    # -o: let apt write into a root-owned cache dir without the _apt sandbox warning.
    (cd "$cache/debs" && apt-get download -o APT::Sandbox::User=root "${fetch[@]}" >/dev/null) \
        || { [ "$(id -u)" -eq 0 ] && apt-get update >/dev/null \
             && (cd "$cache/debs" && apt-get download -o APT::Sandbox::User=root "${fetch[@]}" >/dev/null); } \
        || die "apt-get download ${fetch[*]} failed"
fi

x=$cache/unpacked
rm -rf "$x"
mkdir -p "$x"
for p in "${guest_pkgs[@]}"; do
    deb=$(ls -1 "$cache/debs/${p}"_*.deb | sort -V | tail -n 1)
    dpkg-deb -x "$deb" "$x"
done
kver=$(ls -1 "$x/lib/modules" | head -n 1)
vmlinuz=$x/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || die "no kernel in $kernel_pkg"
busybox=$x/bin/busybox
[ -x "$busybox" ] || die "no busybox in busybox-static"
slx=$x/usr/lib/syslinux
log "kernel $kver, $("$busybox" | head -n 1 | cut -d ' ' -f 1-2)"

# --- initramfs ---------------------------------------------------------------
ir=$cache/initramfs
rm -rf "$ir"
mkdir -p "$ir/bin" "$ir/lib/modules/$kver" "$ir/etc" "$ir/root"
cp "$busybox" "$ir/bin/busybox"
cp -a "$here/rootfs/." "$ir/"
chmod 0755 "$ir/init"

# The SSH server: dropbear and dropbearkey, with exactly the shared objects
# they need, found by walking readelf's NEEDED entries from the binaries (so
# a Debian point release that adds a dependency fails here, loudly).
mkdir -p "$ir/usr/sbin" "$ir/usr/bin" "$ir/lib64" "$ir/lib/x86_64-linux-gnu" "$ir/etc/dropbear"
cp "$x/usr/sbin/dropbear" "$ir/usr/sbin/dropbear"
cp "$x/usr/bin/dropbearkey" "$ir/usr/bin/dropbearkey"
libdirs=("$x/lib/x86_64-linux-gnu" "$x/usr/lib/x86_64-linux-gnu")
declare -A lib_seen=()
add_libs() { # add_libs ELF: copy its NEEDED libraries, recursively
    local lib d found
    for lib in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -z "${lib_seen[$lib]:-}" ] || continue
        lib_seen[$lib]=1
        found=
        for d in "${libdirs[@]}"; do
            [ -e "$d/$lib" ] && { found=$d/$lib; break; }
        done
        [ -n "$found" ] || die "$1 needs $lib, which no unpacked package has"
        cp -L "$found" "$ir/lib/x86_64-linux-gnu/$lib"
        add_libs "$found"
    done
}
add_libs "$x/usr/sbin/dropbear"
add_libs "$x/usr/bin/dropbearkey"
# The loader the binaries name (PT_INTERP); in libc6 /lib64's copy is an
# absolute symlink, which must not resolve to this host's file.
cp "$x/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$ir/lib/x86_64-linux-gnu/"
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$ir/lib64/ld-linux-x86-64.so.2"
log "sshd: dropbear $(dpkg-deb -f "$(ls -1 "$cache/debs"/dropbear-bin_*.deb | sort -V | tail -n 1)" Version), libraries: ${!lib_seen[*]}"

# Modules the guest needs, with their dependencies first (read from each
# module's .modinfo "depends=" string: no kmod needed on the host). Names
# not found as modules are built in, or absent from this kernel flavour.
wanted=(
    virtio_pci virtio_blk virtio_net virtio_scsi virtio_console virtio_rng
    sd_mod sr_mod ata_piix ahci
    isofs vfat nls_cp437 nls_ascii nls_utf8 nls_iso8859_1
    evdev button
)
moddir=$x/lib/modules/$kver
declare -A ko_path=() seen=()
while IFS= read -r f; do
    n=$(basename "$f" .ko)
    ko_path[${n//-/_}]=${f#"$moddir"/}
done < <(find "$moddir" -name '*.ko')
order=()
add_module() {
    local n=${1//-/_} p deps d
    [ -z "${seen[$n]:-}" ] || return 0
    seen[$n]=1
    p=${ko_path[$n]:-}
    [ -n "$p" ] || { log "module $n: not a module in $kver (built in or absent)"; return 0; }
    deps=$(tr '\0' '\n' < "$moddir/$p" | sed -n 's/^depends=//p')
    local IFS=,
    for d in $deps; do
        [ -z "$d" ] || add_module "$d"
    done
    order+=("$p")
}
for m in "${wanted[@]}"; do add_module "$m"; done
: > "$ir/etc/modules.order"
for p in "${order[@]}"; do
    mkdir -p "$ir/lib/modules/$kver/$(dirname "$p")"
    cp "$moddir/$p" "$ir/lib/modules/$kver/$p"
    echo "$p" >> "$ir/etc/modules.order"
done
log "initramfs: ${#order[@]} modules"

initrd=$cache/initrd.gz
(cd "$ir" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -9 -n > "$initrd"

# --- boot partition: FAT16 + SYSLINUX ----------------------------------------
cat > "$cache/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT ferrostack
PROMPT 0
TIMEOUT 0
LABEL ferrostack
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND console=tty0 console=ttyS0,115200n8
EOF

kib() { echo $(( ($(stat -c %s "$1") + 1023) / 1024 )); }
part_mib=$(( ($(kib "$vmlinuz") + $(kib "$initrd") + 1024) / 1024 + 4 ))
part=$cache/boot.fat
rm -f "$part"
mkfs.vfat -F 16 -n FSGUEST -C "$part" $((part_mib * 1024)) >/dev/null
syslinux --install "$part"
mcopy -i "$part" "$vmlinuz" ::vmlinuz
mcopy -i "$part" "$initrd" ::initrd.gz
mcopy -i "$part" "$cache/syslinux.cfg" ::syslinux.cfg

# --- disk: MBR (SYSLINUX boot code) + one active FAT16-LBA partition at 1 MiB --
raw=$out/ferrostack-guest.raw
qcow=$out/ferrostack-guest.qcow2
tmp_raw=$raw.tmp
start_lba=2048
part_sectors=$(( part_mib * 2048 ))
rm -f "$tmp_raw"
truncate -s $(( (start_lba + part_sectors) * 512 )) "$tmp_raw"
dd if="$slx/mbr/mbr.bin" of="$tmp_raw" bs=440 count=1 conv=notrunc status=none
le32() { # little-endian 32-bit as printf escapes
    printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) \
        $((($1 >> 16) & 255)) $((($1 >> 24) & 255))
}
# Entry 1: active (0x80), CHS fields saturated (LBA is what counts), type 0x0e.
printf "\\x80\\xfe\\xff\\xff\\x0e\\xfe\\xff\\xff$(le32 $start_lba)$(le32 $part_sectors)" \
    | dd of="$tmp_raw" bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of="$tmp_raw" bs=1 seek=510 conv=notrunc status=none
dd if="$part" of="$tmp_raw" bs=1M seek=1 conv=notrunc status=none
mv -f "$tmp_raw" "$raw"

rm -f "$qcow.tmp"
qemu-img convert -f raw -O qcow2 "$raw" "$qcow.tmp"
mv -f "$qcow.tmp" "$qcow"

# The unpacked kernel package is ~100 MiB; the .debs stay cached for the next run.
rm -rf "$x" "$ir"

size() { du -h --apparent-size "$1" | cut -f 1; }
log "built in $(( $(date +%s) - start )) s"
echo "raw:    $raw ($(size "$raw"))"
echo "qcow2:  $qcow ($(size "$qcow"), $(du -h "$qcow" | cut -f 1) on disk)"
echo "kernel: $kver; initramfs $(size "$initrd")"
