"""Objects in 3D without DDS: depth decoding, intrinsics, one object's position and extent
(node/depth.py), pairing (node/depth_io.py), markers and the point cloud (node/scene.py), and the
synthetic clip's depth. The node over DDS: test_depth_node.py."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.node.depth import (
    MIN_DEPTH_PIXELS,
    DepthError,
    Intrinsics,
    depth_in_metres,
    intrinsics_for,
    intrinsics_from_k,
    locate,
)
from sam2_ros.node.depth_io import DepthInbox, camera_info_topic, decode_depth, frame_depth
from sam2_ros.node.scene import cloud_msg, markers_msg

K = Intrinsics(fx=200.0, fy=200.0, cx=79.5, cy=59.5, width=160, height=120)


def flat_scene(z_object=1.5, z_wall=3.0):
    """A 160x120 depth image: a wall, and a 40x30 rectangle at ``z_object`` (its mask returned too)."""
    depth = np.full((120, 160), z_wall, np.float32)
    mask = np.zeros((120, 160), bool)
    mask[40:70, 90:130] = True
    depth[mask] = z_object
    return depth, mask


def test_depth_units_and_invalid_pixels():
    raw = np.array([[1500, 0], [65535, 250]], np.uint16)
    metres = depth_in_metres(raw, "16UC1")
    assert metres[0, 0] == pytest.approx(1.5) and np.isnan(metres[0, 1]) and metres[1, 1] == pytest.approx(0.25)
    assert depth_in_metres(raw, "16UC1", unit_scale=0.0001)[0, 0] == pytest.approx(0.15)  # a 0.1 mm camera
    floats = np.array([[2.0, np.nan], [np.inf, -1.0]], np.float32)
    out = depth_in_metres(floats, "32FC1")
    assert out[0, 0] == 2.0 and np.isnan(out[0, 1]) and np.isnan(out[1, 0]) and np.isnan(out[1, 1])
    with pytest.raises(DepthError, match="unsupported depth encoding") as err:
        depth_in_metres(raw, "8UC1")
    assert err.value.kind == "depth_encoding"


def test_intrinsics_checks_and_scaling():
    info = intrinsics_from_k([400.0, 0, 319.5, 0, 400.0, 239.5, 0, 0, 1], 640, 480)
    half = intrinsics_for(info, 320, 240)
    assert (half.fx, half.fy, half.cx, half.cy) == (200.0, 200.0, 159.5, 119.5)
    assert intrinsics_for(info, 640, 480) is info
    with pytest.raises(DepthError, match="another aspect ratio") as err:
        intrinsics_for(info, 640, 360)
    assert err.value.kind == "depth_size"
    with pytest.raises(DepthError, match="focal lengths") as err:
        intrinsics_from_k([0.0, 0, 319.5, 0, 400.0, 239.5, 0, 0, 1], 640, 480)
    assert err.value.kind == "camera_info_focal"


def test_a_flat_object_is_located_exactly():
    depth, mask = flat_scene()
    place = locate(mask, depth, K, erode_px=3)
    vs, us = np.nonzero(mask)
    want = ((us.mean() - K.cx) * 1.5 / K.fx, (vs.mean() - K.cy) * 1.5 / K.fy, 1.5)
    assert place.position == pytest.approx(want, abs=1e-6)
    assert place.size[2] == pytest.approx(0.0, abs=1e-6)  # flat: no depth extent
    assert place.size[0] == pytest.approx((40 - 1 - 6) * 1.5 / K.fx, rel=1e-6)  # eroded by 3 px on each side
    assert place.depth_pixels == (30 - 6) * (40 - 6)


def test_edges_and_leaks_onto_the_background_do_not_move_the_position():
    depth, mask = flat_scene()
    exact = locate(mask, depth, K).position
    grown = np.zeros_like(mask)
    grown[38:72, 88:132] = True  # 2 px onto the wall all round: erosion removes them
    assert locate(grown, depth, K).position == pytest.approx(exact, abs=1e-6)
    leak = mask.copy()
    leak[40:70, 130:150] = True  # a third of the mask bleeds onto the wall on the right
    # the wall's pixels are left out (the centroid takes depths near the median); what remains is
    # the object's own right edge, no longer eroded: 1.5 px = 1.1 cm at 1.5 m with this 200 px focal length
    assert locate(leak, depth, K).position == pytest.approx(exact, abs=0.012)


def test_invalid_depth_inside_the_mask():
    depth, mask = flat_scene()
    depth[45:60, 95:120] = np.nan  # a hole (a dark or shiny patch)
    assert locate(mask, depth, K).position[2] == pytest.approx(1.5)
    depth[mask] = np.nan
    assert locate(mask, depth, K) is None  # nothing valid: no 3D
    depth, mask = flat_scene()
    tiny = np.zeros_like(mask)
    tiny[50:52, 100:102] = True
    assert tiny.sum() < MIN_DEPTH_PIXELS and locate(tiny, depth, K) is None


def test_a_mask_of_the_colour_size_on_a_smaller_depth_image():
    depth, mask = flat_scene()
    big_mask = np.kron(mask, np.ones((2, 2), bool))  # a 320x240 colour image's mask
    assert locate(big_mask, depth, K).position == pytest.approx(locate(mask, depth, K).position, abs=1e-6)


def depth_msg(metres: np.ndarray, stamp_sec: int, encoding="16UC1", bigendian=False, pad=0, frame_id="depth_optical"):
    values = np.round(metres * 1000).astype(np.uint16) if encoding == "16UC1" else metres.astype(np.float32)
    values = values.astype(values.dtype.newbyteorder(">" if bigendian else "<"))
    rows = values.view(np.uint8).reshape(values.shape[0], -1)
    rows = np.pad(rows, ((0, 0), (0, pad)))
    msg = Image(height=metres.shape[0], width=metres.shape[1], encoding=encoding, is_bigendian=int(bigendian))
    msg.step, msg.data = rows.shape[1], rows.tobytes()
    msg.header.stamp.sec, msg.header.frame_id = stamp_sec, frame_id
    return msg


def info_msg(k: Intrinsics) -> CameraInfo:
    return CameraInfo(width=k.width, height=k.height, k=[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0])


def test_decode_depth_messages():
    depth, _ = flat_scene()
    for encoding, bigendian, pad in (("16UC1", False, 0), ("16UC1", True, 6), ("32FC1", False, 4), ("32FC1", True, 0)):
        out = decode_depth(depth_msg(depth, 1, encoding, bigendian, pad))
        assert out.shape == (120, 160) and np.allclose(out * (0.001 if encoding == "16UC1" else 1), depth)
    bad = depth_msg(depth, 1)
    bad.data = bad.data[:-2]
    with pytest.raises(DepthError, match="disagree"):
        decode_depth(bad)
    got = frame_depth(depth_msg(depth, 1), info_msg(K), 0.0)
    assert got.frame_id == "depth_optical" and got.intrinsics == K and np.allclose(got.metres, depth)
    with pytest.raises(DepthError, match="no CameraInfo"):
        frame_depth(depth_msg(depth, 1), None, 0.0)


def test_pairing_takes_the_nearest_depth_within_max_dt():
    inbox = DepthInbox(keep=4)
    depth, _ = flat_scene()
    for ms in (0, 33, 66, 100, 133):
        msg = depth_msg(depth, 0)
        msg.header.stamp.nanosec = ms * 1_000_000
        inbox.put_depth(msg)
    inbox.put_info(info_msg(K))
    assert inbox.received == 5
    msg, info = inbox.pair(90_000_000, 50_000_000)
    assert msg.header.stamp.nanosec == 100_000_000 and info.width == 160
    assert inbox.pair(0, 20_000_000) is None  # the 0 ms image fell out of the short buffer (4 kept)
    assert inbox.pair(300_000_000, 50_000_000) is None


def test_camera_info_next_to_the_depth_topic():
    assert camera_info_topic("/camera/aligned_depth_to_color/image_raw") == "/camera/aligned_depth_to_color/camera_info"
    assert camera_info_topic("depth/image_rect") == "depth/camera_info"
    assert camera_info_topic("depth") == "camera_info"


def test_markers_and_cloud():
    depth, mask = flat_scene()
    place = locate(mask, depth, K)
    header = Header(frame_id="depth_optical")
    out = markers_msg(header, {3: place}, {3: "cup"}, gone=[5])
    deletes = [(m.ns, m.id) for m in out.markers if m.action == m.DELETE]
    assert deletes == [("sam2_ros/boxes", 5), ("sam2_ros/labels", 5)]
    box, text = (m for m in out.markers if m.action == m.ADD)
    assert (box.type, box.id, box.header.frame_id) == (box.CUBE, 3, "depth_optical")
    assert (box.pose.position.x, box.pose.position.y, box.pose.position.z) == pytest.approx(place.center)
    assert text.text == "3 cup" and text.type == text.TEXT_VIEW_FACING
    cloud = cloud_msg(header, {3: place, 4: place}, max_points=100)
    assert 90 <= cloud.width <= 100 and cloud.point_step == 16 and len(cloud.data) == cloud.width * 16
    points = np.frombuffer(bytes(cloud.data), np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("id", "<u4")]))
    assert set(points["id"]) == {3, 4} and np.allclose(points["z"], 1.5)


def test_synthetic_depth_matches_the_masks_and_ground_truth():
    clip = generate_clip(12, num_frames=3, height=120, width=160, num_objects=2, occlusion=False, depth=True)
    plain = generate_clip(12, num_frames=3, height=120, width=160, num_objects=2, occlusion=False)
    assert np.array_equal(clip.frames, plain.frames)  # depth=True changes nothing else
    for obj_id, z in clip.object_depth.items():
        assert 1.0 <= z <= 3.0 and np.allclose(clip.depth[1][clip.masks[obj_id][1]], z)
    assert (clip.depth[0] > 3.0).sum() > 0.5 * clip.depth[0].size  # the wall behind
    fx, fy, cx, cy = clip.intrinsics
    place = locate(clip.masks[1][1], clip.depth[1], Intrinsics(fx, fy, cx, cy, 160, 120), erode_px=0)
    assert place.position == pytest.approx(clip.position(1, 1), abs=1e-4)
