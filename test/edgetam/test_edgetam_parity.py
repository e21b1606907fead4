"""Parity of the streaming engine running EdgeTAM with Meta's official EdgeTAM.

The reference is :class:`~sam2_ros.evaluation.edgetam_reference.EdgeTamStreamingPredictor`:
Meta's SAM 2.1 streaming predictor over EdgeTAM's official model (the module says why), driven
as a stream by the same harness and scenarios as SAM 2's parity tests (test/parity_harness.py):
after every step, low-res logits and object pointers within 1e-4 and the same visibility.
"""

from __future__ import annotations

import pytest
from parity_harness import LOGIT_TOL, run_scenario, tracker_with_a_glue_mistake

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import Sam2Tracker
from sam2_ros.evaluation.edgetam_reference import build_edgetam_predictor


def edgetam_reference(model, **options):
    """Meta's EdgeTAM under Meta's SAM 2.1 streaming predictor."""
    return build_edgetam_predictor(model.checkpoint, model.image_size, **options)


def edgetam_own_predictor(model, **options):
    """EdgeTAM's own (older) video predictor."""
    return build_edgetam_predictor(model.checkpoint, model.image_size, own=True, **options)


@pytest.fixture(scope="module")
def clip():
    return generate_clip(1, num_frames=24)


def test_model_directory_names_edgetam(edgetam_model):
    tracker = Sam2Tracker.from_model_dir(edgetam_model.model_dir, threads=2)
    assert tracker.manifest.model_family == "edgetam"
    # each memory is the perceiver's 256 global + 256 grid latents, not the 32 x 32 embedding
    assert tracker.settings.memory_tokens == tracker.settings.memory_tokens_per_frame == 512


def test_clicks_and_box(edgetam_model, clip, tmp_path):
    pos, neg = clip.first_visible_point(1), clip.first_visible_point(2)
    script = {0: [("points", 1, [pos, neg], [1, 0]), ("box", 2, clip.box(2))]}
    record = run_scenario(edgetam_model, 8, script, tmp_path=tmp_path, reference=edgetam_reference)
    assert record.steps == 10
    assert any(visible for _, _, visible in record.decisions), "the scenario never saw a visible object"


def test_three_objects_refined_added_and_removed_mid_stream(edgetam_model, clip, tmp_path):
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1]), ("box", 2, clip.box(2))],
        3: [("points", 1, [clip.first_visible_point(2, 3)], [0]), ("box", 3, clip.box(3, 3))],
        5: [("box", 1, clip.box(1, 5))],
        6: [("remove", 2)],
    }
    record = run_scenario(edgetam_model, 10, script, tmp_path=tmp_path, reference=edgetam_reference)
    frames = {obj: [f for f, o, _ in record.decisions if o == obj] for obj in (1, 2, 3)}
    assert min(frames[3]) == 3 and max(frames[2]) == 6 and max(frames[1]) == 9


def test_mask_prompt_and_accumulated_clicks(edgetam_model, clip, tmp_path):
    script = {
        0: [("mask", 1, clip.masks[1][0])],
        2: [
            ("points", 2, [clip.first_visible_point(2, 2)], [1]),
            ("points", 2, [clip.first_visible_point(3, 2)], [0], True),
        ],
    }
    run_scenario(edgetam_model, 7, script, tmp_path=tmp_path, reference=edgetam_reference)


def test_occluded_path(edgetam_occluded, clip, tmp_path):
    """Object scores forced negative: masks are NO_OBJ_SCORE and pointers the no-object ones."""
    script = {0: [("points", 1, [clip.first_visible_point(1)], [1]), ("mask", 2, clip.masks[2][0])]}
    record = run_scenario(edgetam_occluded, 7, script, tmp_path=tmp_path, reference=edgetam_reference)
    decisions = {(frame, obj): visible for frame, obj, visible in record.decisions}
    assert decisions[(0, 2)] is True
    assert not any(visible for (frame, _), visible in decisions.items() if frame > 0)


def test_long_stream_overflows_memory_bank_with_corrections(edgetam_model, clip, tmp_path):
    """24 frames: more than 7 compressed memories and 16 pointers, corrections kept as conditioning
    frames (at most 2 attended), Meta's predictor built with the same options."""
    engine = Sam2Tracker.from_model_dir(
        edgetam_model.model_dir, threads=2, corrections_as_conditioning=True, max_conditioning_frames=2
    )
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1])],
        2: [("box", 2, clip.box(2, 2))],
        9: [("points", 1, [clip.first_visible_point(2, 9)], [0])],
        15: [("box", 1, clip.box(1, 15))],
    }
    options = {"add_all_frames_to_correct_as_cond": True, "max_cond_frames_in_attn": 2}
    record = run_scenario(
        edgetam_model,
        24,
        script,
        tmp_path=tmp_path,
        tracker=engine,
        official_options=options,
        reference=edgetam_reference,
    )
    assert record.steps == 24 + 4
    s = engine.settings
    recent = [m for m in engine.object_state(2).memories if not m.conditioning]
    assert len([m for m in recent if m.has_features]) == s.num_maskmem
    assert len(recent) == s.max_obj_ptrs_in_encoder
    stored = next(m.feature_shape for m in recent if m.has_features)
    assert stored == (512, s.mem_dim)  # compressed memories in the bank


def test_parity_detects_a_glue_mistake(edgetam_model, clip, tmp_path):
    """The comparison can fail: an off-by-one temporal encoding of the memories is caught."""
    engine = tracker_with_a_glue_mistake(edgetam_model.model_dir)
    with pytest.raises(AssertionError, match="differ"):
        run_scenario(
            edgetam_model,
            6,
            {0: [("points", 1, [clip.first_visible_point(1)], [1])]},
            tmp_path=tmp_path,
            tracker=engine,
            reference=edgetam_reference,
        )


def test_reference_agrees_with_edgetams_own_predictor(edgetam_model, clip, tmp_path):
    """Where EdgeTAM's own predictor can follow (one object, prompted before tracking, refined on a
    tracked frame), it and the engine agree as well: the reference's SAM 2.1 predictor changes
    semantics (new objects mid-stream, per-object conditioning frames), not EdgeTAM's arithmetic.
    (With two objects EdgeTAM's own predictor fails on CPU: its perceiver cannot batch them.)"""
    script = {
        0: [("points", 1, [clip.first_visible_point(1)], [1])],
        4: [("points", 1, [clip.first_visible_point(2, 4)], [0])],
    }
    record = run_scenario(edgetam_model, 9, script, tmp_path=tmp_path, reference=edgetam_own_predictor)
    assert record.steps == 11 and record.max_logit_error <= LOGIT_TOL
