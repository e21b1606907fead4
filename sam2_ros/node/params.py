"""The node's parameters: one table of names, defaults, ranges and descriptions.

Defaults live here only; config/sam2_ros.yaml and the launch file restate none of them
except what they deliberately override.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

# name: (default, type, description, read_only, (min, max) or None)
PARAMETERS: dict[str, tuple[Any, int, str, bool, tuple[float, float] | None]] = {
    "model_dir": ("", ParameterType.PARAMETER_STRING, "model directory written by sam2-ros-export", True, None),
    "backend": (
        "onnxruntime",
        ParameterType.PARAMETER_STRING,
        "inference backend: onnxruntime, qnn (onnxruntime-qnn) or aidlite (APLUX AidLite on the device)",
        True,
        None,
    ),
    "aidlite_accelerator": (
        "dsp",
        ParameterType.PARAMETER_STRING,
        "with backend aidlite: where the QNN context binaries run (dsp, cpu or gpu)",
        True,
        None,
    ),
    "backend_threads": (0, ParameterType.PARAMETER_INTEGER, "backend threads; 0 = backend default", True, (0, 256)),
    "image_topics": (
        ["image"],
        ParameterType.PARAMETER_STRING_ARRAY,
        "camera image topics, one stream each (all share one loaded model)",
        True,
        None,
    ),
    "image_transport": ("raw", ParameterType.PARAMETER_STRING, "raw (sensor_msgs/Image) or compressed", True, None),
    "input_reliability": (
        "best_effort",
        ParameterType.PARAMETER_STRING,
        "image subscription reliability: best_effort or reliable",
        True,
        None,
    ),
    "input_depth": (1, ParameterType.PARAMETER_INTEGER, "image subscription queue depth", True, (1, 100)),
    "max_objects": (16, ParameterType.PARAMETER_INTEGER, "most objects tracked per stream", False, (1, 255)),
    "mask_threshold": (0.0, ParameterType.PARAMETER_DOUBLE, "mask logit threshold", False, (-20.0, 20.0)),
    "publish_overlay": (True, ParameterType.PARAMETER_BOOL, "publish the overlay image when subscribed", False, None),
    "prompt_frame_cache": (
        4,
        ParameterType.PARAMETER_INTEGER,
        "recent frames whose encodings are kept so late prompts land on their own image",
        True,
        (1, 16),
    ),
    "prompt_wait_s": (
        0.5,
        ParameterType.PARAMETER_DOUBLE,
        "how long a prompt stamped ahead of the last processed image waits for that image",
        False,
        (0.0, 10.0),
    ),
    "max_image_pixels": (
        4096 * 4096,
        ParameterType.PARAMETER_INTEGER,
        "larger images are rejected",
        False,
        (1, 1 << 28),
    ),
    "diagnostics_period_s": (1.0, ParameterType.PARAMETER_DOUBLE, "diagnostics publish period", True, (0.1, 60.0)),
    "autostart": (True, ParameterType.PARAMETER_BOOL, "configure and activate on start", True, None),
}


def descriptor(name: str) -> ParameterDescriptor:
    """The ParameterDescriptor of ``name``."""
    _, ptype, text, read_only, bounds = PARAMETERS[name]
    desc = ParameterDescriptor(name=name, type=ptype, description=text, read_only=read_only)
    if bounds is not None and ptype == ParameterType.PARAMETER_INTEGER:
        desc.integer_range = [IntegerRange(from_value=int(bounds[0]), to_value=int(bounds[1]), step=1)]
    elif bounds is not None and ptype == ParameterType.PARAMETER_DOUBLE:
        desc.floating_point_range = [FloatingPointRange(from_value=float(bounds[0]), to_value=float(bounds[1]))]
    return desc


@dataclass(frozen=True)
class NodeConfig:
    """Parameters read at configure time, checked."""

    model_dir: Path
    backend: str
    backend_threads: int | None
    backend_options: dict[str, Any]
    image_topics: tuple[str, ...]
    image_transport: str
    input_reliability: str
    input_depth: int
    prompt_frame_cache: int
    diagnostics_period_s: float


def read_config(get: Any) -> NodeConfig:
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
    transport = str(get("image_transport"))
    if transport not in ("raw", "compressed"):
        raise ValueError(f"image_transport must be raw or compressed, got {transport!r}")
    reliability = str(get("input_reliability"))
    if reliability not in ("best_effort", "reliable"):
        raise ValueError(f"input_reliability must be best_effort or reliable, got {reliability!r}")
    threads = int(get("backend_threads"))
    backend = str(get("backend"))
    options: dict[str, Any] = {}
    if backend == "aidlite":
        accelerator = str(get("aidlite_accelerator")).lower()
        if accelerator not in ("dsp", "cpu", "gpu"):
            raise ValueError(f"aidlite_accelerator must be dsp, cpu or gpu, got {accelerator!r}")
        options["accelerator"] = accelerator
    return NodeConfig(
        model_dir=path.resolve(),
        backend=backend,
        backend_threads=threads or None,
        backend_options=options,
        image_topics=topics,
        image_transport=transport,
        input_reliability=reliability,
        input_depth=int(get("input_depth")),
        prompt_frame_cache=int(get("prompt_frame_cache")),
        diagnostics_period_s=float(get("diagnostics_period_s")),
    )


def stream_name(topic: str) -> str:
    """A stream's name from its image topic: ``/cam_left/image_raw`` -> ``cam_left``."""
    name = topic.strip("/")
    for suffix in ("/image_raw", "/image_rect", "/image_color", "/image"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("/", "_") or "image"
