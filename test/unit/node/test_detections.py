"""Detections -> prompts: the association rules (node/detections.py) and the vision_msgs
conversions (node/outputs.py), without DDS. The process-level behaviour is in test_perception.py."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from sam2_ros.node.detections import (
    Action,
    Detection,
    DetectionRules,
    TrackedBox,
    associate,
    clip_box,
    iou,
)

RULES = DetectionRules(match_iou=0.5, refine=False, min_score=0.0, lost_after_frames=3, reseed_iou=0.1)


def det(x0, y0, x1, y1, label="cup", score=0.9) -> Detection:
    return Detection((float(x0), float(y0), float(x1), float(y1)), label, score)


def test_iou_of_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching edges do not overlap
    assert iou((0, 0, 0, 10), (0, 0, 0, 10)) == 0.0  # empty boxes


def test_a_detection_of_a_visible_object_is_skipped_or_refines_it():
    tracked = [TrackedBox(4, "cup", True, (10, 10, 50, 50))]
    overlapping = det(12, 12, 52, 52)  # IoU ~0.82
    skipped = associate([overlapping], tracked, RULES, free_slots=5)
    assert skipped.decisions == [] and skipped.tracked == 1
    refined = associate([overlapping], tracked, DetectionRules(refine=True), free_slots=5)
    assert [(d.action, d.obj_id) for d in refined.decisions] == [(Action.REFINE, 4)]


def test_a_visible_object_matches_whatever_the_detection_label():
    tracked = [TrackedBox(1, "", True, (10, 10, 50, 50))]  # an operator's click: no label
    assert associate([det(10, 10, 50, 50, label="person")], tracked, RULES, 5).tracked == 1


def test_other_detections_add_new_objects_best_score_first_up_to_the_free_slots():
    tracked = [TrackedBox(1, "cup", True, (10, 10, 50, 50))]
    low, high, mid = (
        det(100, 100, 140, 140, score=0.3),
        det(200, 0, 260, 60, score=0.95),
        det(0, 200, 30, 230, score=0.6),
    )
    out = associate([low, high, mid], tracked, RULES, free_slots=2)
    assert [(d.action, d.detection) for d in out.decisions] == [(Action.ADD, high), (Action.ADD, mid)]
    assert out.over_limit == 1


def test_a_loose_overlap_with_a_visible_object_is_never_a_new_object():
    tracked = [TrackedBox(1, "cup", True, (0, 0, 10, 10))]
    loose = det(5, 0, 15, 10, label="bottle")  # IoU 1/3: below match_iou, above new_max_iou
    out = associate([loose], tracked, RULES, free_slots=5)
    assert out.decisions == [] and out.overlapping == 1
    literal = DetectionRules(match_iou=0.5, new_max_iou=1.0)  # the guard off: any other detection is new
    assert [d.action for d in associate([loose], tracked, literal, 5).decisions] == [Action.ADD]
    apart = det(9, 0, 19, 10, label="bottle")  # IoU 1/19
    assert [d.action for d in associate([apart], tracked, RULES, 5).decisions] == [Action.ADD]


def test_a_track_gone_astray_is_reseeded_by_a_detection_of_its_label_not_duplicated():
    """Rule 2b: a visible object of the detection's label that no detection confirms is re-seeded,
    keeping its id, when its box touches the detection's or it sits on a confirmed object."""
    cup = TrackedBox(1, "cup", True, (0, 0, 10, 10))
    for touching in (det(5, 0, 15, 10), det(9, 0, 19, 10)):  # IoU 1/3 and 1/19
        out = associate([touching], [cup], RULES, free_slots=5)
        assert [(d.action, d.obj_id, d.detection) for d in out.decisions] == [(Action.RESEED, 1, touching)]
    far = det(40, 40, 50, 50)  # touches nothing: a new cup
    assert [d.action for d in associate([far], [cup], RULES, 5).decisions] == [Action.ADD]
    # two tracks on the blob: the blob detection confirms the blob, the cup track sits on it (inside
    # its box), so the cup detection far away re-seeds the cup instead of adding a second cup
    blob = TrackedBox(2, "blob", True, (0, 0, 20, 20))
    sitting = TrackedBox(3, "cup", True, (2, 2, 12, 12))
    out = associate([det(0, 0, 20, 20, label="blob"), far], [blob, sitting], RULES, free_slots=5)
    assert [(d.action, d.obj_id) for d in out.decisions] == [(Action.RESEED, 3)] and out.tracked == 1
    # a confirmed cup is never taken by another cup detection; an unlabelled track is never re-seeded
    out = associate([det(0, 0, 10, 10), det(9, 0, 19, 10)], [cup], RULES, free_slots=5)
    assert out.tracked == 1 and [d.action for d in out.decisions] == [Action.ADD]
    clicked = TrackedBox(4, "", True, (0, 0, 10, 10))
    assert [d.action for d in associate([det(9, 0, 19, 10)], [clicked], RULES, 5).decisions] == [Action.ADD]


def test_a_visible_object_matches_a_detection_of_its_own_label_first():
    """When objects overlap, a detection goes to the object of its label before a better-overlapping
    object of another label (an object keeps its class through a crossing)."""
    ellipse, blob = TrackedBox(1, "ellipse", True, (0, 0, 10, 10)), TrackedBox(2, "blob", True, (1, 0, 11, 10))
    out = associate([det(1, 0, 11, 10, label="ellipse")], [ellipse, blob], DetectionRules(refine=True), 5)
    assert [(d.action, d.obj_id) for d in out.decisions] == [(Action.REFINE, 1)]


def test_one_detection_per_object_best_overlap_first():
    tracked = [TrackedBox(1, "cup", True, (0, 0, 10, 10))]
    near, nearer = det(1, 0, 11, 10), det(0, 0, 10, 10)
    refine = DetectionRules(refine=True)
    out = associate([near, nearer], tracked, refine, free_slots=5)
    assert [(d.action, d.detection) for d in out.decisions] == [(Action.REFINE, nearer)]
    assert out.overlapping == 1  # the second box on the same object adds nothing


def test_filters_by_score_and_class():
    rules = DetectionRules(min_score=0.5, classes=frozenset({"cup"}))
    out = associate([det(0, 0, 9, 9, score=0.4), det(20, 20, 29, 29, "bowl"), det(40, 40, 49, 49)], [], rules, 5)
    assert out.filtered == 2 and [d.detection.box for d in out.decisions] == [(40, 40, 49, 49)]


def test_a_lost_object_is_reseeded_by_a_detection_of_its_label_and_keeps_its_id():
    lost = TrackedBox(7, "cup", False, (10, 10, 50, 50), hidden_frames=3)
    out = associate([det(20, 20, 60, 60)], [lost], RULES, free_slots=5)
    assert [(d.action, d.obj_id) for d in out.decisions] == [(Action.RESEED, 7)]
    other_label = associate([det(20, 20, 60, 60, label="bowl")], [lost], RULES, free_slots=5)
    assert [d.action for d in other_label.decisions] == [Action.ADD]
    far = associate([det(200, 200, 240, 240)], [lost], RULES, free_slots=5)  # IoU 0 < reseed_iou
    assert [d.action for d in far.decisions] == [Action.ADD]
    anywhere = associate([det(200, 200, 240, 240)], [lost], DetectionRules(lost_after_frames=3, reseed_iou=0.0), 5)
    assert [(d.action, d.obj_id) for d in anywhere.decisions] == [(Action.RESEED, 7)]


def test_a_briefly_hidden_object_is_left_to_sam2():
    hidden = TrackedBox(7, "cup", False, (10, 10, 50, 50), hidden_frames=2)  # lost after 3
    out = associate([det(10, 10, 50, 50)], [hidden], RULES, free_slots=5)
    assert out.decisions == [] and out.hidden == 1


def test_a_reseed_takes_no_free_slot():
    lost = TrackedBox(7, "cup", False, (10, 10, 50, 50), hidden_frames=9)
    out = associate([det(10, 10, 50, 50)], [lost], RULES, free_slots=0)
    assert [d.action for d in out.decisions] == [Action.RESEED] and out.over_limit == 0


def test_clip_box_to_the_image():
    assert clip_box((-5, -5, 20, 30), 24, 32) == (0.0, 0.0, 20.0, 24.0)
    assert clip_box((40, 0, 50, 10), 24, 32) is None  # wholly outside
    assert clip_box((31.5, 0, 50, 10), 24, 32) is None  # less than a pixel inside


def _detection_array(boxes, stamp_sec=3):
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    msg = Detection2DArray()
    msg.header.stamp.sec = stamp_sec
    for cx, cy, w, h, label, score in boxes:
        d = Detection2D()
        d.bbox.center.position.x, d.bbox.center.position.y = cx, cy
        d.bbox.size_x, d.bbox.size_y = w, h
        if label is not None:
            hyp = ObjectHypothesisWithPose()
            hyp.hypothesis.class_id, hyp.hypothesis.score = label, score
            d.results.append(hyp)
        msg.detections.append(d)
    return msg


def test_detections_from_a_message_keep_the_good_and_name_the_bad():
    from sam2_ros.node.commands import from_detections

    msg = _detection_array(
        [
            (20, 30, 10, 8, "cup", 0.8),
            (math.nan, 30, 10, 8, "cup", 0.8),
            (20, 30, -4, 8, "cup", 0.8),
            (20, 30, 10, 0, "cup", 0.8),
            (5, 5, 4, 4, None, 0.0),  # no results: unlabelled, score 1
        ]
    )
    request, problems = from_detections(msg, "cam")
    assert request.stream == "cam" and request.stamp_ns == 3_000_000_000
    assert request.detections == (Detection((15, 26, 25, 34), "cup", 0.8), Detection((3, 3, 7, 7), "", 1.0))
    assert sorted(p.kind for p in problems) == ["detection_not_finite", "detection_size", "detection_size"]


def test_tracked_detections_and_label_info_messages():
    from vision_msgs import msg as vm

    from sam2_ros.engine.results import FrameResult, ObjectResult
    from sam2_ros.node.outputs import label_info_msg, label_map, tracked_detections_msg

    def obj(obj_id, score, rows, cols):
        logits = np.full((16, 16), -10.0, np.float32)
        logits[rows, cols] = 10.0
        return ObjectResult(obj_id, logits, 0.9, score, np.zeros(4, np.float32), False, (16, 16))

    result = FrameResult(
        0, (16, 16), {2: obj(2, 3.0, slice(2, 6), slice(4, 12)), 5: obj(5, -2.0, slice(0, 2), slice(0, 2))}
    )
    from std_msgs.msg import Header

    header = Header(frame_id="camera")
    out = tracked_detections_msg(vm, result, header, {2: "cup"})
    assert out.header.frame_id == "camera" and [d.id for d in out.detections] == ["2"]  # 5 is not visible
    box = out.detections[0].bbox
    assert (box.center.position.x, box.center.position.y, box.size_x, box.size_y) == (8.0, 4.0, 8.0, 4.0)
    hyp = out.detections[0].results[0].hypothesis
    assert hyp.class_id == "cup" and hyp.score == pytest.approx(1 / (1 + math.exp(-3.0)))
    mapping = label_map([5, 2], {2: "cup"})
    assert mapping == ((2, "cup"), (5, "object_5"))
    info = label_info_msg(vm, mapping, header)
    assert [(c.class_id, c.class_name) for c in info.class_map] == [(2, "cup"), (5, "object_5")]
    assert info.threshold == pytest.approx(0.5)


def test_detections_module_imports_nothing_from_ros():
    source = Path(__file__).resolve().parents[3] / "sam2_ros" / "node" / "detections.py"
    tree = ast.parse(source.read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert modules <= {"__future__", "collections.abc", "dataclasses", "enum"}, modules
