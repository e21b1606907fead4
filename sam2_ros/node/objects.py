"""Per-stream bookkeeping of tracked objects: one record per object id (plain Python, no ROS)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass


@dataclass
class ObjectRecord:
    """What the node reports about an object beyond the engine's frame result."""

    label: str = ""
    frames_tracked: int = 0  # published frames that carried the object
    last_seen_ns: int | None = None  # stamp of the last published frame on which it was visible


class ObjectRegistry:
    """The records of one stream's objects, by object id."""

    def __init__(self) -> None:
        self._records: dict[int, ObjectRecord] = {}

    def add(self, obj_id: int, label: str = "") -> ObjectRecord:
        """A prompt for ``obj_id`` was accepted: create its record if new; a non-empty label replaces the old one."""
        record = self._records.setdefault(obj_id, ObjectRecord())
        if label:
            record.label = label
        return record

    def remove(self, obj_id: int) -> None:
        """Forget ``obj_id`` (no-op if unknown)."""
        self._records.pop(obj_id, None)

    def clear(self) -> None:
        """Forget every object."""
        self._records.clear()

    def record_frame(self, visible: Mapping[int, bool], stamp_ns: int) -> None:
        """A frame stamped ``stamp_ns`` is published with these objects (id -> visible)."""
        for obj_id, is_visible in visible.items():
            record = self._records.setdefault(obj_id, ObjectRecord())
            record.frames_tracked += 1
            if is_visible:
                record.last_seen_ns = stamp_ns

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
