"""Per-op profile of each component in each runtime (issue 23, step 1).

``python -m sam2_ros.bench.profile`` tracks a seeded synthetic clip until memory attention
runs with a full memory bank, records the real inputs of the four components on that frame,
then profiles each component on those inputs in each requested backend: ONNX Runtime's
profiler (a session of its own with the backend's session options) and OpenVINO's performance
counters (``PERF_COUNT``, with the backend's compile config). It prints, per backend and
component, the wall time per run, the time and share of each op type, the top nodes, and the
share of the matrix products (GEMM, convolution, fused attention) against the glue between them.

Without ``--model`` it exports a seeded random model as ``python -m sam2_ros.bench`` does
(needs torch and sam2). ``--json PATH`` writes everything.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine.backends.openvino_backend import MHA, fused_attention_subgraphs

COMPONENTS = ("image_encoder", "memory_attention", "mask_decoder", "memory_encoder")
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile")

# op type (ONNX Runtime's op_name, OpenVINO's node_type) -> group; "compute" groups are the products
GROUPS: dict[str, tuple[str, ...]] = {
    "gemm": ("MatMul", "FusedMatMul", "Gemm", "FullyConnected", "MatMulNBits", "QLinearMatMul", "MatMulInteger"),
    "conv": ("Conv", "FusedConv", "NchwcConv", "Convolution", "GroupConvolution", "ConvTranspose",
             "ConvolutionBackpropData"),
    "attention": ("ScaledDotProductAttention", "MultiHeadAttention", "Attention", "GroupQueryAttention", MHA),
    "softmax": ("Softmax", "SoftMax"),
    "layout": ("Transpose", "Reshape", "Reorder", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Tile",
               "ReorderInput", "ReorderOutput", "Interpolate", "Resize", "DepthToSpace", "SpaceToDepth"),
    "concat/split": ("Concat", "Concatenation", "Split", "VariadicSplit", "Slice", "StridedSlice", "Gather",
                     "GatherElements", "ScatterUpdate", "ScatterNDUpdate", "Pad"),
    "norm": ("LayerNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization", "MVN",
             "NormalizeL2", "ReduceMean", "ReduceSum", "ReduceMax", "Reduce", "RMS"),
}  # fmt: skip
COMPUTE_GROUPS = ("gemm", "conv", "attention")
# everything else that runs: Mul, Add, Gelu, Erf, MaxPool, OpenVINO's Subgraph of fused elementwise ops, ...
ELEMENTWISE = "elementwise"
_GROUP_OF = {op: group for group, ops in GROUPS.items() for op in ops}


def op_group(op_type: str) -> str:
    """The group of an op type (ONNX Runtime or OpenVINO name)."""
    return _GROUP_OF.get(op_type, ELEMENTWISE)


# ---------------------------------------------------------------------------- machine
def cpu_line(cpu: dict[str, Any]) -> str:
    """One line for a benchmark's output: the CPU model, its cpus and the flags it has of CPU_FLAGS."""
    return f"CPU: {cpu['model']}, {cpu['cpus']} cpus; flags: " + " ".join(f for f, on in cpu["flags"].items() if on)


def cpu_info() -> dict[str, Any]:
    """CPU model and the flags that decide the kernels (from /proc/cpuinfo)."""
    model, flags, ids = "unknown", set(), {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() in ("cpu family", "model") and key.strip() not in ids:
                ids[key.strip()] = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    if ids:  # a VM may name only the vendor: family and model number tell the generation
        model += f" (family {ids.get('cpu family', '?')}, model {ids.get('model', '?')})"
    return {"model": model, "cpus": len(os.sched_getaffinity(0)), "flags": {f: f in flags for f in CPU_FLAGS}}


# ---------------------------------------------------------------------------- inputs
def record_inputs(model_dir: Path, num_objects: int, threads: int, max_frames: int = 40) -> dict[str, Any]:
    """Track a seeded clip with ONNX Runtime until memory attention runs with a full bank
    (all memory slots and pointer tokens); the inputs of every component on that frame."""
    from sam2_ros.bench.engine import _prompts
    from sam2_ros.clips.synthetic import generate_clip
    from sam2_ros.engine import Sam2Tracker
    from sam2_ros.engine.runner import ModelRunner

    runner = ModelRunner.load(model_dir, threads=threads)
    tracker = Sam2Tracker(runner)
    s = runner.settings
    full_memory = s.num_maskmem * s.memory_tokens_per_frame
    full_pointers = s.max_obj_ptrs_in_encoder * (s.hidden_dim // s.mem_dim)
    calls: dict[str, dict[str, np.ndarray]] = {}
    for name, component in runner.components.items():
        key = name.split(".")[0]  # mask_decoder.pointsN of a static-shape model: mask_decoder

        def recording_run(feeds, _name=key, _run=component.run):
            calls[_name] = {k: np.array(v) for k, v in feeds.items()}
            return _run(feeds)

        component.run = recording_run  # type: ignore[method-assign]
    clip = generate_clip(3, num_frames=max_frames, height=480, width=640, num_objects=max(1, min(num_objects, 7)))
    for t in range(max_frames):
        calls.clear()
        tracker.track(clip.frames[t])
        if t == 0:
            for obj_id, point in _prompts(clip, num_objects):
                tracker.add_prompt(obj_id, points=[point], labels=[1])
            continue
        attention = calls.get("memory_attention")
        if attention is None:
            continue
        valid = attention.get("memory_valid")
        memory = int(valid.sum()) * s.memory_tokens_per_frame if valid is not None else attention["memory"].shape[1]
        pointers = attention["object_pointers"].shape[1]
        if "pointer_valid" in attention:
            pointers = int(attention["pointer_valid"].sum())
        if memory >= full_memory and pointers >= full_pointers:
            return {"frame": t, "memory_tokens": memory, "pointer_tokens": pointers, "feeds": dict(calls)}
    raise RuntimeError(f"memory bank not full after {max_frames} frames")


def _component_files(model_dir: Path) -> dict[str, Any]:
    """Component name -> its spec (the first mask decoder of a static-shape model)."""
    from sam2_ros.engine.manifest import load_model_dir

    specs = {}
    for name, spec in load_model_dir(model_dir, verify_hashes=False)[0].components.items():
        specs.setdefault(name.split(".")[0], spec)
    return specs


# ---------------------------------------------------------------------------- profilers
def profile_onnxruntime(path: Path, feeds: dict[str, np.ndarray], threads: int, runs: int, warmup: int) -> dict:
    """ONNX Runtime's profiler on one component: node time per run over the last ``runs`` runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()  # as OnnxRuntimeBackend.load sets them
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    with tempfile.TemporaryDirectory() as tmp:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        feeds = {k: v for k, v in feeds.items() if k in names}
        walls = []
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            session.run(None, feeds)
            if i >= warmup:
                walls.append(time.perf_counter() - t0)
        events = json.loads(Path(session.end_profiling()).read_text())
    model_runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")[-runs:]
    nodes = [
        (e["name"].removesuffix("_kernel_time"), e["args"]["op_name"], e["dur"] / 1e3)
        for e in events
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
        and any(start <= e["ts"] <= end for start, end in model_runs)
    ]  # fmt: skip
    return _summary(nodes, walls, runs)


def profile_openvino(path: Path, feeds: dict[str, np.ndarray], config: dict[str, str], runs: int, warmup: int) -> dict:
    """OpenVINO's performance counters on one component, summed over ``runs`` inferences."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(str(path), "CPU", {**config, "PERF_COUNT": "YES"})
    mha = fused_attention_subgraphs(compiled, core.read_model(str(path)))
    request = compiled.create_infer_request()
    names = {n for port in compiled.inputs for n in port.get_names()}
    feeds = {k: np.ascontiguousarray(v) for k, v in feeds.items() if k in names}
    walls, nodes = [], []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        request.infer(feeds)
        if i >= warmup:
            walls.append(time.perf_counter() - t0)
            nodes += [
                (
                    p.node_name,
                    MHA if p.node_name in mha else p.node_type,
                    p.real_time.total_seconds() * 1e3,
                    p.exec_type,
                )
                for p in request.profiling_info
                if p.status == ov.ProfilingInfo.Status.EXECUTED
                and p.node_type not in ("Parameter", "Result", "Input", "Output")
            ]
    return _summary(nodes, walls, runs)


def _summary(nodes: list[tuple], walls: list[float], runs: int, top: int = 10) -> dict[str, Any]:
    """Per-run times (ms) per op type, per (op type, kernel), per group, and the top nodes."""
    by_type: dict[str, float] = defaultdict(float)
    by_kernel: dict[str, float] = defaultdict(float)
    by_node: dict[tuple[str, str], float] = defaultdict(float)
    for name, op_type, ms, *kernel in nodes:
        by_type[op_type] += ms / runs
        by_node[(name, op_type)] += ms / runs
        if kernel:
            by_kernel[f"{op_type} / {kernel[0]}"] += ms / runs
    total = sum(by_type.values())
    groups: dict[str, float] = defaultdict(float)
    for op_type, ms in by_type.items():
        groups[op_group(op_type)] += ms
    share = (lambda ms: 100 * ms / total) if total else (lambda ms: 0.0)

    def table(times: dict[str, float]) -> dict[str, dict[str, float]]:
        return {k: {"ms": v, "share": share(v)} for k, v in sorted(times.items(), key=lambda kv: -kv[1])}

    result = {
        "wall_ms": 1e3 * float(np.mean(walls)),
        "node_ms": total,
        "op_types": table(by_type),
        "groups": table(groups),
        "compute_share": sum(share(groups[g]) for g in COMPUTE_GROUPS),
        "glue_share": sum(share(ms) for g, ms in groups.items() if g not in COMPUTE_GROUPS),
        "top_nodes": [
            {"node": n, "op_type": t, "ms": ms, "share": share(ms)}
            for (n, t), ms in sorted(by_node.items(), key=lambda kv: -kv[1])[:top]
        ],
    }
    if by_kernel:
        result["kernels"] = table(by_kernel)
    return result


def profile_backend(
    backend: str, model_dir: Path, inputs: dict[str, dict[str, np.ndarray]], threads: int, runs: int, warmup: int
) -> dict[str, dict]:
    """Profiles of the recorded components in one backend (a key of bench.engine.ENGINE_BACKENDS)."""
    from sam2_ros.bench.engine import ENGINE_BACKENDS

    name, options = ENGINE_BACKENDS[backend]
    specs = _component_files(model_dir)
    result = {}
    if name == "onnxruntime":
        for component, feeds in inputs.items():
            result[component] = profile_onnxruntime(model_dir / specs[component].file, feeds, threads, runs, warmup)
        return result
    from sam2_ros.engine.backends.openvino_backend import OpenVinoBackend

    if options.get("precision") == "mixed":
        from sam2_ros.export.openvino_int8 import quantize_image_encoder

        quantize_image_encoder(model_dir)  # as bench.engine.run_engine: the int8 encoder in the user cache
        ov_backend = OpenVinoBackend(threads, options)  # the int8 encoder is found in the user cache
    else:
        ov_backend = OpenVinoBackend(threads, {**options, "cache_dir": ""})
    for component, feeds in inputs.items():
        path = ov_backend.source_path(model_dir, specs[component])
        config = {k: v for k, v in ov_backend.compile_config().items() if k != "CACHE_DIR"}
        result[component] = profile_openvino(path, feeds, config, runs, warmup)
    return result


# ---------------------------------------------------------------------------- printing
def print_profile(backend: str, component: str, p: dict[str, Any], rows: int = 12) -> None:
    """One component's profile in one backend, as tables."""
    groups = ", ".join(f"{g} {v['share']:.0f}%" for g, v in p["groups"].items())
    print(f"\n-- {backend} / {component}: wall {p['wall_ms']:.2f} ms per run, node time {p['node_ms']:.2f} ms "
          f"({100 * p['node_ms'] / p['wall_ms']:.0f}% of wall) --")  # fmt: skip
    print(f"  GEMM/conv/attention {p['compute_share']:.0f}% vs glue {p['glue_share']:.0f}%  ({groups})")
    print(f"  {'op type':34s} {'ms':>8s} {'share':>6s}  group")
    for op_type, v in list(p["op_types"].items())[:rows]:
        print(f"  {op_type:34s} {v['ms']:8.2f} {v['share']:5.1f}%  {op_group(op_type)}")
    if "kernels" in p:
        print(f"  {'op type / kernel':50s} {'ms':>8s} {'share':>6s}")
        for kernel, v in list(p["kernels"].items())[:rows]:
            print(f"  {kernel:50s} {v['ms']:8.2f} {v['share']:5.1f}%")
    print("  top nodes:")
    for n in p["top_nodes"]:
        print(f"    {n['ms']:8.2f} ms {n['share']:5.1f}%  {n['op_type']:20s} {n['node'][:90]}")


# ---------------------------------------------------------------------------- main
def run_profile(
    model_dir: Path, backends: list[str], num_objects: int, threads: int, runs: int = 5, warmup: int = 2
) -> dict[str, Any]:
    """The whole profile: machine, recorded inputs' shapes, and per backend and component the profile."""
    recorded = record_inputs(model_dir, num_objects, threads)
    inputs = {c: recorded["feeds"][c] for c in COMPONENTS if c in recorded["feeds"]}
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_info(),
        "threads": threads,
        "model_dir": str(model_dir),
        "objects": num_objects,
        "runs": runs,
        "full_bank": {k: recorded[k] for k in ("frame", "memory_tokens", "pointer_tokens")},
        "input_shapes": {c: {k: list(v.shape) for k, v in feeds.items()} for c, feeds in inputs.items()},
        "backends": {},
    }
    for backend in backends:
        report["backends"][backend] = profile_backend(backend, model_dir, inputs, threads, runs, warmup)
    return report


def print_report(report: dict[str, Any]) -> None:
    """Header, then each backend's and component's profile."""
    cpu = report["cpu"]
    flags = ", ".join(f"{f} {'yes' if on else 'no'}" for f, on in cpu["flags"].items())
    print(f"{report['date']}: {cpu['model']} ({cpu['cpus']} cpus available), {report['threads']} threads")
    print(f"CPU flags: {flags}")
    bank = report["full_bank"]
    print(f"inputs recorded on frame {bank['frame']} ({report['objects']} object(s)): memory attention over "
          f"{bank['memory_tokens']} memory tokens + {bank['pointer_tokens']} pointer tokens; "
          f"{report['runs']} runs per component")  # fmt: skip
    for backend, components in report["backends"].items():
        print(f"\n==== {backend} ====")
        for component, p in components.items():
            print_profile(backend, component, p)


def main(argv: list[str] | None = None) -> int:
    from sam2_ros.bench.engine import ENGINE_BACKENDS

    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: export a seeded random model)")
    parser.add_argument("--config", default="sam2.1_hiera_t", help="config of the exported model (no --model)")
    parser.add_argument("--image-size", type=int, default=512, help="image size of the exported model (no --model)")
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--backends", default="onnxruntime,openvino-f32,openvino-bf16",
                        help=f"comma-separated: {', '.join(ENGINE_BACKENDS)}")  # fmt: skip
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--runs", type=int, default=5, help="profiled runs per component (after --warmup)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path(".cache/bench"))
    parser.add_argument("--json", type=Path, help="write the whole profile here")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in ENGINE_BACKENDS]
    if unknown or not backends:
        parser.error(f"--backends: unknown {', '.join(unknown) or '(none)'}; choose from {', '.join(ENGINE_BACKENDS)}")
    model_dir = args.model
    if model_dir is None:
        from sam2_ros.bench.engine import prepare_model

        args.workdir.mkdir(parents=True, exist_ok=True)
        _, model_dir = prepare_model(args.workdir, args.config, args.image_size)
    report = run_profile(model_dir, backends, args.objects, args.threads, args.runs, args.warmup)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
