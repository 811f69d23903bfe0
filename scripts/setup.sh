#!/usr/bin/env bash
# Idempotent environment: .venv with the pinned CPU torch, the project (editable,
# prover + dev extras), and the pinned npm tools (solc-js, anvil). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed
want=$(cat pyproject.toml | sha1sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/pip install --quiet --upgrade pip
  # torch first and exactly pinned: a bare `torch` requirement pulls a multi-GB CUDA build.
  .venv/bin/pip install --quiet "torch==2.13.0"
  .venv/bin/pip install --quiet -e ".[prover,dev]"
  echo "$want" > "$stamp"
fi

if command -v npm >/dev/null 2>&1; then
  lock=$(sha1sum package-lock.json | cut -c1-16)
  if [ ! -f node_modules/.lock-stamp ] || [ "$(cat node_modules/.lock-stamp)" != "$lock" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock" > node_modules/.lock-stamp
  fi
else
  echo "warning: npm not found; contract recompile checks and anvil tests need Node.js" >&2
fi

# The explorer's browser tests drive the system's Chromium (Playwright launches /usr/bin/chromium;
# `playwright install` is never run: nothing is downloaded at test time).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }
  else
    echo "warning: /usr/bin/chromium is missing and this is not root with apt-get: the explorer's browser" \
         "tests will be skipped (install it: sudo apt-get install -y chromium)" >&2
  fi
fi
