"""Benchmark: what the node does with a frame's result, lazy (today) against eager (before).

``python -m sam2_ros.bench.results`` times, per frame at camera sizes, the work the node does
on a result: the label image plus every object's box, area and centroid. *Lazy* is the
engine's ``FrameResult`` (full-size parts computed when asked, one running float map for the
overlaps). *Eager* is the design it replaced, rebuilt here as the baseline: every object's
logits resized to full size and kept as a float map, masks and statistics made for every
object on every call, overlaps settled from the kept maps. Both run side by side in one
process on the same logits (three overlapping objects, SAM 2's 256x256 low-res masks); the
label images are checked equal. Memory is traced with ``tracemalloc``: the peak of one call, and
what the result still holds after it (the label image not counted).
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from sam2_ros.engine import image_ops
from sam2_ros.engine.results import FrameResult, ObjectResult, mask_statistics

SIZES = ((480, 640), (720, 1280), (1080, 1920))


def synthetic_result(height: int, width: int, objects: int = 3, low: int = 256) -> FrameResult:
    """Overlapping disc-shaped objects as SAM 2 low-res logits (about +-10 inside/outside)."""
    ys, xs = np.mgrid[0:low, 0:low].astype(np.float32)
    results = {}
    for obj_id in range(1, objects + 1):
        cx, cy, r = low * (0.3 + 0.15 * obj_id), low * 0.5, low * 0.25
        logits = (10.0 * (1.0 - np.hypot(xs - cx, ys - cy) / r)).astype(np.float32)
        results[obj_id] = ObjectResult(obj_id, logits, 0.9, 5.0, np.zeros(256, np.float32), False, (height, width))
    return FrameResult(0, (height, width), results)


def lazy(result: FrameResult) -> tuple[np.ndarray, Any]:
    """Today's node: the label image, then each object's statistics (from the masks it cached)."""
    # new objects, so nothing computed by an earlier call is reused
    fresh = replace(result, objects={i: replace(o) for i, o in result.objects.items()})
    labels = fresh.label_image()
    for obj in fresh.objects.values():
        _ = obj.bbox, obj.area, obj.centroid
    return labels, fresh


def eager(result: FrameResult) -> tuple[np.ndarray, Any]:
    """The replaced design: full-size logits kept per object, masks and statistics for all, then labels."""
    height, width = result.image_size
    full = {}
    for obj_id, obj in result.objects.items():
        logits = image_ops.resize_float(obj.output_logits, height, width)  # the outputs' logits (no specks)
        mask = logits > 0.0
        full[obj_id] = (logits, mask, mask_statistics(mask))
    visible = [(i, full[i]) for i in sorted(full) if result.objects[i].visible and full[i][2][1]]
    labels = np.zeros((height, width), np.uint8)
    count = np.zeros((height, width), np.uint8)
    for obj_id, (_, mask, _) in visible:
        labels[mask] = obj_id
        count += mask
    ys, xs = np.nonzero(count > 1)
    if len(ys):
        scores = np.stack([np.where(m[ys, xs], lg[ys, xs], -np.inf) for _, (lg, m, _) in visible])
        labels[ys, xs] = np.array([i for i, _ in visible], np.uint8)[np.argmax(scores, axis=0)]
    return labels, full


def measure(fn: Callable[[FrameResult], tuple[np.ndarray, Any]], result: FrameResult, repeats: int) -> dict:
    """Median milliseconds over ``repeats`` calls; MiB at the peak of one call and held after it."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(result)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    labels, kept = fn(result)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held -= labels.nbytes
    del kept
    return {
        "ms_median": round(float(np.median(times)) * 1000, 2),
        "peak_mib": round(peak / 2**20, 1),
        "held_mib": round(held / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench.results", description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'image':>10} {'lazy ms':>8} {'eager ms':>9} {'ratio':>6}   peak MiB lazy/eager   held MiB lazy/eager")
    for height, width in SIZES:
        result = synthetic_result(height, width, args.objects)
        assert np.array_equal(lazy(result)[0], eager(result)[0]), "the two label images differ"
        a, b = measure(lazy, result, args.repeats), measure(eager, result, args.repeats)
        rows.append({"size": f"{width}x{height}", "lazy": a, "eager": b})
        ratio = a["ms_median"] / b["ms_median"]
        print(f"{width:>5}x{height:<4} {a['ms_median']:8.2f} {b['ms_median']:9.2f} {ratio:6.2f}"
              f"   {a['peak_mib']:8.1f} / {b['peak_mib']:<8.1f}"
              f"   {a['held_mib']:8.1f} / {b['held_mib']:.1f}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"objects": args.objects, "rows": rows}, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
