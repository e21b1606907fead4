"""One stream's books, plain Python, no ROS: the object book (one record per object id, what the
node knows and has published of each object beyond the engine's frame result) and the counters
(`StreamCounters`: what happened to the stream's input, fed to the diagnostics whole).

The book allocates new object ids against the tracker's, gives detections the boxes to match
against on a cached frame, and remembers what the outputs last showed (RViz markers, the label
map) so an object that leaves, or a reset, is published away on the next frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from sam2_ros.engine import FrameResult
from sam2_ros.node.detections import Box, TrackedBox

if TYPE_CHECKING:
    from sam2_ros.engine import Sam2Tracker

MAX_OBJECT_ID = 255  # object ids are mask pixel values: 1..255


def class_name(obj_id: int, label: str) -> str:
    """An object's class name in the vision_msgs outputs: its label, else ``object_<id>``."""
    return label or f"object_{obj_id}"


def cached_stamps(tracker: Sam2Tracker) -> list[int]:
    """The stamps (ns) of the frames ``tracker`` holds, oldest first: the node keys every frame it
    tracks by its stamp."""
    return cast("list[int]", tracker.cached_keys)


@dataclass
class ObjectRecord:
    """What the node knows of one object beyond the engine's frame result."""

    label: str = ""
    frames_tracked: int = 0  # published frames that carried the object
    last_seen_ns: int | None = None  # stamp of the last published frame on which it was visible
    hidden_frames: int = 0  # consecutive published frames on which it was not visible
    last_box: Box | None = None  # its last visible box, or the box of a later box prompt
    # cached stamp -> (visible, its box there when visible): what detections on that frame are matched against
    boxes: dict[int, tuple[bool, Box | None]] = field(default_factory=dict)
    shown: bool = False  # it has markers in RViz
    published_name: str | None = None  # its class name in the label map last published (None: not in it)


class ObjectBook:
    """The records of one stream's objects, by object id.

    Records of removed objects that the outputs still show are kept apart (retired) until a frame
    publishes them away; they allocate no id and count as no object.
    """

    def __init__(self) -> None:
        self._records: dict[int, ObjectRecord] = {}
        self._retired: dict[int, ObjectRecord] = {}  # removed, still shown or in the published label map
        self._label_map_sent = False  # a label map was published (the first frame always publishes one)

    # ------------------------------------------------------------------ objects
    def _record(self, obj_id: int) -> ObjectRecord:
        """The record of ``obj_id``, created if new (keeping what a retired one still shows)."""
        record = self._records.get(obj_id)
        if record is None:
            old = self._retired.pop(obj_id, ObjectRecord())
            record = self._records[obj_id] = ObjectRecord(shown=old.shown, published_name=old.published_name)
        return record

    def add(self, obj_id: int, label: str = "", box: Box | None = None) -> ObjectRecord:
        """A prompt for ``obj_id`` was accepted: create its record if new; a non-empty label replaces
        the old one; a ``box`` prompt becomes its last box and restarts its count of hidden frames."""
        record = self._record(obj_id)
        if label:
            record.label = label
        if box is not None:
            record.last_box, record.hidden_frames = box, 0
        return record

    def remove(self, obj_id: int) -> None:
        """Forget ``obj_id`` (no-op if unknown)."""
        record = self._records.pop(obj_id, None)
        if record is not None and (record.shown or record.published_name is not None):
            self._retired[obj_id] = ObjectRecord(shown=record.shown, published_name=record.published_name)

    def clear(self) -> None:
        """Forget every object."""
        for obj_id in list(self._records):
            self.remove(obj_id)

    def get(self, obj_id: int) -> ObjectRecord:
        """The record of ``obj_id``; an empty record (not stored) when unknown."""
        return self._records.get(obj_id) or ObjectRecord()

    def labels(self) -> dict[int, str]:
        """Object id -> label, for the objects that have one."""
        return {obj_id: r.label for obj_id, r in self._records.items() if r.label}

    def __contains__(self, obj_id: object) -> bool:
        return obj_id in self._records

    def __iter__(self) -> Iterator[int]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    # ------------------------------------------------------------------ ids and room, against the tracker
    def new_id(self, tracked: Collection[int]) -> int | None:
        """The lowest object id (1..255) neither recorded here nor ``tracked``; None when all are used."""
        return next((i for i in range(1, MAX_OBJECT_ID + 1) if i not in self._records and i not in tracked), None)

    @staticmethod
    def room(tracked: Collection[int], max_objects: int) -> int:
        """How many new objects may still be added next to the ``tracked`` ones."""
        return max(0, max_objects - len(tracked))

    # ------------------------------------------------------------------ frames
    def remember(self, result: FrameResult, cached: Sequence[int]) -> None:
        """Keep the objects' boxes on ``result``'s frame (for detections stamped like it); boxes on
        frames no longer ``cached`` are forgotten."""
        stamp = cast(int, result.key)  # the node keys every frame by its stamp (ns)
        for record in self._records.values():
            record.boxes = {k: v for k, v in record.boxes.items() if k in cached}
        for obj_id, obj in result.objects.items():
            self._record(obj_id).boxes[stamp] = (obj.visible, obj.bbox if obj.visible else None)

    def tracked_boxes(self, key: int, tracked: Sequence[int]) -> list[TrackedBox]:
        """What detections on frame ``key`` are matched against: each ``tracked`` object there, with its record."""
        out = []
        for obj_id in tracked:
            record = self.get(obj_id)
            visible, box = record.boxes.get(key, (False, None))
            box = box if visible and box is not None else record.last_box
            out.append(TrackedBox(obj_id, record.label, visible and box is not None, box, record.hidden_frames))
        return out

    def record_frame(
        self, visible: Mapping[int, bool], stamp_ns: int, boxes: Mapping[int, Box | None] | None = None
    ) -> None:
        """A frame stamped ``stamp_ns`` is published with these objects (id -> visible; ``boxes``:
        id -> box of the visible mask)."""
        for obj_id, is_visible in visible.items():
            record = self._record(obj_id)
            record.frames_tracked += 1
            if is_visible:
                record.last_seen_ns, record.hidden_frames = stamp_ns, 0
                box = (boxes or {}).get(obj_id)
                if box is not None:
                    record.last_box = box
            else:
                record.hidden_frames += 1

    # ------------------------------------------------------------------ what the outputs show
    def _all(self) -> Iterator[tuple[int, ObjectRecord]]:
        yield from self._records.items()
        yield from self._retired.items()

    def _tidy(self) -> None:
        self._retired = {i: r for i, r in self._retired.items() if r.shown or r.published_name is not None}

    def show(self, located: Collection[int]) -> set[int]:
        """The objects with markers are now those ``located``; returns those whose markers go."""
        gone = set()
        for obj_id, record in self._all():
            if record.shown and obj_id not in located:
                gone.add(obj_id)
            record.shown = obj_id in located
        self._tidy()
        return gone

    def label_map_changed(self, mapping: Sequence[tuple[int, str]]) -> bool:
        """Whether the label map ``mapping`` (id -> class name) differs from the one last published;
        if so it counts as published from now on."""
        names = dict(mapping)
        published = {obj_id: r.published_name for obj_id, r in self._all() if r.published_name is not None}
        if self._label_map_sent and published == names:
            return False
        self._label_map_sent = True
        for obj_id, record in self._all():
            record.published_name = names.get(obj_id)
        self._tidy()
        return True


LATENCY_WINDOW = 100  # frames the latency percentiles and the rate are computed over


@dataclass
class StreamCounters:
    """Images received, dropped, rejected and processed, detections applied, depth pairing, and
    the recent latencies (arrival to outputs) and output times of one stream.

    The scheduler (under the node's lock), the worker and the depth callbacks each write their
    own fields; `diagnostics` reads them all.
    """

    received: int = 0  # images that arrived (good or bad)
    dropped: int = 0  # replaced while waiting, or forgotten by a deactivation
    rejected: int = 0  # bad images: on arrival (header) or on conversion
    processed: int = 0
    detection_arrays: int = 0  # detection messages applied (empty ones included)
    detection_adds: int = 0  # objects added from detections
    detection_reseeds: int = 0  # lost objects re-seeded from detections
    depth_received: int = 0  # depth images received
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

    def diagnostics(self, objects: int, depth: bool) -> dict[str, int | float]:
        """The /diagnostics values of the stream, in their published order (``depth``: depth_topics set)."""
        depth_values = {
            "depth_received": self.depth_received,
            "frames_with_depth": self.frames_with_depth,
            "frames_without_depth": self.frames_without_depth,
        }
        return {
            "frames_received": self.received,
            "frames_processed": self.processed,
            "frames_dropped": self.dropped,
            "messages_rejected": self.rejected,
            "objects": objects,
            "detection_arrays": self.detection_arrays,
            "objects_added_by_detections": self.detection_adds,
            "objects_reseeded": self.detection_reseeds,
            **(depth_values if depth else {}),
            **self.summary(),
        }
