"""The training command's prompt-simulation flags map onto Meta's SAM2Train settings."""

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
