"""The sam2_ros lifecycle node: camera images and prompts in, masks and tracked objects out.

Lifecycle transitions, subscriptions (the command inputs from the inputs table, commands.py),
publishers (from the outputs table, outputs.py), the reset service and diagnostics. Callbacks turn
each message into a typed command (the input's converter) and
only hand images, commands and resets to the `Scheduler` (scheduler.py) under the node's lock and
never block; one worker thread takes its jobs and runs each on its `Stream` (stream.py), so
latency does not grow when images come too fast.
Input is taken only while the node is active; deactivation drops whatever still waits.
"""

from __future__ import annotations

import threading
from functools import partial
from types import ModuleType
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile
from rclpy.service import Service
from rclpy.subscription import Subscription
from rclpy.timer import Timer
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import Trigger

from sam2_ros.engine import Sam2RosError, Sam2Tracker
from sam2_ros.node import conversions
from sam2_ros.node.book import StreamCounters
from sam2_ros.node.commands import INPUTS, Command, Input
from sam2_ros.node.conversions import ConversionError, ImageMsg, quoted, stamp_to_ns
from sam2_ros.node.depth_io import DepthInbox, camera_info_topic
from sam2_ros.node.engine_log import route_engine_log, unroute_engine_log
from sam2_ros.node.outputs import OUTPUTS, load_vision
from sam2_ros.node.params import PARAMETERS, NodeConfig, ParameterSpec, output_topic, read_config, read_runtime
from sam2_ros.node.qos import qos_profile
from sam2_ros.node.scheduler import Dropped, Scheduler
from sam2_ros.node.stream import Stream
from sam2_ros.node.throttle import WarningThrottle


class Sam2RosNode(LifecycleNode):
    """SAM 2 tracking as a ROS 2 lifecycle node (see README.md, docs/NODE.md)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sam2_ros", **kwargs)
        for spec in PARAMETERS:
            self._declare(spec)
        self._config: NodeConfig | None = None
        self._streams: dict[str, Stream] = {}
        self._scheduler: Scheduler[ImageMsg, Command] = Scheduler(())
        self._cv = threading.Condition()  # guards the scheduler
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._subs: list[Subscription] = []
        self._diag_pub: Publisher | None = None
        self._diag_timer: Timer | None = None
        self._reset_srv: Service | None = None
        self._backend_desc = ""
        self._input_group = ReentrantCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self._throttle = WarningThrottle()
        self._active = False  # taking input (guarded by _cv)
        self._vision: ModuleType | None = None  # vision_msgs.msg while its features are on
        self._engine_log = route_engine_log(self.get_logger())  # the engine's warnings, by this node's logger

    def destroy_node(self) -> None:
        unroute_engine_log(self._engine_log)
        super().destroy_node()

    def _declare(self, spec: ParameterSpec) -> None:
        """Declare parameter ``spec`` with its override or its default: every parameter has a value.

        An empty list has no type of its own (rclpy takes ``[]`` for a byte array and would then
        refuse a string-array value), so such a parameter is declared by type and then given its
        typed empty default. Left unset, it made ``ros2 param dump`` print nothing at all: rclpy
        answers a GetParameters request naming an unset parameter with no values.
        """
        if not (isinstance(spec.default, list) and not spec.default):
            self.declare_parameter(spec.name, spec.default, spec.descriptor())
            return
        writable = spec.descriptor()
        writable.read_only = False  # for the one set below; read-only again right after
        declared: Parameter[Any] = self.declare_parameter(spec.name, Parameter.Type(spec.type), writable)
        if declared.type_ == Parameter.Type.NOT_SET:
            self.set_parameters([Parameter(spec.name, Parameter.Type(spec.type), list(spec.default))])
        if spec.read_only:
            self.set_descriptor(spec.name, spec.descriptor())

    def param(self, name: str) -> Any:
        """The current value of parameter ``name``."""
        return self.get_parameter(name).value

    def _warn(self, kind: str, text: str) -> None:
        """A warning, throttled per ``kind`` (a fixed word naming the problem)."""
        line = self._throttle.admit(kind, text)
        if line is not None:
            self.get_logger().warning(line)

    # ------------------------------------------------------------------ lifecycle
    def autostart(self) -> None:
        """Configure and activate now if parameter ``autostart`` is set."""
        if self.param("autostart"):
            self.trigger_configure()
            if self._config is not None:
                self.trigger_activate()

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            config = read_config(self.param)
            base = Sam2Tracker.from_model_dir(
                config.model_dir,
                backend=config.backend,
                threads=config.backend_threads,
                backend_options=config.backend_options,
                prompt_history=config.prompt_frame_cache,
                corrections_as_conditioning=config.corrections_as_conditioning,
                max_conditioning_frames=config.max_conditioning_frames,
            )
        except (ValueError, Sam2RosError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._config = config
        self._vision = load_vision()
        if self._vision is None:
            self.get_logger().warning(
                "vision_msgs is not installed: detections in, tracked_detections and label_info are off "
                "(install ros-$ROS_DISTRO-vision-msgs, then restart)"
            )
        outputs = [out for out in OUTPUTS if out.available(self._vision is not None, bool(config.depth_topics))]
        for i, (name, topic) in enumerate(zip(config.stream_names, config.image_topics)):
            publishers: dict[str, Publisher] = {
                out.kind: self.create_publisher(
                    out.message_class(), output_topic(config.image_topics, topic, out.kind), out.qos
                )
                for out in outputs
            }
            tracker = base if i == 0 else base.spawn()
            counters = StreamCounters()
            depth = DepthInbox(counters=counters) if config.depth_topics else None
            self._streams[name] = Stream(
                name, topic, tracker, publishers, self._warn, self._vision, depth, counters=counters
            )
        self._scheduler = Scheduler(self._streams, counters={n: s.counters for n, s in self._streams.items()})
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(config.diagnostics_period_s, self._publish_diagnostics)
        self._reset_srv = self.create_service(Trigger, "~/reset", self._on_reset, callback_group=self._service_group)
        model = base.manifest
        self._backend_desc = f"{config.backend} ({model.source.get('config')}, {model.settings.image_size} px)"
        self.get_logger().info(
            f"configured: {len(self._streams)} stream(s) {list(self._streams)}, model {config.model_dir}, "
            f"backend {self._backend_desc}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        assert self._config is not None
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="sam2_ros_worker", daemon=True)
        self._worker.start()
        with self._cv:
            self._active = True  # before the subscriptions: their first messages are taken
        qos = qos_profile(self._config.input_depth, reliable=self._config.input_reliability == "reliable")
        compressed = self._config.image_transport == "compressed"
        for stream in self._streams.values():
            self._subs.append(
                self.create_subscription(
                    CompressedImage if compressed else Image,
                    f"{stream.topic}/compressed" if compressed else stream.topic,
                    lambda msg, name=stream.name: self._on_image(name, msg),
                    qos,
                    callback_group=self._input_group,
                )
            )
        self._subscribe_commands(self._config)
        if self._config.depth_topics:
            self._subscribe_depth(self._config)
        self.get_logger().info("active")
        return TransitionCallbackReturn.SUCCESS

    def _subscribe_depth(self, config: NodeConfig) -> None:
        """Each stream's depth image and the CameraInfo next to it (depth_topics), with the depth QoS."""
        qos = qos_profile(2, reliable=config.depth_reliability == "reliable")
        for stream, depth_topic in zip(self._streams.values(), config.depth_topics):
            inbox = stream.depth
            assert inbox is not None
            for topic, msg_type, store in (
                (depth_topic, Image, inbox.put_depth),
                (camera_info_topic(depth_topic), CameraInfo, inbox.put_info),
            ):
                self._subs.append(
                    self.create_subscription(msg_type, topic, store, qos, callback_group=self._input_group)
                )

    def _subscribe_commands(self, config: NodeConfig) -> None:
        """The command inputs of the `INPUTS` table (commands.py) that the parameters turn on: a
        node-wide topic, or each stream's topics."""
        for source in INPUTS:
            if (source.enabled_by and not self.param(source.enabled_by)) or (
                source.needs_vision and self._vision is None
            ):
                continue
            qos = qos_profile(source.depth, reliable=source.reliable)
            if source.topics is None:
                self._subscribe_input(source, source.kind, "", qos)
                continue
            for stream in self._streams.values():
                relative = partial(output_topic, config.image_topics, stream.topic)
                for topic in source.topics(stream.topic, relative):
                    self._subscribe_input(source, topic, stream.name, qos)

    def _subscribe_input(self, source: Input, topic: str, stream: str, qos: QoSProfile) -> None:
        self._subs.append(
            self.create_subscription(
                source.message_class(),
                topic,
                lambda msg: self._on_command_input(source, stream, msg),
                qos,
                callback_group=self._input_group,
            )
        )

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        dropped = self.stop_worker()
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs.clear()
        self.get_logger().info(
            f"inactive: dropped {dropped.images} waiting image(s), {dropped.prompts} prompt(s), "
            f"{dropped.resets} reset request(s)"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def stop_worker(self) -> Dropped:
        """Stop taking input and the inference worker thread (waits for its current job, whose
        outputs are still published), then drop whatever still waits; returns what was dropped."""
        with self._cv:
            self._active = False  # callbacks from now on drop their message
            self._stop.set()
            self._cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)
            self._worker = None
        with self._cv:
            dropped = self._scheduler.drop_waiting()
            self._cv.notify_all()  # a reset call waiting for a dropped request answers now
        return dropped

    def _release(self) -> None:
        for stream in self._streams.values():
            for pub in stream.publishers.values():
                self.destroy_publisher(pub)
        self._streams.clear()
        self._scheduler = Scheduler(())
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
        if self._reset_srv is not None:
            self.destroy_service(self._reset_srv)
        self._diag_timer = self._diag_pub = self._reset_srv = None
        self._config = None

    # ------------------------------------------------------------------ callbacks (never block)
    def _on_image(self, stream: str, msg: ImageMsg) -> None:
        """Queue the image, or reject it here if its header shows it bad (it never displaces a good one)."""
        problem: ConversionError | None = None
        try:
            conversions.check_image_msg(msg, int(self.param("max_image_pixels")))
        except ConversionError as exc:
            problem = exc
        with self._cv:
            if not self._active:
                return
            if problem is None:
                self._scheduler.put_image(stream, msg, stamp_to_ns(msg.header.stamp))
                self._cv.notify()
                return
            self._scheduler.reject_image(stream)
        self._warn(problem.kind, f"stream {stream}: image dropped: {problem}")

    def _on_command_input(self, source: Input, stream: str, msg: Any) -> None:
        """Turn one input message into a command and queue it (``stream``: "" for a node-wide
        input, whose message names its stream)."""
        where = f"stream {stream}: " if stream else ""
        try:
            command, problems = source.convert(msg, stream)
        except ConversionError as exc:
            self._warn(exc.kind, f"{where}{source.kind} dropped: {exc}")
            return
        for problem in problems:
            self._warn(problem.kind, f"{where}{problem}; dropped")
        name = command.stream or (next(iter(self._streams)) if len(self._streams) == 1 else "")
        if name not in self._streams:
            self._warn(
                f"{source.kind}_unknown_stream",
                f"{source.kind} dropped: unknown stream {quoted(command.stream)}; streams are {list(self._streams)}",
            )
            return
        with self._cv:
            if self._active:
                self._scheduler.put_prompt(name, command)
                self._cv.notify()
                return
        self._warn("inactive", f"{source.kind} dropped: the node is not active")

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Reset every stream before its next frame; refused (nothing queued) while the node is not active."""
        with self._cv:
            if not self._active:
                response.success = False
                response.message = "node is not active: nothing was reset (activate it, then call ~/reset)"
                return response
            scheduler = self._scheduler
            ticket = scheduler.request_reset()
            self._cv.notify()
            # done, or dropped by a deactivation (then not done)
            finished = self._cv.wait_for(lambda: not scheduler.reset_pending(), timeout=30)
            response.success = scheduler.reset_done(ticket)
        if response.success:
            response.message = f"reset {len(self._streams)} stream(s)"
        elif finished:
            response.message = "node was deactivated before the reset ran: nothing was reset"
        else:
            response.message = "reset not done within 30 s; it still runs before the next frame"
        return response

    # ------------------------------------------------------------------ worker
    def _stop_or_work(self, wait_s: float) -> bool:
        """Whether the worker must stop, or has work (prompts wait up to ``wait_s``)."""
        return self._stop.is_set() or self._scheduler.has_work(wait_s)

    def _work(self) -> None:
        params = read_runtime(self.param)
        while not self._stop.is_set():
            wait_s = params.prompt_wait_s
            with self._cv:  # wake up for work, or after 0.2 s: a waiting prompt's time may be up
                self._cv.wait_for(partial(self._stop_or_work, wait_s), timeout=0.2)
            if self._stop.is_set():
                break
            params = read_runtime(self.param)  # one snapshot per job
            with self._cv:
                jobs = self._scheduler.take_all(params.prompt_wait_s)
            for name, job in jobs.items():
                stream = self._streams[name]
                try:
                    stream.run(job, params)
                except Exception as exc:  # keep the node alive whatever happens in one frame
                    line = self._throttle.admit("worker_error", f"stream {name}: {type(exc).__name__}: {exc}")
                    if line is not None:
                        self.get_logger().error(line)
                newest = stream.newest_stamp()
                with self._cv:
                    self._scheduler.finish(name, job, newest)
            with self._cv:
                self._cv.notify_all()

    def _publish_diagnostics(self) -> None:
        if self._diag_pub is None:
            return
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for stream in self._streams.values():
            with self._cv:
                counts = stream.counters.diagnostics(len(stream.book), depth=stream.depth is not None)
                values = {**counts, "backend": self._backend_desc}
            status = DiagnosticStatus(
                level=DiagnosticStatus.OK,
                name=f"{self.get_fully_qualified_name()}: {stream.name}",
                hardware_id=self._backend_desc,
                message="tracking" if stream.counters.processed else "waiting for images",
            )
            status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
            array.status.append(status)
        self._diag_pub.publish(array)
