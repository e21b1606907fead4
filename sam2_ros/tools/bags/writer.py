"""Record ROS 2 topics into a rosbag2 MCAP bag, with the message definitions embedded.

:class:`BagWriter` writes a bag with ``rosbags`` (no ROS install needed): a rosbag2 directory
(``metadata.yaml`` plus ``<name>.mcap``) or, for a path ending in ``.mcap``, that one MCAP file
(Foxglove opens it; ``ros2 bag play`` reads it since Iron: the file carries rosbag2's metadata
record, each topic's QoS and each type's definition). Chunks are zstd-compressed, as with
``ros2 bag record --storage-preset-profile zstd_fast``.

:class:`BagRecorder` subscribes in raw mode (the CDR bytes as received, never re-serialized) to the
topics of a live graph that a predicate selects, as their publishers appear, and writes each message
at its receive time. Like ``ros2 bag record`` it asks for what the publishers offer (reliable only if
all are, transient local only if all are: a latched ``label_info`` is received and replayed latched)
and stores their QoS as ``offered_qos_profiles``. :class:`NodeInterface` is such a predicate: the
topics one node publishes and subscribes to, as the ROS graph reports them.

Message definitions come from the ``.msg`` files installed with each type's Python code (the
typesupport that serialized the bytes), else the ament index, ``sys.prefix/share``, or this
package's source checkout (``msg/``, ``interfaces/<pkg>/msg``); standard types from rosbags' store.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rosbags.interfaces import (
    Nodetype,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore

from sam2_ros.resources import PACKAGE, ResourceError, share_dir

if TYPE_CHECKING:
    from rosbags.interfaces import Connection
    from rosbags.typesys.store import Typestore

INFRASTRUCTURE_TOPICS = ("/rosout", "/parameter_events", "/clock")  # every node's; never part of its interface
LIFECYCLE_TOPICS = ("transition_event",)  # a lifecycle node's own, under its name (~/transition_event)
BAG_VERSION = 9  # rosbag2 metadata version of Jazzy and later
DEFAULT_STORE = Stores.ROS2_KILTED  # the pip stack's distro (requirements/ros.txt); $ROS_DISTRO wins
PREREGISTERED = (PACKAGE, "vision_msgs")  # packages whose .msg files every typestore holds


class BagTypeError(LookupError):
    """A message type whose definition cannot be found (no ``.msg`` file anywhere)."""


# ---------------------------------------------------------------------------------------- types
def _base_store() -> Typestore:
    """rosbags' store of the standard types for ``$ROS_DISTRO`` (else Kilted)."""
    distro = os.environ.get("ROS_DISTRO", "")
    store = getattr(Stores, f"ROS2_{distro.upper()}", DEFAULT_STORE) if distro else DEFAULT_STORE
    return get_typestore(store)


def msg_dirs(package: str) -> list[Path]:
    """Where ``package``'s ``.msg`` files may be, best first (only existing folders)."""
    found: list[Path] = []
    try:  # next to the Python code that (de)serializes the type: <prefix>/share/<pkg>/msg
        spec = importlib.util.find_spec(f"{package}.msg")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        found += [p / "share" / package / "msg" for p in Path(spec.origin).resolve().parents]
    try:
        from ament_index_python.packages import get_package_share_directory

        found.append(Path(get_package_share_directory(package)) / "msg")
    except (ImportError, LookupError, ValueError, OSError):  # OSError: AMENT_PREFIX_PATH unset
        pass
    found.append(Path(sys.prefix) / "share" / package / "msg")
    try:
        root = share_dir()
        found += [root / "msg"] if package == PACKAGE else [root / "interfaces" / package / "msg"]
    except ResourceError:
        pass
    return [d for d in dict.fromkeys(found) if d.is_dir()]


def _dependencies(fields: Sequence[tuple[str, Any]]) -> set[str]:
    """The complex type names the fields of one rosbags field list refer to."""
    names = set()
    for _, desc in fields:
        node, arg = desc
        if node in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            node, arg = arg[0]
        if node == Nodetype.NAME:
            names.add(arg)
    return names


def ensure_type(typestore: Typestore, msgtype: str) -> None:
    """Register ``msgtype`` (``pkg/msg/Name``) and what it refers to in ``typestore`` from ``.msg`` files."""
    if msgtype in typestore.fielddefs:
        return
    package, _, name = msgtype.partition("/msg/")
    path = next((d / f"{name}.msg" for d in msg_dirs(package) if (d / f"{name}.msg").is_file()), None)
    if not name or path is None:
        raise BagTypeError(f"no definition (.msg file) of {msgtype} found")
    types = get_types_from_msg(path.read_text(), msgtype)
    typestore.register(types)
    for dependency in sorted(_dependencies(types[msgtype][1])):
        ensure_type(typestore, dependency)


def register_package(typestore: Typestore, package: str) -> list[str]:
    """Register every message of ``package`` (its first folder of :func:`msg_dirs`); the type names."""
    dirs = msg_dirs(package)
    names = [f"{package}/msg/{p.stem}" for p in sorted(dirs[0].glob("*.msg"))] if dirs else []
    for msgtype in names:
        ensure_type(typestore, msgtype)
    return names


def make_typestore(extra: Iterable[str] = ()) -> Typestore:
    """The standard types plus this package's and vision_msgs' messages (and ``extra`` type names)."""
    typestore = _base_store()
    for package in PREREGISTERED:
        register_package(typestore, package)
    for msgtype in extra:
        ensure_type(typestore, msgtype)
    return typestore


# ------------------------------------------------------------------------------------------ QoS
def _duration(value: Any) -> QosTime:
    nanoseconds = int(getattr(value, "nanoseconds", 0))
    sec, nsec = divmod(nanoseconds, 1_000_000_000)
    return QosTime(sec, nsec)


def _enum(kind: Any, policy: Any) -> Any:
    name = getattr(policy, "name", str(policy)).upper()
    return kind[name] if name in kind.__members__ else kind.UNKNOWN


def offered_qos(profile: Any) -> Qos:
    """An rclpy ``QoSProfile`` (of a publisher, from the graph) as rosbag2 records it."""
    return Qos(
        history=_enum(QosHistory, profile.history),
        depth=int(profile.depth),
        reliability=_enum(QosReliability, profile.reliability),
        durability=_enum(QosDurability, profile.durability),
        deadline=_duration(profile.deadline),
        lifespan=_duration(profile.lifespan),
        liveliness=_enum(QosLiveliness, profile.liveliness),
        liveliness_lease_duration=_duration(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )


def request_qos(offers: Sequence[Any], depth: int = 100) -> Any:
    """The subscription QoS that matches every offer (rosbag2's rule): reliable only if all offers are,
    transient local only if all are."""
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    from sam2_ros.node.qos import qos_profile

    reliable = bool(offers) and all(o.reliability == ReliabilityPolicy.RELIABLE for o in offers)
    latched = bool(offers) and all(o.durability == DurabilityPolicy.TRANSIENT_LOCAL for o in offers)
    return qos_profile(depth, reliable=reliable, latched=latched)


# --------------------------------------------------------------------------------------- writer
class BagWriter:
    """A rosbag2 bag being written (MCAP storage): a directory, or one file when ``path`` ends in ``.mcap``.

    Thread-safe. The path must not exist. :meth:`close` finishes the bag (the single file appears only
    then, moved from a hidden folder next to it); :meth:`abort` drops it.
    """

    def __init__(self, path: Path | str, typestore: Typestore | None = None, compress: bool = True) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists already; not overwriting")
        self.typestore = typestore if typestore is not None else make_typestore()
        self.single_file = self.path.suffix == ".mcap"
        self._staging: Path | None = None
        bag_dir = self.path
        if self.single_file:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._staging = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
            bag_dir = self._staging / self.path.stem  # rosbags names the file <dir name>.mcap
        self._writer = Writer(bag_dir, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        if compress:
            self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        self._writer.open()
        self._lock = threading.Lock()
        self._connections: dict[str, Connection] = {}
        self.types: dict[str, str] = {}  # topic -> type name, in the order added
        self.counts: dict[str, int] = {}  # topic -> messages written
        self.closed = False

    def add_topic(self, topic: str, msgtype: str, offered: Sequence[Qos] = ()) -> None:
        """Add a topic of type ``msgtype`` (``pkg/msg/Name``) with its publishers' QoS; BagTypeError if
        its definition is not found."""
        with self._lock:
            if topic in self._connections:
                return
            ensure_type(self.typestore, msgtype)
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore, offered_qos_profiles=list(offered)
            )
            self.types[topic] = msgtype
            self.counts[topic] = 0

    def write(self, topic: str, log_time_ns: int, data: bytes | memoryview) -> None:
        """Write one serialized (CDR) message of an added topic; ignored once closed."""
        with self._lock:
            if self.closed:
                return
            self._writer.write(self._connections[topic], log_time_ns, data)
            self.counts[topic] += 1

    def close(self) -> Path:
        """Finish the bag (index, metadata); its path."""
        with self._lock:
            if self.closed:
                return self.path
            self.closed = True
            self._writer.close()
            if self._staging is not None:
                os.replace(self._staging / self.path.stem / f"{self.path.stem}.mcap", self.path)
                shutil.rmtree(self._staging, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Drop the bag being written."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._writer.abort()
            shutil.rmtree(self._staging or self.path, ignore_errors=True)


# ------------------------------------------------------------------------------------- recorder
def message_class(msgtype: str) -> Any:
    """The rclpy message class of ``pkg/msg/Name`` (ImportError/AttributeError when not installed)."""
    package, _, name = msgtype.partition("/msg/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


def _type_hash(info: Any) -> str | None:
    """A graph endpoint's type hash as ``RIHS01_<hex>``, or None when the middleware gave none."""
    value = getattr(info.topic_type_hash, "value", None)
    if getattr(info.topic_type_hash, "version", 0) != 1 or not value or not any(value):
        return None
    return "RIHS01_" + bytes(value).hex()


class NodeInterface:
    """The topics one node publishes (``outputs``) and subscribes to (``inputs``), asked from the ROS graph,
    plus ``extra`` topic names: a ``select`` predicate for :class:`BagRecorder`, which calls :meth:`update`
    at every poll.

    Not recorded: ``/rosout``, ``/parameter_events``, ``/clock`` and the node's ``~/transition_event``. The set
    only grows: a topic that appears later (subscriptions made at activation, publishers at configure) is added
    when it appears, and one that goes (deactivation) stays, for the whole recording.
    """

    def __init__(self, name: str, namespace: str = "", outputs: bool = True, inputs: bool = False,
                 extra: Iterable[str] = ()) -> None:  # fmt: skip
        self.name = name
        self.namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
        self.outputs, self.inputs = outputs, inputs
        self.topics: set[str] = set(extra)
        self.found = False  # the node has been seen in the graph
        self._excluded = {*INFRASTRUCTURE_TOPICS, *(f"{self.full_name}/{t}" for t in LIFECYCLE_TOPICS)}

    @property
    def full_name(self) -> str:
        """The node's fully qualified name, ``/ns/name``."""
        return f"{self.namespace}/{self.name}"

    def update(self, graph: Any) -> bool:
        """Add the node's current publishers and subscriptions as ``graph`` (an rclpy Node) sees them; True the
        first time the node is found."""
        from rclpy.node import NodeNameNonExistentError

        if not (self.outputs or self.inputs):
            return False
        namespace = self.namespace or "/"
        try:
            found = graph.get_publisher_names_and_types_by_node(self.name, namespace) if self.outputs else []
            if self.inputs:
                found = [*found, *graph.get_subscriber_names_and_types_by_node(self.name, namespace)]
        except NodeNameNonExistentError:  # not up yet, or gone
            return False
        self.topics.update(topic for topic, _ in found if topic not in self._excluded)
        first, self.found = not self.found, True
        return first

    def __call__(self, topic: str) -> bool:
        return topic in self.topics


class BagRecorder:
    """An rclpy node that records the selected topics of the live graph into a :class:`BagWriter`.

    ``select(topic)`` picks topics (a :class:`NodeInterface` is updated from the graph first); the graph is
    polled every ``poll_s`` and each selected topic is subscribed (raw) once it has a publisher. Spins in its
    own thread until :meth:`close`.
    """

    def __init__(
        self,
        writer: BagWriter,
        select: Callable[[str], bool],
        context: Any = None,
        node_name: str = "sam2_ros_bag_recorder",
        poll_s: float = 0.1,
        depth: int = 100,
        log: Callable[[str], None] | None = None,
    ) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.writer, self.select, self.depth = writer, select, depth
        self.log = log or (lambda text: print(f"[record] {text}", file=sys.stderr, flush=True))
        self.node = rclpy.create_node(f"{node_name}_{os.getpid()}", context=context)
        self.skipped: dict[str, str] = {}  # topic -> why it is not recorded
        self._subs: dict[str, Any] = {}
        self._timer = self.node.create_timer(poll_s, self._discover)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self.executor.spin, name="bag_recorder", daemon=True)
        self._spinner.start()

    @property
    def topics(self) -> list[str]:
        """The topics subscribed so far."""
        return list(self._subs)

    def _discover(self) -> None:
        if isinstance(self.select, NodeInterface) and self.select.update(self.node):
            self.log(f"found node {self.select.full_name}")
        for topic, types in self.node.get_topic_names_and_types():
            if topic in self._subs or topic in self.skipped or not types or not self.select(topic):
                continue
            publishers = self.node.get_publishers_info_by_topic(topic)
            if publishers:
                self._subscribe(topic, types[0], publishers)

    def _subscribe(self, topic: str, msgtype: str, publishers: Sequence[Any]) -> None:
        try:
            msg_class = message_class(msgtype)
            self.writer.add_topic(topic, msgtype, [offered_qos(p.qos_profile) for p in publishers])
        except (ImportError, AttributeError, BagTypeError, TypesysError) as exc:
            self.skipped[topic] = f"{msgtype}: {exc}"
            self.log(f"not recording {topic}: {self.skipped[topic]}")
            return
        expected = self.writer.typestore.hash_rihs01(msgtype)
        offered = {h for h in (_type_hash(p) for p in publishers) if h}
        if offered and offered != {expected}:
            self.log(f"WARNING: {topic}: the publisher's {msgtype} ({', '.join(sorted(offered))}) differs from the "
                     f"definition embedded in the bag ({expected}); rebuild/reinstall the messages")  # fmt: skip
        qos = request_qos([p.qos_profile for p in publishers], self.depth)
        callback = functools.partial(self._on_message, topic)
        self._subs[topic] = self.node.create_subscription(msg_class, topic, callback, qos, raw=True)
        self.log(f"recording {topic} ({msgtype})")

    def _on_message(self, topic: str, data: bytes, info: Any) -> None:
        received = int(info.get("received_timestamp") or 0) if isinstance(info, dict) else 0
        self.writer.write(topic, received or time.time_ns(), data)

    def wait_for(self, topics: Iterable[str], timeout: float) -> bool:
        """Wait until every one of ``topics`` is subscribed; False after ``timeout`` seconds."""
        wanted = set(topics)
        deadline = time.monotonic() + timeout
        while not wanted <= set(self._subs):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> Path:
        """Stop recording, finish the bag; its path."""
        self.executor.shutdown(timeout_sec=5)
        self._spinner.join(timeout=5)
        self.node.destroy_node()
        return self.writer.close()


def output_selector(namespace: str, kinds: Iterable[str], extra: Iterable[str] = ()) -> Callable[[str], bool]:
    """Selects ``<ns>/<kind>`` and ``<ns>/<stream>/<kind>`` for each kind, and the ``extra`` topic names (by
    name only: for topics whose names are known, as the demo's; a node's own are :class:`NodeInterface`'s)."""
    prefix = "/" + namespace.strip("/") if namespace.strip("/") else ""
    kinds, exact = frozenset(kinds), frozenset(extra)

    def select(topic: str) -> bool:
        if topic in exact:
            return True
        if not topic.startswith(prefix + "/"):
            return False
        parts = topic[len(prefix) + 1 :].split("/")
        return len(parts) <= 2 and parts[-1] in kinds and all(parts)

    return select


def summary_lines(writer: BagWriter) -> list[str]:
    """One line per recorded topic: name, type, message count."""
    width = max((len(t) for t in writer.types), default=0)
    return [f"{topic:<{width}}  {writer.types[topic]}  {writer.counts[topic]}" for topic in sorted(writer.types)]
