"""Command line of the export tool (``sam2-ros-export``)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from sam2_ros.engine.errors import ExportError


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``sam2-ros-export``."""
    parser = argparse.ArgumentParser(
        prog="sam2-ros-export",
        description="Export a SAM 2 / SAM 2.1 checkpoint to a sam2_ros model directory "
        "(four ONNX components, host tensors and a model.yaml manifest).",
    )
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument("--checkpoint", type=Path, help="official or fine-tuned SAM 2 .pt checkpoint")
    weights.add_argument(
        "--random-init",
        type=int,
        metavar="SEED",
        help="seeded random weights instead of a checkpoint (tests and demos; masks mean nothing)",
    )
    parser.add_argument(
        "--config",
        required=True,
        help="config name (sam2.1_hiera_t, sam2.1_hiera_s, sam2.1_hiera_b+, sam2.1_hiera_l, "
        "sam2_hiera_*) or the path of a SAM 2 model YAML",
    )
    parser.add_argument("--image-size", type=int, default=None, help="input size (default: the config's)")
    parser.add_argument("--output", type=Path, required=True, help="model directory to write")
    parser.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument(
        "--no-postprocessing",
        action="store_true",
        help="export without the video predictor's post-processing "
        "(dynamic multimask fallback, binarised click masks in memory)",
    )
    parser.add_argument(
        "--static-shapes",
        action="store_true",
        help="export memory attention over a fixed-size bank with validity masks "
        "(for static-shape runtimes such as QNN; same outputs)",
    )
    parser.add_argument(
        "--static-conditioning-frames",
        type=int,
        default=1,
        help="prompted frames per object the fixed bank holds (with --static-shapes; default 1)",
    )
    parser.add_argument(
        "--decoder-points",
        default="1,2,3,4",
        help="with --static-shapes: prompt sizes to export a decoder for (points; a box counts 2; default 1,2,3,4)",
    )
    parser.add_argument(
        "--target",
        choices=("onnx", "qnn", "openvino"),
        default="onnx",
        help="qnn: static shapes, then QNN context binaries (fp16, HTP) via onnxruntime-qnn, see docs/QUALCOMM.md; "
        "openvino: OpenVINO IR next to the ONNX files (and an int8 image encoder with --precision mixed), "
        "see docs/ENGINE.md",
    )
    parser.add_argument(
        "--soc", default="qcs8550", help="with --target qnn: chip preset (qcs8550, sm8550, sm8650, sm8750)"
    )
    parser.add_argument(
        "--soc-model", type=int, default=None, help="with --target qnn: QNN soc_model id (overrides --soc)"
    )
    parser.add_argument(
        "--htp-arch", type=int, default=None, help="with --target qnn: HTP architecture (overrides --soc)"
    )
    parser.add_argument(
        "--precision",
        default=None,
        help="with --target qnn: fp16 (default), w8a8 or w8a16 (quantised, calibrated on synthetic clips); "
        "with --target openvino: f32 (default, exact), bf16 or mixed (int8 image encoder, bf16 elsewhere), "
        "the backend's default precision for this directory",
    )
    parser.add_argument(
        "--component-precision",
        action="append",
        default=[],
        metavar="COMPONENT=PRECISION",
        help="with --target qnn: another precision for one component (repeatable), e.g. memory_attention=w8a16",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        help="quantised precisions (qnn w8a8/w8a16 or a quantised --component-precision, openvino mixed): "
        "calibrate on your own frames, an image folder, a video or a rosbag2 recording, instead of the "
        "synthetic clips (which suit random and synthetic-trained weights only; see docs/QUALCOMM.md)",
    )
    parser.add_argument("--calibration-topic", help="with a rosbag2 --calibration: its image topic")
    parser.add_argument("--threads", type=int, default=None, help="torch threads during export")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    return parser


def parse_points(text: str) -> tuple[int, ...]:
    """``"1,2,3,4"`` -> (1, 2, 3, 4), checked."""
    try:
        points = tuple(sorted({int(p) for p in text.split(",") if p.strip()}))
    except ValueError as exc:
        raise ExportError(f"--decoder-points must be comma-separated integers, got {text!r}") from exc
    if not points or points[0] < 1 or points[-1] > 64 or 1 not in points:
        raise ExportError(f"--decoder-points must include 1 (tracking) and stay within 1..64, got {text!r}")
    return points


TARGET_PRECISIONS = {"onnx": (None,), "qnn": ("fp16", "w8a8", "w8a16"), "openvino": ("f32", "bf16", "mixed")}


def check_precision(target: str, precision: str | None) -> str | None:
    """``--precision`` for ``--target``: checked, or the target's default when not given."""
    choices = TARGET_PRECISIONS[target]
    if precision is None:
        return choices[0]
    if precision not in choices:
        if target == "onnx":
            raise ExportError("--precision needs --target qnn (fp16, w8a8, w8a16) or openvino (f32, bf16, mixed)")
        raise ExportError(f"--target {target} takes --precision {', '.join(choices)}, got {precision!r}")
    return precision


COMPONENTS = ("image_encoder", "memory_attention", "memory_encoder", "mask_decoder")


def parse_component_precision(items: list[str]) -> dict[str, str]:
    """``["memory_attention=w8a16"]`` -> ``{"memory_attention": "w8a16"}``, checked."""
    result = {}
    for item in items:
        name, _, precision = item.partition("=")
        if name.strip() not in COMPONENTS or precision not in ("fp16", "w8a8", "w8a16"):
            raise ExportError(
                f"--component-precision wants COMPONENT=fp16|w8a8|w8a16 with COMPONENT one of "
                f"{', '.join(COMPONENTS)}, got {item!r}"
            )
        result[name.strip()] = precision
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the export; return a process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log = logging.getLogger("sam2_ros.export")
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        from sam2_ros.export.writer import check_output_dir

        check_output_dir(args.output, args.force)
        precision = check_precision(args.target, args.precision)
        overrides = parse_component_precision(args.component_precision) if args.target == "qnn" else {}
        calibration = None
        if args.calibration is not None or args.calibration_topic is not None:
            quantised = {precision, *overrides.values()} & {"w8a8", "w8a16", "mixed"}
            if not quantised:
                raise ExportError(
                    "--calibration is for quantised precisions: --target qnn --precision w8a8|w8a16 "
                    "(or a quantised --component-precision), or --target openvino --precision mixed"
                )
            from sam2_ros.export.calibration import read_calibration

            calibration = read_calibration(args.calibration, args.calibration_topic)  # before the slow export
        try:
            import torch
        except ImportError as exc:
            raise ExportError(
                "the export tool needs torch and the official sam2 package; run scripts/setup_env.sh (see README.md)"
            ) from exc
        from sam2_ros.export.builder import build_model, default_threads
        from sam2_ros.export.writer import settings_from_model, static_bank_size, write_model_dir

        for noisy in ("torch", "torch.onnx", "torch.onnx._internal.exporter._registration", "onnxscript", "onnx_ir"):
            logging.getLogger(noisy).setLevel(logging.ERROR)  # export progress and torchvision notices
        torch.set_num_threads(args.threads or default_threads())
        start = time.monotonic()
        built = build_model(
            args.config,
            checkpoint=args.checkpoint,
            random_init_seed=args.random_init,
            image_size=args.image_size,
            postprocessing=not args.no_postprocessing,
        )
        static_bank = None
        points = parse_points(args.decoder_points)
        if args.static_shapes or args.target == "qnn":
            if args.static_conditioning_frames < 1:
                raise ExportError("--static-conditioning-frames must be at least 1")
            static_bank = static_bank_size(settings_from_model(built), args.static_conditioning_frames)
        finish = None
        if args.target == "qnn":
            from sam2_ros.export.qnn import compile_model_dir, qnn_provider

            qnn_provider()  # fail before the slow export if onnxruntime-qnn is missing

            def finish(staging, manifest):
                return compile_model_dir(
                    staging, manifest, args.soc, args.soc_model, args.htp_arch, precision, overrides, calibration
                )
        elif args.target == "openvino":
            from sam2_ros.export.openvino_ir import check_available, convert_model_dir

            check_available(precision)  # fail before the slow export if OpenVINO / NNCF is missing

            def finish(staging, manifest):
                return convert_model_dir(staging, manifest, precision, calibration)

        manifest = write_model_dir(
            built, args.output, force=args.force, static_bank=static_bank, decoder_points=points, finish=finish
        )
    except ExportError as exc:
        print(f"sam2-ros-export: error: {exc}", file=sys.stderr)
        return 2
    log.info(
        "wrote %s (%s, image size %d%s) in %.1f s",
        args.output,
        built.config_name,
        manifest.settings.image_size,
        ", RANDOM WEIGHTS" if manifest.random_weights else "",
        time.monotonic() - start,
    )
    return 0
