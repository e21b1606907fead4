#!/usr/bin/env bash
# Set up (if needed) and run every check: ruff, then the full pytest suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup_env.sh"
VENV="${SAM2_ROS_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$VENV/bin/ruff" check sam2_ros test launch
"$VENV/bin/python" -m pytest test "$@"
