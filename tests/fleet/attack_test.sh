#!/bin/sh
# A hostile LAN: a namespace on the same bridge that holds no key attacks a delivery over real
# IPv6 multicast (tests/tools/attacker.cpp plays it).
#
#   attack_test.sh MODE SENDER RECEIVER ATTACKER
#
# MODE: spray-data  4 hosts, a 24 MiB file sent twice at 100 Mbit/s (2 s each): once clean,
#                   once while the attacker sprays forged DATA packets (the session's file ID,
#                   valid block and ESI, random bytes) at 20,000 packets/s onto the data group
#                   for the whole session.
#                   Every host completes byte-identical both times, drops the forged symbols on
#                   arrival (its counters say so) and never discards what it received; the
#                   attacked push takes at most 1.3x the clean one's time and wire bytes (plus
#                   1 s of slack for the time on a loaded 2-core machine).
#       junk-feedback  the same two pushes with 5 % loss towards every host (so NAKs flow) while
#                   the attacker sends 50,000 NAK-shaped packets/s to the manager's reply port:
#                   the session's ID and file ID, every other one with a real host's key ID (key
#                   IDs are public), random MAC and signature. The manager drops them on the MAC
#                   (no signature check); the attacked push completes within 1.5x the clean
#                   push's time (plus 1 s), and both pushes' manager CPU seconds are printed.
#       forge-ctrl  the same two pushes (no loss) while the attacker sends 50,000 copies of the
#                   UPDATE per second with random signatures (lines that name the manager's key
#                   and do not verify, their MAC random too) to the ctrl group: every host drops
#                   nearly all of them unverified (on the fleet key's MAC, which it learned in
#                   the clean push, or over its budget); the attacked push completes within 1.5x the clean
#                   push's time (plus 1 s), and the hosts' CPU ticks for both are printed.
#       spoof-manager  the attacker sends from the manager's own address (a LAN host can put
#                   any source address on a packet), from before the first session on: 20,000
#                   packets/s of UPDATE lines that name the manager's key with random signatures,
#                   and ROUNDs of the running session with random MACs and signatures. Two
#                   attacked pushes (the first is the hosts' first contact with this manager:
#                   they learn the fleet key from the KEYS lines under the flood), then a clean
#                   one: both attacked pushes complete within 1.5x the clean push's time (plus
#                   1 s), and the hosts drop the forged packets on their MAC.
#       encrypted   a config-files bundle whose motd holds a secret marker, made with
#                   `bundle create --encrypt` for r1-r3 only: the file holds no marker; push
#                   targets r1-r3 by itself and they install the marker; sent again as a plain
#                   file to all four, r4 (a valid key, not a recipient) refuses it with a DENY
#                   once the recipient table arrived. The attacker records every datagram of
#                   both sessions: neither its capture nor anything r4 keeps holds the marker.
#       replay      the attacker records every signed ctrl line of a rollout of a config-files
#                   bundle (UPDATE apply=hold, ACTIVATE of 2 waves, STATUS) and replays all of
#                   them every 50 ms while the next version is pushed: the push completes on
#                   every host, every host applied each version exactly once (its reload ran
#                   twice in all), and every host's log names the replayed announcement.
#       replay-flood  the attacker records every signed line of three rollouts, then replays
#                   them at 20,000 lines/s from 1,000 source addresses through a fourth: every host applies each
#                   version once; the fourth rollout within 1.5x the clean ones' time (plus
#                   1 s); the hosts' CPU for each rollout is printed.
# Exits 77 (CTest: skipped) when network namespaces cannot be made here. Cleans up on any exit.
set -eu

mode=$1 sender=$2 receiver=$3 attacker=$4
here=$(cd "$(dirname "$0")" && pwd)
prefix=fa$$
# shellcheck source=tests/fleet/bed.sh
. "$here/bed.sh"

n=4
receivers=""
# cpu_ticks: user + system clock ticks of every receiver so far
cpu_ticks() {
  t=0
  for p in $receivers; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$t"
}
"$fleet" up "$prefix" $((n + 1))  # r5: the attacker, in no inventory, with no key
"$sender" keygen --out "$work/mgr" >/dev/null
i=1
while [ "$i" -le "$n" ]; do
  "$receiver" keygen --out "$work/r$i" --name "r$i" >/dev/null
  "$sender" inventory add --inventory "$work/inv" --name "r$i" --pub "$work/r$i/host.pub" >/dev/null
  mkdir -p "$work/r$i/etc" "$work/etc"
  # In its own mount namespace, where $work/etc is the host's own directory (config-files).
  ip netns exec "${prefix}r$i" unshare -m sh -c \
    "mount --bind '$work/r$i/etc' '$work/etc' && exec '$receiver' run --name r$i --iface eth0 \
      --key '$work/r$i/host.key' --manager-pub '$work/mgr/manager.pub' \
      --spool '$work/r$i/spool' --state '$work/r$i/state'" >>"$work/r$i.log" 2>&1 &
  pids="$pids $!"
  receivers="$receivers $!"
  i=$((i + 1))
done
head -c $((24 * 1048576)) /dev/urandom >"$work/file.bin"
sleep 0.3

# attack MODE ARGS...: the attacker (tests/tools/attacker.cpp) in r5, the namespace without a
# key, logging to $work/attacker.log; its PID in $attacker_pid
attack() {
  ip netns exec "${prefix}r$((n + 1))" "$attacker" "$@" >"$work/attacker.log" 2>&1 &
  attacker_pid=$!
  pids="$pids $attacker_pid"
}
# counter NAME: the sum of a receiver counter over every host's last counters event (FC2104)
counter() {
  sum=0
  i=1
  while [ "$i" -le "$n" ]; do
    c=$(grep "FC2104 counters" "$work/r$i.log" | tail -n 1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p")
    sum=$((sum + ${c:-0}))
    i=$((i + 1))
  done
  echo "$sum"
}
# push NAME: sends the file as NAME; its report in $work/NAME.json, the manager's CPU seconds
# (user, system) and peak RSS in $work/NAME.time
push() {
  ip netns exec "${prefix}mgr" /usr/bin/time -f '%U %S %M' -o "$work/$1.time" "$sender" send "$work/file.bin" --name "$1" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --rate 100 --report "$work/$1.json" \
    --no-progress >"$work/$1.log" 2>&1 || fail "send of $1 failed"
  cat "$work/$1.log"
  i=1
  while [ "$i" -le "$n" ]; do
    cmp -s "$work/file.bin" "$work/r$i/spool/$1" || fail "r$i: $1 differs"
    i=$((i + 1))
  done
}

gone() { ! kill -0 "$1" 2>/dev/null; }
# bundle VERSION: a config-files bundle of $work/etc/motd whose reload notes each run.
bundle() {
  d=$work/b$1
  mkdir -p "$d"
  printf '[bundle]\nname = motd\nversion = %s\nkind = config-files\n[config-files]\nreload = date +%%s.%%N >> %s/etc/reloads\n' "$1" "$work" >"$d/manifest.ini"
  printf '[file:motd]\nsource = motd\ntarget = %s/etc/motd\nmode = 0644\n' "$work" >>"$d/manifest.ini"
  printf 'motd of version %s\n' "$1" >"$d/motd"
  "$sender" bundle create "$d" -o "$work/motd-$1.fcb" --key "$work/mgr/manager.key" >/dev/null
}
# rollout VERSION [OPTIONS]: a rollout of motd-VERSION in 2 waves; its seconds in $took, the
# hosts' CPU ticks it cost in $ticks
rollout() {
  c0=$(cpu_ticks) t0=$(date +%s.%N)
  # shellcheck disable=SC2086  # $2: options split on purpose
  ip netns exec "${prefix}mgr" "$sender" rollout run "$work/motd-$1.fcb" ${2:-} --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --activate-timeout 60 --no-progress --waves 1,100% >"$work/rollout-$1.log" 2>&1 ||
    fail "the rollout of version $1 failed: $(cat "$work/rollout-$1.log")"
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  ticks=$(($(cpu_ticks) - c0))
  echo "rollout of version $1: ${took} s, hosts' CPU $ticks ticks"
}

case $mode in
spray-data)
  push clean.bin
  attack spray-data --iface eth0 --seconds 30 --rate 20000
  sleep 0.5  # the attacker listens before the UPDATE goes out
  push attacked.bin
  kill "$attacker_pid" 2>/dev/null || true
  cat "$work/attacker.log"
  grep -q "spraying" "$work/attacker.log" || fail "the attacker never heard the UPDATE"
  forged=$(counter forged)
  i=1
  while [ "$i" -le "$n" ]; do
    ! grep -q "digest mismatch" "$work/r$i.log" || fail "r$i discarded a poisoned reception"
    i=$((i + 1))
  done
  [ "$forged" -gt 1000 ] || fail "the hosts dropped only $forged forged symbols"
  t0=$(jq .seconds "$work/clean.bin.json") t1=$(jq .seconds "$work/attacked.bin.json")
  w0=$(jq .wire_ratio "$work/clean.bin.json") w1=$(jq .wire_ratio "$work/attacked.bin.json")
  echo "clean: ${t0} s, wire ${w0}; attacked: ${t1} s, wire ${w1}; forged symbols dropped: $forged"
  awk -v a="$t1" -v b="$t0" 'BEGIN { exit !(a <= 1.3 * b + 1.0) }' || fail "attacked push took ${t1} s, clean ${t0} s"
  awk -v a="$w1" -v b="$w0" 'BEGIN { exit !(a <= 1.3 * b) }' || fail "attacked wire ${w1}, clean ${w0}"
  ;;
junk-feedback)
  i=1
  while [ "$i" -le "$n" ]; do "$fleet" loss "$prefix" "$i" 5; i=$((i + 1)); done
  push clean.bin
  ids=""
  i=1
  while [ "$i" -le "$n" ]; do
    id=$("$sender" fingerprint "$work/r$i/host.pub" | sed -n 's/^key-id //p')
    ids="$ids${ids:+,}$id"
    i=$((i + 1))
  done
  attack junk-feedback --iface eth0 --seconds 30 --rate 50000 --key-ids "$ids"
  sleep 0.5
  push attacked.bin
  kill "$attacker_pid" 2>/dev/null || true
  cat "$work/attacker.log"
  grep -q "junk NAKs/s" "$work/attacker.log" || fail "the attacker never heard the UPDATE"
  t0=$(jq .seconds "$work/clean.bin.json") t1=$(jq .seconds "$work/attacked.bin.json")
  dropped=$(jq .feedback_dropped "$work/attacked.bin.json")
  read -r u0 s0 m0 <"$work/clean.bin.time"
  read -r u1 s1 m1 <"$work/attacked.bin.time"
  echo "clean: ${t0} s, manager cpu ${u0}+${s0} s, RSS ${m0} KiB; attacked: ${t1} s, manager cpu ${u1}+${s1} s, RSS ${m1} KiB, ${dropped} feedback packets dropped"
  [ "$dropped" -gt 10000 ] || fail "the manager dropped only $dropped junk packets"
  awk -v a="$t1" -v b="$t0" 'BEGIN { exit !(a <= 1.5 * b + 1.0) }' || fail "attacked push took ${t1} s, clean ${t0} s"
  ;;
forge-ctrl)
  c0=$(cpu_ticks)
  push clean.bin
  c1=$(cpu_ticks)
  attack forge-ctrl --iface eth0 --seconds 30 --rate 50000
  sleep 0.5
  c2=$(cpu_ticks)
  push attacked.bin
  c3=$(cpu_ticks)
  kill "$attacker_pid" 2>/dev/null || true
  cat "$work/attacker.log"
  grep -q "forging" "$work/attacker.log" || fail "the attacker never heard the UPDATE"
  refused=$(($(counter refused) + $(counter mac_dropped)))
  t0=$(jq .seconds "$work/clean.bin.json") t1=$(jq .seconds "$work/attacked.bin.json")
  echo "clean: ${t0} s, hosts' cpu $((c1 - c0)) ticks; attacked: ${t1} s, hosts' cpu $((c3 - c2)) ticks (4 hosts, 100 ticks/s each), $refused forged lines dropped unverified"
  [ "$refused" -gt 10000 ] || fail "the hosts dropped only $refused forged lines unverified"
  awk -v a="$t1" -v b="$t0" 'BEGIN { exit !(a <= 1.5 * b + 1.0) }' || fail "attacked push took ${t1} s, clean ${t0} s"
  ;;
spoof-manager)
  mid=$("$sender" fingerprint "$work/mgr/manager.pub" | sed -n 's/^key-id //p')
  attack spoof-manager --iface eth0 --seconds 60 --rate 20000 --manager fd00:fc::1 --key-ids "$mid"
  sleep 0.5
  push attacked1.bin
  push attacked2.bin
  kill "$attacker_pid" 2>/dev/null || true
  sleep 0.2
  cat "$work/attacker.log"
  grep -q "spoofing" "$work/attacker.log" || fail "the attacker did not start"
  [ "$(grep -c "forging its ROUNDs" "$work/attacker.log")" -eq 2 ] ||
    fail "the attacker did not hear both sessions"
  push clean.bin
  dropped=$(counter mac_dropped) refused=$(counter refused)
  t0=$(jq .seconds "$work/clean.bin.json")
  t1=$(jq .seconds "$work/attacked1.bin.json") t2=$(jq .seconds "$work/attacked2.bin.json")
  echo "attacked: ${t1} s (first contact), ${t2} s; clean: ${t0} s; $dropped forged packets dropped on their MAC, $refused over the budget"
  [ "$dropped" -gt 10000 ] || fail "the hosts dropped only $dropped forged packets on their MAC"
  for t in "$t1" "$t2"; do
    awk -v a="$t" -v b="$t0" 'BEGIN { exit !(a <= 1.5 * b + 1.0) }' || fail "attacked push took ${t} s, clean ${t0} s"
  done
  ;;
encrypted)
  marker="SECRET-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  d=$work/benc
  mkdir -p "$d"
  printf '[bundle]\nname = motd\nversion = 2\nkind = config-files\n' >"$d/manifest.ini"
  printf '[file:motd]\nsource = motd\ntarget = %s/etc/motd\nmode = 0644\n' "$work" >>"$d/manifest.ini"
  printf '[file:pad]\nsource = pad\ntarget = %s/etc/pad\nmode = 0644\n' "$work" >>"$d/manifest.ini"
  printf 'motd with %s\n' "$marker" >"$d/motd"
  head -c 600000 /dev/urandom >"$d/pad"
  "$sender" bundle create "$d" -o "$work/enc.fcb" --key "$work/mgr/manager.key" --encrypt \
    --inventory "$work/inv" --hosts r1,r2,r3 | tee "$work/create.log"
  grep -q "encrypted for 3 host(s)" "$work/create.log" || fail "bundle create did not encrypt for 3 hosts"
  ! grep -aq "$marker" "$work/enc.fcb" || fail "the encrypted bundle holds the marker in clear"
  attack capture --iface eth0 --seconds 40 --out "$work/capture.bin"
  sleep 0.5
  ip netns exec "${prefix}mgr" "$sender" push "$work/enc.fcb" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 --no-progress \
    >"$work/push.log" 2>&1 || fail "the push of the encrypted bundle failed"
  cat "$work/push.log"
  grep -q "to 3 hosts" "$work/push.log" || fail "push did not target the 3 recipients only"
  for i in 1 2 3; do
    grep -q "$marker" "$work/r$i/etc/motd" || fail "r$i: the decrypted motd is not installed"
  done
  rc=0
  ip netns exec "${prefix}mgr" "$sender" send "$work/enc.fcb" --name enc-as-file.fcb \
    --inventory "$work/inv" --key "$work/mgr/manager.key" --iface eth0 --deadline 30 \
    --no-progress --report "$work/send.json" >"$work/send.log" 2>&1 || rc=$?
  cat "$work/send.log"
  [ "$rc" -ne 0 ] || fail "the send to a non-recipient exited 0"
  [ "$(jq -r '.hosts[] | select(.host=="r4") | .denied' "$work/send.json")" = true ] ||
    fail "r4 did not DENY the encrypted bundle"
  grep -q 'FC2120 refused bundle=enc-as-file.fcb reason="encrypted for 4 other key(s), not for this host' "$work/r4.log" ||
    fail "r4's log does not say why it refused"
  for i in 1 2 3; do
    cmp -s "$work/enc.fcb" "$work/r$i/spool/enc-as-file.fcb" || fail "r$i: the file differs"
  done
  sleep 1
  kill "$attacker_pid" 2>/dev/null || true
  sleep 0.2
  cat "$work/attacker.log"
  captured=$(stat -c %s "$work/capture.bin")
  bundle_size=$(stat -c %s "$work/enc.fcb")
  [ "$captured" -gt $((2 * bundle_size)) ] || fail "the capture holds only $captured bytes"
  ! grep -aq "$marker" "$work/capture.bin" || fail "the LAN capture holds the marker"
  ! grep -raq "$marker" "$work/r4" || fail "r4 keeps the marker somewhere"
  echo "the capture ($captured bytes of both sessions) and r4 hold no byte of the secret"
  ;;
replay)
  bundle 2
  bundle 3
  attack replay --iface eth0 --seconds 20
  sleep 0.5
  ip netns exec "${prefix}mgr" "$sender" rollout run "$work/motd-2.fcb" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --activate-timeout 60 --no-progress --waves 1,100% >"$work/rollout.log" 2>&1 ||
    fail "the rollout of version 2 failed"
  ip netns exec "${prefix}mgr" "$sender" push "$work/motd-3.fcb" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 --no-progress \
    >"$work/push.log" 2>&1 || fail "the push of version 3 failed while the attacker replayed"
  cat "$work/push.log"
  wait_until 50 grep -q "replaying" "$work/attacker.log" || fail "the attacker never replayed"
  sleep 2  # replays keep coming after the push: nothing may happen
  cat "$work/attacker.log"
  i=1
  while [ "$i" -le "$n" ]; do
    grep -qx 'motd of version 3' "$work/r$i/etc/motd" || fail "r$i: version 3 not installed"
    runs=$(wc -l <"$work/r$i/etc/reloads")
    [ "$runs" -eq 2 ] || fail "r$i: the reload ran $runs times, expected 2 (versions 2 and 3 once each)"
    grep -q "FC2133 replay-ignored" "$work/r$i.log" || fail "r$i: no log line names the replay"
    i=$((i + 1))
  done
  echo "every host applied versions 2 and 3 once each while the attacker replayed"
  ;;
replay-flood)
  # Issue 26, item 1, on the LAN: the attacker records every signed line of four rollouts
  # (versions 2 to 5), then, from the fifth rollout's first announcement on, replays them at
  # 20,000 lines a second from 1,000 source addresses. Every host applies each version once;
  # the fifth rollout takes at most 1.5x the clean ones (plus 1 s). (Hundreds of distinct
  # lines, a few minutes of a real fleet: budget_fleet.ReplayedGenuineLinesCostNoVerification.)
  bundle 2
  bundle 3
  bundle 4
  bundle 5
  bundle 6
  seq 1 1000 | awk '{ printf "addr add fd99::%x/128 dev eth0 nodad\n", $1 }' |
    ip -6 -n "${prefix}r$((n + 1))" -batch - || fail "cannot add the attacker's addresses"
  attack replay --iface eth0 --seconds 15 --sessions 4 --rate 20000
  sleep 0.5
  # Every signed line carries its second: the recording holds as many distinct lines as the
  # rollouts have seconds with lines in them (three rollouts of 2 s gave 9), so four rollouts,
  # each with a soak of 1 s before its second wave.
  rollout 2 "--soak 1"
  rollout 3 "--soak 1"
  rollout 4 "--soak 1"
  clean3=$took ticks3=$ticks
  rollout 5 "--soak 1"
  clean=$took ticks_clean=$ticks
  rollout 6 "--soak 1"
  attacked=$took ticks4=$ticks
  wait_until 300 gone "$attacker_pid" || fail "the attacker did not stop"
  cat "$work/attacker.log"
  lines=$(sed -n 's/^attacker: recorded \([0-9]*\) signed lines.*/\1/p' "$work/attacker.log")
  rate=$(sed -n 's/^attacker: sent .* replayed lines in .* s (\([0-9]*\)\/s)$/\1/p' "$work/attacker.log")
  [ -n "$rate" ] || fail "the attacker never replayed"
  echo "recorded $lines lines; replayed at $rate lines/s from 1,000 addresses"
  [ "$rate" -ge 16000 ] || fail "the attacker replayed only $rate lines/s"
  i=1
  while [ "$i" -le "$n" ]; do
    grep -qx 'motd of version 6' "$work/r$i/etc/motd" || fail "r$i: version 6 not installed"
    runs=$(wc -l <"$work/r$i/etc/reloads")
    [ "$runs" -eq 5 ] || fail "r$i: the reload ran $runs times, expected 5 (versions 2 to 6 once each)"
    i=$((i + 1))
  done
  replays=$(counter replays)
  verifications=$(counter verifications)
  echo "hosts: $replays replayed lines dropped before their signature, $verifications verifications in all"
  # At least an UPDATE and two ACTIVATEs of each recorded rollout.
  [ "$lines" -ge 12 ] || fail "the attacker recorded only $lines lines"
  echo "rollouts: clean ${clean3} s and ${clean} s (hosts' CPU $ticks3 and $ticks_clean ticks), under replay ${attacked} s ($ticks4 ticks)"
  awk -v a="$attacked" -v c="$clean3" -v d="$clean" 'BEGIN { m = c > d ? c : d; exit !(a <= 1.5 * m + 1) }' ||
    fail "the rollout under replay took ${attacked} s, more than 1.5x the clean ${clean3} s / ${clean} s"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode"
