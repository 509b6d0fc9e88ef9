#!/usr/bin/env bash
# Set up everything the test suite needs (idempotent) and run it: lint, then pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,export]"

# Optional system pieces: the emoji font (rendering non-zoo emoji) and Node (onnxruntime-web tests).
if ! fc-list 2>/dev/null | grep -qi "Noto Color Emoji" && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq fonts-noto-color-emoji >/dev/null) || echo "note: could not install fonts-noto-color-emoji"
fi
if [ -f tests/web/package.json ] && command -v npm >/dev/null; then
  (cd tests/web && npm ci --silent --no-audit --no-fund)
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
