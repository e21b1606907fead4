"""The int8 image encoder of the openvino backend's ``mixed`` precision (NNCF post-training quantisation).

``python -m sam2_ros.export.openvino_int8 MODEL_DIR [--cache-dir DIR]`` reads the model
directory's image encoder ONNX with OpenVINO, quantises it with NNCF (``nncf.quantize``: int8
weights and activations, the transformer model type so that softmax and layer norm stay in
floating point), calibrated on the fp32 model's own inputs: the preprocessed frames of seeded
synthetic clips (the calibration seeds of the QNN export, :mod:`sam2_ros.export.quantize`), or
of the user's own frames with ``--calibration PATH`` (:mod:`sam2_ros.export.calibration`).
It writes an OpenVINO IR (``.xml`` + ``.bin``) to where the backend looks for it:
``<cache>/int8/image_encoder-<first 16 hex digits of the ONNX file's SHA-256>.xml``, so a
re-exported encoder never meets a stale int8 model. The backend cannot quantise by itself (the
engine does not import the synthetic clips); it names this command when the file is missing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine import image_ops
from sam2_ros.engine.backends import openvino_backend as ovb
from sam2_ros.engine.errors import ExportError
from sam2_ros.engine.manifest import Manifest, load_model_dir, sha256_of
from sam2_ros.export.quantize import CALIBRATION_SEED

LOG = logging.getLogger("sam2_ros.export")
NNCF_VERSION = "3.4.0"  # requirements/openvino.txt
CALIBRATION_CLIPS = 4
CALIBRATION_FRAMES = 8  # per clip: 32 frames in all


def calibration_frames(
    manifest: Manifest,
    clips: int = CALIBRATION_CLIPS,
    frames: int = CALIBRATION_FRAMES,
    user_frames: list[np.ndarray] | None = None,
):
    """The image encoder's inputs (preprocessed frames): of ``user_frames`` (``--calibration``), or of
    seeded synthetic clips with occlusion."""
    from sam2_ros.clips.synthetic import generate_clip

    mean = np.asarray(manifest.pixel_mean, np.float32)
    std = np.asarray(manifest.pixel_std, np.float32)
    size = manifest.settings.image_size
    if user_frames:
        return [image_ops.preprocess(frame, size, mean, std) for frame in user_frames]
    out = []
    for seed in range(CALIBRATION_SEED, CALIBRATION_SEED + clips):
        clip = generate_clip(seed, num_frames=frames, num_objects=4, occlusion=True)
        out.extend(image_ops.preprocess(frame, size, mean, std) for frame in clip.frames)
    return out


def quantized_encoder(source: Path, manifest: Manifest, user_frames: list[np.ndarray] | None = None) -> Any:
    """The int8 OpenVINO model (``ov.Model``) of the image encoder ONNX file ``source``, calibrated on
    ``user_frames`` or the synthetic clips."""
    try:
        import nncf
        import openvino as ov
    except ImportError as exc:
        raise ExportError(f"the int8 encoder needs NNCF: pip install -r requirements/openvino.txt ({exc})") from exc
    frames = calibration_frames(manifest, user_frames=user_frames)
    input_name = manifest.components["image_encoder"].inputs[0].name
    return nncf.quantize(
        ov.Core().read_model(str(source)),
        nncf.Dataset([{input_name: x} for x in frames]),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(frames),
    )


def save_ir(model: Any, target: Path) -> None:
    """Write ``model`` as ``target`` (.xml) + .bin, f32 weights, the .xml last (readers look for it)."""
    import openvino as ov

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.stem + ".partial.xml")
    ov.save_model(model, str(partial), compress_to_fp16=False)
    partial.with_suffix(".bin").replace(target.with_suffix(".bin"))
    partial.replace(target)


def quantize_image_encoder(
    model_dir: str | Path,
    cache_dir: str | Path | None = None,
    force: bool = False,
    user_frames: list[np.ndarray] | None = None,
) -> Path:
    """Write the int8 image encoder IR of ``model_dir`` into the backend's cache; return its path.

    Nothing is done when the file is already there (unless ``force``). ``user_frames``: calibrate on
    these instead of the synthetic clips.
    """
    model_dir = Path(model_dir)
    manifest, _ = load_model_dir(model_dir)
    spec = manifest.components["image_encoder"]
    if spec.file is None or spec.format != "onnx":
        raise ExportError(f"{model_dir}: the image encoder has no ONNX file to quantise")
    source = model_dir / spec.file
    cache = ovb.default_cache_dir() if cache_dir is None else Path(cache_dir)
    target = ovb.int8_encoder_path(cache, spec.sha256 or sha256_of(source))
    if target.is_file() and not force:
        return target
    t0 = time.perf_counter()
    save_ir(quantized_encoder(source, manifest, user_frames), target)
    LOG.info("int8 image encoder of %s: %s (%.1f s)", model_dir, target, time.perf_counter() - t0)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sam2_ros.export.openvino_int8",
        description="Quantise a model directory's image encoder to int8 for backend openvino, precision mixed.",
    )
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--cache-dir", type=Path, help="the backend's cache_dir (default: the user cache)")
    parser.add_argument("--force", action="store_true", help="quantise again even if the file is there")
    parser.add_argument(
        "--calibration",
        type=Path,
        help="calibrate on your own frames: an image folder, a video or a rosbag2 recording (default: synthetic clips)",
    )
    parser.add_argument("--calibration-topic", help="with a rosbag2 --calibration: its image topic")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        from sam2_ros.export.calibration import read_calibration

        calibration = read_calibration(args.calibration, args.calibration_topic)
        user_frames = calibration.frames if calibration else None
        print(quantize_image_encoder(args.model_dir, args.cache_dir, force=args.force, user_frames=user_frames))
    except ExportError as exc:
        print(f"openvino_int8: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
