"""AidLite backend: QNN context binaries on a Qualcomm SoC's DSP/NPU through APLUX's AidLite SDK.

The call sequence is the one APLUX Model Farm uses: ``Config.create_instance`` (local
implementation, QNN framework, accelerator, quantised flag), ``Model.create_instance(bin)``,
``set_model_properties`` (input and output shapes, float32), ``InterpreterBuilder.
build_interpretper_from_model_and_config`` (sic), ``init``, ``load_model``; per run
``set_input_tensor`` in the manifest's input order, ``invoke``, ``get_output_tensor`` (a flat
array, reshaped from the manifest); ``destory``/``destroy`` (both spellings exist) at the end.

Options: ``accelerator`` (``dsp`` default, ``cpu``, ``gpu``) and ``framework`` (an
``aidlite.FrameworkType`` member name, default ``TYPE_QNN``). ``aidlite`` exists only on the
device (APLUX's own package repository); without it this backend fails with how to install it.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine.backends.base import Backend, Component
from sam2_ros.engine.errors import BackendError, ModelDirError
from sam2_ros.engine.manifest import ComponentSpec

ACCELERATORS = {"dsp": "TYPE_DSP", "cpu": "TYPE_CPU", "gpu": "TYPE_GPU"}
QUANTISED_PRECISIONS = ("int8", "w8a8", "w8a16", "int16")
INSTALL_HINT = (
    "the aidlite backend needs APLUX's AidLite SDK (Python module `aidlite`), which is not on PyPI: install "
    "it on the device from APLUX's package repository with its `aid-pkg` tool, as APLUX's documentation "
    "describes, and check `python3 -c 'import aidlite'` (see docs/QUALCOMM.md). Elsewhere use backend "
    "onnxruntime or qnn"
)


def _destroy(interpreter: Any) -> None:
    # AidLite spells it ``destory`` in older releases and ``destroy`` in newer ones.
    release = getattr(interpreter, "destory", None) or getattr(interpreter, "destroy", None)
    if release is not None:
        release()


class AidliteComponent(Component):
    """One context binary held by an AidLite interpreter."""

    def __init__(self, spec: ComponentSpec, interpreter: Any) -> None:
        super().__init__(spec)
        self.interpreter = interpreter
        self._release = weakref.finalize(self, _destroy, interpreter)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        for index, tensor in enumerate(self.spec.inputs):
            if tensor.name not in feeds:
                raise BackendError(f"{self.spec.name}: input {tensor.name!r} was not given")
            array = np.ascontiguousarray(feeds[tensor.name], dtype=np.float32)
            if array.shape != tuple(tensor.shape):
                raise BackendError(
                    f"{self.spec.name}: input {tensor.name!r} has shape {array.shape}, the binary takes {tensor.shape}"
                )
            code = self.interpreter.set_input_tensor(index, array)
            if code != 0:
                raise BackendError(f"aidlite set_input_tensor({index}) for {self.spec.name} returned {code}")
        code = self.interpreter.invoke()
        if code != 0:
            raise BackendError(f"aidlite invoke for {self.spec.name} returned {code}")
        outputs = {}
        for index, tensor in enumerate(self.spec.outputs):
            flat = self.interpreter.get_output_tensor(index)
            if flat is None:
                raise BackendError(f"aidlite get_output_tensor({index}) for {self.spec.name} returned nothing")
            array = np.asarray(flat, dtype=np.float32)
            shape = tuple(int(d) for d in tensor.shape)  # static: load() checked
            if array.size != math.prod(shape):
                raise BackendError(
                    f"{self.spec.name}: output {tensor.name!r} has {array.size} values, expected shape {tensor.shape}"
                )
            outputs[tensor.name] = array.reshape(shape)
        return outputs

    def close(self) -> None:
        """Release the interpreter now (it is also released when the component is collected)."""
        self._release()


class AidliteBackend(Backend):
    """Loads ``qnn.context_binary`` files with the AidLite Python API."""

    name = "aidlite"

    def __init__(self, threads: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(threads, options)
        try:
            import aidlite
        except ImportError as exc:
            raise BackendError(INSTALL_HINT) from exc
        self._aidlite = aidlite
        accelerator = str(self.options.get("accelerator", "dsp")).lower()
        if accelerator not in ACCELERATORS:
            raise BackendError(f"aidlite accelerator must be one of {', '.join(ACCELERATORS)}, got {accelerator!r}")
        self.accelerator = accelerator
        self.framework = str(self.options.get("framework", "TYPE_QNN"))
        if not hasattr(aidlite.FrameworkType, self.framework):
            raise BackendError(f"aidlite has no FrameworkType.{self.framework}")

    def load(self, model_dir: Path, spec: ComponentSpec) -> Component:
        if spec.qnn is None:
            raise ModelDirError(
                f"{model_dir}: component {spec.name} lists no QNN context binary; export with "
                "`sam2-ros-export --target qnn` or list existing .bin files with `sam2-ros-qnn-manifest`"
            )
        for tensor in (*spec.inputs, *spec.outputs):
            if tensor.dtype != "float32" or not all(isinstance(d, int) for d in tensor.shape):
                raise ModelDirError(
                    f"{model_dir}: {spec.name} tensor {tensor.name!r} is {tensor.dtype} {list(tensor.shape)}; "
                    "AidLite binds static float32 tensors only (export with --target qnn)"
                )
        aidlite = self._aidlite
        config = aidlite.Config.create_instance()
        config.implement_type = aidlite.ImplementType.TYPE_LOCAL
        config.framework_type = getattr(aidlite.FrameworkType, self.framework)
        config.accelerate_type = getattr(aidlite.AccelerateType, ACCELERATORS[self.accelerator])
        config.is_quantify_model = 1 if spec.qnn.precision in QUANTISED_PRECISIONS else 0
        path = model_dir / spec.qnn.context_binary
        model = aidlite.Model.create_instance(str(path))
        if model is None:
            raise ModelDirError(f"aidlite could not open {path}")
        model.set_model_properties(
            [list(t.shape) for t in spec.inputs],
            aidlite.DataType.TYPE_FLOAT32,
            [list(t.shape) for t in spec.outputs],
            aidlite.DataType.TYPE_FLOAT32,
        )
        interpreter = aidlite.InterpreterBuilder.build_interpretper_from_model_and_config(model, config)
        if interpreter is None:
            raise BackendError(f"aidlite could not build an interpreter for {path} ({self.describe()})")
        for step in ("init", "load_model"):
            code = getattr(interpreter, step)()
            if code != 0:
                _destroy(interpreter)
                raise BackendError(f"aidlite {step}() for {path} returned {code} ({self.describe()})")
        return AidliteComponent(spec, interpreter)

    def describe(self) -> str:
        return f"aidlite ({self.framework}, {self.accelerator})"
