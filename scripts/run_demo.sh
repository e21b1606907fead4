#!/usr/bin/env bash
# Set up (if needed) and run the demo: track objects through a synthetic clip with the engine.
# Extra arguments go to `python -m sam2_ros.tools.demo.node_demo` (see --help).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup_env.sh"
VENV="${SAM2_ROS_VENV:-$ROOT/.venv}"
cd "$ROOT"
exec "$VENV/bin/python" -m sam2_ros.tools.demo.node_demo "$@"
