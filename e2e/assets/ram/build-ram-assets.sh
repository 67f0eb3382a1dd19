#!/usr/bin/env bash
# Builds the e2e RAM-boot assets (issue 9) next to the main e2e assets, reusing their kernel,
# busybox, modules and helpers (taken out of first-stage.cpio.gz, so nothing is downloaded):
#   ram-initrd.cpio.gz    initramfs: DHCP, fetch cocoon.rootfs=, unpack into tmpfs, switch_root
#   ram-rootfs.cpio.gz    the root filesystem archive: busybox + /sbin/init reporting boot-complete
#   rescue-initrd.cpio.gz the rescue image: prints a marker and powers off
# Usage: build-ram-assets.sh MAIN_ASSETS_DIR  (the directory build-assets.sh printed). Cached in
# MAIN_ASSETS_DIR/ram-<key>/ by the hash of this directory; the last stdout line is that dir.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MAIN=$(cd "${1:?usage: build-ram-assets.sh MAIN_ASSETS_DIR}" && pwd)
[ -f "$MAIN/first-stage.cpio.gz" ] || { echo "build-ram-assets: $MAIN has no first-stage.cpio.gz" >&2; exit 1; }
KEY=$( { (cd "$HERE" && find . -type f -print0 | sort -z | xargs -0 sha256sum); sha256sum < "$MAIN/first-stage.cpio.gz"; } | sha256sum | cut -c1-16)
OUT="$MAIN/ram-$KEY"
if [ -f "$OUT/ram-assets.json" ]; then echo "$OUT"; exit 0; fi
WORK=$(mktemp -d "$MAIN/.ram-build-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# The shared skeleton (busybox, modules in load order, udhcpc hook, shell helpers) without node.
mkdir "$WORK/base"
(cd "$WORK/base" && gzip -dc "$MAIN/first-stage.cpio.gz" | cpio -idm --quiet 'bin/busybox' 'lib/modules' 'lib/modules/*' 'usr/share/udhcpc' 'usr/share/udhcpc/*' 'lib/cocoon-e2e.sh')
skeleton() {
  mkdir -p "$1"
  cp -a "$WORK/base/." "$1/"
  mkdir -p "$1"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,etc,newroot}
}
pack() { (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible) | gzip -6 -n; }
skeleton "$WORK/initrd"
install -m 755 "$HERE/init" "$WORK/initrd/init"
pack "$WORK/initrd" > "$WORK/ram-initrd.cpio.gz"
skeleton "$WORK/rootfs"
rm -rf "$WORK/rootfs/lib/modules" "$WORK/rootfs/newroot"
install -m 755 "$HERE/rootfs-init" "$WORK/rootfs/sbin/init"
install -m 644 "$HERE/os-release" "$WORK/rootfs/etc/os-release"
pack "$WORK/rootfs" > "$WORK/ram-rootfs.cpio.gz"
skeleton "$WORK/rescue"
install -m 755 "$HERE/rescue-init" "$WORK/rescue/init"
pack "$WORK/rescue" > "$WORK/rescue-initrd.cpio.gz"
mkdir -p "$OUT"
for f in ram-initrd.cpio.gz ram-rootfs.cpio.gz rescue-initrd.cpio.gz; do mv "$WORK/$f" "$OUT/"; done
echo "{\"key\":\"$KEY\"}" > "$OUT/ram-assets.json"
echo "build-ram-assets: built $OUT" >&2
echo "$OUT"
