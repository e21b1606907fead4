"""The training command: prompt-simulation flags map onto Meta's SAM2Train settings; batches made ahead."""

import numpy as np
import pytest

from sam2_ros.train.__main__ import build_parser, training_prompting
from sam2_ros.train.model import TRAIN_PROMPTING, build_train_model


def _prompting(*flags):
    return training_prompting(build_parser().parse_args(["--output", "runs/x", *flags]))


def test_default_flags_keep_metas_training_settings():
    assert TRAIN_PROMPTING | _prompting() == TRAIN_PROMPTING


def test_tracking_only_training_prompts_frame_zero_alone():
    settings = _prompting("--cond-frames", "1", "--correction-frames", "1")
    assert settings["num_init_cond_frames_for_train"] == 1
    assert settings["rand_init_cond_frames_for_train"] is False
    assert settings["num_frames_to_correct_for_train"] == 1


@pytest.mark.parametrize("flags", [("--cond-frames", "0"), ("--cond-frames", "3", "--correction-frames", "2")])
def test_impossible_prompt_counts_are_refused(flags):
    with pytest.raises(SystemExit, match="--cond-frames"):
        _prompting(*flags)


def test_unknown_prompt_settings_are_refused():
    with pytest.raises(ValueError, match="num_frames_to_corect"):
        build_train_model(prompting={"num_frames_to_corect_for_train": 1})


def test_prefetched_batches_are_the_batches_made_in_process():
    from sam2_ros.train.data import BatchPrefetcher, sample_clip

    def clip_args(step):
        return (1_000_000 + step, 2, 64, 0.5)

    inline = BatchPrefetcher(clip_args, make=sample_clip)
    ahead = BatchPrefetcher(clip_args, workers=1, depth=2, make=sample_clip)
    try:
        for step in (0, 1, 2, 7, 8):  # 7: asked out of order, so it starts again from there
            (frames_a, masks_a), (frames_b, masks_b) = inline.get(step), ahead.get(step)
            assert np.array_equal(frames_a, frames_b)
            assert masks_a.keys() == masks_b.keys() and all(np.array_equal(masks_a[k], masks_b[k]) for k in masks_a)
    finally:
        ahead.close()
