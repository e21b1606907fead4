"""One handler per command (commands.py): what a prompt, remove, reset, click or the detections
of one image do to a stream's tracker and object book. Runs on the node's worker thread.

Each handler gets the command and a `Context` (the tracker, the book, the counters, the
parameter snapshot, a warning callable) and returns the newest frame's result after it, or None
when it changed no frame. "Which cached frame", "room for a new object" and "which id" are
answered once each: `Context.cached_frame`, `ObjectBook.room`, `ObjectBook.new_id`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import singledispatch

import numpy as np

from sam2_ros.engine import FrameResult, InvalidInputError, Sam2Tracker
from sam2_ros.node import conversions
from sam2_ros.node.book import Box, ObjectBook, StreamCounters, cached_stamps
from sam2_ros.node.commands import (
    NEW_OBJECT,
    NEWEST_FRAME,
    AddPrompt,
    Click,
    Command,
    Detections,
    RemoveObject,
    ResetStream,
)
from sam2_ros.node.conversions import NS_PER_S, ConversionError
from sam2_ros.node.detections import Action, associate, clip_box
from sam2_ros.node.params import RuntimeParams


@dataclass(frozen=True)
class Context:
    """What a command's handler works on: one stream's tracker, object book and counters, and the
    job's parameter snapshot.

    ``warn(kind, text)`` logs a throttled warning, the stream named in front of ``text``;
    ``topic`` is the stream's image topic; ``unseen`` the job's stamps that match no image received.
    """

    tracker: Sam2Tracker
    book: ObjectBook
    counters: StreamCounters
    params: RuntimeParams
    warn: Callable[[str, str], None]
    topic: str
    unseen: frozenset[int] = frozenset()

    def cached_frame(self, stamp_ns: int) -> int | None:
        """The cached frame stamped ``stamp_ns`` (its key), or None: then the newest frame is meant."""
        return stamp_ns if stamp_ns in self.tracker.cached_keys else None

    def image_size(self) -> tuple[int, int]:
        """(height, width) of the stream's images; a handler asks only once a frame was tracked."""
        size = self.tracker.image_size
        if size is None:
            raise RuntimeError("no frame tracked yet: a handler checks tracker.frame_idx first")
        return size


@singledispatch
def handle(command: Command, ctx: Context) -> FrameResult | None:
    """Apply ``command`` to its stream; the newest frame's result after it, or None (dropped, or no
    frame changed)."""
    raise TypeError(f"no handler for {type(command).__name__}")


def reset(ctx: Context) -> None:
    """Forget every object and frame."""
    ctx.tracker.reset()
    ctx.book.clear()


@handle.register
def _reset(command: ResetStream, ctx: Context) -> FrameResult | None:
    reset(ctx)
    return None


@handle.register
def _remove(command: RemoveObject, ctx: Context) -> FrameResult | None:
    if not _has_image(ctx):
        return None
    try:
        ctx.tracker.remove_object(command.object_id)
    except InvalidInputError as exc:
        ctx.warn("remove_unknown", f"remove dropped: {exc}")
        return None
    ctx.book.remove(command.object_id)
    return None


@handle.register
def _prompt(command: AddPrompt, ctx: Context) -> FrameResult | None:
    if not (_has_image(ctx) and _has_room(ctx, command.object_id, "prompt")):
        return None
    return _add(ctx, command, "prompt")


@handle.register
def _click(command: Click, ctx: Context) -> FrameResult | None:
    if not (_has_image(ctx) and _has_room(ctx, NEW_OBJECT, "click")):
        return None
    point = _click_on_image(ctx, command)
    if point is None:
        return None
    prompt = AddPrompt(command.stream, NEWEST_FRAME, NEW_OBJECT, points=point, labels=np.ones(1, np.int64))
    return _add(ctx, prompt, "click")


@handle.register
def _detections(command: Detections, ctx: Context) -> FrameResult | None:
    """Match one image's detections to the objects (detections.py) and apply what they decide."""
    tracker, book, params = ctx.tracker, ctx.book, ctx.params
    stamp = f"{command.stamp_ns / NS_PER_S:.3f} s"
    if command.stamp_ns in ctx.unseen:
        ctx.warn(
            "detections_stamp",
            f"detections dropped: their stamp {stamp} matches no image received on "
            f"{ctx.topic} (stamp detections with their image's header)",
        )
        return None
    if tracker.frame_idx < 0:
        ctx.warn("detections_no_image", "detections dropped: no image processed yet")
        return None
    ctx.counters.detection_arrays += 1
    if not command.detections:
        return None  # a detector's "nothing seen": nothing to do
    at = ctx.cached_frame(command.stamp_ns)
    if at is None:
        ctx.warn(
            "detections_late",
            f"detections stamped {stamp} came after their image left the node's frame cache "
            "(or the image was skipped to keep up); applied to the newest image",
        )
    height, width = ctx.image_size()
    inside = []
    for det in command.detections:
        box = clip_box(det.box, height, width)
        if box is None:
            ctx.warn(
                "detection_outside",
                f"detection {tuple(round(v, 1) for v in det.box)} lies outside the {width}x{height} image; dropped",
            )
            continue
        inside.append(replace(det, box=box))
    key = at if at is not None else cached_stamps(tracker)[-1]
    free = book.room(tracker.object_ids, params.max_objects)
    outcome = associate(inside, book.tracked_boxes(key, tracker.object_ids), params.detection, free)
    if outcome.over_limit:
        ctx.warn(
            "detection_max_objects",
            f"{outcome.over_limit} new detection(s) dropped: max_objects ({params.max_objects}) already tracked",
        )
    result = None
    for decision in outcome.decisions:
        det = decision.detection
        obj_id = decision.obj_id if decision.obj_id is not None else book.new_id(tracker.object_ids)
        if obj_id is None:
            break
        try:
            result = tracker.add_prompt(obj_id, box=det.box, at=at)
        except InvalidInputError as exc:
            ctx.warn("detection_invalid", f"detection dropped: {exc}")
            continue
        keep_label = decision.action is not Action.ADD and book.get(obj_id).label
        book.add(obj_id, "" if keep_label else det.label, box=det.box)
        ctx.counters.detection_adds += decision.action is Action.ADD
        ctx.counters.detection_reseeds += decision.action is Action.RESEED
    return result


# ---------------------------------------------------------------------- the steps prompts share
def _has_image(ctx: Context) -> bool:
    """Whether the tracker has processed an image (a prompt needs one); warns when not."""
    if ctx.tracker.frame_idx >= 0:
        return True
    ctx.warn("prompt_no_image", "prompt dropped: no image processed yet")
    return False


def _has_room(ctx: Context, obj_id: int, source: str) -> bool:
    """Whether a prompt for ``obj_id`` may be applied: a tracked object, or room for a new one."""
    tracked = ctx.tracker.object_ids
    if obj_id in tracked or ctx.book.room(tracked, ctx.params.max_objects) > 0:
        return True
    ctx.warn(
        "prompt_max_objects",
        f"{source} for a new object dropped: max_objects ({ctx.params.max_objects}) already tracked",
    )
    return False


def _click_on_image(ctx: Context, click: Click) -> np.ndarray | None:
    """A click's point on the image (the far edge, where rqt_image_view's rounding puts some
    clicks, moved onto the last pixel); None, with a warning, when it lies outside."""
    height, width = ctx.image_size()
    x, y = click.x, click.y
    if 0 <= x <= width and 0 <= y <= height:
        return np.array([[min(x, width - 1), min(y, height - 1)]], np.float64)
    ctx.warn("click_outside", f"click ({x:.1f}, {y:.1f}) is outside the {width}x{height} image; dropped")
    return None


def _add(ctx: Context, prompt: AddPrompt, source: str) -> FrameResult | None:
    """Apply an add/refine prompt (``source`` names it in log lines) and record its object."""
    tracker = ctx.tracker
    obj_id = prompt.object_id
    if obj_id == NEW_OBJECT:
        new_id = ctx.book.new_id(tracker.object_ids)
        if new_id is None:
            ctx.warn("prompt_max_objects", f"{source} dropped: every object id is in use")
            return None
        obj_id = new_id
    at = ctx.cached_frame(prompt.stamp_ns)
    if at is None and prompt.stamp_ns != NEWEST_FRAME:
        ctx.warn("prompt_stamp", "prompt stamp matches no cached image; applied to the newest image")
    try:
        mask = None
        if prompt.mask_msg is not None:
            mask = conversions.mask_prompt_to_array(prompt.mask_msg, *ctx.image_size())
        result = tracker.add_prompt(
            obj_id, points=prompt.points, labels=prompt.labels, box=prompt.box, mask=mask, at=at
        )
    except (InvalidInputError, ConversionError) as exc:
        kind = exc.kind if isinstance(exc, ConversionError) else "prompt_invalid"
        ctx.warn(kind, f"{source} dropped: {exc}")
        return None
    box: Box | None = None
    if prompt.box is not None:
        x0, y0, x1, y1 = (float(v) for v in prompt.box)
        box = (x0, y0, x1, y1)
    ctx.book.add(obj_id, prompt.label, box=box)
    return result
