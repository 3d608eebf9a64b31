#!/usr/bin/env bash
# Usage: scripts/compose-secrets.sh
# Makes the secret files docker-compose.yml reads (once; existing files are kept), under deploy/secrets/
# (git-ignored, mode 0600): the RabbitMQ and PostgreSQL administrators' passwords and the admin URLs the
# one-shot `provision` service uses. Every other principal's URL is made by `schoolict provision` itself, in a
# volume only the workers mount. No password is written into docker-compose.yml.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/deploy/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
umask 077
password() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
[[ -s $dir/postgres-password ]] || password >"$dir/postgres-password"
[[ -s $dir/rabbitmq-password ]] || password >"$dir/rabbitmq-password"
pg=$(cat "$dir/postgres-password")
mq=$(cat "$dir/rabbitmq-password")
printf 'default_user = schoolict-admin\ndefault_pass = %s\nloopback_users = none\n' "$mq" >"$dir/rabbitmq-admin.conf"
printf 'amqp://schoolict-admin:%s@rabbitmq:5672/%%2f\n' "$mq" >"$dir/admin-amqp.url"
printf 'http://schoolict-admin:%s@rabbitmq:15672\n' "$mq" >"$dir/admin-management.url"
printf 'postgresql://postgres:%s@postgres:5432/schoolict\n' "$pg" >"$dir/admin-database.url"
# The broker reads its file as its own user inside the container.
chmod 644 "$dir/rabbitmq-admin.conf"
echo "compose secrets in $dir"
