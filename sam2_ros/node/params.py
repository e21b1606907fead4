"""The node's parameters: one table of names, defaults, ranges and descriptions.

Defaults live here only; config/sam2_ros.yaml and the launch file restate none of them
except what they deliberately override.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

from sam2_ros.engine.results import DEFAULT_SPECK_FRACTION
from sam2_ros.node.detections import DetectionRules


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter. ``range`` is (min, max) for integer and double parameters."""

    name: str
    default: Any
    type: int  # rcl_interfaces ParameterType
    description: str
    read_only: bool
    range: tuple[float, float] | None = None

    def descriptor(self) -> ParameterDescriptor:
        """The ParameterDescriptor the node declares."""
        desc = ParameterDescriptor(
            name=self.name, type=self.type, description=self.description, read_only=self.read_only
        )
        if self.range is not None and self.type == ParameterType.PARAMETER_INTEGER:
            desc.integer_range = [IntegerRange(from_value=int(self.range[0]), to_value=int(self.range[1]), step=1)]
        elif self.range is not None and self.type == ParameterType.PARAMETER_DOUBLE:
            desc.floating_point_range = [
                FloatingPointRange(from_value=float(self.range[0]), to_value=float(self.range[1]))
            ]
        return desc


OPENVINO_PRECISIONS = ("f32", "bf16", "mixed")  # backend openvino's `precision` option
DEFAULT_CORRECTION_BOUND = 4  # conditioning frames kept per object when corrections become conditioning frames
_STR, _INT, _DOUBLE = ParameterType.PARAMETER_STRING, ParameterType.PARAMETER_INTEGER, ParameterType.PARAMETER_DOUBLE
_BOOL, _STR_ARRAY = ParameterType.PARAMETER_BOOL, ParameterType.PARAMETER_STRING_ARRAY

PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("model_dir", "", _STR, "model directory written by sam2-ros-export", True),
    ParameterSpec(
        "backend",
        "onnxruntime",
        _STR,
        "inference backend: onnxruntime, openvino (fast mode on x86: openvino_device, openvino_precision), "
        "qnn (onnxruntime-qnn) or aidlite (APLUX AidLite on the device)",
        True,
    ),
    ParameterSpec(
        "aidlite_accelerator",
        "dsp",
        _STR,
        "with backend aidlite: where the QNN context binaries run (dsp, cpu or gpu)",
        True,
    ),
    ParameterSpec(
        "openvino_device",
        "CPU",
        _STR,
        "with backend openvino: the OpenVINO device (CPU; GPU, NPU, AUTO, ... passed through)",
        True,
    ),
    ParameterSpec(
        "openvino_precision",
        "",
        _STR,
        "with backend openvino: f32 (exact), bf16 (faster where the CPU has BF16; else f32 with a warning) "
        "or mixed (int8 image encoder, bf16 elsewhere); empty: the model directory's "
        "(sam2-ros-export --target openvino --precision ...), else f32",
        True,
    ),
    ParameterSpec("backend_threads", 0, _INT, "backend threads; 0 = backend default", True, (0, 256)),
    ParameterSpec(
        "image_topics", ["image"], _STR_ARRAY, "camera image topics, one stream each (all share one loaded model)", True
    ),
    ParameterSpec("image_transport", "raw", _STR, "raw (sensor_msgs/Image) or compressed", True),
    ParameterSpec(
        "input_reliability", "best_effort", _STR, "image subscription reliability: best_effort or reliable", True
    ),
    ParameterSpec("input_depth", 1, _INT, "image subscription queue depth", True, (1, 100)),
    ParameterSpec("max_objects", 16, _INT, "most objects tracked per stream", False, (1, 255)),
    ParameterSpec("mask_threshold", 0.0, _DOUBLE, "mask logit threshold", False, (-20.0, 20.0)),
    ParameterSpec(
        "speck_fraction",
        DEFAULT_SPECK_FRACTION,
        _DOUBLE,
        "mask regions smaller than this fraction of the object's largest region are left out of every output "
        "(mask, box, area, 3D, detection matching); 0 keeps them all; the memory bank is unaffected",
        False,
        (0.0, 1.0),
    ),
    ParameterSpec("publish_overlay", True, _BOOL, "publish the overlay image when subscribed", False),
    ParameterSpec(
        "prompt_frame_cache",
        4,
        _INT,
        "recent frames whose encodings are kept so late prompts land on their own image",
        True,
        (1, 16),
    ),
    ParameterSpec(
        "corrections_as_conditioning",
        False,
        _BOOL,
        "a correction on a tracked frame becomes a conditioning frame kept in memory "
        "(SAM 2's add_all_frames_to_correct_as_cond)",
        True,
    ),
    ParameterSpec(
        "max_conditioning_frames",
        0,
        _INT,
        "conditioning frames each object keeps and attends to (SAM 2's max_cond_frames_in_attn): "
        f"0 = the model's setting, or {DEFAULT_CORRECTION_BOUND} with corrections_as_conditioning; -1 = no limit; "
        "else at least 2",
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
        "a geometry_msgs/Point on `<image topic>_mouse_left` (rqt_image_view) adds an object at that pixel",
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
    ParameterSpec("depth_reliability", "best_effort", _STR, "depth and camera_info subscription reliability", True),
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
    ParameterSpec("max_image_pixels", 4096 * 4096, _INT, "larger images are rejected", False, (1, 1 << 28)),
    ParameterSpec("diagnostics_period_s", 1.0, _DOUBLE, "diagnostics publish period", True, (0.1, 60.0)),
    ParameterSpec("autostart", True, _BOOL, "configure and activate on start", True),
)
SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}


def descriptor(name: str) -> ParameterDescriptor:
    """The ParameterDescriptor of ``name``."""
    return SPECS[name].descriptor()


@dataclass(frozen=True)
class RuntimeParams:
    """The parameters that may change at run time, read once per worker job."""

    max_objects: int
    mask_threshold: float
    speck_fraction: float
    publish_overlay: bool
    prompt_wait_s: float
    max_image_pixels: int
    detection: DetectionRules = DetectionRules()
    depth_unit_scale: float = 0.0
    depth_max_dt: float = 0.05
    depth_erode_px: int = 3
    max_cloud_points: int = 5000


def read_runtime(get: Callable[[str], Any]) -> RuntimeParams:
    """A snapshot of the run-time parameters; ``get(name)`` returns a parameter value."""
    return RuntimeParams(
        max_objects=int(get("max_objects")),
        mask_threshold=float(get("mask_threshold")),
        speck_fraction=float(get("speck_fraction")),
        publish_overlay=bool(get("publish_overlay")),
        prompt_wait_s=float(get("prompt_wait_s")),
        max_image_pixels=int(get("max_image_pixels")),
        detection=DetectionRules(
            match_iou=float(get("detection_match_iou")),
            refine=bool(get("detection_refine")),
            min_score=float(get("detection_min_score")),
            classes=frozenset(str(c) for c in get("detection_classes") if str(c)),
            lost_after_frames=int(get("lost_after_frames")),
            reseed_iou=float(get("detection_reseed_iou")),
            new_max_iou=float(get("detection_new_max_iou")),
        ),
        depth_unit_scale=float(get("depth_unit_scale")),
        depth_max_dt=float(get("depth_max_dt")),
        depth_erode_px=int(get("depth_erode_px")),
        max_cloud_points=int(get("max_cloud_points")),
    )


@dataclass(frozen=True)
class NodeConfig:
    """Parameters read at configure time, checked."""

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
    corrections_as_conditioning: bool = False
    max_conditioning_frames: int | None = None  # None: the model's setting
    detection_prompts: bool = True
    click_prompts: bool = True
    depth_topics: tuple[str, ...] = ()  # one per image topic, or none
    depth_reliability: str = "best_effort"


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
    transport = str(get("image_transport"))
    if transport not in ("raw", "compressed"):
        raise ValueError(f"image_transport must be raw or compressed, got {transport!r}")
    reliability = str(get("input_reliability"))
    if reliability not in ("best_effort", "reliable"):
        raise ValueError(f"input_reliability must be best_effort or reliable, got {reliability!r}")
    depth_topics = tuple(str(t).strip() for t in get("depth_topics"))
    if depth_topics and (len(depth_topics) != len(topics) or not all(depth_topics)):
        raise ValueError(
            f"depth_topics must name one depth topic per image topic ({len(topics)}), got {list(depth_topics)}"
        )
    depth_reliability = str(get("depth_reliability"))
    if depth_reliability not in ("best_effort", "reliable"):
        raise ValueError(f"depth_reliability must be best_effort or reliable, got {depth_reliability!r}")
    threads = int(get("backend_threads"))
    backend = str(get("backend"))
    options: dict[str, Any] = {}
    if backend == "aidlite":
        accelerator = str(get("aidlite_accelerator")).lower()
        if accelerator not in ("dsp", "cpu", "gpu"):
            raise ValueError(f"aidlite_accelerator must be dsp, cpu or gpu, got {accelerator!r}")
        options["accelerator"] = accelerator
    elif backend == "openvino":
        device = str(get("openvino_device")).strip()
        if not device:
            raise ValueError("openvino_device is empty: use CPU, GPU, NPU or another OpenVINO device name")
        precision = str(get("openvino_precision")).strip().lower()
        if precision and precision not in OPENVINO_PRECISIONS:
            choices = f"{', '.join(OPENVINO_PRECISIONS[:-1])} or {OPENVINO_PRECISIONS[-1]}"
            raise ValueError(f"openvino_precision must be {choices} (empty: the model directory's), got {precision!r}")
        options.update(device=device, **({"precision": precision} if precision else {}))
    return NodeConfig(
        model_dir=path.resolve(),
        backend=backend,
        backend_threads=threads or None,
        backend_options=options,
        image_topics=topics,
        stream_names=names,
        image_transport=transport,
        input_reliability=reliability,
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
        depth_reliability=depth_reliability,
    )


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
