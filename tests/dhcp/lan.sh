# shellcheck shell=sh
# Sourced by the DHCP tests and scripts/demo (after tests/wait.sh): client LANs made of network
# namespaces, and what the DHCP servers on them need.
#   lan_plug BRIDGE_NS NS IFNAME [ADDRESS]  a veth from NS (named IFNAME there, with ADDRESS) to
#                                           br0 of BRIDGE_NS; returns once it has its carrier
#                                           (servers open their sockets at start)
#   bound_script FILE                       a busybox udhcpc script printing "ADDRESS SERVER"
#                                           when bound
#   render FILE                             FILE with each {{ key }} replaced by the values on
#                                           standard input, one key=value per line
#   failover_state NS                       the failover peer "pair" of the dhcpd in NS (OMAPI
#                                           on 7911): "LOCAL PARTNER" state numbers, 2 = normal

lan_plug() {
  ip -n "$1" link add "l-$2" type veth peer name "$3" netns "$2" &&
    ip -n "$1" link set "l-$2" master br0 up &&
    { [ -z "${4:-}" ] || ip -n "$2" addr add "$4" dev "$3"; } &&
    ip -n "$2" link set lo up &&
    ip -n "$2" link set "$3" up &&
    wait_until 50 sh -c "ip -n '$2' link show '$3' | grep -q LOWER_UP"
}

bound_script() {
  cat >"$1" <<'SH'
#!/bin/sh
[ "$1" = bound ] && echo "$ip $serverid"
exit 0
SH
  chmod +x "$1"
}

render() {
  sed "$(sed 's/[|&\\]/\\&/g; s/^\([^=]*\)=\(.*\)$/s|{{ \1 }}|\2|g/')" "$1"
}

failover_state() {
  printf 'server 127.0.0.1\nport 7911\nconnect\nnew failover-state\nset name = "pair"\nopen\n' |
    ip netns exec "$1" omshell 2>/dev/null |
    awk '$1 == "local-state" { l = $3 } $1 == "partner-state" { p = $3 } END { sub(/.*:/, "", l); sub(/.*:/, "", p); print l + 0, p + 0 }'
}
