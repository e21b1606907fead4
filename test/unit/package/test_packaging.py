"""Packaging promises, in this process: the engine demo runs and its prompts fall on their objects; the result
benchmark runs. In other processes (a fresh interpreter, the node demo):
test/process/package/test_packaging_process.py."""

from __future__ import annotations

import json

from sam2_ros.resources import demo_prompts
from sam2_ros.tools.demo import engine_demo as demo


def test_demo_writes_its_outputs(model_small, tmp_path):
    out = tmp_path / "demo"
    assert (
        demo.main(["--model", str(model_small.model_dir), "--frames", "4", "--objects", "2", "--output", str(out)]) == 0
    )
    for name in ("overlay.gif", "contact_sheet.png", "tracked_objects.jsonl", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 4 and summary["latency_ms_p50"] > 0
    assert 0.0 <= summary["mean_iou_vs_ground_truth"] <= 1.0
    lines = (out / "tracked_objects.jsonl").read_text().splitlines()
    assert len(lines) == 4
    assert [o["id"] for o in json.loads(lines[-1])["objects"]] == [1, 2]


def test_demo_reads_scripted_prompts(model_small, tmp_path):
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("0:\n  - {id: 5, box: [40, 40, 200, 180]}\n2:\n  - {id: 6, points: [[100, 100]], labels: [1]}\n")
    out = tmp_path / "demo"
    args = ["--model", str(model_small.model_dir), "--frames", "4", "--prompts", str(prompts), "--output", str(out)]
    assert demo.main(args) == 0
    last = json.loads((out / "tracked_objects.jsonl").read_text().splitlines()[-1])
    assert [o["id"] for o in last["objects"]] == [5, 6]


def test_demo_prompts_fall_on_their_objects():
    """config/demo_prompts.yaml stays true to the clip the player generates."""
    import yaml

    from sam2_ros.clips.synthetic import generate_clip

    clip = generate_clip(11, num_frames=32, height=480, width=640)
    prompts = yaml.safe_load(demo_prompts().read_text())
    for frame, items in prompts.items():
        for item in items:
            for x, y in item.get("points", []):
                assert clip.masks[item["id"]][frame][int(y), int(x)], item
            if "box" in item:
                x0, y0, x1, y1 = item["box"]
                inside = clip.masks[item["id"]][frame][int(y0) : int(y1), int(x0) : int(x1)].sum()
                assert inside > 0.8 * clip.masks[item["id"]][frame].sum(), item


def test_result_benchmark_runs_and_both_designs_agree(tmp_path):
    """`python -m sam2_ros.bench.results`: lazy and eager label images agree (it asserts), figures come out."""
    from sam2_ros.bench import results

    out = tmp_path / "results.json"
    assert results.main(["--repeats", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["size"] for r in rows] == ["640x480", "1280x720", "1920x1080"]
    # the eager design kept a full-size float map per object (3 x 7.9 MiB at 1080p); the lazy
    # result keeps only each object's boolean mask (3 x 2 MiB)
    float_maps = 3 * 1920 * 1080 * 4 / 2**20
    assert rows[2]["eager"]["held_mib"] >= float_maps
    assert rows[2]["lazy"]["held_mib"] < float_maps / 2
