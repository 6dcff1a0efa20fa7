# Shared setup of the benchmark scripts; source it after `cd` to the repository root.
#   bench_require TOOL...   fails unless every tool (and /usr/bin/time) is installed
#   bench_cra               sets $cra: $CRA, else a release build (with `isal` when libisal is there)
#   bench_registry          sets $work (a temporary directory, removed on exit), $port and $base,
#                           with docker-registry serving from $work on 127.0.0.1:$port
#   seconds COMMAND...      prints the seconds COMMAND took (its output discarded)
# It also sets $inflate: the fastest inflater available (igzip from Debian's `isal`, else gzip).

bench_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
  done
  [ -x /usr/bin/time ] || { echo "/usr/bin/time is required (Debian package time)" >&2; exit 1; }
}

if command -v igzip >/dev/null; then inflate="igzip -dc"; else inflate="gzip -dc"; fi

bench_cra() {
  if [ -n "${CRA:-}" ]; then
    cra=$CRA
    return
  fi
  local features=()
  if [ -f /usr/include/isa-l.h ]; then features=(--features isal); fi
  cargo build --quiet --release -p cra-cli "${features[@]}"
  cra="${CARGO_TARGET_DIR:-$(pwd)/target}/release/cra"
}

bench_registry() {
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
  trap bench_cleanup EXIT
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break
    sleep 0.1
  done
  base="http://127.0.0.1:$port"
}

bench_cleanup() {
  kill "$registry_pid" 2>/dev/null || true
  wait "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}

seconds() {
  local start end
  start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.3f}')"
}
