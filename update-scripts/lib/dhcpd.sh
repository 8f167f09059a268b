# shellcheck shell=sh
# shellcheck disable=SC2154  # phase, new_src, candidate, stop_timeout, ip_awk: set by dhcp-server and lib/dhcp.sh
# dhcp-server, ISC dhcpd path (POSIX sh), for dhcpd -4 (server = dhcpd) and dhcpd -6
# (server = dhcpd6; its lease records and ranges: lib/dhcpd6.sh). Sourced by dhcp-server,
# which sets phase, new_src, candidate, stop_timeout and family (4 or 6). Facts behind each
# step: update-scripts/README.md.

# shellcheck source=update-scripts/lib/dhcpd6.sh
. "$FLEETCAST_LIB/dhcpd6.sh"

# --- dhcpd ----------------------------------------------------------------------------------

# Active leases (the last record of each address in the lease log wins): one address per line
# (dhcpd -6: dhcpd6_active_leases).
dhcpd_active_leases() {
  [ -f "$1" ] || return 0
  if [ "$family" = 6 ]; then
    dhcpd6_active_leases "$1"
    return
  fi
  awk '
    /^lease [0-9.]+ \{/ { ip = $2; st = ""; next }
    /^[ \t]*binding state / { st = $3; sub(/;.*/, "", st); next }
    /^\}/ { if (ip != "") last[ip] = st; ip = ""; next }
    END { for (i in last) if (last[i] == "active") print i }' "$1" | sort -t. -k1,1n -k2,2n -k3,3n -k4,4n
}

# dhcpd_merge_leases KEPT LIVE: prints KEPT (the copy taken when the old server stopped), then
# every complete lease record of LIVE that differs from KEPT's last record of that address (or
# IA: dhcpd -6 keeps records per IA, "ia-na "IAID+DUID" {").
# dhcpd reads the file as a log (the last record of an address wins), so leases the new server
# granted or renewed since KEPT was taken survive a rollback, and their addresses are not lent
# a second time. A record cut off at the end of LIVE (a full disk) is left out.
dhcpd_merge_leases() {
  cat "$1"
  [ -f "$2" ] || return 0
  awk '
    function flush_block(dest) { if (ip != "") { if (dest == "kept") last[ip] = text; else if (last[ip] != text) printf "%s", text } ip = ""; text = "" }
    FNR == 1 { ip = ""; text = "" }
    /^lease [0-9.]+ \{/ || /^ia-(na|ta|pd) .*\{[ \t]*$/ { ip = $0; text = $0 "\n"; next }
    ip != "" { text = text $0 "\n"; if ($0 ~ /^\}/) flush_block(FILENAME == kept ? "kept" : "live") }
  ' kept="$1" "$1" "$2"
}

# "LOW HIGH" integer pairs of every range statement in a dhcpd.conf (dhcpd -6: dhcpd6_ranges).
dhcpd_ranges() {
  if [ "$family" = 6 ]; then
    dhcpd6_ranges "$1"
    return
  fi
  # shellcheck disable=SC2020  # each of ; { } becomes a newline
  sed 's/#.*//' "$1" | tr ';{}' '\n\n\n' | awk "$ip_awk"'
    $1 == "range" {
      i = 2; if ($i == "dynamic-bootp") i++
      lo = $i; hi = (i + 1 <= NF) ? $(i + 1) : $i
      printf "%.0f %.0f\n", n(lo), n(hi)
    }'
}

# Addresses among LEASES (file) that lie in no range of CONF.
dhcpd_orphans() {
  dhcpd_ranges "$2" > "$FLEETCAST_WORK/ranges.new"
  outside_ranges "$1" "$FLEETCAST_WORK/ranges.new"
}

# The subnet statement ("subnet N netmask M") of CONF that contains ADDRESS, or nothing.
dhcpd_subnet_for() {
  sed 's/#.*//' "$1" | tr '{' '\n' | awk -v a="$2" "$ip_awk"'
    $1 == "subnet" && $3 == "netmask" {
      net = n($2); mask = n($4); x = n(a)
      # same network when x - (x mod size) == net, size = 2^32 - mask
      size = 4294967296 - mask
      if (x - (x % size) == net) { print $2, $4; exit }
    }'
}

# Writes the candidate: the bundle's config, plus retired pools (deny all clients) holding the
# active leases it would otherwise drop, grouped into runs of consecutive addresses.
dhcpd_make_candidate() {
  cp "$new_src" "$candidate" || die "cannot stage the new configuration"
  orphans="$FLEETCAST_WORK/orphans"
  dhcpd_active_leases "$leases" > "$FLEETCAST_WORK/active"
  dhcpd_orphans "$FLEETCAST_WORK/active" "$new_src" > "$orphans"
  count=$(wc -l < "$orphans" | tr -d ' ')
  [ "$count" -eq 0 ] && return 0
  if [ "${FLEETCAST_SET_KEEP_OLD_RANGES:-no}" != yes ]; then
    die "refused: $count active lease(s) lie outside the new ranges and $dhcpd_name would drop them" \
      "from $leases at start (first: $(head -n 1 "$orphans"));" \
      "set keep-old-ranges = yes to keep them as retired pools"
  fi
  if [ "$family" = 6 ]; then
    dhcpd6_retire "$orphans"
    dhcpd6_insert_retired > "$candidate.tmp" || die "cannot write the retired pools"
    mv "$candidate.tmp" "$candidate"
    say "keeping $count active lease(s) outside the new ranges as retired pools (deny all clients)"
    return 0
  fi
  : > "$FLEETCAST_WORK/retired"
  while read -r ip; do
    sub=$(dhcpd_subnet_for "$new_src" "$ip")
    [ -n "$sub" ] || die "refused: active lease $ip lies in no subnet of the new configuration"
    printf '%s|%s\n' "$sub" "$ip" >> "$FLEETCAST_WORK/retired"
  done < "$orphans"
  # Insert "pool { range a b; deny all clients; }" right after each subnet's opening brace.
  awk -F'|' -v conf="$candidate" "$ip_awk"'
    function ip(x) { return sprintf("%d.%d.%d.%d", int(x / 16777216), int(x / 65536) % 256, int(x / 256) % 256, x % 256) }
    {
      v = n($2); t = sprintf("%.0f", v)  # integers above 2^31: never through CONVFMT
      if ($1 in runs && v == last[$1] + 1) runs[$1] = runs[$1] "-" t
      else if ($1 in runs) runs[$1] = runs[$1] " " t "-" t
      else runs[$1] = t "-" t
      last[$1] = v
    }
    END {
      for (s in runs) {
        m = split(runs[s], r, " "); text = ""
        for (i = 1; i <= m; i++) { c = split(r[i], e, "-"); text = text "  pool { range " ip(e[1]) " " ip(e[c]) "; deny all clients; }  # retired by fleetcast\n" }
        pools[s] = text
      }
      while ((getline line < conf) > 0) {
        print line
        t = line; sub(/#.*/, "", t)
        if (t ~ /^[ \t]*subnet[ \t]/ && t ~ /\{/) {
          nf = split(t, f, /[ \t{]+/); k = 0; for (j = 1; j <= nf; j++) if (f[j] != "") w[++k] = f[j]
          key = w[2] " " w[4]
          if (key in pools) { printf "%s", pools[key]; delete pools[key] }
        }
      }
      for (s in pools) { print "fleetcast: subnet " s " needs a retired pool but its declaration is not on one line" > "/dev/stderr"; exit 1 }
    }' "$FLEETCAST_WORK/retired" > "$candidate.tmp" || die "cannot write the retired pools"
  mv "$candidate.tmp" "$candidate"
  say "keeping $count active lease(s) outside the new ranges as retired pools (deny all clients)"
}

dhcpd_validate() {
  out=$(dhcpd "-$family" -t -cf "$1" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '%s\n' "$out" | awk '/^If you think/ { exit } { print }' |
      grep -v -e '^Internet Systems' -e '^Copyright' -e '^For info' -e '^Config file:' \
        -e '^Database file:' -e '^PID file:' -e '^$' | tail -n 6
    die "$dhcpd_name -t rejected the new configuration (exit $rc)"
  fi
}

dhcpd_stop() {
  pid=$(pid_from "$pid_file")
  if [ -n "$pid" ] && pid_alive "$pid" && ! pid_runs "$pid" dhcpd; then
    say "$pid_file names pid $pid, which is not dhcpd: left alone"
    return 0
  fi
  if [ -n "$pid" ] && pid_alive "$pid"; then
    stop_pid "$pid" "$stop_timeout" || die "$dhcpd_name (pid $pid) does not stop"
    say "stopped $dhcpd_name (pid $pid)"
  fi
}

dhcpd_start() {
  rm -f "$pid_file"
  sh -c "$start_command" || { say "start command failed: $start_command"; return 1; }
  i=0
  while [ "$i" -lt 50 ]; do
    pid=$(pid_from "$pid_file")
    if [ -n "$pid" ] && pid_alive "$pid"; then
      say "$dhcpd_name serving (pid $pid)"
      return 0
    fi
    sleep 0.1
    i=$((i + 1))
  done
  say "$dhcpd_name did not come up (no live pid in $pid_file)"
  return 1
}

# The probe's address must lie in a range of CONF that is not retired.
dhcpd_probe() {
  grep -v 'deny all clients' "$1" > "$FLEETCAST_WORK/serving.conf"
  dhcpd_ranges "$FLEETCAST_WORK/serving.conf" > "$FLEETCAST_WORK/ranges.serving"
  probe_in "$FLEETCAST_WORK/ranges.serving"
}

# --- failover (a dhcpd failover pair: its health gate) ----------------------------------------

# "NAME PEER-ADDRESS" of the failover peer CONF declares, or nothing.
dhcpd_failover() {
  sed 's/#.*//' "$1" | tr '\n\t' '  ' | awk '{
    if (!match($0, /failover[ ]+peer[ ]+"[^"]+"[ ]*\{[^}]*\}/)) exit
    b = substr($0, RSTART, RLENGTH)
    name = b; sub(/^failover[ ]+peer[ ]+"/, "", name); sub(/".*/, "", name)
    peer = "-"
    if (match(b, /peer[ ]+address[ ]+[^ ;]+/)) { peer = substr(b, RSTART, RLENGTH); sub(/^peer[ ]+address[ ]+/, "", peer) }
    print name, peer
  }'
}

# The omapi-port CONF sets, or nothing.
dhcpd_omapi_port() {
  sed 's/#.*//' "$1" | tr ';' '\n' | awk '$1 == "omapi-port" { print $2 }' | tail -n 1
}

# dhcpd_failover_state ADDRESS PORT NAME: "LOCAL PARTNER SINCE" as the dhcpd at ADDRESS:PORT
# reports them over OMAPI (failover state numbers, and partner-stos: when the partner's state,
# as this dhcpd knows it, began, seconds since the epoch), or nothing when it does not answer.
dhcpd_failover_state() {
  printf 'server %s\nport %s\nconnect\nnew failover-state\nset name = "%s"\nopen\n' "$1" "$2" "$3" |
    timeout 5 omshell 2>/dev/null | awk '
      function hex(s,  i, v, d) { v = 0; s = tolower(s); for (i = 1; i <= length(s); i++) { d = index("0123456789abcdef", substr(s, i, 1)); if (d) v = v * 16 + d - 1 } return v }
      $1 == "local-state" && $2 == "=" { x = $3; gsub(/:/, "", x); l = hex(x) }
      $1 == "partner-state" && $2 == "=" { x = $3; gsub(/:/, "", x); p = hex(x) }
      $1 == "partner-stos" && $2 == "=" { x = $3; gsub(/:/, "", x); s = hex(x) }
      END { if (l != "" && p != "") printf "%d %d %.0f\n", l, p, s }'
}

dhcpd_state_name() {
  case $1 in
    1) echo startup ;; 2) echo normal ;; 3) echo communications-interrupted ;;
    4) echo partner-down ;; 5) echo potential-conflict ;; 6) echo recover ;; 7) echo paused ;;
    8) echo shutdown ;; 9) echo recover-done ;; 10) echo resolution-interrupted ;;
    11) echo conflict-done ;; 254) echo recover-wait ;; '') echo "no answer" ;; *) echo "state $1" ;;
  esac
}

# Check: a configuration that declares a failover peer must let the gate read its state.
dhcpd_failover_check() {
  fo=$(dhcpd_failover "$1")
  [ -n "$fo" ] || return 0
  command -v omshell > /dev/null || die "omshell is not installed (the failover health gate reads the pair's state with it)"
  [ -n "$(dhcpd_omapi_port "$1")" ] ||
    die "refused: failover peer \"${fo%% *}\" is declared but omapi-port is not set: the health gate cannot read the pair's state"
  ! sed 's/#.*//' "$1" | grep -q 'omapi-key' ||
    die "refused: omapi-key is set; the failover health gate does not sign OMAPI requests yet"
  say "failover peer \"${fo%% *}\": the health gate waits for normal here and at ${FLEETCAST_HOST_DHCPD_PARTNER_OMAPI:-the partner ${fo#* }}"
}

# Verify: the pair is back in normal state on both sides within failover-timeout seconds (60):
# this peer reports local and partner state normal, and the partner's OMAPI (host fact
# dhcpd-partner-omapi ADDRESS:PORT, else the failover peer address and this omapi-port) says
# the same of itself and of this peer, with this peer's state as it knows it begun after this
# dhcpd started (its pid file's time; the pair's clocks agree within a second, as failover
# needs anyway). A restarted peer reads its last state from its lease file and the partner may
# not have noticed the restart yet: neither's word alone proves the pair is back.
dhcpd_failover_gate() {
  fo=$(dhcpd_failover "$1")
  [ -n "$fo" ] || return 0
  name=${fo%% *}
  port=$(dhcpd_omapi_port "$1")
  partner=${FLEETCAST_HOST_DHCPD_PARTNER_OMAPI:-${fo#* }:$port}
  limit=${FLEETCAST_SET_FAILOVER_TIMEOUT:-60}
  began=$(date +%s)
  started=$(stat -c %Y "$pid_file" 2>/dev/null || echo "$began")
  while :; do
    here=$(dhcpd_failover_state 127.0.0.1 "$port" "$name")
    there=$(dhcpd_failover_state "${partner%:*}" "${partner##*:}" "$name")
    since=${there##* }
    here=${here% *} there=${there% *}
    [ "$here" = "2 2" ] && [ "$there" = "2 2" ] && [ "${since:-0}" -ge $((started - 1)) ] && break
    waited=$(($(date +%s) - began))
    if [ "$waited" -ge "$limit" ]; then
      die "failover peer \"$name\" is not back to normal after ${waited}s:" \
        "here $(dhcpd_state_name "${here%% *}") (partner seen as $(dhcpd_state_name "${here#* }")," \
        "at $partner: $(dhcpd_state_name "${there%% *}") (this peer seen as $(dhcpd_state_name "${there#* }")" \
        "since $(date -d "@${since:-0}" +%T 2>/dev/null), this dhcpd started $(date -d "@$started" +%T))"
    fi
    sleep 0.5
  done
  say "failover peer \"$name\": normal here and at the partner $partner after $(($(date +%s) - began))s"
}

dhcpd_phase() {
  if [ "$family" = 6 ]; then
    for f in DHCPD6_CONF DHCPD6_LEASES DHCPD6_PID DHCPD6_START; do need "FLEETCAST_HOST_$f"; done
    conf=$FLEETCAST_HOST_DHCPD6_CONF leases=$FLEETCAST_HOST_DHCPD6_LEASES
    pid_file=$FLEETCAST_HOST_DHCPD6_PID start_command=$FLEETCAST_HOST_DHCPD6_START
    dhcpd_name="dhcpd -6"
  else
    for f in DHCPD_CONF DHCPD_LEASES DHCPD_PID DHCPD_START; do need "FLEETCAST_HOST_$f"; done
    conf=$FLEETCAST_HOST_DHCPD_CONF leases=$FLEETCAST_HOST_DHCPD_LEASES
    pid_file=$FLEETCAST_HOST_DHCPD_PID start_command=$FLEETCAST_HOST_DHCPD_START
    dhcpd_name=dhcpd
  fi
  case "$phase" in
    check)
      [ -f "$new_src" ] || die "the bundle has no $FLEETCAST_SET_CONFIG"
      # apply and rollback install into these directories: refuse now, not half-way.
      for d in "$(dirname "$conf")" "$(dirname "$leases")"; do
        dir_private "$d" || die "refused: files in $d cannot be replaced safely"
      done
      dhcpd_make_candidate
      dhcpd_validate "$candidate"
      [ "$family" = 6 ] || dhcpd_failover_check "$candidate"
      show_config_change "$conf" "$candidate"
      say "$dhcpd_name -t: new configuration valid"
      leases_line "$FLEETCAST_WORK/active"
      ;;
    backup)
      back_up "$conf" dhcpd.conf
      back_up "$leases" dhcpd.leases
      say "backed up $conf and $leases"
      ;;
    apply)
      dhcpd_stop
      # The server is stopped: this copy holds every lease it granted; dhcpd rewrites the file
      # at its next start, even a failing one, so it is taken before any start.
      back_up "$leases" dhcpd.leases.stopped
      install_atomic "$candidate" "$conf" || die "cannot install $conf"
      dhcpd_start || die "$dhcpd_name failed to start with the new configuration"
      ;;
    verify)
      pid=$(pid_from "$pid_file")
      pid_alive "$pid" || die "$dhcpd_name is not running"
      dhcpd_active_leases "$FLEETCAST_BACKUP/dhcpd.leases.stopped" > "$FLEETCAST_WORK/before"
      lost=$(awk 'FNR == NR { have[$2] = 1; next } !($1 in have) { print $1 }' \
        "$leases" "$FLEETCAST_WORK/before" | head -n 1)
      [ -z "$lost" ] || die "lease $lost is missing from $leases after the start"
      [ "$family" = 6 ] || dhcpd_failover_gate "$conf"
      dhcpd_probe "$conf"
      health_gate
      dhcpd_active_leases "$leases" > "$FLEETCAST_WORK/active.after"
      leases_line "$FLEETCAST_WORK/active.after"
      ;;
    rollback)
      dhcpd_stop
      if [ -f "$FLEETCAST_BACKUP/dhcpd.conf" ]; then install_like "$FLEETCAST_BACKUP/dhcpd.conf" "$conf" || die "cannot restore $conf"; fi
      # Backups are complete or absent (back_up); the one taken at the stop is the newer.
      src="$FLEETCAST_BACKUP/dhcpd.leases.stopped"
      [ -f "$src" ] || src="$FLEETCAST_BACKUP/dhcpd.leases"
      if [ -f "$src" ]; then
        dhcpd_merge_leases "$src" "$leases" > "$FLEETCAST_WORK/leases.merged" ||
          die "cannot merge $leases with its backup"
        install_atomic "$FLEETCAST_WORK/leases.merged" "$leases" || die "cannot restore $leases"
        say "lease file: the backup plus $(($(grep -c '^lease ' "$FLEETCAST_WORK/leases.merged") - $(grep -c '^lease ' "$src"))) record(s) the new server wrote since"
      fi
      dhcpd_start || die "the previous configuration does not start either"
      say "restored the previous configuration and lease file"
      ;;
    *) die "unknown phase $phase" ;;
  esac
}
