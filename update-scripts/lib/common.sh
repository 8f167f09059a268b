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

# pid_runs PID PROGRAM: PID is alive and runs PROGRAM (its executable's file name): a stale pid
# file may name a pid the kernel gave to another process since.
pid_runs() {
  pid_alive "$1" || return 1
  _exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  [ "${_exe##*/}" = "${2##*/}" ]
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

# file_meta PATH: "MODE OWNER:GROUP" of a file (mode in octal, 4 digits).
file_meta() {
  stat -c '%a %U:%G' "$1" | awk '{ printf "%04d %s\n", $1, $2 }'
}

# dir_private DIR: DIR is a directory that only root (or the user running this script) can
# write, and so is every directory on the way to it from /, none of them a link. Anyone else
# who can write DIR can plant links or swap names in it; anyone who owns an ancestor can swap
# that ancestor for a link between this check and the write (the check runs again at apply,
# inside install_atomic, possibly days after the check phase). A sticky directory writable by
# all (/tmp) may lie on the way: nobody else can rename root's entries in it.
dir_private() {
  case $1 in
  /*) ;;
  *) say "refused: $1 is not an absolute path"; return 1 ;;
  esac
  _uid_me=$(id -u) _walk=/ _rest=${1#/}
  while :; do
    if [ -L "$_walk" ]; then
      say "refused: $_walk is a link (on the way to $1)"
      return 1
    fi
    [ -d "$_walk" ] || { say "$1 is not a directory"; return 1; }
    _st=$(stat -c '%u %a' "$_walk" 2>/dev/null) || { say "$1 is not a directory"; return 1; }
    _uid=${_st% *} _mode=0${_st#* }
    if [ "$_uid" -ne 0 ] && [ "$_uid" -ne "$_uid_me" ]; then
      say "refused: $_walk belongs to uid $_uid, who could plant links or swap files in it"
      return 1
    fi
    if [ $((_mode & 022)) -ne 0 ] && { [ -z "$_rest" ] || [ $((_mode & 01000)) -eq 0 ]; }; then
      say "refused: $_walk is writable by group or others (mode ${_st#* }), who could plant links or swap files in it"
      return 1
    fi
    _rest=${_rest#/}
    [ -n "$_rest" ] || return 0
    _next=${_rest%%/*}
    _rest=${_rest#"$_next"}
    _walk=${_walk%/}/$_next
  done
}

# install_atomic SRC DST [MODE [OWNER:GROUP]]: SRC's content as DST. The new file is created
# exclusively under an unguessable name beside DST (mktemp, a dot name that directory readers
# such as sites-enabled/* or cron.d skip), given its mode and owner without following links,
# fsync'ed, renamed over DST (readers see the old file or the new one, never a part; a link in
# DST's place is replaced, not followed), then the directory is fsync'ed. Without MODE/OWNER
# the new file keeps DST's (0644 root:root when DST does not exist). Nothing is left behind on
# failure. DST's directory must be private (dir_private).
install_atomic() {
  _dir=$(dirname "$2")
  dir_private "$_dir" || return 1
  _mode=${3:-} _owner=${4:-}
  if [ -z "$_mode" ]; then
    if [ -f "$2" ] && [ ! -L "$2" ]; then _meta=$(file_meta "$2"); else _meta="0644 root:root"; fi
    _mode=${_meta% *} _owner=${_owner:-${_meta#* }}
  fi
  _tmp=$(mktemp "$_dir/.fleetcast-new.XXXXXXXXXX") || { say "cannot create a file in $_dir"; return 1; }
  if cat "$1" > "$_tmp" && { [ -z "$_owner" ] || chown -h "$_owner" "$_tmp"; } &&
    chmod "$_mode" "$_tmp" && sync "$_tmp" && mv -f -T "$_tmp" "$2"; then
    sync "$_dir"
    return 0
  fi
  rm -f "$_tmp"
  say "cannot install $2"
  return 1
}

# install_like SRC DST: SRC installed atomically as DST with SRC's own mode and owner (a kept
# copy put back as it was, or a durable backup copy of a live file).
install_like() {
  _meta=$(file_meta "$1") || return 1
  install_atomic "$1" "$2" "${_meta% *}" "${_meta#* }"
}

# remove_durable FILE: FILE removed, and the removal on disk (directory fsync'ed).
remove_durable() {
  rm -f "$1" || return 1
  sync "$(dirname "$1")"
}

# back_up FILE NAME: FILE, when it exists, kept as $FLEETCAST_BACKUP/NAME: complete and on disk
# when this returns, or absent (a copy cut short by a full disk never takes the name).
back_up() {
  [ -f "$1" ] || return 0
  install_like "$1" "$FLEETCAST_BACKUP/$2" || die "cannot back up $1"
}

# world_readable FILE: anyone on the host may read FILE.
world_readable() { [ $((0$(stat -L -c '%a' "$1") & 004)) -ne 0 ]; }

# show_digests LIVE CANDIDATE LABEL WHY: what changes, without the content: both files'
# digests, line counts and how many lines are added and removed.
show_digests() {
  _changed=$(diff "$1" "$2" | awk '/^>/ { a++ } /^</ { r++ } END { printf "+%d -%d", a, r }')
  say "$3: $4: sha256 $(sha256sum < "$1" | cut -c1-16)" \
    "($(wc -l < "$1" | tr -d ' ') lines) -> $(sha256sum < "$2" | cut -c1-16)" \
    "($(wc -l < "$2" | tr -d ' ') lines), $_changed lines"
}

# show_diff LIVE CANDIDATE LABEL [NEW_MODE]: a unified diff live -> candidate, labelled, at most
# 40 lines; it travels in the FIN, the journal, the manager's store and its reports. Shown only
# when both files are world-readable (and NEW_MODE is, when given): a file that is not may hold
# secrets (a 0600 snapshot restored over a 0644 file too), and then only digests and line counts
# are shown. Even then a line that names a secret (secret, key, password, token, credential,
# private) shows its first word only.
show_diff() {
  [ -f "$1" ] || return 0
  if ! world_readable "$1" || ! world_readable "$2" ||
    { [ -n "${4:-}" ] && [ $((0$4 & 004)) -eq 0 ]; }; then
    show_digests "$1" "$2" "$3" "not world-readable, content not shown"
    return 0
  fi
  diff -u "$1" "$2" | awk -v label="$3" \
    -v bundle="$FLEETCAST_BUNDLE_NAME v$FLEETCAST_BUNDLE_VERSION" '
      NR == 1 { print "--- " label " (live)"; next }
      NR == 2 { print "+++ " label " (bundle " bundle ")"; next }
      /^@@/ { print; next }
      tolower($0) ~ /secret|key|passw|token|credential|private/ {
        word = substr($0, 2); sub(/^[ \t]*/, "", word); sub(/[ \t=:].*/, "", word)
        print substr($0, 1, 1) word " [redacted]"; next
      }
      { print }' | tail -n 40
}

# show_config_change LIVE CANDIDATE: a DHCP server's configuration is never shown, whatever its
# mode (Debian installs dhcpd.conf and kea-dhcp4.conf world-readable, and they hold OMAPI keys,
# HA passwords and DDNS secrets): digests, line counts and the lines changed.
show_config_change() {
  [ -f "$1" ] || { say "new configuration $1"; return 0; }
  if cmp -s "$1" "$2"; then say "$1: unchanged"; return 0; fi
  show_digests "$1" "$2" "$1" "configuration changes, content not shown"
}

# health_gate: the bundle's generic health gate ([<kind>] health = COMMAND), run in verify for
# services without a gate of their own (a CARP/VRRP address, a daemon's status command): the
# command runs every second until it exits 0, for at most health-timeout seconds (30), each run
# bounded by that limit too. Fails verify (so the host rolls back) with the last output.
health_gate() {
  [ -n "${FLEETCAST_SET_HEALTH:-}" ] || return 0
  _limit=${FLEETCAST_SET_HEALTH_TIMEOUT:-30}
  _began=$(date +%s)
  while :; do
    _out=$(timeout "$_limit" sh -c "$FLEETCAST_SET_HEALTH" < /dev/null 2>&1)
    _rc=$?
    if [ "$_rc" -eq 0 ]; then
      say "health gate passed after $(($(date +%s) - _began))s: $FLEETCAST_SET_HEALTH"
      return 0
    fi
    if [ $(($(date +%s) - _began)) -ge "$_limit" ]; then
      printf '%s\n' "$_out" | tail -n 3
      die "health gate failed for ${_limit}s (exit $_rc): $FLEETCAST_SET_HEALTH"
    fi
    sleep 1
  done
}
