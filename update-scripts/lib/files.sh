# shellcheck shell=sh
# Helpers of the file kinds (config-files, backup, restore; POSIX sh). Sourced, not run.

tab=$(printf '\t')

# files_each FUNCTION: FUNCTION id source target owner group mode validate, for each line of
# $FLEETCAST_FILES ([file:<id>] sections, "-" for empty). Stops at the first failure. The table
# is read on fd 3, so FUNCTION's commands cannot swallow it through stdin.
files_each() {
  while IFS=$tab read -r _id _src _tgt _own _grp _mode _val <&3; do
    "$1" "$_id" "$_src" "$_tgt" "$_own" "$_grp" "$_mode" "$_val" || return 1
  done 3< "$FLEETCAST_FILES"
}

# regular_or_absent ID TARGET: the target is a regular file or does not exist (a link, a
# directory or a device in its place is refused: replacing it would change something else).
regular_or_absent() {
  if [ -L "$2" ] || { [ -e "$2" ] && [ ! -f "$2" ]; }; then
    die "file $1: $2 exists and is not a regular file"
  fi
  [ -d "$(dirname "$2")" ] || die "file $1: directory $(dirname "$2") does not exist"
  dir_private "$(dirname "$2")" || die "file $1: cannot install $2 safely"
}

# save_previous ID TARGET: the target as it is now, into $FLEETCAST_BACKUP/previous/ID, with
# ID.state (present | absent) written after the copy is on disk.
save_previous() {
  mkdir -p "$FLEETCAST_BACKUP/previous" || die "cannot create $FLEETCAST_BACKUP/previous"
  if [ -f "$2" ]; then
    install_like "$2" "$FLEETCAST_BACKUP/previous/$1" || die "cannot back up $2"
    _state=present
  else
    _state=absent
  fi
  printf '%s\t%s\n' "$_state" "$2" > "$FLEETCAST_WORK/previous.state"
  install_atomic "$FLEETCAST_WORK/previous.state" "$FLEETCAST_BACKUP/previous/$1.state" 0600 ||
    die "cannot record the state of $2"
}

# restore_previous ID TARGET: puts back what save_previous saw (idempotent; a file without a
# state record was never touched).
restore_previous() {
  _state="$FLEETCAST_BACKUP/previous/$1.state"
  [ -f "$_state" ] || return 0
  case $(cut -f1 "$_state") in
    present)
      install_like "$FLEETCAST_BACKUP/previous/$1" "$2" || die "cannot restore $2"
      say "restored $2"
      ;;
    absent)
      remove_durable "$2" || die "cannot remove $2"
      say "removed $2 (it did not exist before)"
      ;;
  esac
}

# run_validate ID COMMAND FILE: runs COMMAND with FILE as its argument: each {} of the command
# stands for "$1", and FILE is passed as $1, never pasted into the command text (a path holding
# |, spaces, quotes or $(...) is only ever a path). Fails with the command's output tail.
run_validate() {
  [ "$2" = - ] && return 0
  # shellcheck disable=SC2016  # a literal "$1": expanded by the validator's own sh
  _cmd=$(printf '%s\n' "$2" | sed 's/{}/"$1"/g')
  _out=$(sh -c "$_cmd" fleetcast-validate "$3" < /dev/null 2>&1)
  _rc=$?
  if [ "$_rc" -ne 0 ]; then
    printf '%s\n' "$_out" | tail -n 3
    die "file $1: validate failed (exit $_rc): $2"
  fi
}

# run_reload: the bundle's reload command ([<kind>] reload), if any.
run_reload() {
  [ -n "${FLEETCAST_SET_RELOAD:-}" ] || return 0
  _out=$(sh -c "$FLEETCAST_SET_RELOAD" < /dev/null 2>&1)
  _rc=$?
  [ "$_rc" -eq 0 ] && return 0
  printf '%s\n' "$_out" | tail -n 3
  say "reload failed (exit $_rc): $FLEETCAST_SET_RELOAD"
  return 1
}
