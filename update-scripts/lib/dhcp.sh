# shellcheck shell=sh
# Helpers shared by the dhcpd and Kea paths of dhcp-server (POSIX sh). Sourced, not run.

# awk: n(dotted quad) -> integer (awk numbers are doubles; print them with %.0f, never %d).
ip_awk='function n(s,  p) { split(s, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }'

# outside_ranges ADDRESSES RANGES: the addresses (one per line) that lie in no "LOW HIGH"
# integer range of RANGES (DHCPv6: outside_ranges6, lib/ip6.sh).
outside_ranges() {
  if [ "${family:-4}" = 6 ]; then
    outside_ranges6 "$1" "$2"
    return
  fi
  awk "$ip_awk"'
    FNR == NR { lo[NR] = $1; hi[NR] = $2; k = NR; next }
    { x = n($1); ok = 0; for (i = 1; i <= k; i++) if (x >= lo[i] && x <= hi[i]) ok = 1; if (!ok) print $1 }
  ' "$2" "$1"
}

# probe_in RANGES: runs the host's DHCP probe (host fact dhcp-probe; DHCPv6: dhcp6-probe),
# unless the bundle says probe = no; the address it bound must lie in a "LOW HIGH" range of
# RANGES (integers; DHCPv6: 32 hex digits, lib/ip6.sh).
probe_in() {
  if [ "${family:-4}" = 6 ]; then
    _probe=${FLEETCAST_HOST_DHCP6_PROBE:-} _what="DHCPv6 probe" _re='^[0-9a-fA-F:]+:[0-9a-fA-F:]*$'
  else
    _probe=${FLEETCAST_HOST_DHCP_PROBE:-} _what="DHCP probe" _re='^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$'
  fi
  [ -n "$_probe" ] || return 0
  [ "${FLEETCAST_SET_PROBE:-yes}" = yes ] || return 0
  _out=$(sh -c "$_probe" 2>&1)
  _got=$(printf '%s\n' "$_out" | grep -E "$_re" | tail -n 1)
  [ -n "$_got" ] || die "$_what got no address: $(printf '%s\n' "$_out" | tail -n 2 | tr '\n' ' ')"
  printf '%s\n' "$_got" > "$FLEETCAST_WORK/probe"
  [ -z "$(outside_ranges "$FLEETCAST_WORK/probe" "$1")" ] ||
    die "$_what got $_got, which is not in the configured pools"
  say "$_what: offered and bound $_got"
}

# leases_line FILE: the active leases of FILE (one address per line) as the last line of a
# phase's output, which ends in the FIN: "leases: N active (A-B, C, ...)", runs of consecutive
# addresses, at most 6 (then "..."). The manager's DHCP lint reads it from the receipt store.
# DHCPv6: leases_line6 (lib/ip6.sh).
leases_line() {
  if [ "${family:-4}" = 6 ]; then
    leases_line6 "$1"
    return
  fi
  sort -t. -k1,1n -k2,2n -k3,3n -k4,4n -u "$1" | awk "$ip_awk"'
    function ip(x) { return sprintf("%d.%d.%d.%d", int(x / 16777216), int(x / 65536) % 256, int(x / 256) % 256, x % 256) }
    function flush() { if (count == 0) return; runs++; if (runs <= 6) out = out (runs > 1 ? ", " : "") (lo == hi ? ip(lo) : ip(lo) "-" ip(hi)) }
    /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ {
      x = n($1); total++
      if (count > 0 && x == hi + 1) { hi = x; next }
      flush(); lo = x; hi = x; count = 1
    }
    END { flush(); if (runs > 6) out = out ", ..."; printf "leases: %d active%s\n", total, total ? " (" out ")" : "" }'
}
