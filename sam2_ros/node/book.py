"""One stream's object book: one record per object id, what the node knows and has published
of each object beyond the engine's frame result. Plain Python, no ROS.

The book allocates new object ids against the tracker's, gives detections the boxes to match
against on a cached frame, and remembers what the outputs last showed (RViz markers, the label
map) so an object that leaves, or a reset, is published away on the next frame.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from sam2_ros.engine import FrameResult
from sam2_ros.node.detections import Box, TrackedBox

MAX_OBJECT_ID = 255  # object ids are mask pixel values: 1..255


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
