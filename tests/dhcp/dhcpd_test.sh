#!/bin/sh
# ISC dhcpd upgrades pushed over real IPv6 multicast to a receiver in a network namespace, with
# a real dhcpd and a real DHCP client (busybox udhcpc) on a veth link of that host.
#
#   dhcpd_test.sh MODE SENDER RECEIVER
#
# MODE: upgrade     old pool .100-.150 -> new pool .200-.220 (keep-old-ranges = yes): a client
#                   leased from the old pool before; afterwards a new client gets .200+, the old
#                   lease is still in the lease file, the FIN says applied
#       refuse-drop the same without keep-old-ranges: rejected (dhcpd would drop the lease)
#       invalid     a config with a syntax error: rejected with dhcpd -t's message, nothing changed
#       no-serve    a config that passes dhcpd -t but cannot start (no subnet for the interface):
#                   rolled back by itself; the old pool serves again
#       no-offer    a config that starts but offers no address (the probe in verify): rolled back
#       kill-PHASE  PHASE = check | backup | apply | verify: the receiver is SIGKILLed at the end
#                   of that phase (test-only wrapper script), then restarted: it finishes (check,
#                   backup) or rolls back (apply, verify); dhcpd serves; the FIN says which
# Exits 77 (CTest: skipped) where namespaces, dhcpd or udhcpc are missing. Cleans up on any exit.
set -eu

mode=$1 sender=$2 receiver=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
fleet=$top/tests/fleet/fleet.sh
if ! reason=$("$fleet" check 2>&1); then
  echo "SKIP: $reason (DHCP tests need root and network namespaces)"
  exit 77
fi
for tool in dhcpd busybox; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup installs it)"; exit 77; }
done

prefix=fd$$
work=$(mktemp -d)
srv=${prefix}r1 cli=${prefix}c
pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  [ -f "$work/dhcpd.pid" ] && kill -9 "$(cat "$work/dhcpd.pid")" 2>/dev/null
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
ip -n "$srv" link set "${prefix}s" up
ip -n "$cli" link set lo up
ip -n "$cli" link set "${prefix}v" up

cat >"$work/bound.sh" <<'SH'
#!/bin/sh
[ "$1" = bound ] && echo "$ip"
exit 0
SH
chmod +x "$work/bound.sh"
# lease MAC: a real DHCP exchange from the client namespace; prints the bound address.
lease() {
  ip netns exec "$cli" sh -c "ip link set dev ${prefix}v address $1 &&
    busybox udhcpc -f -q -n -t 3 -T 2 -i ${prefix}v -s $work/bound.sh" 2>>"$work/client.log" | tail -n 1
}

old_pool="range 192.168.77.100 192.168.77.150;"
cat >"$work/dhcpd.conf" <<EOF2
default-lease-time 600;
max-lease-time 7200;
authoritative;
subnet 192.168.77.0 netmask 255.255.255.0 {
  $old_pool
}
EOF2
: >"$work/dhcpd.leases"
start="setsid dhcpd -4 -q -cf $work/dhcpd.conf -lf $work/dhcpd.leases -pf $work/dhcpd.pid ${prefix}s"
ip netns exec "$srv" sh -c "$start" || fail "dhcpd does not start"
first=$(lease 02:00:00:77:00:01)
case $first in 192.168.77.1[0-4][0-9] | 192.168.77.150) ;; *) fail "no lease from the old pool: '$first'" ;; esac
echo "old pool: client 02:00:00:77:00:01 leased $first"

# --- keys, inventory, receiver ---------------------------------------------------------------
"$sender" keygen --out "$work/mgr" >/dev/null
"$receiver" keygen --out "$work/r1" --name r1 >/dev/null
"$sender" inventory add --inventory "$work/inv" --name r1 --pub "$work/r1/host.pub" >/dev/null
scripts=$top/update-scripts
case $mode in
kill-*)
  # Test-only: the real script, then a pause at the end of one phase to be killed in.
  scripts=$work/scripts
  mkdir -p "$scripts"
  ln -s "$top/update-scripts/lib" "$scripts/lib"
  cat >"$scripts/dhcp-server" <<SH
#!/bin/sh
"$top/update-scripts/dhcp-server" "\$1" || exit \$?
if [ "\$1" = "${mode#kill-}" ] && [ ! -e "$work/paused" ]; then : >"$work/paused"; sleep 60; fi
SH
  chmod +x "$scripts/dhcp-server"
  ;;
esac
cat >"$work/r1.ini" <<EOF2
[host]
dhcpd-conf = $work/dhcpd.conf
dhcpd-leases = $work/dhcpd.leases
dhcpd-pid = $work/dhcpd.pid
dhcpd-start = $start
dhcp-probe = ip netns exec $cli sh -c 'ip link set dev ${prefix}v address 02:00:00:77:00:fe && busybox udhcpc -f -q -n -R -t 3 -T 2 -i ${prefix}v -s $work/bound.sh'
EOF2
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
keep=yes new_pool="range 192.168.77.200 192.168.77.220;"
case $mode in
refuse-drop) keep=no ;;
esac
if [ "$mode" = no-serve ]; then
  # Valid and lease-safe, but no subnet holds the server's address 192.168.77.1: dhcpd -t
  # passes, the start fails ("No subnet declaration for ...").
  printf 'subnet 192.168.77.64 netmask 255.255.255.192 {\n  range 192.168.77.70 192.168.77.120;\n}\n' \
    >"$work/b/dhcpd.conf"
elif [ "$mode" = no-offer ]; then
  # Valid, starts, but offers nothing: the probe in verify finds out.
  sed "s/$old_pool/pool { range 192.168.77.200 192.168.77.220; deny all clients; }/" \
    "$work/dhcpd.conf" >"$work/b/dhcpd.conf"
elif [ "$mode" = invalid ]; then  # a missing ';'
  sed -e "s/$old_pool/$new_pool/" -e 's/^max-lease-time 7200;/max-lease-time 7200/' \
    "$work/dhcpd.conf" >"$work/b/dhcpd.conf"
else
  sed "s/$old_pool/$new_pool/" "$work/dhcpd.conf" >"$work/b/dhcpd.conf"
fi
printf '[bundle]\nname = school-dhcp\nversion = 2\nkind = dhcp-server\n[dhcp-server]\nserver = dhcpd\nconfig = dhcpd.conf\nkeep-old-ranges = %s\n' \
  "$keep" >"$work/b/manifest.ini"
"$sender" bundle create "$work/b" -o "$work/school-dhcp-2.fcb" --key "$work/mgr/manager.key" >/dev/null
cp "$work/dhcpd.conf" "$work/conf.before"
pid_before=$(cat "$work/dhcpd.pid")

ip netns exec "${prefix}mgr" "$sender" push "$work/school-dhcp-2.fcb" --inventory "$work/inv" \
  --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
  --report "$work/report.json" --no-progress >"$work/push.log" 2>&1 &
push_pid=$!
pids="$pids $push_pid"

if [ "${mode#kill-}" != "$mode" ]; then
  tries=0
  while [ ! -e "$work/paused" ] && [ "$tries" -lt 300 ]; do sleep 0.1; tries=$((tries + 1)); done
  [ -e "$work/paused" ] || fail "the receiver never reached the end of phase ${mode#kill-}"
  kill -9 "$receiver_pid"
  echo "SIGKILLed the receiver at the end of phase ${mode#kill-}"
  sleep 0.5
  start_receiver
fi

tries=0
while kill -0 "$push_pid" 2>/dev/null && [ "$tries" -lt 900 ]; do sleep 0.1; tries=$((tries + 1)); done
push_rc=0
wait "$push_pid" || push_rc=$?
cat "$work/push.log"
status=$(jq -r '.hosts[0].fin.status // "none"' "$work/report.json")
message=$(jq -r '.hosts[0].fin.message // ""' "$work/report.json")

dhcpd_alive() { kill -0 "$(cat "$work/dhcpd.pid")" 2>/dev/null; }
unchanged() {
  cmp -s "$work/conf.before" "$work/dhcpd.conf" || fail "dhcpd.conf changed"
  [ "$(cat "$work/dhcpd.pid")" = "$pid_before" ] || fail "dhcpd was restarted"
}
old_lease_kept() { grep -q "^lease $first " "$work/dhcpd.leases" || fail "lease $first is gone from the lease file"; }
expect() { [ "$status" = "$1" ] || fail "FIN status '$status', expected '$1' ($message)"; }
serves_from() {  # serves_from LOW_OCTET_PATTERN MAC
  got=$(lease "$2")
  # shellcheck disable=SC2254  # $1 is a glob on purpose
  case $got in $1) echo "client $2 leased $got" ;; *) fail "client $2 got '$got', expected $1" ;; esac
}

case $mode in
upgrade | kill-check | kill-backup)
  expect applied
  [ "$push_rc" -eq 0 ] || fail "push exited $push_rc"
  dhcpd_alive || fail "dhcpd not running"
  old_lease_kept
  grep -q "deny all clients" "$work/dhcpd.conf" || fail "no retired pool written"
  serves_from "192.168.77.2[0-2][0-9]" 02:00:00:77:00:02
  ;;
refuse-drop)
  expect rejected
  case $message in *"would drop"*"$first"*) ;; *) fail "reason does not name the lease: $message" ;; esac
  unchanged
  ;;
invalid)
  expect rejected
  case $message in *"line "*"dhcpd -t rejected"*) ;; *) fail "reason lacks dhcpd's message: $message" ;; esac
  unchanged
  ;;
no-serve | no-offer | kill-apply | kill-verify)
  expect rolled-back
  [ "$push_rc" -ne 0 ] || fail "push exited 0 although the host rolled back"
  cmp -s "$work/conf.before" "$work/dhcpd.conf" || fail "dhcpd.conf not restored"
  dhcpd_alive || fail "dhcpd not running after the rollback"
  old_lease_kept
  serves_from "192.168.77.1[0-5][0-9]" 02:00:00:77:00:03
  ;;
*) fail "unknown mode $mode" ;;
esac
case $mode in kill-apply | kill-verify)
  case $message in *"restarted during the ${mode#kill-} phase"*) ;; *) fail "FIN does not say why: $message" ;; esac
esac
echo "PASS: $mode: FIN $status: $message"
