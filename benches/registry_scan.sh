#!/usr/bin/env bash
# Scans a local registry of 50 images (3 shared base layers + one unique top layer each, built
# from real files by benches/registry_images.py) with `cra scan-registry`, cold and then warm
# after 5 images changed their top layer, and compares each with its floor:
#   cold: pulling and inflating every unique layer once (curl | igzip -dc, else gzip -dc);
#   warm: pulling and inflating the 5 new layers, plus 50 manifest requests.
# Prints times, per-image throughput, the cache hit ratio and peak RSS against the targets of
# the registry-scan issue (cold <= 1.5x its floor, warm <= 2x its floor, RSS <= 48 MiB plus the
# concurrency used).
#
# Usage: benches/registry_scan.sh   (CRA=<binary> measures that binary, else a release build with
# `isal` when libisal is installed; CONCURRENCY=4, BASE_MB=40
# and TOP_MB=4 size the layers)
# Needs: docker-registry, curl, python3, /usr/bin/time; igzip optional.
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency=${CONCURRENCY:-4}
# shellcheck source=benches/lib.sh
. benches/lib.sh
bench_require docker-registry curl python3
bench_cra
bench_registry

floor() { # file of "repository digest" lines → seconds to pull and inflate them all
  local total=0 t
  while read -r repo digest; do
    t=$(seconds sh -c "curl -fs '$base/v2/$repo/blobs/$digest' | $inflate")
    total=$(python3 -c "print($total + $t)")
  done <"$1"
  echo "$total"
}
scan() { # label → "seconds peak-kB hits total"
  LOG_LEVEL=info /usr/bin/time -f '%e %M' -o "$work/time" "$cra" scan-registry \
    --type nexus-cr --base "$base" --output-dir "$work/out" --cache-dir "$work/cache" \
    --concurrency "$concurrency" -f json >"$work/$1.table" 2>"$work/$1.log"
  read -r t kb <"$work/time"
  found=$(grep -o 'analysis cache: [0-9]* of [0-9]*' "$work/$1.log" | tail -1 | awk '{print $3, $5}')
  echo "$t $kb $found"
}

echo "building and pushing 50 images…"
python3 benches/registry_images.py "$port" --base-mb "${BASE_MB:-40}" --top-mb "${TOP_MB:-4}" >"$work/unique.txt"
cold_floor=$(floor "$work/unique.txt")
read -r cold_t cold_kb cold_hits cold_total <<<"$(scan cold)"

python3 benches/registry_images.py "$port" --change 5 --base-mb "${BASE_MB:-40}" --top-mb "${TOP_MB:-4}" >"$work/changed.txt"
changed_floor=$(python3 - "$base" "$work/changed.txt" "$inflate" <<'PY'
import sys, time, urllib.request, subprocess
base = sys.argv[1]
changed = [line.split() for line in open(sys.argv[2]) if line.strip()]
start = time.time()
for repo, d in changed:
    subprocess.run(f"curl -fs '{base}/v2/{repo}/blobs/{d}' | {sys.argv[3]} >/dev/null", shell=True, check=True)
for n in range(50):
    req = urllib.request.Request(f"{base}/v2/bench/app-{n:02}/manifests/1")
    req.add_header("Accept", "application/vnd.oci.image.manifest.v1+json")
    urllib.request.urlopen(req).read()
print(f"{time.time() - start:.3f}")
PY
)
read -r warm_t warm_kb warm_hits warm_total <<<"$(scan warm)"

python3 - "$cold_t" "$cold_floor" "$cold_kb" "$cold_hits" "$cold_total" \
  "$warm_t" "$changed_floor" "$warm_kb" "$warm_hits" "$warm_total" "$concurrency" <<'PY'
import sys
ct, cf, ck, ch, cn, wt, wf, wk, wh, wn, conc = sys.argv[1:]
ct, cf, wt, wf = map(float, (ct, cf, wt, wf))
for label, t, floor, kb, hits, total, target in [
    ("cold", ct, cf, ck, ch, cn, 1.5), ("warm", wt, wf, wk, wh, wn, 2.0)]:
    ratio = t / floor if floor else float("inf")
    print(f"{label}: {t:.2f}s for 50 images ({50 / t:.1f} images/s), floor {floor:.2f}s, "
          f"ratio {ratio:.2f}x (target <= {target}x), cache {hits}/{total} layers found "
          f"({int(hits) / max(1, int(total)):.0%}), peak RSS {int(kb) / 1024:.1f} MiB "
          f"(target <= 48 MiB + concurrency {conc})")
PY
