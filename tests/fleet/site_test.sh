#!/bin/sh
# Schools behind routers (tests/fleet/sites.sh): the manager on the center's LAN, 3 schools of
# 3 hosts, each school one IPv6 router away. A rollout in waves (--waves 1,3,100%) of a
# config-files bundle (a motd and 2 MiB of padding) to all 9 hosts; every receiver runs in its
# own mount namespace where $work/etc is its own directory (as in rollout_test.sh).
#
#   site_test.sh MODE SENDER RECEIVER [ATTACKER [DELAY_FORWARDER]]
#
# MODE: routed      the routers forward the groups (sites.sh mcast): every host applied once
#       routed-ssm  the same with the data on a source-specific group (ff35::f1ee:2)
#       relay       no multicast on the WAN; host r1 of each school is its site's relay
#                   (inventory `site`, receiver --relay-port): every host applied once, and
#                   each router received at most 1.15 x the bundle from the WAN (one copy per
#                   site), printed per site with the relays' counters
#       relay-loss  the same with 5 % loss on every WAN link and 5 % towards every school host:
#                   every host applied once, the relays repaired their LANs (their counters),
#                   WAN bytes per site printed (each site carries its own repairs only)
#       relay-delay  relay-loss with 40 ms of WAN latency: each router passes the manager's
#                   frames to its relay through tests/tools/delay_forwarder (the kernel has no
#                   netem), so data, repairs and the NAKs passed on arrive 40 ms late; every
#                   host applied once, WAN bytes per site printed
#       relay-kill  school 1's relay is SIGKILLed during the distribution (at 8 Mbit/s) and
#                   started again 2 s later: every host applied exactly once (what school 1
#                   missed meanwhile is repaired through the relay: its WAN bytes are printed)
#       relay-forged  during the rollout a keyless host on school 2's LAN sprays forged data
#                   into the session (ATTACKER spray-data), and on school 3's LAN a relay that
#                   serves another manager's key multicasts that manager's session to school 3's
#                   hosts: the hosts drop both (their counters say so), the rollout completes,
#                   the other manager's push reaches none of school 3's hosts (its relay only)
# Exits 77 (CTest: skipped) when network namespaces cannot be made here. Cleans up on any exit.
set -eu

mode=$1 sender=$2 receiver=$3 attacker=${4:-} delayer=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
prefix=fs$$
sites=$here/sites.sh
topology=$sites
# shellcheck source=tests/fleet/bed.sh
. "$here/bed.sh"
command -v unshare >/dev/null || { echo "SKIP: unshare is missing"; exit 77; }

schools=3 n=3
"$sites" up "$prefix" "$schools" "$n"
"$sender" keygen --out "$work/mgr" >/dev/null
mkdir -p "$work/etc"

relayed=0
case $mode in relay*) relayed=1 ;; esac

# start_receiver S I: host rI of school S.
start_receiver() {
  h=s$1r$2
  extra=""
  [ "$relayed" -eq 1 ] && [ "$2" -eq 1 ] && extra="--relay-port 4713"
  ip netns exec "${prefix}$h" unshare -m sh -c \
    "mount --bind '$work/$h/etc' '$work/etc' && exec '$receiver' run --name $h --iface eth0 \
      --key '$work/$h/host.key' --manager-pub '$work/mgr/manager.pub' \
      --spool '$work/$h/spool' --state '$work/$h/state' $extra" >>"$work/$h.log" 2>&1 &
  pids="$pids $!"
  eval "receiver_pid_$h=$!"
}

s=1
while [ "$s" -le "$schools" ]; do
  [ "$relayed" -eq 1 ] || "$sites" mcast "$prefix" "$s"
  members=""
  i=1
  while [ "$i" -le "$n" ]; do
    h=s${s}r$i
    "$receiver" keygen --out "$work/$h" --name "$h" >/dev/null
    "$sender" inventory add --inventory "$work/inv" --name "$h" --pub "$work/$h/host.pub" \
      --group "school$s" >/dev/null
    mkdir -p "$work/$h/etc"
    printf 'motd of %s before the rollout\n' "$h" >"$work/$h/etc/motd"
    start_receiver "$s" "$i"
    members="$members${members:+,}$h"
    i=$((i + 1))
  done
  if [ "$relayed" -eq 1 ]; then
    relay_at=fd00:fc:$s::65
    if [ "$mode" = relay-delay ]; then  # through the router's delay forwarder
      [ -x "$delayer" ] || fail "relay-delay needs the delay forwarder"
      relay_at=fd00:fc::$(printf %x $((200 + s)))
      ip netns exec "${prefix}g$s" "$delayer" "[$relay_at]:4713" "[fd00:fc:$s::65]:4713" 40 170 \
        >"$work/delay$s.log" 2>&1 &
      pids="$pids $!"
    fi
    # shellcheck disable=SC2046  # one --member per host
    "$sender" inventory site --inventory "$work/inv" --name "school$s" --relay "s${s}r1" \
      --address "$relay_at" --uplink 100 $(printf ' --member %s' $(echo "$members" | tr , ' ')) \
      >/dev/null
  fi
  s=$((s + 1))
done
sleep 0.3

if [ "$mode" = relay-loss ] || [ "$mode" = relay-delay ]; then
  s=1
  while [ "$s" -le "$schools" ]; do
    "$sites" wanloss "$prefix" "$s" 5
    i=1
    while [ "$i" -le "$n" ]; do "$sites" lanloss "$prefix" "$s" "$i" 5; i=$((i + 1)); done
    s=$((s + 1))
  done
fi

d=$work/b
mkdir -p "$d"
printf '[bundle]\nname = motd\nversion = 2\nkind = config-files\n[config-files]\nreload = date +%%s.%%N >> %s/etc/reloads\n' "$work" >"$d/manifest.ini"
printf '[file:motd]\nsource = motd\ntarget = %s/etc/motd\nmode = 0644\n' "$work" >>"$d/manifest.ini"
printf '[file:pad]\nsource = pad\ntarget = %s/etc/pad\nmode = 0644\n' "$work" >>"$d/manifest.ini"
printf 'motd of version 2\n' >"$d/motd"
head -c 2097152 /dev/urandom >"$d/pad"
"$sender" bundle create "$d" -o "$work/motd-2.fcb" --key "$work/mgr/manager.key" >/dev/null
size=$(stat -c %s "$work/motd-2.fcb")

wan_before=""
s=1
while [ "$s" -le "$schools" ]; do
  wan_before="$wan_before $("$sites" wanbytes "$prefix" "$s")"
  s=$((s + 1))
done

extra=""
case $mode in
routed-ssm) extra="--data-group ff35::f1ee:2" ;;
relay-kill) extra="--rate 8" ;;
esac
# shellcheck disable=SC2086  # $extra: options split on purpose
ip netns exec "${prefix}mgr" "$sender" rollout run "$work/motd-2.fcb" --inventory "$work/inv" \
  --key "$work/mgr/manager.key" --iface eth0 --deadline 120 --fin-timeout 60 \
  --activate-timeout 60 --no-progress --state "$work/mstate" --waves 1,3,100% $extra \
  >"$work/rollout.log" 2>&1 &
manager=$!
pids="$pids $manager"

gone() { ! kill -0 "$1" 2>/dev/null; }
case $mode in
relay-kill)
  wait_until 300 grep -q "distributing" "$work/rollout.log" || fail "the distribution never started"
  sleep 0.5
  eval "kill -9 \$receiver_pid_s1r1"
  echo "SIGKILLed school 1's relay during the distribution"
  sleep 2
  start_receiver 1 1
  echo "school 1's relay is back"
  ;;
relay-forged)
  [ -x "$attacker" ] || fail "relay-forged needs the attacker program"
  # A keyless host on school 2's LAN, and a relay of another manager on school 3's.
  "$sites" host "$prefix" 2 4
  ip netns exec "${prefix}s2r4" "$attacker" spray-data --iface eth0 --seconds 20 --rate 5000 \
    >"$work/attacker.log" 2>&1 &
  pids="$pids $!"
  "$sites" host "$prefix" 3 4
  "$sender" keygen --out "$work/rogue" >/dev/null
  "$receiver" keygen --out "$work/s3r4" --name s3r4 >/dev/null
  ip netns exec "${prefix}s3r4" "$receiver" run --name s3r4 --iface eth0 \
    --key "$work/s3r4/host.key" --manager-pub "$work/rogue/manager.pub" \
    --spool "$work/s3r4/spool" --state "$work/s3r4/state" --relay-port 4713 \
    >"$work/s3r4.log" 2>&1 &
  pids="$pids $!"
  for h in s3r1 s3r2 s3r3 s3r4; do
    "$sender" inventory add --inventory "$work/rogue-inv" --name "$h" --pub "$work/$h/host.pub" >/dev/null
  done
  printf 'site school3 relay=s3r4 address=fd00:fc:3::68 hosts=s3r1,s3r2,s3r3\n' >>"$work/rogue-inv"
  wait_until 300 grep -q "distributing" "$work/rollout.log" || fail "the distribution never started"
  head -c 1048576 /dev/urandom >"$work/rogue.bin"
  rogue_rc=0
  ip netns exec "${prefix}mgr" "$sender" send "$work/rogue.bin" --inventory "$work/rogue-inv" \
    --key "$work/rogue/manager.key" --iface eth0 --reply-port 4799 --no-progress \
    --registration-timeout 3000 --deadline 6 >"$work/rogue.log" 2>&1 || rogue_rc=$?
  cat "$work/rogue.log"
  [ "$rogue_rc" -ne 0 ] || fail "the other manager's push succeeded"
  grep -q "^s3r4 .*completed" "$work/rogue.log" || fail "the other manager's relay did not serve its session"
  for h in s3r1 s3r2 s3r3; do
    grep -q "^$h .*silent" "$work/rogue.log" || fail "$h answered the other manager"
  done
  ;;
esac

wait_until 1800 gone "$manager" || fail "the rollout did not end within 180 s"
rc=0
wait "$manager" || rc=$?
cat "$work/rollout.log"
[ "$rc" -eq 0 ] || fail "rollout exited $rc"

s=1
# shellcheck disable=SC2086  # one field per school
set -- $wan_before
while [ "$s" -le "$schools" ]; do
  i=1
  while [ "$i" -le "$n" ]; do
    h=s${s}r$i
    grep -qx "motd of version 2" "$work/$h/etc/motd" || fail "$h: motd not installed"
    lines=$(wc -l <"$work/$h/etc/reloads")
    [ "$lines" -eq 1 ] || fail "$h: applied $lines times"
    i=$((i + 1))
  done
  wan=$(($("$sites" wanbytes "$prefix" "$s") - $1))
  shift
  ratio=$(awk -v w="$wan" -v b="$size" 'BEGIN { printf "%.3f", w / b }')
  echo "school$s: $wan bytes from the WAN for a $size-byte bundle ($ratio x)"
  if [ "$mode" = relay ]; then
    awk -v r="$ratio" 'BEGIN { exit !(r <= 1.15) }' || fail "school$s: the WAN carried $ratio x the bundle"
  fi
  if [ "$mode" = relay-kill ] && [ "$s" -gt 1 ]; then  # school 1's repairs stay off their WAN
    awk -v r="$ratio" 'BEGIN { exit !(r <= 1.3) }' || fail "school$s: the WAN carried $ratio x the bundle"
  fi
  # (relay-kill: school 1's repairs; relay-forged: the other manager's session to school 3)
  if [ "$mode" = relay ] || [ "$mode" = relay-loss ] || [ "$mode" = relay-delay ] ||
    [ "$mode" = "${mode#relay}" ]; then
    awk -v r="$ratio" 'BEGIN { exit !(r < 1.6) }' || fail "school$s: more than one copy on the WAN ($ratio x)"
  fi
  s=$((s + 1))
done

if [ "$relayed" -eq 1 ]; then  # each host's site and relay, from the stored plan
  "$sender" rollout status --state "$work/mstate" | tee "$work/rs.log"
  grep -qE '^  s2r3 +3 +applied .*school2 \(relay s2r1\)' "$work/rs.log" || fail "rollout status does not show s2r3's site"
  "$sender" rollout status --state "$work/mstate" --json >"$work/rs.json"
  jq -e '[.hosts[] | select(.site == "school3 (relay s3r1)")] | length == 3' "$work/rs.json" >/dev/null ||
    fail "rollout status --json does not show the sites: $(cat "$work/rs.json")"
fi
if [ "$mode" = relay-loss ]; then
  grep -q "passed to it, repaired on its LAN" "$work/rollout.log" || fail "no NAK was passed to a relay"
fi
if [ "$relayed" -eq 1 ]; then
  # The relays' counters as they stop: forwarded, and repaired on their LANs.
  s=1
  while [ "$s" -le "$schools" ]; do
    eval "kill -TERM \$receiver_pid_s${s}r1"
    s=$((s + 1))
  done
  s=1 repaired=0
  while [ "$s" -le "$schools" ]; do
    wait_until 50 grep -q FC2102 "$work/s${s}r1.log" || fail "school $s's relay did not stop"
    last=$(grep 'FC2107' "$work/s${s}r1.log" | tail -n 1)
    echo "school$s's relay: $last"
    packets=$(printf '%s' "$last" | grep -o 'repair_packets=[0-9]*' | cut -d= -f2)
    repaired=$((repaired + ${packets:-0}))
    s=$((s + 1))
  done
  if [ "$mode" = relay-loss ]; then
    [ "$repaired" -gt 0 ] || fail "no relay repaired its LAN"
  fi
fi
if [ "$mode" = relay-forged ]; then
  counter() {  # counter HOST FIELD: the last value of FIELD in the host's counters
    grep -o "$2=[0-9]*" "$work/$1.log" | tail -n 1 | cut -d= -f2
  }
  grep -q "spraying" "$work/attacker.log" || fail "the attacker never heard the UPDATE"
  forged=0
  for h in s2r2 s2r3 s3r2 s3r3; do
    kill -TERM "$(eval "echo \$receiver_pid_$h")"
  done
  sleep 0.5
  for h in s2r2 s2r3; do
    f=$(grep -o 'forged=[0-9]*' "$work/$h.log" | tail -n 1 | cut -d= -f2)
    forged=$((forged + ${f:-0}))
  done
  echo "school 2: the hosts dropped $forged forged symbols"
  [ "$forged" -gt 10 ] || fail "school 2's hosts dropped only $forged forged symbols"
  for h in s3r2 s3r3; do
    grep 'FC2104' "$work/$h.log" | tail -n 1 | grep -q 'drop_ctrl="[^"]*not-ours=' ||
      fail "$h did not drop the other manager's lines: $(grep FC2104 "$work/$h.log" | tail -n 1)"
    if find "$work/$h/spool" -name 'rogue*' | grep -q .; then fail "$h kept the other manager's file"; fi
  done
  echo "the other manager's relay on school 3's LAN: $(grep FC2107 "$work/s3r4.log" | tail -n 1)"
fi
echo "PASS: $mode"
