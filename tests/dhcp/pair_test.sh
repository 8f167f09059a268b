#!/bin/sh
# A redundant DHCP pair rolled out over real IPv6 multicast: two servers (r1 primary, r2
# secondary / standby: a redundancy group in the inventory), each in its own namespace with a
# fleetcast receiver, both on one client LAN (a bridge) where probers ask for a lease with a
# fresh MAC every 0.5 s during the whole rollout (busybox udhcpc, four client namespaces in
# turn). The bundle is rendered per host from a template and hosts.ini; the pool grows from
# 192.168.100.1-101.254 to also 192.168.102.1-103.254.
#
#   pair_test.sh SERVER MODE SENDER RECEIVER
#
# SERVER: dhcpd   an ISC dhcpd failover pair (failover peer "pair", OMAPI on 7911; the
#                 failover statement differs per host)
#         kea4    two kea-dhcp4 with libdhcp_ha.so in hot-standby (r1 primary, r2 standby) and
#                 libdhcp_lease_cmds.so, the HA peers talking over the hook's own HTTP listener
#                 on :8001 (this-server-name, control socket and lease file differ per host)
# MODE: rollout   `rollout plan` puts r2 in wave 1 and r1 in wave 2 (and refuses a single wave
#                 without --force); the rollout applies both, r2 first, r1 activated only after
#                 r2's FIN; the health gate in each FIN; never both server processes down at
#                 once; no probe outage longer than 2 s; both peers back in their normal state
#                 afterwards; every lease a probe got is still in the lease database of the
#                 server that granted it; the new pool is in both live configurations.
#       broken-secondary  a change that keeps r2 from ever finding its partner (dhcpd: r2 moves
#                 to ports r1 does not use; kea4: r2's URL for r1 names a port nobody listens
#                 on): r2's health gate fails (dhcpd: after 15 s; kea4: 10 s after config-set,
#                 its HA never finds the partner again) and it rolls back by itself; the
#                 rollout halts (with --max-fail 1: the pair's rule halts it, not the failure
#                 count); r1's server process and configuration were never changed and the pair
#                 served throughout.
#       harden-push  the same bundle by `push` instead of a rollout (issue 26, item 8): push sees
#                 the pair in the inventory and applies r2, then r1 after r2's FIN, with the
#                 same guarantees as `rollout`: never both down, no probe outage over 2 s.
# Exits 77 (CTest: skipped) where namespaces, the server or the tools are missing. Cleans up on
# any exit.
set -eu

server=$1 mode=$2 sender=$3 receiver=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
fleet=$top/tests/fleet/fleet.sh
# shellcheck source=tests/wait.sh
. "$top/tests/wait.sh"
# shellcheck source=tests/dhcp/needs.sh
. "$here/needs.sh"
# shellcheck source=tests/dhcp/lan.sh
. "$here/lan.sh"
needs_namespaces "$fleet"
case $server in
dhcpd) tools="dhcpd omshell busybox" ;;
kea4) tools="kea-dhcp4 socat curl jq busybox" ;;
*) echo "unknown server $server"; exit 2 ;;
esac
# shellcheck disable=SC2086  # a list of tool names
needs_tools $tools

prefix=fp$$
work=$(mktemp -d)
lan=${prefix}lan
pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  for f in "$work"/r?/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
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
  for f in "$work"/r?/kea4.log; do
    [ -f "$f" ] && { echo "--- $f: HA"; grep -E "HA_STATE_TRANSITION|HA_MAINT|command 'ha-maint" "$f" | cut -c12-23,60-200 | tail -n 30; }
  done
  exit 1
}

# --- the fleet (manager, r1, r2) and the client LAN: a bridge joining r1, r2 and the clients --
"$fleet" up "$prefix" 2
ip netns add "$lan"
ip -n "$lan" link add br0 type bridge
ip -n "$lan" link set br0 up
# plug NS IFNAME ADDRESS: a veth from NS (named IFNAME there) to the LAN bridge.
plug() { lan_plug "$lan" "$@" || fail "$1: $2 has no carrier"; }
plug "${prefix}r1" lan0 192.168.77.1/16
plug "${prefix}r2" lan0 192.168.77.2/16
for c in c1 c2 c3 c4 p; do
  ip netns add "${prefix}$c"
  plug "${prefix}$c" cli ""
done

bound_script "$work/bound.sh"

# --- the pair: one configuration rendered per host from a template ----------------------------
mkdir -p "$work/r1" "$work/r2" "$work/b1"
old_from=192.168.100.1 old_to=192.168.101.254 new_from=192.168.102.1 new_to=192.168.103.254
if [ "$server" = dhcpd ]; then
  pools_old="    range $old_from $old_to;"
  pools_new="$pools_old
    range $new_from $new_to;"
  # template POOLS: dhcpd.conf with the per-host failover statement as {{ failover }}.
  template() {
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
  values1="failover=primary; address 192.168.77.1; port 647; peer address 192.168.77.2; peer port 847; mclt 60; split 128"
  values2="failover=secondary; address 192.168.77.2; port 847; peer address 192.168.77.1; peer port 647"
  broken2="failover=secondary; address 192.168.77.2; port 848; peer address 192.168.77.1; peer port 648"
  conf_name=dhcpd.conf
else
  pools_old="{ \"pool\": \"$old_from - $old_to\" }"
  pools_new="$pools_old, { \"pool\": \"$new_from - $new_to\" }"
  template() {
    cat <<EOF
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "lan0" ], "dhcp-socket-type": "raw" },
  "control-socket": { "socket-type": "unix", "socket-name": "{{ socket }}" },
  "lease-database": { "type": "memfile", "persist": true, "name": "{{ leases }}", "lfc-interval": 0 },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 16 },
  "valid-lifetime": 600,
  "hooks-libraries": [
    { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" },
    { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so", "parameters": { "high-availability": [ {
      "this-server-name": "{{ name }}", "mode": "hot-standby", "heartbeat-delay": 1000,
      "max-response-delay": 3000, "max-ack-delay": 1000, "max-unacked-clients": 0, "sync-timeout": 10000,
      "multi-threading": { "enable-multi-threading": true, "http-dedicated-listener": true,
                           "http-listener-threads": 1, "http-client-threads": 1 },
      "peers": [
        { "name": "r1", "url": "{{ r1_url }}", "role": "primary", "auto-failover": true },
        { "name": "r2", "url": "http://192.168.77.2:8001/", "role": "standby", "auto-failover": true } ] } ] } } ],
  "subnet4": [ { "id": 1, "subnet": "192.168.0.0/16", "pools": [ $1 ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" } ]
} }
EOF
  }
  values1="name=r1 socket=$work/r1/kea4.sock leases=$work/r1/leases4.csv r1_url=http://192.168.77.1:8001/"
  values2="name=r2 socket=$work/r2/kea4.sock leases=$work/r2/leases4.csv r1_url=http://192.168.77.1:8001/"
  broken2="name=r2 socket=$work/r2/kea4.sock leases=$work/r2/leases4.csv r1_url=http://192.168.77.1:8009/"
  conf_name=kea4.json
fi
template "$pools_old" >"$work/live.tmpl"
for i in 1 2; do
  d=$work/r$i
  if [ "$server" = dhcpd ]; then
    if [ "$i" = 1 ]; then echo "$values1"; else echo "$values2"; fi | render "$work/live.tmpl" >"$d/dhcpd.conf"
    : >"$d/dhcpd.leases"
    start="dhcpd -4 -q -cf $d/dhcpd.conf -lf $d/dhcpd.leases -pf $d/dhcpd.pid lan0"
    ip netns exec "${prefix}r$i" sh -c "$start" || fail "dhcpd r$i does not start"
    printf '[host]\ndhcpd-conf = %s\ndhcpd-leases = %s\ndhcpd-pid = %s\ndhcpd-start = %s\n' \
      "$d/dhcpd.conf" "$d/dhcpd.leases" "$d/dhcpd.pid" "$start" >"$work/r$i.ini"
  else
    # The values, split on purpose (no spaces inside), one per line.
    if [ "$i" = 1 ]; then echo "$values1"; else echo "$values2"; fi | tr ' ' '\n' |
      render "$work/live.tmpl" >"$d/kea4.json"
    echo 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context' >"$d/leases4.csv"
    start="KEA_PIDFILE_DIR=$d KEA_LOCKFILE_DIR=$d setsid kea-dhcp4 -c $d/kea4.json >>$d/kea4.log 2>&1 &"
    ip netns exec "${prefix}r$i" sh -c "$start"
    printf '[host]\nkea-conf = %s\nkea-leases = %s\nkea-socket = %s\nkea-start = %s\n' \
      "$d/kea4.json" "$d/leases4.csv" "$d/kea4.sock" "$start" >"$work/r$i.ini"
  fi
  # The host's own probe: a lease on the spare client namespace (the hosts verify one at a time).
  printf 'dhcp-probe = ip netns exec %s sh -c %s\n' "${prefix}p" \
    "'ip link set dev cli address 02:00:00:99:00:0$i && busybox udhcpc -f -q -n -t 4 -T 1 -i cli -s $work/bound.sh | cut -d\" \" -f1'" \
    >>"$work/r$i.ini"
done
# state I: r I's view of the pair: dhcpd "LOCAL PARTNER" failover state numbers (2 = normal);
# kea4 its HA state and the partner's last state.
state() {
  if [ "$server" = dhcpd ]; then
    failover_state "${prefix}r$1"
  else
    echo '{ "command": "status-get" }' | socat -t 5 - "UNIX-CONNECT:$work/r$1/kea4.sock" 2>/dev/null |
      jq -r '.arguments["high-availability"][0]["ha-servers"] | "\(.local.state) \(.remote["last-state"])"' 2>/dev/null
  fi
}
if [ "$server" = dhcpd ]; then normal_state="2 2"; else normal_state="hot-standby hot-standby"; fi
normal() { [ "$(state 1)" = "$normal_state" ] && [ "$(state 2)" = "$normal_state" ]; }
# pid_of I: the server process of r I (its pid file)
pid_of() {
  if [ "$server" = dhcpd ]; then cat "$work/r$1/dhcpd.pid" 2>/dev/null; else cat "$work/r$1/kea4.kea-dhcp4.pid" 2>/dev/null; fi
}
wait_until 300 normal || fail "the pair does not reach its normal state (r1: $(state 1), r2: $(state 2))"
echo "pair normal: r1 $(state 1), r2 $(state 2)"
pid1=$(pid_of 1) conf1=$(cksum <"$work/r1/$conf_name")

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
if [ "$server" = dhcpd ]; then service=dhcpd role2=secondary; else service=kea role2=standby; fi
"$sender" inventory redundancy --inventory "$work/inv" --name pair --service "$service" \
  --member r1=primary --member r2="$role2" | tee "$work/inv.log"
grep -q "$service pair: r2 ($role2) then r1 (primary)" "$work/inv.log" || fail "inventory redundancy"

# --- the bundle: the new pool, the per-host values in hosts.ini ------------------------------
b=$work/b1
if [ "$mode" = broken-secondary ]; then
  v2=$broken2
  timeout_key=failover-timeout
  [ "$server" = kea4 ] && timeout_key=ha-timeout
  extra="$timeout_key = 15"
  max_fail=1  # tolerated: the redundancy rule halts the rollout, not the failure count
else
  v2=$values2 extra="" max_fail=0
fi
template "$pools_new" >"$b/server.conf.tmpl"
# hosts.ini: one section per host, its key=value pairs one per line.
hosts_ini() {
  printf '[r%s]\n' "$1"
  if [ "$server" = dhcpd ]; then
    printf '%s\n' "$2" | sed 's/^failover=/failover = /'
  else
    for kv in $2; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
  fi
}
{ hosts_ini 1 "$values1"; hosts_ini 2 "$v2"; } >"$b/hosts.ini"
{
  printf '[bundle]\nname = school-dhcp\nversion = 2\nkind = dhcp-server\n[dhcp-server]\nserver = %s\nconfig = server.conf\n' "$server"
  [ -z "$extra" ] || printf '%s\n' "$extra"
} >"$b/manifest.ini"
"$sender" bundle create "$b" -o "$work/dhcp-2.fcb" --key "$work/mgr/manager.key" >"$work/create.log" 2>&1 ||
  fail "bundle create"

send_opts="--inventory $work/inv --key $work/mgr/manager.key --iface eth0"
# shellcheck disable=SC2086  # send_opts is split on purpose
if ip netns exec "${prefix}mgr" "$sender" rollout plan "$work/dhcp-2.fcb" $send_opts --waves 100% \
  >"$work/plan1.log" 2>&1; then
  fail "rollout plan accepted both peers of the pair in one wave"
fi
grep -q "$service group pair: r1 (primary) would be in wave 1 with or before r2 ($role2)" "$work/plan1.log" ||
  fail "the refusal does not name the group and hosts"
# shellcheck disable=SC2086
ip netns exec "${prefix}mgr" "$sender" rollout plan "$work/dhcp-2.fcb" $send_opts --waves 1,100% \
  >"$work/plan.log" 2>&1 || fail "rollout plan"
cat "$work/plan.log"
grep -q "wave 1 canary (1, tolerates 0): r2$" "$work/plan.log" || fail "r2 is not wave 1"
grep -q "wave 2 (1, tolerates 0): r1$" "$work/plan.log" || fail "r1 is not wave 2"

# --- watchers: probers on the client LAN, and whether both server processes are down ----------
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
      p=$(pid_of "$i" || true)
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
if [ "$mode" = harden-push ]; then
  # shellcheck disable=SC2086
  ip netns exec "${prefix}mgr" "$sender" push "$work/dhcp-2.fcb" $send_opts --deadline 60 \
    --fin-timeout 90 --no-progress --report "$work/rollout.json" --state "$work/state" \
    >"$work/rollout.log" 2>&1 || rc=$?
else
  # shellcheck disable=SC2086
  ip netns exec "${prefix}mgr" "$sender" rollout run "$work/dhcp-2.fcb" $send_opts --waves 1,100% \
    --max-fail "$max_fail" --deadline 60 --fin-timeout 90 --activate-timeout 90 --no-progress --report "$work/rollout.json" \
    --state "$work/state" >"$work/rollout.log" 2>&1 || rc=$?
fi
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
[ ! -s "$work/both-down" ] || fail "both server processes were down at once: $(head -n 1 "$work/both-down")"
awk -v o="$outage" 'BEGIN { exit !(o <= 2.0) }' || fail "a probe outage of ${outage} s (more than 2 s)"
# Every lease a probe got is in the lease database of the server that granted it.
grep -v FAIL "$work/probes" | while read -r _ ip by; do
  case $by in 192.168.77.1) i=1 ;; 192.168.77.2) i=2 ;; *) fail "probe lease $ip from unknown server '$by'" ;; esac
  if [ "$server" = dhcpd ]; then
    grep -q "^lease $ip {" "$work/r$i/dhcpd.leases" || fail "lease $ip granted by r$i is not in its lease file"
  else
    grep -q "^$ip," "$work/r$i/leases4.csv" || fail "lease $ip granted by r$i is not in its lease file"
  fi
done
wait_until 300 normal || fail "the pair is not back to normal after the rollout (r1: $(state 1), r2: $(state 2))"

case $mode in
harden-push)
  [ "$rc" -eq 0 ] || fail "the push failed (exit $rc)"
  grep -q "members of a redundancy group are applied one at a time" "$work/rollout.log" ||
    fail "push does not say it applies the pair in turns"
  for i in 1 2; do grep -q "$new_from" "$work/r$i/$conf_name" || fail "r$i: the new pool is not live"; done
  a1=$(jq -r '.hosts[] | select(.host == "r1") | .activated_at_s' "$work/rollout.json")
  f2=$(jq -r '.hosts[] | select(.host == "r2") | .result_at_s' "$work/rollout.json")
  echo "r2's FIN at $f2, r1 activated at $a1"
  awk -v a="$a1" -v f="$f2" 'BEGIN { exit !(a >= f) }' || fail "r1 was activated before r2's FIN"
  ;;
rollout)
  [ "$rc" -eq 0 ] || fail "the rollout failed (exit $rc)"
  if [ "$server" = dhcpd ]; then gate='failover peer .*pair.*: normal here and at the partner'; else gate='kea HA: hot-standby here and at the partner'; fi
  for i in 1 2; do
    grep -q "$new_from" "$work/r$i/$conf_name" || fail "r$i: the new pool is not live"
    grep -q "$gate" "$work/r$i/receiver.log" || fail "r$i: no health gate in its log"
  done
  # r1 was activated only after r2's FIN (the rollout's report).
  a1=$(jq -r '.hosts[] | select(.host == "r1") | .activated_at_s' "$work/rollout.json")
  f2=$(jq -r '.hosts[] | select(.host == "r2") | .result_at_s' "$work/rollout.json")
  echo "r2's FIN at $f2, r1 activated at $a1"
  awk -v a="$a1" -v f="$f2" 'BEGIN { exit !(a >= f) }' || fail "r1 was activated before r2's FIN"
  # The FINs reported the leases the probes hold (in the old pool). A next version that keeps
  # only the new pool is refused by the DHCP lint before anything is sent, unless it says
  # keep-old-ranges = yes.
  grep -q "leases: [1-9][0-9]* active (192.168.10[01]" "$work/r1/receiver.log" || fail "r1's FIN reports no leases"
  b3=$work/b3
  mkdir -p "$b3"
  template "$(if [ "$server" = dhcpd ]; then echo "    range $new_from $new_to;"; else echo "{ \"pool\": \"$new_from - $new_to\" }"; fi)" >"$b3/server.conf.tmpl"
  cp "$b/hosts.ini" "$b3/hosts.ini"
  sed 's/^version = 2/version = 3/' "$b/manifest.ini" >"$b3/manifest.ini"
  "$sender" bundle create "$b3" -o "$work/dhcp-3.fcb" --key "$work/mgr/manager.key" >/dev/null 2>&1 || fail "bundle create v3"
  # shellcheck disable=SC2086
  if "$sender" bundle lint "$work/dhcp-3.fcb" $send_opts --state "$work/state" >"$work/lint3.log" 2>&1; then
    fail "bundle lint accepted a version that drops the pool with the reported leases"
  fi
  cat "$work/lint3.log"
  grep -q "REFUSED: r1 reported [0-9]* active lease(s) (.*); its new configuration has no range holding 192.168.10[01]" "$work/lint3.log" ||
    fail "the lint does not name r1's reported leases"
  # shellcheck disable=SC2086
  if ip netns exec "${prefix}mgr" "$sender" rollout plan "$work/dhcp-3.fcb" $send_opts --waves 1,100% \
    --state "$work/state" >"$work/plan3.log" 2>&1; then
    fail "rollout plan accepted it"
  fi
  grep -q "the DHCP lint refuses" "$work/plan3.log" || fail "rollout plan does not say why"
  printf 'keep-old-ranges = yes\n' >>"$b3/manifest.ini"
  "$sender" bundle create "$b3" -o "$work/dhcp-3k.fcb" --key "$work/mgr/manager.key" >/dev/null 2>&1 || fail "bundle create v3k"
  # shellcheck disable=SC2086
  "$sender" bundle lint "$work/dhcp-3k.fcb" $send_opts --state "$work/state" >"$work/lint3k.log" 2>&1 ||
    fail "bundle lint refused keep-old-ranges = yes: $(cat "$work/lint3k.log")"
  grep -q "lint note: r1 reported .*keep-old-ranges" "$work/lint3k.log" || fail "no note on the kept leases"
  ;;
broken-secondary)
  [ "$rc" -ne 0 ] || fail "the rollout succeeded with a secondary that never returns to normal"
  grep -qE "not back to .* after|does not find its partner after the change" "$work/r2/receiver.log" ||
    fail "r2's health gate did not fail"
  grep -q "r1 (primary) waits for r2 ($role2) to apply, which is failed" "$work/rollout.log" ||
    fail "the rollout did not halt naming the pair"
  ! grep -q "$new_from" "$work/r2/$conf_name" || fail "r2 did not roll back"
  [ "$(pid_of 1)" = "$pid1" ] || fail "r1's server process was restarted"
  [ "$(cksum <"$work/r1/$conf_name")" = "$conf1" ] || fail "r1's configuration changed"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $server $mode (rollout ${took} s, longest probe outage ${outage} s, $failed of $probes probes failed)"
