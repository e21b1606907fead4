"""Accuracy of objects in 3D: the node's depth geometry (sam2_ros/node/depth.py) on synthetic
clips with depth, with the shipped model's masks and with ground-truth masks.

``python -m sam2_ros.bench.depth [--seeds 10-21]``: per clip (640x480, 3 objects flat at 1-3 m
before a wall at 3.5 m, no occlusion, box prompts on frame 0, 8 frames), the median and worst
3D error against ground truth (SyntheticClip.position) over every object and frame, the worst
mask IoU, and the worst error with ground-truth masks (the method's own share). Results:
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import Sam2Tracker
from sam2_ros.node.depth import Intrinsics, locate
from sam2_ros.tools.shipped import find_model

FRAMES, OBJECTS, HEIGHT, WIDTH = 8, 3, 480, 640


def clip_errors(model, seed: int, erode_px: int = 3) -> dict:
    """3D errors (cm) of one clip's objects over its frames, with tracked and with ground-truth masks."""
    clip = generate_clip(seed, FRAMES, HEIGHT, WIDTH, OBJECTS, occlusion=False, depth=True)
    intrinsics = Intrinsics(*clip.intrinsics, WIDTH, HEIGHT)
    tracker = Sam2Tracker.from_model_dir(model, threads=2)
    tracker.track(clip.frames[0])
    for obj_id in range(1, OBJECTS + 1):
        tracker.add_prompt(obj_id, box=clip.box(obj_id, 0))
    tracked, truth, ious = [], [], []
    for t in range(1, FRAMES):
        result = tracker.track(clip.frames[t])
        for obj_id, obj in result.objects.items():
            want = np.array(clip.position(obj_id, t))
            gt_mask = clip.masks[obj_id][t]
            ious.append(float((obj.mask & gt_mask).sum() / max((obj.mask | gt_mask).sum(), 1)))
            for masks, errors in ((obj.mask, tracked), (gt_mask, truth)):
                place = locate(masks, clip.depth[t], intrinsics, erode_px)
                errors.append(
                    np.inf if place is None else float(np.linalg.norm(np.subtract(place.position, want))) * 100
                )
    return {
        "seed": seed,
        "median_cm": round(float(np.median(tracked)), 2),
        "worst_cm": round(float(np.max(tracked)), 2),
        "worst_mask_iou": round(float(np.min(ious)), 2),
        "worst_cm_with_true_masks": round(float(np.max(truth)), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench.depth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--seeds", default="10-21", help="clip seeds, FIRST-LAST")
    args = parser.parse_args(argv)
    first, _, last = args.seeds.partition("-")
    model = find_model(None if args.model is None else Path(args.model))
    rows = [clip_errors(model, seed) for seed in range(int(first), int(last or first) + 1)]
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
