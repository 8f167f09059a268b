# shellcheck shell=sh
# Shared helpers of the fleetcast update scripts (POSIX sh). Sourced, not run.
# The contract (environment, phases, exit codes) is in update-scripts/README.md.

# say MESSAGE...: one line of output; the last lines of a phase travel in the FIN.
say() { printf '%s\n' "$*"; }

# die MESSAGE...: fail the phase with this reason.
die() {
  printf '%s\n' "$*"
  exit 1
}

# need VAR: the named environment variable must be set and non-empty.
need() {
  eval "_v=\${$1:-}"
  [ -n "$_v" ] || die "host fact missing: $1 (set it in the receiver config's [host] section)"
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
  [ -n "$1" ] || return 1
  kill -0 "$1" 2>/dev/null || return 1
  _state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$_state" != Z ]
}

# pid_from FILE: the pid recorded in a pid file, or nothing.
pid_from() {
  [ -f "$1" ] || return 0
  sed -n '1{s/[^0-9]//g;p;}' "$1"
}

# stop_pid PID TIMEOUT_S: TERM, wait until gone, KILL after the timeout; fails if it survives.
stop_pid() {
  pid_alive "$1" || return 0
  kill -TERM "$1" 2>/dev/null || true
  _i=0
  while pid_alive "$1" && [ "$_i" -lt $(($2 * 10)) ]; do
    sleep 0.1
    _i=$((_i + 1))
  done
  if pid_alive "$1"; then
    say "pid $1 ignored SIGTERM for $2 s: SIGKILL"
    kill -KILL "$1" 2>/dev/null || true
    sleep 0.2
  fi
  ! pid_alive "$1"
}

# install_atomic SRC DST [MODE [OWNER:GROUP]]: copy next to DST, set mode and owner, fsync,
# rename over DST (readers see the old file or the new one, never a part).
install_atomic() {
  _tmp="$2.fleetcast-new.$$"
  cp "$1" "$_tmp" || return 1
  if [ -n "${4:-}" ]; then chown "$4" "$_tmp" || { rm -f "$_tmp"; return 1; }; fi
  if [ -n "${3:-}" ]; then chmod "$3" "$_tmp" || { rm -f "$_tmp"; return 1; }; fi
  sync "$_tmp" 2>/dev/null || sync
  mv -f "$_tmp" "$2"
}

# copy_durable SRC DST: a backup copy that is on disk when this returns.
copy_durable() {
  cp -p "$1" "$2" && { sync "$2" 2>/dev/null || sync; }
}

# back_up FILE NAME: FILE, when it exists, kept as $FLEETCAST_BACKUP/NAME (durably).
back_up() {
  [ -f "$1" ] || return 0
  copy_durable "$1" "$FLEETCAST_BACKUP/$2" || die "cannot back up $1"
}

# show_diff LIVE CANDIDATE LABEL: a unified diff live -> candidate, labelled, at most 40 lines.
show_diff() {
  [ -f "$1" ] || return 0
  diff -u "$1" "$2" | sed -e "1s|.*|--- $3 (live)|" \
    -e "2s|.*|+++ $3 (bundle $FLEETCAST_BUNDLE_NAME v$FLEETCAST_BUNDLE_VERSION)|" | tail -n 40
}
