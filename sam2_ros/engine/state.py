"""What the tracker remembers: per frame the image encoding, per object its memory and output."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from sam2_ros.engine.memory import MemoryBank


@dataclass(frozen=True)
class FrameFeatures:
    """Image-encoder outputs of one frame (shared by all objects)."""

    frame_idx: int
    image_size: tuple[int, int]  # (height, width) of the input image
    high_res_0: np.ndarray
    high_res_1: np.ndarray
    embeddings: np.ndarray  # [1, C, e, e]
    pos: np.ndarray  # [1, C, e, e]


@dataclass(frozen=True)
class ObjectOutput:
    """An object's output on one frame, before it is written to memory."""

    frame_idx: int
    low_res_logits: np.ndarray  # [S/4, S/4], already NO_OBJ_SCORE-gated
    predicted_iou: float
    object_pointer: np.ndarray
    object_score: float
    prompted: bool  # from a prompt (memory encoded on the next frame, binarised)
    conditioning: bool  # stored as a conditioning frame
    points: np.ndarray | None = None  # accumulated prompt points on this frame (model pixels)
    labels: np.ndarray | None = None


@dataclass(frozen=True)
class ObjectTrack:
    """One object after one frame: its memory bank and its output there."""

    obj_id: int
    bank: MemoryBank = field(default_factory=MemoryBank)
    output: ObjectOutput | None = None
    tracked_frame: int = -1  # the frame this object was last tracked (not prompted) on
    conditioned: np.ndarray | None = None  # memory-conditioned embedding of tracked_frame


@dataclass(frozen=True)
class FrameState:
    """One cached frame: its caller's key, its encoding and every object's state after it."""

    key: Hashable
    features: FrameFeatures
    tracks: dict[int, ObjectTrack]
