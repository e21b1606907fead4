"""Depth messages for the node: a stream's recent depth images and camera info (filled by the
subscription callbacks, read by the worker) and their conversion for depth.py.

Pairing: a colour frame takes the depth image whose stamp is nearest to its own, within
``depth_max_dt``; none within it, no 3D for that frame (counted). The buffer is short and the
worker never waits for depth, so the colour path is never held up.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from sam2_ros.node.book import StreamCounters
from sam2_ros.node.conversions import stamp_to_ns
from sam2_ros.node.depth import (
    DEPTH_ENCODINGS,
    DepthError,
    Intrinsics,
    depth_in_metres,
    intrinsics_for,
    intrinsics_from_k,
)

DEPTH_KEEP = 16  # depth images kept per stream for pairing


def camera_info_topic(depth_topic: str) -> str:
    """The CameraInfo topic next to ``depth_topic``, as camera drivers and image_transport name it:
    ``/camera/aligned_depth_to_color/image_raw`` -> ``/camera/aligned_depth_to_color/camera_info``."""
    head, _, _ = depth_topic.rstrip("/").rpartition("/")
    return f"{head}/camera_info" if head else "camera_info"


@dataclass(frozen=True)
class FrameDepth:
    """A depth image paired with a colour frame: metres (NaN = invalid), its intrinsics and frame id."""

    metres: np.ndarray
    intrinsics: Intrinsics
    frame_id: str


class DepthInbox:
    """The recent depth images and the newest CameraInfo of one stream. Thread-safe.

    Depth images received are counted in ``counters`` (the stream's record; default: its own).
    """

    def __init__(self, keep: int = DEPTH_KEEP, counters: StreamCounters | None = None) -> None:
        self._lock = threading.Lock()
        self._depth: deque[tuple[int, Image]] = deque(maxlen=keep)
        self._info: CameraInfo | None = None
        self.counters = counters if counters is not None else StreamCounters()

    @property
    def received(self) -> int:
        """Depth images received."""
        return self.counters.depth_received

    def put_depth(self, msg: Image) -> None:
        with self._lock:
            self._depth.append((stamp_to_ns(msg.header.stamp), msg))
            self.counters.depth_received += 1

    def put_info(self, msg: CameraInfo) -> None:
        with self._lock:
            self._info = msg

    def pair(self, stamp_ns: int, max_dt_ns: int) -> tuple[Image, CameraInfo | None] | None:
        """(depth message, newest camera info or None) nearest to ``stamp_ns`` within ``max_dt_ns``."""
        with self._lock:
            best = min(self._depth, key=lambda item: abs(item[0] - stamp_ns), default=None)
            info = self._info
        if best is None or abs(best[0] - stamp_ns) > max_dt_ns:
            return None
        return best[1], info


def decode_depth(msg: Image) -> np.ndarray:
    """A 16UC1 / 32FC1 depth Image's pixels (HxW uint16 or float32, native byte order)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise DepthError(
            "depth_encoding", f"unsupported depth encoding {msg.encoding!r}: use 16UC1 (millimetres) or 32FC1 (metres)"
        )
    dtype = np.dtype(np.float32 if msg.encoding == "32FC1" else np.uint16).newbyteorder(
        ">" if msg.is_bigendian else "<"
    )
    row = msg.width * dtype.itemsize
    if msg.width < 1 or msg.height < 1 or msg.step < row or len(msg.data) != msg.step * msg.height:
        raise DepthError(
            "depth_layout", f"depth image {msg.width}x{msg.height}: step {msg.step} and {len(msg.data)} bytes disagree"
        )
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, :row]
    return np.ascontiguousarray(rows).view(dtype).reshape(msg.height, msg.width).astype(dtype.newbyteorder("="))


def frame_depth(depth_msg: Image, info_msg: CameraInfo | None, unit_scale: float) -> FrameDepth:
    """Depth in metres and the intrinsics for it, from a depth Image and its CameraInfo."""
    if info_msg is None:
        raise DepthError("camera_info_missing", "no CameraInfo received yet for the depth image")
    raw = decode_depth(depth_msg)
    info = intrinsics_from_k(info_msg.k, int(info_msg.width), int(info_msg.height))
    intrinsics = intrinsics_for(info, int(depth_msg.width), int(depth_msg.height))
    return FrameDepth(depth_in_metres(raw, depth_msg.encoding, unit_scale), intrinsics, depth_msg.header.frame_id)
