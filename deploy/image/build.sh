#!/usr/bin/env bash
# Builds the cra container image offline into an OCI image layout at OUT_DIR (ref name `latest`).
#
#   deploy/image/build.sh OUT_DIR
#
# The image holds one layer and nothing but: the static `cra` binary, the CA certificates of the
# build host's Debian `ca-certificates` package (with its dpkg record and copyright), a non-root user
# (`cra`, 10001:10001), its writable state directory /var/lib/cra (CRA_STATE_DIR), and /tmp.
# The role is the command: `agent` by default, or `client` / `server`.
#
# No base image is pulled: the layer is written by deploy/image/rootfs.py and assembled with umoci.
# CRA_BIN names a ready release binary; without it, the static release binary is built first
# (the same command as deploy/image/build-binary.sh). SOURCE_DATE_EPOCH fixes every timestamp.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

for tool in umoci python3 readelf; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is needed (Debian: umoci, python3, binutils)" >&2; exit 1; }
done
ca_bundle=/etc/ssl/certs/ca-certificates.crt
if [ ! -s "$ca_bundle" ] || ! dpkg-query -W ca-certificates >/dev/null 2>&1; then
  echo "$0: the Debian package ca-certificates must be installed (it provides $ca_bundle)" >&2
  exit 1
fi

bin=${CRA_BIN:-}
if [ -z "$bin" ]; then
  bin=$("$here/build-binary.sh")
fi
if [ ! -x "$bin" ]; then
  echo "$0: no executable cra binary at $bin" >&2
  exit 1
fi
# Static means no program interpreter: the binary runs without any libc in the image or on the host.
if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
  echo "$0: $bin is dynamically linked; build it with deploy/image/build-binary.sh" >&2
  exit 1
fi

epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
version=$("$bin" --version | awk '{print $2}')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$here/rootfs.py" --binary "$bin" --ca-bundle "$ca_bundle" --epoch "$epoch" "$work/layer.tar"

rm -rf "$out"
umoci init --layout "$out"
umoci new --image "$out:latest"
umoci raw add-layer --image "$out:latest" \
  --history.created "$created" --history.created_by "deploy/image/rootfs.py" "$work/layer.tar"
umoci config --no-history --image "$out:latest" \
  --created "$created" \
  --os linux --architecture amd64 \
  --config.user 10001:10001 \
  --config.workingdir / \
  --config.entrypoint /usr/local/bin/cra \
  --config.cmd agent \
  --config.env PATH=/usr/local/bin \
  --config.env CRA_STATE_DIR=/var/lib/cra \
  --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --config.exposedports 17500/tcp \
  --config.exposedports 7341/tcp \
  --config.label org.opencontainers.image.title=cra \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label "org.opencontainers.image.created=$created"
umoci gc --layout "$out"
echo "cra $version image written to $out (ref latest)"
