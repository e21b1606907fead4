#!/usr/bin/env bash
# Build (or refresh) the project's virtual environment: everything sam2_ros needs to run,
# export models and run its tests. Idempotent: a second run with unchanged requirements
# returns at once.
#
#   SAM2_ROS_VENV  where the venv lives        (default: <repo>/.venv)
#   PYTHON         interpreter to build it      (default: python3; 3.10-3.12)
#   TORCH_SPEC     the torch requirement        (default: torch==2.13.0, the CPU build on this
#                  project's machines; elsewhere add --index-url https://download.pytorch.org/whl/cpu)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SAM2_ROS_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
SAM2_SPEC="sam2==1.1.0"
STAMP="$VENV/.sam2_ros-setup"

fingerprint() {
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/scripts/setup_env.sh" | sha256sum | cut -d' ' -f1
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(fingerprint)" && -x "$VENV/bin/python" ]]; then
  echo "[setup] environment up to date: $VENV"
  exit 0
fi

echo "[setup] building $VENV"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

"${PIP[@]}" install setuptools wheel
# torch first (CPU), so nothing below pulls a CUDA build.
"${PIP[@]}" install $TORCH_SPEC
# Meta's official sam2: no CUDA extension, no torchvision (the video predictor needs neither).
SAM2_BUILD_CUDA=0 "${PIP[@]}" install --no-deps --no-build-isolation "$SAM2_SPEC"
"${PIP[@]}" install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/export.txt" -r "$ROOT/requirements/dev.txt"
# sam2_ros itself, editable, with its console scripts (sam2-ros-export).
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"

"$VENV/bin/python" -c "import torch, sam2, onnxruntime, sam2_ros.engine; print('[setup] torch', torch.__version__, '| onnxruntime', onnxruntime.__version__)"
fingerprint > "$STAMP"
echo "[setup] done: $VENV"
