"""The memory policy: SAM 2's selection, its temporal stride, and the bank's bounds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sam2_ros.engine.memory import FrameMemory, MemoryBank, MemoryPolicy, select_closest_conditioning


def test_conditioning_selection_matches_sam2():
    from sam2.modeling.sam2_utils import select_closest_cond_frames

    rng = random.Random(0)
    for _ in range(300):
        frames = sorted(rng.sample(range(60), rng.randint(1, 8)))
        frame_idx = rng.randint(0, 70)
        max_cond = rng.choice([-1, 2, 3, 4])
        sel, unsel = select_closest_conditioning(frame_idx, frames, max_cond)
        ref_sel, ref_unsel = select_closest_cond_frames(frame_idx, {t: t for t in frames}, max_cond)
        assert sel == list(ref_sel) and unsel == list(ref_unsel)


def test_selection_on_a_long_stream():
    # object prompted on frame 0, tracked every frame since; now on frame 30
    sel = MemoryPolicy(num_maskmem=7, max_obj_ptrs=16).select_frames(30, [0], set(range(1, 30)))
    assert sel.spatial == ((0, 0), (24, 1), (25, 2), (26, 3), (27, 4), (28, 5), (29, 6))
    assert sel.pointers[0] == (0, 30)
    assert [t for t, _ in sel.pointers[1:]] == list(range(29, 14, -1))
    assert [d for _, d in sel.pointers[1:]] == list(range(1, 16))


def test_selection_right_after_the_prompt():
    sel = MemoryPolicy(num_maskmem=7, max_obj_ptrs=16).select_frames(1, [0], set())
    assert sel.spatial == ((0, 0),)
    assert sel.pointers == ((0, 1),)


def test_selection_with_temporal_stride():
    sel = MemoryPolicy(num_maskmem=4, max_obj_ptrs=4, temporal_stride=5).select_frames(20, [0], set(range(1, 20)))
    # t_rel 3 -> ((20-2)//5)*5 - 5 = 10; t_rel 2 -> 15; t_rel 1 -> 19
    assert sel.spatial == ((0, 0), (10, 1), (15, 2), (19, 3))


def test_unselected_conditioning_frame_serves_as_recent_memory():
    # frames 1, 2, 3 prompted; only the 2 closest are conditioning memories on frame 4,
    # but frame 1 is recent enough to be attended as an ordinary memory and pointer
    sel = MemoryPolicy(num_maskmem=4, max_obj_ptrs=4, max_cond_frames=2).select_frames(4, [1, 2, 3], {0})
    assert sel.spatial == ((3, 0), (2, 0), (1, 1))
    assert sel.pointers == ((3, 1), (2, 2), (1, 3))


def _mem(t: int) -> FrameMemory:
    return FrameMemory(t, np.zeros((4, 2), np.uint16), np.zeros(8, np.float32), 1.0)


@pytest.mark.parametrize("max_cond", [-1, 2])
def test_bank_stays_bounded(max_cond):
    policy = MemoryPolicy(num_maskmem=7, max_obj_ptrs=16, max_cond_frames=max_cond)
    bank = MemoryBank()
    for t in range(200):
        bank = policy.prune(bank, t)
        bank = bank.with_memory(_mem(t), conditioning=(t % 50 == 0))
        # every memory the next frame selects is still there
        sel = policy.select(t + 1, bank)
        prompted = list(range(0, t + 1, 50))
        full = policy.select_frames(t + 1, prompted, set(range(t + 1)) - set(prompted))
        assert sel == full
        for frame, _ in sel.spatial:
            assert bank.get(frame).features is not None
    assert len(bank.recent) <= 16
    assert sum(m.features is not None for m in bank.recent.values()) <= 7


@pytest.mark.parametrize("stride", [1, 2, 5])
def test_pruning_keeps_what_selection_can_reach(stride):
    """One stride formula: pruning never drops features a later frame selects, and keeps few others."""
    policy = MemoryPolicy(num_maskmem=4, max_obj_ptrs=6, temporal_stride=stride)
    bank = MemoryBank()
    for t in range(60):
        bank = policy.prune(bank, t)
        with_features = {f for f, m in bank.recent.items() if m.features is not None}
        reachable = set()
        for later in range(t, t + 3 * stride + 8):
            reachable |= {f for f, _ in policy.select_frames(later, [], set(range(t))).spatial}
        assert reachable & set(range(t)) <= with_features
        assert len(with_features) <= (policy.num_maskmem - 1) * stride + 1
        bank = bank.with_memory(_mem(t), conditioning=False)
