"""Per-object memory: what is stored, and which of it feeds memory attention on a frame.

:func:`select_memories` is a pure function reproducing SAM 2's choice in
``SAM2Base._prepare_memory_conditioned_features`` (for forward, streaming tracking):
conditioning frames (prompted frames) first with temporal position 0, then the last
``num_maskmem - 1`` frames, then object pointers from conditioning frames and from the last
``max_obj_ptrs - 1`` frames. Packing the chosen memories into tensors is the tracker's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FrameMemory:
    """What one object left in memory on one frame."""

    frame_idx: int
    features: np.ndarray | None  # [HW, mem_dim] bfloat16 bits (uint16); None once too old
    object_pointer: np.ndarray  # [hidden_dim] float32
    object_score: float


@dataclass(frozen=True)
class MemorySelection:
    """Memories for one frame: spatial ``(frame, t_pos)`` and pointer ``(frame, distance)``."""

    spatial: tuple[tuple[int, int], ...]
    pointers: tuple[tuple[int, int], ...]


def select_closest_conditioning(
    frame_idx: int, cond_frames: list[int], max_cond: int, dropped: int = 0
) -> tuple[list[int], list[int]]:
    """SAM 2's ``select_closest_cond_frames``: (selected, unselected) frame indices, in order.

    ``dropped`` counts older conditioning frames already discarded (they can never be
    selected again, but SAM 2's choice depends on how many there are).
    """
    if max_cond == -1 or len(cond_frames) + dropped <= max_cond:
        return list(cond_frames), []
    selected: list[int] = []
    before = [t for t in cond_frames if t < frame_idx]
    after = [t for t in cond_frames if t >= frame_idx]
    if before:
        selected.append(max(before))
    if after:
        selected.append(min(after))
    remaining = sorted((t for t in cond_frames if t not in selected), key=lambda t: abs(t - frame_idx))
    selected.extend(remaining[: max_cond - len(selected)])
    return selected, [t for t in cond_frames if t not in selected]


def select_memories(
    frame_idx: int,
    cond_frames: list[int],
    non_cond_frames: set[int] | list[int],
    *,
    num_maskmem: int,
    max_obj_ptrs: int,
    max_cond_frames: int = -1,
    temporal_stride: int = 1,
    only_past_pointers: bool = True,
    signed_pointer_distance: bool = True,
    dropped_conditioning: int = 0,
) -> MemorySelection:
    """Choose the memories and pointers that condition ``frame_idx`` (tracking forward)."""
    non_cond = set(non_cond_frames)
    selected, unselected = select_closest_conditioning(frame_idx, cond_frames, max_cond_frames, dropped_conditioning)
    unselected_set = set(unselected)
    spatial = [(t, 0) for t in selected]
    for t_pos in range(1, num_maskmem):
        t_rel = num_maskmem - t_pos
        if t_rel == 1:
            prev = frame_idx - 1
        else:
            prev = ((frame_idx - 2) // temporal_stride) * temporal_stride - (t_rel - 2) * temporal_stride
        if prev in non_cond or prev in unselected_set:
            spatial.append((prev, t_pos))
    pointer_cond = [t for t in selected if t <= frame_idx] if only_past_pointers else list(selected)
    pointers = [((t), (frame_idx - t) if signed_pointer_distance else abs(frame_idx - t)) for t in pointer_cond]
    for t_diff in range(1, max_obj_ptrs):
        t = frame_idx - t_diff
        if t < 0:
            break
        if t in non_cond or t in unselected_set:
            pointers.append((t, t_diff))
    return MemorySelection(tuple(spatial), tuple(pointers))


@dataclass
class MemoryBank:
    """One object's memories: conditioning frames (kept) and recent frames (bounded)."""

    conditioning: dict[int, FrameMemory] = field(default_factory=dict)
    recent: dict[int, FrameMemory] = field(default_factory=dict)
    dropped_conditioning: int = 0  # conditioning frames discarded as never selectable again

    def get(self, frame_idx: int) -> FrameMemory:
        """The memory of ``frame_idx`` (recent first, as SAM 2 looks it up)."""
        if frame_idx in self.recent:
            return self.recent[frame_idx]
        return self.conditioning[frame_idx]

    def with_memory(self, memory: FrameMemory, conditioning: bool) -> MemoryBank:
        """A new bank with ``memory`` stored (replacing any memory of the same frame)."""
        cond, recent = dict(self.conditioning), dict(self.recent)
        if conditioning:
            cond[memory.frame_idx] = memory
            recent.pop(memory.frame_idx, None)
        else:
            recent[memory.frame_idx] = memory
        return MemoryBank(cond, recent, self.dropped_conditioning)

    def pruned(
        self,
        next_frame: int,
        *,
        num_maskmem: int,
        max_obj_ptrs: int,
        max_cond_frames: int,
        temporal_stride: int,
    ) -> MemoryBank:
        """Drop what no future frame can select; keeps the bank's size bounded."""
        oldest_spatial = ((next_frame - 2) // temporal_stride) * temporal_stride - (num_maskmem - 3) * temporal_stride
        oldest_spatial = min(oldest_spatial, next_frame - 1)
        oldest_pointer = next_frame - (max_obj_ptrs - 1)
        cond_order = sorted(self.conditioning)
        keep_cond = set(cond_order if max_cond_frames == -1 else cond_order[-max_cond_frames:])

        def trim(mem: FrameMemory) -> FrameMemory | None:
            if mem.frame_idx < min(oldest_spatial, oldest_pointer):
                return None
            if mem.frame_idx < oldest_spatial and mem.features is not None:
                return FrameMemory(mem.frame_idx, None, mem.object_pointer, mem.object_score)
            return mem

        recent = {t: m for t, m in ((t, trim(m)) for t, m in self.recent.items()) if m is not None}
        cond: dict[int, FrameMemory] = {}
        for t, mem in self.conditioning.items():
            if t in keep_cond:
                cond[t] = mem
            else:
                trimmed = trim(mem)
                if trimmed is not None:
                    cond[t] = trimmed
        dropped = self.dropped_conditioning + len(self.conditioning) - len(cond)
        return MemoryBank(cond, recent, dropped)
