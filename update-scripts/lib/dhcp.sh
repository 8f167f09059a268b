# shellcheck shell=sh
# Helpers shared by the dhcpd and Kea paths of dhcp-server (POSIX sh). Sourced, not run.

# awk: n(dotted quad) -> integer (awk numbers are doubles; print them with %.0f, never %d).
ip_awk='function n(s,  p) { split(s, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }'

# outside_ranges ADDRESSES RANGES: the addresses (one per line) that lie in no "LOW HIGH"
# integer range of RANGES.
outside_ranges() {
  awk "$ip_awk"'
    FNR == NR { lo[NR] = $1; hi[NR] = $2; k = NR; next }
    { x = n($1); ok = 0; for (i = 1; i <= k; i++) if (x >= lo[i] && x <= hi[i]) ok = 1; if (!ok) print $1 }
  ' "$2" "$1"
}

# probe_in RANGES: runs the host's DHCP probe (host fact dhcp-probe, unless the bundle says
# probe = no); the address it bound must lie in a "LOW HIGH" range of RANGES.
probe_in() {
  [ -n "${FLEETCAST_HOST_DHCP_PROBE:-}" ] || return 0
  [ "${FLEETCAST_SET_PROBE:-yes}" = yes ] || return 0
  _out=$(sh -c "$FLEETCAST_HOST_DHCP_PROBE" 2>&1)
  _got=$(printf '%s\n' "$_out" | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' | tail -n 1)
  [ -n "$_got" ] || die "DHCP probe got no address: $(printf '%s\n' "$_out" | tail -n 2 | tr '\n' ' ')"
  printf '%s\n' "$_got" > "$FLEETCAST_WORK/probe"
  [ -z "$(outside_ranges "$FLEETCAST_WORK/probe" "$1")" ] ||
    die "DHCP probe got $_got, which is not in the configured pools"
  say "DHCP probe: offered and bound $_got"
}
