# shellcheck shell=sh
# shellcheck disable=SC2154  # candidate, new_src, ip6_awk: set by dhcp-server and lib/ip6.sh
# dhcp-server, the DHCPv6 parts of the ISC dhcpd path (dhcpd -6). Sourced by lib/dhcpd.sh,
# which calls these through its family switch. Facts behind each step: update-scripts/README.md.
#
# dhcpd -6 keeps its leases as IA records: ia-na (addresses, iaaddr) and ia-pd (delegated
# prefixes, iaprefix), each with a binding state. Like dhcpd -4 it rewrites the file at every
# start and drops what lies in no pool of the new configuration ("No pool found for IA_NA
# address ..."); a pool6 with "deny all clients" keeps such a lease and lends nothing.

# Active leases of a dhcpd -6 lease file: one address (ia-na, ia-ta) or prefix/len (ia-pd) per
# line; the last record of each wins.
dhcpd6_active_leases() {
  [ -f "$1" ] || return 0
  awk '
    /^[ \t]*iaaddr [0-9a-fA-F:]+ \{/ || /^[ \t]*iaprefix [0-9a-fA-F:]+\/[0-9]+ \{/ { a = $2; next }
    /^[ \t]*binding state / { if (a != "") { st = $3; sub(/;.*/, "", st); last[a] = st } next }
    /^\}/ { a = "" }
    END { for (i in last) if (last[i] == "active") print i }' "$1" | sort
}

# "LO HI" (32 hex digits each) of every range6 (a b, or p/len) and prefix6 (a b /len: the
# prefixes it delegates) of a dhcpd -6 configuration.
dhcpd6_ranges() {
  # shellcheck disable=SC2020  # each of ; { } becomes a newline
  sed 's/#.*//' "$1" | tr ';{}' '\n\n\n' | awk "$ip6_awk"'
    $1 == "range6" { r = (NF >= 3 && $3 != "temporary") ? range6($2 "-" $3) : range6($2); if (r != "") print r }
    $1 == "prefix6" && NF >= 4 { len = $4; sub(/^\//, "", len); a = x6($2); b = x6($3)
                                 if (a != "" && b != "") print lo6(a, len), hi6(b, len) }'
}

# The subnet6 (as written, "p/len") of CONF that contains ADDRESS, or nothing.
dhcpd6_subnet_for() {
  sed 's/#.*//' "$1" | tr '{' '\n' | awk -v a="$2" "$ip6_awk"'
    $1 == "subnet6" { r = range6($2); x = x6(a); split(r, e, " ")
                      if (r != "" && x != "" && ("" x) >= ("" e[1]) && ("" x) <= ("" e[2])) { print $2; exit } }'
}

# The first subnet6 of CONF (delegated prefixes are pooled inside one), or nothing.
dhcpd6_first_subnet() {
  sed 's/#.*//' "$1" | tr '{' '\n' | awk '$1 == "subnet6" { print $2; exit }'
}

# dhcpd6_retire ORPHANS: writes "SUBNET|POOL STATEMENT" lines to $FLEETCAST_WORK/retired: each
# run of consecutive orphaned addresses of one subnet6 as one range6, each orphaned prefix as
# its own prefix6.
dhcpd6_retire() {
  grep -v / "$1" | while read -r ip; do
    printf '%s %s\n' "$(dhcpd6_subnet_for "$new_src" "$ip")" "$ip"
  done > "$FLEETCAST_WORK/orphans.na"
  ip=$(awk 'NF < 2 { print $1; exit }' "$FLEETCAST_WORK/orphans.na")
  [ -z "$ip" ] || die "refused: active lease $ip lies in no subnet6 of the new configuration"
  awk "$ip6_awk"'{ print $1, x6($2), $2 }' "$FLEETCAST_WORK/orphans.na" | sort | awk "$ip6_awk"'
    $1 == net && ("" $2) == inc6(last) { hi = $3; last = $2; next }
    { if (net != "") print net "|range6 " lo " " hi; net = $1; lo = $3; hi = $3; last = $2 }
    END { if (net != "") print net "|range6 " lo " " hi }' > "$FLEETCAST_WORK/retired"
  first=$(dhcpd6_first_subnet "$new_src")
  grep / "$1" > "$FLEETCAST_WORK/orphans.pd"
  while read -r p; do
    [ -n "$first" ] || die "refused: delegated prefix $p has no subnet6 to keep it in"
    printf '%s|prefix6 %s %s /%s\n' "$first" "${p%/*}" "${p%/*}" "${p#*/}" >> "$FLEETCAST_WORK/retired"
  done < "$FLEETCAST_WORK/orphans.pd"
}

# Inserts the retired pools of $FLEETCAST_WORK/retired into the candidate, each right after its
# subnet6's opening brace.
dhcpd6_insert_retired() {
  awk -F'|' -v conf="$candidate" '
    { pools[$1] = pools[$1] "  pool6 { " $2 "; deny all clients; }  # retired by fleetcast\n" }
    END {
      while ((getline line < conf) > 0) {
        print line
        t = line; sub(/#.*/, "", t)
        if (t ~ /^[ \t]*subnet6[ \t]/ && t ~ /\{/) {
          split(t, f, /[ \t{]+/); k = 0; for (j = 1; j in f; j++) if (f[j] != "") w[++k] = f[j]
          if (w[2] in pools) { printf "%s", pools[w[2]]; delete pools[w[2]] }
        }
      }
      for (s in pools) { print "fleetcast: subnet6 " s " needs a retired pool but its declaration is not on one line" > "/dev/stderr"; exit 1 }
    }' "$FLEETCAST_WORK/retired"
}
