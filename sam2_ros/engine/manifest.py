"""The model directory format: ``model.yaml`` (a versioned manifest) plus the files it lists.

A model directory holds four ONNX components, one ``.npz`` of small host-side tensors and
the manifest. ``model_family`` names the model: ``sam2`` (SAM 2 / SAM 2.1; the default of
directories written before the field existed) or ``edgetam`` (EdgeTAM: the same four components,
its memory encoder ending in the spatial perceiver, so each memory is a few hundred tokens).
:func:`load_model_dir` checks all of it (version, required fields, files
present, SHA-256, tensor shapes) and raises :class:`ModelDirError` naming the problem.

A static-shape directory (``sam2-ros-export --static-shapes`` / ``--target qnn``) has one
decoder per prompt size instead of one with a dynamic point count: ``mask_decoder.points1``,
``mask_decoder.points2``, ... A component compiled for Qualcomm chips also lists its QNN
context binary (``qnn.context_binary``, run by the ``aidlite`` backend) and the ONNX Runtime
EPContext wrapper around it (``qnn.epcontext``, run by the ``qnn`` backend). A directory
exported with ``--target openvino`` lists each component's OpenVINO IR (``openvino.xml`` and
``openvino.weights``, plus the image encoder's ``int8_xml`` for precision ``mixed``) and the
precision it was made for (the top-level ``openvino.precision``, the backend's default).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sam2_ros.engine.errors import ModelDirError

MANIFEST_NAME = "model.yaml"
MANIFEST_FORMAT = "sam2_ros.model"
MANIFEST_VERSION = 1
COMPONENT_NAMES = ("image_encoder", "mask_decoder", "memory_encoder", "memory_attention")
# Model families the engine runs, with the components each needs (the decoder may come as variants).
MODEL_FAMILIES = {"sam2": COMPONENT_NAMES, "edgetam": COMPONENT_NAMES}
FAMILY_TITLES = {"sam2": "SAM 2", "edgetam": "EdgeTAM"}
DECODER_VARIANT = re.compile(r"^mask_decoder\.points([1-9][0-9]?)$")
EXPORT_HINT = "Re-export it with `sam2-ros-export --checkpoint ... --config ... --output DIR`."

Dim = int | str  # a fixed size, or the name of a dynamic axis


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (ints, or strings for dynamic axes) and dtype of one tensor."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class QnnBinary:
    """A component compiled for the Qualcomm HTP: the context binary and its EPContext wrapper."""

    context_binary: str
    context_binary_sha256: str
    epcontext: str | None = None  # ONNX Runtime wrapper (onnxruntime-qnn); None for foreign .bin files
    epcontext_sha256: str | None = None
    precision: str = "fp16"
    soc_model: int | None = None
    htp_arch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class OpenVinoIR:
    """A component as OpenVINO IR (``sam2-ros-export --target openvino``): ``.xml`` graph + ``.bin`` weights.

    ``int8_*`` is the image encoder's int8 IR of precision ``mixed`` (absent elsewhere).
    """

    xml: str
    xml_sha256: str
    weights: str
    weights_sha256: str
    int8_xml: str | None = None
    int8_xml_sha256: str | None = None
    int8_weights: str | None = None
    int8_weights_sha256: str | None = None

    def files(self) -> list[tuple[str, str]]:
        """(relative path, SHA-256) of the IR files."""
        out = [(self.xml, self.xml_sha256), (self.weights, self.weights_sha256)]
        if self.int8_xml and self.int8_xml_sha256 and self.int8_weights and self.int8_weights_sha256:
            out += [(self.int8_xml, self.int8_xml_sha256), (self.int8_weights, self.int8_weights_sha256)]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class ComponentSpec:
    """One exported model file and its interface (``file`` is None for a .bin-only component)."""

    name: str
    file: str | None
    sha256: str | None
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    format: str = "onnx"
    qnn: QnnBinary | None = None
    openvino: OpenVinoIR | None = None

    def files(self) -> list[tuple[str, str]]:
        """(relative path, SHA-256) of every file this component lists."""
        out = [(self.file, self.sha256)] if self.file else []
        if self.qnn is not None:
            out.append((self.qnn.context_binary, self.qnn.context_binary_sha256))
            if self.qnn.epcontext:
                out.append((self.qnn.epcontext, self.qnn.epcontext_sha256))
        if self.openvino is not None:
            out.extend(self.openvino.files())
        return out  # type: ignore[return-value]


@dataclass(frozen=True)
class ModelSettings:
    """SAM 2 settings the streaming glue needs (names follow ``SAM2Base``)."""

    image_size: int
    backbone_stride: int
    hidden_dim: int
    mem_dim: int
    num_maskmem: int
    max_obj_ptrs_in_encoder: int
    max_cond_frames_in_attn: int
    memory_temporal_stride_for_eval: int
    sigmoid_scale_for_mem_enc: float
    sigmoid_bias_for_mem_enc: float
    binarize_mask_from_pts_for_mem_enc: bool
    use_mask_input_as_output_without_sam: bool
    multimask_output_in_sam: bool
    multimask_min_pt_num: int
    multimask_max_pt_num: int
    multimask_output_for_tracking: bool
    use_multimask_token_for_obj_ptr: bool
    dynamic_multimask_via_stability: bool
    dynamic_multimask_stability_delta: float
    dynamic_multimask_stability_thresh: float
    soft_no_obj_ptr: bool
    fixed_no_obj_ptr: bool
    add_tpos_enc_to_obj_ptrs: bool
    proj_tpos_enc_in_obj_ptrs: bool
    use_signed_tpos_enc_to_obj_ptrs: bool
    only_obj_ptrs_in_the_past_for_eval: bool
    use_no_obj_embed_spatial: bool
    memory_dtype: str = "bfloat16"
    # tokens of one memory frame: 0 means one per image-embedding position (SAM 2); EdgeTAM's
    # perceiver makes it its latents (512)
    memory_tokens: int = 0

    @property
    def embed_size(self) -> int:
        """Side of the image embedding (image_size / backbone_stride)."""
        return self.image_size // self.backbone_stride

    @property
    def memory_tokens_per_frame(self) -> int:
        """Tokens of one memory frame in the bank and in memory attention."""
        return self.memory_tokens or self.embed_size**2

    @property
    def low_res_size(self) -> int:
        """Side of the low-resolution mask logits (4x the embedding)."""
        return 4 * self.embed_size


@dataclass(frozen=True)
class Manifest:
    """A parsed, checked ``model.yaml``."""

    version: int
    settings: ModelSettings
    pixel_mean: tuple[float, float, float]
    pixel_std: tuple[float, float, float]
    components: dict[str, ComponentSpec]
    host_tensors_file: str
    host_tensors_sha256: str
    host_tensor_shapes: dict[str, tuple[int, ...]]
    random_weights: bool
    source: dict[str, Any] = field(default_factory=dict)
    # sam2-ros-export --target openvino: {"precision": f32 | bf16 | mixed, "openvino": version}
    openvino: dict[str, Any] = field(default_factory=dict)
    model_family: str = "sam2"  # a key of MODEL_FAMILIES

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as written to ``model.yaml``."""
        return {
            "format": MANIFEST_FORMAT,
            "version": self.version,
            "model_family": self.model_family,
            "random_weights": self.random_weights,
            "source": dict(self.source),
            **({"openvino": dict(self.openvino)} if self.openvino else {}),
            "preprocessing": {
                "image_size": self.settings.image_size,
                "resize": "PIL bicubic to image_size x image_size (as sam2.utils.misc)",
                "pixel_scale": "1/255",
                "mean": list(self.pixel_mean),
                "std": list(self.pixel_std),
            },
            "settings": asdict(self.settings),
            "components": {name: _component_to_dict(spec) for name, spec in self.components.items()},
            "host_tensors": {
                "file": self.host_tensors_file,
                "sha256": self.host_tensors_sha256,
                "tensors": {k: list(v) for k, v in self.host_tensor_shapes.items()},
            },
        }

    def decoder_points(self) -> list[int]:
        """Point counts of a static-shape directory's decoders ([] when the decoder is dynamic)."""
        return sorted(int(m.group(1)) for name in self.components if (m := DECODER_VARIANT.match(name)))


def _tensor_to_dict(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype}


def _component_to_dict(spec: ComponentSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.file:
        out.update(file=spec.file, format=spec.format, sha256=spec.sha256)
    if spec.qnn is not None:
        out["qnn"] = spec.qnn.to_dict()
    if spec.openvino is not None:
        out["openvino"] = spec.openvino.to_dict()
    out["inputs"] = [_tensor_to_dict(t) for t in spec.inputs]
    out["outputs"] = [_tensor_to_dict(t) for t in spec.outputs]
    return out


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ModelDirError(f"{where}: missing required field '{key}'. {EXPORT_HINT}")
    return mapping[key]


def _parse_tensor(raw: Any, where: str) -> TensorSpec:
    name = _require(raw, "name", where)
    shape = _require(raw, "shape", where)
    if not isinstance(shape, list) or not all(isinstance(d, (int, str)) for d in shape):
        raise ModelDirError(f"{where}: shape of {name!r} must be a list of ints or axis names")
    return TensorSpec(str(name), tuple(shape), str(raw.get("dtype", "float32")))


def _parse_openvino(raw: Any, where: str) -> OpenVinoIR | None:
    if raw is None:
        return None
    ir = OpenVinoIR(
        xml=str(_require(raw, "xml", where)),
        xml_sha256=str(_require(raw, "xml_sha256", where)),
        weights=str(_require(raw, "weights", where)),
        weights_sha256=str(_require(raw, "weights_sha256", where)),
        **{k: str(raw[k]) for k in ("int8_xml", "int8_xml_sha256", "int8_weights", "int8_weights_sha256") if k in raw},
    )
    int8 = (ir.int8_xml, ir.int8_xml_sha256, ir.int8_weights, ir.int8_weights_sha256)
    if any(v is None for v in int8) and any(v is not None for v in int8):
        raise ModelDirError(f"{where}: int8_xml, int8_weights and their sha256 go together. {EXPORT_HINT}")
    return ir


def _parse_openvino_section(raw: Any, source: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or str(raw.get("precision")) not in ("f32", "bf16", "mixed"):
        raise ModelDirError(f"{source}: 'openvino' must be a mapping with precision f32, bf16 or mixed. {EXPORT_HINT}")
    return dict(raw)


def _parse_component(name: str, comp: Any, source: str) -> ComponentSpec:
    where = f"{source}: components.{name}"
    qnn = None
    if isinstance(comp, dict) and comp.get("qnn") is not None:
        q = comp["qnn"]
        qwhere = f"{where}.qnn"
        qnn = QnnBinary(
            context_binary=str(_require(q, "context_binary", qwhere)),
            context_binary_sha256=str(_require(q, "context_binary_sha256", qwhere)),
            epcontext=None if q.get("epcontext") is None else str(q["epcontext"]),
            epcontext_sha256=None if q.get("epcontext_sha256") is None else str(q["epcontext_sha256"]),
            precision=str(q.get("precision", "fp16")),
            soc_model=None if q.get("soc_model") is None else int(q["soc_model"]),
            htp_arch=None if q.get("htp_arch") is None else int(q["htp_arch"]),
        )
        if (qnn.epcontext is None) != (qnn.epcontext_sha256 is None):
            raise ModelDirError(f"{qwhere}: epcontext and epcontext_sha256 go together. {EXPORT_HINT}")
    openvino = _parse_openvino(comp.get("openvino"), f"{where}.openvino") if isinstance(comp, dict) else None
    has_file = isinstance(comp, dict) and "file" in comp
    if not has_file and qnn is None:
        _require(comp, "file", where)  # raises: a component needs an ONNX file or a QNN binary
    return ComponentSpec(
        name=name,
        file=str(comp["file"]) if has_file else None,
        sha256=str(_require(comp, "sha256", where)) if has_file else None,
        inputs=tuple(_parse_tensor(t, where) for t in _require(comp, "inputs", where)),
        outputs=tuple(_parse_tensor(t, where) for t in _require(comp, "outputs", where)),
        format=str(comp.get("format", "onnx")),
        qnn=qnn,
        openvino=openvino,
    )


def parse_manifest(raw: Any, source: str = MANIFEST_NAME) -> Manifest:
    """Build a :class:`Manifest` from plain data, checking every field."""
    if not isinstance(raw, dict):
        raise ModelDirError(f"{source} is not a mapping. {EXPORT_HINT}")
    fmt = raw.get("format")
    if fmt != MANIFEST_FORMAT:
        raise ModelDirError(f"{source}: format is {fmt!r}, expected {MANIFEST_FORMAT!r}. {EXPORT_HINT}")
    version = raw.get("version")
    if version != MANIFEST_VERSION:
        raise ModelDirError(
            f"{source}: manifest version {version!r} is not supported by this sam2_ros "
            f"(it reads version {MANIFEST_VERSION}). {EXPORT_HINT}"
        )
    family = str(raw.get("model_family", "sam2"))
    if family not in MODEL_FAMILIES:
        raise ModelDirError(
            f"{source}: model_family {family!r} is not one this sam2_ros runs ({', '.join(MODEL_FAMILIES)}). "
            f"{EXPORT_HINT}"
        )
    title = FAMILY_TITLES[family]
    settings_raw = _require(raw, "settings", source)
    try:
        settings = ModelSettings(**settings_raw)
    except TypeError as exc:
        raise ModelDirError(f"{source}: bad 'settings' section ({exc}). {EXPORT_HINT}") from exc
    pre = _require(raw, "preprocessing", source)
    mean = tuple(float(x) for x in _require(pre, "mean", f"{source}: preprocessing"))
    std = tuple(float(x) for x in _require(pre, "std", f"{source}: preprocessing"))
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ModelDirError(f"{source}: preprocessing mean/std must be 3 values, std > 0")
    if int(_require(pre, "image_size", f"{source}: preprocessing")) != settings.image_size:
        raise ModelDirError(f"{source}: preprocessing.image_size disagrees with settings.image_size")
    comps_raw = _require(raw, "components", source)
    if not isinstance(comps_raw, dict):
        raise ModelDirError(f"{source}: 'components' must be a mapping. {EXPORT_HINT}")
    names = [n for n in MODEL_FAMILIES[family] if n != "mask_decoder"]
    variants = sorted((str(n) for n in comps_raw if DECODER_VARIANT.match(str(n))), key=lambda n: int(n[19:]))
    if "mask_decoder" in comps_raw or not variants:
        names.insert(1, "mask_decoder")
    elif "mask_decoder.points1" not in variants:
        raise ModelDirError(f"{source}: static decoders need mask_decoder.points1 (tracking). {EXPORT_HINT}")
    components: dict[str, ComponentSpec] = {}
    for name in names + [v for v in variants if v not in names]:
        if name not in comps_raw:
            raise ModelDirError(
                f"{source}: this {title} model directory has no component {name!r} "
                f"({title} needs {', '.join(MODEL_FAMILIES[family])}). {EXPORT_HINT}"
            )
        components[name] = _parse_component(name, comps_raw[name], source)
    host = _require(raw, "host_tensors", source)
    shapes = {str(k): tuple(int(d) for d in v) for k, v in _require(host, "tensors", f"{source}: host_tensors").items()}
    return Manifest(
        version=version,
        settings=settings,
        pixel_mean=mean,
        pixel_std=std,
        components=components,
        host_tensors_file=str(_require(host, "file", f"{source}: host_tensors")),
        host_tensors_sha256=str(_require(host, "sha256", f"{source}: host_tensors")),
        host_tensor_shapes=shapes,
        random_weights=bool(raw.get("random_weights", False)),
        source=dict(raw.get("source") or {}),
        openvino=_parse_openvino_section(raw.get("openvino"), source),
        model_family=family,
    )


def _safe_member(model_dir: Path, name: str) -> Path:
    path = (model_dir / name).resolve()
    if model_dir.resolve() not in path.parents:
        raise ModelDirError(f"{MANIFEST_NAME}: file {name!r} points outside the model directory")
    return path


def expected_host_tensor_shapes(settings: ModelSettings) -> dict[str, tuple[int, ...]]:
    """The host tensors the engine needs, with the shapes ``settings`` implies."""
    c, cm = settings.hidden_dim, settings.mem_dim
    return {
        "no_mem_embed": (c,),
        "maskmem_tpos_enc": (settings.num_maskmem, cm),
        "no_obj_ptr": (c,),
        "no_obj_embed_spatial": (cm,),
        "obj_ptr_tpos_proj_weight": (cm, c if settings.proj_tpos_enc_in_obj_ptrs else cm),
        "obj_ptr_tpos_proj_bias": (cm,),
        "mask_downsample_weight": (4, 4),
        "mask_downsample_bias": (1,),
    }


def load_model_dir(model_dir: str | Path, verify_hashes: bool = True) -> tuple[Manifest, dict[str, np.ndarray]]:
    """Read and check a model directory; return its manifest and host tensors."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelDirError(f"model directory not found: {model_dir}. {EXPORT_HINT}")
    manifest_path = model_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ModelDirError(f"{model_dir} has no {MANIFEST_NAME}: not a sam2_ros model directory. {EXPORT_HINT}")
    try:
        raw = yaml.safe_load(manifest_path.read_text())
    except yaml.YAMLError as exc:
        raise ModelDirError(f"{manifest_path} is not valid YAML: {exc}") from exc
    manifest = parse_manifest(raw, str(manifest_path))

    files = [(f, sha, f"component {spec.name}") for spec in manifest.components.values() for f, sha in spec.files()]
    files.append((manifest.host_tensors_file, manifest.host_tensors_sha256, "host tensors"))
    for name, sha, what in files:
        path = _safe_member(model_dir, name)
        if not path.is_file():
            raise ModelDirError(f"{model_dir}: {what} file {name!r} is missing. {EXPORT_HINT}")
        if verify_hashes:
            actual = sha256_of(path)
            if actual != sha:
                raise ModelDirError(
                    f"{model_dir}: {what} file {name!r} does not match its SHA-256 in "
                    f"{MANIFEST_NAME} (expected {sha[:12]}..., found {actual[:12]}...): "
                    f"the file is corrupt or was replaced. {EXPORT_HINT}"
                )

    try:
        with np.load(_safe_member(model_dir, manifest.host_tensors_file), allow_pickle=False) as npz:
            tensors = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}
    except Exception as exc:
        raise ModelDirError(f"{model_dir}: host tensors could not be read: {exc}") from exc
    for name, shape in expected_host_tensor_shapes(manifest.settings).items():
        if name not in tensors:
            raise ModelDirError(f"{model_dir}: host tensor {name!r} is missing. {EXPORT_HINT}")
        if tensors[name].shape != shape or manifest.host_tensor_shapes.get(name) != shape:
            raise ModelDirError(
                f"{model_dir}: host tensor {name!r} has shape {tensors[name].shape}, "
                f"expected {shape} for these settings. {EXPORT_HINT}"
            )
    return manifest, tensors
