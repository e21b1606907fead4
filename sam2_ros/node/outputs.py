"""The node's outputs, defined once: per stream, each kind's topic name, message type, QoS, what
it needs, whether it is built only while subscribed, and its builder; the image-plane builders
(mask, tracked objects, tracked detections, label map, overlay) are here, the 3D ones in
publish3d.py.

The node creates its publishers and publishes each frame from this table; the recorder
(tools/bags/record.py), the launch file's RViz config (tools/rviz_config.py) and docs/NODE.md's
topic table (test/unit/node/test_outputs.py) read it too. A new output topic is a row here and its builder.
vision_msgs is optional: `load_vision` says whether it can be imported; without it the node turns
its outputs off with one warning.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile
from rosidl_runtime_py.utilities import get_message
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from sam2_ros.engine import FrameResult
from sam2_ros.engine.drawing import draw_overlay
from sam2_ros.msg import TrackedObjectArray
from sam2_ros.node import conversions, publish3d
from sam2_ros.node.book import ObjectBook, class_name
from sam2_ros.node.params import RuntimeParams
from sam2_ros.node.publish3d import Located
from sam2_ros.node.qos import qos_profile

VISION, DEPTH = "vision_msgs", "depth"  # what an output may need: vision_msgs installed, depth_topics set


@dataclass(frozen=True)
class FrameOutputs:
    """What a frame's outputs are built from: the colour image's ``header``, the ``rgb`` pixels,
    the engine's ``result`` and ``latency`` (s), the stream's book (this frame recorded), the
    parameter snapshot, the vision_msgs module (None: not installed) and the objects located in
    3D (None: no depth for this frame)."""

    stream: str
    header: Header
    rgb: np.ndarray
    result: FrameResult
    latency: float
    book: ObjectBook
    params: RuntimeParams
    vision: ModuleType | None
    located: Located | None


@dataclass(frozen=True)
class Output:
    """One output topic of each stream.

    ``kind``: its name (``<stream>/<kind>`` with several streams); ``msg_type``: its interface
    (``pkg/msg/Type``); ``depth`` and ``latched``: its QoS (always reliable); ``needs``: `VISION`
    and/or `DEPTH`; ``on_demand``: built only while someone subscribes; ``rviz``: the launch
    file's RViz shows it; ``build``: the message of a frame, or None (nothing to publish).
    """

    kind: str
    msg_type: str
    build: Callable[[FrameOutputs], Any]
    depth: int = 10
    latched: bool = False
    needs: frozenset[str] = frozenset()
    on_demand: bool = False
    rviz: bool = False

    @property
    def qos(self) -> QoSProfile:
        """The publisher's QoS."""
        return qos_profile(self.depth, reliable=True, latched=self.latched)

    def message_class(self) -> type:
        """The message class (its package must be importable)."""
        return get_message(self.msg_type)

    def available(self, vision: bool, depth: bool) -> bool:
        """Whether a node publishes it, with vision_msgs installed or not and depth_topics set or not."""
        return (vision or VISION not in self.needs) and (depth or DEPTH not in self.needs)


# ---------------------------------------------------------------------- the image-plane builders
def mask(frame: FrameOutputs) -> Image:
    """The label image (pixel = object id) as mono8."""
    return conversions.mono8_msg(frame.result.label_image(), frame.header)


def tracked_objects(frame: FrameOutputs) -> TrackedObjectArray:
    """Every object's box, area, centroid, record and (with depth) 3D position."""
    where = frame.located
    return conversions.tracked_objects_msg(
        frame.result,
        frame.header,
        frame.stream,
        frame.book,
        frame.latency,
        where.objects if where is not None else {},
        where.frame_id if where is not None else "",
    )


def tracked_detections(frame: FrameOutputs) -> Any:
    """``vision_msgs/Detection2DArray`` of the visible objects."""
    assert frame.vision is not None
    return tracked_detections_msg(frame.vision, frame.result, frame.header, frame.book.labels())


def label_info(frame: FrameOutputs) -> Any | None:
    """``vision_msgs/LabelInfo``, only when the objects or their labels changed (else None)."""
    assert frame.vision is not None
    mapping = label_map(list(frame.result.objects), frame.book.labels())
    if not frame.book.label_map_changed(mapping):
        return None
    return label_info_msg(frame.vision, mapping, frame.header)


def overlay(frame: FrameOutputs) -> Image | None:
    """The coloured masks, boxes, ids and labels drawn on the image (None: ``publish_overlay`` off)."""
    if not frame.params.publish_overlay:
        return None
    return conversions.rgb8_msg(draw_overlay(frame.rgb, frame.result, frame.book.labels()), frame.header)


# ---------------------------------------------------------------------- vision_msgs
PRESENCE_THRESHOLD = 0.5  # LabelInfo.threshold: presence probability above which an object is visible


def load_vision() -> ModuleType | None:
    """``vision_msgs.msg``, or None when vision_msgs cannot be imported."""
    try:
        return importlib.import_module("vision_msgs.msg")
    except ImportError:
        return None


def tracked_detections_msg(vm: ModuleType, result: FrameResult, header: Header, labels: Mapping[int, str]) -> Any:
    """``Detection2DArray``: one ``Detection2D`` per visible object (box in pixels, id, class, presence)."""
    out = vm.Detection2DArray(header=header)
    for obj_id, obj in result.objects.items():
        box = obj.bbox if obj.visible else None
        if box is None:
            continue
        x0, y0, x1, y1 = box
        det = vm.Detection2D(header=header, id=str(obj_id))
        det.bbox.center.position.x = (x0 + x1) / 2.0
        det.bbox.center.position.y = (y0 + y1) / 2.0
        det.bbox.size_x, det.bbox.size_y = float(x1 - x0), float(y1 - y0)
        hypothesis = vm.ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = class_name(obj_id, labels.get(obj_id, ""))
        hypothesis.hypothesis.score = float(obj.presence_probability)
        hypothesis.pose.pose.orientation.w = 1.0
        det.results.append(hypothesis)
        out.detections.append(det)
    return out


def label_map(object_ids: list[int], labels: Mapping[int, str]) -> tuple[tuple[int, str], ...]:
    """Mask value (object id) -> class name, for every tracked object, by id."""
    return tuple((obj_id, class_name(obj_id, labels.get(obj_id, ""))) for obj_id in sorted(object_ids))


def label_info_msg(vm: ModuleType, mapping: tuple[tuple[int, str], ...], header: Header) -> Any:
    """``LabelInfo``: ``class_map`` from `label_map` (the mask's background 0 is not in it)."""
    out = vm.LabelInfo(header=header, threshold=PRESENCE_THRESHOLD)
    out.class_map = [vm.VisionClass(class_id=obj_id, class_name=name) for obj_id, name in mapping]
    return out


# ---------------------------------------------------------------------- the table
# in publishing order
OUTPUTS: tuple[Output, ...] = (
    Output("mask", "sensor_msgs/msg/Image", mask, rviz=True),
    Output("tracked_objects", "sam2_ros/msg/TrackedObjectArray", tracked_objects),
    Output("markers", "visualization_msgs/msg/MarkerArray", publish3d.markers, needs=frozenset({DEPTH}), rviz=True),
    Output(
        "tracked_detections_3d",
        "vision_msgs/msg/Detection3DArray",
        publish3d.tracked_detections_3d,
        needs=frozenset({DEPTH, VISION}),
    ),
    Output(
        "object_points",
        "sensor_msgs/msg/PointCloud2",
        publish3d.object_points,
        depth=2,
        needs=frozenset({DEPTH}),
        on_demand=True,
    ),
    Output(
        "tracked_detections",
        "vision_msgs/msg/Detection2DArray",
        tracked_detections,
        needs=frozenset({VISION}),
    ),
    Output(
        "label_info",
        "vision_msgs/msg/LabelInfo",
        label_info,
        depth=1,
        latched=True,
        needs=frozenset({VISION}),
    ),
    Output("overlay", "sensor_msgs/msg/Image", overlay, depth=2, on_demand=True, rviz=True),
)
OUTPUT_KINDS = tuple(output.kind for output in OUTPUTS)


def publish_frame(publishers: Mapping[str, Publisher], frame: FrameOutputs) -> None:
    """Build and publish each output of ``frame`` that its stream has: the 3D ones only when the
    frame has depth, the on-demand ones only while subscribed."""
    for output in OUTPUTS:
        publisher = publishers.get(output.kind)
        if publisher is None or (DEPTH in output.needs and frame.located is None):
            continue
        if output.on_demand and publisher.get_subscription_count() == 0:
            continue
        msg = output.build(frame)
        if msg is not None:
            publisher.publish(msg)
