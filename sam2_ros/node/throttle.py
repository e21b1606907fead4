"""Throttled warnings: at most one line per kind of problem every few seconds, with bounded state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sam2_ros.node.conversions import clip_text

WARN_EVERY_S = 2.0  # the same kind of warning at most this often
WARN_MAX_CHARS = 400  # a warning line is cut to this length
WARN_MAX_KINDS = 64  # kinds the throttle remembers (they are fixed words in the code; a safety net)


class WarningThrottle:
    """At most one line per kind of problem every ``every_s`` seconds, with bounded state.

    Keyed by ``kind``, a fixed word naming the problem (``image_size``, ``prompt_unknown_stream``,
    ...), never by the text, which may carry user data. Lines held back are counted and the count
    is reported with the kind's next line. Thread-safe.
    """

    def __init__(
        self,
        every_s: float = WARN_EVERY_S,
        max_chars: int = WARN_MAX_CHARS,
        max_kinds: int = WARN_MAX_KINDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._every_s, self._max_chars, self._max_kinds, self._clock = every_s, max_chars, max_kinds, clock
        self._last: dict[str, float] = {}  # kind -> when its last line was let through
        self._held: dict[str, int] = {}  # kind -> lines held back since
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Kinds remembered."""
        return len(self._last)

    def admit(self, kind: str, text: str) -> str | None:
        """The line to log now for a problem of ``kind``, or None when it is held back."""
        with self._lock:
            now = self._clock()
            last = self._last.get(kind)
            if last is not None and now - last < self._every_s:
                self._held[kind] = self._held.get(kind, 0) + 1
                return None
            if last is None and len(self._last) >= self._max_kinds:
                oldest = min(self._last, key=self._last.__getitem__)
                del self._last[oldest]
                self._held.pop(oldest, None)
            self._last[kind] = now
            held = self._held.pop(kind, 0)
        line = clip_text(text, self._max_chars)
        return f"{line} ({held} more like it held back)" if held else line
