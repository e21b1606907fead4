"""Static-shape export (for QNN): one fixed-bank memory attention graph, the same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import Sam2Tracker
from sam2_ros.engine.runner import ModelRunner
from sam2_ros.export.cli import main as export_main


@pytest.fixture(scope="module")
def static_model(model_small, tmp_path_factory):
    out = tmp_path_factory.mktemp("static") / "hiera_t_256_static"
    args = ["--checkpoint", str(model_small.checkpoint), "--config", "sam2.1_hiera_t", "--image-size", "256",
            "--output", str(out), "--static-shapes", "-q"]  # fmt: skip
    # the decoders this module runs: 1 point (the click, tracking) and 2 (the box); the default set
    # (1,2,3,4) is model_qnn's (test_qualcomm). Two decoders fewer: a third less export time.
    args += ["--decoder-points", "1,2"]
    assert export_main(args) == 0
    return out


def test_static_memory_attention_has_fixed_shapes(static_model):
    manifest = yaml.safe_load((static_model / "model.yaml").read_text())
    inputs = {t["name"]: t["shape"] for t in manifest["components"]["memory_attention"]["inputs"]}
    assert inputs["memory"] == [1, 7 * 16 * 16, 64]  # 1 prompted frame + 6 recent, 16x16 tokens each
    assert inputs["object_pointers"] == [1, 16 * 4, 64]  # 16 pointers of 4 tokens
    assert inputs["memory_valid"] == [1, 7] and inputs["pointer_valid"] == [1, 64]
    assert all(isinstance(d, int) for shape in inputs.values() for d in shape)


def test_static_bank_reproduces_the_dynamic_one(model_small, static_model):
    """Through the engine, over a stream that fills the bank from empty to full (and beyond)."""
    clip = generate_clip(2, num_frames=20)
    dynamic_runner = ModelRunner.load(model_small.model_dir, threads=2)
    static_runner = ModelRunner.load(static_model, threads=2)
    dynamic, static = Sam2Tracker(dynamic_runner), Sam2Tracker(static_runner)
    assert static_runner.static_bank == (7, 64) and dynamic_runner.static_bank is None  # two different graphs
    for t in range(20):
        results = [tracker.track(clip.frames[t]) for tracker in (dynamic, static)]
        if t == 0:
            for tracker in (dynamic, static):
                tracker.add_prompt(1, points=[clip.first_visible_point(1)], labels=[1])
        if t == 3:
            for tracker in (dynamic, static):
                results = [None, None]
                tracker.add_prompt(2, box=clip.box(2, 3))
        if t == 0 or t == 3:
            continue
        a, b = results
        assert set(a.objects) == set(b.objects)
        for obj_id in a.objects:
            x, y = a.objects[obj_id], b.objects[obj_id]
            err = float(np.max(np.abs(x.low_res_logits - y.low_res_logits)))
            assert err <= 1e-4, (t, obj_id, err)
            assert float(np.max(np.abs(x.object_pointer - y.object_pointer))) <= 1e-4
            assert x.visible == y.visible
