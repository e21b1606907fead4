"""What to try when the device check fails: a kind and a hint per failure, read from the error.

Runtimes report problems as text (QNN error names, AidLite return codes, Python exceptions);
:func:`diagnose` maps that text to a failure kind (``vtcm``, ``out_of_memory``,
``binary_mismatch``, ``graph_prepare``, else ``load_failed`` / ``run_failed``) with advice,
keeping the original error in the report.
"""

from __future__ import annotations

import re
from typing import Any

RUNTIME_HINTS = {
    "aidlite": "install APLUX's AidLite SDK and its Python module on the device (docs/QUALCOMM.md, section 2) "
    "and check `python3 -c 'import aidlite'`; or try `--backend qnn` where onnxruntime-qnn is installed",
    "qnn": "install onnxruntime-qnn (`pip install -r requirements/qnn.txt`; on Linux x86_64 it runs the HTP "
    "simulator); on a device without an onnxruntime-qnn build for it, use `--backend aidlite`",
}
OUT_OF_MEMORY_HINT = (
    "the device ran out of memory: close other programs (`free -m`), check the HTP's shared memory (ION/DMA-BUF) "
    "limits, or use a smaller model (fewer pixels, --precision w8a16/w8a8). A MEM_ALLOC at graph finalize can "
    "also mean a tensor the HTP cannot allocate: re-export with this sam2_ros version"
)
# Checked in order on the error's text (paths removed): the first match names the kind.
ERROR_HINTS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "vtcm",
        re.compile(r"VTCM", re.I),
        "the graph needs more VTCM (the HTP's fast on-chip memory) than this chip has: re-export for this very chip "
        "(--soc, or --soc-model / --htp-arch: the compiler plans VTCM use for the chip it is told), use a quantised "
        "model (--precision w8a16), or a smaller image size",
    ),
    (
        "out_of_memory",
        re.compile(r"MemoryError|out of memory|ENOMEM|cannot allocate|failed to allocate|bad_alloc|MEM_ALLOC", re.I),
        OUT_OF_MEMORY_HINT,
    ),
    (
        "binary_mismatch",
        re.compile(
            r"\barch|soc[ _]?model|incompatib|mismatch|not supported on this|QNN_CONTEXT_ERROR|context binary|"
            r"deseriali|binary version|invalid (?:context|binary)",
            re.I,
        ),
        "the context binary does not fit this device's QNN runtime: it was built for another HTP arch or SoC, or "
        "by a newer QNN SDK than the device's. Compare the model's htp_arch/soc_model (in this report) with the "
        "device, re-export with `sam2-ros-export ... --target qnn --soc PRESET` (or --htp-arch / --soc-model), and "
        "use a QNN/onnxruntime-qnn version no newer than the device's runtime",
    ),
    (
        "graph_prepare",
        re.compile(r"graph ?prepare|graphPrepare|graph ?finali[sz]e|QNN_GRAPH_ERROR|prepare(?:d)? failed", re.I),
        "the QNN runtime could not prepare the graph (an operation or size this HTP or QNN version does not "
        "support): re-export with this sam2_ros version for this chip (--soc / --htp-arch) and attach this report "
        "and the runtime's log to an issue",
    ),
]
PATH_LIKE = re.compile(r"\S*/\S*")  # file paths may contain any word ("/home/arch/...")
LOAD_HINT = (
    "the runtime refused the binary: check it was compiled for this chip (model htp_arch vs device, pass "
    "--htp-arch if the SoC is not recognised), that its files are intact (the manifest's SHA-256s are checked), "
    "and the runtime's log; with aidlite, `--backend-option accelerator=cpu` tells a DSP problem from a model one"
)
RUN_HINT = (
    "the component loaded but failed to run: see the error, the runtime's log, and attach this report to an issue"
)


def failure(kind: str, message: str, hint: str, component: str | None = None, error: str | None = None) -> dict:
    """One entry of the report's ``failures``."""
    return {"kind": kind, "component": component, "message": message, "hint": hint, "error": error}


def diagnose(exc: BaseException, default_kind: str, component: str | None = None) -> dict[str, Any]:
    """A failure for a runtime error: its kind and hint recognised from its type and text."""
    text = f"{type(exc).__name__}: {exc}"
    message = _first_line(str(exc)) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return failure("out_of_memory", message, OUT_OF_MEMORY_HINT, component, text)
    words = PATH_LIKE.sub(" ", text)
    for kind, pattern, hint in ERROR_HINTS:
        if pattern.search(words):
            return failure(kind, message, hint, component, text)
    hint = LOAD_HINT if default_kind == "load_failed" else RUN_HINT
    return failure(default_kind, message, hint, component, text)


def _first_line(text: str, limit: int = 400) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
