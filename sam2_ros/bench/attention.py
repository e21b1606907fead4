"""Memory attention exported in each attention form, in each runtime, side by side (issue 23).

``python -m sam2_ros.bench.attention --image-size 512`` exports a seeded random model's memory
attention (needs torch and sam2) in these forms:

- ``halves``: what ``sam2-ros-export`` ships: attention written as MatMul, Softmax and MatMul
  with the scale on the queries, rotary pairs de-interleaved in the query/key projections;
- ``pairs``: the same with SAM 2's interleaved rotary pairs (the rotation before issue 23);
- ``onnx-attention``: ``halves`` with torch's ``scaled_dot_product_attention`` exported at opset
  23, where it is one ONNX ``Attention`` op;
- ``ms-mha``: ``onnx-attention`` with each ``Attention`` replaced by ONNX Runtime's
  ``com.microsoft.MultiHeadAttention``;
- ``static``: the ``--static-shapes`` export (a fixed full bank with validity masks, all valid
  here), which an earlier measurement found faster in OpenVINO bf16.

It runs each form on the same full-bank inputs (7 memory frames and 64 pointer tokens, seeded)
in ONNX Runtime, OpenVINO f32 and, where the CPU has BF16, OpenVINO bf16, in interleaved rounds
so that noise falls on every row alike; prints the best and median time per call, the ratio to
the shipped form, the largest difference from the shipped form in ONNX Runtime, and the attention
kernels each runtime executed (from its compiled or optimised graph, not from the timings).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.bench.profile import cpu_info, cpu_line

FORMS = ("halves", "pairs", "onnx-attention", "ms-mha", "static")
ONNX_ATTENTION_OPSET = 23


def export_forms(workdir: Path, image_size: int, config: str = "sam2.1_hiera_t", seed: int = 0) -> dict[str, Any]:
    """Export memory attention in every form of :data:`FORMS` into ``workdir``; form -> ComponentSpec."""
    import dataclasses

    from sam2_ros.export.builder import build_model
    from sam2_ros.export.components import MemoryAttentionComponent, StaticMemoryAttentionComponent
    from sam2_ros.export.writer import example_inputs, export_component, settings_from_model, static_bank_size

    built = build_model(config, random_init_seed=seed, image_size=image_size)
    settings = settings_from_model(built)
    example = example_inputs(settings)["memory_attention"]
    feat = (settings.embed_size, settings.embed_size)
    files = {form: workdir / f"memory_attention.{form}.onnx" for form in FORMS}
    name = "memory_attention"
    specs = {
        "halves": export_component(name, MemoryAttentionComponent(built.model, feat), example, files["halves"]),
        "pairs": export_component(name, MemoryAttentionComponent(built.model, feat, "pairs"), example, files["pairs"]),
        "onnx-attention": export_component(
            name, MemoryAttentionComponent(built.model, feat, sdpa=True), example, files["onnx-attention"],
            opset=ONNX_ATTENTION_OPSET,
        ),
    }  # fmt: skip
    static_example = example_inputs(settings, static_bank_size(settings))["memory_attention"]
    static = StaticMemoryAttentionComponent(built.model, feat)
    specs["static"] = export_component(name, static, static_example, files["static"])
    to_multi_head_attention(files["onnx-attention"], files["ms-mha"])
    specs["ms-mha"] = dataclasses.replace(specs["onnx-attention"], file=files["ms-mha"].name, sha256=None)
    return specs


def to_multi_head_attention(source: Path, target: Path) -> int:
    """Rewrite every 4-D ONNX ``Attention`` node of ``source`` as ``com.microsoft.MultiHeadAttention``
    (queries back to [B, S, heads x dim], keys and values as they are, the mask as attention bias);
    return how many were rewritten."""
    import onnx
    from onnx import TensorProto, helper, shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(source)))
    graph = model.graph
    shapes = {
        info.name: [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]
        for info in [*graph.value_info, *graph.input, *graph.output]
    }
    nodes, rewritten = [], 0
    for node in graph.node:
        if node.op_type != "Attention" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        query, key, value = node.input[:3]
        mask = node.input[3] if len(node.input) > 3 else ""
        _, heads, _, dim = shapes[query]
        if heads is None or dim is None:
            raise ValueError(f"{node.name}: the query's heads and head size must be static")
        p = f"mha{rewritten}_"
        graph.initializer.extend([
            helper.make_tensor(p + "bsd", TensorProto.INT64, [3], [0, -1, heads * dim]),
            helper.make_tensor(p + "bshd", TensorProto.INT64, [4], [0, -1, heads, dim]),
        ])  # fmt: skip
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        extra = {"scale": attributes["scale"]} if "scale" in attributes else {}
        nodes += [
            helper.make_node("Transpose", [query], [p + "q_bshd"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [p + "q_bshd", p + "bsd"], [p + "q"]),
            helper.make_node(
                "MultiHeadAttention", [p + "q", key, value, "", "", mask] if mask else [p + "q", key, value],
                [p + "out"], domain="com.microsoft", num_heads=heads, **extra,
            ),
            helper.make_node("Reshape", [p + "out", p + "bshd"], [p + "out_bshd"]),
            helper.make_node("Transpose", [p + "out_bshd"], [node.output[0]], perm=[0, 2, 1, 3]),
        ]  # fmt: skip
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(target))
    return rewritten


def full_bank_inputs(image_size: int, memories: int = 7, pointer_tokens: int = 64, seed: int = 0) -> dict:
    """Seeded memory attention inputs with a full bank (sam2.1_hiera_t's widths; the static
    export's bank size: 1 conditioning and 6 recent frames, 16 pointers of 4 tokens)."""
    e = image_size // 16
    rng = np.random.default_rng(seed)

    def rnd(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    tokens = memories * e * e
    return {
        "image_embeddings": rnd(1, 256, e, e), "image_pos": rnd(1, 256, e, e),
        "memory": rnd(1, tokens, 64), "memory_pos": rnd(1, tokens, 64),
        "object_pointers": rnd(1, pointer_tokens, 64), "object_pointers_pos": rnd(1, pointer_tokens, 64),
    }  # fmt: skip


def _runners(workdir: Path, specs: dict[str, Any], threads: int, precisions: list[str]) -> dict[tuple[str, str], Any]:
    """(runtime, form) -> component (the engine's own backends, so the sessions are the shipped ones)."""
    from sam2_ros.engine.backends import create_backend

    runners = {}
    for form, spec in specs.items():
        runners[("onnxruntime", form)] = create_backend("onnxruntime", threads=threads).load(workdir, spec)
        for precision in precisions:
            backend = create_backend("openvino", threads=threads, options={"precision": precision, "cache_dir": ""})
            try:
                runners[(f"openvino-{precision}", form)] = backend.load(workdir, spec)
            except Exception as exc:  # noqa: BLE001 - a form a runtime cannot read is a result
                print(f"  openvino-{precision} cannot run {form}: {str(exc).splitlines()[0][:160]}")
    return runners


def measure(workdir: Path, specs: dict[str, Any], feeds: dict, threads: int, rounds: int) -> list[dict[str, Any]]:
    """Time every (runtime, form) in interleaved rounds; one row each."""
    import openvino as ov

    bf16 = "BF16" in [str(c) for c in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    runners = _runners(workdir, specs, threads, ["f32", "bf16"] if bf16 else ["f32"])
    # the static form's extra inputs (validity of each memory slot and pointer token): all valid
    feeds_of = {
        form: {**feeds, **{t.name: np.ones(t.shape, np.float32) for t in spec.inputs if t.name not in feeds}}
        for form, spec in specs.items()
    }
    outputs = {key: next(iter(r.run(feeds_of[key[1]]).values())) for key, r in runners.items()}  # warms up
    times: dict[tuple[str, str], list[float]] = {key: [] for key in runners}
    for _ in range(rounds):
        for key, runner in runners.items():
            start = time.perf_counter()
            runner.run(feeds_of[key[1]])
            times[key].append(time.perf_counter() - start)

    def median(key: tuple[str, str]) -> float:
        return float(np.median(times[key]))

    reference = outputs[("onnxruntime", "halves")]
    rows = []
    for (runtime, form), runner in runners.items():
        shipped = (runtime, "halves")
        rows.append({
            "runtime": runtime, "form": form,
            "best_ms": 1e3 * min(times[(runtime, form)]), "median_ms": 1e3 * median((runtime, form)),
            "ratio_to_shipped": median((runtime, form)) / median(shipped) if shipped in times else None,
            "max_difference_to_shipped": float(np.abs(outputs[(runtime, form)] - reference).max()),
            "attention_kernels": dict(runner.attention_kernels()),
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    from sam2_ros.export.builder import default_threads

    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench.attention", description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=6, help="timed calls per runtime and form (default 6)")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--json", type=Path, help="write the rows and the machine here")
    args = parser.parse_args(argv)
    cpu = cpu_info()
    print(cpu_line(cpu))
    print(f"memory attention at {args.image_size} px, full bank (7 memory frames, 64 pointer tokens), "
          f"{args.threads} threads, {args.rounds} rounds")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sam2_ros-attention-") as tmp:
        specs = export_forms(Path(tmp), args.image_size)
        rows = measure(Path(tmp), specs, full_bank_inputs(args.image_size), args.threads, args.rounds)
    header = ("runtime", "form", "best ms", "median ms", "vs shipped", "max diff")
    print("{:15s} {:15s} {:>8s} {:>10s} {:>10s} {:>9s}  kernels".format(*header))
    for r in rows:
        ratio = f"{r['ratio_to_shipped']:.2f}x" if r["ratio_to_shipped"] else "-"
        kernels = ", ".join(f"{k} x{n}" for k, n in sorted(r["attention_kernels"].items())) or "-"
        print(f"{r['runtime']:15s} {r['form']:15s} {r['best_ms']:8.1f} {r['median_ms']:10.1f} {ratio:>10s} "
              f"{r['max_difference_to_shipped']:9.1e}  {kernels}")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cpu": cpu, "image_size": args.image_size, "threads": args.threads,
                                         "rows": rows}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
