#!/usr/bin/env bash
# Installs what Headroom needs on Debian/Ubuntu, and only what is missing.
#   scripts/deps.sh run    build and run the desktop app
#   scripts/deps.sh test   + everything the test layers use (Xvfb, D-Bus, WebDriver, mail servers)
#   scripts/deps.sh bench  + the tools the benchmarks compare against
# apt packages go through sudo when not root. Nothing is downloaded outside the
# distribution's, crates.io's and npm's registries.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-run}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

RUN_PKGS=(build-essential pkg-config curl file libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
          librsvg2-dev libxdo-dev libssl-dev)
# procps: /bin/kill, which the test harnesses use to stop the servers they start (not in
# a minimal Debian). Exim, OpenSMTPD and Sendmail are unpacked by the tests themselves
# (tests/src/debs.rs), which install those packages' own dependencies from their metadata.
# nsd: the authoritative DNS server the domain-health tests serve their zones from;
# prometheus: the agent tests scrape with it and check metrics and rules with promtool;
# openssh-server/-client: the agent reached over ssh (a private sshd on loopback).
# gnome-keyring: a Secret Service in the test's own session, holding the agents' tokens.
# debootstrap, lintian, x11-utils: make test-package builds a fresh Debian root to install
# the .deb files into, checks them, and finds the installed app's window (xwininfo).
TEST_PKGS=(xvfb xauth dbus dbus-x11 webkit2gtk-driver dunst postfix postgrey m4 procps nsd prometheus
           openssh-server openssh-client gnome-keyring debootstrap lintian x11-utils)
# The desktop tests' window manager and tray: jwm (close and minimize as a user does,
# driven with wmctrl, read with xprop from x11-utils), gtk-sni-tray-standalone (a real
# StatusNotifier watcher and host; the app's tray menu is read and clicked over D-Bus
# with gdbus from libglib2.0-bin), desktop-file-utils (checks the autostart entry,
# which gio launches).
TEST_PKGS+=(jwm wmctrl haskell-gtk-sni-tray-utils libglib2.0-bin desktop-file-utils)
BENCH_PKGS=(glances prometheus-node-exporter prometheus-postfix-exporter swaks monitoring-plugins-basic)

pkgs=("${RUN_PKGS[@]}")
case "$what" in
  run) ;;
  test) pkgs+=("${TEST_PKGS[@]}") ;;
  bench) pkgs+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

have_node() {
  command -v node >/dev/null && command -v npm >/dev/null
}
have_node || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  [ -n "$p" ] || continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  if [[ " ${missing[*]} " == *" postfix "* ]]; then
    # Postfix asks questions at install time; "Local only" keeps it off the network.
    echo "postfix postfix/main_mailer_type select Local only" | $SUDO debconf-set-selections
    echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
  fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node 20.19+ for Vite 7.
node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=19)?1:0)')
if [ "$node_ok" != 1 ]; then
  echo "Node.js $(node --version) is too old: the UI build (Vite 7) needs Node 20.19 or newer." >&2
  echo "Install a current Node.js (for example from your distribution's backports) and run make again." >&2
  exit 1
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is not installed: install it with rustup (https://rustup.rs), then run make again." >&2
  exit 1
fi

if [ "$what" != run ]; then
  if ! command -v tauri-driver >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
    echo "==> installing tauri-driver 2.x"
    cargo install tauri-driver --locked --version '^2'
  fi
fi

# UI packages: exactly the lock file's versions.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "==> npm ci (ui/)"
  (cd ui && npm ci --no-audit --no-fund)
fi
