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
  seconds per frame.

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

from sam2_ros.evaluation.evaluate import CONDITIONS, evaluate


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench.precision", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped one)")
    parser.add_argument("--clips", type=int, default=8, help="held-out clips per condition (CPU variants)")
    parser.add_argument("--simulator-clips", type=int, default=2, help="clips per condition on the HTP simulator")
    parser.add_argument("--no-simulator", action="store_true", help="skip the HTP simulator variants")
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
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(rows, indent=2) + "\n")
    keys = [f"{c}_{k}" for c in CONDITIONS for k in ("frame0_iou", "mean_iou", "J&F")]
    print("| variant | clips | " + " | ".join(keys) + " |", file=sys.stderr)
    for row in rows:
        cells = " | ".join(f"{row[k]:.3f}" for k in keys)
        print(f"| {row['variant']} | {row['clips_per_condition']} | {cells} |", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
