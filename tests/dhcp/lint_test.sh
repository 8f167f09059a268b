#!/bin/sh
# The DHCP lint on real configurations (each one accepted by the server's own validator,
# `dhcpd -t` or `kea-dhcp4 -t`): `bundle lint` and `rollout plan` refuse a dhcp-server bundle,
# naming the servers, subnets and ranges, when
#   overlap       two servers that are not partners lend the same addresses (and accept it once
#                 the inventory puts them in different groups: separate LANs);
#   pools         the two peers of a dhcpd failover pair declare different pools;
#   mclt          the secondary's failover declaration has mclt (dhcpd -t accepts it);
#   role          the configuration's failover role contradicts the inventory;
#   kea-pools     two Kea HA peers serve different pools;
# and accept a correct failover pair. `--force` sends a refused bundle, saying so.
#
#   lint_test.sh SENDER RECEIVER
#
# No network: rollout plan only reads. Exits 77 (CTest: skipped) without dhcpd or kea-dhcp4.
set -eu

sender=$1 receiver=$2
# shellcheck source=tests/dhcp/needs.sh
. "$(cd "$(dirname "$0")" && pwd)/needs.sh"
needs_tools dhcpd kea-dhcp4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fail() {
  echo "FAIL: $*"
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
  exit 1
}

"$sender" keygen --out "$work/mgr" >/dev/null
for h in r1 r2; do
  "$receiver" keygen --out "$work/$h" --name "$h" >/dev/null
  "$sender" inventory add --inventory "$work/inv" --name "$h" --pub "$work/$h/host.pub" >/dev/null
done
opts="--inventory $work/inv --key $work/mgr/manager.key"

# dhcpd_conf ROLE-STATEMENT RANGE: a failover peer's dhcpd.conf
dhcpd_conf() {
  cat <<EOF
omapi-port 7911;
authoritative;
failover peer "pair" {
  $1;
  max-response-delay 30;
  max-unacked-updates 10;
}
subnet 192.168.0.0 netmask 255.255.0.0 {
  pool {
    failover peer "pair";
    range $2;
  }
}
EOF
}
primary="primary; address 192.168.77.1; port 647; peer address 192.168.77.2; peer port 847; mclt 60; split 128"
secondary="secondary; address 192.168.77.2; port 847; peer address 192.168.77.1; peer port 647"
kea_conf() {  # kea_conf NAME POOL
  cat <<EOF
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "*" ] },
  "hooks-libraries": [ { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so",
    "parameters": { "high-availability": [ { "this-server-name": "$1", "mode": "hot-standby",
      "peers": [ { "name": "r1", "url": "http://192.168.77.1:8001/", "role": "primary" },
                 { "name": "r2", "url": "http://192.168.77.2:8001/", "role": "standby" } ] } ] } } ],
  "subnet4": [ { "id": 1, "subnet": "192.168.0.0/16", "pools": [ { "pool": "$2" } ] } ]
} }
EOF
}
# bundle NAME SERVER R1-CONF R2-CONF: a dhcp-server bundle with one configuration per host,
# each first accepted by its server's validator.
bundle() {
  d=$work/$1
  mkdir -p "$d/hosts/r1" "$d/hosts/r2"
  printf '%s\n' "$3" >"$d/hosts/r1/server.conf"
  printf '%s\n' "$4" >"$d/hosts/r2/server.conf"
  for h in r1 r2; do
    if [ "$2" = dhcpd ]; then
      dhcpd -t -cf "$d/hosts/$h/server.conf" >"$work/validate.log" 2>&1 || fail "$1: dhcpd -t rejects $h's configuration"
    else
      KEA_LOCKFILE_DIR=$work KEA_PIDFILE_DIR=$work kea-dhcp4 -t "$d/hosts/$h/server.conf" >"$work/validate.log" 2>&1 ||
        fail "$1: kea-dhcp4 -t rejects $h's configuration"
    fi
  done
  printf '[bundle]\nname = %s\nversion = 2\nkind = dhcp-server\n[dhcp-server]\nserver = %s\nconfig = server.conf\n' \
    "$1" "$2" >"$d/manifest.ini"
  "$sender" bundle create "$d" -o "$work/$1.fcb" --key "$work/mgr/manager.key" >/dev/null
}
# refused NAME MESSAGE: bundle lint and rollout plan refuse NAME, printing MESSAGE.
refused() {
  # shellcheck disable=SC2086  # opts is split on purpose
  if "$sender" bundle lint "$work/$1.fcb" $opts >"$work/$1.lint.log" 2>&1; then fail "$1: bundle lint accepted it"; fi
  cat "$work/$1.lint.log"
  grep -qF "$2" "$work/$1.lint.log" || fail "$1: bundle lint does not say: $2"
  # shellcheck disable=SC2086
  if "$sender" rollout plan "$work/$1.fcb" $opts --iface lo >"$work/$1.plan.log" 2>&1; then
    fail "$1: rollout plan accepted it"
  fi
  grep -qF "$2" "$work/$1.plan.log" || fail "$1: rollout plan does not say: $2"
  grep -q "the DHCP lint refuses" "$work/$1.plan.log" || fail "$1: rollout plan does not say why it stops"
}
accepted() {
  # shellcheck disable=SC2086
  "$sender" bundle lint "$work/$1.fcb" $opts >"$work/$1.lint.log" 2>&1 || fail "$1: bundle lint refused it"
  cat "$work/$1.lint.log"
}

# overlap: two standalone dhcpd servers, the same range.
plain='subnet 192.168.0.0 netmask 255.255.0.0 { range 192.168.1.1 192.168.1.100; }'
bundle overlap dhcpd "$plain" "$plain"
refused overlap "r1 and r2 would both lend 192.168.1.1-192.168.1.100 (r1: range 192.168.1.1-192.168.1.100 in subnet 192.168.0.0/16 (line 1); r2: range 192.168.1.1-192.168.1.100 in subnet 192.168.0.0/16 (line 1))"
# --force: plan goes on and says so.
# shellcheck disable=SC2086
"$sender" rollout plan "$work/overlap.fcb" $opts --iface lo --force >"$work/forced.log" 2>&1 || fail "--force did not plan"
grep -q "FORCED (--force), lint: r1 and r2 would both lend" "$work/forced.log" || fail "--force does not say what it forced"
# Separate LANs (one inventory group per school): the same private addresses are fine.
"$sender" inventory add --inventory "$work/inv" --name r1 --pub "$work/r1/host.pub" --group school-a >/dev/null
"$sender" inventory add --inventory "$work/inv" --name r2 --pub "$work/r2/host.pub" --group school-b >/dev/null
accepted overlap
"$sender" inventory add --inventory "$work/inv" --name r1 --pub "$work/r1/host.pub" >/dev/null
"$sender" inventory add --inventory "$work/inv" --name r2 --pub "$work/r2/host.pub" >/dev/null

"$sender" inventory redundancy --inventory "$work/inv" --name pair --service dhcpd \
  --member r1=primary --member r2=secondary >/dev/null
bundle good dhcpd "$(dhcpd_conf "$primary" "192.168.100.1 192.168.101.254")" \
  "$(dhcpd_conf "$secondary" "192.168.100.1 192.168.101.254")"
accepted good
bundle pools dhcpd "$(dhcpd_conf "$primary" "192.168.100.1 192.168.101.254")" \
  "$(dhcpd_conf "$secondary" "192.168.100.1 192.168.100.254")"
refused pools "dhcpd failover pair pair: r1 declares range 192.168.100.1-192.168.101.254 in subnet 192.168.0.0/16 (failover peer \"pair\"), r2 does not"
bundle mclt dhcpd "$(dhcpd_conf "$primary" "192.168.100.1 192.168.101.254")" \
  "$(dhcpd_conf "$secondary; mclt 60" "192.168.100.1 192.168.101.254")"
refused mclt "dhcpd failover pair pair: r2 (failover peer \"pair\", line 3): the secondary declares mclt; only the primary may"
bundle role dhcpd "$(dhcpd_conf "$secondary" "192.168.100.1 192.168.101.254")" \
  "$(dhcpd_conf "$primary" "192.168.100.1 192.168.101.254")"
refused role "r1 (failover peer \"pair\", line 3) says secondary, the inventory says primary"

"$sender" inventory redundancy --inventory "$work/inv" --name ha --service kea \
  --member r1=primary --member r2=standby >/dev/null
bundle kea-pools kea4 "$(kea_conf r1 "192.168.100.1 - 192.168.101.254")" \
  "$(kea_conf r2 "192.168.100.1 - 192.168.100.254")"
refused kea-pools "kea HA group ha: r1 declares range 192.168.100.1-192.168.101.254 in subnet 192.168.0.0/16, r2 does not"
echo "PASS: every refusal named the servers and ranges"
