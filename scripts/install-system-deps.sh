#!/usr/bin/env bash
# Debian packages Cocoon's tests, lab and runtime use. Needs root; safe to run again.
#   dnsmasq-base      DHCP/PXE/TFTP (no service is installed or started on the host)
#   ipxe              undionly.kpxe / ipxe.efi for the TFTP root
#   qemu-system-x86   guests for the end-to-end lab (TCG), ovmf for UEFI guests
#   busybox-static, cpio, syslinux, mtools, dosfstools   test assets (initramfs, bootable disk)
#   iproute2          network namespaces for every test that runs dnsmasq
#   openssl           throw-away CA and certificates for the TLS tests of cocoonctl
#   docker-compose    `docker-compose config` validates docker-compose.yml without a Docker engine
#   systemd           `systemd-analyze verify` checks deploy/cocoon.service (nothing is started)
#   libcap2-bin       setcap: the deployment test gives a dnsmasq copy the image's file capabilities
#   gpg, gpgv, gpg-agent  Flatcar release signature checks (images fetch) and their test key
set -euo pipefail
PKGS=(dnsmasq-base ipxe qemu-system-x86 ovmf busybox-static cpio syslinux syslinux-common mtools
      dosfstools iproute2 bzip2 xz-utils git ca-certificates openssl docker-compose systemd libcap2-bin
      gpg gpgv gpg-agent)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "system packages: all present"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run this script as root (or: sudo apt-get install --no-install-recommends ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
