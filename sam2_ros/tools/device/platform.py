"""What machine the device check runs on: SoC, HTP architecture, OS, Python, runtimes.

Linux on Qualcomm SoCs names the chip in ``/sys/devices/soc0`` (``machine``: e.g. ``QCS6490``,
``soc_id``: the kernel's number for it, see ``include/dt-bindings/arm/qcom,ids.h``); the device
tree's ``model`` and ``/proc/cpuinfo``'s ``Hardware`` line often name it too. The Hexagon Tensor
Processor (HTP) generation is not exposed by the kernel, so it comes from :data:`SOC_TABLE`, a
short and deliberately partial table of the chips this project targets, or from the user
(``--htp-arch``). Anything else is reported as unknown, never guessed.

Every reader takes a ``root`` directory (``/`` by default) so tests can fake a device.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam2_ros.export.qnn import FP16_MIN_HTP_ARCH, SOCS


@dataclass(frozen=True)
class SocInfo:
    """A Qualcomm SoC this tool knows: its name, HTP architecture and QNN ``soc_model`` (if known)."""

    name: str
    htp_arch: int
    soc_model: int | None  # QNN's number for the chip (``--soc-model``); None where not recorded here
    export_preset: str | None  # ``sam2-ros-export --soc`` preset, None where there is none


def _preset(name: str, preset: str) -> SocInfo:
    """A chip the export has a ``--soc`` preset for: its soc_model and HTP arch are the preset's."""
    soc_model, htp_arch = SOCS[preset]
    return SocInfo(name, htp_arch, soc_model, preset)


# Kernel soc_id -> chip. Partial on purpose: only chips whose HTP generation is documented by
# Qualcomm and that this project targets. QCS6490/QCM6490 (v68) have no fp16 on the HTP.
SOC_TABLE: dict[int, SocInfo] = {
    497: SocInfo("QCM6490", 68, None, None),
    498: SocInfo("QCS6490", 68, None, None),
    519: _preset("SM8550", "sm8550"),
    557: _preset("SM8650", "sm8650"),
    603: _preset("QCS8550", "qcs8550"),
    604: _preset("QCM8550", "qcs8550"),
    618: _preset("SM8750", "sm8750"),
}
SOC_BY_NAME: dict[str, SocInfo] = {info.name: info for info in SOC_TABLE.values()}
SOC_NAME_PATTERN = re.compile(r"\b(" + "|".join(sorted(SOC_BY_NAME, key=len, reverse=True)) + r")\b", re.I)
EXPORT_PRESETS = tuple(SOCS)


def _read(root: Path, relative: str) -> str | None:
    """A small text file's stripped content (NULs removed: device-tree strings end in one), or None."""
    try:
        return (root / relative).read_bytes().replace(b"\0", b"").decode(errors="replace").strip() or None
    except OSError:
        return None


def _cpuinfo_hardware(root: Path) -> str | None:
    text = _read(root, "proc/cpuinfo") or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "hardware" and value.strip():
            return value.strip()
    return None


def read_soc(root: Path = Path("/")) -> dict[str, Any]:
    """SoC facts from sysfs, the device tree and cpuinfo; ``name``/``htp_arch`` from :data:`SOC_TABLE`."""
    facts: dict[str, Any] = {
        "machine": _read(root, "sys/devices/soc0/machine"),
        "soc_id": _read(root, "sys/devices/soc0/soc_id"),
        "family": _read(root, "sys/devices/soc0/family"),
        "device_tree_model": _read(root, "proc/device-tree/model"),
        "cpuinfo_hardware": _cpuinfo_hardware(root),
    }
    info = lookup_soc(facts)
    facts.update(name=info.name if info else None, htp_arch=info.htp_arch if info else None)
    facts["soc_model"] = info.soc_model if info else None
    facts["export_preset"] = info.export_preset if info else None
    return facts


def lookup_soc(facts: dict[str, Any]) -> SocInfo | None:
    """The known chip named by the soc_id number, the machine name, or the device-tree / cpuinfo text."""
    soc_id = facts.get("soc_id")
    if soc_id and str(soc_id).isdigit() and int(soc_id) in SOC_TABLE:
        return SOC_TABLE[int(soc_id)]
    for key in ("machine", "device_tree_model", "cpuinfo_hardware"):
        match = SOC_NAME_PATTERN.search(str(facts.get(key) or ""))
        if match:
            return SOC_BY_NAME[match.group(1).upper()]
    return None


def os_name(root: Path = Path("/")) -> str:
    """``PRETTY_NAME`` of os-release, else the platform's name and release."""
    for relative in ("etc/os-release", "usr/lib/os-release"):
        for line in (_read(root, relative) or "").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return f"{platform.system()} {platform.release()}"


def package_version(distribution: str) -> str | None:
    """An installed distribution's version, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def aidlite_version() -> str | None:
    """The AidLite Python module's version ("installed" when it does not say), None when not importable."""
    try:
        aidlite = importlib.import_module("aidlite")
    except Exception:  # ImportError, or a broken native library
        return None
    for attr in ("get_py_library_version", "get_library_version", "__version__"):
        value = getattr(aidlite, attr, None)
        try:
            value = value() if callable(value) else value
        except Exception:
            value = None
        if value:
            return str(value)
    return "installed (version not reported)"


def describe_platform(root: Path = Path("/"), htp_arch: int | None = None) -> dict[str, Any]:
    """The platform section of the report; ``htp_arch`` (the user's ``--htp-arch``) wins over the table."""
    soc = read_soc(root)
    arch, source = soc["htp_arch"], "soc table" if soc["htp_arch"] is not None else "unknown"
    if htp_arch is not None:
        arch, source = int(htp_arch), "user (--htp-arch)"
    machine = platform.machine()
    return {
        "soc": soc,
        "htp_arch": arch,
        "htp_arch_source": source,
        "machine": machine,
        "os": os_name(root),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count() or 0,
        "packages": {
            "numpy": package_version("numpy"),
            "onnxruntime": package_version("onnxruntime"),
            "onnxruntime-qnn": package_version("onnxruntime-qnn"),
            "aidlite": aidlite_version(),
        },
        # onnxruntime-qnn on x86_64 runs Qualcomm's HTP simulator, not a chip
        "simulator": machine in ("x86_64", "AMD64"),
    }


def arch_problem(binaries: dict[str, dict[str, Any]], device_arch: int | None) -> tuple[str, str] | None:
    """(what is wrong, what to do) when the binaries cannot run on an HTP of ``device_arch``, else None.

    ``binaries`` maps component names to their manifest ``qnn`` facts (``htp_arch``, ``soc_model``).
    None also when the device's arch or every binary's arch is unknown.
    """
    if device_arch is None:
        return None
    wrong = {name: q for name, q in binaries.items() if q.get("htp_arch") not in (None, device_arch)}
    if not wrong:
        return None
    built = sorted({int(q["htp_arch"]) for q in wrong.values()})
    socs = sorted({q["soc_model"] for q in wrong.values() if q.get("soc_model") is not None})
    names = ", ".join(sorted(wrong)[:3]) + (f" and {len(wrong) - 3} more" if len(wrong) > 3 else "")
    problem = (
        f"the QNN context binaries ({names}) are built for HTP v{'/v'.join(map(str, built))}"
        + (f" (QNN soc_model {', '.join(map(str, socs))})" if socs else "")
        + f" but this device has HTP v{device_arch}: a context binary only loads on the HTP generation it was "
        "compiled for"
    )
    target = next((i for i in SOC_TABLE.values() if i.htp_arch == device_arch and i.export_preset), None)
    if target is not None:
        flags = f"--soc {target.export_preset}"
    else:
        flags = f"--htp-arch {device_arch} --soc-model N"
    if device_arch < FP16_MIN_HTP_ARCH:
        flags += " --precision w8a8"
    hint = (
        f"re-export the model for this chip on an x86_64 machine: `sam2-ros-export --checkpoint CKPT --config CFG "
        f"--target qnn {flags} --output DIR` (--soc presets: {', '.join(EXPORT_PRESETS)}; N is QNN's soc_model "
        "number of the chip)"
        + (
            f"; HTP v{device_arch} has no fp16, so it needs a quantised model"
            if device_arch < FP16_MIN_HTP_ARCH
            else ""
        )
        + ". If --htp-arch was given wrongly, correct it; --no-arch-check tries to load anyway"
    )
    return problem, hint
