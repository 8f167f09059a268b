#!/bin/sh
# Sites behind routers, in Linux network namespaces: the education center's LAN (the manager,
# and each school's router on its WAN side) and one LAN per school behind its own IPv6 router.
#
#   sites.sh up PREFIX S N      PREFIXc (center bridge), PREFIXmgr, and for each school s in 1..S
#                               a router PREFIXg<s>, a bridge PREFIXh<s> and hosts
#                               PREFIXs<s>r1..PREFIXs<s>rN; unicast is routed, multicast stops
#                               at the routers (the center's bridge keeps it off their ports)
#   sites.sh host PREFIX S I    one more host, PREFIXs<S>r<I>, on school S's LAN
#   sites.sh mcast PREFIX S     the WAN carries the groups to router s, which forwards their
#                               frames (site scope and wider, any-source and source-specific)
#                               onto its school's LAN
#   sites.sh wanloss PREFIX S PCT  random loss of PCT % of the UDP datagrams entering school s
#                               from the WAN (what its router receives, unicast and multicast)
#   sites.sh lanloss PREFIX S I PCT  random loss of PCT % towards host I of school s
#   sites.sh wanbytes PREFIX S  bytes router s received from the WAN so far
#   sites.sh down PREFIX        delete every namespace of the sites (idempotent)
#
# The kernel here has no multicast routing (CONFIG_IPV6_MROUTE) and no netem: a router "routes"
# multicast with an nftables netdev ingress rule that dups the groups' frames onto its LAN, and
# loss is an nftables numgen rule. No delay is added (every hop is a veth).
#
# Addresses: manager fd00:fc::1; router s fd00:fc::<200+s> (WAN) and fd00:fc:<s>::1 (LAN);
# host I of school s fd00:fc:<s>::<100+I>. Interface eth0 everywhere except in the routers
# (wan, lan).
set -eu

cmd=${1:-}
[ -n "$cmd" ] || { sed -n '2,21p' "$0"; exit 2; }
shift

ns_exec() { ns=$1; shift; ip netns exec "$ns" "$@"; }
hex() { printf '%x' "$1"; }

# attach NS HUB PORT ADDR [GATEWAY]: NS's eth0 as PORT of HUB's bridge, with ADDR/64.
attach() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$2" link add "$3" type veth peer name eth0 netns "$1"
  ip -n "$2" link set "$3" master br0 up
  ns_exec "$1" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
  ip -n "$1" addr add "$4/64" dev eth0 nodad
  ip -n "$1" link set eth0 up
  # Multicast leaves through eth0 whatever the routes say.
  ip -n "$1" -6 route add ff00::/8 dev eth0 table local 2>/dev/null || true
  if [ -n "${5:-}" ]; then ip -n "$1" -6 route add default via "$5" dev eth0; fi
}

hub() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$1" link add br0 type bridge mcast_snooping 0
  ip -n "$1" link set br0 up
  ns_exec "$1" nft -f - <<NFT
table bridge site {
  chain forward {
    type filter hook forward priority 0; policy accept;
  }
}
NFT
}

case $cmd in
up)
  prefix=$1 sites=$2 n=$3
  hub "${prefix}c"
  # The WAN carries no multicast unless `mcast` says so: the center's groups stop at the
  # routers' WAN ports (neighbour discovery, ff02::/16, passes).
  ns_exec "${prefix}c" nft -f - <<NFT
table bridge site {
  set wan_no_mcast { type ifname; }
  chain forward {
    oifname @wan_no_mcast ip6 daddr ff00::/8 ip6 daddr != ff02::/16 counter drop
  }
}
NFT
  attach "${prefix}mgr" "${prefix}c" m0 fd00:fc::1
  s=1
  while [ "$s" -le "$sites" ]; do
    router=${prefix}g$s
    ip netns add "$router"
    ip -n "$router" link set lo up
    ns_exec "$router" sysctl -qw net.ipv6.conf.all.forwarding=1
    ip -n "${prefix}c" link add "w$s" type veth peer name wan netns "$router"
    ip -n "${prefix}c" link set "w$s" master br0 up
    ns_exec "${prefix}c" nft add element bridge site wan_no_mcast "{ w$s }"
    hub "${prefix}h$s"
    ip -n "${prefix}h$s" link add g0 type veth peer name lan netns "$router"
    ip -n "${prefix}h$s" link set g0 master br0 up
    for dev in wan lan; do
      ns_exec "$router" sysctl -qw "net.ipv6.conf.$dev.accept_dad=0"
      ip -n "$router" link set "$dev" up
    done
    ip -n "$router" addr add "fd00:fc::$(hex $((200 + s)))/64" dev wan nodad
    ip -n "$router" addr add "fd00:fc:$(hex "$s")::1/64" dev lan nodad
    ns_exec "$router" nft -f - <<NFT
table netdev site {
  chain wan_in {
    type filter hook ingress device wan priority 0; policy accept;
  }
}
NFT
    ip -n "${prefix}mgr" -6 route add "fd00:fc:$(hex "$s")::/64" via "fd00:fc::$(hex $((200 + s)))"
    i=1
    while [ "$i" -le "$n" ]; do
      attach "${prefix}s${s}r$i" "${prefix}h$s" "p$i" "fd00:fc:$(hex "$s")::$(hex $((100 + i)))" \
        "fd00:fc:$(hex "$s")::1"
      i=$((i + 1))
    done
    s=$((s + 1))
  done
  ;;
host)
  prefix=$1 s=$2 i=$3
  attach "${prefix}s${s}r$i" "${prefix}h$s" "p$i" "fd00:fc:$(hex "$s")::$(hex $((100 + i)))" \
    "fd00:fc:$(hex "$s")::1"
  ;;
mcast)
  prefix=$1 s=$2
  ns_exec "${prefix}c" nft delete element bridge site wan_no_mcast "{ w$s }"
  # Site-local (5), organization-local (8) and global (e) scopes, any-source (ff0x, ff1x) and
  # source-specific (ff3x); never link-local (ff02: neighbour discovery stays on its link).
  ns_exec "${prefix}g$s" nft add rule netdev site wan_in ip6 daddr '{ ff05::/16, ff15::/16,
    ff35::/16, ff08::/16, ff18::/16, ff38::/16, ff0e::/16, ff1e::/16, ff3e::/16 }' dup to lan
  ;;
wanloss)
  prefix=$1 s=$2 pct=$3
  threshold=$(awk -v p="$pct" 'BEGIN { printf "%d", p * 10000 }')
  # Inserted first: a lost frame is neither routed nor dup'ed.
  ns_exec "${prefix}g$s" nft insert rule netdev site wan_in meta l4proto udp \
    numgen random mod 1000000 lt "$threshold" counter drop
  ;;
lanloss)
  prefix=$1 s=$2 i=$3 pct=$4
  threshold=$(awk -v p="$pct" 'BEGIN { printf "%d", p * 10000 }')
  ns_exec "${prefix}h$s" nft add rule bridge site forward oifname "p$i" \
    numgen random mod 1000000 lt "$threshold" counter drop
  ;;
wanbytes)
  ns_exec "${1}g$2" cat /sys/class/net/wan/statistics/rx_bytes
  ;;
down)
  prefix=$1
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${prefix}(c|mgr|g[0-9]+|h[0-9]+|s[0-9]+r[0-9]+)$" || true); do
    # Processes still inside were all started by the test or benchmark that made the namespace.
    for p in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  ;;
*)
  echo "sites.sh: unknown command '$cmd'" >&2
  exit 2
  ;;
esac
