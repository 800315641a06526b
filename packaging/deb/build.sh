#!/bin/sh
# build.sh BINARY VERSION OUTDIR: builds earshot_VERSION_ARCH.deb from a built
# binary, with the same unit template and default configuration that
# `earshot service install` uses (rendered by `earshot packaging-unit`).
set -eu
bin=$1 version=$2 out=$3
arch=$(dpkg --print-architecture)
here=$(cd "$(dirname "$0")" && pwd)
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
# Debian versions start with a digit.
case $version in [0-9]*) ;; *) version="0.0.0~$version" ;; esac

install -D -m 0755 "$bin" "$pkg/usr/bin/earshot"
install -d -m 0755 "$pkg/lib/systemd/system" "$pkg/etc/earshot" "$pkg/etc/default" "$pkg/usr/share/doc/earshot" "$pkg/DEBIAN"
"$bin" packaging unit /usr/bin/earshot > "$pkg/lib/systemd/system/earshot.service"
"$bin" packaging config > "$pkg/etc/earshot/earshot.yaml"
"$bin" packaging env > "$pkg/etc/default/earshot"
chmod 0640 "$pkg/etc/earshot/earshot.yaml"
install -m 0644 "$here/../../README.md" "$pkg/usr/share/doc/earshot/README.md"
# Attribution of the third-party data embedded in the binary.
install -D -m 0644 "$here/../../inference/builtin/vader/NOTICE" "$pkg/usr/share/doc/earshot/third-party/vader/NOTICE"
install -D -m 0644 "$here/../../inference/builtin/vader/LICENSE.vader-sentiment" "$pkg/usr/share/doc/earshot/third-party/vader/LICENSE"
install -D -m 0644 "$here/../../inference/builtin/intents/banking77/NOTICE" "$pkg/usr/share/doc/earshot/third-party/banking77/NOTICE"
install -D -m 0644 "$here/../../inference/builtin/intents/banking77/LICENSE" "$pkg/usr/share/doc/earshot/third-party/banking77/LICENSE"
# The observability kit: Grafana dashboard and Prometheus alerting rules.
for f in earshot-dashboard.json earshot-alerts.yml earshot-alerts_test.yml; do
	install -D -m 0644 "$here/../observability/$f" "$pkg/usr/share/earshot/observability/$f"
done
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$pkg/DEBIAN/"
printf '/etc/earshot/earshot.yaml\n/etc/default/earshot\n' > "$pkg/DEBIAN/conffiles"
size=$(du -sk "$pkg" | cut -f1)
depends="libc6, libpocketsphinx3, pocketsphinx-en-us, libflite1, libespeak-ng1, libopus0, adduser"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: earshot
Version: $version
Architecture: $arch
Maintainer: Earshot <support@earshot.invalid>
Installed-Size: $size
Depends: $depends
Recommends: espeak-ng, apertium
Section: net
Priority: optional
Description: on-premises contact-centre AI appliance
 Earshot receives call audio and chat locally, transcribes them, runs local
 models for agent assist, quality management and workforce forecasting, and
 keeps every result encrypted on the machine.
CONTROL
mkdir -p "$out"
name=earshot_${version}_${arch}
dpkg-deb --root-owner-group --build "$pkg" "$out/$name.deb" >/dev/null
# Supply chain: the bill of materials (Go modules built in, Debian
# dependencies), SHA-256 checksums, and with EARSHOT_SIGNING_KEY (a key ID
# in the site's GnuPG keyring) a detached signature of the package.
"$bin" packaging sbom "$version" "$depends" > "$out/$name.cdx.json"
(cd "$out" && sha256sum "$name.deb" "$name.cdx.json" > "$name.sha256")
if [ -n "${EARSHOT_SIGNING_KEY:-}" ]; then
	gpg --batch --yes --local-user "$EARSHOT_SIGNING_KEY" --armor --detach-sign --output "$out/$name.deb.asc" "$out/$name.deb"
fi
echo "$out/$name.deb"
