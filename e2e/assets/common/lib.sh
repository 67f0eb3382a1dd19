# Shell helpers shared by the /init of both test initramfs images (sourced, busybox ash).

# Mounts the kernel filesystems and sends all output to the serial console.
early_setup() {
  /bin/busybox mkdir -p /proc /sys /dev /run /tmp /bin /sbin /usr/bin /usr/sbin
  /bin/busybox --install -s
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  mount -t tmpfs tmpfs /run
  exec >/dev/console 2>&1 </dev/console
  export PATH=/usr/sbin:/usr/bin:/sbin:/bin
}

# Debian builds the virtio and e1000 drivers as modules and its .deb has no modules.dep:
# load a fixed list in dependency order (the list is written by build-assets.sh).
load_modules() {
  while read -r m; do
    [ -f "/lib/modules/$m.ko" ] && insmod "/lib/modules/$m.ko" 2>/dev/null
  done < /lib/modules/order
}

# Value of a `key=value` kernel argument, empty when absent.
cmdline_arg() {
  for a in $(cat /proc/cmdline); do
    case "$a" in "$1="*) echo "${a#*=}"; return 0 ;; esac
  done
  return 1
}

# Brings up the first NIC that appears and leases an address; exports IFACE.
network_up() {
  IFACE=""
  i=0
  while [ $i -lt 100 ] && [ -z "$IFACE" ]; do
    for n in /sys/class/net/*; do
      n=${n##*/}
      [ "$n" = lo ] || { IFACE=$n; break; }
    done
    [ -n "$IFACE" ] || sleep 0.1
    i=$((i + 1))
  done
  [ -n "$IFACE" ] || return 1
  ip link set lo up
  ip link set "$IFACE" up
  udhcpc -i "$IFACE" -s /usr/share/udhcpc/default.script -n -q -t 10 -T 2 -V cocoon-e2e || return 1
  . /run/dhcp.env
  export IFACE
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# Stops the machine; QEMU exits since the harness runs it without -no-shutdown.
halt_machine() {
  sync
  poweroff -f
}
