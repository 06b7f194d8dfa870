#!/usr/bin/env bash
# One command for a newcomer: set up (apt + venv), start a local registry, push sample
# images, run polyarch inspect / resolve on them, stop the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/python scripts/quickstart.py
