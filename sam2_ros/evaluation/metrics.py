"""Video object segmentation metrics, as in DAVIS: region similarity J (IoU) and contour accuracy F.

``F`` is the boundary F-measure: boundary pixels of the prediction and of the ground truth
are matched within a tolerance of ``0.008 x`` the image diagonal (DAVIS's ``bound_th``).
Both masks empty counts as a perfect score (the object is correctly reported absent).
"""

from __future__ import annotations

import math

import numpy as np


def iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Region similarity J: intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(prediction, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(prediction, truth).sum() / union)


def boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` that touch a pixel outside it (4-neighbourhood; the image edge counts as outside)."""
    padded = np.pad(mask, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of ``mask`` with a disk of ``radius`` pixels."""
    if radius <= 0:
        return mask.copy()
    height, width = mask.shape
    padded = np.pad(mask, radius, constant_values=False)
    out = np.zeros_like(mask)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx <= radius * radius:
                out |= padded[radius + dy : radius + dy + height, radius + dx : radius + dx + width]
    return out


def boundary_f(prediction: np.ndarray, truth: np.ndarray, bound_th: float = 0.008) -> float:
    """Contour accuracy F: F-measure of boundary pixels matched within ``bound_th`` x diagonal."""
    pred_b, truth_b = boundary(prediction), boundary(truth)
    if not pred_b.any() and not truth_b.any():
        return 1.0
    if not pred_b.any() or not truth_b.any():
        return 0.0
    radius = max(1, math.ceil(bound_th * math.hypot(*prediction.shape)))
    precision = float((pred_b & dilate(truth_b, radius)).sum() / pred_b.sum())
    recall = float((truth_b & dilate(pred_b, radius)).sum() / truth_b.sum())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
