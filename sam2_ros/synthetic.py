"""Seeded synthetic video: textured shapes that move, rotate, scale and occlude each other.

Used by the tests, the benchmark and the demo as a clip that needs no download. Every
frame comes with per-object ground-truth masks (visible part only, after occlusion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyntheticClip:
    """Frames (T x H x W x 3 uint8) and visible masks per object id (T x H x W bool)."""

    frames: np.ndarray
    masks: dict[int, np.ndarray]

    def first_visible_point(self, obj_id: int, frame: int = 0) -> tuple[float, float]:
        """(x, y) of a pixel well inside the object's visible mask on ``frame``."""
        mask = self.masks[obj_id][frame]
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            raise ValueError(f"object {obj_id} is not visible on frame {frame}")
        # the visible pixel closest to the mask's centroid
        cx, cy = xs.mean(), ys.mean()
        i = int(np.argmin((xs - cx) ** 2 + (ys - cy) ** 2))
        return float(xs[i]), float(ys[i])

    def box(self, obj_id: int, frame: int = 0) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) box of the object's visible mask on ``frame``."""
        ys, xs = np.nonzero(self.masks[obj_id][frame])
        return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random colour texture with stripes, HxWx3 float in 0..255."""
    base = rng.uniform(30, 225, size=3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    freq = rng.uniform(0.05, 0.3)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * freq)[..., None]
    tint = rng.uniform(-60, 60, size=3)
    noise = rng.normal(0, 12, size=(height // 8 + 1, width // 8 + 1, 3))
    noise = np.kron(noise, np.ones((8, 8, 1)))[:height, :width]
    return np.clip(base + stripes * tint + noise, 0, 255)


def _shape_mask(kind: str, height: int, width: int, cx: float, cy: float, size: float, angle: float) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    if kind == "ellipse":
        return (u / size) ** 2 + (v / (0.6 * size)) ** 2 <= 1.0
    if kind == "rectangle":
        return (np.abs(u) <= size) & (np.abs(v) <= 0.55 * size)
    # triangle
    return (v >= -0.6 * size) & (v <= 0.9 * size - 1.7 * np.abs(u))


def generate_clip(
    seed: int,
    num_frames: int = 24,
    height: int = 240,
    width: int = 320,
    num_objects: int = 3,
) -> SyntheticClip:
    """A clip whose objects (ids 1..num_objects) cross paths, so they occlude each other."""
    rng = np.random.default_rng(seed)
    background = _texture(rng, height, width)
    kinds = ["ellipse", "rectangle", "triangle"]
    objects = []
    for i in range(num_objects):
        start = np.array([rng.uniform(0.2, 0.8) * width, rng.uniform(0.25, 0.75) * height])
        target = np.array([width, height]) - start + rng.normal(0, 10, size=2)
        objects.append(
            {
                "kind": kinds[i % len(kinds)],
                "texture": _texture(rng, height, width),
                "start": start,
                "velocity": (target - start) / max(num_frames - 1, 1) * 0.8,
                "size": rng.uniform(0.12, 0.2) * min(height, width),
                "growth": rng.uniform(-0.01, 0.01),
                "angle": rng.uniform(0, np.pi),
                "spin": rng.uniform(-0.08, 0.08),
            }
        )
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    masks = {i + 1: np.zeros((num_frames, height, width), bool) for i in range(num_objects)}
    for t in range(num_frames):
        canvas = background.copy()
        shifted = np.roll(background, t, axis=1)  # a slowly panning background
        canvas = 0.5 * canvas + 0.5 * shifted
        occupied = np.zeros((height, width), np.int32)
        for i, obj in enumerate(objects):  # later objects are drawn on top
            cx, cy = obj["start"] + obj["velocity"] * t
            size = obj["size"] * (1 + obj["growth"] * t)
            shape = _shape_mask(obj["kind"], height, width, cx, cy, size, obj["angle"] + obj["spin"] * t)
            canvas[shape] = obj["texture"][shape]
            occupied[shape] = i + 1
        for obj_id in masks:
            masks[obj_id][t] = occupied == obj_id
        frames[t] = np.clip(canvas, 0, 255).astype(np.uint8)
    return SyntheticClip(frames, masks)
