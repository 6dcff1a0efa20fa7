#!/usr/bin/env bash
# Relay throughput and added latency, the cra pair (cra server + cra client) against the stock
# pair (snyk-broker server + client), side by side on loopback, with curl.
#
# "relay CPU ms" is the CPU time (user + system) the server and the client of a pair spend on
# one response, averaged over the rounds: unlike the throughput, it hardly moves with machine load.
#
# The "kernel-only chain" row is the practical ceiling of any relay pair on this machine: two
# forwarders that move the bytes from socket to socket with splice(2), no copy and no protocol
# work, in place of the server and the client.
#
# Here the four processes (agent, client, server, curl) share the machine's cores. Where each
# relay process has a core of its own, throughput is bounded by the busiest one instead: the last
# line gives its CPU per response for both pairs.
#
# Needs: curl, python3, node, the stock broker installed by .ci/install-broker.sh (or
# CRA_STOCK_BROKER=<npm prefix holding it and config.default.json).
# Usage: benches/relay_compare.sh [size-in-MB (100)] [latency requests (200)]
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${1:-100}
REQUESTS=${2:-200}
SIZE=$((SIZE_MB * 1024 * 1024))
TOKEN=0b1d2c3e-aaaa-4bbb-8ccc-000000000001
STOCK=${CRA_STOCK_BROKER:-target/stock-broker}
[ -f "$STOCK/node_modules/snyk-broker/dist/cli/index.js" ] || { echo "stock broker not found in $STOCK (run .ci/install-broker.sh)" >&2; exit 1; }
STOCK_CLI="$(cd "$STOCK" && pwd)/node_modules/snyk-broker/dist/cli/index.js"

cargo build --release -q -p cra-cli
CRA="${CARGO_TARGET_DIR:-target}/release/cra"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AGENT=$(port); CRA_SERVER=$(port); CRA_CLIENT=$(port); STOCK_SERVER=$(port); STOCK_CLIENT=$(port)
FWD_INNER=$(port); FWD_OUTER=$(port)

# The agent: /list/big/<n> streams n bytes, anything else answers a small JSON document.
cat > "$WORK/agent.py" <<'PY'
import http.server, sys
CHUNK = b"\x5a" * (1 << 20)
class Agent(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm holds the body
    # back until the delayed ACK of the headers, 40 ms on a reused connection.
    disable_nagle_algorithm = True
    def log_message(self, *args): pass
    def do_GET(self):
        if self.path.startswith("/list/big/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(size))
            self.end_headers()
            while size > 0:
                part = CHUNK[: min(size, len(CHUNK))]
                self.wfile.write(part)
                size -= len(part)
        else:
            body = b'{"ok":true}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Agent).serve_forever()
PY
python3 "$WORK/agent.py" "$AGENT" & PIDS+=($!)

# A forwarder of the kernel-only chain: every connection to the listening port is spliced to a new
# connection to the upstream port, both ways.
cat > "$WORK/forward.py" <<'PY'
import fcntl, os, socket, sys, threading
listen_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
CHUNK = 1 << 20
F_SETPIPE_SZ = 1031
def pump(src, dst):
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, CHUNK)
    try:
        while (n := os.splice(src.fileno(), w, CHUNK)) > 0:
            while n > 0:
                n -= os.splice(r, dst.fileno(), n)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        os.close(r); os.close(w)
server = socket.create_server(("127.0.0.1", listen_port))
while True:
    down, _ = server.accept()
    up = socket.create_connection(("127.0.0.1", upstream_port))
    for src, dst in ((down, up), (up, down)):
        threading.Thread(target=pump, args=(src, dst), daemon=True).start()
PY
python3 "$WORK/forward.py" "$FWD_INNER" "$AGENT" & PIDS+=($!)
FWD_PIDS=$!
python3 "$WORK/forward.py" "$FWD_OUTER" "$FWD_INNER" & PIDS+=($!)
FWD_PIDS="$FWD_PIDS $!"

echo '{"public":[{"method":"any","path":"/*"}],"private":[]}' > "$WORK/server-accept.json"
cp cra-broker/src/filter/container-registry-agent.json "$WORK/client-accept.json"
CLIENT_ENV=(BROKER_TOKEN=$TOKEN CR_AGENT_URL=http://127.0.0.1:$AGENT CR_CREDENTIALS=e30K LOG_LEVEL=error)

env PORT=$CRA_SERVER LOG_LEVEL=error "$CRA" server & PIDS+=($!)
CRA_SERVER_PID=$!
env "${CLIENT_ENV[@]}" PORT=$CRA_CLIENT BROKER_SERVER_URL=http://127.0.0.1:$CRA_SERVER "$CRA" client & PIDS+=($!)
CRA_CLIENT_PID=$!
(cd "$WORK" && exec env PORT=$STOCK_SERVER ACCEPT="$WORK/server-accept.json" BROKER_TYPE=server LOG_LEVEL=error \
  node "$STOCK_CLI" server >/dev/null 2>&1) & PIDS+=($!)
STOCK_SERVER_PID=$!
(cd "$WORK" && exec env "${CLIENT_ENV[@]}" PORT=$STOCK_CLIENT BROKER_SERVER_URL=http://127.0.0.1:$STOCK_SERVER \
  BROKER_CLIENT_URL=http://127.0.0.1:$STOCK_CLIENT ACCEPT="$WORK/client-accept.json" \
  ACCEPT_ESSENTIALS=false ACCEPT_GIT=false ACCEPT_IAC=false ACCEPT_LARGE_MANIFESTS=false ACCEPT_CUSTOM_PR_TEMPLATES=false \
  IPV6_CONNECTIVITY_CHECK_ENABLED=false PREFLIGHT_CHECKS_ENABLED=false node "$STOCK_CLI" client >/dev/null 2>&1) & PIDS+=($!)
STOCK_CLIENT_PID=$!

wait_connected() {
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/connection-status/$TOKEN" && return 0
    sleep 0.1
  done
  echo "no client connected to the server on port $1" >&2; exit 1
}
wait_connected "$CRA_SERVER"; wait_connected "$STOCK_SERVER"

# CPU time (user + system, in clock ticks) used so far by the given processes, all threads.
cpu_ticks() { local t=0; for pid in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$t"; }
# One full response: seconds.
fetch() { curl -sf -o /dev/null -w '%{time_total}' "$1"; }
# Five rounds, the pairs taking turns so that both see the same machine load; each row's best
# round counts, and the CPU of each relay process (server, client, forwarders) is averaged over
# the rounds.
ROUNDS=5
DIRECT_T=9e9; CRA_T=9e9; STOCK_T=9e9; CHAIN_T=9e9
declare -A CPU
for pid in $CRA_SERVER_PID $CRA_CLIENT_PID $STOCK_SERVER_PID $STOCK_CLIENT_PID $FWD_PIDS; do CPU[$pid]=0; done
best() { python3 -c "print(min(float('$1'), float('$2')))"; }
# Fetches $2 and adds the CPU each of the processes after it used meanwhile; prints the time.
timed() {
  local var=$1 url=$2; shift 2
  local -A before
  for pid in "$@"; do before[$pid]=$(cpu_ticks "$pid"); done
  local t; t=$(fetch "$url")
  for pid in "$@"; do CPU[$pid]=$((CPU[$pid] + $(cpu_ticks "$pid") - before[$pid])); done
  printf -v "$var" '%s' "$(best "${!var}" "$t")"
}
for _ in $(seq 1 "$ROUNDS"); do
  timed DIRECT_T "http://127.0.0.1:$AGENT/list/big/$SIZE"
  timed CHAIN_T "http://127.0.0.1:$FWD_OUTER/list/big/$SIZE" $FWD_PIDS
  timed CRA_T "http://127.0.0.1:$CRA_SERVER/broker/$TOKEN/list/big/$SIZE" $CRA_SERVER_PID $CRA_CLIENT_PID
  timed STOCK_T "http://127.0.0.1:$STOCK_SERVER/broker/$TOKEN/list/big/$SIZE" $STOCK_SERVER_PID $STOCK_CLIENT_PID
done
TICK=$(getconf CLK_TCK)
# CPU per response, in milliseconds, of the given processes together.
per_response() { local t=0; for pid in "$@"; do t=$((t + CPU[$pid])); done; python3 -c "print($t * 1000 / $TICK / $ROUNDS)"; }
CRA_CPU=$(per_response $CRA_SERVER_PID $CRA_CLIENT_PID); STOCK_CPU=$(per_response $STOCK_SERVER_PID $STOCK_CLIENT_PID)
CHAIN_CPU=$(per_response $FWD_PIDS)
CRA_SERVER_CPU=$(per_response $CRA_SERVER_PID); CRA_CLIENT_CPU=$(per_response $CRA_CLIENT_PID)
STOCK_SERVER_CPU=$(per_response $STOCK_SERVER_PID); STOCK_CLIENT_CPU=$(per_response $STOCK_CLIENT_PID)
# p50 of REQUESTS sequential small GETs, in milliseconds (curl's own timing, not its start-up).
latency() {
  for _ in $(seq 1 "$REQUESTS"); do curl -sf -o /dev/null -w '%{time_total}\n' "$1"; done |
    python3 -c 'import sys, statistics; print("%.3f" % (statistics.median(float(l) for l in sys.stdin) * 1000))'
}

DIRECT_L=$(latency "http://127.0.0.1:$AGENT/healthcheck")
CRA_L=$(latency "http://127.0.0.1:$CRA_SERVER/broker/$TOKEN/healthcheck")
STOCK_L=$(latency "http://127.0.0.1:$STOCK_SERVER/broker/$TOKEN/healthcheck")

python3 - "$SIZE" "$DIRECT_T" "$CRA_T" "$STOCK_T" "$CHAIN_T" "$DIRECT_L" "$CRA_L" "$STOCK_L" \
  "$CRA_CPU" "$STOCK_CPU" "$CHAIN_CPU" "$CRA_SERVER_CPU" "$CRA_CLIENT_CPU" "$STOCK_SERVER_CPU" \
  "$STOCK_CLIENT_CPU" <<'PY'
import sys
size, dt, ct, st, xt, dl, cl, sl, cc, sc, xc, cs, ccl, ss, scl = (float(x) for x in sys.argv[1:])
mbps = lambda t: size / t / 1e6
print(f"{'':20}{'throughput MB/s':>18}{'relay CPU ms':>14}{'p50 latency ms':>17}{'added p50 ms':>15}")
print(f"{'direct to agent':20}{mbps(dt):>18.0f}{'-':>14}{dl:>17.3f}{'-':>15}")
print(f"{'cra pair':20}{mbps(ct):>18.0f}{cc:>14.0f}{cl:>17.3f}{cl - dl:>15.3f}")
print(f"{'stock pair':20}{mbps(st):>18.0f}{sc:>14.0f}{sl:>17.3f}{sl - dl:>15.3f}")
print(f"{'kernel-only chain':20}{mbps(xt):>18.0f}{xc:>14.0f}{'-':>17}{'-':>15}")
print(f"throughput ratio cra/stock: {st / ct:.1f}x (kernel-only chain/stock: {st / xt:.1f}x; "
      f"cra/kernel-only chain: {xt / ct:.2f}); relay CPU per response stock/cra: {sc / cc:.1f}x")
# Where each relay process has a core of its own, the busiest one bounds the throughput.
print(f"CPU per response, server + client: cra {cs:.0f} + {ccl:.0f} ms, stock {ss:.0f} + {scl:.0f} ms; "
      f"busiest process stock/cra: {max(ss, scl) / max(cs, ccl):.1f}x")
PY
