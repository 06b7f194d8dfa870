#!/usr/bin/env bash
# The one test command: set up (apt packages, venv), lint, type-check, run every test tier.
# Tests start their own registries on 127.0.0.1; nothing else is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
