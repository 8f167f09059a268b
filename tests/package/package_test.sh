#!/bin/sh
# The Debian packages, built, installed on this machine, used and removed again:
#   1. scripts/package builds fleetcast-receiver and fleetcast-manager with dpkg-buildpackage;
#      lintian reports no error or warning
#   2. dpkg -i both: the programs, update scripts, units, example configs, man pages and
#      completions are where they belong; each package made its own key pair at installation
#      (0600, not a file of the package, different on a second install)
#   3. systemd-analyze verify: both installed units are clean
#   4. the man pages render without warnings, and every option of --help is in the program's man
#      page and every option of the man page in --help
#   5. bash completion completes commands and options (from --help)
#   6. the installed example configs work: run without a name is a configuration error (exit 2);
#      with one, the daemons' command lines (run, serve) start and stop on SIGTERM, logging the
#      events with their message IDs; with --syslog the events reach /dev/log as daemon.info
#      (where no syslog daemon owns /dev/log: the test listens there itself, then removes it)
#   6b. the README's administrator tour against the installed /etc/fleetcast/manager.conf:
#      inventory add, bundle create from a template, bundle lint, rollout plan, status
#   7. one fleet test (tests/fleet/rollout_test.sh waves: 8 hosts, a rollout in waves through
#      the installed update scripts) with the installed binaries
#   8. dpkg --purge both: nothing of them is left but the manager's key pair (kept on purge by
#      design), which this test then removes
#
#   package_test.sh [MODE]       MODE: install (the only one)
# Exits 77 (CTest: skipped) when not root, without dpkg-buildpackage, or when fleetcast is
# installed here already or /etc/fleetcast exists (this test would change them).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i)"
command -v dpkg-buildpackage >/dev/null || skip "dpkg-buildpackage is missing"
if dpkg-query -W -f='${Status}\n' fleetcast-receiver fleetcast-manager 2>/dev/null |
  grep -q "installed"; then
  skip "fleetcast packages are installed on this machine already"
fi
[ ! -e /etc/fleetcast ] || skip "/etc/fleetcast exists on this machine"
[ ! -e /var/lib/fleetcast ] || skip "/var/lib/fleetcast exists on this machine"

work=$(mktemp -d /tmp/fleetcast-pkgtest.XXXXXX)
installed=0
bg=""  # background programs this test started
made_log=0
cleanup() {
  for p in $bg; do kill "$p" 2>/dev/null || true; done
  if [ "$made_log" -eq 1 ]; then rm -f /dev/log; fi
  if [ "$installed" -eq 1 ]; then
    dpkg --purge fleetcast-receiver fleetcast-manager >/dev/null 2>&1 || true
    rm -rf /etc/fleetcast /var/lib/fleetcast /var/lib/fleetcast-manager /var/spool/fleetcast
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "== 1. build and lintian"
"$top/scripts/package" "$work/deb" >"$work/package.out" 2>&1 || {
  cat "$work/package.out"
  fail "scripts/package failed (lintian tags above, or the build log)"
}
cat "$work/package.out"
rdeb=$(ls "$work"/deb/fleetcast-receiver_*.deb)
mdeb=$(ls "$work"/deb/fleetcast-manager_*.deb)

echo "== 2. install"
installed=1
dpkg -i "$rdeb" "$mdeb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i failed"; }
cat "$work/install.log"
for f in /usr/bin/fleetcast-receiver /usr/bin/fleetcast-sender \
  /usr/share/fleetcast/update-scripts/dhcp-server /usr/share/fleetcast/update-scripts/lib/common.sh \
  /lib/systemd/system/fleetcast-receiver.service /lib/systemd/system/fleetcast-manager.service \
  /etc/fleetcast/receiver.conf /etc/fleetcast/manager.conf \
  /usr/share/man/man8/fleetcast-receiver.8.gz /usr/share/man/man8/fleetcast-sender.8.gz \
  /usr/share/man/man5/fleetcast-bundle.5.gz \
  /usr/share/bash-completion/completions/fleetcast-receiver \
  /usr/share/bash-completion/completions/fleetcast-sender; do
  [ -e "$f" ] || fail "$f is not installed"
done
[ -x /usr/share/fleetcast/update-scripts/dhcp-server ] || fail "the update scripts are not executable"
/usr/bin/fleetcast-receiver --version | grep -q "^fleetcast-receiver [0-9]" || fail "receiver --version"
/usr/bin/fleetcast-sender --version | grep -q "^fleetcast-sender [0-9]" || fail "sender --version"
# Keys: made by postinst, private, never files of a package.
for k in host manager; do
  [ -f "/etc/fleetcast/$k.key" ] || fail "no /etc/fleetcast/$k.key after installation"
  [ "$(stat -c %a "/etc/fleetcast/$k.key")" = 600 ] || fail "$k.key is not 0600"
  [ -f "/etc/fleetcast/$k.pub" ] || fail "no /etc/fleetcast/$k.pub"
done
if { dpkg -c "$rdeb" && dpkg -c "$mdeb"; } | grep -E '\.(key|pub)$'; then fail "a package ships a key"; fi
grep -q "give /etc/fleetcast/host.pub to the manager" "$work/install.log" ||
  fail "postinst did not tell where the host key is"
first=$(/usr/bin/fleetcast-receiver fingerprint /etc/fleetcast/host.pub)
# A reinstall keeps the key; a purge and install makes a new one (no key is shared).
dpkg -i "$rdeb" >/dev/null 2>&1 || fail "reinstall failed"
[ "$(/usr/bin/fleetcast-receiver fingerprint /etc/fleetcast/host.pub)" = "$first" ] ||
  fail "a reinstall replaced the host key"
dpkg --purge fleetcast-receiver >/dev/null 2>&1 || fail "purge of the receiver failed"
[ ! -e /etc/fleetcast/host.key ] || fail "purge left the host key"
dpkg -i "$rdeb" >/dev/null 2>&1 || fail "install after purge failed"
[ "$(/usr/bin/fleetcast-receiver fingerprint /etc/fleetcast/host.pub)" != "$first" ] ||
  fail "a new installation has the same host key"

echo "== 3. systemd-analyze verify"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /lib/systemd/system/fleetcast-receiver.service \
    /lib/systemd/system/fleetcast-manager.service >"$work/verify.log" 2>&1 || {
    cat "$work/verify.log"
    fail "systemd-analyze verify failed"
  }
  if [ -s "$work/verify.log" ]; then cat "$work/verify.log"; fail "systemd-analyze verify warned"; fi
  echo "both units verify clean"
else
  fail "systemd-analyze is missing"
fi

echo "== 4. man pages and --help"
for page in fleetcast-receiver.8 fleetcast-sender.8 fleetcast-bundle.5; do
  section=${page##*.}
  src=/usr/share/man/man$section/$page.gz
  # As lintian checks them.
  warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$src" 2>&1 >/dev/null || true)
  [ -z "$warnings" ] || fail "$page: $warnings"
  MANWIDTH=100 man -l "$src" 2>/dev/null | grep -q "SEE ALSO" || fail "$page does not render"
done
# Every option of --help in the man page, every option of the man page in --help.
for prog in fleetcast-receiver fleetcast-sender; do
  "/usr/bin/$prog" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u >"$work/$prog.help"
  zcat "/usr/share/man/man8/$prog.8.gz" | sed 's/\\-/-/g; s/\\f[BIRP]//g' |
    grep -oE -- '--[a-z][a-z0-9-]*' | sort -u >"$work/$prog.man"
  missing=$(comm -23 "$work/$prog.help" "$work/$prog.man" | grep -v -e '--test-drop-model' || true)
  [ -z "$missing" ] || fail "$prog: in --help, not in the man page: $missing"
  extra=$(comm -13 "$work/$prog.help" "$work/$prog.man" || true)
  [ -z "$extra" ] || fail "$prog: in the man page, not in --help: $extra"
  echo "$prog: $(wc -l <"$work/$prog.help") options, the same in --help and the man page"
done

echo "== 5. bash completion"
if [ -f /usr/share/bash-completion/bash_completion ]; then
  # complete_words WORDS...: what completing the last word offers.
  cat >"$work/complete.bash" <<'BASH'
. /usr/share/bash-completion/bash_completion
. "/usr/share/bash-completion/completions/$1"
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
"_${1//-/_}" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
BASH
  bash "$work/complete.bash" fleetcast-sender roll | grep -qx rollout || fail "no completion of 'roll'"
  bash "$work/complete.bash" fleetcast-sender rollout p | grep -qx plan || fail "no 'rollout plan'"
  bash "$work/complete.bash" fleetcast-sender rollout run x.fcb --max- | grep -qx -- --max-fail ||
    fail "no option completion for the sender"
  bash "$work/complete.bash" fleetcast-receiver run --log | grep -qx -- --log-level ||
    fail "no option completion for the receiver"
  bash "$work/complete.bash" fleetcast-receiver run --log-level w | grep -qx warning ||
    fail "no --log-level values"
  echo "commands, subcommands, options and values complete"
else
  fail "bash-completion is not installed"
fi

echo "== 6. the example configs work"
# The receiver's example has no name or iface: a clear configuration error (exit 2).
rc=0
/usr/bin/fleetcast-receiver run --config /etc/fleetcast/receiver.conf >"$work/run.log" 2>&1 || rc=$?
if [ "$rc" -ne 2 ] || ! grep -q -- "--name is required" "$work/run.log"; then
  cat "$work/run.log"
  fail "run with the example config: expected '--name is required' (exit 2), got $rc"
fi
# With them it runs: the key made at installation, and the manager's public key, which the
# manager package made on this same machine (a manager is often a host of its own fleet).
/usr/bin/fleetcast-receiver run --config /etc/fleetcast/receiver.conf --name t1 --iface lo \
  >"$work/run.log" 2>&1 &
run=$!
bg="$bg $run"
# shellcheck source=tests/wait.sh
. "$top/tests/wait.sh"
wait_until 100 grep -q "info FC2101 listening host=t1 iface=lo" "$work/run.log" ||
  { kill "$run"; cat "$work/run.log"; fail "run with the example config did not start"; }
kill -TERM "$run"
wait "$run" || fail "run did not exit 0 on SIGTERM"
grep -q "info FC2102 stopped" "$work/run.log" || { cat "$work/run.log"; fail "run logged no stop"; }
[ "$(stat -c %a /var/lib/fleetcast)" = 700 ] || fail "the state directory is not private"
# --syslog: the same events reach syslog (facility daemon). Checked where no syslog daemon owns
# /dev/log: this test listens there itself (socat) and removes the socket afterwards.
if [ ! -e /dev/log ] && command -v socat >/dev/null; then
  made_log=1
  socat -u UNIX-RECV:/dev/log OPEN:"$work/syslog",creat,append &
  sock=$!
  bg="$bg $sock"
  wait_until 50 test -S /dev/log || fail "socat did not listen on /dev/log"
  /usr/bin/fleetcast-receiver run --config /etc/fleetcast/receiver.conf --name t1 --iface lo \
    --syslog >"$work/run.log" 2>&1 &
  run=$!
  bg="$bg $run"
  wait_until 100 grep -q "FC2101 listening host=t1" "$work/syslog" ||
    { kill "$run"; cat "$work/run.log"; fail "--syslog: nothing reached /dev/log"; }
  kill -TERM "$run"
  wait "$run" || true
  kill "$sock" 2>/dev/null || true
  wait "$sock" 2>/dev/null || true
  rm -f /dev/log
  made_log=0
  # <30>: facility daemon (3 x 8) + info (6), from fleetcast-receiver with its pid.
  grep -q "<30>.*fleetcast-receiver\[$run\]: FC2101 listening host=t1" "$work/syslog" ||
    { cat "$work/syslog"; fail "--syslog: not daemon.info from fleetcast-receiver"; }
  # (datagrams, not lines: count the IDs)
  echo "--syslog: $(grep -o 'FC2[0-9]*' "$work/syslog" | wc -l) events reached syslog as daemon.info"
else
  echo "--syslog not checked: /dev/log belongs to this machine's syslog daemon"
fi
/usr/bin/fleetcast-sender serve --config /etc/fleetcast/manager.conf >"$work/serve.log" 2>&1 &
serve=$!
bg="$bg $serve"
wait_until 100 grep -q "FC1101 serving state=/var/lib/fleetcast-manager" "$work/serve.log" ||
  { kill "$serve"; cat "$work/serve.log"; fail "serve with the example config did not start"; }
# manager.conf's http = 127.0.0.1:8077: the web view answers on loopback.
curl -sf http://127.0.0.1:8077/metrics | grep -q '^fleetcast_store_size_bytes ' ||
  { kill "$serve"; cat "$work/serve.log"; fail "the packaged web view does not answer on 127.0.0.1:8077"; }
kill -TERM "$serve"
wait "$serve" || fail "serve did not exit 0 on SIGTERM"
grep -q "info FC1105 stopped" "$work/serve.log" || { cat "$work/serve.log"; fail "serve logged no stop"; }
echo "receiver.conf and manager.conf parse; run and serve start (FC2101, FC1101) and stop on SIGTERM"

echo "== 6b. the README's administrator tour, with /etc/fleetcast/manager.conf"
/usr/bin/fleetcast-receiver keygen --out "$work/school-1" --name school-1.example >/dev/null
/usr/bin/fleetcast-sender inventory add --inventory /etc/fleetcast/inventory \
  --name school-1.example --pub "$work/school-1/host.pub" --group schools >/dev/null ||
  fail "inventory add"
mkdir -p "$work/school-dhcp"
printf '[bundle]\nname = school-dhcp\nversion = 7\nkind = dhcp-server\n[dhcp-server]\nserver = dhcpd\nconfig = dhcpd.conf\n' \
  >"$work/school-dhcp/manifest.ini"
printf 'subnet {{ net }}.0 netmask 255.255.255.0 {\n  option routers {{ net }}.1;\n  range {{ net }}.100 {{ net }}.199;\n}\n' \
  >"$work/school-dhcp/dhcpd.conf.tmpl"
printf '[school-1.example]\nnet = 192.168.11\n' >"$work/school-dhcp/hosts.ini"
/usr/bin/fleetcast-sender bundle create "$work/school-dhcp" -o "$work/school-dhcp-7.fcb" \
  --key /etc/fleetcast/manager.key >"$work/tour.log" 2>&1 || { cat "$work/tour.log"; fail "bundle create"; }
for step in "bundle lint" "rollout plan"; do
  # shellcheck disable=SC2086  # the step is two words
  /usr/bin/fleetcast-sender $step "$work/school-dhcp-7.fcb" --config /etc/fleetcast/manager.conf \
    --iface lo >>"$work/tour.log" 2>&1 || { cat "$work/tour.log"; fail "$step with manager.conf"; }
done
grep -q "school-dhcp, 1 server(s) (dhcpd): OK" "$work/tour.log" || { cat "$work/tour.log"; fail "bundle lint did not pass"; }
grep -q "wave 1 canary (1, tolerates 0): school-1.example" "$work/tour.log" ||
  { cat "$work/tour.log"; fail "rollout plan did not plan school-1.example"; }
/usr/bin/fleetcast-sender status --state /var/lib/fleetcast-manager >>"$work/tour.log" 2>&1 ||
  { cat "$work/tour.log"; fail "status on the installed state directory"; }
echo "inventory add, bundle create from a template, bundle lint, rollout plan and status work as the README shows"

echo "== 7. a fleet test with the installed binaries"
rc=0
"$top/tests/fleet/rollout_test.sh" waves /usr/bin/fleetcast-sender /usr/bin/fleetcast-receiver \
  >"$work/fleet.log" 2>&1 || rc=$?
tail -n 5 "$work/fleet.log"
case ${rc:-0} in
  0) ;;
  77) echo "(the fleet test skipped: no namespaces here)" ;;
  *) fail "tests/fleet/rollout_test.sh waves failed with the installed binaries" ;;
esac

echo "== 8. purge"
dpkg --purge fleetcast-receiver fleetcast-manager >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge failed"; }
installed=0
for f in /usr/bin/fleetcast-receiver /usr/bin/fleetcast-sender /usr/share/fleetcast \
  /lib/systemd/system/fleetcast-receiver.service /etc/fleetcast/receiver.conf \
  /etc/fleetcast/manager.conf /etc/fleetcast/host.key /var/lib/fleetcast \
  /var/lib/fleetcast-manager /usr/share/man/man8/fleetcast-sender.8.gz; do
  [ ! -e "$f" ] || fail "$f is left after purge"
done
[ -f /etc/fleetcast/manager.key ] || fail "the manager's key is to stay after purge"
rm -rf /etc/fleetcast
echo "PASS: packages built, lintian-clean, installed, verified, used and purged"
