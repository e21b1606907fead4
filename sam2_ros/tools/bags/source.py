"""rosbag2 recordings (``.mcap`` and sqlite3 ``.db3``) as a source for the player, read with ``rosbags``.

A bag is a folder with ``metadata.yaml`` (as ``ros2 bag record`` writes it), a folder without one
(its ``.mcap`` or ``.db3`` files are read directly, several merged in time order) or a single
``.mcap`` / ``.db3`` file. No ROS install is needed to read one; the CDR bytes of each message are
turned into a real rclpy message by rclpy itself (:func:`deserialize`), no hand-written CDR.
"""

from __future__ import annotations

import heapq
import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

BAG_SUFFIXES = (".mcap", ".db3")
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)


class BagError(Exception):
    """A recording that cannot be opened, or read as asked (the message says why)."""


class BagMessage(NamedTuple):
    """One recorded message: bag (receive) time, topic, its CDR bytes and its type name."""

    time_ns: int
    topic: str
    rawdata: bytes
    msgtype: str


class TopicRow(NamedTuple):
    """A topic of a bag: type, message count and the bag times of its first and last message."""

    topic: str
    msgtype: str
    count: int
    first_ns: int | None
    last_ns: int | None


def storage_paths(path: Path | str) -> list[Path]:
    """What to open for ``path``: the folder itself (with metadata.yaml) or its/the storage files."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix not in BAG_SUFFIXES:
            raise BagError(f"{path}: not a rosbag2 recording (a folder, or a {' or '.join(BAG_SUFFIXES)} file)")
        return [path]
    if (path / "metadata.yaml").is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in BAG_SUFFIXES)
    if not files:
        raise BagError(f"{path}: not a rosbag2 recording (no metadata.yaml and no {'/'.join(BAG_SUFFIXES)} file)")
    if len({p.suffix for p in files}) > 1:
        raise BagError(f"{path}: both .mcap and .db3 files and no metadata.yaml: pass one file")
    return files


class Bag:
    """An open recording (use as a context manager); its storage files read as one, in time order."""

    def __init__(self, path: Path | str) -> None:
        from rosbags.rosbag2 import Reader

        self.path = Path(path)
        self.readers: list[Any] = []
        try:
            for part in storage_paths(self.path):
                reader = Reader(part)
                reader.open()
                self.readers.append(reader)
        except BagError:
            self.close()
            raise
        except Exception as exc:  # rosbags' ReaderError, a broken file, unreadable metadata
            self.close()
            raise BagError(f"{self.path}: cannot read as a rosbag2 recording: {exc}") from exc

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every storage file."""
        for reader in self.readers:
            reader.close()
        self.readers = []

    @property
    def connections(self) -> list[Any]:
        """rosbags connections of every storage file."""
        return [conn for reader in self.readers for conn in reader.connections]

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type, in name order."""
        return {conn.topic: conn.msgtype for conn in sorted(self.connections, key=lambda c: c.topic)}

    @property
    def start_ns(self) -> int | None:
        """Bag time of the first message (None when empty)."""
        starts = [r.start_time for r in self.readers if r.message_count]
        return min(starts) if starts else None

    @property
    def end_ns(self) -> int | None:
        """Bag time of the last message (None when empty)."""
        ends = [r.end_time - 1 for r in self.readers if r.message_count]
        return max(ends) if ends else None

    def describe_topics(self) -> str:
        """``topic (type), ...`` for error messages."""
        return ", ".join(f"{topic} ({msgtype})" for topic, msgtype in self.topics.items()) or "none"

    def check_topic(self, topic: str, types: Iterable[str] | None = None) -> str:
        """The type of ``topic``; :class:`BagError` when it is not in the bag or not one of ``types``."""
        msgtype = self.topics.get(topic)
        if msgtype is None:
            raise BagError(f"{self.path}: no topic {topic!r}; its topics: {self.describe_topics()}")
        if types is not None and msgtype not in types:
            raise BagError(f"{self.path}: {topic} is a {msgtype}, not a {' or '.join(types)}")
        return msgtype

    def messages(self, topics: Iterable[str]) -> Iterator[BagMessage]:
        """The messages of ``topics`` (all given ones must exist: checked now), in bag-time order."""
        wanted = set(topics)
        for topic in sorted(wanted):
            self.check_topic(topic)
        streams = []
        for reader in self.readers:
            conns = [c for c in reader.connections if c.topic in wanted]
            for conn in conns:
                fmt = getattr(conn.ext, "serialization_format", "cdr")
                if fmt != "cdr":
                    raise BagError(f"{self.path}: {conn.topic} is serialized as {fmt!r}; only cdr is supported")
            if conns:  # an empty list would mean every connection to rosbags
                streams.append(
                    BagMessage(t, conn.topic, bytes(raw), conn.msgtype) for conn, t, raw in reader.messages(conns)
                )
        return heapq.merge(*streams, key=lambda m: m.time_ns)

    def list_topics(self) -> list[TopicRow]:
        """Every topic with its type, count and first/last bag time (reads the whole bag for the times)."""
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for msg in self.messages(self.topics):
            first.setdefault(msg.topic, msg.time_ns)
            last[msg.topic] = msg.time_ns
        counts: dict[str, int] = {}
        for conn in self.connections:
            counts[conn.topic] = counts.get(conn.topic, 0) + conn.msgcount
        return [
            TopicRow(topic, msgtype, counts[topic], first.get(topic), last.get(topic))
            for topic, msgtype in self.topics.items()
        ]


def list_topics(path: Path | str) -> list[TopicRow]:
    """The topics of the bag at ``path`` (see :meth:`Bag.list_topics`)."""
    with Bag(path) as bag:
        return bag.list_topics()


def read_messages(path: Path | str, topics: Iterable[str]) -> Iterator[BagMessage]:
    """The messages of ``topics`` in the bag at ``path``, in bag-time order (the bag closes at the end)."""
    with Bag(path) as bag:
        yield from bag.messages(topics)


def message_class(msgtype: str) -> type:
    """The rclpy message class of a type name such as ``sensor_msgs/msg/Image``."""
    parts = msgtype.split("/")
    if len(parts) != 3 or parts[1] != "msg":
        raise BagError(f"unsupported message type {msgtype!r} (expected package/msg/Name)")
    try:
        return getattr(importlib.import_module(f"{parts[0]}.msg"), parts[2])
    except (ImportError, AttributeError) as exc:
        raise BagError(f"message type {msgtype} is not installed here: {exc}") from exc


def deserialize(message: BagMessage) -> Any:
    """The rclpy message of a recorded one (rclpy's own CDR deserializer)."""
    from rclpy.serialization import deserialize_message

    return deserialize_message(message.rawdata, message_class(message.msgtype))


def default_image_topic(bag: Bag, exclude: Iterable[str] = ()) -> str:
    """The bag's only Image or CompressedImage topic not in ``exclude``; :class:`BagError` listing candidates."""
    skip = set(exclude)
    candidates = [t for t, msgtype in bag.topics.items() if msgtype in IMAGE_TYPES and t not in skip]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise BagError(f"{bag.path}: no Image or CompressedImage topic; its topics: {bag.describe_topics()}")
    listed = ", ".join(f"{t} ({bag.topics[t].rsplit('/', 1)[-1]})" for t in candidates)
    raise BagError(f"{bag.path}: several image topics, choose one with --bag-image: {listed}")
