#!/bin/bash
# A fleet of many real fleetcast-receiver processes for scale tests and benchmarks: RACKS network
# namespaces on one bridge (fleet.sh), each running several receivers on the same link. Host i
# (name hI) lives in rack ((i - 1) mod RACKS) + 1 and has its own key, reply port (an ephemeral
# one), spool and state directories, and its own mount namespace in which WORK/etc is its own
# WORK/hosts/hI/etc (config-files bundles target WORK/etc/...); FLEETCAST_SCALE_SPOOL=DIR puts
# the spools in DIR/hI (e.g. on disk) instead of WORK/hosts/hI/spool. Loss is per receiver, from the
# receivers' test-only drop model (independent: 'ge:P,1-P,1'), since every receiver of a rack
# shares the rack's bridge port.
#
#   scale.sh up PREFIX WORK N [RACKS]   namespaces (RACKS, default 20), the manager's key (WORK/mgr),
#                                       N host keys, inventories WORK/inv-N of the first N hosts
#   scale.sh start PREFIX WORK N [LOSS%] [RACKS] [-- RECEIVER-OPTIONS]
#                                       starts hosts 1..N (FLEETCAST_SCALE_FIRST..N: from there;
#                                       their PIDs appended to WORK/pids), waits until each listens
#   scale.sh rss WORK                   the largest peak RSS (VmHWM) of the running receivers, KiB
#   scale.sh stop WORK                  TERM, then KILL after 10 s, every receiver in WORK/pids
#   scale.sh down PREFIX WORK           stop, delete the namespaces, remove WORK
#
# Needs root. Every wait is bounded. The default test run does not use it: bench/scale does, and
# tests/fleet/scale_test.sh (CTest label 'scale', run with `ctest -L scale`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
fleet=$here/fleet.sh
receiver=${FLEETCAST_RECEIVER:-$top/build/receiver/fleetcast-receiver}
sender=${FLEETCAST_SENDER:-$top/build/sender/fleetcast-sender}

rack_of() { echo $((($1 - 1) % $2 + 1)); }

stop() {
  local work=$1 p alive n
  [ -f "$work/pids" ] || return 0
  while read -r p; do kill "$p" 2>/dev/null || true; done <"$work/pids"
  for _ in $(seq 1 100); do
    alive=0
    while read -r p; do [ -d "/proc/$p" ] && alive=1 && break; done <"$work/pids"
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  n=0
  while read -r p; do
    if [ -d "/proc/$p" ]; then kill -9 "$p" 2>/dev/null || true; n=$((n + 1)); fi
  done <"$work/pids"
  [ "$n" = 0 ] || echo "scale.sh: $n receivers did not stop on TERM within 10 s: killed" >&2
  rm -f "$work/pids"
}

cmd=${1:-}
shift || true
case $cmd in
up)
  prefix=$1 work=$2 n=$3 racks=${4:-20}
  "$fleet" up "$prefix" "$racks"
  mkdir -p "$work/keys" "$work/hosts" "$work/etc"
  "$sender" keygen --out "$work/mgr" >/dev/null
  : >"$work/inv"
  for i in $(seq 1 "$n"); do
    "$receiver" keygen --out "$work/keys/h$i" --name "h$i" >/dev/null
    "$sender" inventory add --inventory "$work/inv" --name "h$i" --pub "$work/keys/h$i/host.pub" \
      >/dev/null
  done
  ;;
start)
  prefix=$1 work=$2 n=$3 loss=${4:-0} racks=${5:-20}
  shift 3
  [ $# -gt 0 ] && shift
  [ $# -gt 0 ] && shift
  [ "${1:-}" = -- ] && shift
  drop=()
  if [ "$loss" != 0 ]; then
    drop=(--test-drop-model "$(awk -v p="$loss" 'BEGIN { printf "ge:%g,%g,1", p / 100, 1 - p / 100 }')")
  fi
  awk -v n="$n" '/^host / && c++ < n' "$work/inv" >"$work/inv-$n"
  first=${FLEETCAST_SCALE_FIRST:-1}
  for i in $(seq "$first" "$n"); do
    h=$work/hosts/h$i
    spool=${FLEETCAST_SCALE_SPOOL:-$work/hosts}/h$i
    [ -n "${FLEETCAST_SCALE_SPOOL:-}" ] || spool=$h/spool
    mkdir -p "$h/etc" "$spool" "$h/state"
    # shellcheck disable=SC2016  # expanded by the inner shell, from its arguments
    ip netns exec "$prefix"r"$(rack_of "$i" "$racks")" unshare -m sh -c \
      'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$h/etc" "$work/etc" \
      "$receiver" run --name "h$i" --iface eth0 --key "$work/keys/h$i/host.key" \
      --manager-pub "$work/mgr/manager.pub" --spool "$spool" --state "$h/state" \
      "${drop[@]}" "$@" >"$h/log" 2>&1 &
    echo $! >>"$work/pids"
  done
  # Ready when every receiver logged that it listens (bounded: 2 minutes).
  logs=()
  for i in $(seq "$first" "$n"); do logs+=("$work/hosts/h$i/log"); done
  for _ in $(seq 1 240); do
    ready=$({ grep -l "listening" "${logs[@]}" 2>/dev/null || true; } | wc -l)
    [ "$ready" -ge "${#logs[@]}" ] && exit 0
    sleep 0.5
  done
  echo "scale.sh: only $ready of $((n - first + 1)) receivers started within 2 minutes" >&2
  exit 1
  ;;
rss)
  work=$1 max=0
  while read -r p; do
    kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
    [ "${kib:-0}" -gt "$max" ] && max=$kib
  done <"$work/pids"
  echo "$max"
  ;;
stop)
  stop "$1"
  ;;
down)
  prefix=$1 work=$2
  stop "$work"
  "$fleet" down "$prefix"
  rm -rf "$work"
  ;;
*)
  echo "scale.sh: unknown command '$cmd' (up, start, rss, stop, down)" >&2
  exit 2
  ;;
esac
