"""What the tracker remembers: per frame the image encoding, per object its memory and output.

:class:`ObjectSnapshot` is the read-only view of one object's state that the tracker hands out
(``Sam2Tracker.object_state``): copies, never the state itself.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from sam2_ros.engine.memory import FrameMemory, MemoryBank


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


def _read_only(array: np.ndarray | None) -> np.ndarray | None:
    """A copy of ``array`` that cannot be written to (None stays None)."""
    if array is None:
        return None
    copy = np.array(array)
    copy.setflags(write=False)
    return copy


@dataclass(frozen=True)
class StoredMemory:
    """One memory in an object's bank, as :class:`ObjectSnapshot` lists it."""

    frame_idx: int
    conditioning: bool  # a conditioning (prompted) frame; False: a recent frame
    feature_shape: tuple[int, ...] | None  # the mask memory's [tokens, mem_dim]; None: only its pointer is kept
    object_score: float

    @property
    def has_features(self) -> bool:
        """Whether its mask memory is still kept (not only its object pointer)."""
        return self.feature_shape is not None

    @classmethod
    def of(cls, memory: FrameMemory, conditioning: bool) -> StoredMemory:
        """The description of ``memory``."""
        shape = None if memory.features is None else tuple(memory.features.shape)
        return cls(memory.frame_idx, conditioning, shape, memory.object_score)


@dataclass(frozen=True)
class ObjectSnapshot:
    """One object's state after the newest frame: its memory bank and its output (read-only copies)."""

    obj_id: int
    memories: tuple[StoredMemory, ...]  # conditioning frames, then recent frames, each in the order stored
    dropped_conditioning: int  # conditioning frames discarded as never selectable again
    output_frame: int  # the frame of its output (-1: none)
    low_res_logits: np.ndarray | None  # its output's [S/4, S/4] mask logits
    prompt_points: np.ndarray | None  # the prompt points on the output's frame (model pixels), if prompted there
    prompt_labels: np.ndarray | None  # their labels (2 and 3: a box's corners)

    @property
    def conditioning_frames(self) -> tuple[int, ...]:
        """The conditioning frames in memory, in the order stored."""
        return tuple(m.frame_idx for m in self.memories if m.conditioning)

    @property
    def recent_frames(self) -> tuple[int, ...]:
        """The recent (tracked) frames in memory, in the order stored."""
        return tuple(m.frame_idx for m in self.memories if not m.conditioning)

    @classmethod
    def of(cls, track: ObjectTrack) -> ObjectSnapshot:
        """The snapshot of ``track``."""
        bank, out = track.bank, track.output
        memories = tuple(
            [StoredMemory.of(m, conditioning=True) for m in bank.conditioning.values()]
            + [StoredMemory.of(m, conditioning=False) for m in bank.recent.values()]
        )
        return cls(
            track.obj_id,
            memories,
            bank.dropped_conditioning,
            -1 if out is None else out.frame_idx,
            None if out is None else _read_only(out.low_res_logits),
            None if out is None else _read_only(out.points),
            None if out is None else _read_only(out.labels),
        )
