"""The benchmark's model-family axis: SAM 2.1 and EdgeTAM, each against Meta's predictor, in one run."""

from __future__ import annotations

import json


def test_benchmark_times_both_families_side_by_side(tmp_path, capsys):
    from sam2_ros.bench import engine as bench

    out = tmp_path / "bench.json"
    args = ["--configs", "sam2.1_hiera_t", "edgetam", "--sizes", "256", "--objects", "1", "--frames", "3"]
    args += ["--skip-rss", "--peak-sizes", "512", "--workdir", str(tmp_path), "--json", str(out)]
    assert bench.main(args) == 0
    report = json.loads(out.read_text())
    runs = {run["config"]: run for run in report["runs"]}
    assert set(runs) == {"sam2.1_hiera_t", "edgetam"}
    for run in runs.values():
        assert run["max_logit_difference"] < 1e-4  # equal outputs, so the times compare like for like
        assert run["engine"]["wall"] > 0 and run["official"]["wall"] > 0
    flops = report["flops"]
    # EdgeTAM's memory attention reads 7 x 512 compressed tokens instead of 7 x 16 x 16 ... at 256 px
    # the perceiver's memories are longer than SAM 2's; at 1024 px they are 8x shorter
    assert (
        flops["edgetam"]["256"]["memory_encoder"]["total"] > flops["sam2.1_hiera_t"]["256"]["memory_encoder"]["total"]
    )
    assert "edgetam, 256 px" in capsys.readouterr().out
