#!/bin/sh
# Big bundles with the default options, over real IPv6 multicast between namespaces.
#
#   big_test.sh MODE SENDER RECEIVER
#
# MODE: gib       a 1 GiB file (sparse: zeros, so the test stays fast on disk) sent with the
#                 defaults to 2 hosts, r2 started 10 s after the first announcement: the
#                 first announcements go out before the file's digest (r1 receives and learns
#                 it from a later copy of the UPDATE), r2 joins the running session later than
#                 r1, and both hold the file byte-identical
#       silent    a send to 2 hosts that never run: it gives up after the registration window
#                 and says why, naming both hosts
# Exits 77 (CTest: skipped) when network namespaces cannot be made here. Cleans up on any exit.
set -eu

mode=$1 sender=$2 receiver=$3
here=$(cd "$(dirname "$0")" && pwd)
prefix=fg$$
# shellcheck source=tests/fleet/bed.sh
. "$here/bed.sh"

"$fleet" up "$prefix" 2
"$sender" keygen --out "$work/mgr" >/dev/null
for i in 1 2; do
  "$receiver" keygen --out "$work/r$i" --name "r$i" >/dev/null
  "$sender" inventory add --inventory "$work/inv" --name "r$i" --pub "$work/r$i/host.pub" >/dev/null
done
start_receiver() {
  ip netns exec "${prefix}r$1" "$receiver" run --name "r$1" --iface eth0 \
    --key "$work/r$1/host.key" --manager-pub "$work/mgr/manager.pub" --spool "$work/r$1/spool" \
    --state "$work/r$1/state" --exit-after 1 >>"$work/r$1.log" 2>&1 &
  pids="$pids $!"
}

case $mode in
gib)
  truncate -s 1G "$work/file.bin"
  start_receiver 1
  sleep 0.3
  t0=$(date +%s)
  ip netns exec "${prefix}mgr" "$sender" send "$work/file.bin" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --report "$work/report.json" --no-progress \
    >"$work/sender.log" 2>&1 &
  sender_pid=$!
  pids="$pids $sender_pid"
  # r2 starts 10 s after the first announcement reached r1: it joins the running session.
  wait_until 900 grep -q "FC2110 receiving bundle=file.bin" "$work/r1.log" || fail "r1 never heard the announcement"
  sleep 10
  start_receiver 2
  echo "r2 started $(($(date +%s) - t0)) s after the send, 10 s after the first announcement"
  status=0
  wait "$sender_pid" || status=$?
  cat "$work/sender.log"
  [ "$status" -eq 0 ] || fail "the send of 1 GiB with the defaults failed"
  for i in 1 2; do
    cmp -s "$work/file.bin" "$work/r$i/spool/file.bin" || fail "r$i: the file differs"
  done
  r1=$(jq '.hosts[] | select(.host == "r1") | .registered_at_s' "$work/report.json")
  r2=$(jq '.hosts[] | select(.host == "r2") | .registered_at_s' "$work/report.json")
  echo "registered: r1 at ${r1} s, r2 at ${r2} s; $(jq -r '"\(.seconds) s, wire \(.wire_ratio), first data packet at \(.first_data_s) s"' "$work/report.json")"
  awk -v a="$r2" -v b="$r1" 'BEGIN { exit !(a > b) }' || fail "r2 did not join later than r1"
  ;;
silent)
  head -c 100000 /dev/urandom >"$work/file.bin"
  status=0
  ip netns exec "${prefix}mgr" "$sender" send "$work/file.bin" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --no-progress >"$work/sender.log" 2>&1 || status=$?
  cat "$work/sender.log"
  [ "$status" -ne 0 ] || fail "a send to hosts that never answered exited 0"
  grep -Eq "gave up: no host answered within [0-9]+ ms of the first announcement \(silent: r1, r2\)" \
    "$work/sender.log" || fail "the manager does not say why it gave up"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode"
