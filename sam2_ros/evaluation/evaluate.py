"""Tracking quality on held-out synthetic clips: IoU and J&F per frame, clean and occluded.

    python -m sam2_ros.evaluation --model models/synthetic-128 [--reference] [--prompt box]

Every tracked object is prompted once on frame 0 (a click at the point farthest inside its
visible mask, or its box) and tracked for ``--frames`` frames through the engine, the same code
the node runs. ``--reference`` also runs Meta's ``SAM2VideoPredictor`` on the same checkpoint
(needs torch and ``sam2``) and reports both sides and how far their logits differ. Clips come
from :mod:`sam2_ros.clips.synthetic` with seeds far below the training seeds, so they are held out.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sam2_ros.clips.synthetic import SyntheticClip, generate_clip
from sam2_ros.engine.results import ObjectResult
from sam2_ros.engine.tracker import Sam2Tracker
from sam2_ros.evaluation.metrics import boundary_f, iou
from sam2_ros.evaluation.reference import OfficialStream, build_official_predictor

NO_POINTER = np.zeros(1, np.float32)  # the reference's masks need no object pointer

EVAL_SEED_START = 1000  # held out: training uses seeds >= sam2_ros.train.data.TRAIN_SEED_BASE
CONDITIONS = ("clean", "occluded")


def eval_clip(seed: int, condition: str, num_frames: int = 16, height: int = 240, width: int = 320) -> SyntheticClip:
    """The held-out clip for ``seed``: 1-2 apart objects (clean) or 2-4 crossing ones (occluded)."""
    if condition == "clean":
        return generate_clip(seed, num_frames, height, width, num_objects=1 + seed % 2, occlusion=False)
    if condition == "occluded":
        return generate_clip(seed, num_frames, height, width, num_objects=2 + seed % 3, occlusion=True)
    raise ValueError(f"unknown condition {condition!r}: use one of {CONDITIONS}")


def frame0_prompt(clip: SyntheticClip, obj_id: int, kind: str) -> dict:
    """The frame-0 prompt for one object: a click well inside it, or its box."""
    if kind == "click":
        return {"points": [clip.first_visible_point(obj_id)], "labels": [1]}
    if kind == "box":
        return {"box": clip.box(obj_id)}
    raise ValueError(f"unknown prompt kind {kind!r}: use click or box")


@dataclass
class Track:
    """Per-object masks (and low-res logits, for agreement checks) over a clip."""

    masks: dict[int, list[np.ndarray]] = field(default_factory=dict)
    logits: dict[int, list[np.ndarray]] = field(default_factory=dict)

    def add(self, obj_id: int, mask: np.ndarray, low_res_logits: np.ndarray) -> None:
        self.masks.setdefault(obj_id, []).append(mask)
        self.logits.setdefault(obj_id, []).append(low_res_logits)


def track_engine(tracker: Sam2Tracker, clip: SyntheticClip, prompt: str) -> Track:
    """Prompt every object on frame 0, then track the clip with the engine."""
    tracker.reset()
    track = Track()
    for t, frame in enumerate(clip.frames):
        result = tracker.track(frame)
        if t == 0:
            for obj_id in clip.masks:
                result = tracker.add_prompt(obj_id, **frame0_prompt(clip, obj_id, prompt))
        for obj_id in clip.masks:
            obj = result.objects[obj_id]
            track.add(obj_id, obj.mask & obj.visible, obj.low_res_logits)
    return track


def track_reference(predictor, clip: SyntheticClip, prompt: str) -> Track:
    """The same protocol through Meta's predictor; its masks are made from its logits exactly as the
    engine makes its outputs (resized, without specks, visible = present with pixels: an
    ``ObjectResult``), so the two differ only where the model's numbers do."""
    stream = OfficialStream(predictor, clip.frames)
    height, width = clip.frames.shape[1:3]
    track = Track()
    try:
        for t in range(len(clip.frames)):
            outputs = stream.track()
            if t == 0:
                for obj_id in clip.masks:
                    p = frame0_prompt(clip, obj_id, prompt)
                    outputs = stream.add_points(obj_id, p.get("points"), p.get("labels"), p.get("box"))
            for obj_id in clip.masks:
                ref = outputs[obj_id]
                size = (height, width)
                shown = ObjectResult(obj_id, ref.low_res_logits, 0.0, ref.object_score, NO_POINTER, False, size)
                track.add(obj_id, shown.mask & shown.visible, ref.low_res_logits)
    finally:
        stream.close()
    return track


def score(track: Track, clip: SyntheticClip) -> tuple[np.ndarray, np.ndarray]:
    """(J, F) arrays of shape [objects, frames] against the clip's visible ground truth."""
    j = np.array([[iou(m, clip.masks[k][t]) for t, m in enumerate(track.masks[k])] for k in clip.masks])
    f = np.array([[boundary_f(m, clip.masks[k][t]) for t, m in enumerate(track.masks[k])] for k in clip.masks])
    return j, f


def summarise(j: np.ndarray, f: np.ndarray) -> dict:
    """Figures for one condition from stacked [objects, frames] J and F."""
    jf = (j + f) / 2
    return {
        "objects": int(j.shape[0]),
        "frame0_iou": round(float(j[:, 0].mean()), 4),
        "mean_iou": round(float(j.mean()), 4),
        "mean_iou_tracked_frames": round(float(j[:, 1:].mean()), 4),
        "J": round(float(j.mean()), 4),
        "F": round(float(f.mean()), 4),
        "J&F": round(float(jf.mean()), 4),
        "per_frame_iou": [round(float(v), 4) for v in j.mean(axis=0)],
        "per_frame_J&F": [round(float(v), 4) for v in jf.mean(axis=0)],
    }


def evaluate(
    model_dir: Path,
    clips: int = 8,
    frames: int = 16,
    prompt: str = "click",
    reference: bool = False,
    threads: int | None = None,
    seed_start: int = EVAL_SEED_START,
    backend: str | None = None,
    source_dir: Path | None = None,
) -> dict:
    """Evaluate the model directory's engine (and optionally Meta's predictor) on held-out clips.

    ``source_dir``: where the checkpoint and config the model was exported from are, if neither in
    the model directory nor next to it (the shipped model's export lives in the user cache)."""
    kwargs = {"threads": threads} if backend is None else {"threads": threads, "backend": backend}
    tracker = Sam2Tracker.from_model_dir(model_dir, **kwargs)
    predictor = None
    if reference:
        predictor = _reference_predictor(model_dir, tracker, source_dir)
    seeds = list(range(seed_start, seed_start + clips))
    report: dict = {"model": str(model_dir), "prompt": prompt, "frames": frames, "seeds": seeds, "engine": {}}
    if predictor is not None:
        report["reference"] = {}
        report["agreement"] = {"max_logit_error": 0.0, "mask_pixels_differing": 0, "mask_pixels": 0}
    start = time.perf_counter()
    for condition in CONDITIONS:
        sides: dict[str, list] = {"engine": [], "reference": []}
        for seed in seeds:
            clip = eval_clip(seed, condition, frames)
            engine_track = track_engine(tracker, clip, prompt)
            sides["engine"].append(score(engine_track, clip))
            if predictor is not None:
                ref_track = track_reference(predictor, clip, prompt)
                sides["reference"].append(score(ref_track, clip))
                _agree(report["agreement"], engine_track, ref_track)
            print(f"\r[evaluate] {condition} clip {seed - seed_start + 1}/{clips}", end="", file=sys.stderr, flush=True)
        for side, results in sides.items():
            if results:
                j = np.concatenate([r[0] for r in results])
                f = np.concatenate([r[1] for r in results])
                report[side][condition] = summarise(j, f)
    print(file=sys.stderr)
    report["wall_time_s"] = round(time.perf_counter() - start, 1)
    return report


def find_source(model_dir: Path, sha256: str | None, suffix: str, source_dir: Path | None = None) -> Path | None:
    """A file with ``suffix`` in ``source_dir``, the model directory or its parent whose SHA-256 is ``sha256``."""
    from sam2_ros.engine.manifest import sha256_of

    if not sha256:
        return None
    for folder in (*([source_dir] if source_dir else []), model_dir, model_dir.parent):
        for path in sorted(folder.glob(f"*{suffix}")):
            if path.is_file() and sha256_of(path) == sha256:
                return path
    return None


def _reference_predictor(model_dir: Path, tracker: Sam2Tracker, source_dir: Path | None = None):
    """Meta's predictor for the checkpoint and config the model directory was exported from."""
    source = tracker.manifest.source
    checkpoint = find_source(model_dir, source.get("checkpoint_sha256"), ".pt", source_dir)
    config = find_source(model_dir, source.get("config_sha256"), ".yaml", source_dir)
    if checkpoint is None or config is None:
        raise FileNotFoundError(
            f"--reference needs the checkpoint and config {model_dir} was exported from, in it, next to it "
            "or in --source-dir "
            f"(the manifest names {source.get('checkpoint')!r} and {source.get('config')!r}, checked by SHA-256)"
        )
    return build_official_predictor(checkpoint, str(config), postprocessing=bool(source.get("postprocessing")))


def _agree(agreement: dict, engine: Track, reference: Track) -> None:
    for obj_id, logits in engine.logits.items():
        for a, b in zip(logits, reference.logits[obj_id]):
            agreement["max_logit_error"] = max(agreement["max_logit_error"], float(np.max(np.abs(a - b))))
        for a, b in zip(engine.masks[obj_id], reference.masks[obj_id]):
            agreement["mask_pixels_differing"] += int((a != b).sum())
            agreement["mask_pixels"] += int(a.size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.evaluation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="model directory")
    parser.add_argument("--clips", type=int, default=8, help="held-out clips per condition")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip")
    parser.add_argument("--prompt", choices=("click", "box"), default="click", help="frame-0 prompt")
    parser.add_argument("--reference", action="store_true", help="also run Meta's predictor (needs torch, sam2)")
    parser.add_argument("--seed-start", type=int, default=EVAL_SEED_START)
    parser.add_argument("--source-dir", type=Path, help="with --reference: where the model's checkpoint and config are")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[%(name)s] %(message)s")
    report = evaluate(args.model, args.clips, args.frames, args.prompt, args.reference, args.threads, args.seed_start,
                      source_dir=args.source_dir)  # fmt: skip
    text = json.dumps(report, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
