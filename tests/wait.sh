# shellcheck shell=sh
# Sourced by the namespace test scripts.

# wait_until TENTHS COMMAND...: runs COMMAND every 0.1 s until it succeeds (return 0) or TENTHS
# tries have passed (return 1). Every wait in a test is bounded this way.
wait_until() {
  _left=$1
  shift
  while ! "$@"; do
    _left=$((_left - 1))
    [ "$_left" -gt 0 ] || return 1
    sleep 0.1
  done
}
