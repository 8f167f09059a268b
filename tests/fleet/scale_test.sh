#!/bin/bash
# Convergence at scale (tests/fleet/scale.sh: HOSTS real receivers in 20 namespaces), outside the
# default test run (CTest: configure with -DFLEETCAST_SCALE_TESTS=ON, then `ctest -L scale`):
#
#   scale_test.sh late-join [HOSTS] [MIB]   a tenth of the hosts start 2 s after the sender
#   scale_test.sh restart [HOSTS] [MIB]     the sender is killed (SIGKILL) once it sent half the
#                                           file and started again: the hosts resume
#
# Passes when the (last) sender exits 0, its report lists every host completed with the file's
# digest, and 20 hosts spread over the racks hold a byte-identical file. Defaults: 1,000 hosts,
# 8 MiB. Every wait is bounded; everything made is removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mode=${1:-}
hosts=${2:-1000}
mib=${3:-8}
prefix=fsc
# shellcheck source=tests/wait.sh
. "$here/../wait.sh"
if ! reason=$("$here/fleet.sh" check 2>&1); then
  echo "SKIP: $reason (scale tests need root, network namespaces, veth, bridges and nftables)"
  exit 77
fi
sender=${FLEETCAST_SENDER:-$top/build/sender/fleetcast-sender}
work=$(mktemp -d /dev/shm/fleetcast-scale-test.XXXXXX)
spool=$(mktemp -d /var/tmp/fleetcast-scale-test.XXXXXX)
export FLEETCAST_SCALE_SPOOL=$spool
send_pid=""
cleanup() {
  [ -z "$send_pid" ] || kill -9 "$send_pid" 2>/dev/null || true
  "$here/scale.sh" down "$prefix" "$work"
  rm -rf "$spool" "$work"
}
trap cleanup EXIT INT TERM
fail() {
  echo "FAIL: $*"
  tail -n 30 "$work"/send*.log 2>/dev/null || true
  exit 1
}

"$here/scale.sh" up "$prefix" "$work" "$hosts"
head -c $((mib * 1048576)) /dev/urandom >"$work/object.bin"
size=$((mib * 1048576))
tx_bytes() { ip netns exec "${prefix}mgr" cat /sys/class/net/eth0/statistics/tx_bytes; }
send() {  # log: the sender in the background, its PID in send_pid
  ip netns exec "${prefix}mgr" "$sender" send "$work/object.bin" --inventory "$work/inv-$hosts" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 600 --report "$work/report.json" \
    >"$work/$1" 2>&1 &
  send_pid=$!
}
started=$(date +%s)
case $mode in
late-join)
  late=$((hosts / 10))
  "$here/scale.sh" start "$prefix" "$work" $((hosts - late))
  awk -v n="$hosts" '/^host / && c++ < n' "$work/inv" >"$work/inv-$hosts"
  send send.log
  sleep 2
  # The rest: started after the session's first announcement.
  FLEETCAST_SCALE_FIRST=$((hosts - late + 1)) "$here/scale.sh" start "$prefix" "$work" "$hosts"
  ;;
restart)
  "$here/scale.sh" start "$prefix" "$work" "$hosts"
  before=$(tx_bytes)
  send send-1.log
  half() { [ $(($(tx_bytes) - before)) -ge $((size / 2)) ] || ! kill -0 "$send_pid" 2>/dev/null; }
  wait_until 3000 half || fail "the first sender did not send half the file in 300 s"
  kill -9 "$send_pid" 2>/dev/null || fail "the first sender finished before it could be killed"
  wait "$send_pid" 2>/dev/null || true
  killed_at=$(($(tx_bytes) - before))
  echo "first sender killed after $killed_at wire bytes"
  before=$(tx_bytes)
  send send.log
  ;;
*)
  echo "usage: scale_test.sh late-join|restart [HOSTS] [MIB]" >&2
  exit 2
  ;;
esac
status=0
wait "$send_pid" || status=$?
send_pid=""
[ "$status" = 0 ] || fail "the sender exited $status"
digest=$(jq -r .digest "$work/report.json")
completed=$(jq --arg d "$digest" '[.hosts[] | select(.completed and .verified_digest == $d)] | length' \
  "$work/report.json")
[ "$completed" = "$hosts" ] || fail "$completed of $hosts hosts completed with the digest"
step=$((hosts / 20 > 0 ? hosts / 20 : 1))
for i in $(seq 1 "$step" "$hosts"); do
  cmp -s "$work/object.bin" "$spool/h$i/object.bin" || fail "h$i does not hold the file"
done
jq -r '"sender: \(.seconds | . * 10 | round / 10) s, \(.rounds) rounds, wire \(.wire_ratio | . * 1000 | round / 1000)"' \
  "$work/report.json"
echo "PASS: $mode: $hosts hosts hold the $mib MiB file ($(($(date +%s) - started)) s in all)"
