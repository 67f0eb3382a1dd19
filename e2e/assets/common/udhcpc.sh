#!/bin/sh
# udhcpc hook shared by both test initramfs images: configure the lease and remember what the
# DHCP server told us (its address is where the installed OS finds the Cocoon boot port).
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    {
      echo "DHCP_IP=$ip"
      echo "DHCP_SERVERID=$serverid"
      echo "DHCP_SIADDR=$siaddr"
      echo "DHCP_INTERFACE=$interface"
    } > /run/dhcp.env
    echo "cocoon-e2e: lease $ip/${mask:-24} on $interface from $serverid"
    ;;
esac
exit 0
