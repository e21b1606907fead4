"""The node's ROS-free parts behind test/process/node/test_node_process.py: the parameter specs and
snapshot, the object book and the tracked-objects message it feeds, the mask's overlap rule."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from ros_harness import PARAMS_FILE


def test_parameters_file_declares_known_parameters():
    from sam2_ros.node.params import SPECS

    params = yaml.safe_load(PARAMS_FILE.read_text())["/**"]["ros__parameters"]
    for name, value in params.items():
        assert name in SPECS, name
        assert type(value) is type(SPECS[name].default), name


def test_parameter_specs_and_the_runtime_snapshot():
    """One spec per name; the writable parameters are exactly the snapshot's fields; descriptors carry ranges."""
    from dataclasses import FrozenInstanceError, fields

    from rcl_interfaces.msg import ParameterType

    from sam2_ros.engine.results import DEFAULT_SPECK_FRACTION
    from sam2_ros.node.params import PARAMETERS, SPECS, RuntimeParams, default, read_runtime

    assert len(SPECS) == len(PARAMETERS)
    from sam2_ros.node.detections import DetectionRules

    rules = {f.name for f in fields(DetectionRules)}
    snapshot_names = {f.name for f in fields(RuntimeParams)} - {"detection"}
    writable = {s.name for s in PARAMETERS if not s.read_only}
    # the detection rules are read from the writable detection_* parameters and lost_after_frames
    from_rules = {f"detection_{r}" for r in rules - {"lost_after_frames", "classes"}} | {"lost_after_frames"}
    assert writable == snapshot_names | from_rules  # detection_classes is read-only (read with the rest)
    snapshot = read_runtime(default)
    assert snapshot == read_runtime(lambda name: SPECS[name].default)
    assert snapshot == RuntimeParams(
        16, 0.0, DEFAULT_SPECK_FRACTION, True, 0.5, 4096 * 4096, DetectionRules(), 0.0, 0.05, 3, 5000
    )
    with pytest.raises(FrozenInstanceError):
        snapshot.max_objects = 3
    wait = SPECS["prompt_wait_s"].descriptor()
    assert wait.type == ParameterType.PARAMETER_DOUBLE and not wait.read_only
    assert (wait.floating_point_range[0].from_value, wait.floating_point_range[0].to_value) == (0.0, 10.0)
    cache = SPECS["prompt_frame_cache"].descriptor()
    assert cache.read_only and (cache.integer_range[0].from_value, cache.integer_range[0].to_value) == (1, 16)
    model_dir = SPECS["model_dir"].descriptor()
    assert not model_dir.integer_range and not model_dir.floating_point_range


def test_object_book_keeps_one_record_per_object():
    from sam2_ros.node.book import ObjectBook, ObjectRecord

    objects = ObjectBook()
    objects.add(1, "disc")
    objects.add(2)
    objects.add(1)  # a refinement without a label keeps the label
    assert objects.labels() == {1: "disc"} and len(objects) == 2 and list(objects) == [1, 2]
    objects.record_frame({1: True, 2: False}, 1_000)
    objects.record_frame({1: False, 2: False}, 2_000)
    assert objects.get(1) == ObjectRecord("disc", frames_tracked=2, last_seen_ns=1_000, hidden_frames=1)
    assert objects.get(2) == ObjectRecord("", frames_tracked=2, last_seen_ns=None, hidden_frames=2)
    objects.add(2, "box")
    assert objects.get(2).label == "box" and objects.get(2).frames_tracked == 2
    objects.remove(1)
    objects.remove(9)  # unknown: nothing happens
    assert 1 not in objects and objects.get(1) == ObjectRecord() and list(objects) == [2]
    objects.clear()
    assert len(objects) == 0 and objects.labels() == {}


def test_tracked_objects_message_from_the_book():
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header

    from sam2_ros.engine import FrameResult
    from sam2_ros.node.book import ObjectBook
    from sam2_ros.node.conversions import tracked_objects_msg

    seen, hidden = _object(1, [[2.0, 1.0, -1.0, -1.0]]), _object(2, [[1.0, 1.0, 3.0, -2.0]], score=-1.0)
    objects = ObjectBook()
    objects.add(1, "disc")
    objects.add(2)
    objects.record_frame({1: True, 2: False}, 5_000_000_007)
    header = Header(stamp=Time(sec=5, nanosec=7), frame_id="camera")
    msg = tracked_objects_msg(FrameResult(0, (1, 4), {1: seen, 2: hidden}), header, "cam", objects, 1.25)
    one, two = msg.objects
    assert (msg.stream, msg.height, msg.width, msg.header.frame_id) == ("cam", 1, 4, "camera")
    assert (msg.inference_latency.sec, msg.inference_latency.nanosec) == (1, 250_000_000)
    assert (one.object_id, one.label, one.visible, one.frames_tracked, one.area) == (1, "disc", True, 1, 2)
    assert (one.last_seen.sec, one.last_seen.nanosec) == (5, 7)
    assert (one.bbox.x_offset, one.bbox.width, one.bbox.height) == (0, 2, 1)
    assert (two.object_id, two.label, two.visible, two.frames_tracked, two.area) == (2, "", False, 1, 0)
    assert (two.last_seen.sec, two.last_seen.nanosec) == (0, 0)


def _object(obj_id, logits, score=1.0):
    """An engine ObjectResult whose logits are already at the image's size."""
    from sam2_ros.engine import ObjectResult

    logits = np.asarray(logits, np.float32)
    return ObjectResult(obj_id, logits, 0.9, score, np.zeros(4, np.float32), False, logits.shape)


def test_label_image_overlap_rule():
    """Pixel = object id; overlaps go to the higher logit, ties to the lower id; occluded objects drawn nowhere."""
    from sam2_ros.engine import FrameResult

    a = _object(3, [[2.0, 1.0, -1.0, 5.0]])
    b = _object(7, [[1.0, 1.0, 3.0, -2.0]])
    hidden = _object(9, [[9.0, 9.0, 9.0, 9.0]], score=-1.0)
    result = FrameResult(0, (1, 4), {7: b, 3: a, 9: hidden})
    np.testing.assert_array_equal(result.label_image(), [[3, 3, 7, 3]])
