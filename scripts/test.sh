#!/usr/bin/env bash
# Usage: scripts/test.sh [swift test arguments...]
#
# Runs every test: installs what is missing, starts the local servers (RabbitMQ, PostgreSQL, SMTP sink),
# builds, runs the unit and integration tests against the real servers, and validates docker-compose.yml.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
scripts/servers.sh start
# shellcheck disable=SC1091
source .data/env.sh

echo "== docker-compose.yml"
scripts/validate-compose.sh

echo "== build"
swift build --build-tests 2>&1 | grep -E "error|warning: |Build complete" || true
echo "== tests"
swift test --skip-build "$@"
