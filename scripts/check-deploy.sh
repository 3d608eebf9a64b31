#!/usr/bin/env bash
# Usage: scripts/check-deploy.sh
# Checks the deployment files offline: the Prometheus alert rules (promtool check + unit tests), the Grafana
# dashboard (valid JSON; every schoolict_ metric it or the rules name is one the code defines), and the
# Kubernetes manifests (rendered with kubectl's kustomize and checked: kinds, probes on the metrics port, one KEDA
# scaler per queue). Needs promtool and kubectl (scripts/install-deps.sh installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

(cd deploy/prometheus && promtool check rules alerts.yml >/dev/null && promtool test rules alerts.test.yml >/dev/null)
echo "check-deploy: alert rules valid and their unit tests pass"

rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
kubectl kustomize deploy/kubernetes >"$rendered"

/usr/bin/python3 - "$rendered" <<'PY'
import json, re, subprocess, sys, yaml
problems = []
# Metrics named by the dashboard and the rules exist in the code.
defined = set(re.findall(r'label: "(schoolict_[a-z_]+)"', subprocess.run(
    ["grep", "-rh", 'label: "schoolict_', "Sources"], capture_output=True, text=True).stdout))
dashboard = json.load(open("deploy/grafana/schoolict.json"))
texts = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])] + [open("deploy/prometheus/alerts.yml").read()]
for text in texts:
    for name in re.findall(r"\b(schoolict_[a-z_]+?)(?:_bucket|_sum|_count)?\b", text):
        if name not in defined:
            problems.append(f"metric {name} is named in the dashboard or rules but defined nowhere in Sources/")
# Kubernetes: what the rendered manifests must hold.
objects = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
kinds = {}
for o in objects:
    kinds.setdefault(o["kind"], []).append(o)
deployments = {d["metadata"]["name"]: d for d in kinds.get("Deployment", [])}
for name in ["submission-worker", "allocation-worker", "notification-worker"]:
    d = deployments.get(name)
    if not d:
        problems.append(f"no Deployment {name}")
        continue
    c = d["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    port = env.get("METRICS_PORT")
    if env.get("METRICS_HOST") != "0.0.0.0":
        problems.append(f"{name}: METRICS_HOST must be 0.0.0.0 for the probes")
    for probe, path in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or str(get.get("port")) != str(port):
            problems.append(f"{name}: {probe} must GET {path} on METRICS_PORT {port}, has {get}")
    if not c.get("resources", {}).get("requests"):
        problems.append(f"{name}: no resource requests")
    for key in ["AMQP_URL_FILE", "DATABASE_URL_FILE"]:
        if not env.get(key):
            problems.append(f"{name}: {key} missing (credentials come from a Secret mounted as files)")
if not any("migrate" in " ".join(j["spec"]["template"]["spec"]["containers"][0].get("args", []) + j["spec"]["template"]["spec"]["containers"][0].get("command", [])) for j in kinds.get("Job", [])):
    problems.append("no migrate Job")
queues = {}
for s in kinds.get("ScaledObject", []):
    target = s["spec"]["scaleTargetRef"]["name"]
    if target not in deployments:
        problems.append(f"ScaledObject {s['metadata']['name']} targets no Deployment ({target})")
    for t in s["spec"]["triggers"]:
        if t["type"] != "rabbitmq" or t["metadata"].get("protocol") != "http" or t["metadata"].get("mode") != "QueueLength":
            problems.append(f"ScaledObject {s['metadata']['name']}: want a rabbitmq trigger, protocol http, mode QueueLength")
        queues.setdefault(t["metadata"].get("queueName"), []).append(target)
if sorted(queues) != ["allocations", "notifications", "submissions"] or any(len(v) != 1 for v in queues.values()):
    problems.append(f"want one scaler per queue, have {queues}")
for p in problems:
    print("check-deploy: " + p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-deploy: {len(objects)} Kubernetes objects rendered: " + ", ".join(f"{len(v)} {k}" for k, v in sorted(kinds.items())))
PY
