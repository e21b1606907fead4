"""ONNX Runtime backend (CPU by default; any installed execution provider by option)."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine.backends.base import Backend, Component
from sam2_ros.engine.errors import BackendError, ModelDirError
from sam2_ros.engine.manifest import ComponentSpec

# ONNX Runtime's fused attention kernels, and the Softmax of attention written as separate ops
ATTENTION_OPS = ("MultiHeadAttention", "Attention", "GroupQueryAttention", "PackedAttention", "Softmax")
_DTYPES = {"tensor(float)": "float32", "tensor(int32)": "int32", "tensor(int64)": "int64"}


class OnnxRuntimeComponent(Component):
    """A component run by an ``onnxruntime.InferenceSession``."""

    def __init__(self, spec: ComponentSpec, session: Any, path: Path | None = None, options: Any = None) -> None:
        super().__init__(spec)
        self.session = session
        self.path, self.options = path, options  # read again only by attention_kernels
        self._output_names = [o.name for o in spec.outputs]

    def attention_kernels(self) -> Counter[str]:
        """How the component's attention runs after ONNX Runtime's graph optimisations, from the
        optimised graph: fused kernels (``MultiHeadAttention``, ``Attention``, ...) by op type, and
        ``Softmax`` for attention left as MatMul, Softmax and MatMul (needs the ``onnx`` package)."""
        import onnx
        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as tmp:
            options = ort.SessionOptions()  # the optimisations the component's session ran
            if self.options is not None:
                options.graph_optimization_level = self.options.graph_optimization_level
            options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
            options.log_severity_level = 3  # ORT warns that the file holds CPU-specific (NCHWc) ops
            ort.InferenceSession(str(self.path), sess_options=options, providers=self.session.get_providers())
            graph = onnx.load(str(Path(tmp) / "optimized.onnx"), load_external_data=False).graph
        return Counter(node.op_type for node in graph.node if node.op_type in ATTENTION_OPS)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            values = self.session.run(self._output_names, dict(feeds))
        except Exception as exc:
            raise BackendError(f"onnxruntime failed to run {self.spec.name}: {exc}") from exc
        return dict(zip(self._output_names, values))


class OnnxRuntimeBackend(Backend):
    """Loads ``.onnx`` components with onnxruntime.

    Options: ``providers`` (list, default ``["CPUExecutionProvider"]``).
    """

    name = "onnxruntime"

    def load(self, model_dir: Path, spec: ComponentSpec) -> Component:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a runtime dependency
            raise BackendError("onnxruntime is not installed: pip install onnxruntime") from exc
        if spec.file is None or spec.format != "onnx":
            raise ModelDirError(
                f"{model_dir}: component {spec.name} has no ONNX file (a .bin-only directory): "
                "use backend aidlite on the device, or export the model with sam2-ros-export"
            )
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads:
            options.intra_op_num_threads = int(self.threads)
        options.inter_op_num_threads = 1
        # Four sessions run one after another: idle pool threads must not spin and steal
        # the cores the next session needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = list(self.options.get("providers", ["CPUExecutionProvider"]))
        missing = [p for p in providers if p not in ort.get_available_providers()]
        if missing:
            raise BackendError(f"onnxruntime execution provider(s) not available: {', '.join(missing)}")
        path = model_dir / spec.file
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:
            raise ModelDirError(f"{path} could not be loaded by onnxruntime: {exc}") from exc
        check_interface(spec, session)
        return OnnxRuntimeComponent(spec, session, path, options)


def check_interface(spec: ComponentSpec, session: Any, file: str | None = None) -> None:
    """The graph's inputs/outputs must be the manifest's, in name, dtype and fixed dims."""
    file = file or spec.file
    for kind, declared, actual in (
        ("input", spec.inputs, session.get_inputs()),
        ("output", spec.outputs, session.get_outputs()),
    ):
        by_name = {a.name: a for a in actual}
        for tensor in declared:
            got = by_name.get(tensor.name)
            if got is None:
                raise ModelDirError(
                    f"{file}: {kind} {tensor.name!r} listed in model.yaml is not in the ONNX graph "
                    f"(it has {sorted(by_name)})"
                )
            dtype = _DTYPES.get(got.type, got.type)
            if dtype != tensor.dtype:
                raise ModelDirError(f"{file}: {kind} {tensor.name!r} is {dtype}, model.yaml says {tensor.dtype}")
            if len(got.shape) != len(tensor.shape):
                raise ModelDirError(
                    f"{file}: {kind} {tensor.name!r} has rank {len(got.shape)}, model.yaml says {len(tensor.shape)}"
                )
            for d_graph, d_manifest in zip(got.shape, tensor.shape):
                if isinstance(d_manifest, int) and isinstance(d_graph, int) and d_graph != d_manifest:
                    raise ModelDirError(
                        f"{file}: {kind} {tensor.name!r} has shape {got.shape}, model.yaml says {list(tensor.shape)}"
                    )
