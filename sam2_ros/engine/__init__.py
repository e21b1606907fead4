"""The ROS-free SAM 2 streaming engine (numpy + a backend; no torch, no rclpy).

Rooms: ``tracker`` (state and public API), ``propagation`` (SAM 2's per-object steps),
``runner`` (the exported components, one call per stage), ``memory`` (what is kept and
selected), ``prompts`` (input checks), ``results`` (what a frame returns), ``backends``.
"""

from sam2_ros.engine.errors import (
    BackendError,
    ExportError,
    InvalidInputError,
    ModelDirError,
    Sam2RosError,
)
from sam2_ros.engine.results import FrameResult, ObjectResult
from sam2_ros.engine.state import ObjectSnapshot
from sam2_ros.engine.tracker import Sam2Tracker

__all__ = [
    "BackendError",
    "ExportError",
    "FrameResult",
    "InvalidInputError",
    "ModelDirError",
    "ObjectSnapshot",
    "ObjectResult",
    "Sam2RosError",
    "Sam2Tracker",
]
