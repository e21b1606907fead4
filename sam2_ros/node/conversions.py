"""ROS messages <-> numpy, and ROS time stamps <-> integer nanoseconds (the key the node gives
the engine for a frame), for the node. No engine logic here.

Images go through the cv_bridge API (the ROS 2 cv_bridge on a ROS install; the pure-Python
``cv-bridge`` package in the pip-only environment, which ignores row padding, so padded rows
are compacted first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest
from std_msgs.msg import Header

from sam2_ros.engine import FrameResult
from sam2_ros.msg import TrackedObject, TrackedObjectArray
from sam2_ros.node.book import ObjectBook
from sam2_ros.node.depth import Object3D

SUPPORTED_ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
ImageMsg: TypeAlias = Image | CompressedImage  # a camera image, raw or compressed
MIN_IMAGE_SIDE = 2  # the engine's check_image (engine/prompts.py) needs at least 2x2 pixels
NS_PER_S = 1_000_000_000
CLIP_CHARS = 80  # user-supplied strings quoted in a warning are cut to this length


class ConversionError(ValueError):
    """A message cannot be converted; the message says why, ``kind`` names the problem.

    ``kind`` is a fixed word per check (``image_size``, ``prompt_labels``, ...): the node throttles
    its warnings per kind, never per text.
    """

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` (or anything with ``sec`` and ``nanosec``) as nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    """Nanoseconds as ``builtin_interfaces/Time``."""
    return Time(sec=int(ns // NS_PER_S), nanosec=int(ns % NS_PER_S))


def seconds_to_duration(seconds: float) -> Duration:
    """Seconds (>= 0) as ``builtin_interfaces/Duration``."""
    ns = max(0, round(seconds * NS_PER_S))
    return Duration(sec=int(ns // NS_PER_S), nanosec=int(ns % NS_PER_S))


def clip_text(text: str, limit: int = CLIP_CHARS) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut (user strings in log lines)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def quoted(text: str) -> str:
    """A user-supplied string for a log line: clipped, then quoted like ``repr``."""
    return repr(clip_text(text))


def _bridge() -> Any:  # cv_bridge.CvBridge (untyped)
    from cv_bridge import CvBridge

    return CvBridge()


_BRIDGE = None


def bridge() -> Any:
    """One shared CvBridge."""
    global _BRIDGE
    if _BRIDGE is None:
        _BRIDGE = _bridge()
    return _BRIDGE


def check_image_layout(msg: Image, channels: int, max_pixels: int) -> None:
    """Size, step and data length of a raw image must agree; the image must be at least 2x2."""
    if msg.height == 0 or msg.width == 0:
        raise ConversionError("image_size", f"empty image ({msg.width}x{msg.height})")
    if msg.height < MIN_IMAGE_SIDE or msg.width < MIN_IMAGE_SIDE:
        raise ConversionError(
            "image_size",
            f"image {msg.width}x{msg.height} is too small: the model needs at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}",
        )
    if msg.width * msg.height > max_pixels:
        raise ConversionError("image_size", f"image {msg.width}x{msg.height} exceeds max_image_pixels ({max_pixels})")
    row = msg.width * channels
    if msg.step < row:
        raise ConversionError("image_layout", f"step {msg.step} is smaller than width x channels ({row})")
    if len(msg.data) != msg.step * msg.height:
        raise ConversionError("image_layout", f"data length {len(msg.data)} != step x height ({msg.step * msg.height})")


def check_image_msg(msg: ImageMsg, max_pixels: int) -> None:
    """The checks that need no decoding, made as an image arrives (before it is queued).

    A raw image: encoding, size (at least 2x2, at most ``max_pixels``), step and data length. A
    compressed image: not empty (its size is known only once decoded, by `compressed_to_rgb`).
    """
    if isinstance(msg, CompressedImage):
        if len(msg.data) == 0:
            raise ConversionError("image_size", "empty compressed image")
        return
    channels = SUPPORTED_ENCODINGS.get(msg.encoding)
    if channels is None:
        raise ConversionError(
            "image_encoding",
            f"unsupported encoding {quoted(msg.encoding)}; use one of {sorted(SUPPORTED_ENCODINGS)}",
        )
    check_image_layout(msg, channels, max_pixels)


def _compact(msg: Image, channels: int) -> Image:
    row = msg.width * channels
    if msg.step == row:
        return msg
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, :row]
    out = Image(header=msg.header, height=msg.height, width=msg.width, encoding=msg.encoding)
    out.is_bigendian, out.step = msg.is_bigendian, row
    out.data = np.ascontiguousarray(rows).tobytes()
    return out


def image_to_rgb(msg: Image, max_pixels: int) -> np.ndarray:
    """A raw image message as HxWx3 uint8 RGB."""
    check_image_msg(msg, max_pixels)
    channels = SUPPORTED_ENCODINGS[msg.encoding]
    try:
        rgb = bridge().imgmsg_to_cv2(_compact(msg, channels), desired_encoding="rgb8")
    except Exception as exc:
        raise ConversionError("image_decode", f"cv_bridge could not convert the image: {clip_text(str(exc))}") from exc
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def compressed_to_rgb(msg: CompressedImage, max_pixels: int) -> np.ndarray:
    """A compressed (JPEG/PNG) image message as HxWx3 uint8 RGB."""
    check_image_msg(msg, max_pixels)
    try:
        rgb = bridge().compressed_imgmsg_to_cv2(msg, desired_encoding="rgb8")
    except Exception as exc:
        raise ConversionError(
            "image_decode", f"cannot decode compressed image ({quoted(msg.format)}): {clip_text(str(exc))}"
        ) from exc
    if rgb is None or rgb.ndim != 3:
        raise ConversionError("image_decode", f"cannot decode compressed image ({quoted(msg.format)})")
    height, width = rgb.shape[:2]
    if height < MIN_IMAGE_SIDE or width < MIN_IMAGE_SIDE:
        raise ConversionError(
            "image_size",
            f"image {width}x{height} is too small: the model needs at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}",
        )
    if height * width > max_pixels:
        raise ConversionError("image_size", f"image {width}x{height} exceeds max_image_pixels ({max_pixels})")
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def to_rgb(msg: ImageMsg, max_pixels: int) -> np.ndarray:
    """A raw or compressed image message as HxWx3 uint8 RGB."""
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg, max_pixels)
    return image_to_rgb(msg, max_pixels)


def mask_prompt_to_array(msg: Image, height: int, width: int) -> np.ndarray:
    """A mono8 mask prompt as an HxW bool array of the image's size."""
    if msg.encoding != "mono8":
        raise ConversionError("prompt_mask", f"mask prompt must be mono8, got {quoted(msg.encoding)}")
    if (msg.height, msg.width) != (height, width):
        raise ConversionError("prompt_mask", f"mask prompt is {msg.width}x{msg.height}, the image is {width}x{height}")
    try:
        check_image_layout(msg, 1, height * width)
    except ConversionError as exc:
        raise ConversionError("prompt_mask", f"mask prompt: {exc}") from exc
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, :width]
    return rows > 0


def mono8_msg(array: np.ndarray, header: Header) -> Image:
    """An HxW uint8 array as a mono8 Image with ``header``."""
    msg = Image(header=header, height=array.shape[0], width=array.shape[1], encoding="mono8")
    msg.is_bigendian, msg.step = 0, array.shape[1]
    msg.data = np.ascontiguousarray(array, np.uint8).tobytes()
    return msg


def rgb8_msg(array: np.ndarray, header: Header) -> Image:
    """An HxWx3 uint8 array as an rgb8 Image with ``header``."""
    msg = Image(header=header, height=array.shape[0], width=array.shape[1], encoding="rgb8")
    msg.is_bigendian, msg.step = 0, array.shape[1] * 3
    msg.data = np.ascontiguousarray(array, np.uint8).tobytes()
    return msg


def tracked_objects_msg(
    result: FrameResult,
    header: Header,
    stream: str,
    objects: ObjectBook,
    latency_s: float,
    located: Mapping[int, Object3D] | None = None,
    position_frame_id: str = "",
) -> TrackedObjectArray:
    """The frame's TrackedObjectArray; labels, frames tracked and last seen come from ``objects``,
    3D positions from ``located`` (object id -> Object3D, in ``position_frame_id``)."""
    msg = TrackedObjectArray(header=header, stream=stream, height=result.image_size[0], width=result.image_size[1])
    msg.position_frame_id = position_frame_id
    located = located or {}
    for obj_id, obj in result.objects.items():
        record = objects.get(obj_id)
        item = TrackedObject(object_id=obj_id, label=record.label, visible=bool(obj.visible))
        item.presence_probability = float(obj.presence_probability)
        item.predicted_iou = float(obj.predicted_iou)
        centroid = obj.centroid
        if obj.bbox and obj.visible and centroid is not None:
            x0, y0, x1, y1 = obj.bbox
            item.bbox = RegionOfInterest(x_offset=x0, y_offset=y0, width=x1 - x0, height=y1 - y0)
            item.centroid = Point(x=float(centroid[0]), y=float(centroid[1]), z=0.0)
            item.area = int(obj.area)
        if obj_id in located:
            place = located[obj_id]
            item.has_position, item.depth_pixels = True, place.depth_pixels
            item.position = Point(x=place.position[0], y=place.position[1], z=place.position[2])
            item.size = Vector3(x=place.size[0], y=place.size[1], z=place.size[2])
        item.frames_tracked = record.frames_tracked
        item.last_seen = ns_to_stamp(record.last_seen_ns) if record.last_seen_ns is not None else Time()
        msg.objects.append(item)
    msg.inference_latency = seconds_to_duration(latency_s)
    return msg
