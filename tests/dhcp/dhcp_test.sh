#!/bin/sh
# DHCP server upgrades pushed over real IPv6 multicast to a receiver in a network namespace,
# with a real server (ISC dhcpd -4 or -6, Kea DHCPv4 or DHCPv6) and a real DHCP client (busybox
# udhcpc; DHCPv6: ISC dhclient -6) on a veth link of that host.
#
#   dhcp_test.sh SERVER MODE SENDER RECEIVER        SERVER: dhcpd | kea4 | dhcpd6 | kea6
#
# DHCPv6 (dhcpd6, kea6): the pools are fd77::100-fd77::150 (old) and fd77::200-fd77::220 (new);
# a client is a DUID (DUID-LL of a made-up MAC, written into dhclient's lease file), so
# clients differ without touching the link; the host's probe releases its lease.
#
# MODE: upgrade     old pool .100-.150 -> new pool .200-.220: a client leased from the old pool
#                   before; afterwards a new client gets .200+, the old lease is still in the
#                   lease database, the FIN says applied. dhcpd: keep-old-ranges = yes, a retired
#                   pool is written. kea4: config-set + config-write over the control socket; a
#                   config-reload afterwards still serves the new pool (nothing reverts)
#       refuse-drop (dhcpd) without keep-old-ranges: rejected (dhcpd would drop the lease)
#       invalid     a config the server's own validator rejects (dhcpd: a missing ';', kea4: a
#                   pool outside its subnet): rejected with the validator's message, nothing changed
#       no-serve    (dhcpd) passes dhcpd -t but cannot start (no subnet for the interface):
#                   rolled back by itself; the old pool serves again
#       no-offer    a config that runs but offers no address (the probe in verify): rolled back
#       stopped     (kea4) the server is not running when the bundle arrives: check validates with
#                   kea-dhcp4 -t alone, apply installs the file atomically and starts the server
#       dotdot, absolute, link-out
#                   (dhcpd) a bundle signed by the trusted key whose archive holds a '..' entry,
#                   an absolute entry, or a link to the live config: rejected with the reason,
#                   nothing written outside staging, nothing changed
#       replay      (dhcpd) version 2 applied, then version 1 pushed: rejected, nothing changed;
#                   version 2 pushed again: "already applied", nothing changed
#       tampered    (dhcpd) a byte of a signed bundle changed: push refuses to send it
#       kill-PHASE  PHASE = check | backup | apply | verify: the receiver is SIGKILLed at the end
#                   of that phase (test-only wrapper script), then restarted: it finishes (check,
#                   backup) or rolls back (apply, verify); the server serves; the FIN says which
#       kill-rollback   a bundle that fails verify (as no-offer); SIGKILL at the end of its
#                   rollback, restart: the rollback runs again (idempotent), the old pool serves
#       fsize-PHASE PHASE = check | backup | apply | verify | rollback: that phase runs under a
#                   2 KiB file-size limit (a full disk; the lease database holds 40 more leases,
#                   well over 2 KiB, in these modes only); whatever the FIN says, the lease database never holds fewer
#                   active leases than before (rollback: a bundle that fails verify)
#       lease-rollback  (dhcpd) a bundle that keeps the pool; the receiver is SIGKILLed after
#                   verify and a client leases from the new server before the restart rolls
#                   back: that lease is still active in the lease file after the rollback
#       comment-paths   (kea4) a candidate whose control socket and lease file point elsewhere,
#                   with a comment naming the live paths: rejected, nothing changed
#       secret      (dhcpd, kea4) an OMAPI key / HA password added to a world-readable
#                   configuration, pushed with --dry-run: the FIN, the receiver's journal and log,
#                   the manager's store and report show digests and line counts, never the secret;
#                   report and store are 0600
#       replay-restart  (dhcpd) a bundle that rolls back (as no-offer), pushed twice, then the
#                   receiver restarted three times: it applied once per session, never again
#                   (two check phases in its log, two attempts in its journal)
#       harden-stale-pid  (dhcpd) the server is stopped and its pid file names another process
#                   (the pid reused): the upgrade leaves that process alone and starts dhcpd
# Exits 77 (CTest: skipped) where namespaces, the server or udhcpc are missing. Cleans up on any
# exit.
set -eu

server=$1 mode=$2 sender=$3 receiver=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
fleet=$top/tests/fleet/fleet.sh
# shellcheck source=tests/wait.sh
. "$top/tests/wait.sh"
gone() { ! kill -0 "$1" 2>/dev/null; }
# shellcheck source=tests/dhcp/needs.sh
. "$here/needs.sh"
needs_namespaces "$fleet"
case $server in
dhcpd) tools="dhcpd busybox" ;;
kea4) tools="kea-dhcp4 socat busybox" ;;
dhcpd6) tools="dhcpd dhclient" ;;
kea6) tools="kea-dhcp6 socat dhclient jq" ;;
*) echo "unknown server $server"; exit 2 ;;
esac
family=4
case $server in *6) family=6 ;; esac
# shellcheck disable=SC2086  # a list of tool names
needs_tools $tools

prefix=fd$$
work=$(mktemp -d)
srv=${prefix}r1 cli=${prefix}c
pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${pidfile:-}" ] && [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
  wait 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  "$fleet" down "$prefix"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() {
  echo "FAIL: $*"
  for f in "$work"/*.log; do echo "--- $f"; tail -n 25 "$f"; done
  exit 1
}

# --- the fleet: manager + one DHCP server host, and a client namespace on the server's veth --
"$fleet" up "$prefix" 1
ip netns add "$cli"
ip link add "${prefix}s" type veth peer name "${prefix}v"
ip link set "${prefix}s" netns "$srv"
ip link set "${prefix}v" netns "$cli"
ip -n "$srv" addr add 192.168.77.1/24 dev "${prefix}s"
ip -n "$srv" addr add fd77::1/64 dev "${prefix}s" nodad
# No duplicate address detection on the test link: a tentative link-local address cannot send.
ip netns exec "$srv" sysctl -qw "net.ipv6.conf.${prefix}s.accept_dad=0"
ip netns exec "$cli" sysctl -qw "net.ipv6.conf.${prefix}v.accept_dad=0"
ip -n "$srv" link set "${prefix}s" up
ip -n "$cli" link set lo up
ip -n "$cli" link set "${prefix}v" up

cat >"$work/bound.sh" <<'SH'
#!/bin/sh
[ "$1" = bound ] && echo "$ip"
exit 0
SH
chmod +x "$work/bound.sh"
# DHCPv6: dhclient -6 as client ID (a MAC, the DUID-LL it makes); prints the bound address and
# stops (the probe: releases) its dhclient. dhclient scrubs the environment of its script, which
# writes beside itself.
cat >"$work/bound6.sh" <<'SH'
#!/bin/sh
[ "$reason" = BOUND6 ] && echo "${new_ip6_address:-${new_ip6_prefix:-}}" >>"$0.out"
exit 0
SH
chmod +x "$work/bound6.sh"
printf 'timeout 10;\nretry 1;\n' >"$work/dhclient6.conf"
cat >"$work/lease6.sh" <<'SH'
#!/bin/sh
# lease6.sh WORK NAMESPACE INTERFACE MAC [release|-] [pd]: one DHCPv6 client, DUID-LL of MAC;
# pd: asks for a delegated prefix (prints it) instead of an address.
set -u
work=$1 ns=$2 iface=$3 mac=$4 pd=
[ "${6:-}" = pd ] && pd=-P
id=$(echo "$mac" | tr -d :)
lf=$work/dhclient6-$id.leases pf=$work/dhclient6-$id.pid
if [ ! -f "$lf" ]; then
  # shellcheck disable=SC2046  # one argument per byte
  duid=$(printf '\\%03o' 0 3 0 1 $(echo "$mac" | tr ':' ' ' | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g'))
  printf 'default-duid "%s";\n' "$duid" >"$lf"
fi
: >"$work/bound6.sh.out"
dhc() { ip netns exec "$ns" dhclient -6 $pd "$@" -cf "$work/dhclient6.conf" -lf "$lf" -pf "$pf" -sf "$work/bound6.sh" "$iface" >>"$work/client.log" 2>&1; }
dhc -1
rc=$?
tail -n 1 "$work/bound6.sh.out"
if [ "${5:-}" = release ]; then
  dhc -r
elif [ -f "$pf" ]; then
  kill "$(cat "$pf")" 2>/dev/null
fi
exit $rc
SH
chmod +x "$work/lease6.sh"
# lease MAC: a real DHCP exchange from the client namespace; prints the bound address.
lease() {
  if [ "$family" = 6 ]; then
    "$work/lease6.sh" "$work" "$cli" "${prefix}v" "$1" 2>>"$work/client.log" | tail -n 1
    return 0
  fi
  ip netns exec "$cli" sh -c "ip link set dev ${prefix}v address $1 &&
    busybox udhcpc -f -q -n -t 3 -T 2 -i ${prefix}v -s $work/bound.sh" 2>>"$work/client.log" | tail -n 1
}

# The server, serving the old pool .100-.150; conf, leases, pidfile, start: its files and command.
case $server in
dhcpd)
  conf=$work/dhcpd.conf leases=$work/dhcpd.leases pidfile=$work/dhcpd.pid
  old_pool="range 192.168.77.100 192.168.77.150;"
  cat >"$conf" <<EOF2
default-lease-time 600;
max-lease-time 7200;
authoritative;
subnet 192.168.77.0 netmask 255.255.255.0 {
  $old_pool
}
EOF2
  : >"$leases"
  # fsize-*: 40 more active leases (.110-.149) than the test's clients make (~7 KB).
  i=110
  [ "${mode#fsize-}" != "$mode" ] || i=150
  while [ "$i" -lt 150 ]; do
    printf 'lease 192.168.77.%d {\n  starts 4 2026/11/26 00:00:00;\n  ends 4 2036/11/27 00:00:00;\n  binding state active;\n  next binding state free;\n  hardware ethernet 02:00:00:aa:00:%02x;\n}\n' \
      "$i" "$i" >>"$leases"
    i=$((i + 1))
  done
  start="setsid dhcpd -4 -q -cf $conf -lf $leases -pf $pidfile ${prefix}s"
  ip netns exec "$srv" sh -c "$start" || fail "dhcpd does not start"
  ;;
dhcpd6)
  conf=$work/dhcpd6.conf leases=$work/dhcpd6.leases pidfile=$work/dhcpd6.pid
  old_pool="range6 fd77::100 fd77::150;"
  old_prefixes="# no prefix delegation"
  [ "$mode" = upgrade-pd ] && old_prefixes="prefix6 fd77:1:: fd77:1:ff:: /64;"
  cat >"$conf" <<EOF2
default-lease-time 600;
max-lease-time 7200;
subnet6 fd77::/64 {
  $old_pool
  $old_prefixes
}
EOF2
  : >"$leases"
  start="setsid dhcpd -6 -q -cf $conf -lf $leases -pf $pidfile ${prefix}s"
  ip netns exec "$srv" sh -c "$start" || fail "dhcpd -6 does not start"
  ;;
kea6)
  conf=$work/kea6.json leases=$work/leases6.csv pidfile=$work/kea6.kea-dhcp6.pid socket=$work/kea6.sock
  old_pool='"pool": "fd77::100 - fd77::150"'
  pd_pools=""
  [ "$mode" = upgrade-pd ] && pd_pools=', "pd-pools": [ { "prefix": "fd77:1::", "prefix-len": 48, "delegated-len": 64 } ]'
  cat >"$conf" <<EOF2
// the school's DHCPv6 server (test)
{ "Dhcp6": {
  "data-directory": "$work",
  "interfaces-config": { "interfaces": [ "${prefix}s" ] },
  "control-socket": { "socket-type": "unix", "socket-name": "$socket" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$leases", "lfc-interval": 0 },
  "preferred-lifetime": 300, "valid-lifetime": 600,
  "subnet6": [ { "id": 1, "subnet": "fd77::/64", "interface": "${prefix}s", "pools": [ { $old_pool } ]$pd_pools } ],
  "loggers": [ { "name": "kea-dhcp6", "output_options": [ { "output": "stdout" } ], "severity": "INFO" } ]
} }
EOF2
  start="KEA_PIDFILE_DIR=$work KEA_LOCKFILE_DIR=$work setsid kea-dhcp6 -c $conf >>$work/kea6.log 2>&1 &"
  ip netns exec "$srv" sh -c "$start"
  ;;
kea4)
  conf=$work/kea4.json leases=$work/leases4.csv pidfile=$work/kea4.kea-dhcp4.pid socket=$work/kea4.sock
  old_pool='"pool": "192.168.77.100 - 192.168.77.150"'
  cat >"$conf" <<EOF2
// the school's DHCPv4 server (test)
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "${prefix}s" ], "dhcp-socket-type": "raw" },
  "control-socket": { "socket-type": "unix", "socket-name": "$socket" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$leases", "lfc-interval": 0 },
  "valid-lifetime": 600,
  "subnet4": [ { "id": 1, "subnet": "192.168.77.0/24", "pools": [ { $old_pool } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" } ]
} }
EOF2
  # fsize-*: 40 more active leases (.110-.149) than the test's clients make (~3 KB).
  expire=$(($(date +%s) + 86000))
  echo 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context' >"$leases"
  i=110
  [ "${mode#fsize-}" != "$mode" ] || i=150
  while [ "$i" -lt 150 ]; do
    printf '192.168.77.%d,02:00:00:aa:00:%02x,,86400,%d,1,0,0,,0,\n' "$i" "$i" "$expire" >>"$leases"
    i=$((i + 1))
  done
  start="KEA_PIDFILE_DIR=$work KEA_LOCKFILE_DIR=$work setsid kea-dhcp4 -c $conf >>$work/kea4.log 2>&1 &"
  ip netns exec "$srv" sh -c "$start"
  ;;
esac
kea_ready() {
  echo '{ "command": "status-get" }' | socat -t 5 - "UNIX-CONNECT:$socket" 2>/dev/null | grep -q '"result": 0'
}
case $server in kea*) wait_until 50 kea_ready || fail "$server does not start" ;; esac
# Address patterns (globs) of the old and the new pool.
if [ "$family" = 6 ]; then
  in_old="fd77::1[0-5][0-9a-f]" in_new="fd77::2[0-2][0-9a-f]"
else
  in_old="192.168.77.1[0-5][0-9]" in_new="192.168.77.2[0-2][0-9]"
fi
first=$(lease 02:00:00:77:00:01)
# shellcheck disable=SC2254  # a glob on purpose
case $first in $in_old) ;; *) fail "no lease from the old pool: '$first'" ;; esac
if [ "$mode" = upgrade-pd ]; then  # a router that asked for a prefix
  pd_first=$("$work/lease6.sh" "$work" "$cli" "${prefix}v" 02:00:00:77:00:11 - pd)
  case $pd_first in fd77:1:*/64) echo "old prefixes: a router was delegated $pd_first" ;; *) fail "no prefix delegated: '$pd_first'" ;; esac
fi
echo "old pool: client 02:00:00:77:00:01 leased $first"

# --- keys, inventory, receiver ---------------------------------------------------------------
"$sender" keygen --out "$work/mgr" >/dev/null
"$receiver" keygen --out "$work/r1" --name r1 >/dev/null
"$sender" inventory add --inventory "$work/inv" --name r1 --pub "$work/r1/host.pub" >/dev/null
scripts=$top/update-scripts
case $mode in
kill-* | lease-rollback)
  # Test-only: the real script, then a pause at the end of one phase to be killed in.
  pause_in=${mode#kill-}
  [ "$mode" = lease-rollback ] && pause_in=verify
  scripts=$work/scripts
  mkdir -p "$scripts"
  ln -s "$top/update-scripts/lib" "$scripts/lib"
  cat >"$scripts/dhcp-server" <<SH
#!/bin/sh
"$top/update-scripts/dhcp-server" "\$1" || exit \$?
if [ "\$1" = "$pause_in" ] && [ ! -e "$work/paused" ]; then : >"$work/paused"; sleep 60; fi
SH
  chmod +x "$scripts/dhcp-server"
  ;;
fsize-*)
  # Test-only: the real script, one phase under a 2 KiB file-size limit (ulimit -f counts
  # 512-byte blocks): every write beyond it fails (SIGXFSZ), as on a full disk.
  scripts=$work/scripts
  mkdir -p "$scripts"
  ln -s "$top/update-scripts/lib" "$scripts/lib"
  cat >"$scripts/dhcp-server" <<SH
#!/bin/sh
[ "\$1" = "${mode#fsize-}" ] && ulimit -f 4
exec "$top/update-scripts/dhcp-server" "\$1"
SH
  chmod +x "$scripts/dhcp-server"
  ;;
esac
# active_leases: how many addresses the lease database holds as active (last record wins).
active_leases() {
  case $server in
  dhcpd)
    awk '/^lease / { ip = $2 } /^  binding state / { st[ip] = $3 }
      END { n = 0; for (i in st) if (st[i] == "active;") n++; print n }' "$leases" ;;
  dhcpd6)
    awk '/^ *iaaddr / { ip = $2 } /^ *binding state / { st[ip] = $3 }
      END { n = 0; for (i in st) if (st[i] == "active;") n++; print n }' "$leases" ;;
  kea4)
    awk -F, -v now="$(date +%s)" 'NR > 1 { st[$1] = $10; ex[$1] = $5 }
      END { n = 0; for (a in st) if (st[a] == 0 && ex[a] > now) n++; print n }' "$leases" ;;
  kea6)
    awk -F, -v now="$(date +%s)" 'NR > 1 { st[$1] = $14; ex[$1] = $4 }
      END { n = 0; for (a in st) if (st[a] == 0 && ex[a] > now) n++; print n }' "$leases" ;;
  esac
}
case $server in
dhcpd | dhcpd6)
  f=dhcpd
  [ "$server" = dhcpd6 ] && f=dhcpd6
  printf '[host]\n%s-conf = %s\n%s-leases = %s\n%s-pid = %s\n%s-start = %s\n' \
    $f "$conf" $f "$leases" $f "$pidfile" $f "$start" >"$work/r1.ini"
  ;;
kea4 | kea6)
  f=kea
  [ "$server" = kea6 ] && f=kea6
  printf '[host]\n%s-conf = %s\n%s-leases = %s\n%s-socket = %s\n%s-start = %s\n' \
    $f "$conf" $f "$leases" $f "$socket" $f "$start" >"$work/r1.ini"
  ;;
esac
if [ "$family" = 6 ]; then
  echo "dhcp6-probe = $work/lease6.sh $work $cli ${prefix}v 02:00:00:77:00:fe release" >>"$work/r1.ini"
else
  cat >>"$work/r1.ini" <<EOF2
dhcp-probe = ip netns exec $cli sh -c 'ip link set dev ${prefix}v address 02:00:00:77:00:fe && busybox udhcpc -f -q -n -R -t 3 -T 2 -i ${prefix}v -s $work/bound.sh'
EOF2
fi
start_receiver() {
  ip netns exec "$srv" "$receiver" run --name r1 --iface eth0 --key "$work/r1/host.key" \
    --manager-pub "$work/mgr/manager.pub" --spool "$work/spool" --state "$work/state" \
    --scripts "$scripts" --config "$work/r1.ini" >>"$work/receiver.log" 2>&1 &
  receiver_pid=$!
  pids="$pids $receiver_pid"
}
start_receiver
sleep 0.3

# --- the bundle ------------------------------------------------------------------------------
mkdir -p "$work/b"
keep=yes
[ "$mode" = refuse-drop ] && keep=no
case $server in
dhcpd)
  new_pool="range 192.168.77.200 192.168.77.220;"
  case $mode in
  no-serve)
    # Valid and lease-safe, but no subnet holds the server's address 192.168.77.1: dhcpd -t
    # passes, the start fails ("No subnet declaration for ...").
    printf 'subnet 192.168.77.64 netmask 255.255.255.192 {\n  range 192.168.77.70 192.168.77.120;\n}\n' ;;
  no-offer | kill-rollback | fsize-rollback | replay-restart)  # valid, starts, offers nothing: the probe finds out
    sed "s/$old_pool/pool { range 192.168.77.200 192.168.77.220; deny all clients; }/" "$conf" ;;
  lease-rollback)  # the same pool, one more option: leases of the new server lie in it
    sed 's/^authoritative;/authoritative;\noption domain-name "v2.example";/' "$conf" ;;
  secret)  # an OMAPI key added: its secret must not leave the host
    sed -e "s/$old_pool/$new_pool/" \
      -e 's/^authoritative;/authoritative;\nkey omapi_key { algorithm hmac-md5; secret "U2VjcmV0VmFsdWUx"; }/' "$conf" ;;
  invalid)  # a missing ';'
    sed -e "s/$old_pool/$new_pool/" -e 's/^max-lease-time 7200;/max-lease-time 7200/' "$conf" ;;
  *) sed "s/$old_pool/$new_pool/" "$conf" ;;
  esac >"$work/b/server.conf"
  ;;
dhcpd6)
  new_pool="range6 fd77::200 fd77::220;"
  case $mode in
  upgrade-pd)  # the delegated prefixes move: the delegated one is retired
    sed 's|prefix6 fd77:1:: fd77:1:ff:: /64;|prefix6 fd77:2:: fd77:2:ff:: /64;|' "$conf" ;;
  no-offer | kill-rollback)  # valid, starts, offers nothing: the probe finds out
    sed "s/$old_pool/pool6 { range6 fd77::200 fd77::220; deny all clients; }/" "$conf" ;;
  invalid)  # a missing ';'
    sed -e "s/$old_pool/$new_pool/" -e 's/^max-lease-time 7200;/max-lease-time 7200/' "$conf" ;;
  *) sed "s/$old_pool/$new_pool/" "$conf" ;;
  esac >"$work/b/server.conf"
  ;;
kea6)
  case $mode in
  upgrade-pd)  # the delegated prefixes move
    sed 's|"prefix": "fd77:1::"|"prefix": "fd77:2::"|' "$conf" ;;
  no-offer | kill-rollback)  # valid, but the pool is for a client class nobody is in
    sed 's/"pool": "fd77::100 - fd77::150"/"pool": "fd77::200 - fd77::220", "client-class": "nobody"/' "$conf" ;;
  invalid)  # a pool outside its subnet
    sed 's/"pool": "fd77::100 - fd77::150"/"pool": "fd78::5 - fd78::9"/' "$conf" ;;
  *) sed 's/"pool": "fd77::100 - fd77::150"/"pool": "fd77::200 - fd77::220"/' "$conf" ;;
  esac >"$work/b/server.conf"
  ;;
kea4)
  case $mode in
  no-offer | kill-rollback | fsize-rollback)  # valid, but the pool is for a client class nobody is in
    sed 's/"pool": "192.168.77.100 - 192.168.77.150"/"pool": "192.168.77.200 - 192.168.77.220", "client-class": "nobody"/' "$conf" ;;
  comment-paths)  # socket and leases moved; a comment still names the live paths
    sed -e "s|\"socket-name\": \"$socket\"|\"socket-name\": \"$work/moved.sock\"|" \
      -e "s|\"name\": \"$leases\"|\"name\": \"$work/moved.csv\"|" \
      -e "1s|.*|// was \"$socket\" and \"$leases\"|" "$conf" ;;
  invalid)  # a pool outside its subnet
    sed 's/"pool": "192.168.77.100 - 192.168.77.150"/"pool": "192.168.78.5 - 192.168.78.9"/' "$conf" ;;
  secret)  # a password added: it must not leave the host
    sed -e 's/"pool": "192.168.77.100 - 192.168.77.150"/"pool": "192.168.77.200 - 192.168.77.220"/' \
      -e 's/"valid-lifetime": 600,/"valid-lifetime": 600, "user-context": { "ha-password": "U2VjcmV0VmFsdWUx" },/' "$conf" ;;
  *) sed 's/"pool": "192.168.77.100 - 192.168.77.150"/"pool": "192.168.77.200 - 192.168.77.220"/' "$conf" ;;
  esac >"$work/b/server.conf"
  ;;
esac
cmp -s "$conf" "$work/b/server.conf" && fail "the test's bundle config equals the live one"
printf '[bundle]\nname = school-dhcp\nversion = 2\nkind = dhcp-server\n[dhcp-server]\nserver = %s\nconfig = server.conf\n' \
  "$server" >"$work/b/manifest.ini"
case $server in dhcpd*) printf 'keep-old-ranges = %s\n' "$keep" >>"$work/b/manifest.ini" ;; esac
bundle="$work/school-dhcp-2.fcb"
case $mode in
dotdot | absolute | link-out)
  # Hostile archives, signed by the trusted manager key (bundle seal --allow-unsafe): receivers
  # must refuse them on their own. GNU tar -P keeps '..' and absolute member names.
  printf 'from the bundle\n' >"$work/escaped.conf"
  case $mode in
  dotdot) evil=../escaped.conf ;;
  absolute) evil=$work/escaped.conf ;;
  link-out)
    evil="evil-link"
    ln -s "$conf" "$work/b/evil-link"
    ;;
  esac
  tar -P -C "$work/b" --zstd -cf "$work/hostile.tar.zst" manifest.ini server.conf "$evil"
  printf 'the host'"'"'s own\n' >"$work/escaped.conf"
  if "$sender" bundle seal "$work/hostile.tar.zst" -o "$bundle" --key "$work/mgr/manager.key" \
    >"$work/seal.log" 2>&1; then
    fail "bundle seal signed a hostile archive without --allow-unsafe"
  fi
  grep -q "receivers would refuse it" "$work/seal.log" || fail "bundle seal does not say why it refused"
  "$sender" bundle seal "$work/hostile.tar.zst" -o "$bundle" --key "$work/mgr/manager.key" \
    --allow-unsafe >/dev/null
  ;;
*) "$sender" bundle create "$work/b" -o "$bundle" --key "$work/mgr/manager.key" >/dev/null ;;
esac

# push_bundle FILE [OPTION...]: pushes FILE to r1 over multicast (in the background: $push_pid).
push_bundle() {
  ip netns exec "${prefix}mgr" "$sender" push "$@" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --state "$work/mgr-state" --report "$work/report.json" --no-progress >"$work/push.log" 2>&1 &
  push_pid=$!
  pids="$pids $push_pid"
}
# push_wait: waits (bounded) for the push; sets push_rc, status, message.
push_wait() {
  wait_until 900 gone "$push_pid" || true  # then wait reports how it ended
  push_rc=0
  wait "$push_pid" || push_rc=$?
  cat "$work/push.log"
  status=$(jq -r '.hosts[0].fin.status // "none"' "$work/report.json" 2>/dev/null || echo none)
  message=$(jq -r '.hosts[0].fin.message // ""' "$work/report.json" 2>/dev/null || true)
}

if [ "$mode" = replay ]; then
  # Version 2 goes in first; then an older version 1 (other content) is pushed.
  push_bundle "$bundle"
  push_wait
  [ "$status" = applied ] || fail "version 2 was not applied: $status $message"
  sed -i 's/^version = 2/version = 1/' "$work/b/manifest.ini"
  sed -i 's/192.168.77.220/192.168.77.230/' "$work/b/server.conf"
  "$sender" bundle create "$work/b" -o "$work/school-dhcp-1.fcb" --key "$work/mgr/manager.key" >/dev/null
  bundle="$work/school-dhcp-1.fcb"
fi
if [ "$mode" = tampered ]; then
  # One byte of the payload changed after signing: the manager's own push refuses to send it.
  size=$(stat -c %s "$bundle")
  printf 'X' | dd of="$bundle" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
fi
cp "$conf" "$work/conf.before"
pid_before=$(cat "$pidfile")
leases_before=$(active_leases)
if [ "$mode" = stopped ] || [ "$mode" = harden-stale-pid ]; then
  kill -TERM "$pid_before"
  wait_until 100 gone "$pid_before" || fail "$server does not stop"
fi
if [ "$mode" = harden-stale-pid ]; then
  sleep 300 &  # the process the stale pid file now names
  decoy=$!
  pids="$pids $decoy"
  echo "$decoy" >"$pidfile"
fi

rm -f "$work/report.json"
if [ "$mode" = secret ]; then
  chmod 0644 "$conf"  # Debian's default for dhcpd.conf and kea-dhcp4.conf
  push_bundle "$bundle" --dry-run
else
  push_bundle "$bundle"
fi
if [ "${mode#kill-}" != "$mode" ] || [ "$mode" = lease-rollback ]; then
  wait_until 300 test -e "$work/paused" || fail "the receiver never reached the end of phase $pause_in"
  if [ "$mode" = lease-rollback ]; then
    granted=$(lease 02:00:00:77:00:04)  # from the new server, before the rollback
    echo "the new server leased $granted"
  fi
  kill -9 "$receiver_pid"
  echo "SIGKILLed the receiver at the end of phase $pause_in"
  sleep 0.5
  start_receiver
fi
push_wait

server_alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
unchanged() {
  cmp -s "$work/conf.before" "$conf" || fail "$conf changed"
  [ "$(cat "$pidfile")" = "$pid_before" ] || fail "$server was restarted"
}
old_lease_kept() {
  case $server in
  dhcpd) grep -q "^lease $first " "$leases" ;;
  dhcpd6) grep -q "^ *iaaddr $first " "$leases" ;;
  *) grep -q "^$first," "$leases" ;;
  esac || fail "lease $first is gone from the lease file"
}
expect() { [ "$status" = "$1" ] || fail "FIN status '$status', expected '$1' ($message)"; }
serves_from() {  # serves_from LOW_OCTET_PATTERN MAC
  got=$(lease "$2")
  # shellcheck disable=SC2254  # $1 is a glob on purpose
  case $got in $1) echo "client $2 leased $got" ;; *) fail "client $2 got '$got', expected $1" ;; esac
}

case $mode in
upgrade | stopped | kill-check | kill-backup)
  expect applied
  [ "$push_rc" -eq 0 ] || fail "push exited $push_rc"
  server_alive || fail "$server not running"
  old_lease_kept
  case $server in
  dhcpd*) grep -q "deny all clients" "$conf" || fail "no retired pool written" ;;
  *)
    # config-write happened: the file Kea starts from holds the new pool, so a config-reload
    # (which re-reads it) keeps serving the new pool.
    grep -q '\(192\.168\.77\.\|fd77::\)200 *- *\(192\.168\.77\.\|fd77::\)220' "$conf" || fail "$conf does not hold the new pool"
    echo '{ "command": "config-reload" }' | socat -t 5 - "UNIX-CONNECT:$socket" | grep -q '"result": 0' ||
      fail "config-reload failed"
    ;;
  esac
  serves_from "$in_new" 02:00:00:77:00:02
  ;;
upgrade-pd)
  expect applied
  server_alive || fail "$server not running"
  old_lease_kept
  case $server in
  dhcpd6)
    grep -q "^ *iaprefix $pd_first " "$leases" || fail "prefix $pd_first is gone from the lease file"
    grep -q "prefix6 ${pd_first%/*} ${pd_first%/*} /64; deny all clients" "$conf" || fail "no retired prefix written"
    ;;
  kea6) grep -q "^${pd_first%/*},.*,2,[0-9]*,64," "$leases" || fail "prefix $pd_first is gone from the lease file" ;;
  esac
  got=$("$work/lease6.sh" "$work" "$cli" "${prefix}v" 02:00:00:77:00:12 - pd)
  case $got in fd77:2:*/64) echo "a new router was delegated $got" ;; *) fail "a new router got '$got', expected fd77:2::/48" ;; esac
  ;;
refuse-drop)
  expect rejected
  case $message in *"would drop"*"$first"*) ;; *) fail "reason does not name the lease: $message" ;; esac
  unchanged
  ;;
invalid)
  expect rejected
  case $server in
  dhcpd) case $message in *"line "*"dhcpd -t rejected"*) ;; *) fail "reason lacks dhcpd's message: $message" ;; esac ;;
  dhcpd6) case $message in *"line "*"expecting a parameter"*"dhcpd -6 -t rejected"*) ;; *) fail "reason lacks dhcpd's message: $message" ;; esac ;;
  *) case $message in *"does not match the prefix of a subnet"*"kea-dhcp$family -t rejected"*) ;; *) fail "reason lacks Kea's message: $message" ;; esac ;;
  esac
  unchanged
  ;;
replay-restart)
  # Issue 26, item 2: the same bundle pushed again (a second session of a file the host holds
  # already), then the receiver restarted three times. Each session applies once (both roll
  # back); before, the second session's announcement stayed on disk and every restart queued
  # its apply again.
  expect rolled-back
  push_bundle "$bundle"
  push_wait
  expect rolled-back
  for restart in 1 2 3; do
    kill -TERM "$receiver_pid"
    wait_until 100 gone "$receiver_pid" || fail "the receiver does not stop"
    start_receiver
    sleep 3  # long enough for a queued apply to start its check phase
    echo "restart $restart: $(grep -c 'FC2202 apply-phase .*phase=check' "$work/receiver.log") check phases so far"
  done
  checks=$(grep -c 'FC2202 apply-phase .*phase=check' "$work/receiver.log")
  attempts=$(sqlite3 "$work/state/apply.db" 'SELECT COUNT(*) FROM applies' 2>/dev/null)
  [ "$checks" -eq 2 ] || fail "the apply ran $checks times over two sessions and three restarts"
  [ "$attempts" -eq 2 ] || fail "the journal shows $attempts attempts, expected 2 (one per session)"
  cmp -s "$work/conf.before" "$conf" || fail "$conf not restored"
  server_alive || fail "$server not running"
  ;;
no-serve | no-offer | kill-apply | kill-verify | kill-rollback)
  expect rolled-back
  [ "$push_rc" -ne 0 ] || fail "push exited 0 although the host rolled back"
  cmp -s "$work/conf.before" "$conf" || fail "$conf not restored"
  server_alive || fail "$server not running after the rollback"
  old_lease_kept
  serves_from "$in_old" 02:00:00:77:00:03
  ;;
fsize-*)
  after=$(active_leases)
  echo "FIN $status under a file-size limit in ${mode#fsize-}; active leases $leases_before -> $after"
  [ "$after" -ge "$leases_before" ] || fail "the lease database lost leases: $leases_before -> $after ($status: $message)"
  case $mode in
  fsize-backup) expect failed ;;
  fsize-apply) [ "$server" = kea4 ] || expect rolled-back ;;
  esac
  ;;
lease-rollback)
  expect rolled-back
  cmp -s "$work/conf.before" "$conf" || fail "$conf not restored"
  server_alive || fail "$server not running after the rollback"
  case $granted in 192.168.77.1[0-5][0-9]) ;; *) fail "no lease from the new server: '$granted'" ;; esac
  state=$(awk -v a="$granted" '$1 == "lease" && $2 == a { f = 1 } f && $1 == "binding" { s = $3 } /^}/ { f = 0 } END { print s }' "$leases")
  [ "$state" = "active;" ] || fail "lease $granted (granted before the rollback) is '$state' in the lease file"
  [ "$(active_leases)" -ge "$leases_before" ] || fail "the lease database lost leases"
  got=$(lease 02:00:00:77:00:05)
  [ "$got" != "$granted" ] || fail "$granted was lent a second time"
  echo "after the rollback $granted is still active; another client got $got"
  ;;
comment-paths)
  expect rejected
  case $message in *"does not keep the control socket $socket (it names '$work/moved.sock')"*) ;; *) fail "reason: $message" ;; esac
  unchanged
  ;;
dotdot | absolute | link-out)
  expect rejected
  case $mode in
  dotdot) want="'..'" ;;
  absolute) want="absolute" ;;
  link-out) want="outside" ;;
  esac
  case $message in *"bundle refused"*"$want"*) ;; *) fail "reason does not say $want: $message" ;; esac
  unchanged
  grep -q "host's own" "$work/escaped.conf" || fail "the hostile entry was written outside staging"
  [ -z "$(find "$work/state" -name escaped.conf)" ] || fail "the hostile entry was extracted"
  ;;
replay)
  expect rejected
  case $message in *"version 1 is not newer than the installed version 2"*) ;; *) fail "reason: $message" ;; esac
  unchanged
  push_bundle "$work/school-dhcp-2.fcb"  # the same version again: reported, not re-applied
  push_wait
  expect applied
  case $message in *"already applied"*) ;; *) fail "a replayed version 2 was not reported as already applied: $message" ;; esac
  unchanged
  ;;
harden-stale-pid)
  expect applied
  kill -0 "$decoy" 2>/dev/null || fail "the process named by the stale pid file was killed"
  [ "$(cat "$pidfile")" != "$decoy" ] || fail "the pid file still names the other process"
  server_alive || fail "$server not running"
  serves_from "$in_new" 02:00:00:77:00:02
  ;;
secret)
  # The check's report of a world-readable DHCP configuration: digests and line counts, never
  # its content, in the FIN, the receiver's journal, the manager's store and the report (0600).
  expect checked
  case $message in *" lines) -> "*" lines), +"*) ;; *) fail "no digests: $message" ;; esac
  for f in "$work/report.json" "$work/mgr-state/manager.db" "$work/state/apply.db" "$work/receiver.log"; do
    [ -f "$f" ] || fail "$f missing"
    grep -q "U2VjcmV0VmFsdWUx\|omapi_key\|ha-password" "$f" && fail "the secret left the configuration: $f"
  done
  for f in "$work/report.json" "$work/mgr-state/manager.db"; do
    [ "$(stat -c %a "$f")" = 600 ] || fail "$f is $(stat -c %a "$f"), not 600"
  done
  unchanged
  ;;
tampered)
  [ "$push_rc" -ne 0 ] || fail "push of a tampered bundle exited 0"
  grep -q "modified after signing" "$work/push.log" || fail "push does not say why it refused"
  [ ! -e "$work/report.json" ] || [ "$status" = none ] || fail "a tampered bundle reached the host"
  unchanged
  status="refused by push"
  message=$(grep "modified after signing" "$work/push.log" | head -n 1)
  ;;
*) fail "unknown mode $mode" ;;
esac
case $mode in
kill-apply | kill-verify)
  case $message in *"restarted during the ${mode#kill-} phase"*) ;; *) fail "FIN does not say why: $message" ;; esac
  ;;
kill-rollback)
  case $message in *"restarted during rollback (after verify"*"DHCP"*"probe got no address"*) ;; *) fail "FIN does not say why: $message" ;; esac
  ;;
esac
echo "PASS: $mode: FIN $status: $message"
