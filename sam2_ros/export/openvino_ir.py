"""``sam2-ros-export --target openvino``: the model directory's components as OpenVINO IR.

After the ONNX export, every component is converted by OpenVINO (``ov.convert_model``) and
written as IR next to the ONNX files: ``openvino/<component>.xml`` (graph) and ``.bin``
(weights, kept f32 so that precision ``f32`` stays exact; ``bf16`` is a compile-time hint
of the backend, not a different file). Precision ``mixed`` also writes the image encoder's
int8 IR (``openvino/image_encoder.int8.xml``), post-training quantised with NNCF on the fp32
model's inputs from seeded synthetic clips (:mod:`sam2_ros.export.openvino_int8`). The
manifest lists every file with its SHA-256 and records the precision as the backend's default
(``openvino.precision``). The ONNX files stay: the same directory runs on every backend.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

from sam2_ros.engine.errors import ExportError
from sam2_ros.engine.manifest import Manifest, OpenVinoIR, sha256_of
from sam2_ros.export.calibration import UserFrames, describe

LOG = logging.getLogger("sam2_ros.export")
PRECISIONS = ("f32", "bf16", "mixed")
IR_DIR = "openvino"
INSTALL = "pip install -r requirements/openvino.txt"


def _openvino():
    try:
        import openvino as ov
    except ImportError as exc:
        raise ExportError(f"--target openvino needs OpenVINO: {INSTALL} ({exc})") from exc
    return ov


def check_available(precision: str) -> None:
    """Fail before the slow export when OpenVINO (and NNCF for ``mixed``) is missing or the precision is wrong."""
    if precision not in PRECISIONS:
        raise ExportError(f"--target openvino takes --precision {', '.join(PRECISIONS)}, got {precision!r}")
    _openvino()
    if precision == "mixed":
        try:
            import nncf  # noqa: F401
        except ImportError as exc:
            raise ExportError(f"--precision mixed needs NNCF: {INSTALL} ({exc})") from exc


def convert_model_dir(
    model_dir: Path, manifest: Manifest, precision: str = "f32", calibration: UserFrames | None = None
) -> Manifest:
    """Write the IR of every ONNX component of ``model_dir``; return the manifest with ``openvino`` entries.

    Precision ``mixed`` calibrates its int8 image encoder on ``calibration`` (``--calibration``) or,
    without it, on the synthetic clips; the manifest's ``source.calibration`` says which.
    """
    check_available(precision)
    ov = _openvino()
    from sam2_ros.export.openvino_int8 import quantized_encoder, save_ir

    components = {}
    for name, spec in manifest.components.items():
        if spec.file is None or spec.format != "onnx":
            raise ExportError(f"{name} has no ONNX file to convert")
        t0 = time.perf_counter()
        xml = model_dir / IR_DIR / f"{name}.xml"
        save_ir(ov.convert_model(str(model_dir / spec.file)), xml)
        entry = OpenVinoIR(
            xml=f"{IR_DIR}/{xml.name}",
            xml_sha256=sha256_of(xml),
            weights=f"{IR_DIR}/{xml.with_suffix('.bin').name}",
            weights_sha256=sha256_of(xml.with_suffix(".bin")),
        )
        LOG.info("openvino IR of %s (%.1f s)", name, time.perf_counter() - t0)
        if precision == "mixed" and name == "image_encoder":
            t0 = time.perf_counter()
            int8 = model_dir / IR_DIR / f"{name}.int8.xml"
            save_ir(quantized_encoder(model_dir / spec.file, manifest, calibration and calibration.frames), int8)
            entry = replace(
                entry,
                int8_xml=f"{IR_DIR}/{int8.name}",
                int8_xml_sha256=sha256_of(int8),
                int8_weights=f"{IR_DIR}/{int8.with_suffix('.bin').name}",
                int8_weights_sha256=sha256_of(int8.with_suffix(".bin")),
            )
            LOG.info(
                "int8 image encoder (NNCF, calibrated on %s) (%.1f s)", describe(calibration), time.perf_counter() - t0
            )
        components[name] = replace(spec, openvino=entry)
    source = {**manifest.source, "calibration": describe(calibration)} if precision == "mixed" else manifest.source
    return replace(
        manifest, components=components, openvino={"precision": precision, "openvino": ov.__version__}, source=source
    )
