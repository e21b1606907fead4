"""What the node's worker does next, per stream: plain Python, no ROS, the clock injected.

Callbacks put images, prompts and reset requests in; the one worker thread takes a `Job` per
stream and reports it done with `finish`, saying which frame its tracker now holds as newest.
Only the newest waiting image is kept (older ones are replaced and counted as dropped), so
latency does not grow however fast the camera is. Prompts are matched to images by stamp
(docs/NODE.md, "Timing"):

- a prompt stamped like the frame being taken is applied right after that frame;
- a prompt stamped ahead of the newest frame handed to the tracker waits up to
  ``prompt_wait_s`` for its image, then is applied to the newest; it stops waiting as soon as
  a newer image comes (images arrive in order, so its own can no longer come) and goes before
  that image;
- any other prompt is applied now, before the frame.

An image found bad as it arrives is counted (`reject_image`) and never queued, so it cannot
displace a good waiting image. `drop_waiting` forgets everything not yet handed to the worker
(the node calls it on deactivation: nothing stale runs after the next activation).

Not thread-safe by itself: the node calls it under its lock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

SEEN_STAMPS = 256  # stamps of received images remembered per stream (to tell a stamp never seen)


class Stamped(Protocol):
    """A command: anything with the stamp of the image it was made on."""

    @property
    def stamp_ns(self) -> int: ...


class Counts(Protocol):
    """Where a stream's images are counted: received, dropped (replaced while waiting, or forgotten
    by `drop_waiting`), rejected on arrival (the node passes each stream's `StreamCounters`)."""

    received: int
    dropped: int
    rejected: int


@dataclass
class _Counts:
    received: int = 0
    dropped: int = 0
    rejected: int = 0


M = TypeVar("M")  # an image message: the scheduler only keeps it
C = TypeVar("C", bound=Stamped)  # a command: the scheduler only reads its stamp


@dataclass(frozen=True)
class PendingFrame(Generic[M]):
    """An image waiting for the worker."""

    message: M
    arrived: float  # clock time of its arrival
    stamp_ns: int


@dataclass(frozen=True)
class Job(Generic[M, C]):
    """The worker's work for one stream, in this order: reset, prompts_before, frame, prompts_after.

    ``unseen_stamps``: the stamps of its prompts that match no image the stream received (of
    the last `SEEN_STAMPS`).
    """

    reset: bool
    frame: PendingFrame[M] | None
    prompts_before: tuple[C, ...]
    prompts_after: tuple[C, ...]
    unseen_stamps: frozenset[int] = field(default=frozenset(), compare=False)  # derived: not part of equality


@dataclass(frozen=True)
class Dropped:
    """What `Scheduler.drop_waiting` forgot: images, prompts, streams with a reset request."""

    images: int = 0
    prompts: int = 0
    resets: int = 0


@dataclass
class _Inbox(Generic[M, C]):
    counters: Counts = field(default_factory=_Counts)
    pending: PendingFrame[M] | None = None
    prompts: list[tuple[C, float]] = field(default_factory=list)  # (command, arrival time), arrival order
    reset_requested: bool = False
    resetting: bool = False  # handed to the worker, not yet done
    reset_ticket: int = 0  # the newest reset request (see Scheduler.request_reset)
    running_ticket: int = 0  # the request the worker is running
    done_ticket: int = 0  # the newest request done
    newest_stamp_ns: int | None = None  # the newest frame the tracker holds (None: none)
    seen: deque[int] = field(default_factory=lambda: deque(maxlen=SEEN_STAMPS))  # stamps of good images received


class Scheduler(Generic[M, C]):
    """Inboxes of named streams and the decision what the worker does for each.

    ``counters``: each stream's counters record, where the images received, dropped and rejected
    on arrival are counted (default: a new one per stream).
    """

    def __init__(
        self,
        streams: Iterable[str],
        clock: Callable[[], float] = time.monotonic,
        counters: Mapping[str, Counts] | None = None,
    ) -> None:
        self._clock = clock
        self._inboxes: dict[str, _Inbox[M, C]] = {
            name: _Inbox(counters[name]) if counters is not None else _Inbox() for name in streams
        }
        self._tickets = 0  # reset requests so far

    # ------------------------------------------------------------------ from callbacks
    def put_image(self, stream: str, message: M, stamp_ns: int) -> None:
        """Keep ``message`` as the stream's newest image; a still waiting one is dropped."""
        inbox = self._inboxes[stream]
        inbox.counters.received += 1
        if inbox.pending is not None:
            inbox.counters.dropped += 1
        inbox.pending = PendingFrame(message, self._clock(), stamp_ns)
        inbox.seen.append(stamp_ns)

    def reject_image(self, stream: str) -> None:
        """An image of ``stream`` arrived but is bad: counted as received and rejected, not queued."""
        counters = self._inboxes[stream].counters
        counters.received += 1
        counters.rejected += 1

    def put_prompt(self, stream: str, command: C) -> None:
        """Queue a command (it has ``stamp_ns``)."""
        self._inboxes[stream].prompts.append((command, self._clock()))

    def request_reset(self, stream: str | None = None) -> int:
        """Ask for a reset of ``stream`` (None: every stream) before anything else it does.

        Returns the request's ticket for `reset_done`.
        """
        self._tickets += 1
        for name in self._names(stream):
            inbox = self._inboxes[name]
            inbox.reset_requested, inbox.reset_ticket = True, self._tickets
        return self._tickets

    def reset_pending(self, stream: str | None = None) -> bool:
        """Whether a requested reset of ``stream`` (None: any stream) is not finished (nor dropped) yet."""
        return any(self._inboxes[n].reset_requested or self._inboxes[n].resetting for n in self._names(stream))

    def reset_done(self, ticket: int, stream: str | None = None) -> bool:
        """Whether the reset request ``ticket`` of ``stream`` (None: every stream) has run (a later one counts too)."""
        return all(self._inboxes[n].done_ticket >= ticket for n in self._names(stream))

    def drop_waiting(self) -> Dropped:
        """Forget every waiting image (counted as dropped), prompt and reset request not yet taken.

        What the worker runs now is not affected; `finish` reports it as usual.
        """
        images = prompts = resets = 0
        for inbox in self._inboxes.values():
            if inbox.pending is not None:
                images += 1
                inbox.counters.dropped += 1
            prompts += len(inbox.prompts)
            resets += inbox.reset_requested
            inbox.pending, inbox.prompts, inbox.reset_requested = None, [], False
        return Dropped(images, prompts, resets)

    def counts(self, stream: str) -> tuple[int, int]:
        """Images received and dropped (replaced while waiting, or forgotten by `drop_waiting`) on ``stream``."""
        counters = self._inboxes[stream].counters
        return counters.received, counters.dropped

    def rejected(self, stream: str) -> int:
        """Images of ``stream`` rejected (`reject_image`; the worker counts its own rejections in the same record)."""
        return self._inboxes[stream].counters.rejected

    # ------------------------------------------------------------------ from the worker
    def has_work(self, prompt_wait_s: float) -> bool:
        """Whether `take` would return a job for some stream now."""
        now = self._clock()
        return any(
            inbox.pending is not None
            or inbox.reset_requested
            or any(self._ready(inbox, req, arrived, now, prompt_wait_s) for req, arrived in inbox.prompts)
            for inbox in self._inboxes.values()
        )

    def take(self, stream: str, prompt_wait_s: float) -> Job[M, C] | None:
        """What the worker does for ``stream`` now (None: nothing); report it done with `finish`."""
        inbox = self._inboxes[stream]
        reset, inbox.reset_requested = inbox.reset_requested, False
        if reset:
            inbox.resetting, inbox.running_ticket = True, inbox.reset_ticket
        frame, inbox.pending = inbox.pending, None
        now = self._clock()
        before: list[C] = []
        after: list[C] = []
        keep: list[tuple[C, float]] = []
        for req, arrived in inbox.prompts:
            if frame is not None and req.stamp_ns == frame.stamp_ns:
                after.append(req)
            elif frame is not None and req.stamp_ns < frame.stamp_ns:
                before.append(req)  # a newer image came first: the prompt's own can no longer arrive
            elif self._ready(inbox, req, arrived, now, prompt_wait_s):
                before.append(req)
            else:
                keep.append((req, arrived))
        inbox.prompts = keep
        if not (reset or frame or before or after):
            return None
        unseen = frozenset(req.stamp_ns for req in before + after if req.stamp_ns not in inbox.seen)
        return Job(reset, frame, tuple(before), tuple(after), unseen)

    def take_all(self, prompt_wait_s: float) -> dict[str, Job[M, C]]:
        """`take` for every stream; only the streams with a job."""
        jobs = {name: self.take(name, prompt_wait_s) for name in self._inboxes}
        return {name: job for name, job in jobs.items() if job is not None}

    def finish(self, stream: str, job: Job[M, C], newest_stamp_ns: int | None) -> None:
        """``job`` ran (or failed); the stream's tracker now holds frames up to ``newest_stamp_ns``.

        That is the stamp of the newest frame handed to the tracker, None when it holds none (after a
        reset). A reset requested while the job ran stays pending.
        """
        inbox = self._inboxes[stream]
        if job.reset:
            inbox.resetting, inbox.done_ticket = False, inbox.running_ticket
        inbox.newest_stamp_ns = newest_stamp_ns

    # ------------------------------------------------------------------ rules
    def _names(self, stream: str | None) -> Iterable[str]:
        return self._inboxes if stream is None else (stream,)

    @staticmethod
    def _ready(inbox: _Inbox[M, C], req: Stamped, arrived: float, now: float, wait_s: float) -> bool:
        """A prompt stamped ahead of the newest tracked frame waits for its image, at most ``wait_s``."""
        ahead = inbox.newest_stamp_ns is None or req.stamp_ns > inbox.newest_stamp_ns
        return not (ahead and now - arrived < wait_s)
