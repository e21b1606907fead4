"""One stream's counters, in one record: what the scheduler, the worker and the depth callbacks
count, and what the node's diagnostics publish whole. Plain Python, no ROS."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

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
