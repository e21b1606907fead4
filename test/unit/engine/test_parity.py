"""Parity of the streaming engine with Meta's official ``SAM2VideoPredictor``.

Both run the same seeded random checkpoint (memory-path parameters enlarged, so glue
mistakes are visible), the same synthetic clip and the same prompts. The official predictor
is driven as a stream: it tracks one frame at a time and prompts land only on frames it has
reached. After every step, for every object: low-res mask logits and object pointers agree
within 1e-4 (absolute) and the visible/occluded decision is identical.
"""

from __future__ import annotations

import pytest
from parity_harness import ParityRecord, _compare, run_scenario, tracker_with_a_glue_mistake

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import InvalidInputError, ObjectSnapshot, Sam2Tracker
from sam2_ros.engine.memory import MemorySelection
from sam2_ros.evaluation.reference import OfficialStream, build_official_predictor


@pytest.fixture(scope="module")
def clip():
    return generate_clip(1, num_frames=24)


def test_positive_click(model_small, clip, tmp_path):
    p = clip.first_visible_point(1)
    record = run_scenario(model_small, 8, {0: [("points", 1, [p], [1])]}, tmp_path=tmp_path)
    assert record.steps == 9


def test_box(model_small, clip, tmp_path):
    record = run_scenario(model_small, 8, {0: [("box", 2, clip.box(2))]}, tmp_path=tmp_path)
    assert record.steps == 9


def test_clicks_with_negatives(model_small, clip, tmp_path):
    pos, neg = clip.first_visible_point(1), clip.first_visible_point(2)
    script = {
        0: [
            ("points", 1, [pos, neg], [1, 0]),
            # a second click on the same frame adds to the first ones
            ("points", 1, [clip.first_visible_point(3)], [0], True),
        ]
    }
    run_scenario(model_small, 8, script, tmp_path=tmp_path)


def test_three_objects(model_small, clip, tmp_path):
    script = {
        0: [
            ("points", 1, [clip.first_visible_point(1)], [1]),
            ("box", 2, clip.box(2)),
            ("points", 3, [clip.first_visible_point(3), clip.first_visible_point(1)], [1, 0]),
        ]
    }
    record = run_scenario(model_small, 8, script, tmp_path=tmp_path)
    assert {obj for _, obj, _ in record.decisions} == {1, 2, 3}


def test_refinement_click_on_later_frame(model_small, clip, tmp_path):
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1])],
        4: [("points", 1, [clip.first_visible_point(2, 4)], [0])],
        5: [("box", 1, clip.box(1, 5))],
    }
    run_scenario(model_small, 10, script, tmp_path=tmp_path)


def test_object_added_mid_stream(model_small, clip, tmp_path):
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1])],
        5: [("box", 2, clip.box(2, 5))],
    }
    record = run_scenario(model_small, 10, script, tmp_path=tmp_path)
    assert min(frame for frame, obj, _ in record.decisions if obj == 2) == 5


def test_object_removed(model_small, clip, tmp_path):
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1]), ("box", 2, clip.box(2))],
        4: [("remove", 1)],
    }
    record = run_scenario(model_small, 9, script, tmp_path=tmp_path)
    assert max(frame for frame, obj, _ in record.decisions if obj == 1) == 4


def test_mask_prompt(model_small, clip, tmp_path):
    script = {
        0: [("mask", 1, clip.masks[1][0])],
        3: [("points", 1, [clip.first_visible_point(1, 3)], [1])],
    }
    run_scenario(model_small, 8, script, tmp_path=tmp_path)


def test_occluded_path(model_small_occluded, clip, tmp_path):
    """Object scores forced negative: masks are NO_OBJ_SCORE and pointers the no-object ones.

    The mask-prompted object starts visible (a mask prompt sets its score to +10) and turns
    occluded when tracked, so both decisions and the transition are covered.
    """
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1]), ("mask", 2, clip.masks[2][0])],
    }
    record = run_scenario(model_small_occluded, 8, script, tmp_path=tmp_path)
    decisions = {(frame, obj): visible for frame, obj, visible in record.decisions}
    assert decisions[(0, 2)] is True
    assert not any(visible for (frame, obj), visible in decisions.items() if frame > 0)


def test_long_stream_overflows_memory_bank(model_small, clip, tmp_path):
    """24 frames: more than 7 mask memories and 16 object pointers are produced."""
    engine = Sam2Tracker.from_model_dir(model_small.model_dir, threads=2)
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1])],
        2: [("box", 2, clip.box(2, 2))],
    }
    run_scenario(model_small, 24, script, tmp_path=tmp_path, tracker=engine)
    s = engine.settings
    for obj_id in (1, 2):
        bank = engine.object_state(obj_id)
        recent_with_features = [m for m in bank.memories if not m.conditioning and m.has_features]
        assert len(bank.conditioning_frames) == 1
        # the current frame plus the num_maskmem - 1 frames the next frame can attend to
        assert len(recent_with_features) == s.num_maskmem
        # the current frame plus the max_obj_ptrs - 1 frames the next frame can point to
        assert len(bank.recent_frames) == s.max_obj_ptrs_in_encoder


def test_native_1024(model_1024, clip, tmp_path):
    """The model's native size, on a short stream (the official predictor takes ~5 s a frame)."""
    script = {0: [("points", 1, [clip.first_visible_point(1)], [1])], 1: [("box", 2, clip.box(2, 1))]}
    record = run_scenario(model_1024, 3, script, tmp_path=tmp_path)
    assert record.steps == 5


def test_parity_detects_a_glue_mistake(model_small, clip, tmp_path):
    """The comparison can fail: an off-by-one temporal encoding is caught."""
    engine = tracker_with_a_glue_mistake(model_small.model_dir)
    with pytest.raises(AssertionError, match="differ"):
        run_scenario(
            model_small, 6, {0: [("points", 1, [clip.first_visible_point(1)], [1])]}, tmp_path=tmp_path, tracker=engine
        )


def test_late_prompt_lands_on_its_cached_frame(model_small, clip, tmp_path):
    """A prompt made on frame 2 but delivered after frame 4 equals one delivered in time."""
    engine = Sam2Tracker.from_model_dir(model_small.model_dir, threads=2, prompt_history=4)
    predictor = build_official_predictor(model_small.checkpoint, image_size=model_small.image_size)
    frames = clip.frames
    stream = OfficialStream(predictor, frames, workdir=tmp_path)
    record = ParityRecord()
    try:
        for t in range(8):
            got, ref = engine.track(frames[t]), stream.track()
            if t == 0:
                engine.add_prompt(1, points=[clip.first_visible_point(1)], labels=[1])
                stream.add_points(1, points=[clip.first_visible_point(1)], labels=[1])
            if t == 2:  # the official predictor gets the prompts on time
                ref = stream.add_points(2, box=clip.box(2, 2))
                ref = stream.add_points(1, points=[clip.first_visible_point(3, 2)], labels=[0])
            if t == 4:  # the engine gets them two frames late, stamped with frame 2
                assert engine.cached_frames == [1, 2, 3, 4]
                engine.add_prompt(2, box=clip.box(2, 2), frame_idx=2)
                got = engine.add_prompt(1, points=[clip.first_visible_point(3, 2)], labels=[0], frame_idx=2)
            if t >= 4:
                _compare(f"frame {t}", t, got, ref, record)
    finally:
        stream.close()
    with pytest.raises(InvalidInputError, match="not cached"):
        engine.add_prompt(2, box=clip.box(2, 2), frame_idx=2)


def _selection(tracker: Sam2Tracker, bank: ObjectSnapshot, frame_idx: int) -> MemorySelection:
    """The memories of ``bank`` that the tracker's policy selects for ``frame_idx``."""
    conditioning, recent = list(bank.conditioning_frames), set(bank.recent_frames)
    return tracker.memory_policy.select_frames(frame_idx, conditioning, recent, bank.dropped_conditioning)


def _official_cond_frames(stream: OfficialStream, obj_id: int) -> set[int]:
    """The official predictor's conditioning frames of ``obj_id``."""
    idx = stream.state["obj_id_to_idx"][obj_id]
    return set(stream.state["output_dict_per_obj"][idx]["cond_frame_outputs"])


@pytest.mark.parametrize("as_conditioning", [True, False])
def test_correction_persists_as_conditioning_frame(model_small, clip, tmp_path, as_conditioning):
    """``corrections_as_conditioning`` equals Meta's ``add_all_frames_to_correct_as_cond``.

    A correction on tracked frame 3 stays in the conditioning set (attended at temporal
    position 0) 8 frames later with the option on; with it off (both sides' default) it is an
    ordinary frame whose mask memory has left the bank after 6 frames.
    """
    correction, last = 3, 11
    engine = Sam2Tracker.from_model_dir(model_small.model_dir, threads=2, corrections_as_conditioning=as_conditioning)
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1])],
        correction: [("points", 1, [clip.first_visible_point(2, correction)], [0])],
    }
    seen: dict[int, tuple[set[int], set[int]]] = {}

    def conditioning_sets(t: int, tracker: Sam2Tracker, stream: OfficialStream) -> None:
        seen[t] = (set(tracker.object_state(1).conditioning_frames), _official_cond_frames(stream, 1))

    record = run_scenario(
        model_small,
        last + 1,
        script,
        tmp_path=tmp_path,
        tracker=engine,
        official_options={"add_all_frames_to_correct_as_cond": as_conditioning},
        after_frame=conditioning_sets,
    )
    assert record.steps == last + 1 + 2
    expected = {0, correction} if as_conditioning else {0}
    for t in range(correction + 1, last + 1):
        assert seen[t][0] == seen[t][1] == expected, f"frame {t}: conditioning frames differ"
    bank = engine.object_state(1)
    selection = _selection(engine, bank, last + 1)
    assert last - correction >= 7
    if as_conditioning:
        assert (correction, 0) in selection.spatial
    else:
        assert correction not in {t for t, _ in selection.spatial}
        recent = {m.frame_idx: m for m in bank.memories if not m.conditioning}
        assert not recent[correction].has_features


def test_frequent_corrections_keep_conditioning_bounded(model_small, clip, tmp_path):
    """A correction (clicks, a box, a mask) every other frame with ``max_conditioning_frames=2``:
    Meta's predictor built with ``max_cond_frames_in_attn=2`` agrees on every frame, and the
    bank stays flat."""
    bound, num_frames = 2, 24
    engine = Sam2Tracker.from_model_dir(
        model_small.model_dir, threads=2, corrections_as_conditioning=True, max_conditioning_frames=bound
    )
    s = engine.settings
    script: dict[int, list] = {0: [("points", 1, [clip.first_visible_point(1)], [1])]}
    for t in range(2, num_frames - 2, 2):
        script[t] = [("points", 1, [clip.first_visible_point(1 + t % 3, t)], [int(t % 4 == 0)])]
    script[6] = [("box", 1, clip.box(1, 6))]  # a box and a mask correct as well
    script[10] = [("mask", 1, clip.masks[1][10])]
    counts: dict[int, tuple[int, int, int, int]] = {}

    def bank_size(t: int, tracker: Sam2Tracker, stream: OfficialStream) -> None:
        bank = tracker.object_state(1)
        attended = [f for f, t_pos in _selection(tracker, bank, t + 1).spatial if t_pos == 0]
        memories = bank.memories
        with_features = sum(m.has_features for m in memories)
        counts[t] = (len(attended), len(_official_cond_frames(stream, 1)), with_features, len(memories))

    run_scenario(
        model_small,
        num_frames,
        script,
        tmp_path=tmp_path,
        tracker=engine,
        official_options={"add_all_frames_to_correct_as_cond": True, "max_cond_frames_in_attn": bound},
        after_frame=bank_size,
    )
    assert counts[num_frames - 1][1] == len(script)  # Meta keeps every conditioning frame ...
    for t, (attended, _, with_features, memories) in counts.items():
        assert attended <= bound  # ... but attends to at most `bound` of them; so does the engine
        assert with_features <= s.num_maskmem + bound, f"frame {t}: {with_features} mask memories"
        assert memories <= s.max_obj_ptrs_in_encoder + bound, f"frame {t}: {memories} memories"
    assert counts[num_frames - 1][0] == bound
    assert engine.object_state(1).dropped_conditioning > 0
