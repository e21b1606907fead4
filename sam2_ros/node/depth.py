"""Objects in 3D from an aligned depth image: depth decoding, intrinsics and one object's
position and extent. Plain numpy and OpenCV, no ROS (the messages are read in depth_io.py).

Per object (docs/NODE.md, "Objects in 3D"): the mask is brought to the depth image's size and
eroded, so pixels on the object's edge (often the background's depth) do not count; the valid
depths inside it (finite, > 0) give the *robust depth*, their median. The depth-weighted
centroid of the pixels near it (within max(5 cm, 5 %)), so a mask bleeding onto the background
or an occluder does not pull it, is back-projected at the robust depth (``position``). The
points between the 10th and 90th depth percentiles give the axis-aligned box (``center``,
``size``). Coordinates are the camera's optical frame: x right, y down, z forward, metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

DEPTH_ENCODINGS = {"16UC1": 0.001, "mono16": 0.001, "32FC1": 1.0}  # encoding -> metres per unit by default
MIN_DEPTH_PIXELS = 10  # fewer valid depths inside an object's mask: no 3D for it
CENTROID_BAND_M, CENTROID_BAND_FRACTION = 0.05, 0.05  # the centroid's pixels: within max(5 cm, 5 %) of the median


class DepthError(ValueError):
    """A depth image or camera info that cannot be used; ``kind`` names the problem (for the throttle)."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of an image ``width`` x ``height`` (pixel centres at integer coordinates)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def scaled_to(self, width: int, height: int) -> Intrinsics:
        """The same camera for an image resized to ``width`` x ``height``."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(
            self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5, width, height
        )


def intrinsics_from_k(k: Sequence[float], width: int, height: int) -> Intrinsics:
    """Intrinsics from a CameraInfo's row-major 3x3 ``k`` and its image size."""
    fx, cx, fy, cy = float(k[0]), float(k[2]), float(k[4]), float(k[5])
    if not all(math.isfinite(v) for v in (fx, fy, cx, cy)) or fx <= 0 or fy <= 0:
        raise DepthError("camera_info_focal", f"camera info has focal lengths fx={fx}, fy={fy}: both must be > 0")
    if width <= 0 or height <= 0:
        raise DepthError("camera_info_size", f"camera info has image size {width}x{height}")
    return Intrinsics(fx, fy, cx, cy, int(width), int(height))


def intrinsics_for(info: Intrinsics, width: int, height: int) -> Intrinsics:
    """``info`` for a depth image of ``width`` x ``height``: the same size, or scaled when only the
    resolution differs (same aspect ratio); anything else raises DepthError."""
    if (info.width, info.height) == (width, height):
        return info
    if abs(width * info.height - height * info.width) > max(width, height):
        raise DepthError(
            "depth_size",
            f"depth image {width}x{height} does not match its camera info ({info.width}x{info.height}, another "
            "aspect ratio): publish the CameraInfo of the depth image",
        )
    return info.scaled_to(width, height)


def depth_in_metres(raw: np.ndarray, encoding: str, unit_scale: float = 0.0) -> np.ndarray:
    """A depth image as float32 metres, invalid pixels (0, NaN, inf) as NaN.

    ``16UC1`` counts millimetres, ``32FC1`` metres, unless ``unit_scale`` (> 0: metres per unit) says
    otherwise.
    """
    if encoding not in DEPTH_ENCODINGS:
        raise DepthError(
            "depth_encoding", f"unsupported depth encoding {encoding!r}: use 16UC1 (millimetres) or 32FC1 (metres)"
        )
    scale = unit_scale if unit_scale > 0 else DEPTH_ENCODINGS[encoding]
    depth = raw.astype(np.float32) * np.float32(scale)
    depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
    return depth


@dataclass(frozen=True)
class Object3D:
    """One object in 3D: ``position`` (back-projected centroid at the robust depth), the box
    ``center`` and ``size`` of its points, the valid depth pixels counted, and the points (N x 3)."""

    position: tuple[float, float, float]
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    depth_pixels: int
    points: np.ndarray


def fit_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A bool mask resized (nearest) to ``height`` x ``width``."""
    if mask.shape == (height, width):
        return mask
    return cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0


def locate(mask: np.ndarray, depth: np.ndarray, intrinsics: Intrinsics, erode_px: int = 3) -> Object3D | None:
    """The object of ``mask`` (any size; bool) in 3D from ``depth`` (metres, NaN = invalid) seen
    with ``intrinsics`` (of the depth image); None when fewer than MIN_DEPTH_PIXELS depths are valid."""
    height, width = depth.shape
    region = fit_mask(mask, height, width)
    if erode_px > 0:
        kernel = np.ones((3, 3), np.uint8)
        eroded = cv2.erode(region.astype(np.uint8), kernel, iterations=erode_px) > 0
        if eroded.sum() >= MIN_DEPTH_PIXELS:  # a thin object keeps its whole mask
            region = eroded
    vs, us = np.nonzero(region)
    z = depth[vs, us]
    valid = np.isfinite(z)
    count = int(valid.sum())
    if count < MIN_DEPTH_PIXELS:
        return None
    us, vs, z = us[valid].astype(np.float64), vs[valid].astype(np.float64), z[valid].astype(np.float64)
    low, median, high = np.percentile(z, [10, 50, 90])
    near = np.abs(z - median) <= max(CENTROID_BAND_M, CENTROID_BAND_FRACTION * median)
    u_c = float(np.sum(us[near] * z[near]) / np.sum(z[near]))
    v_c = float(np.sum(vs[near] * z[near]) / np.sum(z[near]))
    k = intrinsics
    position = ((u_c - k.cx) * median / k.fx, (v_c - k.cy) * median / k.fy, float(median))
    inner = (z >= low) & (z <= high)
    us, vs, z = us[inner], vs[inner], z[inner]
    points = np.stack([(us - k.cx) * z / k.fx, (vs - k.cy) * z / k.fy, z], axis=1)
    lo, hi = points.min(axis=0), points.max(axis=0)
    center = tuple(float(v) for v in (lo + hi) / 2)
    size = tuple(float(v) for v in hi - lo)
    return Object3D(position, center, size, count, points.astype(np.float32))  # type: ignore[arg-type]
