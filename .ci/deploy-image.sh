#!/usr/bin/env bash
# Builds the static release binary once, builds the image from it with deploy/image/build.sh, then
# checks the image as a runtime would run it: unpacked, read-only root, the image's user and
# environment, only /tmp and the state directory writable. Asserts the file list, `--version`, an
# agent's /healthcheck, and the package list `cra scan oci:…` reports.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v umoci >/dev/null || ! command -v readelf >/dev/null; then
  apt-get install -y -qq umoci binutils ca-certificates >/dev/null
fi

echo "== building the static release binary (CRA_BIN names a ready one)"
bin=${CRA_BIN:-$(deploy/image/build-binary.sh)}
echo "$bin: $(du -h "$bin" | cut -f1)"

echo "== building the image"
CRA_BIN=$bin deploy/image/build.sh "$work/oci"
umoci unpack --image "$work/oci:latest" "$work/bundle" >/dev/null
root=$work/bundle/rootfs

echo "== the image holds only what it should"
expected='drwxr-xr-x 0:0 etc
-rw-r--r-- 0:0 etc/group
-rw-r--r-- 0:0 etc/nsswitch.conf
-rw-r--r-- 0:0 etc/os-release
-rw-r--r-- 0:0 etc/passwd
drwxr-xr-x 0:0 etc/ssl
drwxr-xr-x 0:0 etc/ssl/certs
-rw-r--r-- 0:0 etc/ssl/certs/ca-certificates.crt
drwxrwxrwt 0:0 tmp
drwxr-xr-x 0:0 usr
drwxr-xr-x 0:0 usr/local
drwxr-xr-x 0:0 usr/local/bin
-rwxr-xr-x 0:0 usr/local/bin/cra
drwxr-xr-x 0:0 usr/share
drwxr-xr-x 0:0 usr/share/doc
drwxr-xr-x 0:0 usr/share/doc/ca-certificates
-rw-r--r-- 0:0 usr/share/doc/ca-certificates/copyright
drwxr-xr-x 0:0 var
drwxr-xr-x 0:0 var/lib
drwx------ 10001:10001 var/lib/cra
drwxr-xr-x 0:0 var/lib/dpkg
drwxr-xr-x 0:0 var/lib/dpkg/status.d
-rw-r--r-- 0:0 var/lib/dpkg/status.d/ca-certificates'
actual=$(cd "$root" && find . -mindepth 1 -printf '%M %U:%G %P\n' | sort -k3)
if [ "$actual" != "$expected" ]; then
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  echo "the image's files differ from the expected list" >&2
  exit 1
fi
if grep -rlE 'PRIVATE KEY|BROKER_TOKEN=|CR_PASSWORD=' "$root" --exclude=cra; then
  echo "the image holds something secret" >&2
  exit 1
fi

# The image's user, environment and command, as a runtime reads them.
python3 - "$work/bundle/config.json" > "$work/process" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["process"]
u = p["user"]
assert (u["uid"], u["gid"]) == (10001, 10001), u
env = dict(e.split("=", 1) for e in p["env"])
assert env["CRA_STATE_DIR"] == "/var/lib/cra", env
assert not any(k.startswith(("BROKER_", "CR_")) or "TOKEN" in k or "PASSWORD" in k for k in env), env
assert p["args"] == ["/usr/local/bin/cra", "agent"], p["args"]
print(" ".join(e for e in p["env"] if not e.startswith(("TERM=", "HOME="))))
PY
read -r -a image_env < "$work/process"

# A runtime's view of the image: a copy of the root with the empty /etc/hosts and /etc/resolv.conf
# a runtime provides, mounted read-only, with tmpfs /tmp and state directory, the host's resolver
# files, and the image's user and environment. `in_image [VAR=value…] -- ARGS…` runs cra there.
run_root=$work/run-root
cp -a "$root" "$run_root"
touch "$run_root/etc/hosts" "$run_root/etc/resolv.conf"
in_image() {
  local extra=()
  while [ "$1" != "--" ]; do extra+=("$1"); shift; done
  shift
  unshare --mount --fork -- sh -ec '
    root=$1; shift
    mount --bind "$root" "$root"
    mount -o remount,bind,ro "$root"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    mount -t tmpfs -o mode=700,uid=10001,gid=10001 tmpfs "$root/var/lib/cra"
    mount --bind /etc/hosts "$root/etc/hosts"
    mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
    exec "$@"
  ' in_image "$run_root" /usr/bin/env -i "${image_env[@]}" "${extra[@]}" \
    /usr/sbin/chroot --userspec=10001:10001 "$run_root" /usr/local/bin/cra "$@"
}

echo "== cra --version inside the image"
version=$(in_image -- --version)
echo "$version"
[[ $version == "cra "* ]]

echo "== an agent inside the image answers /healthcheck"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
# Its own process group (set -m), so that the cleanup ends unshare, chroot and the agent together.
set -m
in_image SNYK_PORT="$port" SNYK_BIND_ADDRESS=127.0.0.1 -- agent >"$work/agent.log" 2>&1 &
pids+=($!)
set +m
ok=
for _ in $(seq 1 100); do
  if python3 - "$port" <<'PY' 2>/dev/null; then ok=1; break; fi
import sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for path in ("/healthcheck",):
    assert urllib.request.urlopen(base + path, timeout=2).status == 200, path
PY
  sleep 0.1
done
if [ -z "$ok" ]; then
  cat "$work/agent.log" >&2
  echo "the agent in the image did not become healthy" >&2
  exit 1
fi
echo "healthy on port $port"

echo "== cra --version in a root whose only libc is musl (Debian's musl package)"
if (cd "$work" && apt-get download -qq musl >/dev/null 2>&1); then
  mkdir "$work/musl-root"
  dpkg-deb -x "$work"/musl_*.deb "$work/musl-root"
  cp "$bin" "$work/musl-root/cra"
  chroot "$work/musl-root" /cra --version
else
  echo "skipping: apt-get download musl failed (no Debian mirror reachable)"
fi

echo "== cra scan of the image lists what it holds"
"$bin" scan "oci:$work/oci:latest" --format json --output "$work/scan.json"
python3 - "$work/scan.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
names, distros = set(), set()
for result in report["scanResults"]:
    for fact in result["facts"]:
        if fact["type"] != "depGraph":
            continue
        data = fact["data"]
        root = data["graph"]["rootNodeId"]
        root_pkg = next(n["pkgId"] for n in data["graph"]["nodes"] if n["nodeId"] == root)
        names.update(p["info"]["name"] for p in data["pkgs"] if p["id"] != root_pkg)
        distros.update(r["alias"] for r in data["pkgManager"]["repositories"])
print("packages:", sorted(names), "distribution:", sorted(distros))
# The CA bundle's package, and nothing else: no shell, no libc, no package manager.
assert names == {"ca-certificates/ca-certificates"}, sorted(names)
# Attributed to the release it comes from, so that its advisories match.
assert distros and not any(d.startswith("unknown") for d in distros), distros
PY
echo "image checked"
