"""Packaging promises kept by separate processes: the runtime engine imports neither torch nor rclpy (a fresh
interpreter); the node demo runs player -> node -> recorder over DDS; the benchmark runs (its RSS workers are
processes of their own). In this process: test/unit/package/test_packaging.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sam2_ros.tools import shipped

DEMO_MIN_IOU = 0.5


def test_engine_imports_without_torch_or_rclpy():
    code = (
        "import sys, sam2_ros.engine, sam2_ros.engine.backends.onnxruntime_backend\n"
        "bad = [m for m in ('torch', 'rclpy', 'sam2') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_node_demo_end_to_end(tmp_path):
    """The README's main job with its defaults: the shipped model, player -> node -> recorder over DDS."""
    from sam2_ros.tools.demo import node_demo

    out = tmp_path / "node_demo"
    assert node_demo.main(["--max-frames", "12", "--rate", "4", "--output", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    # the shipped model, exported once into the user cache (not into the source or install tree)
    assert Path(summary["model"]) == shipped.export_target() and summary["random_weights"] is False
    assert summary["frames_published"] == 12
    # the player waits until its frames are delivered: the node processed or dropped every one
    assert 0 < summary["frames_out"] <= 12
    assert summary["frames_out"] + summary["frames_dropped"] == 12
    assert summary["latency_ms_p50"] > 0
    for name in ("overlay.mp4", "contact_sheet.png", "tracked_objects.jsonl"):
        assert (out / name).stat().st_size > 0, name
    labels = {
        o["label"]
        for line in (out / "tracked_objects.jsonl").read_text().splitlines()
        for o in json.loads(line)["objects"]
    }
    # the scripted prompts reached the node: objects 1-2 (blobs) on frame 0, object 3 (an ellipse) on frame 8
    assert labels == {"blob", "ellipse"}
    quality = summary["quality_vs_ground_truth"]
    assert quality["object_frames_scored"] >= 10
    # masks that mean something: a random model scores about 0.05 here
    assert quality["mean_iou"] >= DEMO_MIN_IOU and quality["J&F"] >= DEMO_MIN_IOU
    # every prompted object is tracked where it is (a prompt that misses its object scores about 0)
    assert set(quality["mean_iou_per_object"]) == {"1", "2", "3"}
    assert min(quality["mean_iou_per_object"].values()) >= 0.3


def test_node_demo_passes_node_parameters(tmp_path):
    """`--param NAME:=VALUE` reaches the node (here: the backend it runs), and a malformed one is refused."""
    from sam2_ros.tools.demo import node_demo

    with pytest.raises(SystemExit):
        node_demo.main(["--param", "backend=openvino", "--output", str(tmp_path / "bad")])
    out = tmp_path / "node_demo"
    args = ["--max-frames", "3", "--rate", "4", "--output", str(out), "--param", "backend:=openvino"]
    assert node_demo.main([*args, "--param", "openvino_precision:=f32"]) == 0
    assert "backend openvino" in (out / "node.log").read_text()


def test_benchmark_runs_and_reports(model_small, tmp_path):
    """`python -m sam2_ros.bench` on a tiny setting: both sides run, outputs agree, figures come out."""
    from sam2_ros.bench import engine as bench

    # the benchmark's model cache, filled with model_small (the same seeded checkpoint and export
    # the benchmark makes for sam2.1_hiera_t at 256 px) instead of a new export
    checkpoint, model_dir = bench.cached_model_paths(tmp_path, "sam2.1_hiera_t", model_small.image_size)
    checkpoint.symlink_to(model_small.checkpoint)
    model_dir.symlink_to(model_small.model_dir)
    out = tmp_path / "bench.json"
    size = str(model_small.image_size)
    args = ["--sizes", size, "--objects", "1", "--frames", "3", "--rss-frames", "2", "4"]
    args += ["--official-rss-frames", "2", "--rss-size", size, "--workdir", str(tmp_path), "--json", str(out)]
    assert bench.main([*args, "--peak-sizes", "256"]) == 0  # a GEMM rate comes out: no need for 4096^2 products
    report = json.loads(out.read_text())
    run = report["runs"][0]
    assert run["max_logit_difference"] < 1e-4
    assert run["engine"]["wall"] > 0 and run["official"]["wall"] > 0
    flops = report["flops"]["sam2.1_hiera_t"][size]
    # attention products counted however each component writes them: memory attention's own MatMuls
    # (counted by the counter, none missed) and the image encoder's SDPA (added by hand)
    assert 0 < flops["memory_attention"]["attention"] < flops["memory_attention"]["total"]
    assert flops["memory_attention"]["attention_by_hand"] == 0
    assert 0 < flops["image_encoder"]["attention_by_hand"] == flops["image_encoder"]["attention"]
    assert [m["frame"] for m in report["rss"]["engine"]] == [2, 4]
    assert report["matmul_peak"]["peak_gflops"] > 0
