"""Quantise static ONNX components for the HTP (QDQ), calibrated on the project's synthetic clips.

ONNX Runtime's QNN quantisation tools (``qnn_preprocess_model``, ``get_qnn_qdq_config``,
``quantize``) turn each fp32 component into a QDQ model: ``w8a8`` (8-bit weights and
activations, what HTP v68 chips such as QCS6490 need) or ``w8a16`` (16-bit activations, more
accurate). Calibration inputs are recorded from the fp32 model itself, run by the engine on
seeded synthetic clips with clicks, boxes and mixed prompts, so every decoder size and the
memory path see realistic values, or on the user's frames (``--calibration``,
:mod:`sam2_ros.export.calibration`) with prompts spread over the image. The QNN compile then
builds int8/int16 HTP graphs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sam2_ros.engine.backends.base import Component
from sam2_ros.engine.errors import ExportError
from sam2_ros.engine.manifest import Manifest

LOG = logging.getLogger("sam2_ros.export")
PRECISIONS = ("w8a8", "w8a16")
CALIBRATION_SEED = 3_000_000  # apart from training (1,000,000+) and evaluation (< 1,000,000) seeds


class _Recorder(Component):
    """Runs a component and keeps a copy of its inputs (calibration samples)."""

    def __init__(self, inner: Component, limit: int) -> None:
        super().__init__(inner.spec)
        self.inner, self.limit = inner, limit
        self.samples: list[dict[str, np.ndarray]] = []

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if len(self.samples) < self.limit:
            self.samples.append({k: np.array(v, copy=True) for k, v in feeds.items()})
        return self.inner.run(feeds)


def synthetic_clips(clips: int = 4, frames: int = 6) -> list[tuple[list[np.ndarray], list[dict]]]:
    """Seeded synthetic clips with occlusion, each with its first frame's prompts for 4 objects (from
    the ground truth: 1, 2, 3 and 4 points; a box counts 2)."""
    from sam2_ros.clips.synthetic import generate_clip

    out = []
    for seed in range(CALIBRATION_SEED, CALIBRATION_SEED + clips):
        clip = generate_clip(seed, num_frames=frames, num_objects=4, occlusion=True)
        prompts = []
        for obj_id in clip.masks:
            click, box = clip.first_visible_point(obj_id), clip.box(obj_id)
            prompts.append([{"points": [click], "labels": [1]}, {"box": box},
                            {"box": box, "points": [click], "labels": [1]},
                            {"box": box, "points": [click, click], "labels": [1, 1]}][(obj_id - 1) % 4])  # fmt: skip
        out.append((list(clip.frames), prompts))
    return out


def user_clips(frames: list[np.ndarray]) -> list[tuple[list[np.ndarray], list[dict]]]:
    """The user's calibration frames as clips of consecutive frames, prompted on the first frame at
    points spread over the image (:func:`sam2_ros.export.calibration.grid_prompts`)."""
    from sam2_ros.export.calibration import CLIP_LENGTH, grid_prompts

    clips = []
    for start in range(0, len(frames), CLIP_LENGTH):
        clip = frames[start : start + CLIP_LENGTH]
        clips.append((clip, grid_prompts(*clip[0].shape[:2])))
    return clips


def calibration_samples(
    model_dir: Path, manifest: Manifest, frames: list[np.ndarray] | None = None, limit: int = 48
) -> dict[str, list[dict[str, np.ndarray]]]:
    """Inputs of every component while the fp32 model tracks the user's ``frames`` (``--calibration``)
    or, without them, seeded synthetic clips."""
    from sam2_ros.engine.backends.onnxruntime_backend import OnnxRuntimeBackend
    from sam2_ros.engine.runner import ModelRunner
    from sam2_ros.engine.tracker import Sam2Tracker

    with np.load(model_dir / manifest.host_tensors_file) as npz:
        host = {k: np.asarray(npz[k], np.float32) for k in npz.files}
    backend = OnnxRuntimeBackend()
    recorders = {name: _Recorder(backend.load(model_dir, spec), limit) for name, spec in manifest.components.items()}
    tracker = Sam2Tracker(ModelRunner(manifest, host, recorders))
    sizes = set(manifest.decoder_points())
    for clip_frames, prompts in user_clips(frames) if frames else synthetic_clips():
        tracker.reset()
        for t, frame in enumerate(clip_frames):
            tracker.track(frame)
            if t != 0:
                continue
            for obj_id, prompt in enumerate(prompts, start=1):
                # as far as the static decoders go
                if not sizes or len(prompt.get("points", [])) + 2 * ("box" in prompt) in sizes:
                    tracker.add_prompt(obj_id, **prompt)
    return {name: rec.samples for name, rec in recorders.items()}


def quantize_component(source: Path, target: Path, samples: list[dict[str, np.ndarray]], precision: str) -> Path:
    """Write the QDQ model of ``source`` calibrated on ``samples`` to ``target``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize
    from onnxruntime.quantization.execution_providers.qnn import get_qnn_qdq_config, qnn_preprocess_model

    if precision not in PRECISIONS:
        raise ExportError(f"unknown precision {precision!r}: use fp16 or one of {', '.join(PRECISIONS)}")
    if not samples:
        raise ExportError(f"no calibration samples for {source.name}: extend --decoder-points calibration")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(samples)

        def get_next(self):  # noqa: ANN202 - ONNX Runtime's interface
            return next(self._it, None)

    prepared = target.with_name(target.stem + ".pre.onnx")
    logging.disable(logging.WARNING)  # the tools log generic advice (pre-processing, opset 21) per model
    try:
        model = prepared if qnn_preprocess_model(str(source), str(prepared)) else source
        activations = QuantType.QUInt16 if precision == "w8a16" else QuantType.QUInt8
        config = get_qnn_qdq_config(str(model), Reader(), activation_type=activations, weight_type=QuantType.QUInt8)
        quantize(str(model), str(target), config)
    finally:
        logging.disable(logging.NOTSET)
        prepared.unlink(missing_ok=True)
    return target
