#!/bin/sh
# The config-files, backup, restore and patch update scripts, through the receiver's real apply
# pipeline (fleetcast-receiver apply: seal, policy, versions, journal, phases, rollback) on
# signed bundles made by fleetcast-sender bundle create. Local files only: no network.
#
#   kinds_test.sh MODE SENDER RECEIVER
#
# MODE: config-files    install two files (one new) with owner and mode, validated, reloaded;
#                       a file that fails its validator: rejected, nothing changed; a reload that
#                       fails: rolled back (the replaced file restored, the new one removed);
#                       a dry run: the diff; the same bundle again: "already applied"; an older
#                       version, a tampered bundle, one signed by another key: rejected
#       backup-restore  snapshot two files (one absent), change them, restore them (content,
#                       mode); a restore naming another target, or a missing backup: rejected
#       patch           a .deb (into a private dpkg root) plus a script: installed; a failing
#                       verify hook rolls both back (the old .deb reinstalled, the script's
#                       change undone); a failing check hook refuses before anything changes
# Exits 77 (CTest: skipped) when not root (owners and dpkg need it). Cleans up on any exit.
set -eu

mode=$1 sender=$2 receiver=$3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (file owners, dpkg)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

fail() {
  echo "FAIL: $*"
  [ -f "$work/out" ] && tail -n 20 "$work/out"
  exit 1
}

"$sender" keygen --out "$work/mgr" >/dev/null
n=0
# bundle NAME VERSION KIND: DIR $work/b/NAME-VERSION (already filled) -> $work/NAME-VERSION.fcb
bundle() {
  "$sender" bundle create "$work/b/$1-$2" -o "$work/$1-$2.fcb" --key "$work/mgr/manager.key" >/dev/null
}
manifest() {  # manifest NAME VERSION KIND: starts the bundle dir and its manifest
  mkdir -p "$work/b/$1-$2"
  printf '[bundle]\nname = %s\nversion = %s\nkind = %s\n' "$1" "$2" "$3" >"$work/b/$1-$2/manifest.ini"
}
# apply NAME-VERSION [--dry-run]: prints the FIN line; sets $status
apply() {
  n=$((n + 1))
  set +e
  "$receiver" apply "$work/$1.fcb" --name h1 --manager-pub "$work/mgr/manager.pub" \
    --state "$work/state" --config "$work/host.ini" ${2:+"$2"} >"$work/out" 2>&1
  set -e
  fin=$(grep '^FIN ' "$work/out" | tail -n 1)
  status=$(printf '%s\n' "$fin" | cut -d' ' -f2)
  echo "$1${2:+ $2}: $fin"
}
expect() {
  [ "$status" = "$1" ] || fail "FIN '$fin', expected $1"
  [ -z "${2:-}" ] || case $fin in *"$2"*) ;; *) fail "FIN '$fin' lacks '$2'" ;; esac
}
meta() { stat -c '%a %U:%G' "$1"; }
: >"$work/host.ini"

case $mode in
config-files)
  etc=$work/etc
  mkdir -p "$etc"
  printf 'listen 80;\n' >"$etc/site.conf"
  chmod 0600 "$etc/site.conf"
  cp -p "$etc/site.conf" "$work/site.before"
  # validator: the file must start with "listen"; reload: appends a line to a log.
  validate="grep -q ^listen {}"
  write() {  # write VERSION SITE_TEXT RELOAD
    manifest web "$1" config-files
    printf '%s\n' "$2" >"$work/b/web-$1/site.conf"
    printf 'motd of version %s\n' "$1" >"$work/b/web-$1/motd"
    cat >>"$work/b/web-$1/manifest.ini" <<INI
[config-files]
reload = $3
[file:site]
source = site.conf
target = $etc/site.conf
mode = 0640
validate = $validate
[file:motd]
source = motd
target = $etc/motd
mode = 0644
INI
    bundle web "$1"
  }
  write 2 'listen 8080;' "echo reloaded >> $work/reloads"
  apply web-2 --dry-run
  expect checked
  grep -q '+listen 8080;' "$work/out" || fail "dry run shows no diff"
  cmp -s "$etc/site.conf" "$work/site.before" || fail "dry run changed a file"
  apply web-2
  expect applied
  grep -qx 'listen 8080;' "$etc/site.conf" || fail "site.conf not installed"
  [ "$(meta "$etc/site.conf")" = "640 root:root" ] || fail "site.conf is $(meta "$etc/site.conf")"
  grep -q 'version 2' "$etc/motd" || fail "motd not installed"
  [ "$(wc -l <"$work/reloads")" -eq 1 ] || fail "reload did not run once"
  cp -p "$etc/site.conf" "$work/site.v2"

  write 3 'server broken;' "echo reloaded >> $work/reloads"
  apply web-3
  expect rejected "file site: validate failed"
  cmp -s "$etc/site.conf" "$work/site.v2" || fail "a rejected bundle changed site.conf"

  # A reload that fails with the new files (the service refuses port 9090) and works again
  # with the restored ones.
  write 4 'listen 9090;' "! grep -q 9090 $etc/site.conf"
  rm -f "$etc/motd"  # motd absent before v4: the rollback must remove it again
  apply web-4
  expect rolled-back "reload failed"
  cmp -s "$etc/site.conf" "$work/site.v2" || fail "site.conf not restored"
  [ "$(meta "$etc/site.conf")" = "640 root:root" ] || fail "site.conf mode not restored"
  [ ! -e "$etc/motd" ] || fail "motd (new in v4) not removed by the rollback"

  apply web-2
  expect applied "already applied"
  # Tampered after signing, and signed by another key: refused before anything is read.
  cp "$work/web-2.fcb" "$work/web-9.fcb"
  printf 'X' | dd of="$work/web-9.fcb" bs=1 seek=40 conv=notrunc 2>/dev/null
  apply web-9
  expect rejected "modified after signing"
  "$sender" keygen --out "$work/other" >/dev/null
  "$sender" bundle create "$work/b/web-4" -o "$work/web-8.fcb" --key "$work/other/manager.key" >/dev/null
  apply web-8
  expect rejected "not by the trusted manager"
  cmp -s "$etc/site.conf" "$work/site.v2" || fail "a refused bundle changed site.conf"
  write 1 'listen 1;' true
  apply web-1
  expect rejected "not newer than the installed version 2"
  grep -qx 'listen 8080;' "$etc/site.conf" || fail "an older version changed site.conf"
  ;;

backup-restore)
  etc=$work/etc
  mkdir -p "$etc"
  printf 'subnet A;\n' >"$etc/dhcpd.conf"
  chmod 0644 "$etc/dhcpd.conf"
  manifest snap 1 backup
  printf '[file:dhcpd]\ntarget = %s/dhcpd.conf\n[file:extra]\ntarget = %s/extra.conf\n' "$etc" "$etc" \
    >>"$work/b/snap-1/manifest.ini"
  bundle snap 1
  apply snap-1
  expect applied "snapshot snap version 1 complete"
  # Later changes: content and mode, and a file that did not exist at snapshot time.
  printf 'subnet B;\n' >"$etc/dhcpd.conf"
  chmod 0600 "$etc/dhcpd.conf"
  printf 'new\n' >"$etc/extra.conf"
  manifest back 1 restore
  printf '[restore]\nbackup = snap\n[file:dhcpd]\ntarget = %s/dhcpd.conf\n[file:extra]\ntarget = %s/extra.conf\n' \
    "$etc" "$etc" >>"$work/b/back-1/manifest.ini"
  bundle back 1
  apply back-1 --dry-run
  expect checked
  grep -q '+subnet A;' "$work/out" || fail "restore dry run shows no diff"
  apply back-1
  expect applied "restored 2 file(s)"
  grep -qx 'subnet A;' "$etc/dhcpd.conf" || fail "dhcpd.conf not restored"
  [ "$(meta "$etc/dhcpd.conf")" = "644 root:root" ] || fail "mode not restored: $(meta "$etc/dhcpd.conf")"
  [ ! -e "$etc/extra.conf" ] || fail "extra.conf (absent in the snapshot) not removed"

  manifest back 2 restore
  printf '[restore]\nbackup = snap\n[file:dhcpd]\ntarget = %s/other.conf\n' "$etc" >>"$work/b/back-2/manifest.ini"
  bundle back 2
  apply back-2
  expect rejected "the snapshot holds $etc/dhcpd.conf, not $etc/other.conf"
  manifest back 3 restore
  printf '[restore]\nbackup = nosuch\n[file:dhcpd]\ntarget = %s/dhcpd.conf\n' "$etc" >>"$work/b/back-3/manifest.ini"
  bundle back 3
  apply back-3
  expect rejected "no complete snapshot of nosuch"
  ;;

patch)
  command -v dpkg-deb >/dev/null || { echo "SKIP: dpkg-deb missing"; exit 77; }
  root=$work/root cache=$work/cache
  mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$cache"
  : >"$root/var/lib/dpkg/status"
  printf '[host]\ndpkg-root = %s\ndeb-cache = %s\n' "$root" "$cache" >"$work/host.ini"
  deb() {  # deb VERSION -> $work/fcdemo_VERSION_all.deb
    d=$work/pkg-$1
    mkdir -p "$d/DEBIAN" "$d/usr/share/fcdemo"
    printf 'Package: fcdemo\nVersion: %s\nArchitecture: all\nMaintainer: test <t@example.org>\nDescription: test\n' \
      "$1" >"$d/DEBIAN/control"
    echo "$1" >"$d/usr/share/fcdemo/VERSION"
    dpkg-deb --build -Zgzip "$d" "$work/fcdemo_$1_all.deb" >/dev/null
  }
  write() {  # write BUNDLE_VERSION DEB_VERSION VERIFY_EXIT CHECK_EXIT
    manifest fix "$1" patch
    cp "$work/fcdemo_$2_all.deb" "$work/b/fix-$1/"
    cat >"$work/b/fix-$1/fix.sh" <<SH
#!/bin/sh
case \$1 in
apply) echo "patched by $1" > $work/patched ;;
rollback) rm -f $work/patched ;;
esac
SH
    printf '#!/bin/sh\nexit %s\n' "$3" >"$work/b/fix-$1/verify.sh"
    printf '#!/bin/sh\necho check hook ran\nexit %s\n' "$4" >"$work/b/fix-$1/check.sh"
    printf '[patch]\npackages = fcdemo_%s_all.deb\nscript = fix.sh\nverify-script = verify.sh\ncheck-script = check.sh\n' \
      "$2" >>"$work/b/fix-$1/manifest.ini"
    bundle fix "$1"
  }
  version() { dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' fcdemo 2>/dev/null || true; }
  deb 1.0
  deb 2.0
  write 1 1.0 0 0
  apply fix-1
  expect applied
  [ "$(version)" = 1.0 ] || fail "fcdemo 1.0 not installed ($(version))"
  grep -q 'patched by 1' "$work/patched" || fail "the patch script did not run"

  write 2 2.0 0 0
  apply fix-2
  expect rejected "no .deb of it is in $cache"
  [ "$(version)" = 1.0 ] || fail "a refused patch changed the package"

  cp "$work/fcdemo_1.0_all.deb" "$cache/"
  write 3 2.0 1 0
  apply fix-3
  expect rolled-back "verify-script failed"
  [ "$(version)" = 1.0 ] || fail "fcdemo not rolled back to 1.0 ($(version))"
  [ "$(cat "$root/usr/share/fcdemo/VERSION")" = 1.0 ] || fail "fcdemo's files not rolled back"
  [ ! -e "$work/patched" ] || fail "the script's rollback did not run"

  write 4 2.0 0 3
  apply fix-4
  expect rejected "check-script refused"
  [ "$(version)" = 1.0 ] || fail "a refused patch changed the package"

  write 5 2.0 0 0
  apply fix-5
  expect applied
  [ "$(version)" = 2.0 ] || fail "fcdemo 2.0 not installed"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode ($n applies)"
