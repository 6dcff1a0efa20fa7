#!/usr/bin/env bash
# Renders the kustomize base and every overlay of deploy/kubernetes, and validates every object
# against the Kubernetes schemas of several minor versions (strict: unknown fields fail).
set -euo pipefail
cd "$(dirname "$0")/.."

pip_install() {
  python3 -m pip install -q --disable-pip-version-check "$@" ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "$@"
}
pip_install "kubernetes-validate==1.37.0"
command -v kubectl >/dev/null || { echo "kubectl is needed to render the kustomizations" >&2; exit 1; }

# The oldest minor still common in managed clusters, and the newest the validator knows.
versions=(1.30.0 1.33.0 1.37.0)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for dir in deploy/kubernetes/base deploy/kubernetes/overlays/*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  kubectl kustomize "$dir" > "$out/$name.yaml"
  objects=$(grep -c '^kind:' "$out/$name.yaml")
  for version in "${versions[@]}"; do
    python3 -m kubernetes_validate --strict --quiet -k "$version" "$out/$name.yaml"
  done
  echo "$dir: $objects objects valid for Kubernetes ${versions[*]}"
done

# What the base promises, checked on the rendered objects.
python3 - "$out/base.yaml" <<'PY'
import sys, yaml
docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
def pod(name): return docs[("Deployment", name)]["spec"]["template"]["spec"]
assert docs[("Deployment", "cra-client")]["spec"]["replicas"] == 2
for name in ("cra-client", "cra-agent"):
    spec = pod(name)
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"], name
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthcheck", name
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready", name
        assert "memory" in c["resources"]["limits"], name
env = {e["name"]: e for e in pod("cra-agent")["containers"][0]["env"]}
grace = int(env["SHUTDOWN_GRACE_SECONDS"]["value"])
assert pod("cra-agent")["terminationGracePeriodSeconds"] > grace
assert "BROKER_CLIENT_URL" not in env, "the agent takes its callback base from the client"
client = pod("cra-client")["containers"][0]
token = {e["name"]: e for e in client["env"]}["BROKER_TOKEN"]["valueFrom"]["secretKeyRef"]
assert token["name"] == "cra-broker-token"
assert {"secretRef": {"name": "cra-registry"}} in client["envFrom"]
for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"):
    assert (kind, "cra-agent") in docs, kind
print("base: the promised settings hold")
PY
