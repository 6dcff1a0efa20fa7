#!/usr/bin/env bash
# Peak memory of `cra agent` under a queue of scans: 50 scans of a ~100 MB image with
# MAX_ACTIVE_OPERATIONS=1, against the CNCF registry on loopback, results posted to a local
# receiver. Prints the agent's peak RSS (VmHWM) and fails when it is over the budget.
#
#   benches/agent_rss.sh            # builds cra in release mode first
#   CRA_BIN=path/to/cra SCANS=50 IMAGE_MIB=100 BUDGET_MIB=128 benches/agent_rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scans=${SCANS:-50}
image_mib=${IMAGE_MIB:-100}
budget_mib=${BUDGET_MIB:-128}
registry_bin=${REGISTRY_BIN:-/usr/bin/docker-registry}

if [ -z "${CRA_BIN:-}" ]; then
  cargo build -q --release -p cra-cli
  CRA_BIN="${CARGO_TARGET_DIR:-target}/release/cra"
fi
[ -x "$registry_bin" ] || { echo "needs $registry_bin (apt-get install docker-registry)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

registry_port=$(free_port)
mkdir -p "$work/storage"
cat > "$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: 127.0.0.1:$registry_port
YAML
"$registry_bin" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$registry_port/v2/" 2>/dev/null && break
  sleep 0.1
done

echo "== pushing a ${image_mib} MiB image"
read -r digest layer_bytes < <(python3 benches/agent_push.py "http://127.0.0.1:$registry_port" \
  bench/big 1 --filler-mib "$image_mib" --packages 200)
echo "   $digest, layer $((layer_bytes / 1024 / 1024)) MiB"

agent_port=$(free_port)
receiver_port=$(free_port)
SNYK_PORT=$agent_port SNYK_BIND_ADDRESS=127.0.0.1 \
  BROKER_CLIENT_URL="http://127.0.0.1:$receiver_port" \
  MAX_ACTIVE_OPERATIONS=1 MAX_QUEUED_OPERATIONS=$((scans + 10)) LOG_LEVEL=warn \
  "$CRA_BIN" agent >"$work/agent.log" 2>&1 &
agent_pid=$!
pids+=($agent_pid)

status=0
python3 - "$agent_pid" "$agent_port" "$receiver_port" "$registry_port" "$scans" "$budget_mib" <<'PY' || status=$?
import base64, http.server, json, sys, threading, time, urllib.request

agent_pid, agent_port, receiver_port, registry_port, scans, budget = sys.argv[1:]
scans, budget = int(scans), int(budget)
results, done = [], []
lock = threading.Lock()


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock:
            (done if self.path.endswith("/done") else results).append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(receiver_port)), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()


def status_kib(field):
    with open(f"/proc/{agent_pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


base = f"http://127.0.0.1:{agent_port}"
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/healthcheck", timeout=2)
        break
    except OSError:
        time.sleep(0.1)
idle_kib = status_kib("VmRSS")

creds = json.dumps({"type": "nexus-cr", "username": "u", "password": "p",
                    "registryBase": f"http://127.0.0.1:{registry_port}"}) + "\n"
auth = base64.b64encode(creds.encode()).decode()
started = time.time()
for i in range(scans):
    req = urllib.request.Request(base + "/scan", method="POST",
                                 data=json.dumps({"image": "bench/big:1", "jobId": f"bench-{i}"}).encode(),
                                 headers={"Authorization": auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202, resp.status
accepted = time.time() - started

peak_sampled = 0
deadline = started + 1800
while time.time() < deadline:
    peak_sampled = max(peak_sampled, status_kib("VmRSS"))
    with lock:
        if len(done) >= scans:
            break
    time.sleep(0.05)
elapsed = time.time() - started
hwm_kib = status_kib("VmHWM")
ok = sum(1 for r in results if r.get("status") == "success")
packages = 0
if results and results[0].get("scanResults"):
    facts = results[0]["scanResults"][0].get("facts", [])
    graph = next((f["data"] for f in facts if f.get("type") == "depGraph"), {})
    packages = len(graph.get("pkgs", [])) - 1

print(f"scans: {scans} queued in {accepted:.2f}s, {ok} succeeded, {len(results) - ok} failed, {len(done)} done notices")
print(f"packages found per scan: {packages}")
print(f"time: {elapsed:.1f}s ({elapsed / max(len(done), 1):.2f}s per scan)")
print(f"agent RSS: idle {idle_kib / 1024:.1f} MiB, peak sampled {peak_sampled / 1024:.1f} MiB, peak (VmHWM) {hwm_kib / 1024:.1f} MiB; budget {budget} MiB")
if ok != scans:
    print("FAIL: not every scan succeeded", file=sys.stderr)
    sys.exit(1)
if hwm_kib > budget * 1024:
    print("FAIL: peak RSS over budget", file=sys.stderr)
    sys.exit(1)
print("PASS")
PY
if [ "$status" -ne 0 ]; then
  tail -n 20 "$work/agent.log" >&2
fi
exit "$status"
