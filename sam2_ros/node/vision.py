"""vision_msgs for the node: tracked detections and the label map out (detections in: commands.py).

vision_msgs is optional: `available()` says whether it can be imported (a ROS install's
package, or the copy the pip-only set-up builds into the venv). Without it the node turns these
features off with one warning; nothing else of the node imports vision_msgs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from std_msgs.msg import Header

from sam2_ros.engine import FrameResult
from sam2_ros.node.depth import Object3D

PRESENCE_THRESHOLD = 0.5  # LabelInfo.threshold: presence probability above which an object is visible


def load() -> ModuleType | None:
    """``vision_msgs.msg``, or None when vision_msgs cannot be imported."""
    try:
        return importlib.import_module("vision_msgs.msg")
    except ImportError:
        return None


def class_name(obj_id: int, label: str) -> str:
    """An object's class name in the vision_msgs outputs: its label, else ``object_<id>``."""
    return label or f"object_{obj_id}"


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


def tracked_detections_3d_msg(
    vm: ModuleType,
    header: Header,
    located: Mapping[int, Object3D],
    labels: Mapping[int, str],
    presence: Mapping[int, float],
) -> Any:
    """``Detection3DArray`` (``header``: the depth image's frame, the colour image's stamp): one
    ``Detection3D`` per located object, box = its points' extent, id, class and presence as in 2D."""
    out = vm.Detection3DArray(header=header)
    for obj_id, obj in sorted(located.items()):
        det = vm.Detection3D(header=header, id=str(obj_id))
        det.bbox.center.position.x, det.bbox.center.position.y, det.bbox.center.position.z = obj.center
        det.bbox.center.orientation.w = 1.0
        det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = obj.size
        hypothesis = vm.ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = class_name(obj_id, labels.get(obj_id, ""))
        hypothesis.hypothesis.score = float(presence.get(obj_id, 0.0))
        hypothesis.pose.pose.position.x, hypothesis.pose.pose.position.y, hypothesis.pose.pose.position.z = obj.position
        hypothesis.pose.pose.orientation.w = 1.0
        det.results.append(hypothesis)
        out.detections.append(det)
    return out
