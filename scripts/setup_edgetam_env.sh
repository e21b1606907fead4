#!/usr/bin/env bash
# Build (or refresh) the EdgeTAM environment: Meta's official EdgeTAM code (the `edgetam-dimos`
# wheel of facebookresearch/EdgeTAM, which installs as a package named `sam2`), timm for its
# RepViT image encoder, and the torch + torchvision pair timm needs. It exports EdgeTAM
# checkpoints (sam2-ros-export --config edgetam) and is the reference the EdgeTAM parity tests
# compare against.
#
# Why a second venv: EdgeTAM's code is a fork of SAM 2 under the same import name, so it cannot
# sit beside Meta's sam2 1.1.0 (the SAM 2 reference); and timm imports torchvision, whose wheels
# are built against the index's default torch, not the CPU torch 2.13.0 of the main venv
# (`operator torchvision::nms does not exist`). See docs/EDGETAM.md.
#
#   SAM2_ROS_EDGETAM_VENV  where it lives         (default: <repo>/.venv-edgetam)
#   PYTHON                 interpreter to build it (default: python3; 3.10-3.12)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SAM2_ROS_EDGETAM_VENV:-$ROOT/.venv-edgetam}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.sam2_ros-setup"

fingerprint() {
  cat "$ROOT"/requirements/edgetam.txt "$ROOT"/requirements/runtime.txt "$ROOT"/requirements/export.txt \
    "$ROOT"/requirements/openvino.txt "$ROOT"/requirements/qnn.txt \
    "$ROOT/scripts/setup_edgetam_env.sh" | sha256sum | cut -d' ' -f1
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(fingerprint)" && -x "$VENV/bin/python" ]]; then
  echo "[setup-edgetam] environment up to date: $VENV"
  exit 0
fi

echo "[setup-edgetam] building $VENV"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install setuptools wheel
"${PIP[@]}" install -r "$ROOT/requirements/edgetam.txt"
# The official EdgeTAM code, without its declared extras (gradio, notebooks): --no-deps, its
# needs are in requirements/edgetam.txt.
"${PIP[@]}" install --no-deps "edgetam-dimos==1.0.1"
# what the export's targets and the benchmark need: ONNX Runtime, the ONNX exporter, OpenVINO,
# onnxruntime-qnn (QNN context binaries, the HTP simulator)
"${PIP[@]}" install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/export.txt" \
  -r "$ROOT/requirements/openvino.txt" -r "$ROOT/requirements/qnn.txt"
# Meta's SAM 2.1 video predictor (sam2 1.1.0, the SAM 2 reference), one file of it: the EdgeTAM
# reference runs it over EdgeTAM's model (sam2_ros/evaluation/edgetam_reference.py says why).
META_DIR="$VENV/share/sam2_ros/meta-sam2-1.1.0"
SDIST="$(mktemp -d)"
SAM2_BUILD_CUDA=0 "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation -d "$SDIST" "sam2==1.1.0"
mkdir -p "$META_DIR"
tar -xzf "$SDIST"/sam2-1.1.0.tar.gz -C "$SDIST" sam2-1.1.0/sam2/sam2_video_predictor.py sam2-1.1.0/LICENSE
cp "$SDIST"/sam2-1.1.0/sam2/sam2_video_predictor.py "$SDIST"/sam2-1.1.0/LICENSE "$META_DIR"/
rm -rf "$SDIST"
# sam2_ros itself from this checkout (a path entry: no build, no ROS messages needed here).
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$ROOT" > "$SITE/sam2_ros_repo.pth"

"$VENV/bin/python" -c "import torch, torchvision, timm, sam2.modeling.perceiver, sam2_ros.export.builder; \
print('[setup-edgetam] torch', torch.__version__, '| timm', timm.__version__, '| EdgeTAM official code ok')"
fingerprint > "$STAMP"
echo "[setup-edgetam] done: $VENV"
