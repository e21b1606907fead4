"""The node's parameters: one table of names, defaults, ranges, choices and descriptions.

Defaults live here only. config/sam2_ros.yaml (a full copy for users to edit) and docs/NODE.md's
parameter table are written from this table by ``python -m sam2_ros.node.param_docs``, and
test/unit/node/test_params.py fails when either drifts from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

from sam2_ros.engine.results import DEFAULT_SPECK_FRACTION
from sam2_ros.node.book import MAX_OBJECT_ID
from sam2_ros.node.detections import DetectionRules


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter. ``range`` is (min, max) for integer and double parameters;
    ``choices`` the values a string parameter may take (matched case-insensitively, spaces
    around ignored; ``""`` among them: it may be left empty)."""

    name: str
    default: Any
    type: int  # rcl_interfaces ParameterType
    description: str
    read_only: bool
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] = ()

    def descriptor(self) -> ParameterDescriptor:
        """The ParameterDescriptor the node declares."""
        desc = ParameterDescriptor(
            name=self.name, type=self.type, description=self.description, read_only=self.read_only
        )
        if self.choices:
            desc.additional_constraints = f"one of: {self.choices_text()}"
        if self.range is not None and self.type == ParameterType.PARAMETER_INTEGER:
            desc.integer_range = [IntegerRange(from_value=int(self.range[0]), to_value=int(self.range[1]), step=1)]
        elif self.range is not None and self.type == ParameterType.PARAMETER_DOUBLE:
            desc.floating_point_range = [
                FloatingPointRange(from_value=float(self.range[0]), to_value=float(self.range[1]))
            ]
        return desc

    def choices_text(self) -> str:
        """The choices in words: ``raw or compressed``; ``f32, bf16 or mixed, or empty``."""
        named = [c for c in self.choices if c]
        text = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} or {named[-1]}"
        return f"{text}, or empty" if "" in self.choices else text

    def choose(self, value: Any) -> str:
        """``value`` as one of the choices (lower case, stripped), else ValueError naming all three."""
        chosen = str(value).strip().lower()
        if chosen not in self.choices:
            raise ValueError(f"{self.name} must be {self.choices_text()}, got {value!r}")
        return chosen


OPENVINO_PRECISIONS = ("f32", "bf16", "mixed")  # backend openvino's `precision` option
DEFAULT_CORRECTION_BOUND = 4  # conditioning frames kept per object when corrections become conditioning frames
_STR, _INT, _DOUBLE = ParameterType.PARAMETER_STRING, ParameterType.PARAMETER_INTEGER, ParameterType.PARAMETER_DOUBLE
_BOOL, _STR_ARRAY = ParameterType.PARAMETER_BOOL, ParameterType.PARAMETER_STRING_ARRAY

PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "model_dir", "", _STR, "model directory written by sam2-ros-export (required; checked at configure)", True
    ),
    ParameterSpec(
        "backend",
        "onnxruntime",
        _STR,
        "inference backend: onnxruntime, openvino (fast mode on x86, docs/ENGINE.md: openvino_device, "
        "openvino_precision), qnn (onnxruntime-qnn) or aidlite (APLUX AidLite on the device; docs/QUALCOMM.md)",
        True,
    ),
    ParameterSpec(
        "aidlite_accelerator",
        "dsp",
        _STR,
        "with backend aidlite: where the QNN context binaries run",
        True,
        choices=("dsp", "cpu", "gpu"),
    ),
    ParameterSpec(
        "openvino_device",
        "CPU",
        _STR,
        "with backend openvino: the OpenVINO device (CPU; GPU, NPU, AUTO, ... passed through; one not present "
        "fails at configure with the devices there are)",
        True,
    ),
    ParameterSpec(
        "openvino_precision",
        "",
        _STR,
        "with backend openvino: f32 (exact mode), bf16 (where the CPU has BF16, else f32 with one warning) "
        "or mixed (an int8 image encoder, from sam2-ros-export --target openvino --precision mixed or "
        "python -m sam2_ros.export.openvino_int8 MODEL_DIR; bf16 elsewhere); empty: the precision the model "
        "directory was exported for (--target openvino --precision ...), else f32; bounds in docs/PERFORMANCE.md",
        True,
        choices=("", *OPENVINO_PRECISIONS),
    ),
    ParameterSpec("backend_threads", 0, _INT, "backend threads; 0 = the backend's default (all cores)", True, (0, 256)),
    ParameterSpec(
        "image_topics", ["image"], _STR_ARRAY, "camera image topics, one stream each (all share one loaded model)", True
    ),
    ParameterSpec(
        "image_transport",
        "raw",
        _STR,
        "raw (sensor_msgs/Image) or compressed (`<topic>/compressed`, sensor_msgs/CompressedImage)",
        True,
        choices=("raw", "compressed"),
    ),
    ParameterSpec(
        "input_reliability",
        "best_effort",
        _STR,
        "image subscription reliability",
        True,
        choices=("best_effort", "reliable"),
    ),
    ParameterSpec("input_depth", 1, _INT, "image subscription queue depth", True, (1, 100)),
    ParameterSpec(
        "max_objects",
        16,
        _INT,
        "most objects tracked per stream; new objects beyond it are refused with a warning",
        False,
        (1, MAX_OBJECT_ID),
    ),
    ParameterSpec("mask_threshold", 0.0, _DOUBLE, "mask logit threshold", False, (-20.0, 20.0)),
    ParameterSpec(
        "speck_fraction",
        DEFAULT_SPECK_FRACTION,
        _DOUBLE,
        "mask regions smaller than this fraction of the object's largest region are left out of every output "
        "(mask, box, area, centroid, 3D, detection matching); 0 keeps them all; the memory bank stores "
        "SAM 2's raw mask either way (docs/NODE.md: Visible)",
        False,
        (0.0, 1.0),
    ),
    ParameterSpec("publish_overlay", True, _BOOL, "publish the overlay image when subscribed", False),
    ParameterSpec(
        "prompt_frame_cache",
        4,
        _INT,
        "size of the frame cache: the recent frames whose encodings are kept so late prompts land on their "
        "own image (docs/ENGINE.md: The frame cache)",
        True,
        (1, 16),
    ),
    ParameterSpec(
        "corrections_as_conditioning",
        False,
        _BOOL,
        "a correction on a tracked frame becomes a conditioning frame and stays in memory "
        "(SAM 2's add_all_frames_to_correct_as_cond; false is SAM 2's default: it leaves memory after 6 frames)",
        True,
    ),
    ParameterSpec(
        "max_conditioning_frames",
        0,
        _INT,
        "conditioning frames each object keeps and attends to (SAM 2's max_cond_frames_in_attn): "
        "0 = the model's setting (no limit in Meta's configs), or "
        f"{DEFAULT_CORRECTION_BOUND} with corrections_as_conditioning, so memory stays flat however often an "
        "operator corrects; -1 = no limit; else at least 2",
        True,
        (-1, 64),
    ),
    ParameterSpec(
        "detection_prompts",
        True,
        _BOOL,
        "take vision_msgs/Detection2DArray boxes on `detections` as prompts (needs vision_msgs)",
        True,
    ),
    ParameterSpec(
        "detection_match_iou",
        0.5,
        _DOUBLE,
        "a detection overlapping a visible object's box by at least this IoU is that object",
        False,
        (0.0, 1.0),
    ),
    ParameterSpec(
        "detection_new_max_iou",
        0.25,
        _DOUBLE,
        "a detection overlapping a visible object by at least this IoU (below detection_match_iou) is skipped, "
        "never a new object",
        False,
        (0.0, 1.0),
    ),
    ParameterSpec(
        "detection_refine", False, _BOOL, "a detection of a tracked object refines it (else it is skipped)", False
    ),
    ParameterSpec("detection_min_score", 0.0, _DOUBLE, "detections scoring lower are ignored", False, (0.0, 1.0)),
    ParameterSpec("detection_classes", [], _STR_ARRAY, "class ids taken from detections; empty = all", True),
    ParameterSpec(
        "lost_after_frames",
        10,
        _INT,
        "an object not visible for this many frames is lost: a detection of its label may re-seed it",
        False,
        (1, 100000),
    ),
    ParameterSpec(
        "detection_reseed_iou",
        0.1,
        _DOUBLE,
        "a detection re-seeds a lost object of its label if its IoU with the object's last box is at least this",
        False,
        (0.0, 1.0),
    ),
    ParameterSpec(
        "click_prompts",
        True,
        _BOOL,
        "a geometry_msgs/Point on `<image topic>_mouse_left` or `overlay_mouse_left` (rqt_image_view) adds an "
        "object at that pixel",
        True,
    ),
    ParameterSpec(
        "depth_topics",
        [],
        _STR_ARRAY,
        "aligned depth image topics (16UC1 mm or 32FC1 m), one per image topic, each with a camera_info "
        "next to it; empty = no 3D",
        True,
    ),
    ParameterSpec(
        "depth_reliability",
        "best_effort",
        _STR,
        "depth and camera_info subscription reliability",
        True,
        choices=("best_effort", "reliable"),
    ),
    ParameterSpec(
        "depth_unit_scale",
        0.0,
        _DOUBLE,
        "metres per depth unit; 0 = by encoding (16UC1: 0.001, 32FC1: 1)",
        False,
        (0.0, 100.0),
    ),
    ParameterSpec(
        "depth_max_dt",
        0.05,
        _DOUBLE,
        "largest stamp difference (s) of a colour frame and its depth",
        False,
        (0.0, 10.0),
    ),
    ParameterSpec(
        "depth_erode_px", 3, _INT, "mask erosion (pixels) before reading depths, so edges do not count", False, (0, 50)
    ),
    ParameterSpec(
        "max_cloud_points",
        5000,
        _INT,
        "points in object_points (published only while subscribed)",
        False,
        (1, 10000000),
    ),
    ParameterSpec(
        "prompt_wait_s",
        0.5,
        _DOUBLE,
        "how long a prompt stamped ahead of the last processed image waits for that image",
        False,
        (0.0, 10.0),
    ),
    ParameterSpec(
        "max_image_pixels",
        4096 * 4096,
        _INT,
        "larger images are rejected (checked as each image arrives)",
        False,
        (1, 1 << 28),
    ),
    ParameterSpec("diagnostics_period_s", 1.0, _DOUBLE, "diagnostics publish period", True, (0.1, 60.0)),
    ParameterSpec("autostart", True, _BOOL, "configure and activate on start", True),
)
SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}


def default(name: str) -> Any:
    """Parameter ``name``'s default: ``read_runtime(default)`` is the default snapshot."""
    return SPECS[name].default


def _typed(name: str, get: Callable[[str], Any]) -> Any:
    """Parameter ``name``'s value, converted to its default's type (bool, int, float or str)."""
    return type(SPECS[name].default)(get(name))


@dataclass(frozen=True)
class RuntimeParams:
    """The parameters that may change at run time, read once per worker job.

    Every field but ``detection`` is the parameter of its name; no defaults here (they are the
    table's: ``read_runtime(default)``).
    """

    max_objects: int
    mask_threshold: float
    speck_fraction: float
    publish_overlay: bool
    prompt_wait_s: float
    max_image_pixels: int
    detection: DetectionRules
    depth_unit_scale: float
    depth_max_dt: float
    depth_erode_px: int
    max_cloud_points: int


def read_rules(get: Callable[[str], Any]) -> DetectionRules:
    """The detection association rules (``detection_*`` and ``lost_after_frames``)."""
    return DetectionRules(
        match_iou=_typed("detection_match_iou", get),
        refine=_typed("detection_refine", get),
        min_score=_typed("detection_min_score", get),
        classes=frozenset(str(c) for c in get("detection_classes") if str(c)),
        lost_after_frames=_typed("lost_after_frames", get),
        reseed_iou=_typed("detection_reseed_iou", get),
        new_max_iou=_typed("detection_new_max_iou", get),
    )


def read_runtime(get: Callable[[str], Any]) -> RuntimeParams:
    """A snapshot of the run-time parameters; ``get(name)`` returns a parameter value."""
    plain = {f.name: _typed(f.name, get) for f in fields(RuntimeParams) if f.name != "detection"}
    return RuntimeParams(**plain, detection=read_rules(get))


@dataclass(frozen=True)
class NodeConfig:
    """Parameters read at configure time, checked. Only `read_config` builds one: no defaults here."""

    model_dir: Path
    backend: str
    backend_threads: int | None
    backend_options: dict[str, Any]
    image_topics: tuple[str, ...]
    stream_names: tuple[str, ...]  # one per image topic (see stream_name)
    image_transport: str
    input_reliability: str
    input_depth: int
    prompt_frame_cache: int
    diagnostics_period_s: float
    corrections_as_conditioning: bool
    max_conditioning_frames: int | None  # None: the model's setting
    detection_prompts: bool
    click_prompts: bool
    depth_topics: tuple[str, ...]  # one per image topic, or none
    depth_reliability: str


def read_config(get: Callable[[str], Any]) -> NodeConfig:
    """Build and check the configuration; ``get(name)`` returns a parameter value."""
    model_dir = str(get("model_dir")).strip()
    if not model_dir:
        raise ValueError("parameter model_dir is empty: set it to a directory written by sam2-ros-export")
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise ValueError(f"model_dir {path} is not a directory")
    topics = tuple(str(t).strip() for t in get("image_topics"))
    if not topics or any(not t for t in topics) or len(set(topics)) != len(topics):
        raise ValueError(f"image_topics must be distinct, non-empty topic names, got {list(topics)}")
    names = tuple(stream_name(t) for t in topics)
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise ValueError(f"two image topics map to the same stream name {twice!r}")
    depth_topics = tuple(str(t).strip() for t in get("depth_topics"))
    if depth_topics and (len(depth_topics) != len(topics) or not all(depth_topics)):
        raise ValueError(
            f"depth_topics must name one depth topic per image topic ({len(topics)}), got {list(depth_topics)}"
        )
    backend = str(get("backend"))
    options: dict[str, Any] = {}
    if backend == "aidlite":
        options["accelerator"] = _chosen("aidlite_accelerator", get)
    elif backend == "openvino":
        device = str(get("openvino_device")).strip()
        if not device:
            raise ValueError("openvino_device is empty: use CPU, GPU, NPU or another OpenVINO device name")
        precision = _chosen("openvino_precision", get)
        options.update(device=device, **({"precision": precision} if precision else {}))
    return NodeConfig(
        model_dir=path.resolve(),
        backend=backend,
        backend_threads=int(get("backend_threads")) or None,
        backend_options=options,
        image_topics=topics,
        stream_names=names,
        image_transport=_chosen("image_transport", get),
        input_reliability=_chosen("input_reliability", get),
        input_depth=int(get("input_depth")),
        prompt_frame_cache=int(get("prompt_frame_cache")),
        diagnostics_period_s=float(get("diagnostics_period_s")),
        corrections_as_conditioning=bool(get("corrections_as_conditioning")),
        max_conditioning_frames=conditioning_bound(
            int(get("max_conditioning_frames")), bool(get("corrections_as_conditioning"))
        ),
        detection_prompts=bool(get("detection_prompts")),
        click_prompts=bool(get("click_prompts")),
        depth_topics=depth_topics,
        depth_reliability=_chosen("depth_reliability", get),
    )


def _chosen(name: str, get: Callable[[str], Any]) -> str:
    """Parameter ``name``'s value, checked against its spec's choices."""
    return SPECS[name].choose(get(name))


def conditioning_bound(value: int, corrections_as_conditioning: bool) -> int | None:
    """The tracker's ``max_conditioning_frames`` for the parameter ``value`` (0 = automatic)."""
    if value == 0:
        return DEFAULT_CORRECTION_BOUND if corrections_as_conditioning else None
    if value == 1 or value < -1:
        raise ValueError(f"max_conditioning_frames is {value}: use 0 (automatic), -1 (no limit) or at least 2")
    return value


def output_topic(image_topics: Sequence[str], image_topic: str, kind: str) -> str:
    """The node's relative ``kind`` topic (mask, tracked_objects, detections, ...) for the stream of
    ``image_topic``: ``kind`` with one stream, ``<stream_name>/<kind>`` with several."""
    return kind if len(image_topics) == 1 else f"{stream_name(image_topic)}/{kind}"


def stream_name(topic: str) -> str:
    """A stream's name from its image topic: ``/cam_left/image_raw`` -> ``cam_left``."""
    name = topic.strip("/")
    for suffix in ("/image_raw", "/image_rect", "/image_color", "/image"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("/", "_") or "image"
