# shellcheck shell=sh
# shellcheck disable=SC2154  # phase, new_src, candidate, stop_timeout, ip_awk: set by dhcp-server and lib/dhcp.sh
# dhcp-server, Kea path (POSIX sh): kea-dhcp4 (server = kea4) and kea-dhcp6 (server = kea6).
# Sourced by dhcp-server, which sets phase, new_src, candidate, stop_timeout and family (4 or 6).
# Facts behind each step: update-scripts/README.md.
#
# Kea is changed through its control socket: config-test, then config-set, then config-write to
# the file kea-dhcp4 (-6) -c reads (a config-set that is not written is silently reverted by the next
# config-reload or restart). Kea keeps leases outside the new pools in its memfile, and the
# lease file is never touched by this script: it is backed up for the record only.

# kea_send FILE: sends FILE's text (one command) to the control socket, prints the reply.
kea_send() {
  socat -t 20 -T 30 - "UNIX-CONNECT:$kea_socket" < "$1" 2>&1
}

# kea_command NAME [ARGUMENTS_FILE | -json TEXT]: runs a control command; prints Kea's reply.
kea_command() {
  _req="$FLEETCAST_WORK/kea-request.json"
  if [ -n "${2:-}" ] && [ "$2" = -json ]; then
    printf '{ "command": "%s", "arguments": %s }\n' "$1" "$3" > "$_req"
  elif [ -n "${2:-}" ]; then
    { printf '{ "command": "%s", "arguments": ' "$1"; cat "$2"; printf '\n}\n'; } > "$_req"
  else
    printf '{ "command": "%s" }\n' "$1" > "$_req"
  fi
  kea_send "$_req"
}

# kea_result REPLY: Kea's result code (0 success), or 99 when the reply is no Kea answer.
kea_result() {
  _r=$(printf '%s\n' "$1" | sed -n 's/.*"result": *\([0-9-]*\).*/\1/p' | head -n 1)
  printf '%s\n' "${_r:-99}"
}

# kea_text REPLY: the "text" of a reply, or the raw reply when there is none.
kea_text() {
  _t=$(printf '%s\n' "$1" | sed -n 's/.*"text": *"\(\([^"\\]\|\\.\)*\)".*/\1/p' | head -n 1)
  printf '%s\n' "${_t:-$(printf '%s' "$1" | head -c 200)}"
}

# kea_ok NAME [ARGS...]: runs the command; fails with Kea's text unless the result is 0.
kea_ok() {
  _reply=$(kea_command "$@")
  [ "$(kea_result "$_reply")" = 0 ] || {
    say "kea $1: $(kea_text "$_reply")"
    return 1
  }
}

kea_running() { kea_ok status-get > /dev/null 2>&1; }

# kea_json FILE: FILE as plain JSON: Kea's comments (// and # to the end of the line, /* */)
# removed outside strings, so jq can read it. Fields are read from the parsed document, never
# found by text search (a comment naming a path proves nothing).
kea_json() {
  awk '
    {
      line = $0; out = ""; n = length(line)
      for (i = 1; i <= n; i++) {
        c = substr(line, i, 1); d = substr(line, i + 1, 1)
        if (incomment) { if (c == "*" && d == "/") { incomment = 0; i++ } continue }
        if (instr) {
          out = out c
          if (c == "\\") { out = out d; i++ } else if (c == "\"") instr = 0
          continue
        }
        if (c == "\"") { instr = 1; out = out c; continue }
        if (c == "#" || (c == "/" && d == "/")) break
        if (c == "/" && d == "*") { incomment = 1; i++; continue }
        out = out c
      }
      print out
    }' "$1"
}

# kea_field FILE JQ_PATH: a string field of a Kea configuration ("" when absent); fails when
# the file is no JSON document.
kea_field() {
  kea_json "$1" | jq -r "($2) // \"\" | strings"
}

# "LOW HIGH" integer pairs of every pool of a Kea configuration ("a - b" or "a/len"), in any
# subnet or shared network; DHCPv6: 32-hex-digit pairs, and the prefixes of every pd-pool.
kea_pools() {
  if [ "$family" = 6 ]; then
    kea_json "$1" | jq -r '(.. | objects | .pools | arrays | .[] | .pool | strings),
      (.. | objects | .["pd-pools"] | arrays | .[] | "\(.prefix)/\(.["prefix-len"])")' |
      awk "$ip6_awk"'{ r = range6($0); if (r != "") print r }'
    return 0
  fi
  kea_json "$1" | jq -r '.. | objects | .pools | arrays | .[] | .pool | strings' |
    tr -d ' \t' | awk "$ip_awk"'
      /-/ { split($0, r, "-"); printf "%.0f %.0f\n", n(r[1]), n(r[2]); next }
      /\// { split($0, r, "/"); size = 2 ^ (32 - r[2]); lo = n(r[1]); lo -= lo % size
             printf "%.0f %.0f\n", lo, lo + size - 1 }'
}

# Active leases of a memfile CSV (the last row of an address wins; state 0, not expired). The
# v6 CSV has its own columns (address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,
# lease_type,iaid,prefix_len,...,state,...): a delegated prefix (lease_type 2) is prefix/len.
kea_active_leases() {
  [ -f "$1" ] || return 0
  if [ "$family" = 6 ]; then
    awk -F, -v now="$(date +%s)" '
      NR > 1 && $1 ~ /^[0-9a-fA-F:]+$/ { a = $7 == 2 ? $1 "/" $9 : $1; st[a] = $14; ex[a] = $4 }
      END { for (a in st) if (st[a] == 0 && ex[a] > now) print a }' "$1" | sort
    return 0
  fi
  awk -F, -v now="$(date +%s)" '
    NR > 1 && $1 ~ /^[0-9.]+$/ { st[$1] = $10; ex[$1] = $5 }
    END { for (a in st) if (st[a] == 0 && ex[a] > now) print a }' "$1" | sort
}

# kea_validate FILE: kea-dhcp4 (-6) -t (runs in this host's network namespace: it checks
# interfaces).
kea_validate() {
  out=$("$kea_bin" -t "$1" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '%s\n' "$out" | grep -v -e ' INFO ' -e ' DEBUG ' -e ' WARN ' | tail -n 3
    die "$kea_bin -t rejected the new configuration (exit $rc)"
  fi
}

kea_start() {
  sh -c "$start_command" || { say "start command failed: $start_command"; return 1; }
  i=0
  while [ "$i" -lt 50 ]; do
    if kea_running; then
      say "$kea_bin answers on $kea_socket"
      return 0
    fi
    sleep 0.1
    i=$((i + 1))
  done
  say "$kea_bin does not answer on $kea_socket"
  return 1
}

# The same pools (as address ranges) in both configurations.
kea_same_pools() {
  kea_pools "$1" | sort > "$FLEETCAST_WORK/pools.a"
  kea_pools "$2" | sort > "$FLEETCAST_WORK/pools.b"
  cmp -s "$FLEETCAST_WORK/pools.a" "$FLEETCAST_WORK/pools.b"
}

# shellcheck source=update-scripts/lib/kea_ha.sh
. "$FLEETCAST_LIB/kea_ha.sh"

# kea_orphans ACTIVE: says how many active leases lie outside the new pools. Kea keeps them in
# its memfile (their addresses are not lent again while they last), and a client that renews
# one is given lifetime 0 for it and an address of the new pools: what dhcpd's retired pools do.
kea_orphans() {
  kea_pools "$new_src" > "$FLEETCAST_WORK/ranges.new"
  outside_ranges "$1" "$FLEETCAST_WORK/ranges.new" > "$FLEETCAST_WORK/orphans"
  count=$(wc -l < "$FLEETCAST_WORK/orphans" | tr -d ' ')
  [ "$count" -eq 0 ] ||
    say "$count active lease(s) lie outside the new pools (first: $(head -n 1 "$FLEETCAST_WORK/orphans")):" \
      "$kea_bin keeps them, and moves their clients to the new pools when they renew"
}

kea_phase() {
  if [ "$family" = 6 ]; then
    for f in KEA6_CONF KEA6_SOCKET KEA6_LEASES KEA6_START; do need "FLEETCAST_HOST_$f"; done
    conf=$FLEETCAST_HOST_KEA6_CONF kea_socket=$FLEETCAST_HOST_KEA6_SOCKET
    leases=$FLEETCAST_HOST_KEA6_LEASES start_command=$FLEETCAST_HOST_KEA6_START
  else
    for f in KEA_CONF KEA_SOCKET KEA_LEASES KEA_START; do need "FLEETCAST_HOST_$f"; done
    conf=$FLEETCAST_HOST_KEA_CONF kea_socket=$FLEETCAST_HOST_KEA_SOCKET
    leases=$FLEETCAST_HOST_KEA_LEASES start_command=$FLEETCAST_HOST_KEA_START
  fi
  kea_bin=kea-dhcp$family kea_top=Dhcp$family
  case "$phase" in
    check)
      [ -f "$new_src" ] || die "the bundle has no $FLEETCAST_SET_CONFIG"
      dir_private "$(dirname "$conf")" || die "refused: $conf cannot be replaced safely"
      cp "$new_src" "$candidate" || die "cannot stage the new configuration"
      # Control and leases must stay where they are: a moved socket loses the manager of this
      # server, a moved lease file starts an empty lease database.
      sock=$(kea_field "$candidate" ".${kea_top}[\"control-socket\"][\"socket-name\"]") ||
        die "refused: the new configuration is not a JSON document"
      [ "$sock" = "$kea_socket" ] ||
        die "refused: the new configuration does not keep the control socket $kea_socket (it names '$sock')"
      db=$(kea_field "$candidate" ".${kea_top}[\"lease-database\"].name")
      [ "$db" = "$leases" ] ||
        die "refused: the new configuration does not keep the lease file $leases (it names '$db': Kea would start an empty one)"
      kea_validate "$candidate"
      kea_ha_read "$candidate"
      [ -z "$ha_this" ] || [ "$family" = 4 ] ||
        die "refused: the HA hook's hand-over and health gate are built and tested for kea-dhcp4 only"
      if [ -n "$ha_partner" ]; then
        command -v curl > /dev/null || die "curl is not installed (the HA gate asks the partner over its HA URL)"
        say "kea HA ($ha_mode, this server $ha_this): the partner $ha_partner takes over during the change; the health gate waits for $ha_mode on both"
      fi
      if kea_running; then
        kea_ok config-test "$candidate" || die "kea config-test rejected the new configuration"
        say "kea config-test: the running server accepts the new configuration"
      else
        say "$kea_bin does not answer on $kea_socket: apply will install the file and start it"
      fi
      show_config_change "$conf" "$candidate"
      say "$kea_bin -t: new configuration valid"
      kea_active_leases "$leases" > "$FLEETCAST_WORK/active"
      kea_orphans "$FLEETCAST_WORK/active"
      leases_line "$FLEETCAST_WORK/active"
      ;;
    backup)
      back_up "$conf" "kea-dhcp$family.conf"
      back_up "$leases" "kea-leases$family.csv"
      kea_active_leases "$leases" > "$FLEETCAST_BACKUP/active-leases"
      say "backed up $conf (and, for the record, $leases)"
      ;;
    apply)
      if kea_running; then
        kea_ha_read "$conf"
        kea_ha_hand_over
        kea_ok config-set "$candidate" || { kea_ha_take_back lenient; die "kea config-set failed; the running configuration is unchanged"; }
        kea_ok config-write -json "{ \"filename\": \"$conf\" }" ||
          { kea_ha_take_back lenient; die "kea config-write to $conf failed: a restart would revert the new configuration"; }
        kea_ha_take_back strict
        say "kea: config-set and config-write done ($conf)"
      else
        install_atomic "$candidate" "$conf" || die "cannot install $conf"
        kea_start || die "$kea_bin failed to start with the new configuration"
      fi
      ;;
    verify)
      kea_running || die "$kea_bin does not answer on $kea_socket"
      # What is on disk is what runs: a restart or config-reload keeps the new pools.
      kea_same_pools "$conf" "$candidate" ||
        die "$conf does not hold the new pools: a restart would revert the change"
      if [ -f "$FLEETCAST_BACKUP/active-leases" ]; then
        kea_active_leases "$leases" > "$FLEETCAST_WORK/after"
        lost=$(comm -23 "$FLEETCAST_BACKUP/active-leases" "$FLEETCAST_WORK/after" | head -n 1)
        [ -z "$lost" ] || die "lease $lost is no longer active in $leases"
      fi
      kea_ha_read "$candidate"
      kea_ha_gate
      kea_pools "$candidate" > "$FLEETCAST_WORK/ranges.serving"
      probe_in "$FLEETCAST_WORK/ranges.serving"
      health_gate
      kea_active_leases "$leases" > "$FLEETCAST_WORK/active.after"
      leases_line "$FLEETCAST_WORK/active.after"
      ;;
    rollback)
      [ -f "$FLEETCAST_BACKUP/kea-dhcp$family.conf" ] || die "no backup of $conf to restore"
      install_like "$FLEETCAST_BACKUP/kea-dhcp$family.conf" "$conf" || die "cannot restore $conf"
      if kea_running; then
        kea_ha_read "$conf"
        # The partner may still hold this server in maintenance (a failure after hand-over):
        # hand over (again), reload, release.
        kea_ha_hand_over lenient
        kea_ok config-reload || { kea_ha_take_back lenient; die "kea config-reload of the restored $conf failed"; }
        kea_ha_take_back lenient
      else
        kea_start || die "the previous configuration does not start either"
      fi
      kea_running || die "$kea_bin does not answer after the rollback"
      say "restored the previous configuration ($conf) and reloaded it"
      ;;
    *) die "unknown phase $phase" ;;
  esac
}
