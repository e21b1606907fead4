"""The model card's training facts: read from a run's train_log.jsonl, including fine-tunes."""

import json

from sam2_ros.train.card import training_facts, video_clip_summary


def _write_log(run, events_and_steps):
    run.mkdir()
    (run / "train_log.jsonl").write_text("".join(json.dumps(line) + "\n" for line in events_and_steps))


def _step(n, phase, elapsed):
    return {"step": n, "phase": phase, "lr": 1e-4, "elapsed_s": elapsed, "core_loss": 9.0 - n / 1000}


ARGS = {"output": "runs/a", "resume": False, "seed": 0, "image_steps": 1, "video_steps": 2, "minutes": None}


def test_facts_of_a_run_with_a_resume(tmp_path):
    run = tmp_path / "a"
    _write_log(run, [
        {"event": "start", "step": 0, "args": ARGS, "threads": 2},
        _step(1, "image", 60.0), _step(2, "video", 120.0),
        {"event": "resume", "step": 2, "args": ARGS | {"resume": True}, "threads": 2},
        _step(3, "video", 180.0),
    ])  # fmt: skip
    facts = training_facts(run)
    assert (facts["steps"], facts["image_steps"], facts["video_steps"]) == (3, 1, 2)
    assert facts["wall_time_min"] == 3.0
    assert len(facts["commands"]) == 2 and facts["commands"][1].endswith("--resume  # at step 2")
    assert "init_sha256" not in facts


def test_a_fine_tune_adds_the_run_it_started_from(tmp_path):
    before = {"commands": ["python -m sam2_ros.train --output runs/v1"], "seed": 7, "steps": 100,
              "image_steps": 40, "video_steps": 60, "wall_time_min": 10.0}  # fmt: skip
    run = tmp_path / "b"
    init_args = ARGS | {"init": "runs/v1/checkpoint.pt", "seed": 3, "image_steps": 0}
    _write_log(run, [
        {"event": "start", "step": 0, "args": init_args, "threads": 2, "init_sha256": "ab" * 32,
         "init_training": before},
        _step(1, "video", 60.0), _step(2, "video", 90.0),
    ])  # fmt: skip
    facts = training_facts(run)
    assert (facts["steps"], facts["image_steps"], facts["video_steps"]) == (102, 40, 62)
    assert facts["wall_time_min"] == 11.5
    assert facts["seed"] == 7
    assert facts["commands"][0] == before["commands"][0]
    assert "--init runs/v1/checkpoint.pt" in facts["commands"][1]
    assert facts["init_sha256"] == "ab" * 32


def test_video_steps_are_counted_per_clip_length_across_fine_tunes(tmp_path):
    before = {"commands": ["python -m sam2_ros.train --output runs/v1 --frames 8"], "seed": 0, "steps": 50,
              "image_steps": 10, "video_steps": 40, "wall_time_min": 5.0}  # fmt: skip
    run = tmp_path / "c"
    _write_log(run, [
        {"event": "start", "step": 0, "args": ARGS | {"init": "v1.pt", "frames": 16, "image_steps": 0},
         "threads": 2, "init_sha256": "cd" * 32, "init_training": before},
        _step(1, "video", 60.0), _step(2, "video", 90.0), _step(3, "video", 120.0),
    ])  # fmt: skip
    facts = training_facts(run)
    assert facts["video_steps_by_frames"] == {"16": 3, "8": 40}
    assert video_clip_summary(facts) == "40 on 8-frame clips and 3 on 16-frame clips"
