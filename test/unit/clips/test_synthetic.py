"""The synthetic video generator: seeded, promptable on frame 0, clean and occluded variants."""

import numpy as np
import pytest

from sam2_ros.clips.synthetic import SHAPE_KINDS, generate_clip, occluded_fraction


def test_same_seed_same_clip_and_different_seed_different_clip():
    a, b = generate_clip(3, num_frames=6), generate_clip(3, num_frames=6)
    assert np.array_equal(a.frames, b.frames)
    assert all(np.array_equal(a.masks[k], b.masks[k]) for k in a.masks)
    assert not np.array_equal(a.frames, generate_clip(4, num_frames=6).frames)


@pytest.mark.parametrize("occlusion", [True, False])
def test_every_object_is_promptable_on_frame_0(occlusion):
    for seed in range(6):
        clip = generate_clip(seed, num_frames=8, height=120, width=160, num_objects=2, occlusion=occlusion)
        assert sorted(clip.masks) == [1, 2]
        for obj_id, masks in clip.masks.items():
            assert masks.shape == (8, 120, 160)
            x, y = clip.first_visible_point(obj_id)
            assert masks[0][int(y), int(x)]
            x0, y0, x1, y1 = clip.box(obj_id)
            assert masks[0][int(y0) : int(y1), int(x0) : int(x1)].sum() == masks[0].sum()


def test_occluded_clips_hide_objects_and_clean_clips_do_not_overlap():
    hidden = [
        max(occluded_fraction(clip, k, t) for k in clip.masks for t in range(len(clip.frames)))
        for clip in (generate_clip(s, num_frames=16, height=120, width=160, num_objects=3) for s in range(8))
    ]
    assert sum(h > 0.3 for h in hidden) >= 4, hidden
    for seed in range(4):
        clip = generate_clip(seed, num_frames=16, height=120, width=160, num_objects=2, occlusion=False)
        # no overlap: the union of the visible masks never hides part of a shape that is inside the frame
        touching = clip.masks[1] & np.roll(clip.masks[2], 1, axis=2)
        assert not touching[:, :, 1:].any()


def test_shapes_vary():
    kinds = {kind for s in range(10) for kind in generate_clip(s, num_frames=1, height=60, width=80).kinds.values()}
    assert kinds == set(SHAPE_KINDS)


def test_bad_object_count_is_refused():
    with pytest.raises(ValueError, match="num_objects"):
        generate_clip(0, num_objects=0)
