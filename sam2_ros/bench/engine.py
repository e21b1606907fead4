"""Benchmark: the engine against Meta's official predictor, side by side in one run.

``python -m sam2_ros.bench`` prints, on the same synthetic clip, weights and thread count:
per-stage and per-frame times of both at each image size and object count, their largest
output difference (so the times are for equal outputs), process RSS over a long stream
(engine and official predictor, each in its own process), FLOPs per stage (with torch's SDPA
counted by hand, since FlopCounterMode misses it on CPU, and the attention products apart) and the
achieved fraction of this machine's measured fp32 matrix-multiply peak.

``--backends onnxruntime,openvino-f32,openvino-bf16,openvino-mixed`` times the engine on each
backend (the first is the reference for the ratios and the largest output differences);
``openvino-mixed`` quantises the image encoder first where the user cache has no int8 encoder
of it yet (sam2_ros.export.openvino_int8).

Needs torch and sam2 (the export environment). Results go to stdout and, with ``--json``,
to a file; docs/PERFORMANCE.md records them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

# before torch: reference silences Meta's progress bars for this process and the RSS workers
from sam2_ros.bench.families import make_checkpoint, official_predictor
from sam2_ros.evaluation.reference import OfficialStream

STAGES = ("image_encoder", "memory_attention", "mask_decoder", "memory_encoder")
# --backends names -> (engine backend, backend options)
ENGINE_BACKENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "onnxruntime": ("onnxruntime", {}),
    "openvino-f32": ("openvino", {"precision": "f32"}),
    "openvino-bf16": ("openvino", {"precision": "bf16"}),
    "openvino-mixed": ("openvino", {"precision": "mixed"}),
}


def rss_mb() -> float:
    """Current resident set size of this process, in MiB (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- models
def exporter_fingerprint() -> str:
    """A short hash of the export code: a cached export made by other export code is not reused."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((Path(__file__).parent.parent / "export").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def cached_model_paths(workdir: Path, config: str, image_size: int, seed: int = 0) -> tuple[Path, Path]:
    """Where :func:`prepare_model` keeps the checkpoint and the model directory exported from it."""
    stem = f"{config}-{image_size}-seed{seed}"
    return workdir / f"{stem}.pt", workdir / f"{stem}-export-{exporter_fingerprint()}"


def prepare_model(workdir: Path, config: str, image_size: int, seed: int = 0) -> tuple[Path, Path]:
    """A seeded random checkpoint and its exported model directory (cached in ``workdir``)."""
    from sam2_ros.export.builder import build_model
    from sam2_ros.export.writer import write_model_dir

    ckpt, model_dir = cached_model_paths(workdir, config, image_size, seed)
    if not ckpt.exists():
        make_checkpoint(ckpt, config, seed=seed, image_size=image_size)
    if not (model_dir / "model.yaml").exists():
        write_model_dir(build_model(config, checkpoint=ckpt, image_size=image_size), model_dir, force=True)
    return ckpt, model_dir


# ---------------------------------------------------------------------------- peak
def measure_matmul_peak(
    threads: int, sizes: tuple[int, ...] = (1024, 2048, 4096), repeats: int = 6
) -> dict[str, float]:
    """Best fp32 GEMM rate (GFLOP/s) of torch and numpy on this machine (best of all runs)."""
    import torch

    torch.set_num_threads(threads)
    best_torch = best_np = 0.0
    for size in sizes:
        a, b = torch.randn(size, size), torch.randn(size, size)
        an, bn = a.numpy(), b.numpy()
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b)
            best_torch = max(best_torch, 2 * size**3 / (time.perf_counter() - t0) / 1e9)
            t0 = time.perf_counter()
            an @ bn
            best_np = max(best_np, 2 * size**3 / (time.perf_counter() - t0) / 1e9)
    return {"torch_gflops": best_torch, "numpy_gflops": best_np, "peak_gflops": max(best_torch, best_np)}


def _openvino_matmul(size: int, int8: bool):
    """An OpenVINO model of one (size x size) @ (size x size) product; ``int8`` puts FakeQuantize on both
    operands (u8 activations, i8 weights), which the CPU plugin turns into an int8 GEMM."""
    import openvino as ov
    from openvino import opset13 as ops

    a = ops.parameter([size, size], np.float32, name="a")
    weights = ops.constant(np.random.default_rng(0).standard_normal((size, size)).astype(np.float32))
    x = a
    if int8:
        lo, hi = ops.constant(np.float32(-4.0)), ops.constant(np.float32(4.0))
        x = ops.fake_quantize(a, lo, hi, lo, hi, 256)
        weights = ops.fake_quantize(weights, lo, hi, lo, hi, 255)
    return ov.Model([ops.matmul(x, weights, False, True)], [a])


def measure_openvino_peaks(
    threads: int, sizes: tuple[int, ...] = (1024, 2048, 4096), repeats: int = 6
) -> dict[str, Any]:
    """Best OpenVINO CPU GEMM rates (GFLOP/s, GOP/s for int8): f32, bf16 and int8, measured as the
    fp32 peak is (square products of 1024-4096, best of all runs), with the kernels that ran."""
    import openvino as ov

    core = ov.Core()
    result: dict[str, Any] = {"kernels": {}}
    for kind, hint, int8 in (("f32", "f32", False), ("bf16", "bf16", False), ("int8", "bf16", True)):
        best = 0.0
        for size in sizes:
            config = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"}
            config["INFERENCE_NUM_THREADS"] = str(threads)
            compiled = core.compile_model(_openvino_matmul(size, int8), "CPU", config)
            request = compiled.create_infer_request()
            x = np.random.default_rng(1).uniform(-3, 3, (size, size)).astype(np.float32)
            for _ in range(repeats):
                t0 = time.perf_counter()
                request.infer({0: x})
                best = max(best, 2 * size**3 / (time.perf_counter() - t0) / 1e9)
        info = [op.get_rt_info() for op in compiled.get_runtime_model().get_ordered_ops()]
        result["kernels"][kind] = sorted(
            {i["primitiveType"].astype(str) for i in info if i["layerType"].astype(str) in ("FullyConnected", "MatMul")}
        )
        result[f"{kind}_gflops"] = best
    return result


# ---------------------------------------------------------------------------- flops
def count_flops(checkpoint: Path, config: str, image_size: int) -> dict[str, dict[str, float]]:
    """FLOPs of each component for one object on a frame with a full memory bank."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from sam2_ros.export.builder import build_model
    from sam2_ros.export.writer import component_modules, settings_from_model

    built = build_model(config, checkpoint=checkpoint, image_size=image_size)
    # no parameter needs a gradient here (torch 2.14's module tracker chokes on views of ones that do)
    model, settings = built.model.requires_grad_(False), settings_from_model(built)
    modules = component_modules(built, settings, static=False)
    e, s = image_size // 16, image_size
    num_mem, ptr_tokens = model.num_maskmem, model.max_obj_ptrs_in_encoder * (model.hidden_dim // model.mem_dim)
    memory_tokens = num_mem * settings.memory_tokens_per_frame
    inputs = {
        "image_encoder": (modules["image_encoder"], (torch.randn(1, 3, s, s),)),
        "memory_attention": (
            modules["memory_attention"],
            (
                torch.randn(1, 256, e, e),
                torch.randn(1, 256, e, e),
                torch.randn(1, memory_tokens, 64),
                torch.randn(1, memory_tokens, 64),
                torch.randn(1, ptr_tokens, 64),
                torch.randn(1, ptr_tokens, 64),
            ),
        ),
        "mask_decoder": (
            modules["mask_decoder"],
            (
                torch.randn(1, 256, e, e),
                torch.randn(1, 32, 4 * e, 4 * e),
                torch.randn(1, 64, 2 * e, 2 * e),
                torch.zeros(1, 1, 2),
                -torch.ones(1, 1, dtype=torch.int32),
                torch.zeros(1, 1, 4 * e, 4 * e),
                torch.zeros(1),
            ),
        ),
        "memory_encoder": (
            modules["memory_encoder"],
            (torch.randn(1, 256, e, e), torch.randn(1, 1, s, s)),
        ),
    }
    real_sdpa = F.scaled_dot_product_attention
    result = {}
    for name, (module, args) in inputs.items():
        attention, by_hand = [0.0], [0.0]

        def products(q, k, v) -> float:
            # QK^T and AV: 2 multiply-adds each per (query, key, channel)
            return 2.0 * float(np.prod(q.shape[:-1])) * k.shape[-2] * (q.shape[-1] + v.shape[-1])

        def counting_sdpa(q, k, v, *a, _attention=attention, _by_hand=by_hand, **kw):
            flops = products(q, k, v)
            _attention[0] += flops
            _by_hand[0] += flops
            return real_sdpa(q, k, v, *a, **kw)

        real_attend = getattr(module, "attend", None)  # memory attention's own attention (counted by the counter)
        if real_attend is not None:

            def counting_attend(q, k, v, key_bias, _real=real_attend, _attention=attention):
                _attention[0] += products(q, k, v)
                return _real(q, k, v, key_bias)

            module.attend = counting_attend
        counter = FlopCounterMode(display=False)
        F.scaled_dot_product_attention = counting_sdpa
        try:
            with torch.no_grad(), counter:
                module(*args)
        finally:
            F.scaled_dot_product_attention = real_sdpa
            if real_attend is not None:
                module.attend = real_attend
        counted = float(counter.get_total_flops())
        sdpa_counted = sum(
            v for k, v in counter.get_flop_counts().get("Global", {}).items() if "scaled_dot_product" in str(k)
        )
        # attention_by_hand: the SDPA FLOPs the counter misses on CPU; attention: every attention product
        result[name] = {"flop_counter": counted, "attention_by_hand": by_hand[0] - float(sdpa_counted)}
        result[name]["attention"] = attention[0]
        result[name]["total"] = result[name]["flop_counter"] + result[name]["attention_by_hand"]
    return result


# ---------------------------------------------------------------------------- timing runs
def _prompts(clip, num_objects: int) -> list[tuple[int, tuple[float, float]]]:
    return [(obj_id, clip.first_visible_point(obj_id)) for obj_id in range(1, num_objects + 1)]


def run_engine(model_dir: Path, clip, num_objects: int, num_frames: int, threads: int, backend: str = "onnxruntime"):
    """Per-frame stage timings and outputs of the engine on ``backend`` (a key of ENGINE_BACKENDS)."""
    from sam2_ros.engine import Sam2Tracker
    from sam2_ros.engine.runner import ModelRunner

    name, options = ENGINE_BACKENDS[backend]
    if options.get("precision") == "mixed":
        from sam2_ros.export.openvino_int8 import quantize_image_encoder

        quantize_image_encoder(model_dir)  # the int8 encoder in the user cache, once per model
    runner = ModelRunner.load(model_dir, backend=name, threads=threads, backend_options=options)
    tracker = Sam2Tracker(runner, backend_name=name)
    frames, outputs = [], []
    for t in range(num_frames):
        t0 = time.perf_counter()
        result = tracker.track(clip.frames[t])
        if t == 0:
            for obj_id, point in _prompts(clip, num_objects):
                result = tracker.add_prompt(obj_id, points=[point], labels=[1])
        for obj in result.objects.values():  # full-size masks, as the official predictor returns
            obj.mask  # noqa: B018
        wall = time.perf_counter() - t0
        frames.append({"wall": wall, **{k: result.timings.get(k, 0.0) for k in STAGES}})
        outputs.append({k: v.low_res_logits for k, v in result.objects.items()})
    return frames, outputs, compiled_kernels(runner.components)


def compiled_kernels(components: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """Per stage, what the runtime really runs: ``precision`` (compute layers at each precision,
    OpenVINO) and ``attention`` (the attention kernels: fused ones by name, ``Softmax`` where
    attention runs as separate MatMul, Softmax and MatMul)."""
    kernels = {}
    for name, component in components.items():
        entry: dict[str, dict[str, int]] = {}
        if hasattr(component, "kernels"):
            counts: dict[str, int] = {}
            for (_, precision), n in component.kernels().items():
                counts[precision] = counts.get(precision, 0) + n
            entry["precision"] = counts
        if hasattr(component, "attention_kernels"):
            entry["attention"] = dict(component.attention_kernels())
        if entry:
            kernels[name] = entry
    return kernels


@contextlib.contextmanager
def _timed_methods(model, names_to_stage: dict[str, str], sink: dict[str, float]):
    originals = {}
    for method, stage in names_to_stage.items():
        original = getattr(model, method)
        originals[method] = original

        def wrapper(*args, _orig=original, _stage=stage, **kwargs):
            t0 = time.perf_counter()
            try:
                return _orig(*args, **kwargs)
            finally:
                sink[_stage] += time.perf_counter() - t0

        setattr(model, method, wrapper)
    try:
        yield
    finally:
        for method in originals:
            delattr(model, method)


def run_official(
    checkpoint: Path, config: str, image_size: int, clip, num_objects: int, num_frames: int, workdir: Path
):
    """Per-frame stage timings and outputs of the official predictor, driven as a stream."""
    import torch

    predictor = official_predictor(checkpoint, config, image_size)
    stream = OfficialStream(predictor, clip.frames, workdir=workdir)
    stage_map = {
        "forward_image": "image_encoder",
        "_prepare_memory_conditioned_features": "memory_attention",
        "_forward_sam_heads": "mask_decoder",
        "_encode_new_memory": "memory_encoder",
    }
    frames, outputs = [], []
    try:
        for t in range(num_frames):
            sink = dict.fromkeys(STAGES, 0.0)
            with _timed_methods(predictor, stage_map, sink), torch.inference_mode():
                t0 = time.perf_counter()
                # the official predictor encodes a frame when it is first needed
                out = stream.track()
                if t == 0:
                    predictor._get_image_feature(stream.state, 0, 1)
                    for obj_id, point in _prompts(clip, num_objects):
                        out = stream.add_points(obj_id, points=[point], labels=[1])
                wall = time.perf_counter() - t0
            frames.append({"wall": wall, **sink})
            outputs.append({k: v.low_res_logits for k, v in out.items()})
    finally:
        stream.close()
    return frames, outputs


def summarise(frames: list[dict[str, float]], skip: int) -> dict[str, float]:
    """Mean wall and per-stage seconds per frame over frames[skip:] (the steady state), and
    ``stream``: the wall time of the whole stream, prompted frame and all."""
    steady = frames[skip:] or frames
    summary = {k: float(np.mean([f[k] for f in steady])) for k in ("wall", *STAGES)}
    summary["stream"] = float(sum(f["wall"] for f in frames))
    return summary


# ---------------------------------------------------------------------------- RSS workers
def rss_worker(
    kind: str, model_dir: str, checkpoint: str, config: str, image_size: int, frames: list[int], threads: int
) -> None:
    """Run a long stream in this process and print JSON lines of RSS at the given frames."""
    from sam2_ros.clips.synthetic import generate_clip

    clip = generate_clip(7, num_frames=30, height=240, width=320)
    marks = set(frames)
    if kind == "engine":
        from sam2_ros.engine import Sam2Tracker

        tracker = Sam2Tracker.from_model_dir(model_dir, threads=threads)
        for t in range(max(frames)):
            tracker.track(clip.frames[t % len(clip.frames)])
            if t == 0:
                tracker.add_prompt(1, points=[clip.first_visible_point(1)], labels=[1])
            if t + 1 in marks:
                print(
                    json.dumps(
                        {"kind": kind, "frame": t + 1, "rss_mb": rss_mb(), "bank_bytes": tracker.memory_footprint()}
                    ),
                    flush=True,
                )
        return
    import torch

    torch.set_num_threads(threads)
    long_frames = np.concatenate([clip.frames] * (max(frames) // len(clip.frames) + 1))[: max(frames)]
    stream = OfficialStream(official_predictor(Path(checkpoint), config, image_size), long_frames)
    for t in range(max(frames)):
        stream.track()
        if t == 0:
            stream.add_points(1, points=[clip.first_visible_point(1)], labels=[1])
        if t + 1 in marks:
            print(json.dumps({"kind": kind, "frame": t + 1, "rss_mb": rss_mb()}), flush=True)
    stream.close()


def run_rss(kind: str, model_dir: Path, checkpoint: Path, config: str, size: int, frames: list[int], threads: int):
    cmd = [sys.executable, "-m", "sam2_ros.bench", "--rss-worker", kind, "--rss-model", str(model_dir),
           "--rss-checkpoint", str(checkpoint), "--config", config, "--rss-size", str(size),
           "--rss-frames", *map(str, frames), "--threads", str(threads)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"RSS worker {kind} failed:\n{done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs",
        "--config",
        dest="configs",
        nargs="+",
        default=["sam2.1_hiera_t"],
        help="model configs, the model-family axis (edgetam: in the EdgeTAM environment, docs/EDGETAM.md)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--frames", type=int, default=10, help="frames per timing run (steady state from frame 8)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rss-size", type=int, default=512)
    parser.add_argument("--rss-frames", type=int, nargs="+", default=[50, 500], help="engine RSS marks")
    parser.add_argument("--official-rss-frames", type=int, nargs="+", default=[50, 150])
    parser.add_argument("--skip-official", action="store_true", help="time the engine only")
    parser.add_argument(
        "--backends",
        default="onnxruntime",
        help=f"engine backends, comma-separated, the first the reference: {', '.join(ENGINE_BACKENDS)}",
    )
    parser.add_argument("--skip-rss", action="store_true", help="no long-stream RSS runs")
    parser.add_argument(
        "--peak-sizes", type=int, nargs="+", default=[1024, 2048, 4096], help="square GEMM sizes of the peaks"
    )
    parser.add_argument("--workdir", type=Path, default=Path(".cache/bench"))
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--rss-worker", choices=["engine", "official"], help=argparse.SUPPRESS)
    parser.add_argument("--rss-model", help=argparse.SUPPRESS)
    parser.add_argument("--rss-checkpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in ENGINE_BACKENDS]
    if unknown or not backends:
        parser.error(
            f"--backends: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(ENGINE_BACKENDS)}"
        )
    if args.rss_worker:
        rss_worker(
            args.rss_worker,
            args.rss_model,
            args.rss_checkpoint,
            args.configs[0],
            args.rss_size,
            args.rss_frames,
            args.threads,
        )
        return 0

    import torch

    from sam2_ros.bench.profile import cpu_info, cpu_line
    from sam2_ros.clips.synthetic import generate_clip

    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}",
        "threads": args.threads,
        "configs": args.configs,
        "versions": {"torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__},
        "backends": backends,
    }
    if any(ENGINE_BACKENDS[b][0] == "openvino" for b in backends):
        report["versions"]["openvino"] = __import__("openvino").__version__
    report["cpu"] = cpu = cpu_info()
    print(cpu_line(cpu))
    report["matmul_peak"] = peak = measure_matmul_peak(args.threads, tuple(args.peak_sizes))
    print(f"fp32 matmul peak ({args.threads} threads): {peak['peak_gflops']:.1f} GFLOP/s "
          f"(torch {peak['torch_gflops']:.1f}, numpy {peak['numpy_gflops']:.1f})")  # fmt: skip
    if any(ENGINE_BACKENDS[b][0] == "openvino" for b in backends):
        report["openvino_peaks"] = ov_peaks = measure_openvino_peaks(args.threads, tuple(args.peak_sizes))
        print("openvino CPU GEMM peaks: " + ", ".join(
            f"{k} {ov_peaks[k + '_gflops']:.1f} ({'/'.join(ov_peaks['kernels'][k])})" for k in ("f32", "bf16", "int8")
        ))  # fmt: skip
    clip = generate_clip(3, num_frames=max(args.frames, 16), height=480, width=640)
    report["runs"] = []
    for config, size in [(c, size) for c in args.configs for size in args.sizes]:
        ckpt, model_dir = prepare_model(args.workdir, config, size)
        flops = count_flops(ckpt, config, size)
        report.setdefault("flops", {}).setdefault(config, {})[size] = flops
        print(f"\n== {config}, image size {size}: GFLOP per object-frame with a full bank ==")
        for stage, f in flops.items():
            print(f"  {stage:17s} {f['total'] / 1e9:8.1f}  (of which attention {f['attention'] / 1e9:.1f})")
        for num_objects in args.objects:
            skip = min(8, args.frames - 1)
            run: dict[str, Any] = {
                "config": config,
                "size": size,
                "objects": num_objects,
                "frames": args.frames,
                "backends": {},
            }
            eng_out = None
            for backend in backends:
                frames, out, kernels = run_engine(model_dir, clip, num_objects, args.frames, args.threads, backend)
                entry: dict[str, Any] = summarise(frames, skip=skip)
                if kernels:
                    entry["kernels"] = kernels
                    for stage, stage_kernels in kernels.items():
                        print(f"  {backend} {stage}: "
                              + "; ".join(f"{kind} {value}" for kind, value in stage_kernels.items()))  # fmt: skip
                if eng_out is None:
                    eng_out, run["engine"] = out, entry
                else:
                    entry["max_logit_difference"] = _max_difference(out, eng_out)
                    entry["mask_agreement"] = _mask_agreement(out, eng_out)
                run["backends"][backend] = entry
            if not args.skip_official:
                ref_frames, ref_out = run_official(ckpt, config, size, clip, num_objects, args.frames, args.workdir)
                run["official"] = summarise(ref_frames, skip=min(8, args.frames - 1))
                run["max_logit_difference"] = _max_difference(eng_out, ref_out)
            report["runs"].append(run)
            _print_run(run, flops, peak["peak_gflops"])
            if len(backends) > 1 or "official" in run:
                run["percent_of_peak"] = percent_of_peak(run, flops, report)
                _print_backends(run)
    if not args.skip_rss:
        print(f"\n== RSS over a long stream (image size {args.rss_size}, 1 object) ==")
        config = args.configs[0]
        ckpt, model_dir = prepare_model(args.workdir, config, args.rss_size)
        report["rss"] = {
            "engine": run_rss("engine", model_dir, ckpt, config, args.rss_size, args.rss_frames, args.threads)
        }
        if not args.skip_official:
            report["rss"]["official"] = run_rss("official", model_dir, ckpt, config, args.rss_size,
                                                args.official_rss_frames, args.threads)  # fmt: skip
        for kind, marks in report["rss"].items():
            print("  " + kind + ": " + ", ".join(f"frame {m['frame']}: {m['rss_mb']:.0f} MiB" for m in marks))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _max_difference(outputs: list[dict], reference: list[dict]) -> float:
    """Largest absolute low-res logit difference over all frames and objects."""
    return max(float(np.max(np.abs(a[k] - b[k]))) for a, b in zip(outputs, reference) for k in b)


def _mask_agreement(outputs: list[dict], reference: list[dict]) -> float:
    """Smallest fraction of low-res mask pixels (logit > 0) that agree, over all frames and objects."""
    return min(float(np.mean((a[k] > 0) == (b[k] > 0))) for a, b in zip(outputs, reference) for k in b)


def stage_peak(backend: str, stage: str, report: dict[str, Any]) -> float:
    """The measured peak (GFLOP/s) a stage on ``backend`` can reach: fp32 for exact mode, bf16 for
    openvino-bf16 and mixed's other stages, int8 for mixed's image encoder."""
    fp32 = max(report["matmul_peak"]["peak_gflops"], report.get("openvino_peaks", {}).get("f32_gflops", 0.0))
    precision = ENGINE_BACKENDS.get(backend, ("", {}))[1].get("precision", "f32")
    if precision == "mixed" and stage == "image_encoder":
        return report["openvino_peaks"]["int8_gflops"]
    if precision in ("bf16", "mixed"):
        return report["openvino_peaks"]["bf16_gflops"]
    return fp32


def percent_of_peak(run: dict[str, Any], flops: dict[str, dict[str, float]], report: dict[str, Any]) -> dict:
    """Per backend and stage: achieved GFLOP/s as % of the peak of the precision it runs at."""
    result: dict[str, dict[str, float]] = {}
    rows = {**({"meta": run["official"]} if "official" in run else {}), **run["backends"]}
    for name, entry in rows.items():
        result[name] = {}
        for stage in STAGES:
            per_frame = flops[stage]["total"] * (1 if stage == "image_encoder" else run["objects"])
            if entry.get(stage, 0) > 0:
                result[name][stage] = 100 * per_frame / entry[stage] / (stage_peak(name, stage, report) * 1e9)
    return result


def _print_backends(run: dict[str, Any]) -> None:
    rows = {**({"meta": run["official"]} if "official" in run else {}), **run["backends"]}
    first = next(iter(rows))
    print(f"\n-- {run['size']} px, {run['objects']} object(s): seconds per frame (speed-up over {first}) "
          "and % of the measured peak of the precision each stage runs at --")  # fmt: skip
    print(f"  {'stage':17s} " + " ".join(f"{n:>26s}" for n in rows))
    for stage in ("wall", *STAGES, "stream"):
        ref = rows[first][stage]
        cells = []
        for n, entry in rows.items():
            peak = run.get("percent_of_peak", {}).get(n, {}).get(stage)
            cell = f"{entry[stage]:7.3f} ({ref / entry[stage] if entry[stage] else 0:4.2f}x)"
            cells.append(cell + (f" {peak:3.0f}%" if peak is not None else "     "))
        print(f"  {stage:17s} " + " ".join(f"{c:>26s}" for c in cells))
    names = list(run["backends"])
    for n in names[1:]:
        entry = run["backends"][n]
        print(f"  {n}: largest logit difference to {names[0]} {entry['max_logit_difference']:.2e}, "
              f"smallest low-res mask agreement {entry['mask_agreement']:.4f}")  # fmt: skip


def _print_run(run: dict[str, Any], flops: dict[str, dict[str, float]], peak_gflops: float) -> None:
    n = run["objects"]
    print(f"\n-- {run['config']}, {run['size']} px, {n} object(s), steady-state seconds per frame --")
    print(f"  {'stage':17s} {'engine':>9s} {'official':>9s} {'ratio':>6s} {'engine %peak':>12s}")
    for stage in ("wall", *STAGES):
        eng = run["engine"][stage]
        ref = run.get("official", {}).get(stage)
        per_frame_flops = flops[stage]["total"] * (1 if stage == "image_encoder" else n) if stage in flops else None
        frac = f"{100 * per_frame_flops / eng / (peak_gflops * 1e9):11.0f}%" if per_frame_flops and eng > 0 else ""
        ratio = f"{eng / ref:6.2f}" if ref else ""
        ref_s = f"{ref:9.3f}" if ref is not None else ""
        print(f"  {stage:17s} {eng:9.3f} {ref_s:>9s} {ratio:>6s} {frac:>12s}")
    eng, ref = run["engine"]["stream"], run.get("official", {}).get("stream")
    print(f"  whole stream of {run['frames']} frames (prompts on frame 0), seconds: engine {eng:.3f}"
          + (f", official {ref:.3f}, ratio {eng / ref:.2f}" if ref else ""))  # fmt: skip
    if "max_logit_difference" in run:
        print(f"  largest low-res logit difference engine vs official: {run['max_logit_difference']:.2e}")


if __name__ == "__main__":
    raise SystemExit(main())
