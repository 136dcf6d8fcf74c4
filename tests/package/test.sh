#!/usr/bin/env bash
# make test-package: the two .deb files of `make package` as an admin meets them.
#   1. lintian on both: no error and no warning (overrides, each with its reason, are in
#      packaging/*.lintian-overrides and ship in the packages).
#   2. A fresh Debian 12 root made here with debootstrap (minbase, from the Debian
#      mirror) under /var/tmp; in it:
#      - apt-get install ./headroom-cli_*.deb resolves every dependency; --version and
#        check --no-probe run; the agent's user exists; systemd-analyze verify accepts
#        the unit; man headroom-cli shows the page; dpkg --purge leaves no file behind;
#      - apt-get install ./headroom_*.deb ./headroom-cli_*.deb resolves every dependency
#        and the installed headroom paints its window on an Xvfb display (the time from
#        exec to a painted window is printed).
# Each failure says what and exits non-zero. Only what this script started is stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
version=$(scripts/version.sh)
arch=$(dpkg --print-architecture)
cli_deb=target/packages/headroom-cli_${version}_${arch}.deb
app_deb=target/packages/headroom_${version}_${arch}.deb
artifacts=tests/artifacts
mkdir -p "$artifacts"

step() { echo "==> $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
for deb in "$cli_deb" "$app_deb"; do
  [ -f "$deb" ] || fail "$deb is missing: run make package first"
done
[ "$(id -u)" -eq 0 ] || fail "the install test makes a chroot: run it as root"

for deb in "$cli_deb" "$app_deb"; do
  echo "    $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB, installed $(dpkg-deb -f "$deb" Installed-Size) KiB"
done

step "lintian"
lintian --fail-on error,warning --display-info "$cli_deb" "$app_deb" || fail "lintian found errors or warnings (above)"

root=$(mktemp -d /var/tmp/headroom-pkgtest.XXXXXX)
# A root directory others can enter: man-db's triggers run as the user man.
chmod 755 "$root"
xvfb_pid=""
app_pid=""
cleanup() {
  set +e
  [ -n "$app_pid" ] && kill -TERM -- "-$app_pid" 2>/dev/null
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
  sleep 0.5
  [ -n "$app_pid" ] && kill -KILL -- "-$app_pid" 2>/dev/null
  for m in dev/shm sys proc; do
    mountpoint -q "$root/$m" && { umount "$root/$m" || umount -l "$root/$m"; }
  done
  # --one-file-system: should an unmount have failed, nothing beyond the root is touched.
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

# The environment of every command in the root: nothing of the host's.
root_env=(PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
in_root() { chroot "$root" env -i "${root_env[@]}" DEBIAN_FRONTEND=noninteractive "$@"; }

step "a fresh Debian 12 root ($root) from $mirror"
start=$(date +%s)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$artifacts/debootstrap.log" 2>&1 ||
  fail "debootstrap failed: see $artifacts/debootstrap.log"
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
mount -t tmpfs -o mode=1777,size=256m tmpfs "$root/dev/shm"
# No service starts inside the root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp "$cli_deb" "$app_deb" "$root/tmp/"
cli_in=/tmp/$(basename "$cli_deb")
app_in=/tmp/$(basename "$app_deb")
# The tools this test looks with, not what the packages need: man, systemd-analyze, a
# session bus for the app.
in_root apt-get -qq update
in_root apt-get install -y -qq --no-install-recommends man-db systemd dbus >/dev/null
echo "    root ready in $(($(date +%s) - start)) s"

# Every path in the root, but for caches, logs and package databases.
files_of_root() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp -o -path ./run \
    -o -path ./var/cache -o -path ./var/log -o -path ./var/lib/dpkg -o -path ./var/lib/apt \) -prune -o -print) |
    sort
}
files_of_root >"$root/tmp/before"

step "apt-get install ./$(basename "$cli_deb")"
in_root apt-get install -y -q --no-install-recommends "$cli_in" >"$artifacts/install-cli.log" 2>&1 ||
  { tail -20 "$artifacts/install-cli.log"; fail "headroom-cli did not install"; }
got=$(in_root headroom-cli --version)
[ "$got" = "headroom-cli $version" ] || fail "headroom-cli --version said '$got'"
echo "    $got"
set +e
check_out=$(in_root timeout 60 headroom-cli check --no-probe 2>&1)
check_rc=$?
set -e
echo "$check_out" | head -3 | sed 's/^/    /'
[ "$check_rc" -le 3 ] || fail "check --no-probe exited $check_rc"
[[ "$check_out" == HEADROOM* ]] || fail "check --no-probe printed no status line"
in_root getent passwd headroom >/dev/null || fail "postinst made no headroom user"
groups=$(in_root id -nG headroom)
echo "    headroom user, groups: $groups"
for g in adm systemd-journal; do
  [[ " $groups " == *" $g "* ]] || fail "the headroom user is not in $g"
done
in_root systemd-analyze verify /lib/systemd/system/headroom-agent.service ||
  fail "systemd-analyze verify refused the unit"
echo "    systemd-analyze verify: unit accepted"
in_root sh -c '! systemctl is-enabled headroom-agent.service >/dev/null 2>&1' ||
  fail "the unit is enabled; it must be installed only"
page=$(in_root env MANPAGER=cat MANWIDTH=80 man headroom-cli 2>&1) || fail "man headroom-cli: $page"
[[ "$page" == *"headroom-cli-check(1)"* ]] || fail "man headroom-cli shows no subcommand list"
echo "    man headroom-cli: $(echo "$page" | wc -l) lines"
for f in /usr/share/bash-completion/completions/headroom-cli /usr/share/zsh/vendor-completions/_headroom-cli \
  /usr/share/fish/vendor_completions.d/headroom-cli.fish; do
  [ -s "$root$f" ] || fail "no completion file $f"
done

step "dpkg --purge headroom-cli"
in_root dpkg --purge headroom-cli >/dev/null
files_of_root >"$root/tmp/after"
# adduser keeps the account database's backups (passwd-, group-, ...) and the user stays,
# as Debian does for system users; anything else left or lost is a failure.
left=$(diff "$root/tmp/before" "$root/tmp/after" | grep '^[<>]' |
  grep -vE '^> \./etc/(passwd|group|shadow|gshadow)-$' || true)
[ -z "$left" ] || fail "the purge left (>) or removed (<) files:
$left"
echo "    no file left behind"

step "apt-get install ./$(basename "$app_deb") ./$(basename "$cli_deb")"
in_root apt-get install -y -q --no-install-recommends "$app_in" "$cli_in" >"$artifacts/install-app.log" 2>&1 ||
  { tail -20 "$artifacts/install-app.log"; fail "headroom did not install"; }
desktop=$(ls "$root"/usr/share/applications/*.desktop 2>/dev/null | head -n1)
[ -n "$desktop" ] || fail "no .desktop entry"
grep -q "^Exec=headroom$" "$desktop" || fail "the .desktop entry does not run headroom"
ls "$root"/usr/share/icons/hicolor/*/apps/headroom.png >/dev/null || fail "no hicolor icon"
# The app's man page is written by hand: it must name every option the binary has.
app_help=$(in_root headroom --help) || fail "headroom --help failed: $app_help"
app_page=$(in_root env LANG=C MANPAGER=cat man headroom 2>&1) || fail "man headroom: $app_page"
for opt in $(echo "$app_help" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  [[ "$app_page" == *"$opt"* ]] || fail "man headroom does not name $opt (headroom --help does)"
done

step "the installed headroom paints its window"
display=""
for n in $(seq 90 120); do
  if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then
    display=":$n"
    break
  fi
done
[ -n "$display" ] || fail "no free X display number"
fbdir=$(mktemp -d /tmp/headroom-fb.XXXXXX)
Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp -fbdir "$fbdir" >"$artifacts/package-xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do
  [ -e "/tmp/.X11-unix/X${display#:}" ] && break
  sleep 0.1
done
# The root reaches the display through its abstract socket (same network namespace),
# so no host directory is mounted into it.
mkdir -p "$root/tmp/xdg" && chmod 700 "$root/tmp/xdg"
start_ns=$(python3 -c 'import time; print(time.monotonic_ns())')
setsid chroot "$root" env -i "${root_env[@]}" DISPLAY="$display" \
  XDG_RUNTIME_DIR=/tmp/xdg WEBKIT_DISABLE_COMPOSITING_MODE=1 NO_AT_BRIDGE=1 \
  dbus-run-session -- headroom >"$artifacts/package-app.log" 2>&1 &
app_pid=$!
python3 tests/package/window.py "$display" "$fbdir/Xvfb_screen0" Headroom "$start_ns" 90 "$artifacts/package-window.png" ||
  { tail -20 "$artifacts/package-app.log"; fail "the installed headroom painted no window"; }
kill -0 "$app_pid" 2>/dev/null || fail "headroom exited after painting"
rm -rf "$fbdir"
echo "==> both packages install, run and purge cleanly"
