#!/usr/bin/env bash
# Usage: scripts/test.sh [swift test arguments...]
#
# Runs every test: installs what is missing, starts the local servers (RabbitMQ, PostgreSQL, SMTP sink),
# builds, runs the unit and integration tests against the real servers, validates docker-compose.yml, the
# deployment files and the contract, and (without arguments) the cluster suite: scripts/chaos-cluster.sh on a
# three-node RabbitMQ cluster and a PostgreSQL primary with a standby (about four minutes; SCHOOLICT_SKIP_CLUSTER=1
# skips it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
scripts/servers.sh start
# shellcheck disable=SC1091
source .data/env.sh

echo "== docker-compose.yml"
scripts/validate-compose.sh
echo "== deployment files (alert rules, dashboard, Kubernetes)"
scripts/check-deploy.sh
echo "== contract (docs/asyncapi.yaml against the AsyncAPI 2.6.0 schema, examples against their schemas)"
scripts/check-contract.sh

echo "== build"
mkdir -p .data/logs
# A failed build stops here: never test stale binaries.
if ! swift build --build-tests >.data/logs/build.log 2>&1; then
    grep -E "error|warning: " .data/logs/build.log | head -40
    echo "build failed (.data/logs/build.log)" >&2
    exit 1
fi
grep -E "warning: |Build complete" .data/logs/build.log || true
echo "== provision (least-privilege users and roles for the local servers: .data/secrets/)"
scripts/servers.sh provision
echo "== tests"
mkdir -p .data/logs
set +e
swift test --skip-build "$@" 2>&1 | tee .data/logs/test.log
status=${PIPESTATUS[0]}
set -e
# One plain closing line from Swift Testing's summary ("Test run with N tests in M suites passed/failed").
summary="$(grep -E 'Test run with [0-9]+ tests?' .data/logs/test.log | tail -1 || true)"
total="$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")"
failed="$(grep -cE '^✘ Test .* failed after' .data/logs/test.log || true)"
if [[ -n "$summary" ]]; then
    echo "tests: $(( total - failed )) passed, $failed failed"
fi
# The cluster suite: faults under load (the leader of `submissions` killed, the database primary crashed and its
# standby promoted, the node back); nothing lost, nothing doubled. Skipped when arguments select some tests.
if [[ $# -eq 0 && -z ${SCHOOLICT_SKIP_CLUSTER:-} ]]; then
    echo "== cluster (scripts/chaos-cluster.sh with debug builds: 90 s of load at 150 submissions a second)"
    if SCHOOLICT_BUILD_CONFIG=debug scripts/chaos-cluster.sh 90 150 >.data/logs/chaos-cluster.log 2>&1; then
        grep -E '^(faults|  at |  \[|chaos: PASS)' .data/logs/chaos-cluster.log
    else
        tail -40 .data/logs/chaos-cluster.log
        echo "cluster suite failed (.data/logs/chaos-cluster.log)" >&2
        status=1
    fi
fi
exit "$status"
