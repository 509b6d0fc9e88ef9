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

# Optional system pieces: the emoji font (rendering non-zoo emoji), Chromium (the web page's browser
# tests; Debian's package, software WebGL2 via SwiftShader) and Node (onnxruntime-web tests, and
# playwright-core, the pinned driver that runs that Chromium headless).
if ! fc-list 2>/dev/null | grep -qi "Noto Color Emoji" && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq fonts-noto-color-emoji >/dev/null) || echo "note: could not install fonts-noto-color-emoji"
fi
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "note: could not install chromium"
fi
if [ -f tests/web/package.json ] && command -v npm >/dev/null; then
  (cd tests/web && npm ci --silent --no-audit --no-fund)  # onnxruntime-web and playwright-core, pinned by package-lock.json
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
