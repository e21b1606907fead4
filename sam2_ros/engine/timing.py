"""Per-stage wall time of one tracker call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("preprocess", "image_encoder", "memory_attention", "mask_decoder", "memory_encoder")


class StageTimer:
    """Seconds spent in each stage since the last :meth:`reset`."""

    def __init__(self, stages: tuple[str, ...] = STAGES) -> None:
        self._stages = stages
        self._seconds = dict.fromkeys(stages, 0.0)

    def reset(self) -> None:
        """Start a new call: every stage back to zero."""
        self._seconds = dict.fromkeys(self._stages, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent inside the ``with`` block to stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[name] += time.perf_counter() - start

    def snapshot(self) -> dict[str, float]:
        """Seconds per stage, plus ``total``."""
        return {**self._seconds, "total": sum(self._seconds.values())}
