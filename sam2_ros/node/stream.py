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
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import numpy as np
from std_msgs.msg import Header

from sam2_ros.engine import FrameResult, InvalidInputError, Sam2Tracker
from sam2_ros.engine.drawing import draw_overlay
from sam2_ros.msg import Prompt
from sam2_ros.node import conversions, vision
from sam2_ros.node.conversions import NEW_OBJECT, NEWEST_FRAME, ConversionError, PromptRequest
from sam2_ros.node.depth import MIN_DEPTH_PIXELS, DepthError, Object3D, locate
from sam2_ros.node.depth_io import DepthInbox, frame_depth
from sam2_ros.node.detections import Action, DetectionRequest, TrackedBox, associate, clip_box
from sam2_ros.node.objects import Box, ObjectRegistry
from sam2_ros.node.params import RuntimeParams
from sam2_ros.node.scene import cloud_msg, markers_msg
from sam2_ros.node.scheduler import Job, PendingFrame
from sam2_ros.node.stamps import NS_PER_S

LATENCY_WINDOW = 100  # frames the latency percentiles and the rate are computed over


@dataclass
class StreamStats:
    """Frames processed and rejected, recent latencies (arrival to outputs) and output times.

    Written by the worker only; the node's diagnostics read them.
    """

    processed: int = 0
    rejected: int = 0
    detection_arrays: int = 0  # detection messages applied (empty ones included)
    detection_adds: int = 0  # objects added from detections
    detection_reseeds: int = 0  # lost objects re-seeded from detections
    frames_with_depth: int = 0  # published frames that had a depth image to pair with
    frames_without_depth: int = 0  # with depth on: published frames without a usable depth image
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
    """One camera: its tracker, publishers (mask, tracked_objects, overlay; with ``vision``, the
    vision_msgs module, also tracked_detections and label_info), objects and statistics.

    ``warn(kind, text)`` logs a warning (the node's, throttled per ``kind``: a fixed word naming
    the problem).
    """

    name: str
    topic: str
    tracker: Sam2Tracker
    publishers: dict[str, Any]
    warn: Callable[[str, str], None]
    vision: ModuleType | None = None
    depth: DepthInbox | None = None  # with depth_topics: this stream's depth images and camera info
    objects: ObjectRegistry = field(default_factory=ObjectRegistry)
    stats: StreamStats = field(default_factory=StreamStats)
    # per cached frame (stamp): object id -> (visible, box), what detections are matched against
    frame_boxes: dict[Any, dict[int, tuple[bool, Box | None]]] = field(default_factory=dict)
    published_label_map: tuple[tuple[int, str], ...] | None = None  # the label_info last published
    marker_ids: set[int] = field(default_factory=set)  # objects with markers shown in RViz

    def newest_stamp(self) -> int | None:
        """Stamp (ns) of the newest frame the tracker holds; None when it holds none."""
        keys = self.tracker.cached_keys
        return keys[-1] if keys else None

    def run(self, job: Job, params: RuntimeParams) -> None:
        """Reset, prompts before the frame, the frame, prompts made on it; then publish the frame's outputs."""
        self.tracker.mask_threshold = params.mask_threshold
        self.tracker.speck_fraction = params.speck_fraction
        if job.reset:
            self.reset()
        for req in job.prompts_before:
            self.apply(req, params, job.unseen_stamps)
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
                self.apply(req, params, job.unseen_stamps)
            return
        self.remember(result)
        for req in job.prompts_after:  # made on this frame: they show in its outputs
            result = self.apply(req, params, job.unseen_stamps) or result
        latency = time.monotonic() - start
        self.stats.frame_done(job.frame.arrived, time.monotonic())
        self.publish(job.frame, rgb, result, latency, params)

    def reset(self) -> None:
        """Forget every object and frame."""
        self.tracker.reset()
        self.objects.clear()
        self.frame_boxes.clear()

    def apply(
        self, req: PromptRequest | DetectionRequest, params: RuntimeParams, unseen: frozenset[int]
    ) -> FrameResult | None:
        """Apply a prompt or the detections of one image; the newest frame's result after it, or None."""
        if isinstance(req, DetectionRequest):
            result = self.apply_detections(req, params, unseen)
        else:
            result = self.apply_prompt(req, params)
        if result is not None:
            self.remember(result)
        return result

    def remember(self, result: FrameResult) -> None:
        """Keep the objects' visibility and boxes on ``result``'s frame (for detections stamped like it)."""
        keys = self.tracker.cached_keys
        self.frame_boxes = {k: v for k, v in self.frame_boxes.items() if k in keys}
        self.frame_boxes[result.key] = {
            obj_id: (obj.visible, obj.bbox if obj.visible else None) for obj_id, obj in result.objects.items()
        }

    def tracked_boxes(self, key: Any) -> list[TrackedBox]:
        """What detections on frame ``key`` are matched against: each object there, with its record."""
        boxes = self.frame_boxes.get(key, {})
        tracked = []
        for obj_id in self.tracker.object_ids:
            record = self.objects.get(obj_id)
            visible, box = boxes.get(obj_id, (False, None))
            box = box if visible and box is not None else record.last_box
            tracked.append(TrackedBox(obj_id, record.label, visible and box is not None, box, record.hidden_frames))
        return tracked

    def apply_detections(
        self, req: DetectionRequest, params: RuntimeParams, unseen: frozenset[int]
    ) -> FrameResult | None:
        """Match one image's detections to the objects (detections.py) and apply what they decide."""
        tracker, name = self.tracker, self.name
        stamp = f"{req.stamp_ns / NS_PER_S:.3f} s"
        if req.stamp_ns in unseen:
            self.warn(
                "detections_stamp",
                f"stream {name}: detections dropped: their stamp {stamp} matches no image received on "
                f"{self.topic} (stamp detections with their image's header)",
            )
            return None
        if tracker.frame_idx < 0:
            self.warn("detections_no_image", f"stream {name}: detections dropped: no image processed yet")
            return None
        self.stats.detection_arrays += 1
        if not req.detections:
            return None  # a detector's "nothing seen": nothing to do
        at = req.stamp_ns if req.stamp_ns in tracker.cached_keys else None
        if at is None:
            self.warn(
                "detections_late",
                f"stream {name}: detections stamped {stamp} came after their image left the node's frame cache "
                "(or the image was skipped to keep up); applied to the newest image",
            )
        height, width = tracker.image_size
        inside = []
        for det in req.detections:
            box = clip_box(det.box, height, width)
            if box is None:
                self.warn(
                    "detection_outside",
                    f"stream {name}: detection {tuple(round(v, 1) for v in det.box)} lies outside the "
                    f"{width}x{height} image; dropped",
                )
                continue
            inside.append(replace(det, box=box))
        key = at if at is not None else tracker.cached_keys[-1]
        free = max(0, params.max_objects - len(tracker.object_ids))
        outcome = associate(inside, self.tracked_boxes(key), params.detection, free)
        if outcome.over_limit:
            self.warn(
                "detection_max_objects",
                f"stream {name}: {outcome.over_limit} new detection(s) dropped: max_objects "
                f"({params.max_objects}) already tracked",
            )
        result = None
        for decision in outcome.decisions:
            det = decision.detection
            obj_id = decision.obj_id if decision.obj_id is not None else self.objects.free_id(tracker.object_ids)
            if obj_id is None:
                break
            try:
                result = tracker.add_prompt(obj_id, box=det.box, at=at)
            except InvalidInputError as exc:
                self.warn("detection_invalid", f"stream {name}: detection dropped: {exc}")
                continue
            keep_label = decision.action is not Action.ADD and self.objects.get(obj_id).label
            self.objects.add(obj_id, "" if keep_label else det.label, box=det.box)
            self.stats.detection_adds += decision.action is Action.ADD
            self.stats.detection_reseeds += decision.action is Action.RESEED
        return result

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
                f"stream {name}: {req.source} for a new object dropped: max_objects ({params.max_objects}) "
                "already tracked",
            )
            return None
        points = req.points
        if req.source == "click":
            points = self.click_on_image(req)
            if points is None:
                return None
        obj_id = req.object_id
        if obj_id == NEW_OBJECT:
            obj_id = self.objects.free_id(tracker.object_ids)
            if obj_id is None:
                self.warn("prompt_max_objects", f"stream {name}: {req.source} dropped: every object id is in use")
                return None
        at = req.stamp_ns if req.stamp_ns in tracker.cached_keys else None
        if at is None and req.stamp_ns != NEWEST_FRAME:
            self.warn(
                "prompt_stamp", f"stream {name}: prompt stamp matches no cached image; applied to the newest image"
            )
        try:
            mask = None
            if req.mask_msg is not None:
                mask = conversions.mask_prompt_to_array(req.mask_msg, *tracker.image_size)
            result = tracker.add_prompt(obj_id, points=points, labels=req.labels, box=req.box, mask=mask, at=at)
        except (InvalidInputError, ConversionError) as exc:
            kind = exc.kind if isinstance(exc, ConversionError) else "prompt_invalid"
            self.warn(kind, f"stream {name}: {req.source} dropped: {exc}")
            return None
        box = tuple(float(v) for v in req.box) if req.box is not None else None
        self.objects.add(obj_id, req.label, box=box)
        return result

    def click_on_image(self, req: PromptRequest) -> np.ndarray | None:
        """A click's point on the image (the far edge, where rqt_image_view's rounding puts some
        clicks, moved onto the last pixel); None, with a warning, when it lies outside."""
        height, width = self.tracker.image_size
        x, y = req.points[0]
        if 0 <= x <= width and 0 <= y <= height:
            return np.array([[min(x, width - 1), min(y, height - 1)]], np.float64)
        where = f"({x:.1f}, {y:.1f}) is outside the {width}x{height} image"
        self.warn("click_outside", f"stream {self.name}: click {where}; dropped")
        return None

    def publish(
        self, frame: PendingFrame, rgb: np.ndarray, result: FrameResult, latency: float, params: RuntimeParams
    ) -> None:
        """Publish the frame's mask, tracked objects, (``overlay``, when subscribed) overlay and, with
        vision_msgs, its tracked detections and (when the objects changed) the label map."""
        header = frame.message.header
        visible = {i: obj.visible for i, obj in result.objects.items()}
        boxes = {i: obj.bbox for i, obj in result.objects.items() if obj.visible}
        self.objects.record_frame(visible, frame.stamp_ns, boxes)
        spatial = self.locate(frame, result, params) if self.depth is not None else None
        located, position_frame = spatial if spatial is not None else ({}, "")
        pubs = self.publishers
        pubs["mask"].publish(conversions.mono8_msg(result.label_image(), header))
        pubs["tracked_objects"].publish(
            conversions.tracked_objects_msg(result, header, self.name, self.objects, latency, located, position_frame)
        )
        if spatial is not None:
            self.publish_3d(Header(stamp=header.stamp, frame_id=position_frame), result, located, params)
        if self.vision is not None:
            labels = self.objects.labels()
            pubs["tracked_detections"].publish(vision.tracked_detections_msg(self.vision, result, header, labels))
            mapping = vision.label_map(list(result.objects), labels)
            if mapping != self.published_label_map:
                pubs["label_info"].publish(vision.label_info_msg(self.vision, mapping, header))
                self.published_label_map = mapping
        if params.publish_overlay and pubs["overlay"].get_subscription_count() > 0:
            drawn = draw_overlay(rgb, result, self.objects.labels())
            pubs["overlay"].publish(conversions.rgb8_msg(drawn, header))

    def locate(
        self, frame: PendingFrame, result: FrameResult, params: RuntimeParams
    ) -> tuple[dict[int, Object3D], str] | None:
        """The visible objects in 3D (depth.py) from the depth image paired with ``frame``, and the
        depth's frame id; None when no depth image pairs with it or it cannot be used."""
        assert self.depth is not None
        pair = self.depth.pair(frame.stamp_ns, int(params.depth_max_dt * NS_PER_S))
        if pair is None:
            self.stats.frames_without_depth += 1
            return None
        try:
            depth = frame_depth(pair[0], pair[1], params.depth_unit_scale)
        except DepthError as exc:
            self.stats.frames_without_depth += 1
            self.warn(exc.kind, f"stream {self.name}: no 3D for this frame: {exc}")
            return None
        located = {}
        for obj_id, obj in result.objects.items():
            if not obj.visible:
                continue
            place = locate(obj.mask, depth.metres, depth.intrinsics, params.depth_erode_px)
            if place is None:
                self.warn(
                    "depth_invalid",
                    f"stream {self.name}: object {obj_id}: fewer than {MIN_DEPTH_PIXELS} valid depths (zeros, NaN) "
                    "inside its mask: no 3D for it on this frame",
                )
                continue
            located[obj_id] = place
        self.stats.frames_with_depth += 1
        return located, depth.frame_id

    def publish_3d(
        self, header: Header, result: FrameResult, located: dict[int, Object3D], params: RuntimeParams
    ) -> None:
        """Markers (deleting those of objects no longer located), 3D detections, and the point cloud
        while subscribed; ``header``: the colour frame's stamp, the depth image's frame."""
        pubs, labels = self.publishers, self.objects.labels()
        names = {obj_id: labels.get(obj_id, "") for obj_id in located}
        pubs["markers"].publish(markers_msg(header, located, names, gone=self.marker_ids - set(located)))
        self.marker_ids = set(located)
        if self.vision is not None:
            presence = {obj_id: result.objects[obj_id].presence_probability for obj_id in located}
            pubs["tracked_detections_3d"].publish(
                vision.tracked_detections_3d_msg(self.vision, header, located, labels, presence)
            )
        if pubs["object_points"].get_subscription_count() > 0:
            pubs["object_points"].publish(cloud_msg(header, located, params.max_cloud_points))
