"""The recording the bag tests write: its topics, its messages (real rclpy messages, built here) and
``write_bag``, which writes it with rosbags' Writer as sqlite3 or MCAP, with or without metadata.yaml.

``read_bag`` and ``read_with_mcap_ros2`` read a recorded bag back from the definitions embedded in it
alone (rosbags' AnyReader on an empty typestore; Foxglove's mcap reader and mcap_ros2 decoder).

Shared by the player's bag tests (test/unit/tools/test_bags.py, test/process/tools/test_bags_process.py) and the
export's calibration on bags (test/unit/export/test_calibration.py); the ``bag_paths`` fixture (conftest.py)
writes every variant once per module; the recorder's tests (test/unit/tools/test_record.py,
test/process/tools/test_record_process.py) read their bags back."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2_ros.tools.bags import source as bags

T0 = 1_700_000_000_000_000_000  # bag time of the first image (ns)
PERIOD_NS = 250_000_000  # images 4 Hz as recorded
FRAMES = 5
H, W = 24, 32
IMAGE, PNG, JPEG = "/cam/image_raw", "/cam/png/compressed", "/cam/jpeg/compressed"
DEPTH, INFO, CHATTER = "/cam/depth", "/cam/camera_info", "/chatter"
TYPES = {
    IMAGE: bags.IMAGE,
    PNG: bags.COMPRESSED_IMAGE,
    JPEG: bags.COMPRESSED_IMAGE,
    DEPTH: bags.IMAGE,
    INFO: bags.CAMERA_INFO,
    CHATTER: "std_msgs/msg/String",
}


def rgb_frame(i: int) -> np.ndarray:
    """A smooth RGB frame (JPEG keeps it close), different for each ``i``."""
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([x * 4 + i * 10, y * 8 + 10, np.full_like(x, 200 - i * 30)], axis=2).astype(np.uint8)


def image(i: int):
    from sensor_msgs.msg import Image

    msg = Image(height=H, width=W, encoding="rgb8", step=W * 3)
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1000 + i, 7 * i  # not the bag time: must be kept
    msg.header.frame_id = "cam_optical"
    msg.data = rgb_frame(i).tobytes()
    return msg


def compressed(i: int, kind: str):
    from sensor_msgs.msg import CompressedImage

    bgr = np.ascontiguousarray(rgb_frame(i)[..., ::-1])
    ok, data = cv2.imencode(f".{kind}", bgr)
    assert ok
    msg = CompressedImage(format="rgb8; png compressed bgr8" if kind == "png" else "jpeg", data=data.tobytes())
    msg.header = image(i).header
    return msg


def depth_array(i: int) -> np.ndarray:
    return (np.arange(H * W, dtype=np.uint16).reshape(H, W) + 1000 * (i + 1)).astype(np.uint16)


def depth(i: int):
    from sensor_msgs.msg import Image

    msg = Image(height=H, width=W, encoding="16UC1", step=W * 2)
    msg.header = image(i).header
    msg.data = depth_array(i).tobytes()
    return msg


def camera_info(i: int):
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo(height=H, width=W, distortion_model="plumb_bob")
    msg.header = image(max(i, 0)).header
    msg.k = [100.0 + i, 0.0, W / 2, 0.0, 100.0 + i, H / 2, 0.0, 0.0, 1.0]
    return msg


def recorded(frames: int = FRAMES, topics: tuple[str, ...] = tuple(TYPES)) -> list[tuple[int, str, object]]:
    """(bag time, topic, message) of a recording: one CameraInfo before the first image, then per image
    (every PERIOD_NS) its compressed copies, depth and CameraInfo a few ms after it."""
    from std_msgs.msg import String

    out = [(T0 - 50_000_000, INFO, camera_info(-1))]
    for i in range(frames):
        t = T0 + i * PERIOD_NS
        out += [(t, IMAGE, image(i)), (t + 1_000_000, PNG, compressed(i, "png"))]
        out += [(t + 2_000_000, JPEG, compressed(i, "jpeg")), (t + 3_000_000, DEPTH, depth(i))]
        out += [(t + 4_000_000, INFO, camera_info(i))]
    out.append((T0 + 20_000_000, CHATTER, String(data="hello")))
    return sorted((m for m in out if m[1] in topics), key=lambda m: m[0])


def write_bag(path: Path, storage: str, metadata: bool = True, topics: tuple[str, ...] = tuple(TYPES)) -> Path:
    """A bag at ``path`` (a folder) written by rosbags from rclpy-serialized messages, in reverse time order
    (the reader must sort); ``metadata=False`` deletes metadata.yaml afterwards."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conns = {topic: writer.add_connection(topic, TYPES[topic], typestore=store) for topic in topics}
        for t, topic, msg in reversed(recorded(topics=topics)):
            writer.write(conns[topic], t, serialize_message(msg))
    if not metadata:
        (path / "metadata.yaml").unlink()
    return path


def read_bag(path: Path) -> tuple[dict, dict, dict]:
    """(topic -> type, topic -> offered QoS list, topic -> [(log time, message)]), decoded from the bag alone."""
    from rosbags.highlevel import AnyReader

    messages: dict[str, list] = defaultdict(list)
    with AnyReader([path]) as reader:  # no default typestore: the embedded definitions or nothing
        types = {c.topic: c.msgtype for c in reader.connections}
        qos = {c.topic: c.ext.offered_qos_profiles for c in reader.connections}
        for connection, timestamp, data in reader.messages():
            messages[connection.topic].append((timestamp, reader.deserialize(data, connection.msgtype)))
    return types, qos, messages


def read_with_mcap_ros2(path: Path) -> tuple[dict, dict]:
    """(topic -> (schema name, encoding), topic -> decoded messages) with Foxglove's mcap libraries."""
    pytest.importorskip("mcap_ros2")
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    decoded: dict[str, list] = defaultdict(list)
    with open(path, "rb") as handle:
        reader = make_reader(handle, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        schemas = {c.topic: (summary.schemas[c.schema_id].name, summary.schemas[c.schema_id].encoding)
                   for c in summary.channels.values()}  # fmt: skip
        for _, channel, _, message in reader.iter_decoded_messages():
            decoded[channel.topic].append(message)
    return schemas, decoded
