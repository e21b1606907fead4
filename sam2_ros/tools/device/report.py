"""The device check's report: its JSON schema (as data), a checker for it, and the printed table.

:data:`REPORT_SCHEMA` uses only standard JSON Schema keywords (``type``, ``properties``,
``required``, ``items``, ``enum``, ``minimum``, ``additionalProperties``), so ``jsonschema`` can
check a report too; :func:`validate` implements that subset here, with no dependency.
``sam2-ros-device-check --print-schema`` prints it.
"""

from __future__ import annotations

import math
from typing import Any

SCHEMA_VERSION = 1
STATUSES = ["passed", "failed"]
FAILURE_KINDS = [
    "model_dir", "runtime_missing", "wrong_arch", "binary_mismatch", "vtcm", "graph_prepare",
    "out_of_memory", "load_failed", "run_failed", "correctness", "end_to_end",
]  # fmt: skip

NUM = {"type": "number"}
OPT_NUM = {"type": ["number", "null"]}
OPT_STR = {"type": ["string", "null"]}
OPT_INT = {"type": ["integer", "null"]}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object schema whose listed keys are all present (``optional`` ones may be missing)."""
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": sorted(required)}


FAILURE = _object(
    {"kind": {"type": "string", "enum": FAILURE_KINDS}, "component": OPT_STR, "message": {"type": "string"},
     "hint": {"type": "string"}},
    {"error": OPT_STR},
)  # fmt: skip
STEADY = _object({"runs": {"type": "integer", "minimum": 1}, "median_s": NUM, "p90_s": NUM, "min_s": NUM, "max_s": NUM})
OUTPUT_ERROR = _object({"max_abs_error": OPT_NUM, "scale": OPT_NUM, "relative_error": OPT_NUM})
CORRECTNESS = _object(
    {"checked": {"type": "boolean"}, "passed": {"type": ["boolean", "null"]}, "tolerance": OPT_NUM,
     "max_relative_error": OPT_NUM, "outputs": {"type": "object", "additionalProperties": OUTPUT_ERROR},
     "note": OPT_STR},
)  # fmt: skip
COMPONENT = _object(
    {
        "name": {"type": "string"},
        "precision": {"type": "string"},
        "status": {"type": "string", "enum": ["passed", "failed", "skipped"]},
        "load_s": OPT_NUM,
        "first_run_s": OPT_NUM,
        "steady": {"anyOf": [STEADY, {"type": "null"}]},
        "correctness": CORRECTNESS,
        "input": _object({"frame": OPT_INT, "note": OPT_STR}),
    },
    {"bank": _object({"memories": {"type": "integer"}, "memory_slots": {"type": "integer"},
                      "pointer_tokens": {"type": "integer"}, "pointer_slots": {"type": "integer"},
                      "full": {"type": "boolean"}})},
)  # fmt: skip
END_TO_END = _object(
    {
        "status": {"type": "string", "enum": ["passed", "failed", "skipped"]},
        "frames": {"type": "integer", "minimum": 0},
        "objects": {"type": "integer", "minimum": 0},
        "device_frame_s": {"type": "array", "items": NUM},
        "cpu_frame_s": {"type": "array", "items": NUM},
        "device_median_s": OPT_NUM,
        "device_p90_s": OPT_NUM,
        "cpu_median_s": OPT_NUM,
        "agreement": {"type": "array", "items": NUM},
        "agreement_min": OPT_NUM,
        "agreement_mean": OPT_NUM,
        "min_agreement_required": OPT_NUM,
        "note": OPT_STR,
    }
)
SOC = _object(
    {"name": OPT_STR, "htp_arch": OPT_INT, "soc_model": OPT_INT, "export_preset": OPT_STR, "machine": OPT_STR,
     "soc_id": OPT_STR, "family": OPT_STR, "device_tree_model": OPT_STR, "cpuinfo_hardware": OPT_STR}
)  # fmt: skip
PLATFORM = _object(
    {
        "soc": SOC,
        "htp_arch": OPT_INT,
        "htp_arch_source": {"type": "string"},
        "machine": {"type": "string"},
        "os": {"type": "string"},
        "kernel": {"type": "string"},
        "python": {"type": "string"},
        "cpu_count": {"type": "integer"},
        "packages": _object({"numpy": OPT_STR, "onnxruntime": OPT_STR, "onnxruntime-qnn": OPT_STR, "aidlite": OPT_STR}),
        "simulator": {"type": "boolean"},
    }
)
MODEL = _object(
    {
        "path": {"type": "string"},
        "reference": OPT_STR,
        "image_size": OPT_INT,
        "random_weights": {"type": ["boolean", "null"]},
        "binaries": {"type": "object", "additionalProperties": _object(
            {"precision": {"type": "string"}, "htp_arch": OPT_INT, "soc_model": OPT_INT, "context_binary": OPT_STR})},
    }
)  # fmt: skip
SETTINGS = _object(
    {"backend": {"type": "string"}, "backend_options": {"type": "object"}, "runs": {"type": "integer", "minimum": 1},
     "frames": {"type": "integer", "minimum": 0}, "seed": {"type": "integer"}, "threads": OPT_INT}
)  # fmt: skip
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "sam2-ros-device-check report",
    **_object(
        {
            "schema_version": {"type": "integer", "enum": [SCHEMA_VERSION]},
            "tool": {"type": "string"},
            "sam2_ros_version": OPT_STR,
            "created": {"type": "string"},
            "command": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string", "enum": STATUSES},
            "exit_code": {"type": "integer", "enum": [0, 1, 2]},
            "settings": SETTINGS,
            "platform": PLATFORM,
            "model": MODEL,
            "backend": OPT_STR,
            "components": {"type": "array", "items": COMPONENT},
            "end_to_end": {"anyOf": [END_TO_END, {"type": "null"}]},
            "failures": {"type": "array", "items": FAILURE},
            "notes": {"type": "array", "items": {"type": "string"}},
            "duration_s": NUM,
            "peak_rss_mb": OPT_NUM,
        }
    ),
}

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,), "null": (type(None),),
    "integer": (int,), "number": (int, float),
}  # fmt: skip


def _type_ok(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    if name == "number" and isinstance(value, float) and not math.isfinite(value):
        return False  # JSON has no NaN / Infinity
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema`` (the JSON Schema subset used here), as ``path: problem``."""
    if "anyOf" in schema:
        if any(not validate(value, option, path) for option in schema["anyOf"]):
            return []
        return [f"{path}: matches none of the allowed forms"]
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_type_ok(value, n) for n in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        errors.append(f"{path}: {value} is below {schema['minimum']}")
    if isinstance(value, dict):
        errors += [f"{path}: missing required key {k!r}" for k in schema.get("required", []) if k not in value]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                errors += validate(item, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                errors += validate(item, extra, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += validate(item, schema["items"], f"{path}[{index}]")
    return errors


# ---------------------------------------------------------------------------- the table
def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Plain-text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]


def _component_row(row: dict[str, Any]) -> list[str]:
    steady, check = row["steady"] or {}, row["correctness"]
    error = check["max_relative_error"]
    name = row["name"] + (" (full bank)" if row.get("bank", {}).get("full") else "")
    return [
        name,
        row["precision"],
        _ms(row["load_s"]),
        _ms(row["first_run_s"]),
        _ms(steady.get("median_s")),
        _ms(steady.get("p90_s")),
        "-" if error is None else f"{error:.2e}",
        "-" if check["tolerance"] is None else f"{check['tolerance']:g}",
        row["status"].upper() if row["status"] != "passed" else "ok",
    ]


def _platform_lines(report: dict[str, Any]) -> list[str]:
    p = report["platform"]
    soc = p["soc"]
    chip = soc["name"] or soc["machine"] or soc["device_tree_model"] or soc["cpuinfo_hardware"] or "unknown"
    arch = f"v{p['htp_arch']} ({p['htp_arch_source']})" if p["htp_arch"] is not None else "unknown"
    packages = ", ".join(f"{k} {v or '-'}" for k, v in p["packages"].items())
    sim = " - HTP SIMULATOR: its timings are not a chip's" if p["simulator"] and report["backend"] == "qnn" else ""
    return [
        f"platform: SoC {chip}, HTP arch {arch}, {p['machine']}, {p['os']}, Python {p['python']}{sim}",
        f"runtimes: {packages}",
    ]


def _end_to_end_lines(e2e: dict[str, Any] | None) -> list[str]:
    if e2e is None:
        return []
    if e2e["status"] == "skipped":
        return [f"end to end: skipped ({e2e['note']})"]
    line = (
        f"end to end: {e2e['frames']} frames, {e2e['objects']} objects: device {_ms(e2e['device_median_s'])} ms/frame "
        f"(median; p90 {_ms(e2e['device_p90_s'])})"
    )
    if e2e["cpu_median_s"] is not None:
        line += f", CPU fp32 {_ms(e2e['cpu_median_s'])} ms/frame"
    lines = [line]
    if e2e["agreement_min"] is not None:
        lines.append(
            f"  mask agreement with the CPU run: min {e2e['agreement_min']:.4f}, mean {e2e['agreement_mean']:.4f} "
            f"(required >= {e2e['min_agreement_required']}): {e2e['status'].upper()}"
        )
    elif e2e["note"]:
        lines.append(f"  {e2e['note']}")
    return lines


def format_report(report: dict[str, Any], report_path: str | None = None) -> str:
    """The human-readable summary: platform, one row per component, end to end, failures, verdict."""
    settings = report["settings"]
    lines = [
        f"sam2_ros device check - backend {report['backend'] or settings['backend']}, model {report['model']['path']}"
    ]
    lines += _platform_lines(report)
    if report["components"]:
        header = ["component", "precision", "load ms", "first ms", "median ms", "p90 ms", "max err", "tol", "check"]
        lines += ["", f"per component ({settings['runs']} steady runs each; errors relative to max(1, |fp32|)):"]
        lines += _table(header, [_component_row(r) for r in report["components"]])
    lines += [""] + _end_to_end_lines(report["end_to_end"]) if report["end_to_end"] else []
    for note in report["notes"]:
        lines.append(f"note: {note}")
    for failure in report["failures"]:
        where = f" [{failure['component']}]" if failure.get("component") else ""
        lines += ["", f"FAILED{where} ({failure['kind']}): {failure['message']}", f"  what to try: {failure['hint']}"]
    if report["peak_rss_mb"] is not None:
        lines.append(f"peak memory (RSS) {report['peak_rss_mb']:.0f} MiB, {report['duration_s']:.0f} s in all")
    verdict = "PASSED" if report["status"] == "passed" else "FAILED"
    lines += ["", f"result: {verdict}" + (f" - report: {report_path}" if report_path else "")]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the docs' table
DOCS_HEADER = (
    "| date | SoC (HTP) | backend | model | image encoder ms | memory attention ms (full bank) | memory encoder ms "
    "| decoder ms (1 point) | frame ms (objects) | agreement (min) | status |"
)


def _median_ms(report: dict[str, Any], component: str) -> str:
    for row in report["components"]:
        if row["name"] == component and row["steady"]:
            return _ms(row["steady"]["median_s"])
    return "-"


def docs_row(report: dict[str, Any]) -> str:
    """One row of docs/PERFORMANCE.md's on-device table from a device-check report."""
    p = report["platform"]
    soc = p["soc"]
    chip = soc["name"] or soc["machine"] or soc["device_tree_model"] or soc["cpuinfo_hardware"] or p["machine"]
    chip += f" (v{p['htp_arch']})" if p["htp_arch"] is not None else ""
    if p["simulator"] and report["settings"]["backend"] == "qnn":
        chip += ", HTP SIMULATOR"
    precisions = sorted({b.get("precision") or "?" for b in report["model"]["binaries"].values()})
    model = f"{report['model']['image_size']} px, {'/'.join(precisions)}"
    e2e = report["end_to_end"] or {}
    frame = f"{_ms(e2e.get('device_median_s'))} ({e2e.get('objects', '-')})" if e2e.get("device_median_s") else "-"
    agreement = f"{e2e['agreement_min']:.4f}" if e2e.get("agreement_min") is not None else "-"
    cells = [
        report["created"][:10],
        chip,
        str(report["settings"]["backend"]),
        model,
        _median_ms(report, "image_encoder"),
        _median_ms(report, "memory_attention"),
        _median_ms(report, "memory_encoder"),
        _median_ms(report, "mask_decoder.points1"),
        frame,
        agreement,
        report["status"],
    ]
    return "| " + " | ".join(cells) + " |"


def docs_table(reports: list[dict[str, Any]]) -> str:
    """The rows (with header) for docs/PERFORMANCE.md, from device-check reports checked against the schema."""
    for index, report in enumerate(reports):
        problems = validate(report, REPORT_SCHEMA)
        if problems:
            raise ValueError(f"report {index + 1} is not a device-check report: {'; '.join(problems[:3])}")
    separator = "|" + "---|" * DOCS_HEADER.count(" |")
    return "\n".join([DOCS_HEADER, separator, *map(docs_row, reports)])
