#!/usr/bin/env bash
# Usage: scripts/demo.sh [--keep]
#
# Sets up and runs the whole system on this machine: installs what is missing (Debian packages), starts
# RabbitMQ, PostgreSQL and an SMTP sink on loopback under .data/, builds the workers, starts two
# SubmissionWorkers, an AllocationWorker and a NotificationWorker, loads the demo (a Greek inventory
# campaign and a Vietnamese device-support campaign) and prints a report built from the outcome events.
# --keep leaves the workers running afterwards (stop them with: kill $(cat .data/demo-workers.pid)).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
keep=false
[[ "${1:-}" == "--keep" ]] && keep=true

scripts/install-deps.sh
scripts/servers.sh start
# shellcheck disable=SC1091
source .data/env.sh

echo "building (the first build takes a few minutes)..."
mkdir -p .data/logs
if ! swift build >.data/logs/build.log 2>&1; then
    grep -E "error|warning: " .data/logs/build.log | head -40
    echo "build failed (.data/logs/build.log)" >&2
    exit 1
fi
grep -E "warning: |Build complete" .data/logs/build.log | tail -3 || true
bin="$(swift build --show-bin-path)"

# A fresh vhost and database, so every demo run starts from nothing.
vhost="schoolict-demo"
db="schoolict_demo"
curl -fsS -u guest:guest -X DELETE "$RABBITMQ_MGMT_URL/api/vhosts/$vhost" >/dev/null 2>&1 || true
curl -fsS -u guest:guest -X PUT "$RABBITMQ_MGMT_URL/api/vhosts/$vhost" >/dev/null
curl -fsS -u guest:guest -X PUT -H 'content-type: application/json' \
    -d '{"configure":".*","write":".*","read":".*"}' "$RABBITMQ_MGMT_URL/api/permissions/$vhost/guest" >/dev/null
psql -q "${DATABASE_URL%/*}/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
rm -f "$SCHOOLICT_MAIL_DIR"/*.eml "$SCHOOLICT_MAIL_DIR"/.mode 2>/dev/null || true

export AMQP_URL="${AMQP_URL%/*}/$vhost"
export DATABASE_URL="${DATABASE_URL%/*}/$db"
# Least privilege: one broker user and one database role per principal, URLs in .data/secrets/ (mode 0600).
secrets="$SCHOOLICT_SECRETS_DIR"
"$bin/schoolict" provision --amqp-url "$AMQP_URL" --management-url "$SCHOOLICT_MANAGEMENT_URL" \
    --database-url "$DATABASE_URL" --secrets "$secrets"
# The workers' clock starts at 09:00 on 30 January 2022 in Athens: the day before the
# extended Greek deadline, when the last reminders fall due.
export SCHOOLICT_NOW="${SCHOOLICT_NOW:-2022-01-30T09:00:00+02:00}"
export LOG_LEVEL="${LOG_LEVEL:-notice}"

pids=()
start_worker() { # name metrics-port broker-user database-role
    AMQP_URL="$(cat "$secrets/amqp-$3.url")" DATABASE_URL="$(cat "$secrets/db-$4.url")" \
        METRICS_PORT="$2" "$bin/$1" >>".data/logs/demo-$1-$2.log" 2>&1 &
    pids+=($!)
    echo "  $1 pid $! metrics http://127.0.0.1:$2/metrics"
}
stop_workers() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
echo "starting workers (clock: $SCHOOLICT_NOW):"
start_worker SubmissionWorker 9101 submission-worker submission
start_worker SubmissionWorker 9102 submission-worker submission
start_worker AllocationWorker 9103 allocation-worker allocation
start_worker NotificationWorker 9104 notification-worker notification
if $keep; then
    printf '%s\n' "${pids[@]}" > .data/demo-workers.pid
else
    trap stop_workers EXIT
fi

"$bin/schoolict" demo --secrets "$secrets"
echo
echo "RabbitMQ management UI: $RABBITMQ_MGMT_URL (guest/guest, vhost $vhost) · e-mails: $SCHOOLICT_MAIL_DIR"
echo "every worker and the demo ran as its own least-privilege user and role: URLs in $secrets/"
echo "worker logs: .data/logs/demo-*.log"
