"""Process-level harness for the node tests: the node in its own process, a client here.

Real rclpy and Fast DDS between the two processes, on a domain id of this test session and
localhost discovery only.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.resources import params_file

PARAMS_FILE = params_file()  # the shipped params file, as the package finds it (the node tests use it)
POLL_S = 0.02  # how often wait_until looks again when nothing arrives in between


class _Wakeups:
    """A counter of arrivals (messages, service answers) that waiters sleep on: `wait_until`
    looks again as soon as something arrives, and at least every `POLL_S`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def notify(self, *_: Any) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def count(self) -> int:
        with self._cond:
            return self._count

    def wait(self, seen: int, timeout: float) -> None:
        """Until an arrival after ``seen`` (a `count`), at most ``timeout`` s."""
        with self._cond:
            self._cond.wait_for(lambda: self._count != seen, timeout)


_wakeups = _Wakeups()


def ros_environment() -> dict[str, str]:
    """Environment for both processes: private domain, localhost only."""
    env = dict(os.environ)
    env.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["RCUTILS_LOGGING_BUFFERED_STREAM"] = "0"
    return env


class NodeProcess:
    """``sam2_ros_node`` with the launch file's parameters file, in its own process."""

    _count = 0

    def __init__(
        self,
        log_dir: Path,
        model_dir: Path | str,
        params: dict[str, Any] | None = None,
        name: str = "node",
        env: dict[str, str] | None = None,
    ):
        NodeProcess._count += 1
        # each node in its own namespace, so nodes of different tests never mix
        self.ns = f"/test{os.getpid()}_{NodeProcess._count}"
        self.log_path = log_dir / f"{name}.log"
        args = [sys.executable, "-m", "sam2_ros.node.main", "--ros-args", "-r", f"__ns:={self.ns}"]
        args += ["--params-file", str(PARAMS_FILE)]
        args += ["-p", f"model_dir:={model_dir}"]
        # reliable image input: the tests must not lose a frame they wait for to a busy machine
        for key, value in {"input_reliability": "reliable", **(params or {})}.items():
            args += ["-p", f"{key}:={_param_text(value)}"]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env={**ros_environment(), **(env or {})}
        )

    def topic(self, name: str) -> str:
        """``name`` inside the node's namespace."""
        return f"{self.ns}/{name.lstrip('/')}"

    def log(self) -> str:
        """Everything the node printed so far."""
        self._log.flush()
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        """SIGINT, then kill; returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(f"'{v}'" if isinstance(v, str) else str(v) for v in value) + "]"
    return str(value)


class Client:
    """A client node in the test process, spinning in a background thread."""

    def __init__(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from sam2_ros.msg import Prompt, TrackedObjectArray
        from sensor_msgs.msg import Image

        self.types = {"image": Image, "prompt": Prompt, "objects": TrackedObjectArray, "diag": DiagnosticArray}
        self.rclpy = rclpy
        self.node = rclpy.create_node(f"sam2_ros_test_client_{os.getpid()}")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.received: dict[str, list[Any]] = defaultdict(list)
        self._arrivals: dict[str, list[tuple[float, Any]]] = defaultdict(list)
        self.lock = threading.Lock()
        self._pubs: dict[str, Any] = {}
        self._subs: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.executor.shutdown()
        self._thread.join(timeout=5)
        self.node.destroy_node()

    def subscribe(self, topic: str, msg_type: Any) -> None:
        """Collect every message on ``topic`` in ``received[topic]``."""
        if topic in self._subs:
            return

        def store(msg: Any, topic: str = topic) -> None:
            now = time.monotonic()
            with self.lock:
                self.received[topic].append(msg)
                self._arrivals[topic].append((now, msg))
            _wakeups.notify()

        self._subs[topic] = self.node.create_subscription(msg_type, topic, store, 50)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self._arrivals.clear()

    def arrivals(self, topic: str) -> list[tuple[float, Any]]:
        """(monotonic receive time, message) pairs of ``topic``."""
        with self.lock:
            return list(self._arrivals[topic])

    def messages(self, topic: str) -> list[Any]:
        with self.lock:
            return list(self.received[topic])

    def publisher(self, topic: str, msg_type: Any, reliable: bool = True, qos: Any = None) -> Any:
        """The publisher on ``topic`` (created on first use: depth 10, reliable or not; or ``qos``)."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        if topic not in self._pubs:
            if qos is None:
                qos = QoSProfile(depth=10)
                qos.reliability = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
            self._pubs[topic] = self.node.create_publisher(msg_type, topic, qos)
        return self._pubs[topic]

    def wait_for_subscribers(self, topic: str, timeout: float = 20.0) -> None:
        pub = self._pubs[topic]
        wait_until(lambda: pub.get_subscription_count() > 0, timeout, f"no subscriber on {topic}")

    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 30.0) -> Any:
        """Call service ``name`` and wait for its answer (one client per service, kept: a new
        client would wait for discovery on every call). The wait ends when the answer arrives
        (rclpy's ``wait_for_service`` sleeps in steps of 0.25 s, and polling the future cost
        up to a 20 ms tick per call)."""
        with self.lock:
            client = self._clients.get(name)
            if client is None:
                client = self._clients[name] = self.node.create_client(srv_type, name)
        wait_until(client.service_is_ready, timeout, f"service {name} to be available")
        future = client.call_async(request)
        future.add_done_callback(_wakeups.notify)
        wait_until(future.done, timeout, f"service {name} to answer")
        return future.result()


# the node's input topics not named after their output kind (stream prefix aside), and their interfaces
CAMERA_INPUT_TYPES = {  # the node's camera inputs; its command inputs come from its INPUTS table
    "image": "sensor_msgs/msg/Image",
    "image_raw": "sensor_msgs/msg/Image",
    "compressed": "sensor_msgs/msg/CompressedImage",
    "depth": "sensor_msgs/msg/Image",
    "camera_info": "sensor_msgs/msg/CameraInfo",
    "diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
}


def _command_inputs() -> dict[str, tuple[str, bool]]:
    """The node's command inputs (sam2_ros/node/commands.py), by topic name for a stream on
    ``image``: their interface and whether they are read reliably."""
    from sam2_ros.node.commands import INPUTS

    out = {}
    for source in INPUTS:
        names = (source.kind,) if source.topics is None else source.topics("image", lambda kind: kind)
        out.update({name: (source.msg_type, source.reliable) for name in names})
    return out


COMMAND_INPUTS = _command_inputs()
INPUT_TYPES = {**CAMERA_INPUT_TYPES, **{name: msg_type for name, (msg_type, _) in COMMAND_INPUTS.items()}}
# published best effort where the node reads best effort, as a detector does
BEST_EFFORT_INPUTS = tuple(name for name, (_, reliable) in COMMAND_INPUTS.items() if not reliable)


@functools.cache
def message_type(kind: str) -> Any:
    """The interface of the node's topic ``kind``: an input above or an output of the node's
    outputs table (a stream prefix such as ``left/`` aside)."""
    from rosidl_runtime_py.utilities import get_message

    from sam2_ros.node.outputs import OUTPUTS

    name = kind.rsplit("/", 1)[-1]
    outputs = {out.kind: out.msg_type for out in OUTPUTS}
    return get_message(INPUT_TYPES.get(name) or outputs[name])


def stamp_of(msg: Any) -> int | None:
    """The stamp (s) of an output message; a MarkerArray has no header of its own: its markers do."""
    if hasattr(msg, "markers"):
        return msg.markers[0].header.stamp.sec if msg.markers else None
    header = getattr(msg, "header", None)
    return header.stamp.sec if header is not None else None


class NodeDriver:
    """What a test does with one node: publish its inputs, collect its outputs by stamp, call its
    services.

    ``node`` is a :class:`NodeProcess` (then ``proc``) or the namespace of a node started
    otherwise. ``inputs`` get their publishers at once (and the node's subscriptions are waited
    for), ``outputs`` their subscriptions; other kinds get theirs on first use. ``qos`` overrides
    an input's publisher QoS. ``stamp`` is the stamp (s) last sent; :meth:`frame` sends the next.
    With ``resend``, :meth:`frame` publishes again under a newer stamp every half second until
    an output comes back (a subscription just created, by discovery or by an activation, may miss
    the first samples). Every wait gives up after ``timeout`` s.
    """

    def __init__(
        self,
        client: Client,
        node: NodeProcess | str,
        inputs: tuple[str, ...] = ("image", "prompt"),
        outputs: tuple[str, ...] = ("tracked_objects",),
        *,
        qos: dict[str, Any] | None = None,
        stamp: int = 0,
        resend: bool = False,
        timeout: float = 30.0,
    ):
        self.client = client
        self.proc = node if isinstance(node, NodeProcess) else None
        self.ns = node.ns if isinstance(node, NodeProcess) else node
        self.stamp, self.resend, self.timeout = stamp, resend, timeout
        self._qos = dict(qos or {})
        client.subscribe("/diagnostics", message_type("diagnostics"))
        for kind in outputs:
            self.subscribe(kind)
        for kind in inputs:
            self.publisher(kind)
        for kind in inputs:
            self.wait_for_subscriber(kind)

    # ------------------------------------------------------------------ topics
    def topic(self, kind: str) -> str:
        """``kind``'s topic in the node's namespace (an absolute name stays as it is)."""
        return kind if kind.startswith("/") else f"{self.ns}/{kind}"

    def publisher(self, kind: str) -> Any:
        """The publisher of input ``kind`` (reliable unless best effort by kind, or ``qos``)."""
        return self.client.publisher(
            self.topic(kind),
            message_type(kind),
            reliable=not kind.endswith(BEST_EFFORT_INPUTS),
            qos=self._qos.get(kind),
        )

    def publish(self, kind: str, msg: Any) -> None:
        self.publisher(kind).publish(msg)

    def wait_for_subscriber(self, kind: str) -> None:
        """Until the node subscribes to input ``kind``."""
        pub = self.publisher(kind)
        wait_until(lambda: pub.get_subscription_count() > 0, self.timeout, f"the node's {kind} subscription")

    def deep_publisher(self, kind: str, depth: int) -> Any:
        """A new reliable publisher on input ``kind`` that keeps ``depth`` messages (a whole flood
        arrives), once the node subscribes."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        qos = QoSProfile(depth=depth)
        qos.reliability = ReliabilityPolicy.RELIABLE
        deep = self.client.node.create_publisher(message_type(kind), self.topic(kind), qos)
        wait_until(lambda: deep.get_subscription_count() > 0, self.timeout, f"the node's {kind} subscription")
        return deep

    def subscribe(self, kind: str) -> None:
        """Collect output ``kind`` (what came before is not seen)."""
        self.client.subscribe(self.topic(kind), message_type(kind))

    def messages(self, kind: str = "tracked_objects") -> list[Any]:
        """Every ``kind`` message received (since the last :meth:`start_over`)."""
        self.subscribe(kind)
        return self.client.messages(self.topic(kind))

    def stamps(self, kind: str = "tracked_objects") -> list[int | None]:
        """The stamps of the ``kind`` messages received, in arrival order."""
        return [stamp_of(m) for m in self.messages(kind)]

    def output(self, stamp: int, kind: str = "tracked_objects", wait: bool = True) -> Any:
        """The newest ``kind`` output of the frame stamped ``stamp``: waited for, or None if not there yet."""

        def find() -> Any:
            found = [m for m in self.messages(kind) if stamp_of(m) == stamp]
            return found[-1] if found else None

        return wait_until(find, self.timeout, f"the {kind} of the frame stamped {stamp}") if wait else find()

    # ------------------------------------------------------------------ frames and prompts
    def frame(
        self,
        rgb: np.ndarray,
        prompts: Any = (),
        then: Callable[[int], Any] | None = None,
        *,
        encoding: str = "rgb8",
        depth: Any = None,
        info: Any = None,
        stamp: int | None = None,
        resend: bool | None = None,
    ) -> Any:
        """Publish ``rgb`` under the next stamp (or ``stamp``), after its camera ``info`` and
        ``depth`` image (stamped here), and then its ``prompts`` (Prompt fields) and ``then(stamp)``;
        wait for its tracked_objects. ``resend``: see the class (for a frame without prompts)."""
        resend = self.resend if resend is None else resend
        if resend and (prompts or then):
            raise ValueError("resend is for a frame without prompts")
        first = self.stamp + 1 if stamp is None else stamp
        self.stamp = first - 1

        def send() -> None:
            self.stamp += 1
            if info is not None:
                self.publish("camera_info", info)
            if depth is not None:
                depth.header.stamp.sec = self.stamp
                self.publish("depth", depth)
            self.publish("image", image_msg(rgb, self.stamp, encoding=encoding))

        if not resend:
            send()
            for fields in prompts:
                self.prompt(**fields)
            if then is not None:
                then(self.stamp)
            return self.output(self.stamp)

        def back() -> Any:
            found = [m for m in self.messages() if stamp_of(m) >= first]
            return found[-1] if found else None

        return publish_until(send, back, self.timeout, f"the tracked_objects of a frame stamped {first} or later")

    def prompt(self, stamp: int | None = None, **fields: Any) -> None:
        """A prompt (:func:`prompt_msg` fields) made on the frame stamped ``stamp`` (default: the last sent)."""
        self.publish("prompt", prompt_msg(stamp_sec=self.stamp if stamp is None else stamp, **fields))

    def track(self, clip: Any, obj_id: int) -> Any:
        """The clip's frames until one's tracked_objects carry ``obj_id`` (a prompt may land after
        the frame it was made on); those tracked_objects."""
        for t in range(len(clip.frames)):
            objs = self.frame(clip.frames[t])
            if obj_id in [o.object_id for o in objs.objects]:
                return objs
        raise AssertionError(f"object {obj_id} never appeared in the outputs")

    def start_over(self, stamp: int | None = None) -> None:
        """Reset the node (it must succeed), forget what was received; stamps go on from ``stamp``."""
        response = self.reset()
        assert response.success, response.message
        self.client.clear()
        if stamp is not None:
            self.stamp = stamp

    # ------------------------------------------------------------------ services and diagnostics
    def call(self, srv_type: Any, service: str, request: Any = None) -> Any:
        """Call the node's service ``service`` (``sam2_ros/<name>``); its response."""
        request = srv_type.Request() if request is None else request
        return self.client.call(srv_type, self.topic(service), request, self.timeout)

    def reset(self) -> Any:
        """The ``~/reset`` service's response."""
        from std_srvs.srv import Trigger

        return self.call(Trigger, "sam2_ros/reset")

    def change_state(self, transition: int) -> bool:
        """Whether lifecycle ``transition`` (a ``lifecycle_msgs/Transition`` id) succeeded."""
        from lifecycle_msgs.srv import ChangeState

        request = ChangeState.Request()
        request.transition.id = transition
        return self.call(ChangeState, "sam2_ros/change_state", request).success

    def state(self) -> int:
        """The node's lifecycle state id."""
        from lifecycle_msgs.srv import GetState

        return self.call(GetState, "sam2_ros/get_state").current_state.id

    def set_parameter(self, name: str, value: Any) -> Any:
        """Set one parameter (its type from ``value``); the ``SetParametersResult``."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        return self.call(SetParameters, "sam2_ros/set_parameters", request).results[0]

    def diagnostics(self) -> dict[str, str]:
        """The values of the node's newest ``/diagnostics`` status (empty before the first)."""
        arrays = self.client.messages("/diagnostics")
        mine = [st for m in arrays for st in m.status if st.name.startswith(self.ns + "/")]
        return {kv.key: kv.value for kv in mine[-1].values} if mine else {}


@contextlib.contextmanager
def running_node(
    client: Client,
    log_dir: Path,
    model_dir: Path | str,
    params: dict[str, Any] | None = None,
    *,
    env: dict[str, str] | None = None,
    **driver: Any,
) -> Iterator[NodeDriver]:
    """A :class:`NodeProcess` and its :class:`NodeDriver` (``driver``: its arguments); the node
    must stop cleanly (exit code 0) at the end."""
    proc = NodeProcess(log_dir, model_dir, params, env=env)
    try:
        yield NodeDriver(client, proc, **driver)
    finally:
        log = proc.log()
        assert proc.stop() == 0, log[-3000:]


@contextlib.contextmanager
def ros_client() -> Iterator[Client]:
    """rclpy in this process on the harness's private domain, with a spinning :class:`Client`."""
    import rclpy

    os.environ.update({k: v for k, v in ros_environment().items() if k.startswith(("ROS_", "RCUTILS_"))})
    rclpy.init()
    client = Client()
    try:
        yield client
    finally:
        client.close()
        rclpy.shutdown()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str = "condition") -> Any:
    """Look at ``predicate`` whenever a message or service answer arrives, and every `POLL_S`,
    until it is truthy (its value); raise TimeoutError with ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _wakeups.count()
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        _wakeups.wait(seen, min(POLL_S, left))


def publish_until(publish: Callable[[], Any], predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Publish again every half second until ``predicate`` holds (a just-matched best-effort
    reader can miss the first samples)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publish()
        try:
            return wait_until(predicate, min(0.5, max(0.01, deadline - time.monotonic())), what)
        except TimeoutError:
            continue
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def image_msg(rgb: np.ndarray, stamp_sec: int, frame_id: str = "camera", encoding: str = "rgb8"):
    """An Image message from an RGB array, converted to ``encoding``."""
    from sensor_msgs.msg import Image

    data = {
        "rgb8": rgb,
        "bgr8": rgb[..., ::-1],
        "rgba8": np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2),
        "bgra8": np.concatenate([rgb[..., ::-1], np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2),
        "mono8": rgb.mean(axis=2).astype(np.uint8),
    }[encoding]
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding=encoding)
    msg.header.stamp.sec = stamp_sec
    msg.header.frame_id = frame_id
    msg.step = int(data.shape[1] * (data.shape[2] if data.ndim == 3 else 1))
    msg.data = np.ascontiguousarray(data).tobytes()
    return msg


def prompt_msg(object_id: int, stamp_sec: int, points=None, labels=None, box=None, mask=None, action=0, label="",
               stream=""):  # fmt: skip
    """A Prompt message."""
    from geometry_msgs.msg import Point32
    from sam2_ros.msg import Prompt
    from sensor_msgs.msg import Image

    msg = Prompt(action=action, object_id=object_id, label=label, stream=stream)
    msg.header.stamp.sec = stamp_sec
    for x, y in points or []:
        msg.points.append(Point32(x=float(x), y=float(y), z=0.0))
    msg.labels = [int(v) for v in labels or []]
    if box is not None:
        msg.has_box = True
        msg.box = [float(v) for v in box]
    if mask is not None:
        m = np.asarray(mask).astype(np.uint8) * 255
        msg.mask = Image(height=m.shape[0], width=m.shape[1], encoding="mono8", step=m.shape[1])
        msg.mask.data = m.tobytes()
    return msg


def mask_array(msg) -> np.ndarray:
    """A mono8 Image as HxW uint8."""
    return np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, : msg.width]
