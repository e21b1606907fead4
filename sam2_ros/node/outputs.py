"""The node's outputs, defined once: per stream, each kind's topic name, message type, QoS, what
it needs, whether it is built only while subscribed, and its builder.

The node creates its publishers and publishes each frame from this table; the recorder
(tools/record.py), the launch file's RViz config (tools/rviz_config.py) and docs/NODE.md's topic
table (test/unit/node/test_outputs.py) read it too. A new output topic is a row here and its builder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile
from rosidl_runtime_py.utilities import get_message
from std_msgs.msg import Header

from sam2_ros.engine import FrameResult
from sam2_ros.node import publish2d, publish3d
from sam2_ros.node.book import ObjectBook
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


# in publishing order
OUTPUTS: tuple[Output, ...] = (
    Output("mask", "sensor_msgs/msg/Image", publish2d.mask, rviz=True),
    Output("tracked_objects", "sam2_ros/msg/TrackedObjectArray", publish2d.tracked_objects),
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
        publish2d.tracked_detections,
        needs=frozenset({VISION}),
    ),
    Output(
        "label_info",
        "vision_msgs/msg/LabelInfo",
        publish2d.label_info,
        depth=1,
        latched=True,
        needs=frozenset({VISION}),
    ),
    Output("overlay", "sensor_msgs/msg/Image", publish2d.overlay, depth=2, on_demand=True, rviz=True),
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
