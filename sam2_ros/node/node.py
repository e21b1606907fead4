"""The sam2_ros lifecycle node: camera images and prompts in, masks and tracked objects out.

Callbacks only store the newest image per stream and queue prompts; one worker thread runs
the engine. When images come faster than inference, only the newest waits and older ones are
dropped and counted, so latency does not grow with time.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_srvs.srv import Trigger

from sam2_ros.engine import InvalidInputError, Sam2RosError, Sam2Tracker
from sam2_ros.msg import Prompt, TrackedObjectArray
from sam2_ros.node import conversions
from sam2_ros.node.params import PARAMETERS, NodeConfig, descriptor, read_config, stream_name

LATENCY_WINDOW = 100
WARN_EVERY_S = 2.0  # the same kind of warning at most this often


@dataclass
class Stream:
    """One camera: its tracker, inbox and counters. Engine calls happen on the worker only."""

    name: str
    topic: str
    tracker: Sam2Tracker
    publishers: dict[str, Any]
    pending: tuple[Any, float] | None = None  # newest unprocessed image message, arrival time
    prompts: deque = field(default_factory=deque)  # (PromptRequest, arrival time)
    reset_requested: bool = False
    stamps: deque = field(default_factory=deque)  # (frame_idx, stamp_ns) of cached frames
    labels: dict[int, str] = field(default_factory=dict)
    frames_tracked: dict[int, int] = field(default_factory=dict)
    last_seen: dict[int, Time] = field(default_factory=dict)
    received: int = 0
    processed: int = 0
    dropped: int = 0
    rejected: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    done_times: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    last_size: tuple[int, int] | None = None

    def forget_objects(self) -> None:
        self.labels.clear()
        self.frames_tracked.clear()
        self.last_seen.clear()


class Sam2RosNode(LifecycleNode):
    """SAM 2 tracking as a ROS 2 lifecycle node (see README.md, docs/NODE.md)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sam2_ros", **kwargs)
        for name, (default, *_rest) in PARAMETERS.items():
            self.declare_parameter(name, default, descriptor(name))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._config: NodeConfig | None = None
        self._streams: dict[str, Stream] = {}
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._image_subs: list[Any] = []
        self._diag_pub = None
        self._diag_timer = None
        self._reset_srv = None
        self._backend_desc = ""
        self._input_group = ReentrantCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self._warned: dict[str, float] = {}

    def _warn(self, text: str) -> None:
        """A warning, throttled per kind of message (the text without its numbers)."""
        key = re.sub(r"[0-9.]+", "#", text)
        now = time.monotonic()
        if now - self._warned.get(key, -1e9) >= WARN_EVERY_S:
            self._warned[key] = now
            self.get_logger().warning(text)

    # ------------------------------------------------------------------ parameters
    def param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for p in params:
            if p.name == "mask_threshold":
                for stream in self._streams.values():
                    stream.tracker.mask_threshold = float(p.value)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            config = read_config(self.param)
            base = Sam2Tracker.from_model_dir(
                config.model_dir,
                backend=config.backend,
                threads=config.backend_threads,
                backend_options=config.backend_options,
                prompt_history=config.prompt_frame_cache,
            )
        except (ValueError, Sam2RosError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        base.mask_threshold = float(self.param("mask_threshold"))
        self._config = config
        single = len(config.image_topics) == 1
        for i, topic in enumerate(config.image_topics):
            name = stream_name(topic)
            if name in self._streams:
                self.get_logger().error(f"two image topics map to the same stream name {name!r}")
                self._streams.clear()
                return TransitionCallbackReturn.FAILURE
            prefix = "" if single else f"{name}/"
            publishers = {
                "mask": self.create_publisher(Image, f"{prefix}mask", 10),
                "tracked_objects": self.create_publisher(TrackedObjectArray, f"{prefix}tracked_objects", 10),
                "overlay": self.create_publisher(Image, f"{prefix}overlay", 2),
            }
            tracker = base if i == 0 else base.spawn()
            self._streams[name] = Stream(name, topic, tracker, publishers)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(config.diagnostics_period_s, self._publish_diagnostics)
        self._reset_srv = self.create_service(Trigger, "~/reset", self._on_reset, callback_group=self._service_group)
        model = base.manifest
        self._backend_desc = f"{config.backend} ({model.source.get('config')}, {model.settings.image_size} px)"
        if model.random_weights:
            self.get_logger().warning("the model has RANDOM weights: its masks carry no meaning")
        self.get_logger().info(
            f"configured: {len(self._streams)} stream(s) {list(self._streams)}, model {config.model_dir}, "
            f"backend {self._backend_desc}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        assert self._config is not None
        qos = QoSProfile(depth=self._config.input_depth)
        qos.reliability = (
            ReliabilityPolicy.RELIABLE
            if self._config.input_reliability == "reliable"
            else ReliabilityPolicy.BEST_EFFORT
        )
        compressed = self._config.image_transport == "compressed"
        for stream in self._streams.values():
            topic = f"{stream.topic}/compressed" if compressed else stream.topic
            self._image_subs.append(
                self.create_subscription(
                    CompressedImage if compressed else Image,
                    topic,
                    lambda msg, s=stream: self._on_image(s, msg),
                    qos,
                    callback_group=self._input_group,
                )
            )
        self._image_subs.append(
            self.create_subscription(Prompt, "prompt", self._on_prompt, 50, callback_group=self._input_group)
        )
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="sam2_ros_worker", daemon=True)
        self._worker.start()
        self.get_logger().info("active")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._stop_worker()
        for sub in self._image_subs:
            self.destroy_subscription(sub)
        self._image_subs.clear()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop_worker(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)
            self._worker = None

    def _release(self) -> None:
        for stream in self._streams.values():
            for pub in stream.publishers.values():
                self.destroy_publisher(pub)
        self._streams.clear()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
            self._diag_pub = None
        if self._reset_srv is not None:
            self.destroy_service(self._reset_srv)
            self._reset_srv = None
        self._config = None

    # ------------------------------------------------------------------ callbacks
    def _on_image(self, stream: Stream, msg: Any) -> None:
        with self._cv:
            stream.received += 1
            if stream.pending is not None:
                stream.dropped += 1
            stream.pending = (msg, time.monotonic())
            self._cv.notify()

    def _on_prompt(self, msg: Prompt) -> None:
        try:
            request = conversions.prompt_from_msg(msg)
        except conversions.ConversionError as exc:
            self._warn(f"prompt dropped: {exc}")
            return
        stream = self._stream_for(request.stream)
        if stream is None:
            self._warn(f"prompt dropped: unknown stream {request.stream!r}; streams are {list(self._streams)}")
            return
        with self._cv:
            stream.prompts.append((request, time.monotonic()))
            self._cv.notify()

    def _stream_for(self, name: str) -> Stream | None:
        if not name and len(self._streams) == 1:
            return next(iter(self._streams.values()))
        return self._streams.get(name)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._cv:
            for stream in self._streams.values():
                stream.reset_requested = True
            self._cv.notify()
            done = self._cv.wait_for(
                lambda: not any(s.reset_requested for s in self._streams.values()) or self._worker is None, timeout=30
            )
        response.success = bool(done) and self._worker is not None
        response.message = f"reset {len(self._streams)} stream(s)" if response.success else "node is not active"
        return response

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while not self._stop.is_set():
            with self._cv:
                self._cv.wait_for(lambda: self._stop.is_set() or self._has_work(), timeout=0.2)
                if self._stop.is_set():
                    break
                jobs = [self._take(stream) for stream in self._streams.values()]
            for stream, job in zip(self._streams.values(), jobs):
                if job is not None:
                    try:
                        self._run(stream, *job)
                    except Exception as exc:  # keep the node alive whatever happens in one frame
                        self.get_logger().error(f"stream {stream.name}: {type(exc).__name__}: {exc}")
            with self._cv:
                self._cv.notify_all()

    def _has_work(self) -> bool:
        now = time.monotonic()
        for stream in self._streams.values():
            if stream.pending is not None or stream.reset_requested:
                return True
            if any(self._prompt_ready(stream, req, t, now) for req, t in stream.prompts):
                return True
        return False

    def _prompt_ready(self, stream: Stream, req: Any, arrived: float, now: float) -> bool:
        newest = stream.stamps[-1][1] if stream.stamps else -1
        waiting = req.stamp_ns > newest and now - arrived < float(self.param("prompt_wait_s"))
        return not waiting

    def _take(self, stream: Stream):
        """Under the lock: what the worker does for ``stream`` now (or None)."""
        reset = stream.reset_requested
        frame = stream.pending
        stream.pending = None
        now = time.monotonic()
        before, after, keep = [], [], deque()
        frame_stamp = _stamp_ns(frame[0].header.stamp) if frame is not None else None
        for req, arrived in stream.prompts:
            if frame_stamp is not None and req.stamp_ns == frame_stamp:
                after.append(req)
            elif self._prompt_ready(stream, req, arrived, now):
                before.append(req)
            else:
                keep.append((req, arrived))
        stream.prompts = keep
        if not (reset or frame or before or after):
            return None
        return reset, frame, before, after

    def _run(self, stream: Stream, reset: bool, frame, before: list, after: list) -> None:
        if reset:
            stream.tracker.reset()
            stream.stamps.clear()
            stream.forget_objects()
            with self._cv:
                stream.reset_requested = False
        for req in before:
            self._apply_prompt(stream, req)
        if frame is None:
            return
        msg, arrived = frame
        try:
            rgb = self._to_rgb(msg)
        except conversions.ConversionError as exc:
            stream.rejected += 1
            self._warn(f"stream {stream.name}: image dropped: {exc}")
            for req in after:
                self._apply_prompt(stream, req)
            return
        start = time.monotonic()
        result = stream.tracker.track(rgb)
        stream.stamps.append((result.frame_idx, _stamp_ns(msg.header.stamp)))
        while len(stream.stamps) > stream.tracker.prompt_history:
            stream.stamps.popleft()
        for req in after:
            result = self._apply_prompt(stream, req) or result
        latency = time.monotonic() - start
        stream.processed += 1
        stream.latencies.append(time.monotonic() - arrived)
        stream.done_times.append(time.monotonic())
        stream.last_size = result.image_size
        self._publish(stream, msg.header, rgb, result, latency)

    def _to_rgb(self, msg: Any) -> np.ndarray:
        max_pixels = int(self.param("max_image_pixels"))
        if isinstance(msg, CompressedImage):
            return conversions.compressed_to_rgb(msg, max_pixels)
        return conversions.image_to_rgb(msg, max_pixels)

    def _apply_prompt(self, stream: Stream, req: Any):
        tracker = stream.tracker
        if req.action == Prompt.ACTION_RESET_STREAM:
            tracker.reset()
            stream.stamps.clear()
            stream.forget_objects()
            return None
        if tracker.frame_idx < 0:
            self._warn(f"stream {stream.name}: prompt dropped: no image processed yet")
            return None
        if req.action == Prompt.ACTION_REMOVE_OBJECT:
            try:
                tracker.remove_object(req.object_id)
            except InvalidInputError as exc:
                self._warn(f"stream {stream.name}: remove dropped: {exc}")
                return None
            stream.labels.pop(req.object_id, None)
            stream.frames_tracked.pop(req.object_id, None)
            stream.last_seen.pop(req.object_id, None)
            return None
        if req.object_id not in tracker.object_ids and len(tracker.object_ids) >= int(self.param("max_objects")):
            self._warn(
                f"stream {stream.name}: prompt for new object {req.object_id} dropped: "
                f"max_objects ({self.param('max_objects')}) already tracked"
            )
            return None
        frame_idx = next((idx for idx, stamp in stream.stamps if stamp == req.stamp_ns), None)
        if frame_idx is None:
            self._warn(f"stream {stream.name}: prompt stamp matches no cached image; applied to the newest image")
        try:
            mask = None
            if req.mask_msg is not None:
                height, width = tracker.image_size
                mask = conversions.mask_prompt_to_array(req.mask_msg, height, width)
            result = tracker.add_prompt(
                req.object_id, points=req.points, labels=req.labels, box=req.box, mask=mask, frame_idx=frame_idx
            )
        except (InvalidInputError, conversions.ConversionError) as exc:
            self._warn(f"stream {stream.name}: prompt dropped: {exc}")
            return None
        if req.label:
            stream.labels[req.object_id] = req.label
        stream.frames_tracked.setdefault(req.object_id, 0)
        return result

    def _publish(self, stream: Stream, header: Any, rgb: np.ndarray, result: Any, latency: float) -> None:
        height, width = result.image_size
        for obj_id, obj in result.objects.items():
            stream.frames_tracked[obj_id] = stream.frames_tracked.get(obj_id, 0) + 1
            if obj.visible:
                stream.last_seen[obj_id] = header.stamp
        pubs = stream.publishers
        pubs["mask"].publish(conversions.mono8_msg(conversions.label_image(result, height, width), header))
        pubs["tracked_objects"].publish(
            conversions.tracked_objects_msg(
                result, header, stream.name, stream.labels, stream.frames_tracked, stream.last_seen, latency
            )
        )
        if self.param("publish_overlay") and pubs["overlay"].get_subscription_count() > 0:
            pubs["overlay"].publish(conversions.rgb8_msg(conversions.overlay(rgb, result, stream.labels), header))

    def _publish_diagnostics(self) -> None:
        if self._diag_pub is None:
            return
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for stream in self._streams.values():
            with self._cv:
                lat = list(stream.latencies)
                times = list(stream.done_times)
                values = {
                    "frames_received": stream.received,
                    "frames_processed": stream.processed,
                    "frames_dropped": stream.dropped,
                    "messages_rejected": stream.rejected,
                    "objects": len(stream.frames_tracked),
                }
            rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
            values["rate_hz"] = round(rate, 2)
            values["latency_ms_last"] = round(lat[-1] * 1000, 1) if lat else 0.0
            values["latency_ms_p50"] = round(float(np.percentile(lat, 50)) * 1000, 1) if lat else 0.0
            values["latency_ms_p95"] = round(float(np.percentile(lat, 95)) * 1000, 1) if lat else 0.0
            values["backend"] = self._backend_desc
            status = DiagnosticStatus(
                level=DiagnosticStatus.OK,
                name=f"{self.get_fully_qualified_name()}: {stream.name}",
                hardware_id=self._backend_desc,
                message="tracking" if stream.processed else "waiting for images",
            )
            status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
            array.status.append(status)
        self._diag_pub.publish(array)


def _stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def main(args: list[str] | None = None) -> int:
    """Entry point of ``sam2_ros_node``."""
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    rclpy.init(args=args)
    node = Sam2RosNode()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        if node.param("autostart"):
            node.trigger_configure()
            if node._config is not None:
                node.trigger_activate()
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node._stop_worker()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
