#!/usr/bin/env bash
# Usage: scripts/chaos-cluster.sh [SECONDS] [RATE]
#   Faults under a steady load, on a fresh scripts/cluster.sh (three RabbitMQ nodes, a PostgreSQL primary with a
#   synchronous standby): two SubmissionWorkers and one AllocationWorker, given every node and both database servers,
#   take RATE submissions a second (default 200: inventories, needs reports, donations) and an allocation.run every
#   3 s for SECONDS (default 120). At 15 % of it, the RabbitMQ node leading the `submissions` queue is SIGKILLed; at
#   45 % the PostgreSQL primary crashes (immediate stop) and the standby is promoted; at 70 % the killed node comes
#   back (it rejoins once its distribution port leaves TIME_WAIT, up to a minute after the kill). `schoolict-bench chaos-load` publishes (failing over itself), then checks: every message
#   answered, one kind of outcome each, every submission stored once, every allocation.run run once, no device or
#   student allocated twice, the outbox empty; and prints how long outcomes stalled at each fault (over 60 s fails).
#   Exit 1 when a check fails. SCHOOLICT_BUILD_CONFIG=debug uses debug builds (as scripts/test.sh does).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-120}"
rate="${2:-200}"
config="${SCHOOLICT_BUILD_CONFIG:-release}"
log() { echo "chaos: $*"; }

scratch=(--scratch-path "${SCHOOLICT_SCRATCH:-.build}")
log "building ($config)..."
for product in SubmissionWorker AllocationWorker schoolict-bench schoolict; do
    swift build "${scratch[@]}" -c "$config" --product "$product" >/dev/null
done
bin="$(swift build "${scratch[@]}" -c "$config" --show-bin-path)"

scripts/cluster.sh reset >/dev/null
scripts/cluster.sh start
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/cluster.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
# shellcheck disable=SC1091
source .data/cluster/env.sh
export AMQP_URL="$SCHOOLICT_CLUSTER_AMQP_URL" DATABASE_URL="$SCHOOLICT_CLUSTER_DATABASE_URL" LOG_LEVEL=info
unset METRICS_PORT
logs=.data/logs
mkdir -p "$logs"
"$bin/schoolict" migrate >"$logs/chaos-migrate.log" 2>&1

"$bin/SubmissionWorker" 2>"$logs/chaos-submission-1.log" & pids+=($!)
"$bin/SubmissionWorker" 2>"$logs/chaos-submission-2.log" & pids+=($!)
"$bin/AllocationWorker" 2>"$logs/chaos-allocation.log" & pids+=($!)

at() { awk -v s="$seconds" -v f="$1" 'BEGIN { printf "%.0f", s * f }'; }
status=0
"$bin/schoolict-bench" chaos-load --seconds "$seconds" --rate "$rate" \
    --fault "$(at 0.15):scripts/cluster.sh kill-leader submissions" \
    --fault "$(at 0.45):scripts/cluster.sh crash-primary && scripts/cluster.sh promote-standby" \
    --fault "$(at 0.7):scripts/cluster.sh restart-killed" || status=$?

for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { log "a worker died during the run (pid $pid; see $logs/chaos-*.log)"; status=1; }
done
for name in submission-1 submission-2 allocation; do
    log "$name: began consuming $(grep -c '"consuming"\|consuming' "$logs/chaos-$name.log" || true) times, $(grep -ci 'reconnecting' "$logs/chaos-$name.log" || true) reconnects logged ($logs/chaos-$name.log)"
done
exit $status
