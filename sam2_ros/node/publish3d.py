"""The 3D outputs of one frame: the objects located from the depth image paired with it, RViz
markers (with deletions), 3D detections (vision_msgs) and the objects' point cloud, each built from a
`FrameOutputs` (outputs.py, the table that names them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from sam2_ros.engine import FrameResult
from sam2_ros.node.book import StreamCounters, class_name
from sam2_ros.node.conversions import NS_PER_S
from sam2_ros.node.depth import MIN_DEPTH_PIXELS, DepthError, Object3D, locate
from sam2_ros.node.depth_io import DepthInbox, frame_depth
from sam2_ros.node.params import RuntimeParams
from sam2_ros.node.scene import cloud_msg, markers_msg

if TYPE_CHECKING:
    from sam2_ros.node.outputs import FrameOutputs


@dataclass(frozen=True)
class Located:
    """The frame's visible objects in 3D (object id -> Object3D) and the depth image's frame id."""

    objects: dict[int, Object3D]
    frame_id: str


def locate_objects(
    depth: DepthInbox,
    stamp_ns: int,
    result: FrameResult,
    params: RuntimeParams,
    counters: StreamCounters,
    warn: Callable[[str, str], None],
) -> Located | None:
    """The visible objects in 3D (depth.py) from the depth image paired with the frame stamped
    ``stamp_ns``; None when no depth image pairs with it or it cannot be used (counted)."""
    pair = depth.pair(stamp_ns, int(params.depth_max_dt * NS_PER_S))
    if pair is None:
        counters.frames_without_depth += 1
        return None
    try:
        metric = frame_depth(pair[0], pair[1], params.depth_unit_scale)
    except DepthError as exc:
        counters.frames_without_depth += 1
        warn(exc.kind, f"no 3D for this frame: {exc}")
        return None
    located = {}
    for obj_id, obj in result.objects.items():
        if not obj.visible:
            continue
        place = locate(obj.mask, metric.metres, metric.intrinsics, params.depth_erode_px)
        if place is None:
            warn(
                "depth_invalid",
                f"object {obj_id}: fewer than {MIN_DEPTH_PIXELS} valid depths (zeros, NaN) "
                "inside its mask: no 3D for it on this frame",
            )
            continue
        located[obj_id] = place
    counters.frames_with_depth += 1
    return Located(located, metric.frame_id)


def _header(frame: FrameOutputs) -> Header:
    """The 3D outputs' header: the colour frame's stamp, the depth image's frame."""
    assert frame.located is not None
    return Header(stamp=frame.header.stamp, frame_id=frame.located.frame_id)


def markers(frame: FrameOutputs) -> Any:
    """``visualization_msgs/MarkerArray``: box and label per located object, DELETE for those gone."""
    assert frame.located is not None
    located = frame.located.objects
    labels = frame.book.labels()
    names = {obj_id: labels.get(obj_id, "") for obj_id in located}
    return markers_msg(_header(frame), located, names, gone=frame.book.show(located))


def tracked_detections_3d(frame: FrameOutputs) -> Any:
    """``vision_msgs/Detection3DArray`` of the located objects."""
    assert frame.located is not None and frame.vision is not None
    located = frame.located.objects
    presence = {obj_id: frame.result.objects[obj_id].presence_probability for obj_id in located}
    return tracked_detections_3d_msg(frame.vision, _header(frame), located, frame.book.labels(), presence)


def object_points(frame: FrameOutputs) -> PointCloud2:
    """The located objects' points as one cloud, at most ``max_cloud_points``."""
    assert frame.located is not None
    return cloud_msg(_header(frame), frame.located.objects, frame.params.max_cloud_points)


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
