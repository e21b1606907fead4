"""Compile static-shape ONNX components to QNN context binaries with onnxruntime-qnn.

For each component the HTP backend of ``onnxruntime-qnn`` builds the QNN graph (fp16) and
ONNX Runtime writes it as an EPContext model: a QNN context binary (``models/<name>.bin``,
what the AidLite SDK loads on the device, as APLUX Model Farm packages do) plus a small ONNX
wrapper (``models/<name>_ctx.onnx``, what the engine's ``qnn`` backend loads through
onnxruntime-qnn). On x86_64 the compile runs in Qualcomm's HTP simulator libraries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sam2_ros.engine.backends.qnn_backend import qnn_runtime
from sam2_ros.engine.errors import BackendError, ExportError
from sam2_ros.engine.manifest import Manifest, QnnBinary, sha256_of
from sam2_ros.export.calibration import UserFrames, describe

LOG = logging.getLogger("sam2_ros.export")

# SoC presets: (QNN soc_model, HTP architecture). fp16 needs HTP v69 or newer.
SOCS: dict[str, tuple[int, int]] = {
    "qcs8550": (43, 73),  # = SM8550 (Snapdragon 8 Gen 2), HTP v73
    "sm8550": (43, 73),
    "sm8650": (57, 75),
    "sm8750": (69, 79),
}
FP16_MIN_HTP_ARCH = 69
BINARY_DIR = "models"


def qnn_provider() -> Any:
    """(onnxruntime, onnxruntime_qnn, QNN EP devices); ExportError if onnxruntime-qnn is missing."""
    try:
        return qnn_runtime()
    except BackendError as exc:
        raise ExportError(
            f"compiling for QNN needs onnxruntime-qnn: {exc} (see docs/QUALCOMM.md for the QNN SDK / AIMO alternatives)"
        ) from exc


def compile_component(
    onnx_path: Path, output_dir: Path, name: str, soc_model: int, htp_arch: int, precision: str = "fp16"
) -> tuple[Path, Path]:
    """Compile one ONNX file; return (context binary, EPContext wrapper) inside ``output_dir``."""
    if precision not in ("fp16", "w8a8", "w8a16"):
        raise ExportError(f"precision {precision!r} is not supported: fp16, w8a8 or w8a16 (see docs/QUALCOMM.md)")
    if precision == "fp16" and htp_arch < FP16_MIN_HTP_ARCH:
        raise ExportError(
            f"HTP v{htp_arch} has no fp16 support (v{FP16_MIN_HTP_ARCH}+ has); such chips (e.g. QCS6490, v68) "
            "need a quantised model: --precision w8a8 (see docs/QUALCOMM.md)"
        )
    ort, qnn, devices = qnn_provider()
    output_dir.mkdir(parents=True, exist_ok=True)
    wrapper = output_dir / f"{name}_ctx.onnx"
    for stale in (wrapper, output_dir / f"{name}_ctx_qnn.bin", output_dir / f"{name}.bin"):
        stale.unlink(missing_ok=True)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    provider = {"backend_path": qnn.get_qnn_htp_path(), "soc_model": str(soc_model), "htp_arch": str(htp_arch)}
    if precision == "fp16":
        provider["enable_htp_fp16_precision"] = "1"  # a QDQ model compiles to integer HTP ops instead
    options.add_provider_for_devices(devices, provider)
    options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")  # all of it on the HTP, or fail
    options.add_session_config_entry("ep.context_enable", "1")
    options.add_session_config_entry("ep.context_embed_mode", "0")
    options.add_session_config_entry("ep.context_file_path", str(wrapper))
    try:
        ort.InferenceSession(str(onnx_path), sess_options=options)
    except Exception as exc:
        raise ExportError(
            f"QNN could not compile {name} for the HTP (soc_model {soc_model}, v{htp_arch}): {exc}"
        ) from exc
    produced = output_dir / f"{name}_ctx_qnn.bin"
    if not produced.is_file() or not wrapper.is_file():
        raise ExportError(f"onnxruntime-qnn did not write a context binary for {name}")
    binary = output_dir / f"{name}.bin"
    os.replace(produced, binary)
    _point_wrapper_at(wrapper, binary.name)
    return binary, wrapper


def _point_wrapper_at(wrapper: Path, binary_name: str) -> None:
    """Make the EPContext node reference the renamed binary (a path relative to the wrapper)."""
    import onnx

    model = onnx.load(str(wrapper))
    nodes = [n for n in model.graph.node if n.op_type == "EPContext"]
    if len(nodes) != 1 or len(model.graph.node) != 1:
        raise ExportError(f"{wrapper.name}: expected one EPContext node (the whole graph on the HTP)")
    for attr in nodes[0].attribute:
        if attr.name == "ep_cache_context":
            attr.s = binary_name.encode()
    onnx.save(model, str(wrapper))


def compile_model_dir(
    model_dir: Path,
    manifest: Manifest,
    soc: str = "qcs8550",
    soc_model: int | None = None,
    htp_arch: int | None = None,
    precision: str = "fp16",
    component_precision: Mapping[str, str] | None = None,
    calibration: UserFrames | None = None,
) -> Manifest:
    """Compile every component of a static-shape model directory; return the manifest with ``qnn`` entries.

    ``precision`` fp16 compiles the fp32 graphs in fp16; w8a8 / w8a16 first quantise them (QDQ,
    calibrated on ``calibration`` (``--calibration``) or the synthetic clips,
    :mod:`sam2_ros.export.quantize`; ``source.calibration`` in the manifest says which). ``component_precision``
    overrides it per component (``{"memory_attention": "w8a16"}``; ``mask_decoder`` covers
    every decoder variant).
    """
    if soc.lower() not in SOCS:
        raise ExportError(f"unknown --soc {soc!r}: use one of {', '.join(sorted(SOCS))}, or --soc-model/--htp-arch")
    default_model, default_arch = SOCS[soc.lower()]
    soc_model = default_model if soc_model is None else soc_model
    htp_arch = default_arch if htp_arch is None else htp_arch
    for name, spec in manifest.components.items():
        dynamic = [t.name for t in (*spec.inputs, *spec.outputs) if not all(isinstance(d, int) for d in t.shape)]
        if dynamic or spec.file is None:
            raise ExportError(f"{name} has dynamic shapes ({', '.join(dynamic)}): QNN needs --static-shapes")
    overrides = dict(component_precision or {})
    unknown = sorted(set(overrides) - {name.split(".")[0] for name in manifest.components})
    if unknown:
        known = sorted({name.split(".")[0] for name in manifest.components})
        raise ExportError(f"no component named {', '.join(unknown)}: use {', '.join(known)}")
    precisions = {name: overrides.get(name.split(".")[0], precision) for name in manifest.components}
    samples = None
    if set(precisions.values()) != {"fp16"}:
        from sam2_ros.export.quantize import calibration_samples, quantize_component

        LOG.info("recording calibration inputs (fp32 model on %s)", describe(calibration))
        samples = calibration_samples(model_dir, manifest, calibration and calibration.frames)
        (model_dir / BINARY_DIR).mkdir(parents=True, exist_ok=True)
    components = {}
    for name, spec in manifest.components.items():
        source, chosen = model_dir / spec.file, precisions[name]
        quantised = chosen != "fp16"
        if quantised:
            LOG.info("quantising %s (%s, %d calibration samples)", name, chosen, len(samples[name]))
            source = quantize_component(source, model_dir / BINARY_DIR / f"{name}.qdq.onnx", samples[name], chosen)
        LOG.info("compiling %s for the HTP (soc_model %d, v%d, %s)", name, soc_model, htp_arch, chosen)
        binary, wrapper = compile_component(source, model_dir / BINARY_DIR, name, soc_model, htp_arch, chosen)
        if quantised:
            source.unlink()
        qnn = QnnBinary(
            context_binary=f"{BINARY_DIR}/{binary.name}",
            context_binary_sha256=sha256_of(binary),
            epcontext=f"{BINARY_DIR}/{wrapper.name}",
            epcontext_sha256=sha256_of(wrapper),
            precision=chosen,
            soc_model=soc_model,
            htp_arch=htp_arch,
        )
        components[name] = replace(spec, qnn=qnn)
    source = {**manifest.source, "calibration": describe(calibration)} if samples is not None else manifest.source
    return replace(manifest, components=components, source=source)
