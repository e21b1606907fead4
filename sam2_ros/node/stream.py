"""One camera stream and how a scheduler `Job` runs on it, in order: reset, the commands made
before the frame, the frame, the commands made on it; then the frame's outputs.

Runs on the node's worker thread only (the engine is not thread-safe). What a command does is in
handlers.py, how the outputs are built in outputs.py (and publish3d.py); the node
(node.py) owns the lifecycle, the callbacks and the scheduling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
from rclpy.publisher import Publisher

from sam2_ros.engine import FrameResult, InvalidInputError, Sam2Tracker
from sam2_ros.node import conversions
from sam2_ros.node.book import ObjectBook, StreamCounters, cached_stamps
from sam2_ros.node.commands import Command
from sam2_ros.node.conversions import ConversionError, ImageMsg
from sam2_ros.node.depth_io import DepthInbox
from sam2_ros.node.handlers import Context, handle, reset
from sam2_ros.node.outputs import FrameOutputs, publish_frame
from sam2_ros.node.params import RuntimeParams
from sam2_ros.node.publish3d import locate_objects
from sam2_ros.node.scheduler import Job

StreamJob = Job[ImageMsg, Command]


@dataclass
class Stream:
    """One camera: its tracker, object book, counters and publishers (by output kind, outputs.py);
    with ``vision`` (the vision_msgs module) its vision outputs, with ``depth`` its 3D ones.

    ``warn(kind, text)`` logs a warning (the node's, throttled per ``kind``: a fixed word naming
    the problem).
    """

    name: str
    topic: str
    tracker: Sam2Tracker
    publishers: dict[str, Publisher]
    warn: Callable[[str, str], None]
    vision: ModuleType | None = None
    depth: DepthInbox | None = None  # with depth_topics: this stream's depth images and camera info
    book: ObjectBook = field(default_factory=ObjectBook)
    counters: StreamCounters = field(default_factory=StreamCounters)

    def newest_stamp(self) -> int | None:
        """Stamp (ns) of the newest frame the tracker holds; None when it holds none."""
        stamps = cached_stamps(self.tracker)
        return stamps[-1] if stamps else None

    def stream_warn(self, kind: str, text: str) -> None:
        """A warning about this stream (its name in front of ``text``)."""
        self.warn(kind, f"stream {self.name}: {text}")

    def run(self, job: StreamJob, params: RuntimeParams) -> None:
        """Reset, commands before the frame, the frame, commands made on it; then publish the frame's outputs."""
        self.tracker.mask_threshold = params.mask_threshold
        self.tracker.speck_fraction = params.speck_fraction
        ctx = Context(self.tracker, self.book, self.counters, params, self.stream_warn, self.topic, job.unseen_stamps)
        if job.reset:
            reset(ctx)
        for command in job.prompts_before:
            self.apply(command, ctx)
        if job.frame is None:
            return
        try:
            rgb = conversions.to_rgb(job.frame.message, params.max_image_pixels)
            start = time.monotonic()
            result = self.tracker.track(rgb, key=job.frame.stamp_ns)
        except (ConversionError, InvalidInputError) as exc:  # the tracker is untouched
            self.counters.rejected += 1
            kind = exc.kind if isinstance(exc, ConversionError) else "image_invalid"
            self.stream_warn(kind, f"image dropped: {exc}")
            for command in job.prompts_after:
                self.apply(command, ctx)
            return
        self.book.remember(result, cached_stamps(self.tracker))
        for command in job.prompts_after:  # made on this frame: they show in its outputs
            result = self.apply(command, ctx) or result
        latency = time.monotonic() - start
        self.counters.frame_done(job.frame.arrived, time.monotonic())
        self.publish(job.frame.message, job.frame.stamp_ns, rgb, result, latency, params)

    def apply(self, command: Command, ctx: Context) -> FrameResult | None:
        """Apply one command (handlers.py); the newest frame's result after it, or None."""
        result = handle(command, ctx)
        if result is not None:
            self.book.remember(result, cached_stamps(self.tracker))
        return result

    def publish(
        self,
        message: ImageMsg,
        stamp_ns: int,
        rgb: np.ndarray,
        result: FrameResult,
        latency: float,
        params: RuntimeParams,
    ) -> None:
        """Record the frame in the book, locate its objects in 3D (with depth), publish its outputs."""
        visible = {i: obj.visible for i, obj in result.objects.items()}
        boxes = {i: obj.bbox for i, obj in result.objects.items() if obj.visible}
        self.book.record_frame(visible, stamp_ns, boxes)
        located = None
        if self.depth is not None:
            located = locate_objects(self.depth, stamp_ns, result, params, self.counters, self.stream_warn)
        frame = FrameOutputs(self.name, message.header, rgb, result, latency, self.book, params, self.vision, located)
        publish_frame(self.publishers, frame)
