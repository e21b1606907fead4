"""Engine demo: track prompted objects through a clip and write what the tracker saw.

``python -m sam2_ros.tools.engine_demo`` runs the streaming engine (no ROS) on the project's seeded
synthetic clip (moving, occluding shapes) with scripted prompts, or on your own frames
(``--frames-dir``) and prompts (``--prompts``). It writes to ``--output``:
``overlay.gif``, ``contact_sheet.png``, ``tracked_objects.jsonl`` and ``summary.json``
(frames, latency p50/p95, rate, per-stage means, and mean IoU against the clip's ground
truth when the clip is synthetic).

Model: ``--model DIR``; else the shipped ``models/synthetic-128`` (trained on these synthetic
clips, exported from its checkpoint on first use). A model with random weights is announced
as such: its masks carry no meaning.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image, ImageDraw

from sam2_ros.engine import FrameResult, Sam2Tracker
from sam2_ros.evaluation.metrics import boundary_f, iou
from sam2_ros.evaluation.synthetic import generate_clip

REPO_ROOT = Path(__file__).resolve().parent.parent
PALETTE = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240]],
    np.uint8,
)


def colour(obj_id: int) -> np.ndarray:
    """A stable colour per object id."""
    return PALETTE[(obj_id - 1) % len(PALETTE)]


def draw_overlay(frame: np.ndarray, result: FrameResult) -> Image.Image:
    """The frame with each visible object's mask tinted, its box and its id."""
    out = frame.astype(np.float32)
    for obj_id, obj in result.objects.items():
        if obj.visible and obj.area:
            out[obj.mask] = 0.45 * out[obj.mask] + 0.55 * colour(obj_id)
    image = Image.fromarray(out.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for obj_id, obj in result.objects.items():
        if obj.visible and obj.bbox:
            draw.rectangle(obj.bbox, outline=tuple(int(c) for c in colour(obj_id)), width=2)
            draw.text((obj.bbox[0] + 3, obj.bbox[1] + 2), f"id {obj_id}", fill=(255, 255, 255))
    draw.text((4, 4), f"frame {result.frame_idx}", fill=(255, 255, 255))
    return image


def find_model(explicit: Path | None) -> Path:
    """The model directory to run: ``explicit``, else the shipped synthetic-trained model."""
    if explicit is not None:
        return explicit
    from sam2_ros.tools.shipped import exported_dir

    return exported_dir()


def load_prompts(path: Path | None, clip: Any) -> dict[int, list[dict[str, Any]]]:
    """Prompts per frame: ``{frame: [{id, points, labels} | {id, box} | {id, remove: true}]}``."""
    if path is not None:
        raw = yaml.safe_load(path.read_text()) or {}
        return {int(frame): list(items) for frame, items in raw.items()}
    # default: a click on the middle of each synthetic object on the first frame
    return {0: [{"id": obj_id, "points": [clip.first_visible_point(obj_id)], "labels": [1]} for obj_id in clip.masks]}


def load_frames(frames_dir: Path, limit: int) -> np.ndarray:
    """RGB frames from a folder of images, in name order."""
    paths = sorted(p for p in frames_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))[:limit]
    if not paths:
        raise SystemExit(f"no images in {frames_dir}")
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.tools.engine_demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: the shipped models/synthetic-128)")
    parser.add_argument("--frames-dir", type=Path, help="folder of frames to track instead of the synthetic clip")
    parser.add_argument("--prompts", type=Path, help="YAML of prompts per frame (see docs/ENGINE.md)")
    parser.add_argument("--frames", type=int, default=24, help="number of frames")
    parser.add_argument("--objects", type=int, default=3, help="objects in the synthetic clip (1-7)")
    parser.add_argument("--seed", type=int, default=11, help="synthetic clip seed")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", type=Path, default=Path("output/demo"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[%(name)s] %(message)s")

    model_dir = find_model(args.model)
    tracker = Sam2Tracker.from_model_dir(model_dir, threads=args.threads)
    if tracker.manifest.random_weights:
        print("[demo] NOTE: this model has RANDOM weights - the pipeline runs for real, but its masks carry no "
              "meaning until you export real SAM 2 weights (sam2-ros-export --checkpoint ...).")  # fmt: skip
    clip = None
    if args.frames_dir:
        frames = load_frames(args.frames_dir, args.frames)
    else:
        clip = generate_clip(args.seed, num_frames=args.frames, num_objects=args.objects)
        frames = clip.frames
    prompts = load_prompts(args.prompts, clip)

    args.output.mkdir(parents=True, exist_ok=True)
    overlays, latencies, stage_sums, ious = [], [], {}, []
    with open(args.output / "tracked_objects.jsonl", "w") as jsonl:
        for t, frame in enumerate(frames):
            start = time.perf_counter()
            result = tracker.track(frame)
            for item in prompts.get(t, []):
                if item.get("remove"):
                    tracker.remove_object(int(item["id"]))
                    continue
                result = tracker.add_prompt(
                    int(item["id"]), points=item.get("points"), labels=item.get("labels"), box=item.get("box")
                )
            latencies.append(time.perf_counter() - start)
            for stage, value in result.timings.items():
                stage_sums[stage] = stage_sums.get(stage, 0.0) + value
            record = {"frame": t, "latency_s": round(latencies[-1], 4), "objects": []}
            for obj_id, obj in result.objects.items():
                entry = {
                    "id": obj_id,
                    "visible": obj.visible,
                    "presence": round(obj.presence_probability, 4),
                    "iou_pred": round(obj.predicted_iou, 4),
                    "bbox": obj.bbox,
                    "area": obj.area,
                    "centroid": obj.centroid,
                }
                if clip is not None and obj_id in clip.masks:
                    visible_mask, truth = obj.mask & obj.visible, clip.masks[obj_id][t]
                    entry["iou_gt"] = round(iou(visible_mask, truth), 4)
                    entry["f_gt"] = round(boundary_f(visible_mask, truth), 4)
                    ious.append((entry["iou_gt"], entry["f_gt"]))
                record["objects"].append(entry)
            jsonl.write(json.dumps(record) + "\n")
            overlays.append(draw_overlay(frame, result))
            print(f"\r[demo] frame {t + 1}/{len(frames)}  {latencies[-1] * 1000:7.1f} ms  "
                  f"objects {len(result.objects)}", end="", file=sys.stderr, flush=True)  # fmt: skip
    print(file=sys.stderr)

    overlays[0].save(args.output / "overlay.gif", save_all=True, append_images=overlays[1:], duration=100, loop=0)
    step = max(1, len(overlays) // 12)
    picks = overlays[::step][:12]
    w, h = picks[0].size
    sheet = Image.new("RGB", (4 * w, ((len(picks) + 3) // 4) * h))
    for i, im in enumerate(picks):
        sheet.paste(im, ((i % 4) * w, (i // 4) * h))
    sheet.save(args.output / "contact_sheet.png")
    lat = np.array(latencies[1:] or latencies)
    summary = {
        "model": str(model_dir),
        "random_weights": bool(tracker.manifest.random_weights),
        "frames": len(frames),
        "latency_ms_p50": round(float(np.percentile(lat, 50)) * 1000, 1),
        "latency_ms_p95": round(float(np.percentile(lat, 95)) * 1000, 1),
        "rate_hz": round(float(1.0 / lat.mean()), 2),
        "stage_ms_mean": {k: round(v / len(frames) * 1000, 1) for k, v in stage_sums.items()},
        "mean_iou_vs_ground_truth": round(float(np.mean([j for j, _ in ious])), 4) if ious else None,
        "j_and_f_vs_ground_truth": round(float(np.mean([(j + f) / 2 for j, f in ious])), 4) if ious else None,
    }
    (args.output / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"[demo] wrote {args.output}/: overlay.gif, contact_sheet.png, tracked_objects.jsonl, summary.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
