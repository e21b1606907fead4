"""Detector boxes -> prompts: which detection is a tracked object, which re-seeds a lost one,
which adds a new one. Plain Python and numpy, no ROS (commands.py reads the messages; the
`Detections` handler in handlers.py applies the decisions).

The rules (docs/NODE.md, "Detections in"), for the detections of one image, against the objects
as tracked on that image:

1. Filters: a detection scoring below ``min_score``, or whose label is not in ``classes``
   (when given), is ignored.
2. A detection whose box overlaps a *visible* object's box by IoU >= ``match_iou`` is that
   object (one detection per object; pairs of the same label first, then best overlaps first):
   skipped, or a refining box prompt when ``refine``.
2b. A track gone astray: when objects cross, SAM 2 may move a track onto its neighbour (two
   objects show on one place) or spread it over both, while the detector still sees the
   object. A detection left, and a visible object of its label that no detection matched and
   whose box touches the detection's box or coincides with a matched object's box (IoU >=
   ``match_iou``): the closest such object is re-seeded with the detection's box, keeping its
   id, instead of a duplicate being added.
3. A detection left that still overlaps a visible object by IoU >= ``new_max_iou`` is taken
   for that object seen loosely (a drifting mask, a second box on one thing): skipped, never a
   new object, so a detector running on every frame does not duplicate tracked objects.
4. Any other detection is compared with the *not visible* objects of the same label, by IoU
   with the object's last known box (its last visible box, else its last box prompt): a match
   (IoU >= ``reseed_iou``) is that object. An object not visible for ``lost_after_frames``
   frames or more is *lost* and is re-seeded with the detection's box, keeping its id; one
   hidden for fewer frames is left to SAM 2 (the detection is skipped, no duplicate is made).
5. The rest add new objects, best scores first, as long as ``free_slots`` lasts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


@dataclass(frozen=True)
class Detection:
    """One detector box: ``box`` (x0, y0, x1, y1 pixels), ``label`` (class id, may be empty), ``score``."""

    box: Box
    label: str
    score: float


@dataclass(frozen=True)
class DetectionRules:
    """The association parameters (detection_* and lost_after_frames)."""

    match_iou: float = 0.5
    refine: bool = False
    min_score: float = 0.0
    classes: frozenset[str] = frozenset()
    lost_after_frames: int = 10
    reseed_iou: float = 0.1
    new_max_iou: float = 0.25


@dataclass(frozen=True)
class TrackedBox:
    """What association knows of one tracked object on the detections' image.

    ``box``: its box there when ``visible``, else its last known box (None: none known).
    ``hidden_frames``: consecutive frames it has been not visible.
    """

    obj_id: int
    label: str
    visible: bool
    box: Box | None
    hidden_frames: int = 0


class Action(Enum):
    """What a detection does."""

    ADD = "add"  # a new object
    REFINE = "refine"  # a box prompt on the visible object it matches
    RESEED = "reseed"  # a box prompt on the lost object it matches (keeps its id)


@dataclass(frozen=True)
class Decision:
    """One detection to apply: ``obj_id`` is None for ADD (the stream picks the id)."""

    action: Action
    detection: Detection
    obj_id: int | None = None


@dataclass
class Outcome:
    """The decisions for one image's detections, and what was left out (counted by reason)."""

    decisions: list[Decision] = field(default_factory=list)
    filtered: int = 0  # below min_score or not in classes
    tracked: int = 0  # matched a visible object (not refined)
    overlapping: int = 0  # overlapped a visible object below match_iou (never a new object)
    hidden: int = 0  # matched a briefly hidden object (left to SAM 2)
    over_limit: int = 0  # no free object slot


def inside(a: Box, b: Box) -> float:
    """The share of box ``a``'s area that lies inside box ``b`` (0 when ``a`` is empty)."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    area = (a[2] - a[0]) * (a[3] - a[1])
    return float(ix * iy / area) if ix > 0 and iy > 0 and area > 0 else 0.0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 when either is empty."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _greedy_pairs(
    detections: Sequence[Detection], objects: Sequence[TrackedBox], threshold: float, same_label: bool
) -> dict[int, int]:
    """Detection index -> object index, one to one, highest IoU first, IoU >= ``threshold``."""
    pairs = []
    for d, det in enumerate(detections):
        for o, obj in enumerate(objects):
            if obj.box is None or (same_label and obj.label != det.label):
                continue
            overlap = iou(det.box, obj.box)
            if overlap >= threshold:
                pairs.append((overlap, d, o))
    # the same label first (an object keeps its class), then the best overlaps
    pairs.sort(key=lambda p: (objects[p[2]].label != detections[p[1]].label, -p[0], p[1], p[2]))
    taken_d: dict[int, int] = {}
    taken_o: set[int] = set()
    for _overlap, d, o in pairs:
        if d not in taken_d and o not in taken_o:
            taken_d[d] = o
            taken_o.add(o)
    return taken_d


def associate(
    detections: Sequence[Detection], objects: Sequence[TrackedBox], rules: DetectionRules, free_slots: int
) -> Outcome:
    """Decide what each detection does (module docstring); ``free_slots`` new objects may be added."""
    outcome = Outcome()
    kept = []
    for det in detections:
        if det.score < rules.min_score or (rules.classes and det.label not in rules.classes):
            outcome.filtered += 1
        else:
            kept.append(det)
    visible = [o for o in objects if o.visible]
    matched = _greedy_pairs(kept, visible, rules.match_iou, same_label=False)
    for d, o in matched.items():
        if rules.refine:
            outcome.decisions.append(Decision(Action.REFINE, kept[d], visible[o].obj_id))
        else:
            outcome.tracked += 1
    unconfirmed = _unconfirmed(visible, set(matched.values()), rules.match_iou)
    rest = []
    for d, det in enumerate(kept):
        if d in matched:
            continue
        astray = [
            obj
            for obj, shadow in unconfirmed.items()
            if obj.label == det.label
            and obj.box is not None
            and (shadow or iou(det.box, obj.box) > 0.0)
        ]
        closest = _closest(det, astray)
        if closest is not None:
            outcome.decisions.append(Decision(Action.RESEED, det, closest.obj_id))
            del unconfirmed[closest]
            continue
        if any(o.box is not None and iou(det.box, o.box) >= rules.new_max_iou for o in visible):
            outcome.overlapping += 1
        else:
            rest.append(det)
    hidden = [o for o in objects if not o.visible]
    again = _greedy_pairs(rest, hidden, rules.reseed_iou, same_label=True)
    for d, o in again.items():
        if hidden[o].hidden_frames >= rules.lost_after_frames:
            outcome.decisions.append(Decision(Action.RESEED, rest[d], hidden[o].obj_id))
        else:
            outcome.hidden += 1
    new = sorted((det for d, det in enumerate(rest) if d not in again), key=lambda det: -det.score)
    for det in new:
        if free_slots > 0:
            outcome.decisions.append(Decision(Action.ADD, det))
            free_slots -= 1
        else:
            outcome.over_limit += 1
    return outcome


def _unconfirmed(visible: Sequence[TrackedBox], matched: set[int], match_iou: float) -> dict[TrackedBox, bool]:
    """The labelled visible objects no detection matched (indices in ``matched`` did), each with
    whether it sits on a matched object: its box coincides with that object's box, or lies
    mostly inside it (a second track on an object already tracked)."""
    confirmed = [box for box in (visible[o].box for o in matched) if box is not None]

    def sits_on(box: Box) -> bool:
        return any(iou(box, other) >= match_iou or inside(box, other) > 0.5 for other in confirmed)

    return {
        obj: sits_on(obj.box)
        for o, obj in enumerate(visible)
        if o not in matched and obj.label and obj.box is not None
    }


def _closest(det: Detection, objects: Sequence[TrackedBox]) -> TrackedBox | None:
    """The object whose box overlaps ``det`` most (then whose centre is nearest); None if none."""

    def centre_gap(box: Box) -> float:
        return abs((box[0] + box[2]) - (det.box[0] + det.box[2])) + abs((box[1] + box[3]) - (det.box[1] + det.box[3]))

    boxed = [o for o in objects if o.box is not None]
    return min(boxed, key=lambda o: (-iou(det.box, o.box), centre_gap(o.box)), default=None)  # type: ignore[arg-type]


def clip_box(box: Box, height: int, width: int) -> Box | None:
    """``box`` clipped to a ``width`` x ``height`` image; None when less than a pixel of it is inside."""
    x0, y0 = max(0.0, box[0]), max(0.0, box[1])
    x1, y1 = min(float(width), box[2]), min(float(height), box[3])
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:
        return None
    return (x0, y0, x1, y1)
