"""OpenVINO backend: the model directory's ONNX components, compiled by OpenVINO (fast mode on x86).

Options:

- ``device``: ``CPU`` (default); ``GPU``, ``NPU``, ``AUTO``, ... are passed to OpenVINO as given.
- ``precision``: ``f32`` (default, exact mode: matches ONNX Runtime within the parity tolerance)
  or ``bf16`` (``INFERENCE_PRECISION_HINT=bf16``, where the device reports ``BF16`` among its
  ``OPTIMIZATION_CAPABILITIES``; elsewhere f32, with one warning per process) or ``mixed``: an
  int8 image encoder (NNCF post-training quantisation, calibrated on synthetic clips) and the
  other components as bf16 (the same fallback). The int8 encoder is an OpenVINO IR in
  ``<cache_dir>/int8/image_encoder-<ONNX SHA-256, 16 hex digits>.xml``, written by
  ``python -m sam2_ros.export.openvino_int8 MODEL_DIR`` (the engine cannot calibrate: the
  synthetic clips live in a higher layer); without it, loading fails and names that command.
- ``cache_dir``: where compiled models are cached, so the second start is fast (default
  ``<user cache>/openvino``, the user cache being ``$SAM2_ROS_CACHE``, else
  ``$XDG_CACHE_HOME/sam2_ros``, else ``~/.cache/sam2_ros``); ``""`` turns the cache off. Blobs go
  to one subfolder per device and precision: OpenVINO 2026.4's cache key leaves out the precision
  hint, so a shared folder hands a bf16 request the f32 blob (and reports bf16).

``threads`` sets ``INFERENCE_NUM_THREADS``; otherwise OpenVINO uses every core. Each component
is compiled with the latency hint (one stream). The four components share OpenVINO's one
thread pool and run in turn, and its idle workers sleep instead of spinning (see docs/ENGINE.md).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import yaml

from sam2_ros.engine.backends.base import Backend, Component
from sam2_ros.engine.backends.onnxruntime_backend import check_interface
from sam2_ros.engine.errors import BackendError, ModelDirError
from sam2_ros.engine.manifest import MANIFEST_NAME, ComponentSpec, sha256_of

LOG = logging.getLogger("sam2_ros.engine")

OPENVINO_VERSION = "2026.4.1"  # requirements/openvino.txt
INSTALL_HINT = (
    f"the openvino backend needs OpenVINO: pip install openvino=={OPENVINO_VERSION} (requirements/openvino.txt)"
)
PRECISIONS = ("f32", "bf16", "mixed")
# devices OpenVINO composes from others; they are not in Core.available_devices
VIRTUAL_DEVICES = ("AUTO", "HETERO", "MULTI", "BATCH")
COMPUTE_LAYERS = ("Convolution", "FullyConnected", "MatMul", "ScaledDotProductAttention")
# a snippets Subgraph that fused a MatMul (with its Softmax): OpenVINO's fused multi-head attention
MHA = "Subgraph(MHA)"
ATTENTION_SOURCES = ("MatMul", "ScaledDotProductAttention")
_TYPES = {"f32": "tensor(float)", "i32": "tensor(int32)", "i64": "tensor(int64)"}
_warned_bf16: set[str] = set()  # devices already warned about (one warning per process and device)


def default_cache_dir() -> Path:
    """``<user cache>/openvino``; the user cache as ``sam2_ros.resources.cache_dir`` finds it
    (computed here: the engine imports nothing else of sam2_ros)."""
    explicit = os.environ.get("SAM2_ROS_CACHE")
    if explicit:
        return Path(explicit).expanduser() / "openvino"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "sam2_ros" / "openvino"


def int8_encoder_path(cache_dir: Path, onnx_sha256: str) -> Path:
    """Where precision ``mixed`` finds the int8 image encoder of the ONNX file with this SHA-256."""
    return Path(cache_dir) / "int8" / f"image_encoder-{onnx_sha256[:16]}.xml"


def _onnx_file(model_dir: Path, spec: ComponentSpec) -> str:
    """``spec``'s ONNX file (relative to ``model_dir``); ModelDirError for a .bin-only component."""
    if spec.file is None or spec.format != "onnx":
        raise ModelDirError(
            f"{model_dir}: component {spec.name} has no ONNX file (a .bin-only directory): "
            "use backend aidlite on the device, or export the model with sam2-ros-export"
        )
    return spec.file


def check_precision(precision: Any) -> str:
    """The ``precision`` option, checked: ``f32``, ``bf16`` or ``mixed``."""
    value = str(precision).lower()
    if value not in PRECISIONS:
        raise BackendError(f"openvino precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return value


def effective_precision(requested: str, capabilities: Sequence[str], device: str = "CPU") -> str:
    """The precision hint used on a device with these ``OPTIMIZATION_CAPABILITIES``.

    bf16 where the device reports ``BF16``; otherwise f32, with one warning per process and device.
    ``mixed`` keeps its name (its int8 encoder needs no BF16); the other components then run f32.
    """
    if requested not in ("bf16", "mixed") or "BF16" in capabilities:
        return requested
    if requested == "mixed":
        effective_precision("bf16", capabilities, device)  # the warning
        return "mixed"
    if device not in _warned_bf16:
        _warned_bf16.add(device)
        LOG.warning(
            "openvino precision bf16 requested but %s has no BF16 support (capabilities: %s): running f32",
            device,
            ", ".join(capabilities) or "none",
        )
    return "f32"


def check_device(device: str, available: Sequence[str]) -> None:
    """``device`` must be one of ``available`` (``GPU`` also matches ``GPU.0``) or a virtual device."""
    if device.split(":")[0] in VIRTUAL_DEVICES or device in available:
        return
    if device in {d.split(".")[0] for d in available}:
        return
    raise BackendError(
        f"openvino device {device!r} is not available here; available: {', '.join(available) or 'none'} "
        "(GPU and NPU need their drivers; see OpenVINO's installation guide)"
    )


def fused_attention_subgraphs(compiled: Any, source: Any) -> set[str]:
    """Names of ``compiled``'s Subgraph layers that took in a MatMul or ScaledDotProductAttention of
    the ``source`` model (fused attention; OpenVINO's other Subgraphs fuse only elementwise ops)."""
    types = {op.get_friendly_name(): op.get_type_name() for op in source.get_ordered_ops()}
    names = set()
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if "layerType" in info and info["layerType"].astype(str) == "Subgraph" and "originalLayersNames" in info:
            fused = info["originalLayersNames"].astype(str).split(",")
            # a name the source lacks was generated while reading it (``<Type>_<n>``, e.g. the SDPA
            # OpenVINO makes of com.microsoft.MultiHeadAttention): its type is its prefix
            if any(types.get(name, name.rsplit("_", 1)[0]) in ATTENTION_SOURCES for name in fused):
                names.add(op.get_friendly_name())
    return names


def _port_view(port: Any) -> SimpleNamespace:
    """One OpenVINO port as check_interface reads a graph input/output: name, type, shape."""
    shape = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]
    element = port.get_element_type().get_type_name()
    return SimpleNamespace(names=port.get_names(), type=_TYPES.get(element, element), shape=shape)


class _GraphView:
    """A compiled model's interface in the shape of an ONNX Runtime session (for check_interface)."""

    def __init__(self, compiled: Any) -> None:
        self._inputs = [_port_view(p) for p in compiled.inputs]
        self._outputs = [_port_view(p) for p in compiled.outputs]

    @staticmethod
    def _named(ports: list[SimpleNamespace]) -> list[SimpleNamespace]:
        # a port may carry several tensor names: list it once under each
        return [SimpleNamespace(name=n, type=p.type, shape=p.shape) for p in ports for n in sorted(p.names)]

    def get_inputs(self) -> list[SimpleNamespace]:
        return self._named(self._inputs)

    def get_outputs(self) -> list[SimpleNamespace]:
        return self._named(self._outputs)


class OpenVinoComponent(Component):
    """A component compiled by OpenVINO, run through one infer request."""

    def __init__(
        self, spec: ComponentSpec, compiled: Any, source: Path | None = None, device: str = "CPU",
        config: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(spec)
        self.compiled = compiled
        # the file compiled, and how (used again only by attention_kernels)
        self.source, self.device, self.config = source, device, dict(config or {})
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()  # an infer request runs one inference at a time
        self._output_names = [o.name for o in spec.outputs]
        self._input_names = [t.name for t in spec.inputs]

    @property
    def loaded_from_cache(self) -> bool:
        """Whether OpenVINO took this compiled model from its cache instead of compiling it."""
        try:
            return bool(self.compiled.get_property("LOADED_FROM_CACHE"))
        except Exception:  # noqa: BLE001 - a device without the property
            return False

    def kernels(self) -> Counter[tuple[str, str]]:
        """How many compute layers (convolutions, matrix multiplies) run at each precision, as the
        device compiled them: ``{("FullyConnected", "u8"): 30, ...}`` (what really runs, not the hint)."""
        counts: Counter[tuple[str, str]] = Counter()
        for op in self.compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            layer = info["layerType"].astype(str) if "layerType" in info else op.get_type_name()
            if layer in COMPUTE_LAYERS and "runtimePrecision" in info:
                counts[(layer, info["runtimePrecision"].astype(str).lower())] += 1
        return counts

    def attention_kernels(self) -> Counter[str]:
        """How the component's attention runs, as compiled: ``{"Subgraph(MHA)/bf16": 8}`` for fused
        multi-head attention (a snippets Subgraph that took in MatMul and Softmax),
        ``ScaledDotProductAttention/<precision>`` for the SDPA node, ``Softmax/<precision>`` for
        attention left as separate MatMul, Softmax and MatMul layers."""
        import openvino as ov

        core = ov.Core()
        source = core.read_model(str(self.source))
        compiled = self.compiled
        if self.loaded_from_cache:  # a cached blob does not keep which original layers each layer fused
            config = {k: v for k, v in self.config.items() if k != "CACHE_DIR"}
            compiled = core.compile_model(source.clone(), self.device, config)
        mha = fused_attention_subgraphs(compiled, source)
        counts: Counter[str] = Counter()
        for op in compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            layer = info["layerType"].astype(str) if "layerType" in info else op.get_type_name()
            precision = info["runtimePrecision"].astype(str).lower() if "runtimePrecision" in info else "?"
            if op.get_friendly_name() in mha:
                counts[f"{MHA}/{precision}"] += 1
            elif layer in ("ScaledDotProductAttention", "Softmax", "SoftMax"):
                counts[f"{layer}/{precision}"] += 1
        return counts

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [name for name in self._input_names if name not in feeds]
        if missing:
            raise BackendError(f"{self.spec.name}: input(s) {', '.join(missing)} not given")
        with self._lock:
            try:
                self._request.infer({name: np.ascontiguousarray(feeds[name]) for name in self._input_names})
                # copies: OpenVINO reuses its output buffers on the next inference
                return {name: np.array(self._request.get_tensor(name).data) for name in self._output_names}
            except Exception as exc:
                raise BackendError(f"openvino failed to run {self.spec.name}: {exc}") from exc


class OpenVinoBackend(Backend):
    """Compiles a model directory's components with OpenVINO (``device``, ``precision``, ``cache_dir`` options)."""

    name = "openvino"

    def __init__(self, threads: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(threads, options)
        unknown = sorted(set(self.options) - {"device", "precision", "cache_dir"})
        if unknown:
            raise BackendError(f"unknown openvino option(s) {', '.join(unknown)}: use device, precision, cache_dir")
        self.device = str(self.options.get("device", "CPU")).strip() or "CPU"
        given = self.options.get("precision")
        # None or "": the model directory's (openvino.precision of an --target openvino export), else f32
        self.requested_precision = check_precision(given) if given not in (None, "") else None
        cache = self.options.get("cache_dir")
        self.cache_dir: Path | None = default_cache_dir() if cache is None else (Path(cache) if cache else None)
        try:
            import openvino as ov
        except ImportError as exc:
            raise BackendError(f"{INSTALL_HINT} ({exc})") from exc
        self._core = ov.Core()
        check_device(self.device, self._core.available_devices)
        self.precision: str | None = None
        self.hint = "f32"
        if self.requested_precision is not None:
            self._settle(self.requested_precision)

    def _settle(self, requested: str) -> None:
        """Fix the precision (and the compile hint) from the requested one and the device's capabilities."""
        self.requested_precision = requested
        capabilities = self._capabilities()
        self.precision = effective_precision(requested, capabilities, self.device)
        # mixed: the components other than the int8 encoder run bf16 where the device has BF16
        self.hint = ("bf16" if "BF16" in capabilities else "f32") if self.precision == "mixed" else self.precision

    def _capabilities(self) -> list[str]:
        if self.device.split(":")[0] in VIRTUAL_DEVICES:
            return ["BF16"] if self.requested_precision in ("bf16", "mixed") else []  # the chosen devices decide
        try:
            return [str(c) for c in self._core.get_property(self.device, "OPTIMIZATION_CAPABILITIES")]
        except Exception:  # noqa: BLE001 - a device without the property supports no bf16 hint
            return []

    def compile_config(self) -> dict[str, str]:
        """The properties each component is compiled with."""
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": self.hint}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = str(int(self.threads))
        if self.cache_dir is not None:
            config["CACHE_DIR"] = str(self.compiled_cache_dir())
        return config

    def compiled_cache_dir(self) -> Path | None:
        """The cache subfolder of this device and precision (None: no cache)."""
        if self.cache_dir is None:
            return None
        return self.cache_dir / re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.device}-{self.precision}")

    def source_path(self, model_dir: Path, spec: ComponentSpec) -> Path:
        """The file OpenVINO compiles for ``spec``: its IR if the directory has one, else its ONNX file;
        the int8 IR for the image encoder in precision ``mixed``."""
        if self.precision is None:
            self._settle(exported_precision(model_dir) or "f32")
        if self.precision == "mixed" and spec.name == "image_encoder":
            return self._int8_encoder(model_dir, spec)
        if spec.openvino is not None:
            return model_dir / spec.openvino.xml
        return model_dir / _onnx_file(model_dir, spec)

    def load(self, model_dir: Path, spec: ComponentSpec) -> Component:
        path = self.source_path(model_dir, spec)
        cache = self.compiled_cache_dir()
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
        try:
            # compiled from the path, so a cached blob is found without reading the model
            compiled = self._core.compile_model(str(path), self.device, self.compile_config())
        except Exception as exc:
            raise ModelDirError(f"{path} could not be compiled by openvino for {self.device}: {exc}") from exc
        check_interface(spec, _GraphView(compiled))
        return OpenVinoComponent(spec, compiled, path, self.device, self.compile_config())

    def _int8_encoder(self, model_dir: Path, spec: ComponentSpec) -> Path:
        if spec.openvino is not None and spec.openvino.int8_xml:
            return model_dir / spec.openvino.int8_xml
        hint = (
            "export the model with sam2-ros-export ... --target openvino --precision mixed, "
            f"or run python -m sam2_ros.export.openvino_int8 {model_dir}"
        )
        if self.cache_dir is None:
            raise BackendError(
                f"openvino precision mixed: {model_dir} has no int8 image encoder and cache_dir is off: {hint}"
            )
        path = int8_encoder_path(self.cache_dir, spec.sha256 or sha256_of(model_dir / _onnx_file(model_dir, spec)))
        if not path.is_file():
            raise ModelDirError(
                f"{model_dir}: no int8 image encoder for precision mixed (not in the model directory, and "
                f"{path} is missing): {hint} --cache-dir {self.cache_dir}"
            )
        return path

    def describe(self) -> str:
        if self.precision is None:
            return f"openvino ({self.device}, the model directory's precision)"
        if self.precision == "mixed":
            return f"openvino ({self.device}, mixed: int8 image encoder, {self.hint} elsewhere)"
        return f"openvino ({self.device}, {self.precision})"


def exported_precision(model_dir: Path) -> str | None:
    """The precision ``sam2-ros-export --target openvino`` recorded in ``model_dir`` (None: not such an export)."""
    try:
        raw = yaml.safe_load((Path(model_dir) / MANIFEST_NAME).read_text())
    except (OSError, yaml.YAMLError):
        return None
    section = raw.get("openvino") if isinstance(raw, dict) else None
    value = section.get("precision") if isinstance(section, dict) else None
    return str(value) if value in PRECISIONS else None
