#!/usr/bin/env bash
# Usage: scripts/install-deps.sh
# Installs the Debian packages schoolict needs to build and test (idempotent: apt is
# skipped entirely when everything is already installed) and checks for a Swift toolchain.
set -euo pipefail

PACKAGES=(
  rabbitmq-server librabbitmq-dev amqp-tools libcurl4-openssl-dev python3-aiosmtpd
  libpq-dev postgresql postgresql-client curl python3-venv openssl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
# Tools the test command checks the deployment files with, from Debian when the machine has none of its own:
# promtool (alert rules) and kubectl (renders the Kubernetes manifests with its built-in kustomize).
command -v promtool >/dev/null || missing+=(prometheus)
command -v kubectl >/dev/null || missing+=(kubernetes-client)

if ((${#missing[@]})); then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo)
  fi
  echo "install-deps: installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

if swift_version=$(swift --version 2>&1); then
  echo "install-deps: ${swift_version%%$'\n'*}"
else
  cat >&2 <<'EOF'
install-deps: no Swift toolchain found ('swift --version' failed).
  Swift 6 does not come from apt: install it from swift.org (e.g. with swiftly) or use the
  swift:6.2-bookworm container image (6.2 or later: some dependencies need it), and put its usr/bin on PATH.
EOF
  exit 1
fi
