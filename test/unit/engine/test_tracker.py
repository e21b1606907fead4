"""Engine API: results, input validation that leaves the state intact, bounded memory."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import InvalidInputError, Sam2Tracker
from sam2_ros.engine.results import mask_statistics
from sam2_ros.engine.runner import ModelRunner


@pytest.fixture(scope="module")
def clip():
    return generate_clip(5, num_frames=12)


@pytest.fixture
def tracker(model_small):
    return Sam2Tracker.from_model_dir(model_small.model_dir, threads=2)


def _prompted(tracker, clip):
    tracker.track(clip.frames[0])
    tracker.add_prompt(1, points=[clip.first_visible_point(1)], labels=[1])
    tracker.add_prompt(2, box=clip.box(2))
    return tracker


def test_frame_result_fields(tracker, clip):
    result = _prompted(tracker, clip).track(clip.frames[1])
    assert result.frame_idx == 1 and result.image_size == (240, 320)
    assert list(result.objects) == [1, 2]
    obj = result.objects[1]
    assert obj.mask.shape == (240, 320) and obj.mask.dtype == bool
    assert obj.low_res_logits.shape == (64, 64)
    assert obj.object_pointer.shape == (256,)
    assert obj.area == int(obj.mask.sum())
    if obj.area:
        x0, y0, x1, y1 = obj.bbox
        assert obj.mask[y0:y1, x0:x1].sum() == obj.area
        assert x0 <= obj.centroid[0] < x1 and y0 <= obj.centroid[1] < y1
    assert obj.present == (obj.object_score > 0)
    assert obj.visible == (obj.present and obj.area > 0)
    assert obj.presence_probability == pytest.approx(1.0 / (1.0 + np.exp(-obj.object_score)))
    assert not obj.prompted and not result.objects[2].prompted
    np.testing.assert_array_equal(obj.mask, obj.mask_logits() > 0.0)
    stages = ("preprocess", "image_encoder", "memory_attention", "mask_decoder", "memory_encoder")
    assert all(result.timings[stage] > 0 for stage in stages), result.timings
    assert result.timings["total"] == pytest.approx(sum(result.timings[stage] for stage in stages))


def test_encoder_runs_once_per_frame_for_all_objects(model_small, clip):
    calls = []
    runner = ModelRunner.load(model_small.model_dir, threads=2)
    encoder = runner.components["image_encoder"]
    original = encoder.run
    encoder.run = lambda feeds: calls.append(1) or original(feeds)
    tracker = Sam2Tracker(runner)
    _prompted(tracker, clip)
    tracker.add_prompt(3, points=[clip.first_visible_point(3)], labels=[1])
    for t in range(1, 4):
        tracker.track(clip.frames[t])
    assert len(calls) == 4


def _snapshot(tracker):
    tracks = {
        obj_id: (
            s.conditioning_frames,
            s.recent_frames,
            None if s.low_res_logits is None else (s.output_frame, s.low_res_logits, s.prompt_points),
        )
        for obj_id, s in ((obj_id, tracker.object_state(obj_id)) for obj_id in tracker.object_ids)
    }
    return tracker.frame_idx, tracker.object_ids, tracks


def _same(a, b):
    assert a[0] == b[0] and a[1] == b[1]
    for obj_id in a[2]:
        (ca, ra, oa), (cb, rb, ob) = a[2][obj_id], b[2][obj_id]
        assert ca == cb and ra == rb
        assert oa[0] == ob[0]
        np.testing.assert_array_equal(oa[1], ob[1])


BAD_IMAGES = [
    ("list", [[1, 2, 3]]),
    ("float image", np.zeros((240, 320, 3), np.float32)),
    ("grey image", np.zeros((240, 320), np.uint8)),
    ("four channels", np.zeros((240, 320, 4), np.uint8)),
    ("empty", np.zeros((0, 320, 3), np.uint8)),
]


@pytest.mark.parametrize("name, image", BAD_IMAGES, ids=[b[0] for b in BAD_IMAGES])
def test_bad_image_is_rejected_and_state_kept(tracker, clip, name, image):
    _prompted(tracker, clip)
    before = _snapshot(tracker)
    with pytest.raises(InvalidInputError):
        tracker.track(image)
    _same(before, _snapshot(tracker))


BAD_PROMPTS = [
    ("empty prompt", {}),
    ("points without labels", {"points": [[10, 10]]}),
    ("labels without points", {"labels": [1]}),
    ("no points", {"points": np.zeros((0, 2)), "labels": []}),
    ("label 2", {"points": [[10, 10]], "labels": [2]}),
    ("label count", {"points": [[10, 10], [20, 20]], "labels": [1]}),
    ("nan point", {"points": [[np.nan, 10]], "labels": [1]}),
    ("inf point", {"points": [[10, np.inf]], "labels": [1]}),
    ("point outside", {"points": [[400, 10]], "labels": [1]}),
    ("negative point", {"points": [[-1, 10]], "labels": [1]}),
    ("box outside", {"box": [0, 0, 330, 100]}),
    ("inverted box", {"box": [100, 100, 50, 150]}),
    ("nan box", {"box": [0, np.nan, 10, 10]}),
    ("short box", {"box": [0, 0, 10]}),
    ("mask wrong size", {"mask": np.ones((100, 100), bool)}),
    ("mask and box", {"mask": np.ones((240, 320), bool), "box": [0, 0, 10, 10]}),
    ("text points", {"points": [["a", "b"]], "labels": [1]}),
]


@pytest.mark.parametrize("name, kwargs", BAD_PROMPTS, ids=[b[0] for b in BAD_PROMPTS])
def test_bad_prompt_is_rejected_and_state_kept(tracker, clip, name, kwargs):
    _prompted(tracker, clip)
    before = _snapshot(tracker)
    with pytest.raises(InvalidInputError):
        tracker.add_prompt(1, **kwargs)
    _same(before, _snapshot(tracker))


def test_rejected_calls_do_not_change_what_follows(model_small, clip):
    """A tracker that saw bad calls tracks exactly like one that did not."""
    clean = _prompted(Sam2Tracker.from_model_dir(model_small.model_dir, threads=2), clip)
    noisy = _prompted(Sam2Tracker.from_model_dir(model_small.model_dir, threads=2), clip)
    for t in range(1, 4):
        for bad in (
            lambda: noisy.add_prompt(1, points=[[999, 999]], labels=[1]),
            lambda: noisy.remove_object(42),
            lambda: noisy.track(np.zeros((4, 4), np.uint8)),
        ):
            with pytest.raises(InvalidInputError):
                bad()
        a, b = clean.track(clip.frames[t]), noisy.track(clip.frames[t])
        for obj_id in a.objects:
            np.testing.assert_array_equal(a.objects[obj_id].low_res_logits, b.objects[obj_id].low_res_logits)


def test_prompt_before_any_frame(tracker):
    with pytest.raises(InvalidInputError, match="call track"):
        tracker.add_prompt(1, points=[[1, 1]], labels=[1])


def test_bad_object_id(tracker, clip):
    tracker.track(clip.frames[0])
    with pytest.raises(InvalidInputError, match="integer"):
        tracker.add_prompt("car", points=[[1, 1]], labels=[1])


def test_remove_unknown_id(tracker, clip):
    _prompted(tracker, clip)
    with pytest.raises(InvalidInputError, match="unknown object id 9"):
        tracker.remove_object(9)
    assert tracker.object_ids == [1, 2]


def test_remove_and_reset(tracker, clip):
    _prompted(tracker, clip)
    tracker.remove_object(1)
    result = tracker.track(clip.frames[1])
    assert list(result.objects) == [2]
    tracker.reset()
    assert tracker.object_ids == [] and tracker.frame_idx == -1
    assert tracker.track(clip.frames[2]).frame_idx == 0


def test_points_accumulate_and_box_replaces(tracker, clip):
    tracker.track(clip.frames[0])
    tracker.add_prompt(1, points=[clip.first_visible_point(1)], labels=[1])
    tracker.add_prompt(1, points=[clip.first_visible_point(2)], labels=[0])
    assert tracker.object_state(1).prompt_labels.tolist() == [1, 0]
    tracker.add_prompt(1, box=clip.box(1))
    assert tracker.object_state(1).prompt_labels.tolist() == [2, 3]


def test_object_state_is_a_read_only_snapshot(tracker, clip):
    _prompted(tracker, clip)
    state = tracker.object_state(1)
    assert state.obj_id == 1 and state.output_frame == 0 and state.prompt_labels.tolist() == [1]
    assert state.memories == ()  # the prompt output joins memory when the next frame arrives
    for array in (state.low_res_logits, state.prompt_points, state.prompt_labels):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.output_frame = 3
    tracker.track(clip.frames[1])
    assert state.output_frame == 0 and state.memories == ()  # a snapshot: later frames leave it alone
    later = tracker.object_state(1)
    assert later.output_frame == 1 and later.conditioning_frames == (0,) and later.recent_frames == (1,)
    assert all(m.has_features for m in later.memories) and later.dropped_conditioning == 0
    assert later.prompt_points is None  # frame 1 was tracked, not prompted
    with pytest.raises(InvalidInputError, match="unknown object id 7"):
        tracker.object_state(7)
    tracker.reset()
    with pytest.raises(InvalidInputError, match="unknown object id 1"):
        tracker.object_state(1)


def test_memory_stays_bounded_on_a_long_stream(tracker, clip):
    _prompted(tracker, clip)
    sizes = []
    for t in range(1, 41):
        tracker.track(clip.frames[t % len(clip.frames)])
        sizes.append(tracker.memory_footprint())
    # the bank fills up within max_obj_ptrs frames, then stays the same size
    assert sizes[20] == sizes[-1]
    assert max(sizes[20:]) == min(sizes[20:])


def test_prompts_land_on_the_frame_named_by_its_key(model_small, clip):
    """Frames named by the caller's keys (e.g. stamps): a prompt at a key equals one by index."""
    by_key = Sam2Tracker.from_model_dir(model_small.model_dir, threads=2, prompt_history=3)
    by_index = by_key.spawn()
    for t in range(4):
        by_key.track(clip.frames[t], key=1000 + 10 * t)
        by_index.track(clip.frames[t])
    assert by_key.cached_keys == [1010, 1020, 1030] and by_index.cached_keys == [1, 2, 3]
    assert by_key.cached_frames == by_index.cached_frames == [1, 2, 3]
    a = by_key.add_prompt(1, points=[clip.first_visible_point(1, 2)], labels=[1], at=1020)
    b = by_index.add_prompt(1, points=[clip.first_visible_point(1, 2)], labels=[1], frame_idx=2)
    assert a.key == 1030 and a.frame_idx == b.frame_idx == 3
    np.testing.assert_array_equal(a.objects[1].low_res_logits, b.objects[1].low_res_logits)
    with pytest.raises(InvalidInputError, match="not cached"):
        by_key.add_prompt(2, box=clip.box(2), at=1000)  # evicted
    with pytest.raises(InvalidInputError, match="not both"):
        by_key.add_prompt(2, box=clip.box(2), at=1030, frame_idx=3)
    assert by_key.object_ids == [1]


def test_results_are_computed_at_full_size_only_when_asked(tracker, clip):
    result = _prompted(tracker, clip).track(clip.frames[1])
    obj = result.objects[1]
    assert "mask" not in obj.__dict__  # nothing full-size was made while tracking
    mask = obj.mask
    assert obj.mask is mask and obj.area == int(mask.sum())
    assert (obj.bbox, obj.area, obj.centroid) == mask_statistics(mask)


def test_label_image_resolves_overlaps_by_logit(tracker, clip):
    """Every pixel goes to the visible object with the highest logit above the threshold (ties: lower id)."""
    _prompted(tracker, clip)
    # a third object prompted over object 1, so masks overlap
    tracker.add_prompt(3, box=clip.box(1))
    for t in range(1, 3):
        result = tracker.track(clip.frames[t])
    labels = result.label_image()
    ids = sorted(i for i, o in result.objects.items() if o.visible)
    logits = np.stack([np.where(result.objects[i].mask, result.objects[i].mask_logits(), -np.inf) for i in ids])
    expected = np.where(np.isfinite(logits.max(axis=0)), np.array(ids, np.uint8)[np.argmax(logits, axis=0)], 0)
    overlap = (np.isfinite(logits).sum(axis=0) > 1).sum()
    assert overlap > 0, "the scenario must have overlapping masks"
    np.testing.assert_array_equal(labels, expected)


def _correct_often(tracker: Sam2Tracker, clip, frames: int) -> list[int]:
    """A click on frame 0, then a correction on every other frame; the footprint after each frame."""
    sizes = []
    tracker.track(clip.frames[0])
    tracker.add_prompt(1, points=[clip.first_visible_point(1)], labels=[1])
    for t in range(1, frames):
        frame = clip.frames[t % len(clip.frames)]
        tracker.track(frame)
        if t % 2 == 0:
            tracker.add_prompt(1, points=[clip.first_visible_point(1, t % len(clip.frames))], labels=[1])
        sizes.append(tracker.memory_footprint())
    return sizes


def test_frequent_corrections_with_a_bound_keep_memory_flat(model_small, clip):
    """With corrections as conditioning frames, memory grows with every correction unless bounded."""
    unbounded = Sam2Tracker.from_model_dir(model_small.model_dir, threads=2, corrections_as_conditioning=True)
    bounded = Sam2Tracker.from_model_dir(
        model_small.model_dir, threads=2, corrections_as_conditioning=True, max_conditioning_frames=3
    )
    grown = _correct_often(unbounded, clip, 40)
    flat = _correct_often(bounded, clip, 40)
    assert len(unbounded.object_state(1).conditioning_frames) == 1 + 19
    assert grown[-1] > grown[20]
    # steady state once the pointer window is full: the same size every other frame
    assert flat[20:30] == flat[-10:], flat
    bank = bounded.object_state(1)
    # 3 whole conditioning frames, older ones only while SAM 2 still uses them as ordinary memory
    assert len(bank.conditioning_frames) <= 3 + bounded.settings.max_obj_ptrs_in_encoder - 1
    assert bank.dropped_conditioning == 1 + 19 - len(bank.conditioning_frames)


def test_correction_options_are_checked_and_spawned(model_small):
    with pytest.raises(ValueError, match="at least 2"):
        Sam2Tracker.from_model_dir(model_small.model_dir, max_conditioning_frames=1)
    base = Sam2Tracker.from_model_dir(
        model_small.model_dir, corrections_as_conditioning=True, max_conditioning_frames=4
    )
    other = base.spawn()
    assert other.corrections_as_conditioning  # the propagator's own flag
    assert other.memory_policy.max_cond_frames == 4
    assert Sam2Tracker.from_model_dir(model_small.model_dir).memory_policy.max_cond_frames == -1
