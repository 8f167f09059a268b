#!/bin/sh
# Rollouts over real IPv6 multicast: one distribution (apply=hold), then activation in waves,
# with real receivers and the real config-files update script. Every receiver runs in its own
# mount namespace where $work/etc is its own directory, so the one target path of the bundle
# is a different file on every host.
#
#   rollout_test.sh MODE SENDER RECEIVER
#
# MODE: waves   8 hosts, --waves 1,3,100%: every host applied the bundle exactly once (its
#               reload ran once), each wave started only after every result of the one before
#               (timestamps of the report), the bundle went on the wire once (the manager's
#               interface counter: one distribution plus repair, not one per wave); the
#               receipt store agrees (status table, --json and --csv; waves' times in order),
#               and every stored reply verifies again, a changed one does not
#       canary  the bundle's reload fails on every host, --max-fail 0: the canary rolls back,
#               the rollout halts after wave 1, the 7 other hosts hold the bundle (FIN held)
#               and their file is byte-identical to before (status says so); a fixed bundle
#               then rolls out to all
#       window  windows per group: r1-r4 (group day) have one open now (--window @day=...),
#               r5-r8 (group night) the inventory's, which opens 20 s after the start (UTC, to
#               the second); --waves 1,100%: the distribution runs at once, r1-r4 apply at once,
#               r5-r8 hold the bundle until their window opens and nothing of theirs is applied
#               before it (every motd's mtime, the FINs in the store); plan refuses windows that
#               are never open at once
#       kill-PHASE  PHASE = distribution | wave | soak: the manager is SIGKILLed while it
#               distributes (at 10 Mbit/s: resume delivers the rest, a catch-up), while wave 3
#               applies (each reload takes 1 s), or while it soaks after wave 1; `rollout
#               resume --state` then finishes it: every host applied exactly once (one reload
#               line each), the store says done. kill-wave: before the resume, r1's receiver
#               restarts and `status --refresh` collects every result, also those wave 3 sent
#               while no manager listened, and r1's from its journal
#       pause   `rollout pause` during the soak after wave 1: the manager starts no new wave
#               and exits PAUSED, hosts of later waves hold the bundle and are unchanged;
#               `rollout resume` then finishes it, each host applied once
#       abort   `rollout abort` during that soak: ABORTED, the later hosts stay held and
#               unchanged, `rollout resume` finds nothing to resume
#       late    r8 is off during the distribution (which ends without waiting for it) and
#               comes back during wave 1: a catch-up before its wave delivers to it, and it
#               applies in wave 3 like the others
#       serve   `rollout start --at +2` schedules it, the daemon (`serve`) starts it when due;
#               the daemon is SIGKILLed while soaking after wave 1 and started again: it resumes
#               the rollout on its own, every host applied once, SIGTERM stops the daemon
# Exits 77 (CTest: skipped) when network namespaces cannot be made here. Cleans up on any exit.
set -eu

mode=$1 sender=$2 receiver=$3
here=$(cd "$(dirname "$0")" && pwd)
prefix=fo$$
# shellcheck source=tests/fleet/bed.sh
. "$here/bed.sh"
command -v unshare >/dev/null || { echo "SKIP: unshare is missing"; exit 77; }

n=8
"$fleet" up "$prefix" "$n"
"$sender" keygen --out "$work/mgr" >/dev/null
mkdir -p "$work/etc"
# start_receiver I: host rI's receiver, in its own mount namespace where $work/etc is its own
# directory (a private bind mount).
start_receiver() {
  ip netns exec "${prefix}r$1" unshare -m sh -c \
    "mount --bind '$work/r$1/etc' '$work/etc' && exec '$receiver' run --name r$1 --iface eth0 \
      --key '$work/r$1/host.key' --manager-pub '$work/mgr/manager.pub' \
      --spool '$work/r$1/spool' --state '$work/r$1/state'" >>"$work/r$1.log" 2>&1 &
  pids="$pids $!"
  eval "receiver_pid$1=$!"
}
receiver_pid1=
i=1
while [ "$i" -le "$n" ]; do
  "$receiver" keygen --out "$work/r$i" --name "r$i" >/dev/null
  group=day
  [ "$i" -gt 4 ] && group=night
  "$sender" inventory add --inventory "$work/inv" --name "r$i" --pub "$work/r$i/host.pub" \
    --group "$group" >/dev/null
  mkdir -p "$work/r$i/etc"
  printf 'motd of r%s before the rollout\n' "$i" >"$work/r$i/etc/motd"
  cp "$work/r$i/etc/motd" "$work/r$i/motd.before"
  # late: r8 is switched off during the distribution and comes back during wave 1.
  if [ "$mode" != late ] || [ "$i" -ne "$n" ]; then start_receiver "$i"; fi
  i=$((i + 1))
done
sleep 0.3

# bundle VERSION RELOAD: a config-files bundle of $work/etc/motd (2 MiB of padding in the
# payload, so the wire counter measures the distribution) -> $work/motd-VERSION.fcb
bundle() {
  d=$work/b$1
  mkdir -p "$d"
  printf '[bundle]\nname = motd\nversion = %s\nkind = config-files\n[config-files]\nreload = %s\n' "$1" "$2" >"$d/manifest.ini"
  printf '[file:motd]\nsource = motd\ntarget = %s/etc/motd\nmode = 0644\n' "$work" >>"$d/manifest.ini"
  printf '[file:pad]\nsource = pad\ntarget = %s/etc/pad\nmode = 0644\n' "$work" >>"$d/manifest.ini"
  printf 'motd of version %s\n' "$1" >"$d/motd"
  head -c 2097152 /dev/urandom >"$d/pad"
  "$sender" bundle create "$d" -o "$work/motd-$1.fcb" --key "$work/mgr/manager.key" >/dev/null
}
gone() { ! kill -0 "$1" 2>/dev/null; }
tx_bytes() { ip netns exec "${prefix}mgr" cat /sys/class/net/eth0/statistics/tx_bytes; }
rollout() {  # rollout FILE [OPTIONS...]: sets rc
  f=$1
  shift
  rc=0
  ip netns exec "${prefix}mgr" "$sender" rollout run "$f" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --activate-timeout 60 --no-progress --report "$work/report.json" --state "$work/mstate" \
    "$@" >"$work/rollout.log" 2>&1 || rc=$?
  cat "$work/rollout.log"
}
# statuses HOST: what the host's journal says it did with bundles, oldest first.
statuses() { sqlite3 "$work/$1/state/apply.db" "SELECT status FROM applies ORDER BY id" | tr '\n' ' '; }
# still_held WHY: hosts r2..rN only hold the bundle and their motd is as before.
still_held() {
  i=2
  while [ "$i" -le "$n" ]; do
    [ "$(statuses "r$i")" = "held " ] || fail "r$i: $(statuses "r$i"), expected only held"
    cmp -s "$work/r$i/etc/motd" "$work/r$i/motd.before" || fail "r$i: motd changed $1"
    i=$((i + 1))
  done
}
# applied_once VERSION: every host holds that motd and its reload ran exactly once.
applied_once() {
  i=1
  while [ "$i" -le "$n" ]; do
    grep -qx "motd of version $1" "$work/r$i/etc/motd" || fail "r$i: motd $1 not installed"
    lines=$(wc -l <"$work/r$i/etc/reloads")
    [ "$lines" -eq 1 ] || fail "r$i: applied $lines times"
    i=$((i + 1))
  done
}

case $mode in
waves)
  # The reload notes each run in the host's own directory: exactly one line per host.
  bundle 2 "date +%s.%N >> $work/etc/reloads"
  before=$(tx_bytes)
  rollout "$work/motd-2.fcb" --waves 1,3,100%
  sent=$(($(tx_bytes) - before))
  [ "$rc" -eq 0 ] || fail "rollout exited $rc"
  size=$(stat -c %s "$work/motd-2.fcb")
  applied_once 2
  # Wave order: every result of wave k before any activation of wave k+1.
  jq -e '[.hosts | group_by(.wave)[] | {w: .[0].wave, first: (map(.activated_at_s) | min), last: (map(.result_at_s) | max)}]
    | . as $w | [range(1; length) | $w[.].first >= $w[. - 1].last] | all' "$work/report.json" >/dev/null ||
    fail "a wave started before the previous one ended: $(jq -c '.hosts' "$work/report.json")"
  sizes=$(jq -r '[.hosts | group_by(.wave)[] | length] | map(tostring) | join(",")' "$work/report.json")
  [ "$sizes" = 1,2,5 ] || fail "waves of $sizes hosts, expected 1,2,5"
  ratio=$(awk -v s="$sent" -v b="$size" 'BEGIN { printf "%.3f", s / b }')
  echo "manager sent $sent bytes for a $size-byte bundle ($ratio x) to $n hosts in 3 waves"
  awk -v r="$ratio" 'BEGIN { exit !(r < 1.5) }' || fail "the bundle went on the wire more than once ($ratio x)"
  # The receipt store: the same answer three ways, waves in order, every reply verifiable.
  "$sender" status --state "$work/mstate" --bundle motd
  applied=$("$sender" status --state "$work/mstate" --bundle motd --json |
    jq '[.[] | select(.status == "applied" and .installed == 2)] | length')
  [ "$applied" -eq "$n" ] || fail "status --json: $applied hosts applied version 2"
  csv=$("$sender" status --state "$work/mstate" --bundle motd --csv | grep -c ',motd,applied,2,2,')
  [ "$csv" -eq "$n" ] || fail "status --csv: $csv hosts applied version 2"
  "$sender" rollout status --state "$work/mstate"
  "$sender" rollout status --state "$work/mstate" --json >"$work/rs.json"
  jq -e '.state == "done" and (.waves | length) == 3 and .counts.applied == 8 and
    ([.waves[].hosts | length] == [1, 2, 5])' "$work/rs.json" >/dev/null ||
    fail "rollout status --json disagrees: $(cat "$work/rs.json")"
  order=$(sqlite3 "$work/mstate/manager.db" "SELECT COUNT(*) FROM waves a JOIN waves b
    ON b.rollout = a.rollout AND b.wave = a.wave + 1 WHERE b.started_at < a.ended_at")
  [ "$order" -eq 0 ] || fail "the store shows a wave that started before the previous one ended"
  "$sender" receipts verify --state "$work/mstate" | tail -n 1 | grep -q ', 0 failed' ||
    fail "stored receipts do not verify"
  sqlite3 "$work/mstate/manager.db" \
    "UPDATE receipts SET line = replace(line, 'status=applied', 'status=failed') WHERE id = (SELECT MAX(id) FROM receipts WHERE verb = 'FIN')"
  if "$sender" receipts verify --state "$work/mstate" >"$work/verify.log"; then
    fail "a changed receipt verified"
  fi
  grep -q 'BAD receipt' "$work/verify.log" || fail "receipts verify does not name the changed receipt"
  ;;
canary)
  bundle 2 "! grep -q 'version 2' $work/etc/motd"  # fails with the new file: every apply rolls back
  rollout "$work/motd-2.fcb" --waves 1,3,100% --max-fail 0
  [ "$rc" -ne 0 ] || fail "a halted rollout exited 0"
  grep -q "HALTED after wave 1" "$work/rollout.log" || fail "no halt after wave 1"
  case $(statuses r1) in *rolled-back*) ;; *) fail "r1 (canary): $(statuses r1)" ;; esac
  cmp -s "$work/r1/etc/motd" "$work/r1/motd.before" || fail "r1: motd not rolled back"
  still_held "before its wave"
  held=$("$sender" status --state "$work/mstate" --bundle motd --json | jq '[.[] | select(.status == "held")] | length')
  [ "$held" -eq 7 ] || fail "status shows $held hosts holding the bundle, expected 7"
  "$sender" rollout status 1 --state "$work/mstate" | tee "$work/rs.log"
  grep -q "^rollout 1: motd version 2, halted: " "$work/rs.log" || fail "rollout status: not halted"
  grep -q "RECAP motd version 2:  held=7  rolled-back=1" "$work/rs.log" || fail "rollout status: wrong recap"
  grep -qE "^  r1 +rolled-back " "$work/rs.log" || fail "rollout status: r1's failure not listed"
  bundle 3 true
  rollout "$work/motd-3.fcb" --waves 1,3,100% --max-fail 0
  [ "$rc" -eq 0 ] || fail "the fixed bundle did not roll out (exit $rc)"
  i=1
  while [ "$i" -le "$n" ]; do
    grep -qx 'motd of version 3' "$work/r$i/etc/motd" || fail "r$i: the fixed bundle is not installed"
    i=$((i + 1))
  done
  ;;
window)
  bundle 2 true
  now=$(date +%s)
  opens=$((now + 20))
  utc() { date -u -d "@$1" +%H:%M:%S; }
  night="daily $(utc "$opens")-$(utc $((opens + 7200))) UTC"
  day="daily $(utc $((now - 60)))-$(utc $((now + 7200))) UTC"
  printf 'window night %s\n' "$night" >>"$work/inv"
  if "$sender" rollout plan "$work/motd-2.fcb" --inventory "$work/inv" --key "$work/mgr/manager.key" \
    --iface lo --window "@day=daily 01:00-02:00 UTC" --window "daily 03:00-04:00 UTC" >"$work/plan.log" 2>&1; then
    fail "plan accepted windows that never overlap"
  fi
  grep -q "never open at once" "$work/plan.log" || fail "plan did not say why: $(cat "$work/plan.log")"
  rollout "$work/motd-2.fcb" --waves 1,100% --window "@day=$day"
  [ "$rc" -eq 0 ] || fail "rollout exited $rc"
  grep -q "window '$night' for r5 r6 r7 r8: next opens at" "$work/rollout.log" || fail "plan does not show r5-r8's window"
  grep -q "window '$day' for r1 r2 r3 r4: open now" "$work/rollout.log" || fail "plan does not show r1-r4's window"
  grep -q "wave 2: waiting for the window '$night'" "$work/rollout.log" || fail "no wait for the night window"
  i=1
  while [ "$i" -le "$n" ]; do
    grep -qx 'motd of version 2' "$work/r$i/etc/motd" || fail "r$i: motd not installed"
    mtime=$(stat -c %Y "$work/r$i/etc/motd")
    if [ "$i" -le 4 ]; then
      [ "$mtime" -lt "$opens" ] || fail "r$i (day): applied at $mtime, after waiting for the night window at $opens"
    else
      [ "$mtime" -ge "$opens" ] || fail "r$i (night): applied at $mtime, before its window opened at $opens"
    fi
    i=$((i + 1))
  done
  early=$(sqlite3 "$work/mstate/manager.db" "SELECT COUNT(*) FROM receipts WHERE host IN ('r5','r6','r7','r8') AND line LIKE '% status=applied %' AND at < $opens")
  [ "$early" -eq 0 ] || fail "the store shows $early night host(s) applied before $opens"
  held=$(sqlite3 "$work/mstate/manager.db" "SELECT MIN(at) FROM receipts WHERE line LIKE '% status=held %'")
  [ "$held" -lt "$opens" ] || fail "the distribution waited for the window too"
  ;;
pause | abort)
  bundle 2 "date +%s.%N >> $work/etc/reloads"
  ip netns exec "${prefix}mgr" "$sender" rollout run "$work/motd-2.fcb" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --activate-timeout 60 --no-progress --state "$work/mstate" --waves 1,3,100% --soak 8 \
    >"$work/first.log" 2>&1 &
  manager=$!
  pids="$pids $manager"
  wait_until 300 grep -q "soaking" "$work/first.log" || fail "the manager never soaked after wave 1"
  "$sender" rollout "$mode" --state "$work/mstate"
  wait_until 50 gone "$manager" || fail "the manager did not stop within 5 s of 'rollout $mode'"
  first_rc=0
  wait "$manager" || first_rc=$?
  cat "$work/first.log"
  state=paused
  [ "$mode" = abort ] && state=aborted
  [ "$first_rc" -ne 0 ] || fail "a $state rollout exited 0"
  upper=$(printf '%s' "$state" | tr '[:lower:]' '[:upper:]')
  grep -q "$upper after wave 1" "$work/first.log" || fail "no $upper after wave 1"
  "$sender" rollout list --state "$work/mstate" | tee "$work/list.log"
  grep -q ", $state," "$work/list.log" || fail "rollout list does not say $state"
  still_held "after the $mode"
  rc=0
  ip netns exec "${prefix}mgr" "$sender" rollout resume --state "$work/mstate" \
    >"$work/rollout.log" 2>&1 || rc=$?
  cat "$work/rollout.log"
  if [ "$mode" = abort ]; then
    grep -q "no unfinished rollout" "$work/rollout.log" || fail "an aborted rollout was resumed"
  else
    [ "$rc" -eq 0 ] || fail "rollout resume exited $rc"
    applied_once 2
  fi
  ;;
late)
  bundle 2 "date +%s.%N >> $work/etc/reloads"
  ip netns exec "${prefix}mgr" "$sender" rollout run "$work/motd-2.fcb" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --activate-timeout 60 --no-progress --state "$work/mstate" --waves 1,3,100% --soak 2 \
    --registration-timeout 1000 >"$work/rollout.log" 2>&1 &
  manager=$!
  pids="$pids $manager"
  wait_until 300 grep -q "wave 1: activating" "$work/rollout.log" || fail "wave 1 never started"
  start_receiver "$n"
  echo "r$n is back"
  wait_until 600 gone "$manager" || fail "the rollout did not end"
  rc=0
  wait "$manager" || rc=$?
  cat "$work/rollout.log"
  [ "$rc" -eq 0 ] || fail "rollout exited $rc"
  grep -q "catch-up: delivering motd-2.fcb .* to 1 host" "$work/rollout.log" || fail "no catch-up for r$n"
  applied_once 2
  ;;
serve)
  bundle 2 "date +%s.%N >> $work/etc/reloads"
  serve() {
    ip netns exec "${prefix}mgr" "$sender" serve --state "$work/mstate" >"$work/$1.log" 2>&1 &
    daemon=$!
    pids="$pids $daemon"
  }
  serve serve1
  ip netns exec "${prefix}mgr" "$sender" rollout start "$work/motd-2.fcb" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --activate-timeout 60 --no-progress --state "$work/mstate" --waves 1,3,100% --soak 5 \
    --at +2 >"$work/start.log" 2>&1 || fail "rollout start failed"
  grep -q "scheduled for" "$work/start.log" || fail "rollout start did not schedule"
  "$sender" rollout list --state "$work/mstate" | grep -q ", scheduled," || fail "not listed as scheduled"
  wait_until 300 grep -q "soaking" "$work/serve1.log" || fail "the daemon did not start the rollout"
  kill -9 "$daemon"
  echo "SIGKILLed the daemon after wave 1"
  serve serve2
  done_yet() {
    [ "$(sqlite3 "$work/mstate/manager.db" "SELECT state FROM rollouts WHERE id = 1")" = "done" ]
  }
  wait_until 600 done_yet || fail "the restarted daemon did not finish the rollout"
  grep -q "resuming rollout 1 (its manager is gone)" "$work/serve2.log" || fail "no resume by the daemon"
  applied_once 2
  kill -TERM "$daemon"
  wait_until 50 gone "$daemon" || fail "the daemon ignored SIGTERM"
  grep -q "serve: stopped" "$work/serve2.log" || fail "the daemon did not stop cleanly"
  cat "$work/serve2.log"
  ;;
kill-*)
  bundle 2 "sleep 1; date +%s.%N >> $work/etc/reloads"
  case $mode in
  kill-distribution) extra="--rate 10" marker="distributing" ;;
  kill-wave) extra="" marker="wave 3: activating" ;;
  kill-soak) extra="--soak 3" marker="soaking" ;;
  *) fail "unknown mode $mode" ;;
  esac
  # shellcheck disable=SC2086  # $extra: options split on purpose
  ip netns exec "${prefix}mgr" "$sender" rollout run "$work/motd-2.fcb" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --activate-timeout 60 --no-progress --state "$work/mstate" --waves 1,3,100% $extra \
    >"$work/first.log" 2>&1 &
  manager=$!
  pids="$pids $manager"
  wait_until 300 grep -q "$marker" "$work/first.log" || fail "the manager never reached '$marker'"
  [ "$mode" = kill-distribution ] && sleep 0.3
  kill -9 "$manager"
  echo "SIGKILLed the manager at '$marker'"
  if [ "$mode" = kill-wave ]; then
    # Wave 3 (r4-r8) applies and reports to nobody; r1 restarts (its result is in its journal).
    wave3_done() { for i in 4 5 6 7 8; do [ -s "$work/r$i/etc/reloads" ] || return 1; done; }
    wait_until 300 wave3_done || fail "wave 3 did not apply while the manager was down"
    kill -TERM "$receiver_pid1"
    wait_until 50 gone "$receiver_pid1" || fail "r1's receiver ignored SIGTERM"
    start_receiver 1
    sleep 0.3
    known=$("$sender" status --state "$work/mstate" --bundle motd --json | jq '[.[] | select(.status == "applied")] | length')
    [ "$known" -lt "$n" ] || fail "every result reached the store before the kill: nothing left to refresh"
    ip netns exec "${prefix}mgr" "$sender" status --state "$work/mstate" --bundle motd --json \
      --refresh --key "$work/mgr/manager.key" --iface eth0 >"$work/refresh.json" 2>"$work/refresh.log"
    cat "$work/refresh.log"
    grep -q "refresh: 8 of 8 host(s) answered" "$work/refresh.log" || fail "not every host answered the refresh"
    applied=$(jq '[.[] | select(.status == "applied")] | length' "$work/refresh.json")
    [ "$applied" -eq "$n" ] || fail "after --refresh the store shows $applied hosts applied: $(cat "$work/refresh.json")"
  fi
  rc=0
  ip netns exec "${prefix}mgr" "$sender" rollout resume --state "$work/mstate" \
    >"$work/rollout.log" 2>&1 || rc=$?
  cat "$work/rollout.log"
  [ "$rc" -eq 0 ] || fail "rollout resume exited $rc"
  if [ "$mode" = kill-distribution ]; then
    grep -q "catch-up: delivering" "$work/rollout.log" || fail "no catch-up of the cut-off distribution"
  fi
  applied_once 2
  state=$(sqlite3 "$work/mstate/manager.db" "SELECT state FROM rollouts ORDER BY id DESC LIMIT 1")
  [ "$state" = "done" ] || fail "the store says the rollout is '$state'"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode"
