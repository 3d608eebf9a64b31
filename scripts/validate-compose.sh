#!/usr/bin/env bash
# Usage: scripts/validate-compose.sh [FILE]      (default: docker-compose.yml at the repo root)
# Validates a Compose file without a Docker engine: `docker-compose config -q` (Compose v1 from
# PyPI) in a venv cached under .data/compose-venv. Exits non-zero when the file is invalid.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FILE=${1:-$ROOT/docker-compose.yml}
DATA=${SCHOOLICT_DATA_DIR:-$ROOT/.data}
VENV=$DATA/compose-venv

if [[ ! -f $VENV/.installed ]]; then
  python=/usr/bin/python3
  "$python" -c 'import venv, ensurepip' 2>/dev/null || python=python3
  echo "validate-compose: creating $VENV (docker-compose v1)"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  # docker-compose v1 pins PyYAML 5.x, whose build breaks under Cython 3.
  echo 'cython<3' >"$VENV/constraints.txt"
  PIP_CONSTRAINT=$VENV/constraints.txt "$VENV/bin/pip" install -q --disable-pip-version-check docker-compose
  touch "$VENV/.installed"
fi

"$VENV/bin/docker-compose" -f "$FILE" config -q
# Trust boundaries: no port published beyond loopback, no credentials written in the file.
"$VENV/bin/python" - "$FILE" <<'PY'
import re, sys, yaml
path = sys.argv[1]
text = open(path).read()
problems = []
for name, service in (yaml.safe_load(text).get("services") or {}).items():
    for port in service.get("ports") or []:
        if not str(port).startswith("127.0.0.1:"):
            problems.append(f"service {name} publishes {port} on all interfaces (use 127.0.0.1:HOST:CONTAINER)")
if re.search(r"://[^/@\s:]+:[^/@\s]+@", text):
    problems.append("a URL with a password is written in the file (use a *_FILE secret)")
if re.search(r"(?im)^[ \t]*[A-Z_]*(PASSWORD|_PASS)[ \t]*:[ \t]*\S", text):
    problems.append("a password is written in the file (use a *_FILE secret)")
for problem in problems:
    print("validate-compose: " + problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "validate-compose: $FILE is valid"
