#!/usr/bin/env bash
# Set up (first run only) and run the product's main job: `oracle demo` on the embedded chain.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/oracle demo "$@"
