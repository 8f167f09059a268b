# shellcheck shell=sh
# shellcheck disable=SC2154  # kea_socket, kea_top, family and the kea_* helpers: set by lib/kea.sh
# dhcp-server, Kea High Availability (libdhcp_ha.so): the pair around a change and its health
# gate (POSIX sh). Sourced by lib/kea.sh. Facts behind each step: update-scripts/README.md.
#
# A config-set (or config-reload) re-initializes the HA hook: the server goes back to `waiting`
# and serves nobody until it has synchronized with its partner again (about 1.5 s seen). So the
# partner is asked to take over first (ha-maintenance-start, sent to the partner over its HA
# URL: it serves every scope, this server sits in `in-maintenance`), the change is made, and
# the partner is released (ha-maintenance-cancel) once this server is back in `in-maintenance`.

# kea_ha_read FILE: sets ha_this, ha_mode and ha_partner (the URL of the peer this server pairs
# with; backup servers are not partners) from FILE's HA hook parameters; all empty without HA.
kea_ha_read() {
  ha_this="" ha_mode="" ha_partner=""
  _ha=$(kea_json "$1" | jq -c --arg top "$kea_top" '[.[$top]["hooks-libraries"][]? | select(.library | test("libdhcp_ha[.]so")) | .parameters["high-availability"][0]] | first // empty') || return 0
  [ -n "$_ha" ] || return 0
  ha_this=$(printf '%s' "$_ha" | jq -r '.["this-server-name"] // ""')
  ha_mode=$(printf '%s' "$_ha" | jq -r '.mode // ""')
  ha_partner=$(printf '%s' "$_ha" | jq -r --arg me "$ha_this" \
    '[.peers[]? | select(.name != $me and .role != "backup") | .url] | first // ""')
}

# kea_ha_http COMMAND: sends COMMAND to the partner's HA URL; prints its reply (a JSON array).
kea_ha_http() {
  curl -s -m 5 -X POST -H 'Content-Type: application/json' \
    -d "{ \"command\": \"$1\", \"service\": [ \"dhcp$family\" ] }" "$ha_partner" 2>&1
}

# The partner's own HA state, asked over its HA URL ("no answer" when it does not answer).
kea_ha_partner_state() {
  kea_ha_http status-get | jq -r '.[0].arguments["high-availability"][0]["ha-servers"].local.state // "no answer"' 2>/dev/null || echo "no answer"
}

kea_ha_state() {
  kea_command ha-heartbeat | jq -r '.arguments.state // "no answer"' 2>/dev/null || echo "no answer"
}

# kea_ha_wait STATE SECONDS [OR]: until this server's HA state is STATE (or OR), left in _s;
# fails after SECONDS.
kea_ha_wait() {
  _i=0
  while _s=$(kea_ha_state) && [ "$_s" != "$1" ] && [ "$_s" != "${3:-$1}" ]; do
    _i=$((_i + 1))
    [ "$_i" -le $(($2 * 5)) ] || return 1
    sleep 0.2
  done
}

# Before a change that re-initializes HA: the partner serves every scope. Refuses when the
# partner does not take over (this change would leave nobody serving); with `lenient`
# (rollback: the old configuration must come back anyway) it says so and goes on.
kea_ha_hand_over() {
  [ -n "$ha_partner" ] || return 0
  if [ -f "$FLEETCAST_WORK/ha-handed-to" ]; then
    say "kea HA: the partner $(cat "$FLEETCAST_WORK/ha-handed-to") still serves every scope"
    return 0
  fi
  _reply=$(kea_ha_http ha-maintenance-start)
  if [ "$(printf '%s' "$_reply" | jq -r '.[0].result // 99' 2>/dev/null)" != 0 ]; then
    _why="the HA partner at $ha_partner does not take over (ha-maintenance-start: $(printf '%s' "$_reply" | head -c 200))"
    [ "${1:-}" = lenient ] || die "refused: $_why; changing this server now would leave nobody serving"
    say "kea HA: $_why; going on"
    return 0
  fi
  # Remembered until released, across phases (a failure between them, a restart of the receiver).
  printf '%s\n' "$ha_partner" > "$FLEETCAST_WORK/ha-handed-to"
  kea_ha_wait in-maintenance 5 || { kea_ha_take_back lenient; die "this server did not enter in-maintenance (state $(kea_ha_state))"; }
  say "kea HA: the partner $ha_partner serves every scope while this server changes"
}

# After the change: once this server is back in in-maintenance (its HA restarted and found the
# partner), the partner it was handed over to is released (the URL of that hand-over, not the
# new configuration's: a change may name the partner wrongly). Also run on every failure path;
# does nothing when nothing was handed over. With `strict` (after the new configuration), a
# server that does not find its partner again within 10 s fails the apply at once and the
# partner keeps serving for the rollback: such a server goes partner-down and serves too, so
# the sooner it is rolled back the shorter two servers hand out addresses without each other.
#
# A server that comes back in its mode's serving state instead (hot-standby, ...) found its
# partner too: the partner left maintenance on its own while this server restarted (seen under
# load: the restart outlasted the partner's patience, both synchronized again), so there is
# nothing to release. The health gate still asks the partner before the apply is done.
kea_ha_take_back() {
  [ -f "$FLEETCAST_WORK/ha-handed-to" ] || return 0
  _to=$(cat "$FLEETCAST_WORK/ha-handed-to")
  if ! kea_ha_wait in-maintenance 10 "$ha_mode"; then
    [ "${1:-}" != strict ] ||
      die "kea HA: this server does not find its partner after the change (state $(kea_ha_state) after 10 s);" \
        "the partner $_to keeps serving every scope for the rollback"
    say "kea HA: this server is in state $(kea_ha_state), not in-maintenance"
  elif [ -n "$ha_mode" ] && [ "$_s" = "$ha_mode" ]; then
    rm -f "$FLEETCAST_WORK/ha-handed-to"
    say "kea HA: this server is back in $ha_mode with its partner $_to (which left maintenance on its own)"
    return 0
  fi
  # Kea 2.2 races here: at the cancel the partner leaves partner-in-maintenance and tells this
  # server (which goes ready), but the partner's next heartbeat may still find this server
  # in-maintenance and go back, and this server follows it a heartbeat later: both then stay
  # in maintenance for good. A check one second after a cancel saw this server out of it just
  # before it went back (seen), and retries a second apart fell in phase with the partner's
  # heartbeats (a CI run under load: five cancels 1.05 s apart, each undone 0.13-0.34 s later).
  # So: until both are out of maintenance for 2 s in a row (two heartbeats; 20 s at most),
  # polled every 0.2 s, the cancel goes again when this server is back in-maintenance, after a
  # random 0-0.9 s. Never while this server is ready: the partner's notify fails, and two such
  # failures make it partner-down.
  _keep=$ha_partner
  ha_partner=$_to
  _tries=1
  _reply=$(kea_ha_http ha-maintenance-cancel)
  _began=$(date +%s)
  _calm=0
  while [ "$_calm" -lt 10 ] && [ $(($(date +%s) - _began)) -lt 20 ]; do
    sleep 0.2
    _here=$(kea_ha_state)
    _there=$(kea_ha_partner_state)
    _calm=$((_calm + 1))
    [ "$_here" != in-maintenance ] && [ "$_there" != partner-in-maintenance ] && continue
    _calm=0
    if [ "$_here" = in-maintenance ] && [ "$_there" = partner-in-maintenance ]; then
      sleep "0.$(($(od -An -N1 -tu1 /dev/urandom) % 10))"
      _reply=$(kea_ha_http ha-maintenance-cancel)
      _tries=$((_tries + 1))
    fi
  done
  ha_partner=$_keep
  if [ "$_calm" -ge 10 ]; then
    rm -f "$FLEETCAST_WORK/ha-handed-to"
    say "kea HA: the partner $_to released$([ "$_tries" -eq 1 ] || echo " (cancelled $_tries times)")"
  else
    say "kea HA: the partner $_to did not take the release: $(printf '%s' "$_reply" | head -c 200)"
  fi
}

# The health gate: within ha-timeout seconds (60), this server is in its mode's serving state
# (hot-standby, load-balancing or passive-backup), and the partner, asked over its HA URL,
# reports the same state for itself and for this server, in touch and without a communication
# interruption. This server's word alone proves little: the partner must see it serve.
kea_ha_gate() {
  [ -n "$ha_partner" ] || return 0
  _limit=${FLEETCAST_SET_HA_TIMEOUT:-60}
  _began=$(date +%s)
  while :; do
    _here=$(kea_ha_state)
    _there=$(kea_ha_http status-get | jq -r '.[0].arguments["high-availability"][0]["ha-servers"] |
      "\(.local.state) \(.remote["last-state"]) \(.remote["in-touch"]) \(.remote["communication-interrupted"])"' 2>/dev/null)
    [ "$_here" = "$ha_mode" ] && [ "$_there" = "$ha_mode $ha_mode true false" ] && break
    if [ $(($(date +%s) - _began)) -ge "$_limit" ]; then
      die "kea HA is not back to $ha_mode after $(($(date +%s) - _began))s: this server $_here;" \
        "the partner at $ha_partner says (its state, this server's, in touch, interrupted):" \
        "${_there:-no answer}"
    fi
    sleep 0.5
  done
  say "kea HA: $ha_mode here and at the partner $ha_partner after $(($(date +%s) - _began))s"
}
