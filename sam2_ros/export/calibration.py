"""Calibration frames for the quantised targets: the user's own, or the project's synthetic clips.

``sam2-ros-export --calibration PATH`` (and ``python -m sam2_ros.export.openvino_int8 --calibration
PATH``) takes an image folder, a video file, or a rosbag2 recording (a folder with
``metadata.yaml``, or one ``.mcap`` / ``.db3`` file) with its image topic (``--calibration-topic``;
the only ``sensor_msgs/Image`` or ``CompressedImage`` topic by default). At most
:data:`MAX_FRAMES` frames are taken, evenly spread over the source. Without it, quantisation
calibrates on seeded synthetic clips, which suits the random and the shipped synthetic-trained
models only: real weights calibrated on synthetic shapes quantise for the wrong activations.

Recordings are read with ``rosbags`` alone (no rclpy): the export also runs in the EdgeTAM
environment, which has no ROS. Problems raise :class:`ExportError` (the CLI exits 2) before any
export work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine.errors import ExportError

MAX_FRAMES = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
BAG_SUFFIXES = (".mcap", ".db3")
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
CLIP_LENGTH = 6  # consecutive frames tracked per calibration clip (the memory path sees a filling bank)


@dataclass(frozen=True)
class UserFrames:
    """Calibration frames from the user's ``--calibration`` source."""

    source: str  # the path (and topic) they came from
    frames: list[np.ndarray]

    def describe(self) -> str:
        """What the manifest records as the calibration."""
        return f"{len(self.frames)} frames of {self.source}"


SYNTHETIC = "seeded synthetic clips (sam2_ros.clips.synthetic)"


def describe(calibration: UserFrames | None) -> str:
    """What a quantised export was calibrated on."""
    return calibration.describe() if calibration else SYNTHETIC


def read_calibration(path: Path | str | None, topic: str | None) -> UserFrames | None:
    """``--calibration`` / ``--calibration-topic`` as frames (None: the synthetic clips)."""
    if path is None:
        if topic is not None:
            raise ExportError("--calibration-topic needs --calibration")
        return None
    frames = load_frames(path, topic)
    return UserFrames(f"{Path(path).name}" + (f" topic {topic}" if topic else ""), frames)


def evenly(count: int, limit: int) -> list[int]:
    """``limit`` indices spread evenly over ``range(count)`` (all of them when there are fewer)."""
    if count <= limit:
        return list(range(count))
    return sorted({int(round(i * (count - 1) / (limit - 1))) for i in range(limit)})


def load_frames(path: Path | str, topic: str | None = None, limit: int = MAX_FRAMES) -> list[np.ndarray]:
    """Up to ``limit`` HxWx3 uint8 RGB frames from an image folder, a video or a rosbag2 recording."""
    path = Path(path)
    if not path.exists():
        raise ExportError(f"--calibration {path}: no such file or folder")
    is_bag = path.suffix in BAG_SUFFIXES or (path.is_dir() and (path / "metadata.yaml").is_file())
    if topic is not None and not is_bag:
        raise ExportError(f"--calibration-topic is for rosbag2 recordings; {path} is not one")
    if is_bag:
        frames = _bag_frames(path, topic, limit)
    elif path.is_dir():
        frames = _folder_frames(path, limit)
    else:
        frames = _video_frames(path, limit)
    return frames


def _folder_frames(folder: Path, limit: int) -> list[np.ndarray]:
    from PIL import Image

    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ExportError(f"--calibration {folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    frames = []
    for i in evenly(len(paths), limit):
        try:
            frames.append(np.asarray(Image.open(paths[i]).convert("RGB")))
        except OSError as exc:
            raise ExportError(f"--calibration: cannot read image {paths[i]}: {exc}") from exc
    return frames


def _video_frames(path: Path, limit: int) -> list[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        bgr_frames = []
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            bgr_frames.append(bgr)
    finally:
        capture.release()
    if not bgr_frames:
        raise ExportError(
            f"--calibration {path}: no frames could be read (not an image folder, a rosbag2 recording "
            f"({'/'.join(BAG_SUFFIXES)} or a folder with metadata.yaml) or a video OpenCV can decode)"
        )
    return [np.ascontiguousarray(bgr_frames[i][..., ::-1]) for i in evenly(len(bgr_frames), limit)]


def _bag_frames(path: Path, topic: str | None, limit: int) -> list[np.ndarray]:
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    try:
        reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
        reader.open()
    except Exception as exc:  # rosbags' reader errors, a broken file, unreadable metadata
        raise ExportError(f"--calibration {path}: cannot read as a rosbag2 recording: {exc}") from exc
    try:
        images = {c.topic: c for c in reader.connections if c.msgtype in IMAGE_TYPES}
        listed = ", ".join(f"{c.topic} ({c.msgtype})" for c in reader.connections) or "none"
        if topic is None:
            if len(images) != 1:
                problem = "has no Image or CompressedImage topic" if not images else "has several image topics"
                raise ExportError(f"--calibration {path} {problem} (choose with --calibration-topic); topics: {listed}")
            topic = next(iter(images))
        if topic not in images:
            raise ExportError(f"--calibration {path}: no image topic {topic!r}; topics: {listed}")
        connection = images[topic]
        wanted = set(evenly(connection.msgcount, limit))
        frames = []
        for i, (conn, _, raw) in enumerate(reader.messages(connections=[connection])):
            if i in wanted:
                frames.append(image_message_to_rgb(reader.deserialize(raw, conn.msgtype), conn.msgtype))
    finally:
        reader.close()
    if not frames:
        raise ExportError(f"--calibration {path}: topic {topic} has no messages")
    return frames


def image_message_to_rgb(msg: Any, msgtype: str) -> np.ndarray:
    """A deserialised sensor_msgs Image (rgb8, bgr8, rgba8, bgra8, mono8) or CompressedImage as RGB."""
    import cv2

    if msgtype.endswith("CompressedImage"):
        bgr = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ExportError(f"--calibration: a CompressedImage ({msg.format}) could not be decoded")
        return np.ascontiguousarray(bgr[..., ::-1])
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}.get(msg.encoding)
    if channels is None:
        raise ExportError(f"--calibration: image encoding {msg.encoding!r} is not rgb8, bgr8, rgba8, bgra8 or mono8")
    data = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    pixels = data[:, : msg.width * channels].reshape(msg.height, msg.width, channels)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    rgb = pixels[..., :3] if msg.encoding.startswith("rgb") else pixels[..., 2::-1]
    return np.ascontiguousarray(rgb)


def grid_prompts(height: int, width: int) -> list[dict[str, Any]]:
    """Four prompts for a frame without ground truth (1, 2, 3 and 4 points; a box counts 2), around
    points spread over the image, so every decoder size and the memory path get calibrated."""
    prompts = []
    for i, (fx, fy) in enumerate(((0.3, 0.35), (0.7, 0.35), (0.3, 0.7), (0.7, 0.7))):
        x, y = fx * width, fy * height
        click = (x, y)
        box = (x - 0.12 * width, y - 0.12 * height, x + 0.12 * width, y + 0.12 * height)
        prompts.append(
            [
                {"points": [click], "labels": [1]},
                {"box": box},
                {"box": box, "points": [click], "labels": [1]},
                {"box": box, "points": [click, click], "labels": [1, 1]},
            ][i]  # fmt: skip
        )
    return prompts
