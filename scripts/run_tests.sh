#!/usr/bin/env bash
# Set up (if needed) and run every check: ruff, then the full pytest suite (with the ROS 2 launch
# system and command line of ../shared/ros2-cli installed into the venv where that folder exists).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup_env.sh"
VENV="${SAM2_ROS_VENV:-$ROOT/.venv}"
# The upstream ROS 2 launch system and `ros2` command line, where this machine has them (CI does):
# test/test_ros2cli.py then runs `ros2 launch`, `ros2 param`, ... against the package (it skips,
# saying why, without them). Idempotent, with its own stamp in the venv.
ROS2_CLI="$ROOT/../shared/ros2-cli"
if [[ -d "$ROS2_CLI" ]]; then
  bash "$ROS2_CLI/install.sh" "$VENV"
fi
cd "$ROOT"
"$VENV/bin/ruff" check sam2_ros test launch
"$VENV/bin/python" -m pytest test "$@"
