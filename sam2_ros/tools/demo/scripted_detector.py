"""A scripted "detector" on the synthetic clip: its ground-truth boxes, with noise, as detections.

It stands in for a real detector in the demo (``node_demo --prompts detector``): on frame ``t``
it reports every ground-truth object visible with at least ``min_area_fraction`` of the image,
as its visible box plus seeded Gaussian noise (clipped at 3 sigma), the object's shape kind as
its label and a seeded score in 0.6..0.99. The same seed gives the same detections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_ros.clips.synthetic import SyntheticClip

SCORE_RANGE = (0.6, 0.99)
NOISE_CLIP = 3.0  # noise is clipped at this many standard deviations


@dataclass(frozen=True)
class Detection:
    """A box (x0, y0, x1, y1) in pixels, x1/y1 exclusive, with its class name and score."""

    box: tuple[float, float, float, float]
    label: str
    score: float
    object_id: int = 0  # the ground-truth object it came from (not sent: a detector does not know it)


def detect(
    clip: SyntheticClip,
    frame: int,
    seed: int = 0,
    noise_px: float = 2.0,
    every: int = 1,
    miss_probability: float = 0.0,
    min_area_fraction: float = 0.01,
) -> list[Detection]:
    """The detections on ``frame`` (none unless ``frame % every == 0``), in ground-truth id order.

    Each visible object is missed with ``miss_probability``. The noise of a frame depends only on
    ``seed`` and ``frame``, not on which other frames were asked for.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if frame % every:
        return []
    height, width = clip.frames.shape[1:3]
    rng = np.random.default_rng([seed, frame])
    detections = []
    for obj_id in sorted(clip.masks):
        # draw for every object, visible or not, so one object's visibility does not move the others' noise
        noise = np.clip(rng.normal(0.0, 1.0, 4), -NOISE_CLIP, NOISE_CLIP) * noise_px
        score = float(rng.uniform(*SCORE_RANGE))
        missed = rng.random() < miss_probability
        if missed or clip.masks[obj_id][frame].sum() < min_area_fraction * height * width:
            continue
        x0, y0, x1, y1 = np.asarray(clip.box(obj_id, frame)) + noise
        x0, x1 = float(np.clip(x0, 0, width - 1)), float(np.clip(x1, 1, width))
        y0, y1 = float(np.clip(y0, 0, height - 1)), float(np.clip(y1, 1, height))
        box = (x0, y0, max(x1, x0 + 1.0), max(y1, y0 + 1.0))
        detections.append(Detection(box, clip.kinds[obj_id], round(score, 3), obj_id))
    return detections


def detection_array(detections: Sequence[Detection], header: Any) -> Any:
    """A ``vision_msgs/Detection2DArray`` of ``detections`` (centre and size from each box), stamped ``header``."""
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    msg = Detection2DArray(header=header)
    for det in detections:
        x0, y0, x1, y1 = det.box
        item = Detection2D(header=header)
        item.bbox.center.position.x, item.bbox.center.position.y = (x0 + x1) / 2, (y0 + y1) / 2
        item.bbox.size_x, item.bbox.size_y = x1 - x0, y1 - y0
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id, hypothesis.hypothesis.score = det.label, float(det.score)
        item.results.append(hypothesis)
        msg.detections.append(item)
    return msg
