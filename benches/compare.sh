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
# shellcheck source=benches/lib.sh
. benches/lib.sh
bench_require docker-registry skopeo curl python3
bench_cra
bench_registry

ref="127.0.0.1:$port/bench/image:latest"
skopeo copy --quiet --dest-tls-verify=false "oci-archive:$image" "docker://$ref"

base="$base/v2/bench/image"
manifest=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' "$base/manifests/latest")
layers=$(python3 -c 'import json,sys; m=json.loads(sys.argv[1]); [print(l["digest"], l["size"]) for l in m["layers"]]' "$manifest")

best() { sort -n | head -1; }

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
