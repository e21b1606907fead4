#!/usr/bin/env bash
# Set up (if needed) and run every check: ruff, mypy, then the full pytest suite (with the ROS 2 launch
# system and command line of ../shared/ros2-cli installed into the venv where that folder exists).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup_env.sh"
VENV="${SAM2_ROS_VENV:-$ROOT/.venv}"
# The upstream ROS 2 launch system and `ros2` command line, where this machine has them (CI does):
# test/process/package/test_ros2cli.py then runs `ros2 launch`, `ros2 param`, ... against the package (it skips,
# saying why, without them). Idempotent, with its own stamp in the venv.
ROS2_CLI="$ROOT/../shared/ros2-cli"
if [[ -d "$ROS2_CLI" ]]; then
  bash "$ROS2_CLI/install.sh" "$VENV"
fi
# The EdgeTAM environment (Meta's official EdgeTAM code; scripts/setup_edgetam_env.sh says why
# it is a venv of its own): its suite, test/edgetam, exports EdgeTAM and checks the engine
# against the official EdgeTAM. SAM2_ROS_SKIP_EDGETAM=1 leaves it out (say so: CI never sets it).
cd "$ROOT"
"$VENV/bin/ruff" check sam2_ros test launch
# the type check (mypy.ini): the engine and the node, zero errors; the other layers are to follow
"$VENV/bin/mypy" sam2_ros/engine sam2_ros/node
if [[ "${SAM2_ROS_SKIP_EDGETAM:-0}" != "1" ]]; then
  "$ROOT/scripts/setup_edgetam_env.sh"
  EDGETAM_VENV="${SAM2_ROS_EDGETAM_VENV:-$ROOT/.venv-edgetam}"
  "$EDGETAM_VENV/bin/python" -m pytest test/edgetam --confcutdir=test/edgetam -p no:cacheprovider -q
else
  echo "[tests] SAM2_ROS_SKIP_EDGETAM=1: the EdgeTAM suite (test/edgetam) is NOT run"
fi
# the main suite last: its summary closes the run, after the 15 slowest tests (to keep the suite lean)
"$VENV/bin/python" -m pytest test --ignore=test/edgetam --durations=15 "$@"
