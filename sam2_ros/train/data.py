"""Training batches from the synthetic generator, in the layout Meta's SAM 2 trainer uses.

Each batch is a ``training.utils.data_utils.BatchedVideoDatapoint`` (built with Meta's own
``collate_fn``): frames resized to the model's square input with the engine's resize and
normalised with ImageNet statistics, plus one visible mask per tracked object and frame.
Clips are rendered with a random aspect ratio, then squashed to a square like the engine does
with camera frames. Seeds are derived from the step, so a resumed run sees the same data.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable

import numpy as np
from PIL import Image

from sam2_ros.clips.synthetic import generate_clip

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)

# Training clips use seeds from here up; evaluation, tests and the demo use seeds below it.
TRAIN_SEED_BASE = 1_000_000


def _to_model_input(frame: np.ndarray, size: int) -> np.ndarray:
    """HxWx3 uint8 -> 3 x size x size float32, resized as the engine does, then normalised."""
    resized = np.asarray(Image.fromarray(frame).resize((size, size), Image.BILINEAR), np.float32) / 255.0
    return ((resized - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)


def _resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.BILINEAR)) >= 128


def sample_clip(seed: int, num_frames: int, size: int, occlusion_prob: float = 0.7):
    """(frames T x 3 x S x S, masks {id: T x S x S bool}) of one seeded training clip."""
    rng = np.random.default_rng(seed)
    height = size
    width = int(size * rng.uniform(1.0, 1.5))
    occlusion = bool(rng.random() < occlusion_prob)
    num_objects = int(rng.integers(1, 5)) if occlusion else int(rng.integers(1, 3))
    clip = generate_clip(seed, num_frames=num_frames, height=height, width=width,
                         num_objects=num_objects, occlusion=occlusion)  # fmt: skip
    frames = np.stack([_to_model_input(f, size) for f in clip.frames])
    masks = {obj_id: np.stack([_resize_mask(m, size) for m in mask]) for obj_id, mask in clip.masks.items()}
    # only objects that are clearly visible on frame 0 can be prompted there
    masks = {k: v for k, v in masks.items() if v[0].sum() >= 16}
    return frames, masks


def make_batch(step: int, batch_size: int, num_frames: int, size: int, occlusion_prob: float = 0.7,
               dict_key: str = "synthetic"):  # fmt: skip
    """One ``BatchedVideoDatapoint`` of ``batch_size`` clips of ``num_frames`` frames; each clip
    has crossing (occluding) objects with probability ``occlusion_prob``."""
    import torch
    from training.utils.data_utils import Frame, Object, VideoDatapoint, collate_fn

    videos = []
    for i in range(batch_size):
        seed = TRAIN_SEED_BASE + step * batch_size + i
        frames, masks = sample_clip(seed, num_frames, size, occlusion_prob)
        while not masks:  # every clip needs at least one promptable object
            seed += 7919
            frames, masks = sample_clip(seed, num_frames, size, occlusion_prob)
        video_frames = [
            Frame(
                data=torch.from_numpy(frames[t]),
                objects=[Object(object_id=k, frame_index=t, segment=torch.from_numpy(masks[k][t])) for k in masks],
            )
            for t in range(num_frames)
        ]
        videos.append(VideoDatapoint(frames=video_frames, video_id=seed, size=(size, size)))
    return collate_fn(videos, dict_key=dict_key)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


class BatchPrefetcher:
    """Batches for consecutive steps, made ``depth`` steps ahead by ``workers`` processes while the
    model trains (``workers=0``: made in this process, when asked). ``batch_args(step)`` gives
    the arguments of ``make`` (a module-level function; ``make_batch`` by default), so the
    batches are the same either way."""

    def __init__(self, batch_args: Callable[[int], tuple], workers: int = 0, depth: int | None = None,
                 make: Callable = make_batch):  # fmt: skip
        self.batch_args = batch_args
        self.make = make
        self.depth = depth or 2 * workers
        self.pending: deque = deque()
        self.pool = mp.get_context("spawn").Pool(workers, initializer=_one_thread) if workers > 0 else None

    def get(self, step: int):
        """The batch of ``step`` (steps must be asked for in order)."""
        if self.pool is None:
            return self.make(*self.batch_args(step))
        if self.pending and self.pending[0][0] != step:
            self.pending.clear()  # asked out of order: start again from here
        next_step = self.pending[-1][0] + 1 if self.pending else step
        while len(self.pending) < self.depth:
            self.pending.append((next_step, self.pool.apply_async(self.make, self.batch_args(next_step))))
            next_step += 1
        return self.pending.popleft()[1].get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
