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
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/scripts/executables.txt" "$ROOT/scripts/setup_env.sh" "$ROOT/CMakeLists.txt" \
    "$ROOT/package.xml" "$ROOT"/msg/*.msg "$ROOT"/interfaces/*/msg/*.msg "$ROOT"/interfaces/*/CMakeLists.txt \
    "$ROOT"/cmake/*.cmake "$ROOT"/launch/* "$ROOT"/config/* "$ROOT"/rviz/* | sha256sum | cut -d' ' -f1
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(fingerprint)" && -x "$VENV/bin/python" ]]; then
  echo "[setup] environment up to date: $VENV"
  exit 0
fi

echo "[setup] building $VENV"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
# --no-warn-conflicts: pip would print "ERROR: ... sam2 1.1.0 requires torchvision" on every install;
# the dependency check runs once, at the end, and says what is expected (pip_check below).
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
INSTALL=(install --no-warn-conflicts)

"${PIP[@]}" "${INSTALL[@]}" setuptools wheel
# torch first (CPU), so nothing below pulls a CUDA build.
"${PIP[@]}" "${INSTALL[@]}" $TORCH_SPEC
# Meta's official sam2: no CUDA extension, no torchvision (the video predictor needs neither).
SAM2_BUILD_CUDA=0 "${PIP[@]}" "${INSTALL[@]}" --no-deps --no-build-isolation "$SAM2_SPEC"
"${PIP[@]}" "${INSTALL[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/export.txt" \
  -r "$ROOT/requirements/dev.txt" -r "$ROOT/requirements/ros.txt" -r "$ROOT/requirements/qnn.txt" \
  -r "$ROOT/requirements/openvino.txt"
# sam2_ros itself, editable (a path entry, so the generated sam2_ros.msg joins it), with its
# console scripts (sam2-ros-export, sam2_ros_node).
"${PIP[@]}" "${INSTALL[@]}" --no-deps --no-build-isolation -e "$ROOT" --config-settings editable_mode=compat
# Newer setuptools ignore editable_mode=compat for setup.py projects and install an import hook
# instead, which loses to the namespace portion rosidl installs below. A plain path entry does
# not (a regular package anywhere on sys.path wins over namespace portions).
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$ROOT" > "$SITE/sam2_ros_repo.pth"

# Message packages, built by rosidl with plain CMake into the venv prefix (no ROS install
# needed: the ament/rosidl wheels above provide the build tools).
build_interfaces() {  # SOURCE_DIR BUILD_DIR [cmake args...]
  local source="$1" build="$2"; shift 2
  local log="$VENV/.sam2_ros-cmake-$(basename "$source").log"
  rm -rf "$build"
  AMENT_PREFIX_PATH="$VENV" cmake -S "$source" -B "$build" -DCMAKE_PREFIX_PATH="$VENV" \
    -DPython3_EXECUTABLE="$VENV/bin/python" -DCMAKE_INSTALL_PREFIX="$VENV" -DBUILD_TESTING=OFF "$@" > "$log" 2>&1 \
    || { tail -n 30 "$log"; echo "[setup] message build failed (configure $source)"; exit 1; }
  cmake --build "$build" -j "$(nproc)" >> "$log" 2>&1 \
    || { tail -n 30 "$log"; echo "[setup] message build failed ($source)"; exit 1; }
  cmake --install "$build" >> "$log" 2>&1
}

# vision_msgs has no wheel: where it is absent (or is this project's copy from an earlier set-up),
# build the field-for-field copy in interfaces/vision_msgs. A real vision_msgs is left alone.
if ! "$VENV/bin/python" -c "import vision_msgs.msg" 2>/dev/null \
  || grep -qs "sam2_ros developers" "$VENV/share/vision_msgs/package.xml"; then
  build_interfaces "$ROOT/interfaces/vision_msgs" "$ROOT/build/vision_msgs"
fi
# This package's messages (the Python sources stay editable: SAM2_ROS_INSTALL_PYTHON=OFF).
build_interfaces "$ROOT" "$ROOT/build/msgs" -DSAM2_ROS_INSTALL_PYTHON=OFF
# rosidl installs an empty sam2_ros/__init__.py: drop it so the generated files are a portion of
# the editable package (whose __init__ extends its __path__) instead of shadowing it.
PYVER="$("$VENV/bin/python" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')"
# Its egg-info would also shadow the editable install's metadata (console scripts).
rm -f "$VENV/lib/$PYVER/site-packages/sam2_ros/__init__.py"
rm -rf "$VENV/lib/$PYVER/site-packages/"sam2_ros-*.egg-info

# What pip reports as missing. Expected, and said so plainly: Meta's sam2 declares torchvision, which
# its video predictor never imports (and whose wheels here are built for CUDA torch); launch_ros's
# ament-index-python comes as ros-kilted-ament-index-python, a distribution of another name.
pip_check() {
  local report
  report="$("$VENV/bin/python" -m pip check 2>&1 || true)"
  if grep -q "^sam2 .* requires torchvision" <<<"$report"; then
    echo "[setup] note: sam2's torchvision requirement is left out on purpose (the video predictor does not use it)"
  fi
  grep -v -e "^sam2 .* requires torchvision" -e "^launch-ros .* requires ament-index-python" \
    -e "^No broken requirements" <<<"$report" | sed 's/^/[setup] pip check: /' || true
}
pip_check

"$VENV/bin/python" -c "import torch, sam2, onnxruntime, rclpy, sam2_ros.engine, sam2_ros.msg, vision_msgs.msg; \
print('[setup] torch', torch.__version__, '| onnxruntime', onnxruntime.__version__, '| rclpy + sam2_ros.msg ok')"
fingerprint > "$STAMP"
echo "[setup] done: $VENV"
