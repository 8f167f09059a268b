# shellcheck shell=sh
# Sourced by the fleet tests, with $here (tests/fleet) and $prefix (the fleet's name prefix)
# set: skips the test (exit 77, CTest: skipped) where network namespaces cannot be made, makes
# the scratch directory $work, and on any exit kills the processes listed in $pids, removes the
# fleet ($topology down $prefix: fleet.sh unless the test set $topology, e.g. sites.sh) and
# $work. fail MESSAGE prints the message and the tail of every $work/*.log, exit 1.
# shellcheck disable=SC2154  # here and prefix: set by the sourcing test

fleet=$here/fleet.sh
topology=${topology:-$fleet}
# shellcheck source=tests/wait.sh
. "$here/../wait.sh"
if ! reason=$("$fleet" check 2>&1); then
  echo "SKIP: $reason (fleet tests need root, network namespaces, veth, bridges and nftables)"
  exit 77
fi

work=$(mktemp -d)
pids=""
bed_cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$topology" down "$prefix"
  rm -rf "$work"
}
trap bed_cleanup EXIT INT TERM

fail() {
  echo "FAIL: $*"
  for f in "$work"/*.log; do
    echo "--- $f"
    tail -n 20 "$f"
  done
  exit 1
}
