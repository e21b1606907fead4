"""Per-stream bookkeeping of tracked objects: one record per object id (plain Python, no ROS)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


@dataclass
class ObjectRecord:
    """What the node reports about an object beyond the engine's frame result."""

    label: str = ""
    frames_tracked: int = 0  # published frames that carried the object
    last_seen_ns: int | None = None  # stamp of the last published frame on which it was visible
    hidden_frames: int = 0  # consecutive published frames on which it was not visible
    last_box: Box | None = None  # its last visible box, or the box of a later box prompt


class ObjectRegistry:
    """The records of one stream's objects, by object id."""

    def __init__(self) -> None:
        self._records: dict[int, ObjectRecord] = {}

    def add(self, obj_id: int, label: str = "", box: Box | None = None) -> ObjectRecord:
        """A prompt for ``obj_id`` was accepted: create its record if new; a non-empty label replaces
        the old one; a ``box`` prompt becomes its last box and restarts its count of hidden frames."""
        record = self._records.setdefault(obj_id, ObjectRecord())
        if label:
            record.label = label
        if box is not None:
            record.last_box, record.hidden_frames = box, 0
        return record

    def remove(self, obj_id: int) -> None:
        """Forget ``obj_id`` (no-op if unknown)."""
        self._records.pop(obj_id, None)

    def clear(self) -> None:
        """Forget every object."""
        self._records.clear()

    def record_frame(
        self, visible: Mapping[int, bool], stamp_ns: int, boxes: Mapping[int, Box | None] | None = None
    ) -> None:
        """A frame stamped ``stamp_ns`` is published with these objects (id -> visible; ``boxes``:
        id -> box of the visible mask)."""
        for obj_id, is_visible in visible.items():
            record = self._records.setdefault(obj_id, ObjectRecord())
            record.frames_tracked += 1
            if is_visible:
                record.last_seen_ns, record.hidden_frames = stamp_ns, 0
                box = (boxes or {}).get(obj_id)
                if box is not None:
                    record.last_box = box
            else:
                record.hidden_frames += 1

    def get(self, obj_id: int) -> ObjectRecord:
        """The record of ``obj_id``; an empty record (not stored) when unknown."""
        return self._records.get(obj_id) or ObjectRecord()

    def free_id(self, taken: set[int] | list[int]) -> int | None:
        """The lowest object id (1..255) neither recorded here nor in ``taken``; None when all are used."""
        used = set(taken) | set(self._records)
        return next((i for i in range(1, 256) if i not in used), None)

    def labels(self) -> dict[int, str]:
        """Object id -> label, for the objects that have one."""
        return {obj_id: r.label for obj_id, r in self._records.items() if r.label}

    def __contains__(self, obj_id: object) -> bool:
        return obj_id in self._records

    def __iter__(self) -> Iterator[int]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)
