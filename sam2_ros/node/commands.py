"""The node's command inputs, defined once: the `INPUTS` table (topic, type, QoS, the parameter
that turns it on, the converter) and the typed commands the converters make at arrival (prompt,
remove, reset, click, detections); handlers.py applies them.

A message is checked here as far as the image is not needed. A command is frozen and carries the
stamp of the image it was made on (``stamp_ns``; the scheduler reads only that) and its stream.
The node subscribes from the table. A new prompt source is a command class, its converter and its
row here, its handler in handlers.py and its parameter in params.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from geometry_msgs.msg import Point
from rosidl_runtime_py.utilities import get_message
from sensor_msgs.msg import Image

from sam2_ros.msg import Prompt
from sam2_ros.node.book import MAX_OBJECT_ID
from sam2_ros.node.conversions import ConversionError, stamp_to_ns
from sam2_ros.node.detections import Detection

NEW_OBJECT = 0  # Prompt.object_id that asks the node to pick the lowest free id
NEWEST_FRAME = -1  # stamp_ns of a command on the newest processed frame (clicks: unstamped)


@dataclass(frozen=True)
class AddPrompt:
    """Add or refine an object: points (+ labels), box and/or a mono8 mask message, in pixels.

    ``object_id`` `NEW_OBJECT` adds a new object with the lowest free id; ``stamp_ns``
    `NEWEST_FRAME` lands on the newest processed frame.
    """

    stream: str
    stamp_ns: int
    object_id: int
    label: str = ""
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    box: np.ndarray | None = None
    mask_msg: Image | None = None


@dataclass(frozen=True)
class RemoveObject:
    """Forget object ``object_id`` (1..255)."""

    stream: str
    stamp_ns: int
    object_id: int


@dataclass(frozen=True)
class ResetStream:
    """Forget every object and frame of the stream."""

    stream: str
    stamp_ns: int


@dataclass(frozen=True)
class Click:
    """An rqt_image_view click (pixels, unstamped): a new object's foreground point on the newest frame."""

    stream: str
    x: float
    y: float
    stamp_ns: int = NEWEST_FRAME


@dataclass(frozen=True)
class Detections:
    """The checked detections of one image."""

    stream: str
    stamp_ns: int
    detections: tuple[Detection, ...]


Command = AddPrompt | RemoveObject | ResetStream | Click | Detections


def from_prompt(msg: Prompt) -> AddPrompt | RemoveObject | ResetStream:
    """A Prompt message as a command, its fields that do not depend on the image checked.

    ``object_id`` 0 (`NEW_OBJECT`) with ACTION_ADD_OR_REFINE adds a new object (the node picks the id).
    Points and labels must pair up, labels be 0 or 1, points and box be finite, the box ordered;
    whether they lie inside the image is checked when the prompt is applied.
    """
    stamp_ns = stamp_to_ns(msg.header.stamp)
    if msg.action == Prompt.ACTION_RESET_STREAM:
        return ResetStream(msg.stream, stamp_ns)
    if msg.action == Prompt.ACTION_REMOVE_OBJECT:
        if not 1 <= msg.object_id <= MAX_OBJECT_ID:
            raise ConversionError(
                "prompt_object_id", f"object_id to remove must be 1..{MAX_OBJECT_ID}, got {msg.object_id}"
            )
        return RemoveObject(msg.stream, stamp_ns, msg.object_id)
    if msg.action != Prompt.ACTION_ADD_OR_REFINE:
        raise ConversionError("prompt_action", f"unknown prompt action {msg.action}")
    points = labels = box = None
    mask_msg = None
    if len(msg.points) != len(msg.labels):
        raise ConversionError("prompt_labels", f"{len(msg.points)} points but {len(msg.labels)} labels")
    if msg.points:
        points = np.array([[p.x, p.y] for p in msg.points], np.float64)
        labels = np.array(list(msg.labels), np.int64)
        if not np.isfinite(points).all():
            raise ConversionError("prompt_not_finite", "points contain NaN or infinity")
        if not np.isin(labels, (0, 1)).all():
            raise ConversionError("prompt_labels", "labels must be 0 (background) or 1 (foreground)")
    if msg.has_box:
        box = np.array(list(msg.box), np.float64)
        if not np.isfinite(box).all():
            raise ConversionError("prompt_not_finite", "box contains NaN or infinity")
        if not (box[0] < box[2] and box[1] < box[3]):
            raise ConversionError("prompt_box", "box must have x0 < x1 and y0 < y1")
    if msg.mask.height or msg.mask.width or len(msg.mask.data):
        mask_msg = msg.mask
    if points is None and box is None and mask_msg is None:
        raise ConversionError("prompt_empty", "empty prompt: no points, no box, no mask")
    return AddPrompt(msg.stream, stamp_ns, msg.object_id, msg.label, points, labels, box, mask_msg)


def from_click(point: Point, stream: str) -> Click:
    """An rqt_image_view click (``geometry_msgs/Point``, pixels); whether it lies inside the image
    is checked when it is applied."""
    if not (math.isfinite(point.x) and math.isfinite(point.y)):
        raise ConversionError("click_not_finite", "click contains NaN or infinity")
    return Click(stream, float(point.x), float(point.y))


def from_detections(msg: Any, stream: str) -> tuple[Detections, tuple[ConversionError, ...]]:
    """A ``vision_msgs/Detection2DArray`` as a command, and the problems of the detections left out of it.

    A detection with a non-finite centre or size, or a size that is not positive, is left out
    (its problem is returned); the others are kept. Label and score come from ``results[0]``
    (no results: no label, score 1). Boxes are checked against the image when applied.
    """
    kept: list[Detection] = []
    problems: list[ConversionError] = []
    for index, det in enumerate(msg.detections):
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        w, h = det.bbox.size_x, det.bbox.size_y
        if not all(math.isfinite(v) for v in (cx, cy, w, h)):
            problems.append(ConversionError("detection_not_finite", f"detection {index}: box has NaN or infinity"))
            continue
        if w <= 0 or h <= 0:
            problems.append(ConversionError("detection_size", f"detection {index}: box size {w} x {h} is not positive"))
            continue
        label, score = "", 1.0
        if det.results:
            label, score = det.results[0].hypothesis.class_id, float(det.results[0].hypothesis.score)
            if not math.isfinite(score):
                problems.append(ConversionError("detection_not_finite", f"detection {index}: score is {score}"))
                continue
        kept.append(Detection((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), label, score))
    return Detections(stream, stamp_to_ns(msg.header.stamp), tuple(kept)), tuple(problems)


# ---------------------------------------------------------------------- the input table
Converted = tuple[Command, tuple[ConversionError, ...]]  # a command and the problems of what was left out of it


@dataclass(frozen=True)
class Input:
    """One command input of the node.

    ``kind``: what log lines call it; ``msg_type``: its interface (``pkg/msg/Type``);
    ``convert(msg, stream)``: the command (raises `ConversionError` to drop the whole message);
    ``topics(image_topic, relative)``: a stream's topics for it, from its image topic and
    ``relative(kind)`` (the stream's topic of that kind); None: one node-wide topic named ``kind``,
    each message naming its stream; ``enabled_by``: the bool parameter that turns it on (""
    always on); ``needs_vision``: it needs vision_msgs; ``depth``, ``reliable``: its QoS.
    """

    kind: str
    msg_type: str
    convert: Callable[[Any, str], Converted]
    topics: Callable[[str, Callable[[str], str]], tuple[str, ...]] | None = None
    enabled_by: str = ""
    needs_vision: bool = False
    depth: int = 10
    reliable: bool = True

    def message_class(self) -> type:
        """The message class (its package must be importable)."""
        return get_message(self.msg_type)


INPUTS: tuple[Input, ...] = (
    Input("prompt", "sam2_ros/msg/Prompt", lambda msg, _stream: (from_prompt(msg), ()), depth=50),
    Input(
        "detections",
        "vision_msgs/msg/Detection2DArray",
        from_detections,
        topics=lambda _image, relative: (relative("detections"),),
        enabled_by="detection_prompts",
        needs_vision=True,
        reliable=False,  # best effort matches reliable and best-effort detectors
    ),
    Input(
        "click",
        "geometry_msgs/msg/Point",
        lambda msg, stream: (from_click(msg, stream), ()),
        # rqt_image_view's clicks on the camera image, or on the overlay (the masks in view)
        topics=lambda image, relative: (f"{image}_mouse_left", f"{relative('overlay')}_mouse_left"),
        enabled_by="click_prompts",
    ),
)
