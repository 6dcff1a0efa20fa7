#!/usr/bin/env bash
# Compares `cra scan` of an image in a local registry with the floor: fetching each layer blob
# with curl and inflating it with the fastest inflater available (igzip from Debian's `isal`,
# else gzip). Prints both times, their ratio (cra / inflate of the largest layer) and cra's
# peak RSS.
#
# Usage: benches/compare.sh [oci-archive file]   (default: ../shared/fixtures/images/debian-min.oci.tar)
#        benches/large_image.py builds a large two-layer image to pass here.
# cra is built with the `isal` feature when the system has libisal (Debian libisal-dev);
# CRA=<binary> measures that binary instead.
# Needs: docker-registry, skopeo, curl, python3, /usr/bin/time; igzip optional.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
image=${1:-$root/../shared/fixtures/images/debian-min.oci.tar}
runs=${RUNS:-3}
[ -f "$image" ] || { echo "no image at $image" >&2; exit 1; }
for tool in docker-registry skopeo curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (Debian package time)" >&2; exit 1; }
if command -v igzip >/dev/null; then inflate="igzip -dc"; else inflate="gzip -dc"; fi

if [ -n "${CRA:-}" ]; then
  cra=$CRA
else
  features=()
  if [ -f /usr/include/isa-l.h ]; then features=(--features isal); fi
  cargo build --quiet --release -p cra-cli "${features[@]}"
  cra="${CARGO_TARGET_DIR:-$root/target}/release/cra"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/config.yml" <<YAML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $work/data } }
http: { addr: 127.0.0.1:$port }
YAML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
cleanup() { kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break
  sleep 0.1
done

ref="127.0.0.1:$port/bench/image:latest"
skopeo copy --quiet --dest-tls-verify=false "oci-archive:$image" "docker://$ref"

base="http://127.0.0.1:$port/v2/bench/image"
manifest=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' "$base/manifests/latest")
layers=$(python3 -c 'import json,sys; m=json.loads(sys.argv[1]); [print(l["digest"], l["size"]) for l in m["layers"]]' "$manifest")

best() { sort -n | head -1; }
seconds() { # command... → elapsed seconds
  local start end
  start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.3f}')"
}

echo "image: $image"
echo "inflater: $inflate"
largest_time=0
total_floor=0
while read -r digest size; do
  t=$(for _ in $(seq 1 "$runs"); do seconds sh -c "curl -fs '$base/blobs/$digest' | $inflate"; done | best)
  echo "floor  layer $digest ($size bytes): ${t}s"
  total_floor=$(python3 -c "print($total_floor + $t)")
  largest_time=$(python3 -c "print(max($largest_time, $t))")
done <<<"$layers"

cra_times=()
rss=0
for _ in $(seq 1 "$runs"); do
  /usr/bin/time -f '%e %M' -o "$work/time" "$cra" scan "$ref" --insecure-http --format json --output "$work/out.json"
  read -r t kb <"$work/time"
  cra_times+=("$t")
  rss=$(python3 -c "print(max($rss, $kb))")
done
cra_time=$(printf '%s\n' "${cra_times[@]}" | best)
packages=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["scanResults"][0]["facts"][0]["data"]["pkgs"]) - 1)' "$work/out.json")

echo "cra scan: ${cra_time}s, peak RSS $((rss / 1024)) MiB, $packages packages"
echo "floor: largest layer ${largest_time}s, all layers ${total_floor}s"
python3 -c "print(f'ratio (cra / inflate of largest layer): {$cra_time / $largest_time:.2f}x  (target <= 1.3x)')"
python3 -c "print(f'peak RSS: {$rss / 1024:.1f} MiB  (target <= 48 MiB)')"
