"""`python -m sam2_ros.bench.attention` (issue 23): memory attention in each attention form, in each
runtime, with the kernels each runtime really executed."""

from __future__ import annotations

import json

import pytest

from sam2_ros.bench import attention

pytest.importorskip("openvino")


def test_each_form_runs_the_kernel_it_claims_and_agrees_with_the_shipped_form(tmp_path, capsys) -> None:
    """Read from the runtimes' own graphs: the shipped form runs attention as MatMul-Softmax-MatMul in
    ONNX Runtime and as OpenVINO's fused MHA subgraph; opset 23 gives ONNX Runtime's Attention kernel,
    the rewrite its MultiHeadAttention kernel. Every f32 form computes the shipped form's values."""
    out = tmp_path / "attention.json"
    assert attention.main(["--image-size", "128", "--rounds", "1", "--threads", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {(r["runtime"], r["form"]): r for r in report["rows"]}
    assert {form for _, form in rows} == set(attention.FORMS)
    layers = 4  # sam2.1_hiera_t: 4 layers of self- and cross-attention
    assert rows[("onnxruntime", "halves")]["attention_kernels"] == {"Softmax": 2 * layers}
    assert rows[("onnxruntime", "onnx-attention")]["attention_kernels"] == {"Attention": 2 * layers}
    assert rows[("onnxruntime", "ms-mha")]["attention_kernels"] == {"MultiHeadAttention": 2 * layers}
    assert rows[("openvino-f32", "halves")]["attention_kernels"] == {"Subgraph(MHA)/f32": 2 * layers}
    for (runtime, form), row in rows.items():
        if runtime in ("onnxruntime", "openvino-f32"):
            assert row["max_difference_to_shipped"] < 1e-4, (runtime, form)
        assert row["best_ms"] > 0
    printed = capsys.readouterr().out
    assert "CPU:" in printed and "Subgraph(MHA)/f32 x8" in printed
