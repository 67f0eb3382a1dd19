#!/usr/bin/env bash
# Builds the guest-side assets of the e2e suite and the lab from Debian packages, offline except
# for `apt-get download` of the kernel package:
#   vmlinuz               the Debian kernel (both test environments boot it)
#   first-stage.cpio.gz   the first-stage environment (the Flatcar PXE image's role): busybox,
#                         NIC/disk modules, node + its libraries, /init running the bootstrap
#   os-disk.img.bz2       the "installed OS": a vfat disk with syslinux, the kernel and an
#                         initramfs that reports boot-complete and powers off
#   assets.json           names, sizes and sha256 of the above
# Output: e2e/.cache/assets-<key>/ where <key> hashes this directory's files and the versions of
# the Debian packages and node used; an existing complete build is reused as it is. The last
# line on stdout is the output directory.
#   E2E_NODE=0            leave node out of the first-stage image (an environment for the SEA agent)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# The real first-stage bootstrap line (docs/first-stage.md), run by the first-stage /init.
BOOTSTRAP="$REPO/templates/first-stage/bootstrap.sh"
# The real boot-complete report of installed OSes, run by the test OS's /init.
REPORTER="$REPO/templates/files/report-boot-complete.sh"
CACHE=${E2E_CACHE:-$(cd "$HERE/.." && pwd)/.cache}
WITH_NODE=${E2E_NODE:-1}
NODE_BIN=$(command -v node)
mkdir -p "$CACHE/dl"

need() { command -v "$1" >/dev/null 2>&1 || { echo "build-assets: '$1' not found; run scripts/install-system-deps.sh as root" >&2; exit 1; }; }
for c in busybox cpio gzip bzip2 mkfs.vfat syslinux mcopy apt-cache apt-get dpkg-deb sha256sum; do need "$c"; done
BUSYBOX=$(command -v busybox)
[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || { echo "build-assets: syslinux-common missing (ldlinux.c32)" >&2; exit 1; }

# The kernel package linux-image-amd64 points at today.
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || { echo "build-assets: apt-cache knows no linux-image-amd64 (run apt-get update)" >&2; exit 1; }
KVER=${KPKG#linux-image-}
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }
KEY=$( {
  (cd "$HERE" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  [ -f "$BOOTSTRAP" ] && sha256sum < "$BOOTSTRAP"
  [ -f "$REPORTER" ] && sha256sum < "$REPORTER"
  echo "kernel=$KPKG $(apt-cache policy "$KPKG" | awk '/Candidate:/{print $2}')"
  echo "busybox=$(pkgver busybox-static) syslinux=$(pkgver syslinux) with_node=$WITH_NODE"
  [ "$WITH_NODE" = 1 ] && echo "node=$("$NODE_BIN" --version)"
} | sha256sum | cut -c1-16)
OUT="$CACHE/assets-$KEY"
if [ -f "$OUT/assets.json" ]; then
  ln -sfn "assets-$KEY" "$CACHE/current"
  echo "$OUT"
  exit 0
fi

log() { echo "build-assets: $*" >&2; }
WORK=$(mktemp -d "$CACHE/.build-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- kernel: only vmlinuz and the few modules the guests need, not the whole package ---------
DEB=$(ls "$CACHE/dl/${KPKG}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$DEB" ]; then
  log "downloading $KPKG"
  (cd "$WORK" && apt-get download "$KPKG" >&2 2>/dev/null) || (cd "$WORK" && apt-get download "$KPKG" >&2)
  mv "$WORK/${KPKG}"_*.deb "$CACHE/dl/"
  DEB=$(ls "$CACHE/dl/${KPKG}"_*.deb | head -1)
fi
# Load order matters (no modules.dep in the .deb): dependencies first.
MODULES="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/core/failover drivers/net/net_failover
drivers/net/virtio_net drivers/block/virtio_blk drivers/net/ethernet/intel/e1000/e1000"
mkdir -p "$WORK/kernel"
patterns=("./boot/vmlinuz-$KVER")
for m in $MODULES; do patterns+=("./lib/modules/$KVER/kernel/$m.ko*"); done
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$WORK/kernel" --wildcards "${patterns[@]}"
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# Common initramfs skeleton: busybox, the udhcpc hook, shell helpers, modules in load order.
skeleton() {
  local r=$1
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,etc,lib/modules,usr/share/udhcpc}
  cp "$BUSYBOX" "$r/bin/busybox"
  install -m 755 "$HERE/common/udhcpc.sh" "$r/usr/share/udhcpc/default.script"
  install -m 644 "$HERE/common/lib.sh" "$r/lib/cocoon-e2e.sh"
  : > "$r/lib/modules/order"
  for m in $MODULES; do
    local f name
    f=$(ls "$WORK/kernel/lib/modules/$KVER/kernel/$m".ko* | head -1)
    name=$(basename "$m")
    case "$f" in
      *.xz) xz -dc "$f" > "$r/lib/modules/$name.ko" ;;
      *.zst) zstd -qdc "$f" > "$r/lib/modules/$name.ko" ;;
      *) cp "$f" "$r/lib/modules/$name.ko" ;;
    esac
    echo "$name" >> "$r/lib/modules/order"
  done
}
pack() { (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible) | gzip -6 -n; }

# --- first-stage environment -------------------------------------------------------------------
FS="$WORK/first-stage"
skeleton "$FS"
install -m 755 "$HERE/first-stage/init" "$FS/init"
if [ -f "$BOOTSTRAP" ]; then
  mkdir -p "$FS/etc/cocoon"
  install -m 755 "$BOOTSTRAP" "$FS/etc/cocoon/bootstrap.sh"
fi
if [ "$WITH_NODE" = 1 ]; then
  # The agent bundle needs node; its shared libraries come along at the paths ldd names.
  cp "$(readlink -f "$NODE_BIN")" "$FS/usr/bin/node"
  ldd "$NODE_BIN" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
    mkdir -p "$FS$(dirname "$lib")"
    cp -L "$lib" "$FS$lib"
  done
  if [ ! -e "$FS/lib64/ld-linux-x86-64.so.2" ]; then
    mkdir -p "$FS/lib64"
    cp -L /lib64/ld-linux-x86-64.so.2 "$FS/lib64/"
  fi
fi
pack "$FS" > "$WORK/first-stage.cpio.gz"

# --- installed OS: initramfs + bootable vfat disk --------------------------------------------
OS="$WORK/os"
skeleton "$OS"
install -m 755 "$HERE/os/init" "$OS/init"
install -m 644 "$HERE/os/os-release" "$OS/etc/os-release"
[ -f "$REPORTER" ] && install -D -m 755 "$REPORTER" "$OS/usr/local/sbin/cocoon-report-boot-complete"
pack "$OS" > "$WORK/os-initrd.gz"
DISK="$WORK/os-disk.img"
truncate -s 48M "$DISK"
mkfs.vfat -n COCOONE2E "$DISK" >/dev/null
syslinux --install "$DISK"
mcopy -i "$DISK" "$WORK/vmlinuz" ::/vmlinuz
mcopy -i "$DISK" "$WORK/os-initrd.gz" ::/initrd.gz
mcopy -i "$DISK" "$HERE/os/syslinux.cfg" ::/syslinux.cfg
bzip2 -9 -k "$DISK"

# --- inventory ------------------------------------------------------------------------------------
entry() { printf '    "%s": { "size": %s, "sha256": "%s" }' "$1" "$(stat -c %s "$WORK/$1")" "$(sha256sum "$WORK/$1" | cut -d' ' -f1)"; }
{
  echo '{'
  echo "  \"key\": \"$KEY\","
  echo "  \"kernelPackage\": \"$KPKG\","
  echo "  \"withNode\": $([ "$WITH_NODE" = 1 ] && echo true || echo false),"
  echo '  "files": {'
  entry vmlinuz; echo ','
  entry first-stage.cpio.gz; echo ','
  entry os-disk.img; echo ','
  entry os-disk.img.bz2; echo
  echo '  }'
  echo '}'
} > "$WORK/assets.json.tmp"
mkdir -p "$OUT"
mv "$WORK/vmlinuz" "$WORK/first-stage.cpio.gz" "$WORK/os-disk.img" "$WORK/os-disk.img.bz2" "$OUT/"
mv "$WORK/assets.json.tmp" "$OUT/assets.json"
ln -sfn "assets-$KEY" "$CACHE/current"
# Earlier builds are superseded (another script or package version); the downloads stay.
for old in "$CACHE"/assets-*; do [ "$old" = "$OUT" ] || rm -rf "$old"; done
log "built $OUT"
ls -la "$OUT" >&2
echo "$OUT"
