# shellcheck shell=sh
# IPv6 addresses and ranges for the DHCPv6 paths of dhcp-server (POSIX sh + awk). Sourced.
#
# awk numbers are doubles and cannot hold 128 bits: an address is handled as its 32 lowercase
# hex digits (x6), which order as the addresses do when compared as strings. Always compare
# them as strings ("" a < "" b): a field of 32 decimal digits would otherwise compare as a
# number and lose its low bits.
# shellcheck disable=SC2016  # awk programs: $ is awk's
ip6_awk='
function hexval(c) { return index("0123456789abcdef", c) - 1 }
# x6(a): the 32 hex digits of IPv6 address a, or "" when a is not one (an embedded IPv4 tail
# is not taken).
function x6(a,   i, n, left, right, nl, nr, L, R, g, out, missing) {
  a = tolower(a)
  if (a == "" || a ~ /[^0-9a-f:]/ || a ~ /:::/) return ""
  i = index(a, "::")
  if (i) {
    left = substr(a, 1, i - 1); right = substr(a, i + 2)
    if (index(right, "::")) return ""
    nl = left == "" ? 0 : split(left, L, ":")
    nr = right == "" ? 0 : split(right, R, ":")
    missing = 8 - nl - nr
    if (missing < 1) return ""
  } else {
    nl = split(a, L, ":"); nr = 0; missing = 0
    if (nl != 8) return ""
  }
  out = ""
  for (g = 1; g <= nl; g++) { if (length(L[g]) < 1 || length(L[g]) > 4) return ""; out = out substr("0000", length(L[g]) + 1) L[g] }
  for (g = 1; g <= missing; g++) out = out "0000"
  for (g = 1; g <= nr; g++) { if (length(R[g]) < 1 || length(R[g]) > 4) return ""; out = out substr("0000", length(R[g]) + 1) R[g] }
  return out
}
# lo6(x, len) / hi6(x, len): the first and last address (32 hex digits) of prefix x/len.
function lo6(x, len) { return edge6(x, len, 0) }
function hi6(x, len) { return edge6(x, len, 1) }
function edge6(x, len, high,   i, bits, d, step, out) {
  out = ""
  for (i = 1; i <= 32; i++) {
    bits = len - 4 * (i - 1)
    if (bits >= 4) { out = out substr(x, i, 1); continue }
    if (bits <= 0) { out = out (high ? "f" : "0"); continue }
    step = 2 ^ (4 - bits); d = int(hexval(substr(x, i, 1)) / step) * step
    out = out substr("0123456789abcdef", d + (high ? step - 1 : 0) + 1, 1)
  }
  return out
}
# inc6(x): x + 1 (32 hex digits; ffff...ffff stays).
function inc6(x,   i, d) {
  for (i = 32; i >= 1; i--) {
    d = hexval(substr(x, i, 1))
    if (d < 15) return substr(x, 1, i - 1) substr("0123456789abcdef", d + 2, 1) substr("000000000000000000000000000000000", 1, 32 - i)
  }
  return x
}
# range6(text): "LO HI" (32 hex digits each) of "a - b", "a-b" or "p/len", or "" when text is
# neither.
function range6(t,   r, p, x) {
  gsub(/[ \t]/, "", t)
  if (index(t, "-")) { split(t, r, "-"); p = x6(r[1]); x = x6(r[2]); return (p == "" || x == "") ? "" : p " " x }
  if (index(t, "/")) { split(t, r, "/"); x = x6(r[1]); return (x == "" || r[2] !~ /^[0-9]+$/ || r[2] > 128) ? "" : lo6(x, r[2]) " " hi6(x, r[2]) }
  x = x6(t); return x == "" ? "" : x " " x
}
'

# outside_ranges6 ITEMS RANGES: the items of ITEMS (one address, or prefix/len, per line) that
# lie in no "LO HI" range of RANGES (32 hex digits each). A prefix must lie wholly inside one.
outside_ranges6() {
  awk "$ip6_awk"'
    FNR == NR { lo[NR] = $1; hi[NR] = $2; k = NR; next }
    {
      split($1, p, "/"); x = x6(p[1])
      if (x == "") { print $1; next }
      a = "" (p[2] == "" ? x : lo6(x, p[2])); b = "" (p[2] == "" ? x : hi6(x, p[2]))
      ok = 0
      for (i = 1; i <= k; i++) if (a >= ("" lo[i]) && b <= ("" hi[i])) ok = 1
      if (!ok) print $1
    }
  ' "$2" "$1"
}

# leases_line6 FILE: the active leases of FILE (one address or prefix/len per line) as the last
# line of a phase's output, which ends in the FIN: "leases: N active (a, b, ...)", at most 6
# (then "...").
leases_line6() {
  sort -u "$1" | awk '
    NF { total++; if (total <= 6) out = out (total > 1 ? ", " : "") $1 }
    END { if (total > 6) out = out ", ..."; printf "leases: %d active%s\n", total, total ? " (" out ")" : "" }'
}
