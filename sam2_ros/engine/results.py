"""What the tracker returns for a frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ObjectResult:
    """One object on one frame.

    ``bbox`` is ``(x0, y0, x1, y1)`` in pixels with ``x1``/``y1`` exclusive, ``None`` when
    the mask is empty; ``centroid`` is ``(x, y)``.
    """

    obj_id: int
    mask: np.ndarray  # HxW bool, at the input image's resolution
    mask_logits: np.ndarray  # HxW float32: the low-res logits resized to the input (mask = logits > threshold)
    low_res_logits: np.ndarray  # [S/4, S/4] float32 (SAM 2's pred_masks)
    predicted_iou: float
    object_score: float  # logit; > 0 means the object is present
    object_pointer: np.ndarray  # [hidden_dim] float32
    prompted: bool  # this frame's output came from a prompt, not from tracking
    bbox: tuple[int, int, int, int] | None
    area: int
    centroid: tuple[float, float] | None

    @property
    def visible(self) -> bool:
        """SAM 2's occlusion decision: the object-score logit is positive."""
        return self.object_score > 0.0

    @property
    def presence_probability(self) -> float:
        """Sigmoid of the object score."""
        return float(1.0 / (1.0 + np.exp(-np.clip(self.object_score, -80.0, 80.0))))


@dataclass(frozen=True)
class FrameResult:
    """All objects on one frame, with per-stage timings in seconds."""

    frame_idx: int
    image_size: tuple[int, int]  # (height, width)
    objects: dict[int, ObjectResult]
    timings: dict[str, float] = field(default_factory=dict)


def mask_statistics(mask: np.ndarray) -> tuple[tuple[int, int, int, int] | None, int, tuple[float, float] | None]:
    """bbox (x1/y1 exclusive), area and centroid of a boolean mask."""
    area = int(mask.sum())
    if area == 0:
        return None, 0, None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    ys, xs = np.nonzero(mask)
    bbox = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return bbox, area, (float(xs.mean()), float(ys.mean()))
