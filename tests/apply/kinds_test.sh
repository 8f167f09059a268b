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
#                       change undone); a failing check hook refuses before anything changes;
#                       a .deb whose file name holds a space and a '*' is one package
#       symlink-race    an unprivileged user plants links for a range of pids (the old temp
#                       names) towards a root-only 0600 file: in a directory that user can
#                       write nothing is installed (rejected); in a root-only directory the
#                       apply and its rollback never write through a link
#       durable         (strace) the apply phase of config-files: the new file is fsync'ed
#                       before its rename, and the directory is fsync'ed after it
#       failed-copy     the apply phase under a file-size limit: the copy fails, nothing is
#                       left beside the target, the rollback restores, the FIN says why
#       validator-path  targets in directories named with '|', ' ' and ';touch pwned;': the
#                       validator runs on the real file (a bad one is rejected, a good one
#                       applied) and nothing of the path is run as a command
#       own-files       config-files and backup bundles naming the receiver's own key, the
#                       manager key, config, state (also through a link) are rejected;
#                       allow-targets limits targets to the listed directories
#       health          the generic health gate ([config-files] health = COMMAND): a service
#                       that becomes healthy 2 s after its reload passes (applied, the FIN says
#                       after how long); one that never does fails verify after health-timeout
#                       and rolls back (the previous file restored); a bad health-timeout is
#                       refused by bundle create
#       retention       100 versions applied, then 20 repeats of the last: apply directories,
#                       backups and the state size stay within the retention limits
#       secret-restore  a 0600 file holding a secret is snapshotted, then made world-readable
#                       with other content: the restore's dry run shows digests, not the
#                       snapshot's content
#       secret-redact   a world-readable file's diff shows every line except those that name a
#                       secret (password, token, key...): those show their first word only
#       harden-ancestor a target whose own directory is root's but whose parent belongs to an
#                       unprivileged user (who could swap the directory for a link before the
#                       write), or lies behind a link: rejected at check, nothing written
#       secret-encrypt  bundle create --encrypt: readers default to the manifest's targets (a
#                       host it does not target cannot decrypt it), and a host's overlay
#                       hosts/<host>/ is readable by that host only (another reader of the same
#                       bundle gets the common file, and no trace of the other's secret)
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
# apply NAME-VERSION [--dry-run]: prints the FIN line; sets $status ($extra: more receiver options)
extra=""
apply() {
  n=$((n + 1))
  set +e
  # shellcheck disable=SC2086  # $extra: options split on purpose
  "$receiver" apply "$work/$1.fcb" --name h1 --manager-pub "$work/mgr/manager.pub" \
    --state "$work/state" --config "$work/host.ini" ${2:+"$2"} $extra >"$work/out" 2>&1
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
  # site.conf is 0600 and holds a secret: a dry run's FIN shows digests and line counts only.
  printf 'listen 80;\ndb_password = hunter2;\n' >"$etc/site.conf"
  chmod 0600 "$etc/site.conf"
  printf 'old motd\n' >"$etc/motd"  # world-readable: its diff is shown
  cp -p "$etc/site.conf" "$work/site.before"
  # validator: the file must start with "listen"; reload: appends a line to a log.
  validate="grep -q ^listen {}"
  write() {  # write VERSION SITE_TEXT RELOAD
    manifest web "$1" config-files
    printf '%s\ndb_password = CHANGEME;\n' "$2" >"$work/b/web-$1/site.conf"
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
  grep -q '+motd of version 2' "$work/out" || fail "dry run shows no diff of the world-readable motd"
  case $fin in *hunter2* | *CHANGEME* | *db_password*) fail "a secret travels in the FIN: $fin" ;; esac
  case $fin in *"sha256 "*" (2 lines) -> "*" (2 lines), +2 -2 lines"*) ;;
  *) fail "the FIN does not describe the secret file by digest: $fin" ;; esac
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

secret-restore)
  etc=$work/etc
  mkdir -p "$etc"
  printf 'omapi-secret = Zm9yLXRoZS10ZXN0;\n' >"$etc/app.conf"
  chmod 0600 "$etc/app.conf"
  manifest snap 1 backup
  printf '[file:app]\ntarget = %s/app.conf\n' "$etc" >>"$work/b/snap-1/manifest.ini"
  bundle snap 1
  apply snap-1
  expect applied
  printf 'public = yes;\n' >"$etc/app.conf"
  chmod 0644 "$etc/app.conf"
  manifest back 1 restore
  printf '[restore]\nbackup = snap\n[file:app]\ntarget = %s/app.conf\n' "$etc" >>"$work/b/back-1/manifest.ini"
  bundle back 1
  apply back-1 --dry-run
  expect checked "not world-readable, content not shown: sha256 "
  grep -q 'Zm9yLXRoZS10ZXN0\|omapi-secret' "$work/out" && fail "the snapshot's secret is in the FIN: $fin"
  apply back-1
  expect applied
  [ "$(meta "$etc/app.conf")" = "600 root:root" ] || fail "mode not restored: $(meta "$etc/app.conf")"
  ;;

secret-redact)
  etc=$work/etc
  mkdir -p "$etc"
  printf 'listen 80;\n' >"$etc/app.conf"
  chmod 0644 "$etc/app.conf"
  manifest app 2 config-files
  printf 'listen 8080;\napi_token = dG9rZW4tdmFsdWU;\n  PrivateKey: c2VjcmV0;\n' >"$work/b/app-2/app.conf"
  printf '[file:app]\nsource = app.conf\ntarget = %s/app.conf\nmode = 0644\n' "$etc" >>"$work/b/app-2/manifest.ini"
  bundle app 2
  apply app-2 --dry-run
  expect checked "+listen 8080;"
  case $fin in *"+api_token [redacted]"*"+PrivateKey [redacted]"*) ;; *) fail "no redacted lines: $fin" ;; esac
  grep -q 'dG9rZW4tdmFsdWU\|c2VjcmV0' "$work/out" && fail "a secret is in the FIN: $fin"
  ;;

harden-ancestor)
  mkdir -p "$work/user/etc" "$work/real"
  chown nobody "$work/user"  # the parent: nobody's; the target's directory: root's, 0755
  chmod 0755 "$work/user"
  ln -s "$work/real" "$work/via-link"
  for target in "$work/user/etc/app.conf" "$work/via-link/app.conf"; do
    manifest app 1 config-files
    printf 'listen 1;\n' >"$work/b/app-1/app.conf"
    printf '[file:app]\nsource = app.conf\ntarget = %s\nmode = 0644\n' "$target" >>"$work/b/app-1/manifest.ini"
    bundle app 1
    apply app-1
    expect rejected
    case $fin in *"belongs to uid 65534"* | *"is a link"*) ;; *) fail "no reason: $fin" ;; esac
    [ ! -e "$target" ] || fail "$target was written"
    rm -rf "$work/b/app-1" "$work/state"
  done
  [ -z "$(ls -A "$work/real")" ] || fail "a file was written through the link"
  ;;

secret-encrypt)
  etc=$work/etc
  mkdir -p "$etc"
  for h in school-1 school-2 school-3; do
    "$receiver" keygen --out "$work/$h" --name "$h" >/dev/null
    "$sender" inventory add --inventory "$work/inv" --name "$h" --pub "$work/$h/host.pub" >/dev/null
  done
  # host_apply HOST NAME-VERSION: the local apply on HOST, with its own key; sets $fin, $status.
  host_apply() {
    set +e
    "$receiver" apply "$work/$2.fcb" --name "$1" --key "$work/$1/host.key" \
      --manager-pub "$work/mgr/manager.pub" --state "$work/state-$1" --config "$work/host.ini" \
      >"$work/out" 2>&1
    set -e
    fin=$(grep '^FIN ' "$work/out" | tail -n 1)
    status=$(printf '%s\n' "$fin" | cut -d' ' -f2)
    echo "$1 $2: $fin"
  }
  # omapi_bundle VERSION CONTENT [TARGETS]: omapi-VERSION.fcb, encrypted, installing CONTENT
  # (and what $work/b/omapi-VERSION/hosts/ holds) as $etc/omapi-VERSION.conf; its log in create.log
  omapi_bundle() {
    manifest omapi "$1" config-files
    [ -z "${3:-}" ] || printf 'targets = %s\n' "$3" >>"$work/b/omapi-$1/manifest.ini"
    printf '%s\n' "$2" >"$work/b/omapi-$1/omapi.conf"
    printf '[file:omapi]\nsource = omapi.conf\ntarget = %s/omapi-%s.conf\nmode = 0600\n' "$etc" "$1" \
      >>"$work/b/omapi-$1/manifest.ini"
    "$sender" bundle create "$work/b/omapi-$1" -o "$work/omapi-$1.fcb" --key "$work/mgr/manager.key" \
      --encrypt --inventory "$work/inv" >"$work/create.log"
  }
  # 1. targets = school-1: the only reader (and this manager), without --hosts.
  omapi_bundle 1 'key omapi { secret "T25lLWhvc3Qtb25seQ"; }' school-1
  grep -q "encrypted for 1 host(s) (school-1)" "$work/create.log" || fail "readers: $(cat "$work/create.log")"
  host_apply school-3 omapi-1
  expect rejected "not for this host"
  host_apply school-1 omapi-1
  expect applied
  # 2. every host a reader; school-1's secret in its overlay, readable by school-1 alone.
  mkdir -p "$work/b/omapi-2/hosts/school-1"
  printf 'key omapi { secret "U2Nob29sLTEtb25seQ"; }\n' >"$work/b/omapi-2/hosts/school-1/omapi.conf"
  omapi_bundle 2 'key none;'
  grep -q "encrypted for 3 host(s)" "$work/create.log" || fail "readers: $(cat "$work/create.log")"
  host_apply school-3 omapi-2
  expect applied
  grep -qx 'key none;' "$etc/omapi-2.conf" || fail "school-3 did not get the common file"
  grep -rq "U2Nob29sLTEtb25seQ" "$work/state-school-3" "$etc" && fail "school-1's secret reached school-3"
  host_apply school-1 omapi-2
  expect applied
  grep -q "U2Nob29sLTEtb25seQ" "$etc/omapi-2.conf" || fail "school-1 did not get its overlay"
  # 3. --hosts may name only hosts the manifest targets.
  if "$sender" bundle create "$work/b/omapi-1" -o "$work/x.fcb" --key "$work/mgr/manager.key" \
    --encrypt --inventory "$work/inv" --hosts school-2 >"$work/create.log" 2>&1; then
    fail "--hosts named a host the manifest does not target"
  fi
  grep -q "not among the manifest's targets" "$work/create.log" || fail "no reason: $(cat "$work/create.log")"
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
  # dhcpd.conf is 0600 now: digests only, no content.
  grep -q 'dhcpd.conf: not world-readable, content not shown' "$work/out" || fail "restore dry run shows no change"
  grep -q 'subnet' "$work/out" && fail "restore dry run shows the content of a 0600 file"
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

  # A payload file name with a space and a glob character is still one .deb.
  deb 3.0
  cp "$work/fcdemo_2.0_all.deb" "$cache/"
  mv "$work/fcdemo_3.0_all.deb" "$work/fc demo*_3.0_all.deb"
  manifest fix 6 patch
  cp "$work/fc demo*_3.0_all.deb" "$work/b/fix-6/"
  printf '[patch]\npackages = fc demo*_3.0_all.deb\n' >>"$work/b/fix-6/manifest.ini"
  bundle fix 6
  apply fix-6
  expect applied
  [ "$(version)" = 3.0 ] || fail "fcdemo 3.0 (a spaced file name) not installed"
  ;;
symlink-race)
  for tool in setpriv perl; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing"; exit 77; }
  done
  chmod 0711 "$work"  # the unprivileged user may pass through to its own directory
  secret=$work/secret
  printf 'root only\n' >"$secret"
  chmod 0600 "$secret"
  secret_before="$(meta "$secret") $(sha256sum <"$secret")"
  # plant DIR: links from the names the old install_atomic used (TARGET.fleetcast-new.PID), for
  # the next 4000 pids, to the secret, made by the user nobody.
  plant() {
    last=$(cat /proc/sys/kernel/ns_last_pid)
    # shellcheck disable=SC2016  # perl's own variables
    setpriv --reuid=65534 --regid=65534 --clear-groups perl -e '
      my ($dir, $from, $to, $dst) = @ARGV;
      for my $p ($from .. $to) { symlink($dst, "$dir/site.conf.fleetcast-new.$p") }' \
      "$1" "$last" $((last + 4000)) "$secret"
  }
  untouched() {
    [ "$(meta "$secret") $(sha256sum <"$secret")" = "$secret_before" ] ||
      fail "the root-only file was written through a planted link: $(meta "$secret")"
  }
  write_site() {  # write_site VERSION DIR RELOAD
    manifest site "$1" config-files
    printf 'listen %s;\n' "$1" >"$work/b/site-$1/site.conf"
    printf '[config-files]\nreload = %s\n[file:site]\nsource = site.conf\ntarget = %s/site.conf\nmode = 0644\n' \
      "$3" "$2" >>"$work/b/site-$1/manifest.ini"
    bundle site "$1"
  }
  # 1. A directory the user owns: refused before anything is written.
  shared=$work/shared
  mkdir -p "$shared"
  chown 65534:65534 "$shared"
  plant "$shared"
  write_site 1 "$shared" true
  apply site-1
  expect rejected "belongs to uid 65534"
  untouched
  [ ! -e "$shared/site.conf" ] || fail "a file was installed in a directory another user owns"
  # 2. A root-only directory holding links planted earlier: the apply, and the rollback of a
  # failing one, install through unguessable exclusive names and never through a link.
  safe=$work/safe
  mkdir -p "$safe"
  chown 65534:65534 "$safe"
  plant "$safe"
  chown root:root "$safe"
  chmod 0755 "$safe"
  links=$(find "$safe" -type l | wc -l)
  write_site 2 "$safe" true
  apply site-2
  expect applied
  untouched
  grep -qx 'listen 2;' "$safe/site.conf" || fail "site.conf not installed"
  [ ! -L "$safe/site.conf" ] || fail "site.conf is a link"
  write_site 3 "$safe" "! grep -q 'listen 3' $safe/site.conf"
  apply site-3
  expect rolled-back "reload failed"
  untouched
  grep -qx 'listen 2;' "$safe/site.conf" || fail "site.conf not restored"
  [ "$(find "$safe" -type l | wc -l)" -eq "$links" ] || fail "planted links were replaced or removed"
  [ -z "$(find "$safe" -name '.fleetcast-new.*')" ] || fail "temporary files left in $safe"
  ;;

durable)
  command -v strace >/dev/null || { echo "SKIP: strace is missing"; exit 77; }
  top=$(cd "$(dirname "$0")/../.." && pwd)
  scripts=$work/scripts
  mkdir -p "$scripts"
  ln -s "$top/update-scripts/lib" "$scripts/lib"
  # shellcheck disable=SC2016  # the wrapper's own $1 and $@
  printf '#!/bin/sh\n[ "$1" = apply ] && exec strace -f -qq -e trace=openat,rename,renameat,renameat2,fsync,fdatasync -o "%s" "%s" "$@"\nexec "%s" "$@"\n' \
    "$work/trace" "$top/update-scripts/config-files" "$top/update-scripts/config-files" >"$scripts/config-files"
  chmod +x "$scripts/config-files"
  extra="--scripts $scripts"
  etc=$work/etc
  mkdir -p "$etc"
  manifest web 1 config-files
  printf 'listen 1;\n' >"$work/b/web-1/site.conf"
  printf '[file:site]\nsource = site.conf\ntarget = %s/site.conf\nmode = 0644\n' "$etc" >>"$work/b/web-1/manifest.ini"
  bundle web 1
  apply web-1
  expect applied
  # In trace order: fsync of the temp file, its rename to site.conf, then an fsync of an fd
  # opened on the directory.
  verdict=$(awk -v dir="$etc" -v dst="$etc/site.conf" '
    $2 ~ /^openat\(/ && index($0, "\"" dir "/.fleetcast-new.") { split($0, r, "= "); tmpfd[$1 " " r[2]] = 1 }
    $2 ~ /^f(data)?sync\(/ { fd = $2; sub(/^f(data)?sync\(/, "", fd); sub(/\).*/, "", fd)
      if (($1 " " fd) in tmpfd) synced = 1
      if (renamed && ($1 " " fd) in dirfd) { print (synced ? "ok" : "rename before the file was synced"); done = 1; exit } }
    $2 ~ /^rename/ && index($0, "\"" dst "\"") && / = 0$/ { renamed = 1 }
    renamed && $2 ~ /^openat\(/ && index($0, "\"" dir "\",") { split($0, r, "= "); dirfd[$1 " " r[2]] = 1 }
    END { if (!done) print (renamed ? "no fsync of the directory after the rename" : "no rename to " dst) }' "$work/trace")
  [ "$verdict" = ok ] || { cat "$work/trace"; fail "$verdict"; }
  ;;

failed-copy)
  # The real script, its apply phase under a 512-byte file-size limit (a full disk).
  scripts=$work/scripts
  mkdir -p "$scripts"
  ln -s "$(cd "$(dirname "$0")/../.." && pwd)/update-scripts/lib" "$scripts/lib"
  # shellcheck disable=SC2016  # the wrapper's own $1 and $@
  printf '#!/bin/sh\n[ "$1" = apply ] && ulimit -f 1\nexec "%s" "$@"\n' \
    "$(cd "$(dirname "$0")/../.." && pwd)/update-scripts/config-files" >"$scripts/config-files"
  chmod +x "$scripts/config-files"
  extra="--scripts $scripts"
  etc=$work/etc
  mkdir -p "$etc"
  printf 'listen 80;\n' >"$etc/site.conf"
  cp -p "$etc/site.conf" "$work/site.before"
  manifest big 1 config-files
  { echo 'listen 81;'; i=0; while [ "$i" -lt 100 ]; do echo "# line $i of a file larger than the limit"; i=$((i + 1)); done; } \
    >"$work/b/big-1/site.conf"
  printf '[file:site]\nsource = site.conf\ntarget = %s/site.conf\nmode = 0644\n' "$etc" >>"$work/b/big-1/manifest.ini"
  bundle big 1
  apply big-1
  expect rolled-back "cannot install $etc/site.conf"
  cmp -s "$etc/site.conf" "$work/site.before" || fail "site.conf changed"
  left=$(find "$etc" -mindepth 1 ! -name site.conf)
  [ -z "$left" ] || fail "left beside the target: $left"
  ;;

validator-path)
  cd "$work"  # a path pasted into a command would run 'touch pwned' here
  for dir in "$work/we|ird dir" "$work/d;touch pwned;x"; do
    mkdir -p "$dir"
    printf 'listen 80;\n' >"$dir/site.conf"
    cp -p "$dir/site.conf" "$work/before"
    v=$(( ${v:-0} + 1 ))
    for content in 'server broken;' 'listen 8080;'; do
      manifest odd "$v" config-files
      printf '%s\n' "$content" >"$work/b/odd-$v/site.conf"
      # The validator also notes which file it saw: verify must have run it on the target.
      printf '[file:site]\nsource = site.conf\ntarget = %s/site.conf\nmode = 0644\nvalidate = grep -q ^listen {} && printf "%%s\\n" {} >> %s/validated\n' \
        "$dir" "$work" >>"$work/b/odd-$v/manifest.ini"
      bundle odd "$v"
      apply "odd-$v"
      if [ "$content" = 'server broken;' ]; then
        expect rejected "validate failed"
        cmp -s "$dir/site.conf" "$work/before" || fail "a file its validator rejects was installed in '$dir'"
        v=$((v + 1))
      else
        expect applied
        grep -qx 'listen 8080;' "$dir/site.conf" || fail "not installed in '$dir'"
        grep -qxF "$dir/site.conf" "$work/validated" || fail "the validator never ran on '$dir/site.conf'"
      fi
    done
  done
  [ ! -e "$work/pwned" ] || fail "a target path was run as a command"
  ;;

own-files)
  printf '[host]\nnote = own files\n' >"$work/host.ini"
  ln -s "$work/mgr" "$work/alias"
  mkdir -p "$work/etc" "$work/elsewhere"
  v=0
  # try KIND TARGET EXPECTED_STATUS REASON
  try() {
    v=$((v + 1))
    manifest own "$v" "$1"
    printf 'x\n' >"$work/b/own-$v/f"
    if [ "$1" = config-files ]; then
      printf '[file:f]\nsource = f\ntarget = %s\nmode = 0644\n' "$2" >>"$work/b/own-$v/manifest.ini"
    else
      printf '[file:f]\ntarget = %s\n' "$2" >>"$work/b/own-$v/manifest.ini"
    fi
    bundle own "$v"
    apply "own-$v"
    expect "$3" "$4"
  }
  "$receiver" keygen --out "$work/host" --name h1 >/dev/null
  extra="--key $work/host/host.key"
  cp "$work/mgr/manager.pub" "$work/pub.before"
  cp "$work/host/host.key" "$work/key.before"
  try config-files "$work/host/host.key" rejected "is the receiver's own key"
  try config-files "$work/host/host.pub" rejected "is the receiver's own public key"
  try config-files "$work/mgr/manager.pub" rejected "is the trusted manager key"
  try config-files "$work/alias/manager.pub" rejected "is the trusted manager key"
  try config-files "$work/host.ini" rejected "is the receiver's configuration"
  try config-files "$work/state/apply.db" rejected "is the receiver's state directory"
  try backup "$work/mgr/manager.pub" rejected "is the trusted manager key"
  cmp -s "$work/mgr/manager.pub" "$work/pub.before" || fail "the manager key changed"
  cmp -s "$work/host/host.key" "$work/key.before" || fail "the host key changed"
  extra="--allow-targets $work/etc"
  try config-files "$work/elsewhere/f.conf" rejected "outside allow-targets ($work/etc)"
  [ ! -e "$work/elsewhere/f.conf" ] || fail "a target outside allow-targets was written"
  try config-files "$work/etc/f.conf" applied ""
  ;;

retention)
  etc=$work/etc
  mkdir -p "$etc"
  v=0
  state_after() { du -sb "$work/state" | cut -f1; }
  while [ "$v" -lt 100 ]; do
    v=$((v + 1))
    manifest web "$v" config-files
    head -c 20000 /dev/urandom | od -An -tx1 >"$work/b/web-$v/site.conf"  # 60 KB, incompressible
    printf '[file:site]\nsource = site.conf\ntarget = %s/site.conf\nmode = 0644\n' "$etc" >>"$work/b/web-$v/manifest.ini"
    bundle web "$v"
    apply "web-$v" >/dev/null
    expect applied
    rm -rf "$work/b/web-$v"
    [ "$v" -lt 100 ] && rm -f "$work/web-$v.fcb"
    [ "$v" -eq 25 ] && at25=$(state_after)
  done
  i=0
  while [ "$i" -lt 20 ]; do  # repeats: each "already applied" apply made a copy before
    i=$((i + 1))
    apply web-100 >/dev/null
    expect applied "already applied"
  done
  at100=$(state_after)
  dirs=$(find "$work/state/apply" -mindepth 1 -maxdepth 1 -type d | wc -l)
  copies=$(find "$work/state/apply" -name bundle.fcb -o -name payload | wc -l)
  backups=$(find "$work/state/backups/web" -mindepth 1 -maxdepth 1 -type d | wc -l)
  echo "state after 25 applies: $at25 bytes; after 100 + 20 repeats: $at100 bytes; apply dirs $dirs, bundle copies $copies, backup versions $backups"
  [ "$dirs" -le 20 ] || fail "$dirs apply directories kept (limit 20)"
  [ "$copies" -eq 0 ] || fail "$copies bundle copies or payloads kept after their applies finished"
  [ "$backups" -le 3 ] || fail "$backups backup versions kept (limit 3)"
  [ "$at100" -le $((at25 + at25 / 4)) ] || fail "state grew from $at25 to $at100 bytes"
  ;;
health)
  etc=$work/etc
  mkdir -p "$etc"
  printf 'vip 10.0.0.1\n' >"$etc/carp.conf"
  cp -p "$etc/carp.conf" "$work/carp.before"
  # gate VERSION RELOAD [TIMEOUT]: a bundle whose health command waits for $work/healthy
  gate() {
    manifest carp "$1" config-files
    printf 'vip 10.0.0.%s\n' "$1" >"$work/b/carp-$1/carp.conf"
    printf '[config-files]\nreload = %s\nhealth = test -e %s/healthy\nhealth-timeout = %s\n[file:carp]\nsource = carp.conf\ntarget = %s/carp.conf\n' \
      "$2" "$work" "${3:-10}" "$etc" >>"$work/b/carp-$1/manifest.ini"
  }
  # Healthy 2 s after the reload (the address moves back, say): passes.
  gate 2 "rm -f $work/healthy; (sleep 2; touch $work/healthy) >/dev/null 2>&1 &"
  bundle carp 2
  apply carp-2
  expect applied "health gate passed after"
  grep -qx 'vip 10.0.0.2' "$etc/carp.conf" || fail "carp.conf not installed"
  cp -p "$etc/carp.conf" "$work/carp.v2"
  # Never healthy: verify fails after 3 s, the host rolls back.
  gate 3 "rm -f $work/healthy" 3
  bundle carp 3
  apply carp-3
  expect rolled-back "health gate failed for 3s"
  cmp -s "$etc/carp.conf" "$work/carp.v2" || fail "carp.conf not restored after the failed gate"
  gate 4 "true" 0
  if "$sender" bundle create "$work/b/carp-4" -o "$work/carp-4.fcb" --key "$work/mgr/manager.key" \
    >"$work/out" 2>&1; then
    fail "bundle create accepted health-timeout = 0"
  fi
  grep -q "health-timeout must be 1 to 9999 seconds" "$work/out" || fail "no reason for the refusal"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode ($n applies)"
