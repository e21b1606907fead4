"""How reduced precision changes tracking quality, on the shipped synthetic-trained model.

    python -m sam2_ros.bench.precision [--clips 4] [--simulator-clips 2] [--output results.json]

Variants, all on the same held-out clips (``sam2_ros.evaluation``), side by side in one run:

- ``fp32``: the exported model on ONNX Runtime CPU (the reference; equals Meta's predictor);
- ``fp32-static``: the static-shape (QNN-ready) ONNX graphs on the CPU;
- ``bf16-weights``: every weight rounded to bfloat16, then exported (weight storage precision);
- ``int8-dynamic``: ONNX Runtime dynamic quantisation (int8 MatMul weights and activations);
- ``w8a16-qdq``, ``w8a8-qdq``, ``mixed-qdq``: the QDQ graphs that ``--precision`` compiles for the
  HTP (calibrated on synthetic clips), run on the CPU: the quantisation error without the
  simulator's cost. ``mixed`` is w8a8 for the image encoder and w8a16 for the rest;
- ``fp16-htp``, ``w8a16-htp``, ``w8a8-htp``, ``mixed-htp``: the QNN context binaries
  (``--target qnn --precision ...``) in Qualcomm's HTP simulator, on fewer clips: it takes
  seconds per frame;
- ``openvino-f32``, ``openvino-bf16``, ``openvino-mixed``: the ``--target openvino --precision
  mixed`` export (IR, int8 image encoder) on the openvino backend at each precision (fast mode
  on x86), with each frame's mask agreement with exact mode (ONNX Runtime) on the same clips.

Needs the export environment (torch, sam2) and, for ``fp16-htp``, onnxruntime-qnn.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sam2_ros.evaluation.evaluate import (
    CONDITIONS,
    EVAL_SEED_START,
    eval_clip,
    evaluate,
    score,
    summarise,
    track_engine,
)


def _export(checkpoint: Path, config: Path, output: Path, *extra: str) -> Path:
    from sam2_ros.export.cli import main as export_main

    args = ["--checkpoint", str(checkpoint), "--config", str(config), "--no-postprocessing", "--output", str(output)]
    if export_main([*args, "--force", "-q", *extra]) != 0:
        raise SystemExit(f"export of {checkpoint} failed")
    return output


def _bf16_checkpoint(checkpoint: Path, output: Path) -> Path:
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    rounded = {k: v.to(torch.bfloat16).to(v.dtype) if v.is_floating_point() else v for k, v in state.items()}
    torch.save({"model": rounded}, output)
    return output


def _int8_dynamic(model_dir: Path, output: Path) -> Path:
    """Copy of ``model_dir`` with every component dynamically quantised (manifest hashes updated)."""
    import yaml
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from sam2_ros.engine.manifest import MANIFEST_NAME, sha256_of

    shutil.copytree(model_dir, output, dirs_exist_ok=True)
    raw = yaml.safe_load((output / MANIFEST_NAME).read_text())
    for spec in raw["components"].values():
        path = output / spec["file"]
        quantize_dynamic(str(model_dir / spec["file"]), str(path), weight_type=QuantType.QInt8)
        spec["sha256"] = sha256_of(path)
    (output / MANIFEST_NAME).write_text(yaml.safe_dump(raw, sort_keys=False))
    return output


MIXED = {"memory_attention": "w8a16", "memory_encoder": "w8a16", "mask_decoder": "w8a16"}


def _qdq_on_cpu(static_dir: Path, output: Path, precision: str, overrides: dict[str, str]) -> Path:
    """Copy of a static model directory whose components are the calibrated QDQ graphs."""
    import yaml

    from sam2_ros.engine.manifest import MANIFEST_NAME, load_model_dir, sha256_of
    from sam2_ros.export.quantize import calibration_samples, quantize_component

    shutil.copytree(static_dir, output, dirs_exist_ok=True)
    manifest, _ = load_model_dir(static_dir)
    samples = calibration_samples(static_dir, manifest)
    raw = yaml.safe_load((output / MANIFEST_NAME).read_text())
    for name, spec in raw["components"].items():
        chosen = overrides.get(name.split(".")[0], precision)
        quantize_component(static_dir / spec["file"], output / spec["file"], samples[name], chosen)
        spec["sha256"] = sha256_of(output / spec["file"])
    (output / MANIFEST_NAME).write_text(yaml.safe_dump(raw, sort_keys=False))
    return output


def _row(name: str, report: dict, clips: int) -> dict:
    return {
        "variant": name,
        "clips_per_condition": clips,
        **{f"{c}_{k}": report["engine"][c][k] for c in CONDITIONS for k in ("frame0_iou", "mean_iou", "J&F")},
    }


OPENVINO_PRECISIONS = ("f32", "bf16", "mixed")


def _frame_agreement(fast, exact) -> list[float]:
    """Per frame: the fraction of pixels whose object label (mask) is the same in both tracks, over objects."""
    return [
        float(np.mean([np.mean(fast.masks[k][t] == exact.masks[k][t]) for k in exact.masks]))
        for t in range(len(next(iter(exact.masks.values()))))
    ]


def openvino_rows(exact_dir: Path, openvino_dir: Path, clips: int, threads: int) -> list[dict]:
    """One row per openvino precision: IoU against ground truth (as ``evaluate``) and each frame's
    mask agreement with exact mode, tracked side by side on the same held-out clips (16 frames)."""
    from sam2_ros.engine import Sam2Tracker

    exact = Sam2Tracker.from_model_dir(exact_dir, threads=threads)
    rows = []
    for precision in OPENVINO_PRECISIONS:
        start = time.perf_counter()
        options = {"precision": precision, "cache_dir": ""}
        fast = Sam2Tracker.from_model_dir(openvino_dir, backend="openvino", threads=threads, backend_options=options)
        report: dict = {"engine": {}}
        agreement: dict[str, list[float]] = {}
        for condition in CONDITIONS:
            j, f, agree = [], [], []
            for seed in range(EVAL_SEED_START, EVAL_SEED_START + clips):
                clip = eval_clip(seed, condition, 16)
                fast_track, exact_track = track_engine(fast, clip, "click"), track_engine(exact, clip, "click")
                jj, ff = score(fast_track, clip)
                j.append(jj)
                f.append(ff)
                agree.append(_frame_agreement(fast_track, exact_track))
            report["engine"][condition] = summarise(np.concatenate(j), np.concatenate(f))
            agreement[condition] = [a for clip_agreement in agree for a in clip_agreement]
        row = _row(f"openvino-{precision}", report, clips)
        for condition, values in agreement.items():
            row[f"{condition}_min_frame_agreement"] = round(min(values), 4)
            row[f"{condition}_mean_agreement"] = round(float(np.mean(values)), 4)
        rows.append(row | {"wall_s": round(time.perf_counter() - start, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench.precision", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped one)")
    parser.add_argument("--clips", type=int, default=8, help="held-out clips per condition (CPU variants)")
    parser.add_argument("--simulator-clips", type=int, default=2, help="clips per condition on the HTP simulator")
    parser.add_argument("--no-simulator", action="store_true", help="skip the HTP simulator variants")
    parser.add_argument("--no-openvino", action="store_true", help="skip the openvino variants")
    parser.add_argument("--only-openvino", action="store_true", help="only fp32 and the openvino variants")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, help="write the rows as JSON")
    args = parser.parse_args(argv)
    from sam2_ros.resources import shipped_model_dir
    from sam2_ros.tools import shipped

    folder = args.model or shipped_model_dir()
    shipped.verify(folder)
    checkpoint, config = folder / "checkpoint.pt", folder / "config.yaml"
    rows = []
    with tempfile.TemporaryDirectory(prefix="sam2_ros_precision_") as tmp:
        work = Path(tmp)
        fp32 = shipped.exported_dir(folder)
        if args.only_openvino:
            report = evaluate(fp32, clips=args.clips, frames=16, prompt="click", threads=args.threads)
            rows.append(_row("fp32", report, args.clips))
            openvino = _export(checkpoint, config, work / "openvino", "--target", "openvino", "--precision", "mixed")
            rows += openvino_rows(fp32, openvino, args.clips, args.threads)
            return _finish(rows, args.output)
        static = _export(checkpoint, config, work / "static", "--static-shapes")
        bf16 = _export(_bf16_checkpoint(checkpoint, work / "bf16.pt"), config, work / "bf16")
        int8 = _int8_dynamic(fp32, work / "int8")
        variants = [("fp32", fp32, None, args.clips), ("fp32-static", static, None, args.clips),
                    ("bf16-weights", bf16, None, args.clips), ("int8-dynamic", int8, None, args.clips)]  # fmt: skip
        quantised = {"w8a16": ("w8a16", {}), "w8a8": ("w8a8", {}), "mixed": ("w8a8", MIXED)}
        for label, (precision, overrides) in quantised.items():
            qdq = _qdq_on_cpu(static, work / f"{label}-qdq", precision, overrides)
            variants.append((f"{label}-qdq", qdq, None, args.clips))
        if not args.no_simulator:
            variants.append(("fp32 (same clips as the HTP)", fp32, None, args.simulator_clips))
            for label, (precision, overrides) in {"fp16": ("fp16", {}), **quantised}.items():
                extra = [f"--component-precision={k}={v}" for k, v in overrides.items()]
                qnn = _export(checkpoint, config, work / label, "--target", "qnn", "--precision", precision, *extra)
                variants.append((f"{label}-htp", qnn, "qnn", args.simulator_clips))
        for name, model_dir, backend, clips in variants:
            start = time.perf_counter()
            report = evaluate(model_dir, clips=clips, frames=16, prompt="click", threads=args.threads, backend=backend)
            rows.append(_row(name, report, clips) | {"wall_s": round(time.perf_counter() - start, 1)})
            print(json.dumps(rows[-1]), flush=True)
        if not args.no_openvino:
            openvino = _export(checkpoint, config, work / "openvino", "--target", "openvino", "--precision", "mixed")
            rows += openvino_rows(fp32, openvino, args.clips, args.threads)
    return _finish(rows, args.output)


def _finish(rows: list[dict], output: Path | None) -> int:
    """Write the rows (JSON) and print them as a table."""
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(rows, indent=2) + "\n")
    keys = [f"{c}_{k}" for c in CONDITIONS for k in ("frame0_iou", "mean_iou", "J&F")]
    extra = [f"{c}_{k}" for c in CONDITIONS for k in ("min_frame_agreement", "mean_agreement")]
    print("| variant | clips | " + " | ".join(keys + extra) + " |", file=sys.stderr)
    for row in rows:
        cells = " | ".join(f"{row[k]:.3f}" if k in row else "" for k in keys + extra)
        print(f"| {row['variant']} | {row['clips_per_condition']} | {cells} |", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
