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
# Python packages: the project with its dev + export extras (pytest, ruff, cax; TensorFlow, jax2onnx,
# onnx, onnxruntime, LiteRT). Skipped when pyproject.toml has not changed since the last install.
stamp=".venv/.nca-zoo-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,export]"
  echo "$want" >"$stamp"
fi

# Optional system pieces: the emoji font (rendering non-zoo emoji), Chromium (the web page's browser
# tests; Debian's package, software WebGL2 via SwiftShader) and Node (onnxruntime-web tests, and
# playwright-core, the pinned driver that runs that Chromium headless).
# Each is installed only when missing (Debian packages as root: fonts-noto-color-emoji, chromium).
apt_packages=()
fc-list 2>/dev/null | grep -qi "Noto Color Emoji" || apt_packages+=(fonts-noto-color-emoji)
[ -n "${CHROMIUM:-}" ] || command -v chromium >/dev/null || apt_packages+=(chromium)
if [ ${#apt_packages[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null) ||
    echo "note: could not install ${apt_packages[*]}"
fi
# onnxruntime-web and playwright-core, pinned by package-lock.json; reinstalled when the lockfile changes.
if [ -f tests/web/package.json ] && command -v npm >/dev/null; then
  lock="$(sha256sum tests/web/package-lock.json | cut -d' ' -f1)"
  if [ "$(cat tests/web/node_modules/.nca-zoo-lock 2>/dev/null)" != "$lock" ]; then
    (cd tests/web && npm ci --silent --no-audit --no-fund) && echo "$lock" >tests/web/node_modules/.nca-zoo-lock
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
# One worker per core (compiling is mostly single-threaded); each test file stays in one worker, so
# module-scoped fixtures (a browser, an export) are built once. PYTEST_WORKERS=0 runs in-process.
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadfile "$@"
