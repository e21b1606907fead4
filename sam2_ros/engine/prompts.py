"""Checking what a caller gives the tracker, and turning prompts into the model's terms.

Every check raises :class:`InvalidInputError` with what is wrong; nothing here touches
tracker state, so a rejected call leaves the tracker exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_ros.engine import image_ops
from sam2_ros.engine.errors import InvalidInputError

BOX_CORNER_LABELS = (2, 3)  # SAM 2's labels of a box's top-left and bottom-right corners


@dataclass(frozen=True)
class PointPrompt:
    """Clicks and/or a box in model pixels; a box comes first as two corner points."""

    points: np.ndarray  # [N, 2] float32, (x, y) in the model's image_size square
    labels: np.ndarray  # [N] int32: 1 foreground, 0 background, 2/3 box corners
    has_box: bool  # a box replaces the earlier prompts of its frame; clicks add up


@dataclass(frozen=True)
class MaskPrompt:
    """A mask prompt at the model's resolution."""

    mask: np.ndarray  # [image_size, image_size] float32, 0 or 1


def check_image(image: Any) -> None:
    """An HxWx3 uint8 RGB array, at least 2x2."""
    if not isinstance(image, np.ndarray):
        raise InvalidInputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidInputError(f"image must be uint8 RGB, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInputError(f"image must be HxWx3 (RGB), got shape {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InvalidInputError(f"image is too small: {image.shape[1]}x{image.shape[0]}")


def check_obj_id(obj_id: Any) -> int:
    """An integer object id."""
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
        raise InvalidInputError(f"object id must be an integer, got {obj_id!r}")
    return int(obj_id)


def normalize_prompt(
    points: Any, labels: Any, box: Any, mask: Any, image_size: tuple[int, int], model_size: int
) -> PointPrompt | MaskPrompt:
    """Check a prompt given in pixels of an ``image_size`` (h, w) image; return it in model terms."""
    height, width = image_size
    if points is None and box is None and mask is None:
        raise InvalidInputError("empty prompt: give points with labels, a box, or a mask")
    if (points is None) != (labels is None):
        raise InvalidInputError("points and labels must be given together")
    if mask is not None:
        if points is not None or box is not None:
            raise InvalidInputError("a mask prompt cannot be combined with points or a box")
        return MaskPrompt(_mask_at_model_size(_check_mask(mask, height, width), model_size))
    clicks = _check_points(points, labels, height, width) if points is not None else None
    corners = _check_box(box, height, width) if box is not None else None
    pts = np.zeros((0, 2), np.float32) if clicks is None else clicks[0]
    lbls = np.zeros((0,), np.int32) if clicks is None else clicks[1]
    if corners is not None:
        pts = np.concatenate([corners.reshape(2, 2), pts])
        lbls = np.concatenate([np.array(BOX_CORNER_LABELS, np.int32), lbls])
    scale = np.array([width, height], dtype=np.float32)
    model_pts = (pts / scale * np.float32(model_size)).astype(np.float32)
    return PointPrompt(model_pts, lbls, has_box=corners is not None)


def _check_points(points: Any, labels: Any, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        pts = np.asarray(points, dtype=np.float64)
        raw_labels = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"points/labels are not numeric: {exc}") from exc
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise InvalidInputError(f"points must be a non-empty Nx2 array of (x, y), got shape {pts.shape}")
    if raw_labels.shape != (len(pts),):
        raise InvalidInputError(f"labels must have one entry per point ({len(pts)}), got shape {raw_labels.shape}")
    if not np.all(np.isfinite(pts)):
        raise InvalidInputError("points contain NaN or infinity")
    if not np.isin(raw_labels, (0, 1)).all():
        raise InvalidInputError(f"labels must be 0 (background) or 1 (foreground), got {raw_labels.tolist()}")
    if (pts[:, 0] < 0).any() or (pts[:, 0] > width).any() or (pts[:, 1] < 0).any() or (pts[:, 1] > height).any():
        raise InvalidInputError(f"points {pts.tolist()} are outside the {width}x{height} image")
    return pts.astype(np.float32), raw_labels.astype(np.int32)


def _check_box(box: Any, height: int, width: int) -> np.ndarray:
    try:
        box_arr = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"box is not numeric: {exc}") from exc
    if box_arr.shape != (4,):
        raise InvalidInputError(f"box must be (x0, y0, x1, y1), got {box_arr.size} values")
    if not np.all(np.isfinite(box_arr)):
        raise InvalidInputError("box contains NaN or infinity")
    x0, y0, x1, y1 = box_arr
    if not (x0 < x1 and y0 < y1):
        raise InvalidInputError(f"box {box_arr.tolist()} must have x0 < x1 and y0 < y1")
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise InvalidInputError(f"box {box_arr.tolist()} is outside the {width}x{height} image")
    return box_arr.astype(np.float32)


def _check_mask(mask: Any, height: int, width: int) -> np.ndarray:
    mask_arr = np.asarray(mask)
    if mask_arr.shape != (height, width):
        raise InvalidInputError(f"mask must be {height}x{width} like the image, got shape {mask_arr.shape}")
    if mask_arr.dtype.kind not in "biuf":
        raise InvalidInputError(f"mask must be boolean or numeric, got dtype {mask_arr.dtype}")
    if mask_arr.dtype.kind == "f" and not np.all(np.isfinite(mask_arr)):
        raise InvalidInputError("mask contains NaN or infinity")
    return mask_arr > 0


def _mask_at_model_size(mask: np.ndarray, model_size: int) -> np.ndarray:
    """SAM 2's resize of a mask prompt to the model's input size (bilinear, then >= 0.5)."""
    mask_f = mask.astype(np.float32)
    if mask_f.shape != (model_size, model_size):
        mask_f = (image_ops.resize_float(mask_f, model_size, model_size) >= 0.5).astype(np.float32)
    return mask_f
