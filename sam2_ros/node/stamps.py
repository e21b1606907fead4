"""ROS time stamps <-> integer nanoseconds (the key the node gives the engine for a frame)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from builtin_interfaces.msg import Duration, Time

if TYPE_CHECKING:
    from sam2_ros.engine import Sam2Tracker

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` (or anything with ``sec`` and ``nanosec``) as nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    """Nanoseconds as ``builtin_interfaces/Time``."""
    return Time(sec=int(ns // NS_PER_S), nanosec=int(ns % NS_PER_S))


def seconds_to_duration(seconds: float) -> Duration:
    """Seconds (>= 0) as ``builtin_interfaces/Duration``."""
    ns = max(0, round(seconds * NS_PER_S))
    return Duration(sec=int(ns // NS_PER_S), nanosec=int(ns % NS_PER_S))


def cached_stamps(tracker: Sam2Tracker) -> list[int]:
    """The stamps (ns) of the frames ``tracker`` holds, oldest first: the node keys every frame it
    tracks by its stamp."""
    return cast("list[int]", tracker.cached_keys)
