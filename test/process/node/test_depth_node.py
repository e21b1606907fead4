"""Objects in 3D through the node over DDS: a camera process's colour, aligned depth (16UC1, mm)
and CameraInfo in; positions in tracked_objects, tracked_detections_3d, markers and the point
cloud out; bad depth input warned about while the colour path goes on.

The clip is the synthetic generator's with depth (shapes flat at 1-3 m before a wall at ~3.5 m),
at 640x480, tracked by the shipped model from box prompts. Its ground truth in 3D is each
object's visible-mask centroid back-projected at its depth (SyntheticClip.position).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ros_harness import mask_array, running_node, wait_until

from sam2_ros.clips.synthetic import generate_clip

TIMEOUT = 60.0
POSITION_TOL_M = 0.02
# The 3D error is the mask's error: the test first checks the published masks match the ground
# truth this well (the shipped 128 px model on this clip; on clips it tracks worse, 3D is off
# by as much as its masks are).
MIN_MASK_IOU = 0.7
DEPTH_FRAME = "camera_depth_optical_frame"


def depth_msg(metres: np.ndarray, stamp_sec: int, encoding: str = "16UC1"):
    from sensor_msgs.msg import Image

    values = np.round(metres * 1000).astype("<u2") if encoding in ("16UC1", "8UC1") else metres.astype("<f4")
    if encoding == "8UC1":
        values = values.astype(np.uint8)
    msg = Image(height=metres.shape[0], width=metres.shape[1], encoding=encoding)
    msg.step = int(values.shape[1] * values.dtype.itemsize)
    msg.data = values.tobytes()
    msg.header.stamp.sec, msg.header.frame_id = stamp_sec, DEPTH_FRAME
    return msg


def info_msg(intrinsics, width: int, height: int, stamp_sec: int = 0):
    from sensor_msgs.msg import CameraInfo

    fx, fy, cx, cy = intrinsics
    msg = CameraInfo(width=width, height=height, k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0])
    msg.header.stamp.sec, msg.header.frame_id = stamp_sec, DEPTH_FRAME
    return msg


def frame(camera, clip, t: int, depth: Any = "clip", info: Any = None, prompts=()) -> Any:
    """The clip's colour frame ``t`` after its camera info and depth (default: the clip's; None:
    none), then its prompts; its tracked_objects."""
    height, width = clip.frames.shape[1:3]
    if isinstance(depth, str):
        depth = depth_msg(clip.depth[t], 0)
    info = info or info_msg(clip.intrinsics, width, height)
    return camera.frame(clip.frames[t], prompts, depth=depth, info=info)


@pytest.fixture(scope="module")
def clip():
    return generate_clip(12, num_frames=10, height=480, width=640, num_objects=3, occlusion=False, depth=True)


@pytest.fixture(scope="module")
def camera(shipped_dir, tmp_path_factory, client, clip):
    """The node and a depth camera around it: colour, depth and camera info per frame."""
    params = {"depth_topics": ["depth"], "depth_reliability": "reliable", "max_cloud_points": 2000}
    inputs = ("camera_info", "depth", "image", "prompt")
    outputs = ("tracked_objects", "mask", "markers", "tracked_detections_3d", "object_points")
    with running_node(
        client, tmp_path_factory.mktemp("depth"), shipped_dir, params, inputs=inputs, outputs=outputs,
        stamp=100, timeout=TIMEOUT,
    ) as camera:  # fmt: skip
        height, width = clip.frames.shape[1:3]
        info = info_msg(clip.intrinsics, width, height)
        camera.frame(clip.frames[0], depth=depth_msg(clip.depth[0], 0), info=info, resend=True)
        yield camera


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_objects_are_located_in_3d_within_2_cm(camera, clip):
    from sam2_ros.msg import Prompt
    from visualization_msgs.msg import Marker

    prompts = [{"object_id": i, "box": clip.box(i, 0), "label": clip.kinds[i]} for i in (1, 2, 3)]
    frame(camera, clip, 0, prompts=prompts)
    for t in range(1, 8):
        objs = frame(camera, clip, t)
        mask = mask_array(camera.output(objs.header.stamp.sec, "mask"))
        assert objs.position_frame_id == DEPTH_FRAME
        assert sorted(o.object_id for o in objs.objects) == [1, 2, 3], "the prompts did not all land"
        for obj in objs.objects:
            overlap = iou(mask == obj.object_id, clip.masks[obj.object_id][t])
            assert overlap >= MIN_MASK_IOU, f"frame {t}: object {obj.object_id}'s mask IoU {overlap:.2f}"
            assert obj.has_position and obj.depth_pixels > 100
            got = np.array([obj.position.x, obj.position.y, obj.position.z])
            error = float(np.linalg.norm(got - np.array(clip.position(obj.object_id, t))))
            assert error <= POSITION_TOL_M, f"frame {t}: object {obj.object_id} is {error * 100:.1f} cm off"
            assert 0.0 < obj.size.x < 1.5 and 0.0 < obj.size.y < 1.5 and obj.size.z < 0.05  # flat shapes
    stamp = objs.header.stamp.sec
    markers = camera.output(stamp, "markers")
    boxes = {m.id: m for m in markers.markers if m.ns == "sam2_ros/boxes" and m.action == Marker.ADD}
    texts = {m.id: m.text for m in markers.markers if m.ns == "sam2_ros/labels" and m.action == Marker.ADD}
    assert sorted(boxes) == [1, 2, 3] and texts == {i: f"{i} {clip.kinds[i]}" for i in (1, 2, 3)}
    assert all(m.header.frame_id == DEPTH_FRAME and m.header.stamp.sec == stamp for m in markers.markers)
    dets = camera.output(stamp, "tracked_detections_3d")
    by_id = {int(d.id): d for d in dets.detections}
    assert sorted(by_id) == [1, 2, 3]
    for obj in objs.objects:
        det = by_id[obj.object_id]
        assert det.results[0].hypothesis.class_id == clip.kinds[obj.object_id]
        assert det.results[0].pose.pose.position.z == pytest.approx(obj.position.z, abs=1e-6)
        assert (det.bbox.size.x, det.bbox.size.y) == pytest.approx((obj.size.x, obj.size.y), abs=1e-6)
        center = boxes[obj.object_id].pose.position
        assert (center.x, center.y, center.z) == pytest.approx(
            (det.bbox.center.position.x, det.bbox.center.position.y, det.bbox.center.position.z), abs=1e-6
        )
    cloud = camera.output(stamp, "object_points")
    points = np.frombuffer(bytes(cloud.data), np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("id", "<u4")]))
    assert 0 < cloud.width <= 2000 and set(points["id"]) == {1, 2, 3}
    # an object that leaves gets its markers deleted
    frame(camera, clip, 8, prompts=[{"object_id": 3, "action": Prompt.ACTION_REMOVE_OBJECT}])
    stamp = frame(camera, clip, 9).header.stamp.sec
    markers = camera.output(stamp, "markers")
    deleted = sorted((m.ns, m.id) for m in markers.markers if m.action == Marker.DELETE)
    assert deleted == [("sam2_ros/boxes", 3), ("sam2_ros/labels", 3)]


def test_bad_depth_input_is_warned_about_and_the_colour_path_goes_on(camera, clip):
    height, width = clip.frames.shape[1:3]
    start = wait_until(lambda: "frames_without_depth" in (d := camera.diagnostics()) and d, TIMEOUT, "diagnostics")
    cases = {
        "valid depths": {"depth": depth_msg(np.zeros((height, width), np.float32), 0)},  # all zeros
        "another aspect ratio": {"depth": depth_msg(clip.depth[1][:200, :320], 0)},
        "focal lengths": {"info": info_msg((0.0, 0.0, 319.5, 239.5), width, height)},
        "unsupported depth encoding": {"depth": depth_msg(clip.depth[1], 0, encoding="8UC1")},
        "no depth": {"depth": None},
    }
    for expected, inputs in cases.items():
        objs = frame(camera, clip, 1, **inputs)
        assert objs.objects and not any(o.has_position for o in objs.objects), expected
        if expected != "no depth":
            wait_until(lambda e=expected: e in camera.proc.log(), TIMEOUT, f"a warning with {expected!r}")
    assert any(o.has_position for o in frame(camera, clip, 2).objects)  # good input again: 3D again
    wanted = int(start["frames_without_depth"]) + 4
    counts = wait_until(
        lambda: (d := camera.diagnostics()) and int(d["frames_without_depth"]) >= wanted and d, TIMEOUT, "counts"
    )
    assert int(counts["depth_received"]) > int(start["depth_received"])
    assert camera.proc.alive()
