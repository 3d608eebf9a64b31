#!/usr/bin/env bash
# Usage: scripts/chaos-cluster.sh [COUNT]
#   Failover under load on one machine: a fresh scripts/cluster.sh (three RabbitMQ nodes, a PostgreSQL primary with
#   a synchronous standby), COUNT inventories (default 100000) pre-published and drained by one SubmissionWorker
#   given every node and both database servers, while the primary crashes (immediate stop) and the standby is
#   promoted, then RabbitMQ nodes 3 and 2 are SIGKILLed and brought back, one after the other. Prints the drain
#   figures and checks: every inventory answered, each stored once, nothing left in the outbox. Exit 1 when a check
#   fails. Takes a few minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
count="${1:-100000}"
log() { echo "chaos: $*"; }

scratch=(--scratch-path "${SCHOOLICT_SCRATCH:-.build}")
log "building release binaries..."
swift build "${scratch[@]}" -c release --product SubmissionWorker >/dev/null
swift build "${scratch[@]}" -c release --product schoolict-bench >/dev/null
swift build "${scratch[@]}" -c release --product schoolict >/dev/null
bin="$(swift build "${scratch[@]}" -c release --show-bin-path)"

scripts/cluster.sh reset >/dev/null
scripts/cluster.sh start
trap 'scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source .data/cluster/env.sh
export AMQP_URL="$SCHOOLICT_CLUSTER_AMQP_URL" DATABASE_URL="$SCHOOLICT_CLUSTER_DATABASE_URL" LOG_LEVEL=info
"$bin/schoolict" migrate >/dev/null 2>&1

out=.data/logs/chaos-cluster.txt
mkdir -p .data/logs
"$bin/schoolict-bench" submissions-drain --count "$count" --worker "$bin/SubmissionWorker" --paced-seconds 0 \
    >"$out" 2>.data/logs/chaos-cluster-worker.log &
bench=$!

# The failures start once the queue is full and the draining worker has begun.
until grep -q '^pre-published' "$out" 2>/dev/null; do
    kill -0 "$bench" 2>/dev/null || { cat "$out"; log "the benchmark stopped early"; exit 1; }
    sleep 0.5
done
sleep 2
scripts/cluster.sh crash-primary
sleep 2
scripts/cluster.sh promote-standby
for n in 3 2; do
    kill -0 "$bench" 2>/dev/null || { log "the drain ended before node $n was killed; give a larger COUNT"; break; }
    scripts/cluster.sh kill-node "$n"
    sleep 3
    scripts/cluster.sh start-node "$n"
done
wait "$bench" || { cat "$out"; log "the benchmark failed"; exit 1; }
cat "$out"

campaign=$(sed -n 's/^registered .* campaign \(.*\)$/\1/p' "$out")
read -r stored distinct pending < <(psql -X -qtA -F ' ' "$DATABASE_URL" -c \
    "SELECT (SELECT count(*) FROM submissions WHERE campaign = '$campaign'),
            (SELECT count(DISTINCT message_id) FROM submissions WHERE campaign = '$campaign'),
            (SELECT count(*) FROM outbox WHERE published_at IS NULL)")
answered=$(sed -n 's/^ *outcomes received *\([0-9]*\).*/\1/p' "$out")
log "answered $answered of $count; stored $stored ($distinct distinct); $pending events still in the outbox"
log "worker: $(grep -c 'consuming' .data/logs/chaos-cluster-worker.log || true) times began consuming, $(grep -c -i 'failed' .data/logs/chaos-cluster-worker.log || true) failures logged (.data/logs/chaos-cluster-worker.log)"
if [[ $answered == "$count" && $stored == "$count" && $distinct == "$count" && $pending == 0 ]]; then
    log "PASS: nothing lost, nothing stored twice"
else
    log "FAIL"
    exit 1
fi
