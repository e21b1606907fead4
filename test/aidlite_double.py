"""TEST DOUBLE of APLUX's ``aidlite`` Python module (the real one exists only on Qualcomm devices).

It enforces the documented contract of the AidLite API as APLUX Model Farm uses it, and
delegates the arithmetic to onnxruntime on the fp32 ONNX file each ``.bin`` was compiled
from (found through the model directory's ``model.yaml``):

- ``Config.create_instance()``; ``implement_type``, ``framework_type``, ``accelerate_type`` must be
  members of their enums, ``is_quantify_model`` 0 or 1;
- ``Model.create_instance(path)`` returns None for a missing file; ``set_model_properties(input
  shapes, DataType, output shapes, DataType)`` must come before the interpreter is built, with
  shapes that match the binary;
- ``InterpreterBuilder.build_interpretper_from_model_and_config(model, config)`` (sic) returns None
  when the model has no properties or the config is incomplete;
- ``init()`` then ``load_model()`` (0 = success, in that order); ``set_input_tensor(i, array)`` needs
  a loaded model, an index in range and a C-contiguous array of the declared dtype and shape;
  ``invoke()`` needs every input set; ``get_output_tensor(i)`` returns a flat float32 array, only
  after ``invoke``; ``destory()`` (sic) / ``destroy()`` end the interpreter, and later calls fail.

``calls`` records every call, so tests can check the order the backend used.
"""

from __future__ import annotations

import enum
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

calls: list[tuple[str, Any]] = []


class ImplementType(enum.Enum):
    TYPE_LOCAL = 1
    TYPE_REMOTE = 2


class FrameworkType(enum.Enum):
    TYPE_SNPE2 = 1
    TYPE_QNN = 2
    TYPE_QNN216 = 3
    TYPE_QNN223 = 4


class AccelerateType(enum.Enum):
    TYPE_CPU = 1
    TYPE_GPU = 2
    TYPE_DSP = 3


class DataType(enum.Enum):
    TYPE_UINT8 = 1
    TYPE_INT8 = 2
    TYPE_INT32 = 3
    TYPE_FLOAT16 = 4
    TYPE_FLOAT32 = 5


_NUMPY = {DataType.TYPE_UINT8: np.uint8, DataType.TYPE_INT8: np.int8, DataType.TYPE_INT32: np.int32,
          DataType.TYPE_FLOAT16: np.float16, DataType.TYPE_FLOAT32: np.float32}  # fmt: skip


class Config:
    def __init__(self) -> None:
        self.implement_type = None
        self.framework_type = None
        self.accelerate_type = None
        self.is_quantify_model = 0

    @staticmethod
    def create_instance() -> Config:
        calls.append(("Config.create_instance", None))
        return Config()


def _int_list(shape: Any) -> bool:
    return isinstance(shape, list) and all(isinstance(d, int) for d in shape)


class Model:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.properties: tuple | None = None

    @staticmethod
    def create_instance(path: str) -> Model | None:
        calls.append(("Model.create_instance", path))
        p = Path(path)
        if not p.is_file() or p.stat().st_size == 0:
            return None
        return Model(p)

    def set_model_properties(self, input_shapes, input_type, output_shapes, output_type) -> None:
        calls.append(("set_model_properties", (input_shapes, input_type, output_shapes, output_type)))
        for shapes in (input_shapes, output_shapes):
            if not isinstance(shapes, list) or not all(
                isinstance(s, list) and all(isinstance(d, int) for d in s) for s in shapes
            ):
                raise TypeError("set_model_properties takes lists of int lists as shapes")  # fmt: skip
        if not isinstance(input_type, DataType) or not isinstance(output_type, DataType):
            raise TypeError("set_model_properties takes aidlite.DataType members")
        self.properties = (input_shapes, input_type, output_shapes, output_type)


class InterpreterBuilder:
    @staticmethod
    def build_interpretper_from_model_and_config(model: Model, config: Config) -> Interpreter | None:
        calls.append(("build_interpretper_from_model_and_config", str(model.path)))
        complete = (
            isinstance(config.implement_type, ImplementType)
            and isinstance(config.framework_type, FrameworkType)
            and isinstance(config.accelerate_type, AccelerateType)
            and config.is_quantify_model in (0, 1)
        )
        if model.properties is None or not complete:
            return None
        return Interpreter(model, config)


# Tests may map a context binary to the ONNX file it was compiled from (for .bin-only folders).
sources: dict[Path, Path] = {}


def _source_onnx(binary: Path) -> Path:
    """The fp32 ONNX file the context binary was compiled from."""
    binary = binary.resolve()
    if binary in sources:
        return sources[binary]
    for folder in binary.parents:
        manifest = folder / "model.yaml"
        if manifest.is_file():
            for spec in (yaml.safe_load(manifest.read_text()) or {}).get("components", {}).values():
                qnn = spec.get("qnn") or {}
                if "file" in spec and (folder / qnn.get("context_binary", "")).resolve() == binary:
                    return folder / spec["file"]
    raise FileNotFoundError(f"double: no ONNX source known for {binary}")


class Interpreter:
    def __init__(self, model: Model, config: Config) -> None:
        self.model, self.config = model, config
        self.state = "built"
        self.inputs: dict[int, np.ndarray] = {}
        self.outputs: list[np.ndarray] | None = None
        self.session = None

    def _call(self, name: str, arg: Any = None) -> None:
        calls.append((name, arg))

    def init(self) -> int:
        self._call("init")
        if self.state != "built":
            return -1
        self.state = "initialised"
        return 0

    def load_model(self) -> int:
        self._call("load_model")
        if self.state != "initialised":
            return -1
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(_source_onnx(self.model.path)), providers=["CPUExecutionProvider"])
        graph_in, graph_out = self.session.get_inputs(), self.session.get_outputs()
        in_shapes, _, out_shapes, _ = self.model.properties
        if in_shapes != [list(i.shape) for i in graph_in] or out_shapes != [list(o.shape) for o in graph_out]:
            return -2  # the properties do not describe this binary
        self.input_names = [i.name for i in graph_in]
        self.input_dtypes = [np.dtype(np.int32 if i.type == "tensor(int32)" else np.float32) for i in graph_in]
        self.state = "loaded"
        return 0

    def set_input_tensor(self, index: int, array: np.ndarray) -> int:
        self._call("set_input_tensor", index)
        in_shapes, in_type, _, _ = self.model.properties
        if self.state != "loaded" or not 0 <= index < len(in_shapes):
            return -1
        if not isinstance(array, np.ndarray) or array.dtype != _NUMPY[in_type] or not array.flags.c_contiguous:
            return -3
        if list(array.shape) != in_shapes[index]:
            return -4
        self.inputs[index] = array.copy()
        self.outputs = None
        return 0

    def invoke(self) -> int:
        self._call("invoke")
        if self.state != "loaded" or len(self.inputs) != len(self.input_names):
            return -1
        feeds = {
            name: self.inputs[i].astype(dtype)
            for i, (name, dtype) in enumerate(zip(self.input_names, self.input_dtypes))
        }
        self.outputs = [np.ascontiguousarray(o, dtype=np.float32).reshape(-1) for o in self.session.run(None, feeds)]
        return 0

    def get_output_tensor(self, index: int) -> np.ndarray | None:
        self._call("get_output_tensor", index)
        _, _, out_shapes, _ = self.model.properties
        if self.state != "loaded" or self.outputs is None or not 0 <= index < len(out_shapes):
            return None
        out = self.outputs[index]
        assert out.size == math.prod(out_shapes[index])
        return out.copy()

    def destory(self) -> int:  # sic, as in AidLite
        self._call("destory")
        self.state = "destroyed"
        self.session = None
        return 0

    destroy = destory
