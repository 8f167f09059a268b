#!/bin/sh
# A redundant DHCP pair rolled out over real IPv6 multicast: two ISC dhcpd failover peers (r1
# primary, r2 secondary, a redundancy group in the inventory), each in its own namespace with a
# fleetcast receiver, both on one client LAN (a bridge) where probers ask for a lease with a
# fresh MAC every 0.5 s during the whole rollout (busybox udhcpc, four client namespaces in
# turn). The bundle is rendered per host (server.conf.tmpl + hosts.ini: the failover statement
# differs); the pool grows from 192.168.100.1-101.254 to also 192.168.102.1-103.254.
#
#   pair_test.sh MODE SENDER RECEIVER
#
# MODE: rollout   `rollout plan` puts r2 in wave 1 and r1 in wave 2 (and refuses a single wave
#                 without --force); the rollout applies both, r2 first, r1 activated only after
#                 r2's FIN; never both dhcpd processes down at once; no probe outage longer
#                 than 2 s; both peers normal afterwards, each seen as normal by the other;
#                 every lease a probe got is still in the lease file of the server that
#                 granted it; the new pool is in both live configurations.
#       broken-secondary  a change whose failover statement moves r2 to ports its partner does
#                 not use (listen 848, connect to 648): r2 never returns to normal, its health gate fails after 15 s and
#                 it rolls back by itself; the rollout halts (with --max-fail 1: the pair's
#                 rule halts it, not the failure count); r1 was never touched (same dhcpd
#                 process, same configuration) and the pair served throughout.
# Exits 77 (CTest: skipped) where namespaces, dhcpd, omshell or udhcpc are missing. Cleans up
# on any exit.
set -eu

mode=$1 sender=$2 receiver=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
fleet=$top/tests/fleet/fleet.sh
# shellcheck source=tests/wait.sh
. "$top/tests/wait.sh"
if ! reason=$("$fleet" check 2>&1); then
  echo "SKIP: $reason (DHCP tests need root and network namespaces)"
  exit 77
fi
for tool in dhcpd omshell busybox; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup installs it)"; exit 77; }
done

prefix=fp$$
work=$(mktemp -d)
lan=${prefix}lan
pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  for i in 1 2; do
    [ -f "$work/r$i/dhcpd.pid" ] && kill -9 "$(cat "$work/r$i/dhcpd.pid")" 2>/dev/null
  done
  wait 2>/dev/null || true
  for ns in "$lan" "${prefix}c1" "${prefix}c2" "${prefix}c3" "${prefix}c4" "${prefix}p"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  "$fleet" down "$prefix"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
fail() {
  echo "FAIL: $*"
  for f in "$work"/*.log "$work"/r?/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
  exit 1
}

# --- the fleet (manager, r1, r2) and the client LAN: a bridge joining r1, r2 and the clients --
"$fleet" up "$prefix" 2
ip netns add "$lan"
ip -n "$lan" link add br0 type bridge
ip -n "$lan" link set br0 up
# plug NS IFNAME ADDRESS: a veth from NS (named IFNAME there) to the LAN bridge.
plug() {
  ip -n "$lan" link add "l-$1" type veth peer name "$2" netns "$1"
  ip -n "$lan" link set "l-$1" master br0 up
  [ -z "$3" ] || ip -n "$1" addr add "$3" dev "$2"
  ip -n "$1" link set lo up
  ip -n "$1" link set "$2" up
}
plug "${prefix}r1" lan0 192.168.77.1/16
plug "${prefix}r2" lan0 192.168.77.2/16
for c in c1 c2 c3 c4 p; do
  ip netns add "${prefix}$c"
  plug "${prefix}$c" cli ""
done

cat >"$work/bound.sh" <<'SH'
#!/bin/sh
[ "$1" = bound ] && echo "$ip $serverid"
exit 0
SH
chmod +x "$work/bound.sh"

# --- the pair: one configuration rendered per host from a template ----------------------------
mkdir -p "$work/r1" "$work/r2" "$work/b1" "$work/b2"
# conf_template POOLS: a dhcpd.conf template (failover statement from hosts.ini).
conf_template() {
  cat <<EOF
omapi-port 7911;
default-lease-time 600;
max-lease-time 7200;
authoritative;
failover peer "pair" {
  {{ failover }};
  max-response-delay 30;
  max-unacked-updates 10;
  load balance max seconds 3;
}
subnet 192.168.0.0 netmask 255.255.0.0 {
  pool {
    failover peer "pair";
$1
  }
}
EOF
}
old_pools="    range 192.168.100.1 192.168.101.254;"
new_pools="$old_pools
    range 192.168.102.1 192.168.103.254;"
primary="primary; address 192.168.77.1; port 647; peer address 192.168.77.2; peer port 847; mclt 60; split 128"
secondary="secondary; address 192.168.77.2; port 847; peer address 192.168.77.1; peer port 647"
render() {  # render TEMPLATE-TEXT FAILOVER > FILE (the live configuration, as the test starts it)
  printf '%s\n' "$1" | sed "s/{{ failover }}/$2/"
}
render "$(conf_template "$old_pools")" "$primary" >"$work/r1/dhcpd.conf"
render "$(conf_template "$old_pools")" "$secondary" >"$work/r2/dhcpd.conf"
for i in 1 2; do
  : >"$work/r$i/dhcpd.leases"
  start="dhcpd -4 -q -cf $work/r$i/dhcpd.conf -lf $work/r$i/dhcpd.leases -pf $work/r$i/dhcpd.pid lan0"
  ip netns exec "${prefix}r$i" sh -c "$start" || fail "dhcpd r$i does not start"
  printf '[host]\ndhcpd-conf = %s\ndhcpd-leases = %s\ndhcpd-pid = %s\ndhcpd-start = %s\n' \
    "$work/r$i/dhcpd.conf" "$work/r$i/dhcpd.leases" "$work/r$i/dhcpd.pid" "$start" >"$work/r$i.ini"
  # The host's own probe: a lease on the spare client namespace (the hosts verify one at a time).
  printf 'dhcp-probe = ip netns exec %s sh -c %s\n' "${prefix}p" \
    "'ip link set dev cli address 02:00:00:99:00:0$i && busybox udhcpc -f -q -n -t 4 -T 1 -i cli -s $work/bound.sh | cut -d\" \" -f1'" \
    >>"$work/r$i.ini"
done
# state I: "LOCAL PARTNER" failover state numbers of r I's dhcpd (2 = normal)
state() {
  printf 'server 127.0.0.1\nport 7911\nconnect\nnew failover-state\nset name = "pair"\nopen\n' |
    ip netns exec "${prefix}r$1" omshell 2>/dev/null |
    awk '$1 == "local-state" { l = $3 } $1 == "partner-state" { p = $3 } END { sub(/.*:/, "", l); sub(/.*:/, "", p); print l + 0, p + 0 }'
}
normal() { [ "$(state 1)" = "2 2" ] && [ "$(state 2)" = "2 2" ]; }
wait_until 300 normal || fail "the pair does not reach normal (r1: $(state 1), r2: $(state 2))"
echo "pair normal: r1 $(state 1), r2 $(state 2)"
pid1=$(cat "$work/r1/dhcpd.pid") conf1=$(cksum <"$work/r1/dhcpd.conf")

# --- fleetcast: keys, inventory with the redundancy group, receivers --------------------------
"$sender" keygen --out "$work/mgr" >/dev/null
for i in 1 2; do
  "$receiver" keygen --out "$work/k$i" --name "r$i" >/dev/null
  "$sender" inventory add --inventory "$work/inv" --name "r$i" --pub "$work/k$i/host.pub" >/dev/null
  ip netns exec "${prefix}r$i" "$receiver" run --name "r$i" --iface eth0 --key "$work/k$i/host.key" \
    --manager-pub "$work/mgr/manager.pub" --spool "$work/r$i/spool" --state "$work/r$i/state" \
    --scripts "$top/update-scripts" --config "$work/r$i.ini" >>"$work/r$i/receiver.log" 2>&1 &
  pids="$pids $!"
done
"$sender" inventory redundancy --inventory "$work/inv" --name pair --service dhcpd \
  --member r1=primary --member r2=secondary | tee "$work/inv.log"
grep -q "dhcpd pair: r2 (secondary) then r1 (primary)" "$work/inv.log" || fail "inventory redundancy"

# --- the bundle: the new pool, the failover statement per host ------------------------------
b=$work/b1
if [ "$mode" = broken-secondary ]; then
  secondary_new="secondary; address 192.168.77.2; port 848; peer address 192.168.77.1; peer port 648"
  printf '[dhcp-server]\nfailover-timeout = 15\n' >"$work/extra.ini"
  max_fail=1  # tolerated: the redundancy rule halts the rollout, not the failure count
else
  secondary_new=$secondary
  : >"$work/extra.ini"
  max_fail=0
fi
conf_template "$new_pools" >"$b/server.conf.tmpl"
printf '[r1]\nfailover = %s\n[r2]\nfailover = %s\n' "$primary" "$secondary_new" >"$b/hosts.ini"
{
  printf '[bundle]\nname = school-dhcp\nversion = 2\nkind = dhcp-server\n[dhcp-server]\nserver = dhcpd\nconfig = server.conf\n'
  sed -n 's/^failover-timeout/failover-timeout/p' "$work/extra.ini"
} >"$b/manifest.ini"
"$sender" bundle create "$b" -o "$work/dhcp-2.fcb" --key "$work/mgr/manager.key" >"$work/create.log" 2>&1 ||
  fail "bundle create"

send_opts="--inventory $work/inv --key $work/mgr/manager.key --iface eth0"
# shellcheck disable=SC2086  # send_opts is split on purpose
if ip netns exec "${prefix}mgr" "$sender" rollout plan "$work/dhcp-2.fcb" $send_opts --waves 100% \
  >"$work/plan1.log" 2>&1; then
  fail "rollout plan accepted both peers of the pair in one wave"
fi
grep -q "dhcpd group pair: r1 (primary) would be in wave 1 with or before r2 (secondary)" "$work/plan1.log" ||
  fail "the refusal does not name the group and hosts"
# shellcheck disable=SC2086
ip netns exec "${prefix}mgr" "$sender" rollout plan "$work/dhcp-2.fcb" $send_opts --waves 1,100% \
  >"$work/plan.log" 2>&1 || fail "rollout plan"
cat "$work/plan.log"
grep -q "wave 1 canary (1, tolerates 0): r2$" "$work/plan.log" || fail "r2 is not wave 1"
grep -q "wave 2 (1, tolerates 0): r1$" "$work/plan.log" || fail "r1 is not wave 2"

# --- watchers: probers on the client LAN, and whether both dhcpd processes are down -----------
probe_loop() {
  n=0
  end=$(($(date +%s) + 120))
  while [ ! -e "$work/stop" ] && [ "$(date +%s)" -lt "$end" ]; do
    n=$((n + 1))
    c=$(((n % 4) + 1))
    mac=$(printf '02:00:00:77:%02x:%02x' $((n / 256)) $((n % 256)))
    (
      t=$(date +%s.%N)
      got=$(ip netns exec "${prefix}c$c" sh -c "ip link set dev cli address $mac &&
        busybox udhcpc -f -q -n -t 2 -T 1 -i cli -s $work/bound.sh" 2>/dev/null | tail -n 1)
      echo "$t ${got:-FAIL}" >>"$work/probes"
    ) &
    sleep 0.5
  done
  wait
}
down_loop() {
  end=$(($(date +%s) + 120))
  while [ ! -e "$work/stop" ] && [ "$(date +%s)" -lt "$end" ]; do
    up=0
    for i in 1 2; do
      p=$(cat "$work/r$i/dhcpd.pid" 2>/dev/null || true)
      [ -n "$p" ] && kill -0 "$p" 2>/dev/null && up=$((up + 1))
    done
    [ "$up" -gt 0 ] || echo "both down at $(date +%s.%N)" >>"$work/both-down"
    sleep 0.05
  done
}
: >"$work/probes"
probe_loop &
pids="$pids $!"
down_loop &
pids="$pids $!"
sleep 3  # probes before the rollout

rc=0
t0=$(date +%s.%N)
# shellcheck disable=SC2086
ip netns exec "${prefix}mgr" "$sender" rollout run "$work/dhcp-2.fcb" $send_opts --waves 1,100% \
  --max-fail "$max_fail" --deadline 60 --fin-timeout 90 --activate-timeout 90 --no-progress --report "$work/rollout.json" \
  >"$work/rollout.log" 2>&1 || rc=$?
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
cat "$work/rollout.log"
sleep 3  # probes after the rollout
: >"$work/stop"
sleep 2.5
probes=$(wc -l <"$work/probes")
failed=$(grep -c FAIL "$work/probes" || true)
# The longest outage: from a failed probe's start to the next good probe's start.
outage=$(sort -n "$work/probes" | awk '$2 == "FAIL" { if (!f) s = $1; f = 1; next } { if (f && $1 - s > m) m = $1 - s; f = 0 } END { printf "%.1f", m }')
echo "probes: $probes, failed: $failed, longest outage ${outage} s"
[ "$probes" -ge 15 ] || fail "only $probes probes ran"
[ ! -s "$work/both-down" ] || fail "both dhcpd processes were down at once: $(head -n 1 "$work/both-down")"
awk -v o="$outage" 'BEGIN { exit !(o <= 2.0) }' || fail "a probe outage of ${outage} s (more than 2 s)"
# Every lease a probe got is in the lease file of the server that granted it.
grep -v FAIL "$work/probes" | while read -r _ ip server; do
  case $server in 192.168.77.1) i=1 ;; 192.168.77.2) i=2 ;; *) fail "probe lease $ip from unknown server '$server'" ;; esac
  grep -q "^lease $ip {" "$work/r$i/dhcpd.leases" || fail "lease $ip granted by r$i is not in its lease file"
done
wait_until 300 normal || fail "the pair is not normal after the rollout (r1: $(state 1), r2: $(state 2))"

case $mode in
rollout)
  [ "$rc" -eq 0 ] || fail "the rollout failed (exit $rc)"
  for i in 1 2; do
    grep -q "range 192.168.102.1 192.168.103.254;" "$work/r$i/dhcpd.conf" || fail "r$i: the new pool is not live"
    grep -q 'failover peer "pair": normal here and at the partner' "$work/r$i/receiver.log" ||
      fail "r$i: no health gate in its log"
  done
  # r1 was activated only after r2's FIN (the rollout's report).
  a1=$(jq -r '.hosts[] | select(.host == "r1") | .activated_at_s' "$work/rollout.json")
  f2=$(jq -r '.hosts[] | select(.host == "r2") | .result_at_s' "$work/rollout.json")
  echo "r2's FIN at $f2, r1 activated at $a1"
  awk -v a="$a1" -v f="$f2" 'BEGIN { exit !(a >= f) }' || fail "r1 was activated before r2's FIN"
  ;;
broken-secondary)
  [ "$rc" -ne 0 ] || fail "the rollout succeeded with a secondary that never returns to normal"
  grep -q "is not back to normal after" "$work/r2/receiver.log" || fail "r2's gate did not fail"
  grep -q "r1 (primary) waits for r2 (secondary) to apply, which is failed" "$work/rollout.log" ||
    fail "the rollout did not halt naming the pair"
  ! grep -q "range 192.168.102.1" "$work/r2/dhcpd.conf" || fail "r2 did not roll back"
  [ "$(cat "$work/r1/dhcpd.pid")" = "$pid1" ] || fail "r1's dhcpd was restarted"
  [ "$(cksum <"$work/r1/dhcpd.conf")" = "$conf1" ] || fail "r1's configuration changed"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode (rollout ${took} s, longest probe outage ${outage} s, $failed of $probes probes failed)"
