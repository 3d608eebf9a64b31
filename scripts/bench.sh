#!/usr/bin/env bash
# Usage: scripts/bench.sh submissions [COUNT]
#        scripts/bench.sh drain [COUNT]        (pre-published queue: msg/s, latency at half rate, CPU per process)
#        scripts/bench.sh hostile [COUNT]      (maximum-size hostile submissions: outcomes, rate, worker peak RSS)
#        scripts/bench.sh allocation [STUDENTS] [DEVICES]
#        scripts/bench.sh notifications [COUNT]
#
# Runs a benchmark against the project's local servers (scripts/servers.sh start) in a scratch RabbitMQ
# vhost and a scratch database, with release builds, and prints its figures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
what="${1:-submissions}"
count="${2:-50000}"

scripts/servers.sh start >/dev/null
# shellcheck disable=SC1091
source .data/env.sh
echo "building release binaries..."
scratch=(--scratch-path "${SCHOOLICT_SCRATCH:-.build}")
swift build "${scratch[@]}" -c release --product SubmissionWorker >/dev/null
swift build "${scratch[@]}" -c release --product AllocationWorker >/dev/null
swift build "${scratch[@]}" -c release --product NotificationWorker >/dev/null
swift build "${scratch[@]}" -c release --product schoolict-bench >/dev/null
bin="$(swift build "${scratch[@]}" -c release --show-bin-path)"

vhost="schoolict-bench"
db="schoolict_bench"
curl -fsS -u guest:guest -X DELETE "$RABBITMQ_MGMT_URL/api/vhosts/$vhost" >/dev/null 2>&1 || true
curl -fsS -u guest:guest -X PUT "$RABBITMQ_MGMT_URL/api/vhosts/$vhost" >/dev/null
curl -fsS -u guest:guest -X PUT -H 'content-type: application/json' \
    -d '{"configure":".*","write":".*","read":".*"}' "$RABBITMQ_MGMT_URL/api/permissions/$vhost/guest" >/dev/null
admin_url="${DATABASE_URL%/*}/postgres"
psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"

export AMQP_URL="${AMQP_URL%/*}/$vhost"
export DATABASE_URL="${DATABASE_URL%/*}/$db"
export LOG_LEVEL="${BENCH_LOG_LEVEL:-warning}"

worker_pid=""
cleanup() {
    [[ -n "$worker_pid" ]] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
    curl -fsS -u guest:guest -X DELETE "$RABBITMQ_MGMT_URL/api/vhosts/$vhost" >/dev/null 2>&1 || true
}
trap cleanup EXIT

case "$what" in
submissions)
    "$bin/SubmissionWorker" 2>.data/logs/bench-submission-worker.log &
    worker_pid=$!
    sleep 1
    "$bin/schoolict-bench" submissions --count "$count" --rate "${BENCH_RATE:-0}" --worker-pid "$worker_pid"
    psql -qtA "$DATABASE_URL" -c "SELECT 'database: ' || count(*) || ' submissions, ' || (SELECT count(*) FROM equipment_items) || ' equipment lines' FROM submissions"
    ;;
drain)
    # The benchmark starts and stops the worker itself (the queue is filled while no worker runs).
    # BENCH_WORKER=path drains with another SubmissionWorker binary (compare builds in alternating runs: the
    # machine is noisy); BENCH_PACED_RATE=n[,m…] measures latency at each rate instead of half the drain rate (0 = half);
    # BENCH_SCHOOLS=n spreads the inventories over n schools (default 1,000: 30 per school, the worst case for
    # the consumer loops, whose batches then always share schools and are decided in turn).
    rates="${BENCH_PACED_RATE:-}"
    LOG_LEVEL=warning "$bin/schoolict-bench" submissions-drain --count "${2:-30000}" --schools "${BENCH_SCHOOLS:-1000}" \
        --worker "${BENCH_WORKER:-$bin/SubmissionWorker}" $(for rate in ${rates//,/ }; do printf -- "--paced-rate %s " "$rate"; done) \
        --rabbitmq-pid "$(cat .data/rabbitmq.pid)" --postgres-pid "$(cat .data/postgres.pid)" \
        2>>.data/logs/bench-submission-worker.log ||
        { echo "the drain benchmark failed: see the end of .data/logs/bench-submission-worker.log" >&2; exit 1; }
    ;;
hostile)
    "${BENCH_WORKER:-$bin/SubmissionWorker}" 2>.data/logs/bench-submission-worker.log &
    worker_pid=$!
    sleep 1
    "$bin/schoolict-bench" hostile --count "${2:-100}" --worker-pid "$worker_pid"
    ;;
allocation)
    # SCHOOLICT_NOW after the generated campaign's deadline; COUNT = eligible students.
    SCHOOLICT_NOW=2021-12-01T08:00:00+07:00 "$bin/AllocationWorker" 2>.data/logs/bench-allocation-worker.log &
    worker_pid=$!
    sleep 1
    "$bin/schoolict-bench" allocation --students "${2:-1000000}" --devices "${3:-200000}" --worker-pid "$worker_pid"
    ;;
notifications)
    # Makes its own scratch database, vhost and discarding SMTP sink, and starts the NotificationWorker.
    "$bin/schoolict-bench" notifications --count "$count"
    ;;
*)
    echo "unknown benchmark: $what (submissions | drain | hostile | allocation | notifications)" >&2
    exit 2
    ;;
esac
