#!/bin/sh
# Bounded receiver disk use over repeated pushes (issue "apply side under adversity", finding 5):
# 100 config-files bundles (each 60 KB, incompressible, its own file name and version) pushed
# over real IPv6 multicast to one receiver with the default retention limits; every 10th push
# is preceded by a 2 MiB push that is cut off mid-delivery (its partial .part file stays).
# Afterwards the spool holds at most 3 applied bundles and one partial file, the state holds
# at most 20 apply directories (logs only) and 3 backup versions, and neither grew between
# push 30 and push 100 beyond the journal's rows.
#
#   retention_test.sh MODE SENDER RECEIVER      MODE: pushes
# Exits 77 (CTest: skipped) when network namespaces cannot be made here. Cleans up on any exit.
set -eu

mode=$1 sender=$2 receiver=$3
here=$(cd "$(dirname "$0")" && pwd)
[ "$mode" = pushes ] || { echo "unknown mode $mode"; exit 2; }
prefix=fg$$
# shellcheck source=tests/fleet/bed.sh
. "$here/bed.sh"

"$fleet" up "$prefix" 1
"$sender" keygen --out "$work/mgr" >/dev/null
"$receiver" keygen --out "$work/r1" --name r1 >/dev/null
"$sender" inventory add --inventory "$work/inv" --name r1 --pub "$work/r1/host.pub" >/dev/null
mkdir -p "$work/etc"
ip netns exec "${prefix}r1" "$receiver" run --name r1 --iface eth0 --key "$work/r1/host.key" \
  --manager-pub "$work/mgr/manager.pub" --spool "$work/spool" --state "$work/state" \
  >>"$work/receiver.log" 2>&1 &
pids="$pids $!"
sleep 0.3

push() {  # push FILE [EXTRA...]: the bundle to r1; waits for the FINs (bounded)
  f=$1
  shift
  ip netns exec "${prefix}mgr" "$sender" push "$f" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 30 --fin-timeout 30 \
    --no-progress "$@" >"$work/push.log" 2>&1
}
bytes() { du -sb "$1" | cut -f1; }
v=0
start=$(date +%s)
while [ "$v" -lt 100 ]; do
  v=$((v + 1))
  if [ $((v % 10)) -eq 0 ]; then
    # A big bundle whose push is killed after 0.5 s: its .part stays behind.
    mkdir -p "$work/big"
    printf '[bundle]\nname = big\nversion = %s\nkind = config-files\n[file:x]\nsource = x\ntarget = %s/x\nmode = 0644\n' \
      "$v" "$work/etc" >"$work/big/manifest.ini"
    head -c 2097152 /dev/urandom >"$work/big/x"
    "$sender" bundle create "$work/big" -o "$work/big-$v.fcb" --key "$work/mgr/manager.key" >/dev/null
    ip netns exec "${prefix}mgr" "$sender" push "$work/big-$v.fcb" --inventory "$work/inv" \
      --key "$work/mgr/manager.key" --iface eth0 --rate 20 --deadline 30 --no-progress \
      >"$work/big.log" 2>&1 &
    big=$!
    sleep 0.5
    kill -9 "$big" 2>/dev/null || true
    wait "$big" 2>/dev/null || true
    rm -f "$work/big-$v.fcb"
  fi
  mkdir -p "$work/b"
  printf '[bundle]\nname = web\nversion = %s\nkind = config-files\n[file:site]\nsource = site.conf\ntarget = %s/site.conf\nmode = 0644\n' \
    "$v" "$work/etc" >"$work/b/manifest.ini"
  head -c 20000 /dev/urandom | od -An -tx1 >"$work/b/site.conf"
  "$sender" bundle create "$work/b" -o "$work/web-$v.fcb" --key "$work/mgr/manager.key" >/dev/null
  push "$work/web-$v.fcb" || fail "push $v: $(tail -n 3 "$work/push.log")"
  rm -f "$work/web-$v.fcb"
  if [ "$v" -eq 30 ]; then spool30=$(bytes "$work/spool") state30=$(bytes "$work/state"); fi
done
elapsed=$(($(date +%s) - start))
spool=$(bytes "$work/spool") state=$(bytes "$work/state")
finals=$(find "$work/spool" -maxdepth 1 -type f ! -name '.*' | wc -l)
parts=$(find "$work/spool" -maxdepth 1 -name '.*.part' | wc -l)
dirs=$(find "$work/state/apply" -mindepth 1 -maxdepth 1 -type d | wc -l)
backups=$(find "$work/state/backups/web" -mindepth 1 -maxdepth 1 -type d | wc -l)
echo "100 pushes (+10 cut off) in ${elapsed}s; spool: $spool30 bytes after 30, $spool after 100" \
  "($finals bundles, $parts partial); state: $state30 bytes after 30, $state after 100" \
  "($dirs apply dirs, $backups backup versions)"
[ "$finals" -le 3 ] || fail "$finals applied bundles kept in the spool (limit 3)"
[ "$parts" -le 1 ] || fail "$parts partial files kept in the spool (limit 1)"
[ "$dirs" -le 20 ] || fail "$dirs apply directories kept (limit 20)"
[ "$backups" -le 3 ] || fail "$backups backup versions kept (limit 3)"
[ "$spool" -le $((spool30 + spool30 / 4 + 2200000)) ] || fail "the spool grew from $spool30 to $spool bytes"
[ "$state" -le $((state30 + state30 / 4)) ] || fail "the state grew from $state30 to $state bytes"
echo "PASS: $mode"
