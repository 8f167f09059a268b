#!/bin/sh
# A fleet of Linux network namespaces for fleetcast tests and benchmarks: one manager and N
# receivers, each with one veth port on a bridge in a hub namespace (IPv6 ULA fd00:fc::/64,
# multicast snooping off, DAD off). Loss is made by nftables in the hub's bridge family: one
# forward rule per receiver port (this kernel has no sch_netem).
#
#   fleet.sh up PREFIX N          create PREFIXhub, PREFIXmgr, PREFIXr1..PREFIXrN
#   fleet.sh loss PREFIX I PCT    independent random loss of PCT % towards receiver I
#   fleet.sh burst PREFIX I N B   drop B consecutive packets of every N towards receiver I
#   fleet.sh limit PREFIX I MBPS  drop what exceeds MBPS Mbit/s towards receiver I (a slow link)
#   fleet.sh clear PREFIX         remove every loss rule
#   fleet.sh down PREFIX          delete every namespace of the fleet (idempotent)
#   fleet.sh check                exit 0 when namespaces, veth, bridges and nftables work here
#
# Addresses: manager fd00:fc::1, receiver I fd00:fc::I+100 (hex), interface eth0 everywhere.
# IPv4 (only for IPv4-only peers in benchmarks, e.g. udpcast): 10.250.0.1 and 10.250.0.0/16 + I+100.
set -eu

cmd=${1:-}
[ -n "$cmd" ] || { sed -n '2,16p' "$0"; exit 2; }
shift

ns_exec() { ns=$1; shift; ip netns exec "$ns" "$@"; }

addr_of() { printf 'fd00:fc::%x' "$((100 + $1))"; }

case $cmd in
check)
  [ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 1; }
  command -v nft >/dev/null || { echo "needs nft (nftables)"; exit 1; }
  probe=fcprobe$$
  if ! ip netns add "$probe" 2>/dev/null; then echo "cannot create network namespaces"; exit 1; fi
  ok=1
  ip -n "$probe" link add br0 type bridge 2>/dev/null || ok=0
  ip -n "$probe" link add v0 type veth peer name v1 2>/dev/null || ok=0
  ns_exec "$probe" nft add table bridge probe 2>/dev/null || ok=0
  ip netns del "$probe"
  [ "$ok" -eq 1 ] || { echo "bridge, veth or nftables bridge family unavailable"; exit 1; }
  ;;
up)
  prefix=$1 n=$2
  hub=${prefix}hub
  ip netns add "$hub"
  ip -n "$hub" link set lo up
  ip -n "$hub" link add br0 type bridge mcast_snooping 0
  ip -n "$hub" link set br0 up
  ns_exec "$hub" nft -f - <<NFT
table bridge fleet {
  chain forward {
    type filter hook forward priority 0; policy accept;
  }
}
NFT
  i=0
  while [ "$i" -le "$n" ]; do
    if [ "$i" -eq 0 ]; then ns=${prefix}mgr port=m0 addr=fd00:fc::1 addr4=10.250.0.1; else
      ns=${prefix}r$i port=p$i addr=$(addr_of "$i")
      addr4=10.250.$(((100 + i) / 256)).$(((100 + i) % 256)); fi
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$hub" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$hub" link set "$port" master br0 up
    ns_exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
    ip -n "$ns" addr add "$addr/64" dev eth0 nodad
    ip -n "$ns" addr add "$addr4/16" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add 224.0.0.0/4 dev eth0 2>/dev/null || true
    # Multicast leaves through eth0 (no default route exists in the namespace).
    ip -n "$ns" -6 route add ff00::/8 dev eth0 table local 2>/dev/null || true
    i=$((i + 1))
  done
  ;;
loss)
  prefix=$1 i=$2 pct=$3
  threshold=$(awk -v p="$pct" 'BEGIN { printf "%d", p * 10000 }')
  ns_exec "${prefix}hub" nft add rule bridge fleet forward oifname "p$i" \
    numgen random mod 1000000 lt "$threshold" counter drop
  ;;
burst)
  prefix=$1 i=$2 every=$3 length=$4
  ns_exec "${prefix}hub" nft add rule bridge fleet forward oifname "p$i" \
    numgen inc mod "$every" lt "$length" counter drop
  ;;
limit)
  prefix=$1 i=$2 mbps=$3
  # nftables' byte limit is a token bucket: the burst is 10 ms of the rate (a switch port's
  # buffer), beyond which whatever exceeds the rate is dropped.
  ns_exec "${prefix}hub" nft add rule bridge fleet forward oifname "p$i" \
    limit rate over "$((mbps * 125))" kbytes/second burst "$((mbps * 1250 + 3000))" bytes counter drop
  ;;
clear)
  ns_exec "${1}hub" nft flush chain bridge fleet forward
  ;;
down)
  prefix=$1
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${prefix}(hub|mgr|r[0-9]+)$" || true); do
    # Processes still inside (a daemon that forked away from the PID its test kept) were all
    # started by the test or benchmark that made the namespace.
    for p in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  ;;
*)
  echo "fleet.sh: unknown command '$cmd'" >&2
  exit 2
  ;;
esac
