"""Per-object memory: what is stored, and the policy that decides what of it is used and kept.

:class:`MemoryPolicy` reproduces SAM 2's choice in
``SAM2Base._prepare_memory_conditioned_features`` (forward, streaming tracking): conditioning
frames (prompted frames) first with temporal position 0, then the last ``num_maskmem - 1``
frames (with the temporal stride), then object pointers from conditioning frames and from the
last ``max_obj_ptrs - 1`` frames. It also prunes what no later frame can select, which keeps a
bank's size bounded. Packing the chosen memories into tensors is the model runner's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sam2_ros.engine.manifest import ModelSettings


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


@dataclass(frozen=True)
class MemoryPolicy:
    """SAM 2's memory settings, built once per model; selects and prunes a bank's memories."""

    num_maskmem: int
    max_obj_ptrs: int
    max_cond_frames: int = -1
    temporal_stride: int = 1
    only_past_pointers: bool = True
    signed_pointer_distance: bool = True

    @classmethod
    def from_settings(cls, settings: ModelSettings, max_cond_frames: int | None = None) -> MemoryPolicy:
        """The policy of a model directory's settings.

        ``max_cond_frames`` overrides the model's ``max_cond_frames_in_attn`` (None keeps it;
        -1 is no bound; SAM 2 needs at least 2 otherwise).
        """
        if max_cond_frames is None:
            max_cond_frames = settings.max_cond_frames_in_attn
        if max_cond_frames != -1 and max_cond_frames < 2:
            raise ValueError(f"max_cond_frames must be -1 (no bound) or at least 2, got {max_cond_frames}")
        return cls(
            num_maskmem=settings.num_maskmem,
            max_obj_ptrs=settings.max_obj_ptrs_in_encoder,
            max_cond_frames=int(max_cond_frames),
            temporal_stride=settings.memory_temporal_stride_for_eval,
            only_past_pointers=settings.only_obj_ptrs_in_the_past_for_eval,
            signed_pointer_distance=settings.use_signed_tpos_enc_to_obj_ptrs,
        )

    def memory_frame(self, frame_idx: int, t_rel: int) -> int:
        """The frame whose memory sits ``t_rel`` steps back from ``frame_idx`` (with the stride)."""
        if t_rel == 1:
            return frame_idx - 1
        stride = self.temporal_stride
        return ((frame_idx - 2) // stride) * stride - (t_rel - 2) * stride

    def select(self, frame_idx: int, bank: MemoryBank) -> MemorySelection:
        """The memories and pointers of ``bank`` that condition ``frame_idx``."""
        return self.select_frames(frame_idx, list(bank.conditioning), set(bank.recent), bank.dropped_conditioning)

    def select_frames(
        self,
        frame_idx: int,
        cond_frames: list[int],
        non_cond_frames: set[int] | list[int],
        dropped_conditioning: int = 0,
    ) -> MemorySelection:
        """:meth:`select` on frame indices: conditioning frames (in order) and other frames."""
        non_cond = set(non_cond_frames)
        selected, unselected = select_closest_conditioning(
            frame_idx, cond_frames, self.max_cond_frames, dropped_conditioning
        )
        unselected_set = set(unselected)
        spatial = [(t, 0) for t in selected]
        for t_pos in range(1, self.num_maskmem):
            prev = self.memory_frame(frame_idx, self.num_maskmem - t_pos)
            if prev in non_cond or prev in unselected_set:
                spatial.append((prev, t_pos))
        pointer_cond = [t for t in selected if t <= frame_idx] if self.only_past_pointers else list(selected)
        signed = self.signed_pointer_distance
        pointers = [(t, (frame_idx - t) if signed else abs(frame_idx - t)) for t in pointer_cond]
        for t_diff in range(1, self.max_obj_ptrs):
            t = frame_idx - t_diff
            if t < 0:
                break
            if t in non_cond or t in unselected_set:
                pointers.append((t, t_diff))
        return MemorySelection(tuple(spatial), tuple(pointers))

    def prune(self, bank: MemoryBank, next_frame: int) -> MemoryBank:
        """``bank`` without what no frame from ``next_frame`` on can select (bounded size)."""
        oldest_spatial = min(self.memory_frame(next_frame, self.num_maskmem - 1), next_frame - 1)
        oldest_pointer = next_frame - (self.max_obj_ptrs - 1)
        cond_order = sorted(bank.conditioning)
        keep_cond = set(cond_order if self.max_cond_frames == -1 else cond_order[-self.max_cond_frames :])

        def trim(mem: FrameMemory) -> FrameMemory | None:
            if mem.frame_idx < min(oldest_spatial, oldest_pointer):
                return None
            if mem.frame_idx < oldest_spatial and mem.features is not None:
                return FrameMemory(mem.frame_idx, None, mem.object_pointer, mem.object_score)
            return mem

        recent = {t: m for t, m in ((t, trim(m)) for t, m in bank.recent.items()) if m is not None}
        cond: dict[int, FrameMemory] = {}
        for t, mem in bank.conditioning.items():
            kept = mem if t in keep_cond else trim(mem)
            if kept is not None:
                cond[t] = kept
        dropped = bank.dropped_conditioning + len(bank.conditioning) - len(cond)
        return MemoryBank(cond, recent, dropped)
