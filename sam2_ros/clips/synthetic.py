"""Seeded synthetic video: textured shapes that move, rotate, scale, enter, leave and occlude.

One generator serves training (``sam2_ros.train``), evaluation (``sam2_ros.evaluation``), the
tests, the benchmarks and the demo's built-in clip, so nothing here needs a download. Every
frame comes with per-object ground-truth masks of the *visible* part (after occlusion).

The tracked objects (ids ``1..num_objects``) are all visible on frame 0; some of them leave the
frame late in a long clip. Distractor shapes without ids enter from the edges and pass over or
under the tracked ones. With ``occlusion=True`` the objects' paths cross so they hide one another;
with ``occlusion=False`` no shape ever overlaps another (a "clean" clip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPE_KINDS = ("ellipse", "rectangle", "triangle", "star", "blob")
BACKGROUND_DEPTH = 3.5  # metres: the wall behind the shapes (with depth=True)
OBJECT_DEPTHS = (1.0, 3.0)  # metres: the shapes' distances are drawn from this range
FOCAL_FRACTION = 0.9  # fx = fy = this x the image width


@dataclass(frozen=True)
class SyntheticClip:
    """Frames (T x H x W x 3 uint8) and visible masks per object id (T x H x W bool)."""

    frames: np.ndarray
    masks: dict[int, np.ndarray]
    kinds: dict[int, str]
    depth: np.ndarray | None = None  # T x H x W float32 metres (generate_clip(depth=True))
    object_depth: dict[int, float] | None = None  # each tracked object's distance (flat, facing the camera)
    intrinsics: tuple[float, float, float, float] | None = None  # fx, fy, cx, cy in pixels

    def position(self, obj_id: int, frame: int) -> tuple[float, float, float]:
        """Ground truth in 3D: the centroid of the object's visible mask on ``frame`` back-projected at
        its depth, in the camera's optical frame (x right, y down, z forward; metres)."""
        if self.object_depth is None or self.intrinsics is None:
            raise ValueError("the clip has no depth: generate it with depth=True")
        ys, xs = np.nonzero(self.masks[obj_id][frame])
        if len(xs) == 0:
            raise ValueError(f"object {obj_id} is not visible on frame {frame}")
        fx, fy, cx, cy = self.intrinsics
        z = self.object_depth[obj_id]
        return float((xs.mean() - cx) * z / fx), float((ys.mean() - cy) * z / fy), z

    def first_visible_point(self, obj_id: int, frame: int = 0) -> tuple[float, float]:
        """(x, y) of a pixel well inside the object's visible mask on ``frame``."""
        mask = self.masks[obj_id][frame]
        if not mask.any():
            raise ValueError(f"object {obj_id} is not visible on frame {frame}")
        # the visible pixel farthest from the mask's edge (a click an operator would make)
        inside = mask.copy()
        best = inside
        while inside.any():
            best = inside
            eroded = inside.copy()
            eroded[1:] &= inside[:-1]
            eroded[:-1] &= inside[1:]
            eroded[:, 1:] &= inside[:, :-1]
            eroded[:, :-1] &= inside[:, 1:]
            inside = eroded
        ys, xs = np.nonzero(best)
        cx, cy = xs.mean(), ys.mean()
        i = int(np.argmin((xs - cx) ** 2 + (ys - cy) ** 2))
        return float(xs[i]), float(ys[i])

    def box(self, obj_id: int, frame: int = 0) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) box of the object's visible mask on ``frame``."""
        ys, xs = np.nonzero(self.masks[obj_id][frame])
        if len(xs) == 0:
            raise ValueError(f"object {obj_id} is not visible on frame {frame}")
        return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random colour texture (stripes, checks, blotches or a gradient), HxWx3 float in 0..255."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(30, 225, size=3)
    tint = rng.uniform(-70, 70, size=3)
    style = rng.integers(4)
    scale = min(height, width)
    if style == 0:  # stripes
        angle = rng.uniform(0, np.pi)
        freq = rng.uniform(0.15, 0.9) * 64 / scale
        pattern = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * freq)
    elif style == 1:  # checks
        cell = rng.uniform(0.04, 0.12) * scale
        pattern = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2) * 2 - 1
    elif style == 2:  # blotches: smooth noise upsampled from a coarse grid
        coarse = rng.normal(0, 1, size=(6, 6))
        rows = np.clip((yy / height * 5).astype(int), 0, 5)
        cols = np.clip((xx / width * 5).astype(int), 0, 5)
        pattern = np.tanh(coarse[rows, cols] + 0.3 * np.sin(xx * 0.3 / scale * 64))
    else:  # gradient
        angle = rng.uniform(0, 2 * np.pi)
        pattern = ((xx * np.cos(angle) + yy * np.sin(angle)) / scale) % 1.0 * 2 - 1
    cell = max(2, scale // 40)
    noise = rng.normal(0, 10, size=(height // cell + 1, width // cell + 1, 3))
    noise = np.kron(noise, np.ones((cell, cell, 1)))[:height, :width]
    return np.clip(base + pattern[..., None] * tint + noise, 0, 255)


def _shape_mask(obj: dict, height: int, width: int, cx: float, cy: float, size: float, angle: float) -> np.ndarray:
    """Boolean mask of one shape centred at (cx, cy) with radius-like ``size``, rotated by ``angle``."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    aspect = obj["aspect"]
    kind = obj["kind"]
    if kind == "ellipse":
        return (u / size) ** 2 + (v / (aspect * size)) ** 2 <= 1.0
    if kind == "rectangle":
        return (np.abs(u) <= size) & (np.abs(v) <= aspect * size)
    if kind == "triangle":
        return (v >= -0.6 * size) & (v <= 0.9 * size - 1.7 * np.abs(u))
    radius = np.hypot(u, v / aspect)
    theta = np.arctan2(v, u)
    if kind == "star":
        points = obj["points"]
        edge = size * (0.62 + 0.38 * np.cos(points * theta))
    else:  # blob: a few random harmonics
        edge = size * (1.0 + sum(a * np.cos(k * theta + p) for k, a, p in obj["harmonics"]))
    return radius <= edge


def _new_object(rng: np.random.Generator, height: int, width: int, num_frames: int, kind: str) -> dict:
    scale = min(height, width)
    return {
        "kind": kind,
        "texture": _texture(rng, height, width),
        "size": rng.uniform(0.12, 0.22) * scale,
        "aspect": rng.uniform(0.5, 0.9),
        "growth": rng.uniform(-0.012, 0.012) * 24 / max(num_frames, 1),
        "angle": rng.uniform(0, 2 * np.pi),
        "spin": rng.uniform(-0.08, 0.08) * 24 / max(num_frames, 1),
        "points": int(rng.integers(4, 7)),
        "harmonics": [(k, rng.uniform(0.05, 0.18), rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5)],
    }


def _place_tracked(rng, objects, height, width, num_frames, occlusion):
    """Start points and velocities of the tracked objects: crossing paths, or apart when clean."""
    size = np.array([width, height], float)
    for i, obj in enumerate(objects):
        start = rng.uniform([0.2, 0.25], [0.8, 0.75]) * size
        if occlusion:
            # head for the mirror point, so paths cross near the centre
            target = size - start + rng.normal(0, 0.04 * size.min(), size=2)
        else:
            target = start + rng.normal(0, 0.12 * size.min(), size=2)
        travel = rng.uniform(0.6, 1.0)
        if i > 0 and rng.random() < 0.3:
            travel *= 1.8  # this one leaves the frame late in the clip
        obj["start"] = start
        obj["velocity"] = (target - start) / max(num_frames - 1, 1) * travel


def _place_distractor(rng, obj, height, width, num_frames):
    """A shape that enters from an edge a few frames in and crosses the frame."""
    size = np.array([width, height], float)
    edge = rng.integers(4)
    t0 = rng.uniform(0.1, 0.5) * num_frames
    along = rng.uniform(0.2, 0.8)
    margin = obj["size"] * 1.2
    entry = [np.array([-margin, along * height]), np.array([width + margin, along * height]),
             np.array([along * width, -margin]), np.array([along * width, height + margin])][edge]  # fmt: skip
    exit_point = size - entry + rng.normal(0, 0.1 * size.min(), size=2)
    velocity = (exit_point - entry) / max(num_frames * rng.uniform(0.6, 1.0), 1)
    obj["start"] = entry - velocity * t0
    obj["velocity"] = velocity


def _render(objects, background, num_frames, height, width, depths=None):
    """Frames, per-pixel owner (drawn index, 0 = background), whether shapes overlapped, and with
    ``depths`` (one per drawn object, nearer for later ones) the depth images."""
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    owner = np.zeros((num_frames, height, width), np.int16)
    depth = None
    if depths is not None:
        rows = np.arange(height, dtype=np.float32)[:, None] / height - 0.5
        plane = np.broadcast_to(BACKGROUND_DEPTH + 0.4 * rows, (height, width))  # a wall, tilted away at the top
        depth = np.empty((num_frames, height, width), np.float32)
    overlap = False
    for t in range(num_frames):
        canvas = 0.5 * background + 0.5 * np.roll(background, t, axis=1)  # a slowly panning background
        occupied = np.zeros((height, width), np.int16)
        distance = plane.copy() if depths is not None else None
        for index, obj in enumerate(objects, start=1):  # later objects are drawn on top
            cx, cy = obj["start"] + obj["velocity"] * t
            size = obj["size"] * (1 + obj["growth"] * t)
            shape = _shape_mask(obj, height, width, cx, cy, size, obj["angle"] + obj["spin"] * t)
            overlap |= bool((occupied[shape] > 0).any())
            canvas[shape] = obj["texture"][shape]
            occupied[shape] = index
            if distance is not None:
                distance[shape] = depths[index - 1]
        owner[t] = occupied
        frames[t] = np.clip(canvas, 0, 255).astype(np.uint8)
        if depth is not None:
            depth[t] = distance
    return frames, owner, overlap, depth


def generate_clip(
    seed: int,
    num_frames: int = 24,
    height: int = 240,
    width: int = 320,
    num_objects: int = 3,
    occlusion: bool = True,
    distractors: int | None = None,
    depth: bool = False,
) -> SyntheticClip:
    """A clip of ``num_objects`` tracked shapes (ids 1..n, all visible on frame 0).

    ``occlusion=True``: paths cross and ``distractors`` (default: 0 or 1, seeded) enter from the
    edges, so objects hide one another. ``occlusion=False``: no two shapes ever overlap.
    ``depth=True`` adds an aligned depth image per frame: a wall at ~3.5 m and each shape flat,
    facing the camera, at its own distance in 1-3 m (shapes drawn on top are nearer), with the
    camera's intrinsics; the frames and masks are the same as without it.
    """
    if not 1 <= num_objects <= 7:
        raise ValueError(f"num_objects must be 1..7, got {num_objects}")
    rng = np.random.default_rng(seed)
    background = _texture(rng, height, width)
    if distractors is None:
        distractors = int(rng.integers(2)) if occlusion else 0
    for _attempt in range(50):
        kinds = [str(rng.choice(SHAPE_KINDS)) for _ in range(num_objects + distractors)]
        objects = [_new_object(rng, height, width, num_frames, kind) for kind in kinds]
        tracked, extra = objects[:num_objects], objects[num_objects:]
        _place_tracked(rng, tracked, height, width, num_frames, occlusion)
        for obj in extra:
            _place_distractor(rng, obj, height, width, num_frames)
        order = list(rng.permutation(len(objects))) if occlusion else list(range(len(objects)))
        drawn = [objects[i] for i in order]
        # distances from their own generator, so the frames do not depend on depth=True
        near_last = np.sort(np.random.default_rng([seed, _attempt]).uniform(*OBJECT_DEPTHS, len(drawn)))[::-1]
        depths = [float(round(d, 3)) for d in near_last] if depth else None
        frames, owner, overlap, depth_images = _render(drawn, background, num_frames, height, width, depths)
        if not occlusion and overlap:
            continue
        masks = {i + 1: owner == order.index(i) + 1 for i in range(num_objects)}
        min_area = 0.2 * np.pi * (0.12 * min(height, width)) ** 2
        if all(m[0].sum() >= min_area for m in masks.values()):
            kinds_by_id = {i + 1: kinds[i] for i in range(num_objects)}
            if depths is None:
                return SyntheticClip(frames, masks, kinds_by_id)
            object_depth = {i + 1: depths[order.index(i)] for i in range(num_objects)}
            focal = FOCAL_FRACTION * width
            intrinsics = (focal, focal, (width - 1) / 2, (height - 1) / 2)
            return SyntheticClip(frames, masks, kinds_by_id, depth_images, object_depth, intrinsics)
    raise ValueError(f"no valid clip for seed {seed} with {num_objects} objects (occlusion={occlusion})")


def occluded_fraction(clip: SyntheticClip, obj_id: int, frame: int) -> float:
    """Fraction of the object's own frame-0 area that is hidden on ``frame`` (by others or the edge)."""
    full = clip.masks[obj_id][0].sum()
    return float(max(0.0, 1.0 - clip.masks[obj_id][frame].sum() / max(full, 1)))
