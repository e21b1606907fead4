"""The 3D outputs of a frame: RViz markers and the objects' point cloud.

Markers per object: a box (namespace ``sam2_ros/boxes``) and a text with its id and label
(``sam2_ros/labels``), marker id = object id, coloured as in the overlay; objects that were shown
and are no longer (left, lost their 3D, removed) get DELETE markers. The cloud is x, y, z
(float32, metres) and object_id (uint32), subsampled to ``max_points``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import ColorRGBA, Header

from sam2_ros.engine.drawing import colour
from sam2_ros.node.depth import Object3D

BOXES, LABELS = "sam2_ros/boxes", "sam2_ros/labels"
TEXT_HEIGHT = 0.08  # metres


def markers_msg(header: Header, located: Mapping[int, Object3D], names: Mapping[int, str], gone: Iterable[int]) -> Any:
    """A MarkerArray: box and label per located object, DELETE markers for the ids in ``gone``."""
    from visualization_msgs.msg import Marker, MarkerArray

    out = MarkerArray()
    for obj_id in sorted(gone):
        for ns in (BOXES, LABELS):
            out.markers.append(Marker(header=header, ns=ns, id=obj_id, action=Marker.DELETE))
    for obj_id, obj in sorted(located.items()):
        r, g, b = (float(c) / 255.0 for c in colour(obj_id))
        box = Marker(header=header, ns=BOXES, id=obj_id, type=Marker.CUBE, action=Marker.ADD)
        box.pose.position = Point(x=obj.center[0], y=obj.center[1], z=obj.center[2])
        box.pose.orientation.w = 1.0
        box.scale = Vector3(x=max(obj.size[0], 0.01), y=max(obj.size[1], 0.01), z=max(obj.size[2], 0.01))
        box.color = ColorRGBA(r=r, g=g, b=b, a=0.4)
        text = Marker(header=header, ns=LABELS, id=obj_id, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD)
        top = obj.center[1] - obj.size[1] / 2 - TEXT_HEIGHT  # optical frame: y points down
        text.pose.position = Point(x=obj.center[0], y=top, z=obj.center[2])
        text.pose.orientation.w = 1.0
        text.scale.z = TEXT_HEIGHT
        text.color = ColorRGBA(r=r, g=g, b=b, a=1.0)
        text.text = f"{obj_id} {names.get(obj_id, '')}".strip()
        out.markers += [box, text]
    return out


CLOUD_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("object_id", "<u4")])


def cloud_msg(header: Header, located: Mapping[int, Object3D], max_points: int) -> PointCloud2:
    """The located objects' points as one PointCloud2, at most ``max_points`` (evenly subsampled)."""
    total = sum(len(obj.points) for obj in located.values())
    keep = 1.0 if total <= max_points else max_points / total
    parts = []
    for obj_id, obj in sorted(located.items()):
        n = int(len(obj.points) * keep)
        chosen = obj.points[np.linspace(0, len(obj.points) - 1, n).astype(int)] if n else obj.points[:0]
        part = np.empty(len(chosen), CLOUD_DTYPE)
        part["x"], part["y"], part["z"], part["object_id"] = chosen[:, 0], chosen[:, 1], chosen[:, 2], obj_id
        parts.append(part)
    points = np.concatenate(parts) if parts else np.empty(0, CLOUD_DTYPE)
    fields = [
        PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name="y", offset=4, datatype=PointField.FLOAT32, count=1),
        PointField(name="z", offset=8, datatype=PointField.FLOAT32, count=1),
        PointField(name="object_id", offset=12, datatype=PointField.UINT32, count=1),
    ]
    msg = PointCloud2(header=header, height=1, width=len(points), fields=fields, is_bigendian=False)
    msg.point_step, msg.row_step, msg.is_dense = CLOUD_DTYPE.itemsize, CLOUD_DTYPE.itemsize * len(points), True
    msg.data = points.tobytes()
    return msg
