"""QNN backend: a component's QNN context binary, run through onnxruntime-qnn's HTP backend.

It loads the EPContext wrapper the export wrote next to each ``.bin`` (``sam2-ros-export
--target qnn``). On a Qualcomm device with onnxruntime-qnn this runs on the HTP; on x86_64
it runs in Qualcomm's HTP simulator (exact to the chip's fp16 arithmetic, but slow).

Options: ``backend_path`` (default: the HTP library shipped with onnxruntime-qnn) and
``htp_performance_mode`` (e.g. ``burst``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sam2_ros.engine.backends.base import Backend, Component
from sam2_ros.engine.backends.onnxruntime_backend import OnnxRuntimeComponent, check_interface
from sam2_ros.engine.errors import BackendError, ModelDirError
from sam2_ros.engine.manifest import ComponentSpec

INSTALL_HINT = (
    "the qnn backend needs onnxruntime-qnn (pip install -r requirements/qnn.txt; Linux x86_64 with "
    "Python >= 3.11 runs the HTP simulator) - on a device without it use backend aidlite"
)


def qnn_runtime() -> tuple[Any, Any, list[Any]]:
    """(onnxruntime, onnxruntime_qnn, QNN EP devices), registering the plugin EP once."""
    try:
        import onnxruntime as ort
        import onnxruntime_qnn
    except ImportError as exc:
        raise BackendError(f"{INSTALL_HINT} ({exc})") from exc
    name = "QNNExecutionProvider"
    if not any(d.ep_name == name for d in ort.get_ep_devices()):
        ort.register_execution_provider_library(name, onnxruntime_qnn.get_library_path())
    devices = [d for d in ort.get_ep_devices() if d.ep_name == name]
    if not devices:
        raise BackendError("onnxruntime-qnn is installed but offers no QNN device")
    return ort, onnxruntime_qnn, devices


class QnnBackend(Backend):
    """Loads ``qnn.epcontext`` wrappers of QNN context binaries with onnxruntime-qnn."""

    name = "qnn"

    def __init__(self, threads: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(threads, options)
        try:
            self._ort, self._qnn, self._devices = qnn_runtime()
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"{INSTALL_HINT} ({exc})") from exc

    def load(self, model_dir: Path, spec: ComponentSpec) -> Component:
        if spec.qnn is None or spec.qnn.epcontext is None:
            raise ModelDirError(
                f"{model_dir}: component {spec.name} has no QNN EPContext model; export with "
                "`sam2-ros-export --target qnn` (a .bin-only directory runs with backend aidlite)"
            )
        ort = self._ort
        options = ort.SessionOptions()
        options.log_severity_level = 3
        provider_options = {"backend_path": str(self.options.get("backend_path", self._qnn.get_qnn_htp_path()))}
        if "htp_performance_mode" in self.options:
            provider_options["htp_performance_mode"] = str(self.options["htp_performance_mode"])
        options.add_provider_for_devices(self._devices, provider_options)
        options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        path = model_dir / spec.qnn.epcontext
        try:
            session = ort.InferenceSession(str(path), sess_options=options)
        except Exception as exc:
            raise ModelDirError(f"{path} could not be loaded by onnxruntime-qnn: {exc}") from exc
        check_interface(spec, session, spec.qnn.epcontext)
        return OnnxRuntimeComponent(spec, session)

    def describe(self) -> str:
        return "qnn (onnxruntime-qnn, HTP)"
