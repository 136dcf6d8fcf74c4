#!/usr/bin/env bash
# Builds Headroom's two Debian packages into target/packages/:
#   headroom_<version>_<arch>.deb      the desktop app: Tauri's bundler makes it (binary,
#                                      .desktop entry, hicolor icons), then it is
#                                      finished here (stripped, Depends from
#                                      dpkg-shlibdeps, copyright, changelog, md5sums)
#   headroom-cli_<version>_<arch>.deb  the CLI and the agent: binary, man pages and
#                                      completions generated from its clap definitions,
#                                      the systemd unit (installed, not enabled), the
#                                      `headroom` system user made in postinst
# Needs the release build tools of `scripts/deps.sh run` and ui/node_modules (the
# Tauri CLI is an npm dev dependency). Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

# One maintainer line for both packages.
MAINTAINER="Headroom contributors <headroom-mail@users.noreply.github.com>"

version=$(scripts/version.sh)
arch=$(dpkg --print-architecture)
out=target/packages
work=$out/work
rm -rf "$work"
mkdir -p "$work" "$out"
# The changelog and file times follow the commit, so two builds of one commit match.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

echo "==> release build"
# The app in `release`, headroom-cli in its own size-optimized profile (see the
# workspace Cargo.toml: it stays resident on mail servers). Tauri's bundler then packs
# the built app.
(cd ui && npm run build)
cargo build --release -p headroom
cargo build --profile release-cli -p headroom-cli
ui/node_modules/.bin/tauri bundle --ci --bundles deb
tauri_deb=$(ls -t target/release/bundle/deb/*_"${version}"_"${arch}".deb | head -n1)

# shlibs_of FILE...: the Depends that dpkg-shlibdeps derives from the ELF files' libraries.
shlibs_of() {
  local dir
  dir=$(mktemp -d "$work/shlibs.XXXX")
  mkdir -p "$dir/debian"
  printf 'Source: headroom\n\nPackage: headroom\nArchitecture: any\n' >"$dir/debian/control"
  local abs=()
  for f in "$@"; do abs+=("$(realpath "$f")"); done
  local deps
  deps=$(cd "$dir" && dpkg-shlibdeps -O "${abs[@]}" | sed -n 's/^shlibs:Depends=//p')
  rm -rf "$dir"
  # A package without its libraries in Depends would install and then not start.
  [ -n "$deps" ] || { echo "package.sh: dpkg-shlibdeps derived no Depends for $*" >&2; return 1; }
  echo "$deps"
}

# merge_depends LIST...: one entry per package, a versioned entry beating a bare one.
merge_depends() {
  python3 - "$@" <<'EOF'
import sys
seen = {}
for arg in sys.argv[1:]:
    for dep in filter(None, (d.strip() for d in arg.split(","))):
        name = dep.split()[0].split(":")[0]
        if name not in seen or ("(" in dep and "(" not in seen[name]):
            seen[name] = dep
print(", ".join(seen[n] for n in sorted(seen)))
EOF
}

# doc_files ROOT PACKAGE: copyright and a native changelog, as Debian policy asks.
doc_files() {
  local doc=$1/usr/share/doc/$2
  install -d -m 755 "$doc"
  install -m 644 packaging/copyright "$doc/copyright"
  {
    echo "$2 ($version) unstable; urgency=medium"
    echo
    echo "  * Release $version: see README.md and docs/ in the source tree."
    echo
    echo " -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
  } | gzip -9n >"$doc/changelog.gz"
  chmod 644 "$doc/changelog.gz"
}

# finish ROOT: stripped binaries, md5sums, Installed-Size, owner root, into $out.
finish() {
  local root=$1 name
  find "$root/usr/bin" -type f -exec strip --strip-unneeded --remove-section=.comment --remove-section=.note {} +
  find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 755 {} +
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  chmod 644 "$root/DEBIAN/md5sums"
  local size
  size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
  sed -i "/^Installed-Size:/d" "$root/DEBIAN/control"
  echo "Installed-Size: $size" >>"$root/DEBIAN/control"
  find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference -d "@$SOURCE_DATE_EPOCH" {} +
  name=$(sed -n 's/^Package: //p' "$root/DEBIAN/control")
  dpkg-deb --root-owner-group -Zxz --build "$root" "$out/${name}_${version}_${arch}.deb" >/dev/null
  echo "    $out/${name}_${version}_${arch}.deb ($(du -h "$out/${name}_${version}_${arch}.deb" | cut -f1))"
}

echo "==> headroom-cli"
cli=$work/headroom-cli
install -d -m 755 "$cli/DEBIAN" "$cli/usr/bin" "$cli/usr/share/man/man1" "$cli/lib/systemd/system" \
  "$cli/usr/share/bash-completion/completions" "$cli/usr/share/zsh/vendor-completions" \
  "$cli/usr/share/fish/vendor_completions.d"
install -m 755 target/release-cli/headroom-cli "$cli/usr/bin/headroom-cli"
target/release-cli/headroom-cli man-pages "$work/man"
for page in "$work"/man/*.1; do
  gzip -9n -c "$page" >"$cli/usr/share/man/man1/$(basename "$page").gz"
done
chmod 644 "$cli"/usr/share/man/man1/*
target/release-cli/headroom-cli completions bash >"$cli/usr/share/bash-completion/completions/headroom-cli"
target/release-cli/headroom-cli completions zsh >"$cli/usr/share/zsh/vendor-completions/_headroom-cli"
target/release-cli/headroom-cli completions fish >"$cli/usr/share/fish/vendor_completions.d/headroom-cli.fish"
install -m 644 contrib/systemd/headroom-agent.service "$cli/lib/systemd/system/headroom-agent.service"
chmod 644 "$cli"/usr/share/*/completions/* "$cli"/usr/share/*/vendor*/*
doc_files "$cli" headroom-cli
install -m 755 packaging/headroom-cli/postinst packaging/headroom-cli/prerm packaging/headroom-cli/postrm "$cli/DEBIAN/"
cli_shlibs=$(shlibs_of "$cli/usr/bin/headroom-cli")
cat >"$cli/DEBIAN/control" <<EOF
Package: headroom-cli
Version: $version
Architecture: $arch
Maintainer: $MAINTAINER
Section: mail
Priority: optional
Depends: $(merge_depends "$cli_shlibs" "adduser")
Recommends: ca-certificates
Suggests: headroom
Homepage: https://github.com/headroom-mail/headroom
Description: warn before a mail server answers 421 (command line and agent)
 Headroom watches a mail server (Postfix, Exim, OpenSMTPD, Sendmail): its
 queues, processes, connections, configured limits, SMTP replies and domain
 health, and warns before the server starts deferring or refusing mail.
 .
 This package holds headroom-cli: one-shot checks with Nagios exit codes,
 SMTP probes, a log classifier, and the agent (headroom-cli serve) with its
 systemd unit, installed but not enabled, which the desktop app and
 Prometheus read.
EOF
finish "$cli"

echo "==> headroom (desktop)"
app=$work/headroom
dpkg-deb -R "$tauri_deb" "$app"
doc_files "$app" headroom
# The app's page is written by hand (two options); make test-package checks that it names
# every option `headroom --help` lists.
install -d -m 755 "$app/usr/share/man/man1"
gzip -9n -c packaging/headroom.1 >"$app/usr/share/man/man1/headroom.1.gz"
chmod 644 "$app/usr/share/man/man1/headroom.1.gz"
tauri_depends=$(sed -n 's/^Depends: //p' "$app/DEBIAN/control")
# libayatana-appindicator3 is opened at run time (the tray), so neither shlibdeps nor
# Tauri's list names it.
app_shlibs=$(shlibs_of "$app/usr/bin/headroom")
depends=$(merge_depends "$tauri_depends" "$app_shlibs" \
  "libayatana-appindicator3-1" "headroom-cli (= $version)")
python3 - "$app/DEBIAN/control" "$depends" "$MAINTAINER" <<'EOF'
import sys, textwrap
path, depends, maintainer = sys.argv[1:]
fields, order, key = {}, [], None
for line in open(path).read().splitlines():
    if line.startswith((" ", "\t")) and key:
        fields[key] += "\n" + line
    elif ":" in line:
        key, value = line.split(":", 1)
        fields[key] = value.strip()
        order.append(key)
fields["Depends"] = depends
fields["Maintainer"] = maintainer
fields["Homepage"] = "https://github.com/headroom-mail/headroom"
# Tauri writes the long description as one line; Debian wants it folded.
summary, _, body = fields["Description"].partition("\n")
body = " ".join(line.strip() for line in body.splitlines())
fields["Description"] = summary + "".join("\n " + l for l in textwrap.wrap(body, 72))
for k in ("Homepage",):
    if k not in order:
        order.append(k)
with open(path, "w") as f:
    for k in order:
        f.write(f"{k}: {fields[k]}\n")
EOF
finish "$app"
rm -rf "$work"
