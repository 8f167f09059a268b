#!/bin/sh
# The web view of `serve --http` (sender/web/) over a real rollout in network namespaces: the
# daemon runs the rollout (`rollout start --at now`) and serves the page from its receipt store;
# Debian's chromium (headless) loads it in the manager's namespace.
#
#   web_test.sh MODE SENDER RECEIVER
#
# MODE: rollout  8 hosts, --waves 1,3,100% --soak 5: screenshots of / at three moments (after
#                wave 1, after wave 2, at the end; PNGs in $FLEETCAST_WEB_SHOTS, default
#                ./web-shots) whose DOM shows the waves filling (1, 3, 8 hosts applied), the end
#                also at a phone's width; a host's page lists its session, result and signed
#                receipts with the command that verifies them
#       xss      r3's reload fails printing a hostile text (<script>, <img onerror>): the FIN
#                reason reaches the pages as text; chromium's DOM (scripts allowed to run for 3
#                s of virtual time) holds no element made of it and nothing ran
#       metrics  /metrics during and after the rollout, parsed by prometheus_client's parser:
#                no error; hosts by state, the rollout's waves, FIN ages, the daemon's session
#                counters and store size present and consistent with the rollout
#       load     one rollout alone, then one with 100 slow clients and 1,000 malformed requests
#                at the web view (tests/web/load.py): the page answers every probe within 2 s,
#                the malformed ones get 400, and the loaded rollout takes about as long
#       http     no fleet: the daemon on loopback with an empty store: 405, 404, HEAD, path
#                tricks, 100 slow clients and 1,000 malformed requests; it stays up and stops
#                on SIGTERM
# Exits 77 (CTest: skipped) where namespaces, chromium or python3's prometheus_client are
# missing. Cleans up on any exit.
set -eu

mode=$1 sender=$2 receiver=$3
here=$(cd "$(dirname "$0")/../fleet" && pwd)
web=$(cd "$(dirname "$0")" && pwd)
prefix=fw$$
python=/usr/bin/python3
[ -x "$python" ] || { echo "SKIP: $python is missing"; exit 77; }
case $mode in
rollout | xss)
  command -v chromium >/dev/null || { echo "SKIP: chromium is missing (apt-get install chromium)"; exit 77; }
  ;;
metrics)
  "$python" -c 'import prometheus_client' 2>/dev/null ||
    { echo "SKIP: python3-prometheus-client is missing"; exit 77; }
  ;;
esac
# shellcheck source=tests/fleet/bed.sh
. "$here/bed.sh"
shots=${FLEETCAST_WEB_SHOTS:-$(pwd)/web-shots}

# serve_web LOG [NETNS]: the daemon with --http on a free loopback port; sets $daemon, $url.
serve_web() {
  if [ -n "${2:-}" ]; then run="ip netns exec $2"; else run=""; fi
  $run "$sender" serve --state "$work/mstate" --http 127.0.0.1:0 >"$work/$1.log" 2>&1 &
  daemon=$!
  pids="$pids $daemon"
  wait_until 100 grep -q "web view at http://" "$work/$1.log" || fail "no web view"
  url=$(sed -n 's|^web view at \(http://[^ ]*\)$|\1|p' "$work/$1.log" | head -n 1)
  url=${url%/}
  echo "web view at $url"
}
gone() { ! kill -0 "$1" 2>/dev/null; }
# in_mgr COMMAND...: in the manager's namespace (where the web view listens).
in_mgr() { ip netns exec "${prefix}mgr" "$@"; }
# browser URL ARGS...: headless chromium in the manager's namespace (its own profile).
browser() {
  target=$1
  shift
  in_mgr chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/chrome" "$@" "$target" 2>>"$work/chromium.log"
}
dom() { browser "$url$1" --virtual-time-budget=3000 --dump-dom; }
shot() {  # shot NAME WIDTH HEIGHT PATH
  mkdir -p "$shots"
  browser "$url$4" --window-size="$2,$3" --screenshot="$shots/$1.png" >/dev/null
  [ -s "$shots/$1.png" ] || fail "no screenshot $1"
  echo "screenshot $shots/$1.png"
}
applied_cells() { grep -o '<a class="cell s-applied"' "$1" | wc -l; }

if [ "$mode" = http ]; then
  mkdir -p "$work/mstate"
  serve_web serve
  code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
  [ "$(code "$url/")" = 200 ] || fail "/ does not answer"
  [ "$(code -X POST "$url/")" = 405 ] || fail "POST is not refused"
  [ "$(code -X DELETE "$url/api/overview")" = 405 ] || fail "DELETE is not refused"
  [ "$(code "$url/nothing")" = 404 ] || fail "an unknown path is not 404"
  [ "$(code --path-as-is "$url/static/../../etc/passwd")" = 404 ] || fail "a .. path is served"
  [ "$(code "$url/hosts/..%2F..%2Fetc%2Fpasswd")" = 404 ] || fail "an encoded / is served"
  [ "$(code "$url/api/rollouts/99999999999999999999")" = 404 ] || fail "a huge ID is not 404"
  curl -sI "$url/metrics" | grep -q '^Content-Type: text/plain; version=0.0.4' || fail "HEAD /metrics"
  host=${url#http://}
  "$python" "$web/load.py" "${host%:*}" "${host##*:}" 12 100 1000 | tee "$work/load.log"
  grep -q "probes [0-9]* (failed 0" "$work/load.log" || fail "the page stopped answering under load"
  bad400=$(sed -n 's/.*(400: \([0-9]*\)).*/\1/p' "$work/load.log")
  # (an oversized head is answered 400 and the connection closed while the client still
  # sends: its reset may take the answer with it, so not every one is read back)
  [ "$bad400" -ge 800 ] || fail "only $bad400 of 1000 malformed requests got 400"
  kill -0 "$daemon" || fail "the daemon died under load"
  curl -s "$url/metrics" | grep -E '^fleetcast_http_(malformed_requests|timeouts)_total' | tee "$work/http.log"
  kill -TERM "$daemon"
  wait_until 50 gone "$daemon" || fail "the daemon ignored SIGTERM"
  grep -q "serve: stopped" "$work/serve.log" || fail "the daemon did not stop cleanly"
  echo "PASS: $mode"
  exit 0
fi

n=8
"$fleet" up "$prefix" "$n"
"$sender" keygen --out "$work/mgr" >/dev/null
mkdir -p "$work/etc"
i=1
while [ "$i" -le "$n" ]; do
  "$receiver" keygen --out "$work/r$i" --name "r$i" >/dev/null
  group=school-a
  [ "$i" -gt 4 ] && group=school-b
  "$sender" inventory add --inventory "$work/inv" --name "r$i" --pub "$work/r$i/host.pub" \
    --group "$group" >/dev/null
  mkdir -p "$work/r$i/etc"
  printf 'motd of r%s\n' "$i" >"$work/r$i/etc/motd"
  ip netns exec "${prefix}r$i" unshare -m sh -c \
    "mount --bind '$work/r$i/etc' '$work/etc' && exec '$receiver' run --name r$i --iface eth0 \
      --key '$work/r$i/host.key' --manager-pub '$work/mgr/manager.pub' \
      --spool '$work/r$i/spool' --state '$work/r$i/state'" >>"$work/r$i.log" 2>&1 &
  pids="$pids $!"
  i=$((i + 1))
done
# The reload (in each host's own etc): 1 s, and on r3 (xss) it fails with the new motd printing
# a hostile text, which ends up in r3's FIN reason.
i=1
while [ "$i" -le "$n" ]; do
  printf '#!/bin/sh\nsleep 1\n' >"$work/r$i/etc/reload"
  if [ "$mode" = xss ] && [ "$i" -eq 3 ]; then
    # shellcheck disable=SC2016  # literal text
    printf '%s\n' 'grep -q "version 2" "$(dirname "$0")/motd" || exit 0' \
      "echo '<script>document.title=\"pwned\"</script><img src=x onerror=document.body.dataset.pwned=1>'" \
      'exit 1' >>"$work/r$i/etc/reload"
  fi
  i=$((i + 1))
done
sleep 0.3

# bundle VERSION: config-files of motd, reloaded by each host's etc/reload.
bundle() {
  d=$work/b$1
  mkdir -p "$d"
  printf '[bundle]\nname = motd\nversion = %s\nkind = config-files\n[config-files]\nreload = sh %s/etc/reload\n' "$1" "$work" >"$d/manifest.ini"
  printf '[file:motd]\nsource = motd\ntarget = %s/etc/motd\nmode = 0644\n' "$work" >>"$d/manifest.ini"
  printf 'motd of version %s\n' "$1" >"$d/motd"
  "$sender" bundle create "$d" -o "$work/motd-$1.fcb" --key "$work/mgr/manager.key" >/dev/null
}
# start VERSION ARGS...: schedules the rollout of that version now; the daemon runs it.
start() {
  v=$1
  shift
  bundle "$v"
  in_mgr "$sender" rollout start "$work/motd-$v.fcb" --inventory "$work/inv" \
    --key "$work/mgr/manager.key" --iface eth0 --deadline 60 --fin-timeout 60 \
    --activate-timeout 60 --no-progress --state "$work/mstate" --at now "$@" \
    >"$work/start.log" 2>&1 || fail "rollout start failed: $(cat "$work/start.log")"
}
state_of() { sqlite3 "$work/mstate/manager.db" "SELECT state FROM rollouts WHERE id = $1"; }
ended() { case $(state_of "$1") in done | halted | failed | aborted) return 0 ;; esac; return 1; }
soaks() { [ "$(grep -c soaking "$work/serve.log")" -ge "$1" ]; }

mkdir -p "$work/mstate"
serve_web serve "${prefix}mgr"
case $mode in
rollout)
  start 2 --waves 1,3,100% --soak 5
  moment=0
  for when in 1 2 end; do
    moment=$((moment + 1))
    if [ "$when" = end ]; then
      wait_until 900 ended 1 || fail "the rollout did not end (store: $(state_of 1))"
    else
      wait_until 900 soaks "$when" || fail "wave $when did not end"
    fi
    dom / >"$work/dom$moment.html"
    shot "overview-$moment" 1280 900 /
    got=$(applied_cells "$work/dom$moment.html")
    echo "moment $moment (after wave $when): $got host(s) applied on the page"
    case $when in 1) want=1 ;; 2) want=3 ;; *) want=8 ;; esac
    [ "$got" -eq "$want" ] || fail "moment $moment: $got applied cells, expected $want"
  done
  grep -q 'data-live="1"' "$work/dom1.html" || fail "the running rollout's page does not refresh itself"
  grep -q 'data-live="0"' "$work/dom3.html" || fail "the ended rollout's page still refreshes"
  shot overview-phone 390 844 /
  dom /hosts/r2 >"$work/host.html"
  shot host-r2 1280 900 /hosts/r2
  for want in "Host r2" "Signed receipts" "receipts verify --state" 'class="tag s-applied"' ">FIN<" ">RECV<"; do
    grep -q "$want" "$work/host.html" || fail "the host page lacks '$want'"
  done
  [ "$(state_of 1)" = "done" ] || fail "the rollout ended $(state_of 1)"
  ;;
xss)
  start 2 --waves 1,100% --max-fail 1
  wait_until 900 ended 1 || fail "the rollout did not end"
  for path in / /rollouts/1 /hosts/r3; do
    dom "$path" >"$work/xss.html"
    grep -q '<body[^>]*data-pwned' "$work/xss.html" && fail "$path: the hostile onerror ran"
    grep -q '<title>[^<]*pwned' "$work/xss.html" && fail "$path: the hostile script ran"
    [ "$(grep -o '<script' "$work/xss.html" | wc -l)" -eq 1 ] || fail "$path: a <script> element from the reason"
    grep -q '<img' "$work/xss.html" && fail "$path: an <img> element from the reason"
    grep -q '&lt;script&gt;document.title=' "$work/xss.html" || fail "$path: the reason is not shown as text"
    echo "$path: the hostile reason is text"
  done
  shot xss-host-r3 1280 900 /hosts/r3
  ;;
metrics)
  start 2 --waves 1,3,100% --soak 2
  check() {  # check FILE: parses, then prints "name{labels} value" lines for the checks below
    "$python" - "$1" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %g" % (s.name, labels, s.value))
PY
  }
  wait_until 900 soaks 1 || fail "wave 1 did not end"
  in_mgr curl -sf "$url/metrics" >"$work/during.txt" || fail "/metrics does not answer"
  check "$work/during.txt" >"$work/during.parsed" || fail "prometheus_client could not parse /metrics"
  grep -q '^fleetcast_rollout_running{} 1$' "$work/during.parsed" || fail "the running rollout is not exported"
  wait_until 900 ended 1 || fail "the rollout did not end"
  sleep 0.5
  in_mgr curl -sf "$url/metrics" >"$work/after.txt" || fail "/metrics does not answer"
  check "$work/after.txt" >"$work/after.parsed" || fail "prometheus_client could not parse /metrics"
  cat "$work/after.parsed"
  expect() { grep -qE "$1" "$work/after.parsed" || fail "/metrics lacks $1"; }
  expect '^fleetcast_hosts\{bundle=motd,state=applied\} 8$'
  expect '^fleetcast_rollout_hosts\{rollout=1,state=applied\} 8$'
  expect '^fleetcast_rollout_info\{bundle=motd,rollout=1,state=done,version=2\} 1$'
  expect '^fleetcast_rollout_waves_started\{rollout=1\} 3$'
  expect '^fleetcast_sessions_total\{\} [1-9]'
  expect '^fleetcast_session_rounds_total\{\} [1-9]'
  expect '^fleetcast_sent_bytes_total\{\} [1-9][0-9]{3,}'
  expect '^fleetcast_feedback_dropped_total\{reason=forged\} 0$'
  expect '^fleetcast_store_size_bytes\{\} [1-9]'
  [ "$(grep -c '^fleetcast_host_last_fin_age_seconds{host=r' "$work/after.parsed")" -eq 8 ] ||
    fail "not every host's FIN age is exported"
  ;;
load)
  t0=$(date +%s.%N)
  start 2 --waves 1,3,100% --soak 2
  wait_until 900 ended 1 || fail "the first rollout did not end"
  alone=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  host=${url#http://}
  ip netns exec "${prefix}mgr" "$python" "$web/load.py" "${host%:*}" "${host##*:}" 60 100 1000 \
    >"$work/load.log" 2>&1 &
  loader=$!
  pids="$pids $loader"
  sleep 2
  t0=$(date +%s.%N)
  start 3 --waves 1,3,100% --soak 2
  wait_until 900 ended 2 || fail "the rollout under load did not end"
  loaded=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  kill -TERM "$loader" 2>/dev/null || true
  wait_until 100 gone "$loader" || fail "the load did not stop"
  cat "$work/load.log"
  grep -q "probes [1-9][0-9]* (failed 0" "$work/load.log" || fail "the page did not answer every probe under load"
  echo "rollout alone ${alone} s, with 100 slow clients and 1,000 malformed requests ${loaded} s"
  [ "$(state_of 2)" = "done" ] || fail "the rollout under load ended $(state_of 2)"
  awk -v a="$alone" -v l="$loaded" 'BEGIN { exit !(l <= a * 1.5 + 3) }' ||
    fail "the rollout under load took ${loaded} s against ${alone} s"
  in_mgr curl -sf "$url/" | grep -q '</html>' || fail "the page does not answer after the load"
  ;;
*) fail "unknown mode $mode" ;;
esac
kill -TERM "$daemon"
wait_until 100 gone "$daemon" || fail "the daemon ignored SIGTERM"
echo "PASS: $mode"
