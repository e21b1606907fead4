"""One camera stream: its tracker, objects and statistics, and how a scheduler `Job` runs on them.

The message <-> engine adaptation of one stream. It runs on the node's worker thread only (the
engine is not thread-safe): the job's image and prompts are converted from their messages and
applied to the tracker in the job's order, and the frame's outputs are published. The node
(node.py) owns the lifecycle, the callbacks and the scheduling.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sam2_ros.engine import FrameResult, InvalidInputError, Sam2Tracker
from sam2_ros.engine.drawing import draw_overlay
from sam2_ros.msg import Prompt
from sam2_ros.node import conversions
from sam2_ros.node.conversions import ConversionError, PromptRequest
from sam2_ros.node.objects import ObjectRegistry
from sam2_ros.node.params import RuntimeParams
from sam2_ros.node.scheduler import Job, PendingFrame

LATENCY_WINDOW = 100  # frames the latency percentiles and the rate are computed over


@dataclass
class StreamStats:
    """Frames processed and rejected, recent latencies (arrival to outputs) and output times.

    Written by the worker only; the node's diagnostics read them.
    """

    processed: int = 0
    rejected: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    done_times: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))

    def frame_done(self, arrived: float, now: float) -> None:
        """A frame that arrived at ``arrived`` has its outputs at ``now`` (time.monotonic)."""
        self.processed += 1
        self.latencies.append(now - arrived)
        self.done_times.append(now)

    def summary(self) -> dict[str, float]:
        """Output rate (Hz) and latency last/p50/p95 (ms) over the recent window; 0 when unknown."""
        lat, times = list(self.latencies), list(self.done_times)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return {
            "rate_hz": round((len(times) - 1) / span, 2) if span > 0 else 0.0,
            "latency_ms_last": round(lat[-1] * 1000, 1) if lat else 0.0,
            "latency_ms_p50": round(float(np.percentile(lat, 50)) * 1000, 1) if lat else 0.0,
            "latency_ms_p95": round(float(np.percentile(lat, 95)) * 1000, 1) if lat else 0.0,
        }


@dataclass
class Stream:
    """One camera: its tracker, publishers (mask, tracked_objects, overlay), objects and statistics.

    ``warn(kind, text)`` logs a warning (the node's, throttled per ``kind``: a fixed word naming
    the problem).
    """

    name: str
    topic: str
    tracker: Sam2Tracker
    publishers: dict[str, Any]
    warn: Callable[[str, str], None]
    objects: ObjectRegistry = field(default_factory=ObjectRegistry)
    stats: StreamStats = field(default_factory=StreamStats)

    def newest_stamp(self) -> int | None:
        """Stamp (ns) of the newest frame the tracker holds; None when it holds none."""
        keys = self.tracker.cached_keys
        return keys[-1] if keys else None

    def run(self, job: Job, params: RuntimeParams) -> None:
        """Reset, prompts before the frame, the frame, prompts made on it; then publish the frame's outputs."""
        self.tracker.mask_threshold = params.mask_threshold
        if job.reset:
            self.reset()
        for req in job.prompts_before:
            self.apply_prompt(req, params)
        if job.frame is None:
            return
        try:
            rgb = conversions.to_rgb(job.frame.message, params.max_image_pixels)
            start = time.monotonic()
            result = self.tracker.track(rgb, key=job.frame.stamp_ns)
        except (ConversionError, InvalidInputError) as exc:  # the tracker is untouched
            self.stats.rejected += 1
            kind = exc.kind if isinstance(exc, ConversionError) else "image_invalid"
            self.warn(kind, f"stream {self.name}: image dropped: {exc}")
            for req in job.prompts_after:
                self.apply_prompt(req, params)
            return
        for req in job.prompts_after:  # made on this frame: they show in its outputs
            result = self.apply_prompt(req, params) or result
        latency = time.monotonic() - start
        self.stats.frame_done(job.frame.arrived, time.monotonic())
        self.publish(job.frame, rgb, result, latency, params.publish_overlay)

    def reset(self) -> None:
        """Forget every object and frame."""
        self.tracker.reset()
        self.objects.clear()

    def apply_prompt(self, req: PromptRequest, params: RuntimeParams) -> FrameResult | None:
        """Apply one prompt; the newest frame's result after it, or None (dropped, or not an add/refine)."""
        tracker, name = self.tracker, self.name
        if req.action == Prompt.ACTION_RESET_STREAM:
            self.reset()
            return None
        if tracker.frame_idx < 0:
            self.warn("prompt_no_image", f"stream {name}: prompt dropped: no image processed yet")
            return None
        if req.action == Prompt.ACTION_REMOVE_OBJECT:
            try:
                tracker.remove_object(req.object_id)
            except InvalidInputError as exc:
                self.warn("remove_unknown", f"stream {name}: remove dropped: {exc}")
                return None
            self.objects.remove(req.object_id)
            return None
        if req.object_id not in tracker.object_ids and len(tracker.object_ids) >= params.max_objects:
            self.warn(
                "prompt_max_objects",
                f"stream {name}: prompt for new object {req.object_id} dropped: "
                f"max_objects ({params.max_objects}) already tracked",
            )
            return None
        at = req.stamp_ns if req.stamp_ns in tracker.cached_keys else None
        if at is None:
            self.warn(
                "prompt_stamp", f"stream {name}: prompt stamp matches no cached image; applied to the newest image"
            )
        try:
            mask = None
            if req.mask_msg is not None:
                mask = conversions.mask_prompt_to_array(req.mask_msg, *tracker.image_size)
            result = tracker.add_prompt(
                req.object_id, points=req.points, labels=req.labels, box=req.box, mask=mask, at=at
            )
        except (InvalidInputError, ConversionError) as exc:
            kind = exc.kind if isinstance(exc, ConversionError) else "prompt_invalid"
            self.warn(kind, f"stream {name}: prompt dropped: {exc}")
            return None
        self.objects.add(req.object_id, req.label)
        return result

    def publish(self, frame: PendingFrame, rgb: np.ndarray, result: FrameResult, latency: float, overlay: bool) -> None:
        """Publish the frame's mask, tracked objects and (``overlay``, when subscribed) overlay."""
        header = frame.message.header
        self.objects.record_frame({i: obj.visible for i, obj in result.objects.items()}, frame.stamp_ns)
        pubs = self.publishers
        pubs["mask"].publish(conversions.mono8_msg(result.label_image(), header))
        pubs["tracked_objects"].publish(
            conversions.tracked_objects_msg(result, header, self.name, self.objects, latency)
        )
        if overlay and pubs["overlay"].get_subscription_count() > 0:
            drawn = draw_overlay(rgb, result, self.objects.labels())
            pubs["overlay"].publish(conversions.rgb8_msg(drawn, header))
