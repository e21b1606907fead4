"""Engine demo: track prompted objects through a clip and write what the tracker saw.

``sam2-ros-engine-demo`` runs the streaming engine (no ROS) on the project's seeded
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
from PIL import Image

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import FrameResult, Sam2Tracker
from sam2_ros.engine.drawing import draw_overlay
from sam2_ros.evaluation.metrics import boundary_f, iou
from sam2_ros.tools.demo.media import contact_sheet, load_image_folder, load_prompts
from sam2_ros.tools.shipped import find_model


def default_prompts(clip: Any) -> dict[int, list[dict[str, Any]]]:
    """A click on the middle of each synthetic object on the first frame."""
    return {0: [{"id": obj_id, "points": [clip.first_visible_point(obj_id)], "labels": [1]} for obj_id in clip.masks]}


def apply_prompts(tracker: Sam2Tracker, result: FrameResult, items: list[dict[str, Any]]) -> FrameResult:
    """Apply one frame's scripted prompts (:mod:`sam2_ros.tools.demo.media` schema) to the last tracked frame."""
    for item in items:
        if item.get("reset"):
            tracker.reset()
            continue
        if item.get("remove"):
            tracker.remove_object(int(item["id"]))
            continue
        result = tracker.add_prompt(
            int(item["id"]), points=item.get("points"), labels=item.get("labels"), box=item.get("box")
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sam2-ros-engine-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: the shipped models/synthetic-128)")
    parser.add_argument("--frames-dir", type=Path, help="folder of frames to track instead of the synthetic clip")
    parser.add_argument("--prompts", type=Path, help="YAML of prompts per frame (schema: sam2_ros.tools.demo.media)")
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
        frames = load_image_folder(args.frames_dir, args.frames)
    else:
        clip = generate_clip(args.seed, num_frames=args.frames, num_objects=args.objects)
        frames = clip.frames
    prompts = load_prompts(args.prompts) if args.prompts else default_prompts(clip) if clip is not None else {}
    labels = {item["id"]: item["label"] for items in prompts.values() for item in items if "label" in item}

    args.output.mkdir(parents=True, exist_ok=True)
    overlays, latencies, stage_sums, ious = [], [], {}, []
    with open(args.output / "tracked_objects.jsonl", "w") as jsonl:
        for t, frame in enumerate(frames):
            start = time.perf_counter()
            result = apply_prompts(tracker, tracker.track(frame), prompts.get(t, []))
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
            overlays.append(draw_overlay(frame, result, labels, caption=f"frame {result.frame_idx}"))
            print(f"\r[demo] frame {t + 1}/{len(frames)}  {latencies[-1] * 1000:7.1f} ms  "
                  f"objects {len(result.objects)}", end="", file=sys.stderr, flush=True)  # fmt: skip
    print(file=sys.stderr)

    gif = [Image.fromarray(rgb) for rgb in overlays]
    gif[0].save(args.output / "overlay.gif", save_all=True, append_images=gif[1:], duration=100, loop=0)
    contact_sheet(overlays).save(args.output / "contact_sheet.png")
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
