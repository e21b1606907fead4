"""What the tracker returns for a frame, computed at full resolution only when asked for.

A result keeps each object's low-resolution logits (SAM 2's ``pred_masks``); the full-size
mask, its box, area and centroid are computed on first access, and the label image resolves
overlaps from the logits one object at a time, so no full-size float map per object is kept.

Specks: a tracked mask often carries a few stray pixels far from the object (a low-res logit
just above the threshold). They stretch its box across the image, which made detections of the
object look like new objects. Like the sprinkle removal of Meta's image predictor
(``max_sprinkle_area``), the regions of the low-res mask much smaller than the object's largest
region (``speck_fraction`` of it) are left out of every output: mask, box, area, centroid,
label image, visibility. The raw logits (``low_res_logits``), which the memory bank stores as
Meta's predictor does, are untouched.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from sam2_ros.engine import image_ops

BBox = tuple[int, int, int, int]
DEFAULT_SPECK_FRACTION = 0.05  # regions under 5% of the object's largest one are specks
SPECK_MARGIN = 10.0  # a speck's logits go this far below the threshold (Meta's sprinkle removal)


@dataclass(frozen=True, eq=False)
class ObjectResult:
    """One object on one frame.

    ``present`` is SAM 2's occlusion decision; ``visible`` means present *and* with mask pixels,
    the one meaning of "visible" in every output. ``bbox`` is ``(x0, y0, x1, y1)`` in pixels
    with ``x1``/``y1`` exclusive, ``None`` when the mask is empty; ``centroid`` is ``(x, y)``.
    Mask, box, area and centroid leave out specks (the module's docstring).
    """

    obj_id: int
    low_res_logits: np.ndarray  # [S/4, S/4] float32 (SAM 2's pred_masks)
    predicted_iou: float
    object_score: float  # logit; > 0 means the object is present
    object_pointer: np.ndarray  # [hidden_dim] float32
    prompted: bool  # this frame's output came from a prompt, not from tracking
    image_size: tuple[int, int]  # (height, width) of the input image
    mask_threshold: float = 0.0
    speck_fraction: float = DEFAULT_SPECK_FRACTION

    @property
    def present(self) -> bool:
        """SAM 2's occlusion decision: the object-score logit is positive."""
        return self.object_score > 0.0

    @property
    def visible(self) -> bool:
        """Present (SAM 2's decision) and with at least one mask pixel."""
        return self.present and self.area > 0

    @cached_property
    def output_logits(self) -> np.ndarray:
        """``low_res_logits`` with the specks pushed below the threshold (what every output is made of)."""
        return without_specks(self.low_res_logits, self.mask_threshold, self.speck_fraction)

    @property
    def presence_probability(self) -> float:
        """Sigmoid of the object score."""
        return float(1.0 / (1.0 + np.exp(-np.clip(self.object_score, -80.0, 80.0))))

    def mask_logits(self) -> np.ndarray:
        """HxW float32 logits at the input's resolution (computed anew on each call, not kept)."""
        height, width = self.image_size
        return image_ops.resize_float(self.output_logits, height, width)

    @cached_property
    def mask(self) -> np.ndarray:
        """HxW bool at the input's resolution: ``mask_logits() > mask_threshold``."""
        return self.mask_logits() > self.mask_threshold

    def logits_and_mask(self) -> tuple[np.ndarray, np.ndarray]:
        """``mask_logits()`` and ``mask`` from one resize (the mask is kept, as on first access)."""
        logits = self.mask_logits()
        if "mask" not in self.__dict__:
            self.__dict__["mask"] = logits > self.mask_threshold
        return logits, self.mask

    @cached_property
    def _statistics(self) -> tuple[BBox | None, int, tuple[float, float] | None]:
        return mask_statistics(self.mask)

    @property
    def bbox(self) -> BBox | None:
        """Bounding box of the mask (x1/y1 exclusive), None when empty."""
        return self._statistics[0]

    @property
    def area(self) -> int:
        """Mask pixels."""
        return self._statistics[1]

    @property
    def centroid(self) -> tuple[float, float] | None:
        """Mean (x, y) of the mask's pixels, None when empty."""
        return self._statistics[2]


@dataclass(frozen=True)
class FrameResult:
    """All objects on one frame, with per-stage timings in seconds."""

    frame_idx: int
    image_size: tuple[int, int]  # (height, width)
    objects: dict[int, ObjectResult]
    timings: dict[str, float] = field(default_factory=dict)
    key: Hashable = None  # the caller's name for the frame (track(image, key=...))

    def label_image(self) -> np.ndarray:
        """HxW uint8: pixel = id of the visible object there, 0 = background.

        Where masks overlap, the object with the higher mask logit wins (ties: the lower id).
        """
        height, width = self.image_size
        labels = np.zeros((height, width), np.uint8)
        best = np.full((height, width), -np.inf, np.float32)  # the winning logit so far
        for obj_id in sorted(self.objects):
            obj = self.objects[obj_id]
            if not obj.visible:
                continue
            logits, inside = obj.logits_and_mask()
            wins = np.greater(logits, best, where=inside, out=np.zeros_like(inside))
            labels[wins] = obj_id
            np.copyto(best, logits, where=wins)
        return labels


def without_specks(logits: np.ndarray, threshold: float, fraction: float) -> np.ndarray:
    """``logits`` (low-res, 2-D) with every region above ``threshold`` (8-connected) smaller than
    ``fraction`` of the largest region set ``SPECK_MARGIN`` below the threshold; the array itself
    when there is nothing to remove. Bilinear upsampling mixes only neighbouring low-res pixels,
    so the full-size mask keeps every other region exactly."""
    if fraction <= 0.0:
        return logits
    count, labels, stats, _ = cv2.connectedComponentsWithStats((logits > threshold).astype(np.uint8), connectivity=8)
    if count <= 2:  # background and at most one region
        return logits
    areas = stats[1:, cv2.CC_STAT_AREA]
    specks = np.flatnonzero(areas < fraction * areas.max()) + 1
    if specks.size == 0:
        return logits
    cleaned = logits.copy()
    cleaned[np.isin(labels, specks)] = threshold - SPECK_MARGIN
    return cleaned


def mask_statistics(mask: np.ndarray) -> tuple[BBox | None, int, tuple[float, float] | None]:
    """bbox (x1/y1 exclusive), area and centroid of a boolean mask."""
    area = int(mask.sum())
    if area == 0:
        return None, 0, None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    ys, xs = np.nonzero(mask)
    bbox = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return bbox, area, (float(xs.mean()), float(ys.mean()))
