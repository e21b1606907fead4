"""The image-plane outputs of one frame: mask, tracked objects, tracked detections, label map and
overlay, each built from a `FrameOutputs` (outputs.py, the table that names them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sensor_msgs.msg import Image

from sam2_ros.engine.drawing import draw_overlay
from sam2_ros.msg import TrackedObjectArray
from sam2_ros.node import conversions, vision

if TYPE_CHECKING:
    from sam2_ros.node.outputs import FrameOutputs


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
    return vision.tracked_detections_msg(frame.vision, frame.result, frame.header, frame.book.labels())


def label_info(frame: FrameOutputs) -> Any | None:
    """``vision_msgs/LabelInfo``, only when the objects or their labels changed (else None)."""
    assert frame.vision is not None
    mapping = vision.label_map(list(frame.result.objects), frame.book.labels())
    if not frame.book.label_map_changed(mapping):
        return None
    return vision.label_info_msg(frame.vision, mapping, frame.header)


def overlay(frame: FrameOutputs) -> Image | None:
    """The coloured masks, boxes, ids and labels drawn on the image (None: ``publish_overlay`` off)."""
    if not frame.params.publish_overlay:
        return None
    return conversions.rgb8_msg(draw_overlay(frame.rgb, frame.result, frame.book.labels()), frame.header)
