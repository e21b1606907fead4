"""The node in a perception graph, over DDS between processes: a detector's vision_msgs boxes
in, tracked_detections and label_info out, rqt_image_view clicks, corrections kept as
conditioning frames (against Meta's predictor), and the node without vision_msgs.

Detections and vision outputs run on the shipped model (trained: its masks fit the objects, so
boxes overlap as a detector's would); the re-seeding test uses a model whose object-score head
reads every object as not visible; the corrections test uses the random model Meta's predictor
is built from.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np
import pytest
from ros_harness import mask_array, prompt_msg, running_node, wait_until

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import image_ops
from sam2_ros.node.detections import iou

TIMEOUT = 60.0


def detection_array(stamp_sec: int, boxes: list[tuple[tuple[float, float, float, float], str, float]]):
    """A Detection2DArray stamped ``stamp_sec`` from ((x0, y0, x1, y1), label, score) boxes."""
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    msg = Detection2DArray()
    msg.header.stamp.sec = stamp_sec
    msg.header.frame_id = "camera"
    for (x0, y0, x1, y1), label, score in boxes:
        det = Detection2D()
        det.header = msg.header
        det.bbox.center.position.x, det.bbox.center.position.y = (x0 + x1) / 2, (y0 + y1) / 2
        det.bbox.size_x, det.bbox.size_y = float(x1 - x0), float(y1 - y0)
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = label, score
        det.results.append(hyp)
        msg.detections.append(det)
    return msg


INPUTS = ("image", "prompt", "image_mouse_left", "overlay_mouse_left")  # and "detections" with vision_msgs
OUTPUTS = ("tracked_objects", "mask")  # and "tracked_detections", "label_info" with vision_msgs


@contextlib.contextmanager
def graph_node(client, log_dir, model_dir, params=None, *, vision: bool = True, env=None):
    """A node in its process with this test's publishers and subscribers around it (one stream;
    ``vision``: those of vision_msgs too), once it answered a first frame."""
    inputs = INPUTS + (("detections",) if vision else ())
    outputs = OUTPUTS + (("tracked_detections", "label_info") if vision else ())
    with running_node(
        client, log_dir, model_dir, params, env=env, inputs=inputs, outputs=outputs, timeout=TIMEOUT
    ) as graph:  # fmt: skip
        graph.frame(generate_clip(0, num_frames=1).frames[0], resend=True)
        yield graph


def ids_and_labels(objects_msg) -> dict[int, str]:
    return {o.object_id: o.label for o in objects_msg.objects}


@pytest.fixture(scope="module")
def clip():
    return generate_clip(5, num_frames=20, num_objects=2, occlusion=False)


@pytest.fixture(scope="module")
def graph(shipped_dir, tmp_path_factory, client):
    with graph_node(client, tmp_path_factory.mktemp("perception"), shipped_dir, {"max_objects": 4}) as graph:
        yield graph


def gt_detections(clip, t: int, ids=(1, 2)) -> list:
    return [(clip.box(i, t), clip.kinds[i], 0.9) for i in ids]


def counters(graph) -> dict[str, int]:
    """The detection counters of the node's diagnostics (cumulative since it started)."""
    keys = ("detection_arrays", "objects_added_by_detections", "objects_reseeded")
    diag = wait_until(lambda: all(k in (d := graph.diagnostics()) for k in keys) and d, TIMEOUT, "diagnostics")
    return {k: int(diag[k]) for k in keys}


def test_a_detector_adds_labelled_objects_and_a_detection_of_a_tracked_object_adds_nothing(graph, clip):
    graph.start_over()
    start = counters(graph)
    graph.frame(clip.frames[0], then=lambda s: graph.publish("detections", detection_array(s, gt_detections(clip, 0))))
    objs = wait_until(
        lambda: len((m := graph.frame(clip.frames[1])).objects) == 2 and m, TIMEOUT, "two objects from detections"
    )
    assert ids_and_labels(objs) == {1: clip.kinds[1], 2: clip.kinds[2]}
    for obj in objs.objects:  # the new objects are the detected ones
        box = (
            obj.bbox.x_offset,
            obj.bbox.y_offset,
            obj.bbox.x_offset + obj.bbox.width,
            obj.bbox.y_offset + obj.bbox.height,
        )
        assert obj.visible and iou(box, clip.box(obj.object_id, 1)) > 0.5
    # the detector sees the same objects again a few frames later (its boxes a little off), and a third thing
    noisy = [
        ((x0 + 2, y0 - 1, x1 + 1, y1 + 2), label, score) for (x0, y0, x1, y1), label, score in gt_detections(clip, 4)
    ]
    for t in range(2, 4):
        graph.frame(clip.frames[t])
    extra = ((10.0, 10.0, 40.0, 40.0), "thing", 0.8)
    graph.frame(clip.frames[4], then=lambda s: graph.publish("detections", detection_array(s, [*noisy, extra])))
    objs = wait_until(lambda: len((m := graph.frame(clip.frames[5])).objects) == 3 and m, TIMEOUT, "a third object")
    assert ids_and_labels(objs) == {1: clip.kinds[1], 2: clip.kinds[2], 3: "thing"}
    for t in range(6, 9):
        assert len(graph.frame(clip.frames[t]).objects) == 3  # nothing more came
    expected = {"detection_arrays": 2, "objects_added_by_detections": 3, "objects_reseeded": 0}
    wait_until(
        lambda: {k: v - start[k] for k, v in counters(graph).items()} == expected, TIMEOUT, f"counters {expected}"
    )


def test_tracked_detections_and_label_info_match_tracked_objects(graph, clip, client):
    from vision_msgs.msg import LabelInfo

    graph.start_over()
    graph.frame(
        clip.frames[0], then=lambda s: graph.publish("detections", detection_array(s, gt_detections(clip, 0, (1,))))
    )
    new_object = prompt_msg(0, graph.stamp + 1, points=[clip.first_visible_point(2, 1)], labels=[1])  # id 0: new
    graph.frame(clip.frames[1], then=lambda s: graph.publish("prompt", new_object))
    stamps = [graph.frame(clip.frames[t]).header.stamp.sec for t in range(2, 5)]
    for stamp in stamps:
        objs = graph.output(stamp, wait=False)
        dets = graph.output(stamp, "tracked_detections")
        assert dets.header == objs.header
        visible = {o.object_id: o for o in objs.objects if o.visible}
        assert visible and sorted(int(d.id) for d in dets.detections) == sorted(visible)
        for d in dets.detections:
            obj = visible[int(d.id)]
            assert d.bbox.center.position.x == pytest.approx(obj.bbox.x_offset + obj.bbox.width / 2)
            assert d.bbox.center.position.y == pytest.approx(obj.bbox.y_offset + obj.bbox.height / 2)
            assert (d.bbox.size_x, d.bbox.size_y) == (obj.bbox.width, obj.bbox.height)
            assert d.results[0].hypothesis.class_id == (obj.label or f"object_{obj.object_id}")
            assert d.results[0].hypothesis.score == pytest.approx(obj.presence_probability, abs=1e-6)
    assert ids_and_labels(objs) == {1: clip.kinds[1], 2: ""}  # the click (object id 0 = new) got id 2
    info = graph.messages("label_info")[-1]
    assert [(c.class_id, c.class_name) for c in info.class_map] == [(1, clip.kinds[1]), (2, "object_2")]
    # label_info is latched (transient local): a late subscriber gets the current map
    from rclpy.qos import DurabilityPolicy, QoSProfile

    late: list[Any] = []
    sub = client.node.create_subscription(
        LabelInfo,
        graph.topic("label_info"),
        late.append,
        QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL),
    )
    try:
        wait_until(lambda: late, TIMEOUT, "the latched label_info")
        assert [(c.class_id, c.class_name) for c in late[-1].class_map] == [(1, clip.kinds[1]), (2, "object_2")]
    finally:
        client.node.destroy_subscription(sub)


def test_a_present_object_without_mask_pixels_is_not_visible_in_any_output(graph, clip):
    """SAM 2 says "present" (presence > 0.5) but no pixel passes the mask threshold: tracked_objects
    said visible with area 0 and a zero box, while tracked_detections left it out. Now no output
    calls it visible."""
    graph.start_over()
    graph.frame(
        clip.frames[0], then=lambda s: graph.publish("detections", detection_array(s, gt_detections(clip, 0, (1,))))
    )
    tracked = graph.frame(clip.frames[1])
    assert [(o.object_id, o.visible) for o in tracked.objects] == [(1, True)]
    result = graph.set_parameter("mask_threshold", 20.0)  # no logit is that high: every mask is empty
    assert result.successful, result.reason
    try:
        objs = graph.frame(clip.frames[2])
        stamp = objs.header.stamp.sec
        [obj] = objs.objects
        assert obj.presence_probability > 0.5 and obj.area == 0  # present by SAM 2's score, no pixels
        assert not obj.visible and obj.bbox.width == 0
        dets = graph.output(stamp, "tracked_detections")
        assert list(dets.detections) == []
        mask = graph.output(stamp, "mask")
        assert not mask_array(mask).any()
    finally:
        result = graph.set_parameter("mask_threshold", 0.0)
        assert result.successful, result.reason
    assert [o.visible for o in graph.frame(clip.frames[3]).objects] == [True]


def test_a_click_on_image_mouse_left_or_overlay_mouse_left_adds_an_object(graph, clip):
    from geometry_msgs.msg import Point

    graph.start_over()
    graph.frame(clip.frames[0])
    x, y = clip.first_visible_point(1, 0)
    graph.publish("image_mouse_left", Point(x=x, y=y, z=0.0))
    objs = wait_until(lambda: (m := graph.frame(clip.frames[1])).objects and m, TIMEOUT, "the clicked object")
    assert ids_and_labels(objs) == {1: ""} and objs.objects[0].visible
    mask = mask_array(graph.output(objs.header.stamp.sec, "mask"))
    assert mask[int(round(y)), int(round(x))] == 1  # the clicked pixel is the new object's
    x, y = clip.first_visible_point(2, 1)
    graph.publish("overlay_mouse_left", Point(x=x, y=y, z=0.0))  # a click on the overlay, where the masks show
    objs = wait_until(lambda: len((m := graph.frame(clip.frames[2])).objects) == 2 and m, TIMEOUT, "a second click")
    assert sorted(ids_and_labels(objs)) == [1, 2]


def test_bad_detections_and_clicks_are_dropped_and_tracking_goes_on(graph, clip):
    from geometry_msgs.msg import Point

    graph.start_over()
    graph.frame(
        clip.frames[0], then=lambda s: graph.publish("detections", detection_array(s, gt_detections(clip, 0, (1,))))
    )
    before = wait_until(lambda: (m := graph.frame(clip.frames[1])).objects and m, TIMEOUT, "the detected object")
    w, h = float(clip.frames.shape[2]), float(clip.frames.shape[1])
    bad = [
        ((float("nan"), 10.0, 30.0, 30.0), "cup", 0.9),
        ((50.0, 50.0, 40.0, 60.0), "cup", 0.9),  # negative width
        ((w + 10, h + 10, w + 40, h + 40), "cup", 0.9),  # outside the image
    ]
    stamp = graph.stamp
    graph.publish("detections", detection_array(stamp, bad))
    graph.publish("detections", detection_array(stamp, []))  # empty: a detector that saw nothing
    graph.publish("detections", detection_array(999_999, gt_detections(clip, 1, (2,))))  # a stamp never seen
    graph.publish("image_mouse_left", Point(x=w + 5, y=5.0, z=0.0))  # outside the image
    graph.publish("image_mouse_left", Point(x=float("inf"), y=5.0, z=0.0))
    for t in range(2, 5):
        objs = graph.frame(clip.frames[t])
        assert ids_and_labels(objs) == ids_and_labels(before)
    expected = ("NaN", "not positive", "lies outside the", "matches no image received", "click (", "click dropped")
    wait_until(lambda: all(e in graph.proc.log() for e in expected), TIMEOUT, f"warnings naming {expected}")
    assert graph.proc.alive()


LOST_AFTER = 4


DETECTOR_CLIPS = (41, 42, 43, 44, 45)  # seeded 640x480 clips, three objects whose paths cross
DETECTOR_FRAMES = 100
DETECTOR_PERIOD_S = 0.1  # 10 Hz


def test_a_detector_at_10_hz_on_crossing_objects_makes_no_duplicates(shipped_dir, tmp_path_factory, client):
    """A detector sends the tracked objects' true boxes (plus noise) with every frame at 10 Hz for
    100 frames, on five clips where objects cross and hide one another: it seeds each object once
    and never adds a duplicate. (A tracked mask's stray specks far from the object stretched its box,
    so a detection of that very object fell below detection_new_max_iou and became a new object:
    8-11 extra objects in 50 frames.)"""
    from std_msgs.msg import Header

    from sam2_ros.tools.demo.scripted_detector import detect
    from sam2_ros.tools.demo.scripted_detector import detection_array as scripted_array

    with graph_node(client, tmp_path_factory.mktemp("detector_10hz"), shipped_dir, {"max_objects": 20}) as graph:
        extra = {}
        for seed in DETECTOR_CLIPS:
            clip = generate_clip(seed, num_frames=DETECTOR_FRAMES, height=480, width=640, num_objects=3)
            graph.start_over()
            seen: set[int] = set()
            detected: set[int] = set()
            for t in range(DETECTOR_FRAMES):
                start = time.monotonic()
                detections = detect(clip, t, seed=seed, noise_px=2.0)
                detected |= {d.object_id for d in detections}

                def send(stamp: int, detections=detections) -> None:
                    header = Header(frame_id="camera")
                    header.stamp.sec = stamp
                    graph.publish("detections", scripted_array(detections, header))

                objs = graph.frame(clip.frames[t], then=send)
                seen |= {o.object_id for o in objs.objects}
                time.sleep(max(0.0, DETECTOR_PERIOD_S - (time.monotonic() - start)))
            time.sleep(0.5)  # the last frame's detections
            last = graph.frame(clip.frames[-1])
            seen |= {o.object_id for o in last.objects}
            extra[seed] = len(seen) - len(detected)
        assert extra == {seed: 0 for seed in DETECTOR_CLIPS}, f"objects beyond the detected ones, per clip: {extra}"


@pytest.fixture(scope="module")
def hidden_graph(model_small_occluded, tmp_path_factory, client):
    """A node whose model reads every object as not visible: objects are lost after LOST_AFTER frames."""
    params = {"lost_after_frames": LOST_AFTER}
    with graph_node(client, tmp_path_factory.mktemp("lost"), model_small_occluded.model_dir, params) as graph:
        yield graph


def test_a_lost_object_is_reseeded_by_a_detection_and_keeps_its_id(hidden_graph, clip):
    """Detections reach the node while it tracks frame t or just after: the object has been hidden
    for t or t + 1 frames then (its prompt frame included)."""
    g = hidden_graph
    g.start_over()
    cup = [(clip.box(1, 0), "cup", 0.9)]
    g.frame(clip.frames[0], then=lambda s: g.publish("detections", detection_array(s, cup)))
    objs = wait_until(lambda: (m := g.frame(clip.frames[1])).objects and m, TIMEOUT, "the detected object")
    assert ids_and_labels(objs) == {1: "cup"} and not objs.objects[0].visible
    # hidden for fewer than LOST_AFTER frames: a detection of it is left to SAM 2, no duplicate
    g.frame(clip.frames[2], then=lambda s: g.publish("detections", detection_array(s, cup)))
    for t in range(3, LOST_AFTER + 3):
        g.frame(clip.frames[t])
    # lost: the same detection re-seeds it under its id
    g.frame(clip.frames[LOST_AFTER + 3], then=lambda s: g.publish("detections", detection_array(s, cup)))
    for t in range(LOST_AFTER + 4, LOST_AFTER + 6):
        assert ids_and_labels(g.frame(clip.frames[t])) == {1: "cup"}
    expected = {"detection_arrays": 3, "objects_added_by_detections": 1, "objects_reseeded": 1}
    wait_until(lambda: counters(g) == expected, TIMEOUT, f"counters {expected}")
    # a detection of another class where the cup was is a new object
    g.frame(
        clip.frames[11], then=lambda s: g.publish("detections", detection_array(s, [(clip.box(1, 0), "bowl", 0.9)]))
    )
    objs = wait_until(lambda: len((m := g.frame(clip.frames[12])).objects) == 2 and m, TIMEOUT, "the bowl")
    assert ids_and_labels(objs) == {1: "cup", 2: "bowl"}


def test_corrections_persist_as_conditioning_frames_and_match_meta(model_small, tmp_path_factory, client, tmp_path):
    """With ``corrections_as_conditioning``, a correction on frame 3 still shapes the masks 8
    frames later, exactly as in Meta's predictor built with ``add_all_frames_to_correct_as_cond``
    (whose masks, without the flag, differ by then)."""
    from sam2_ros.evaluation.reference import OfficialStream, build_official_predictor

    clip = generate_clip(1, num_frames=16)
    correction, last = 3, 11
    prompts = {0: ([clip.first_visible_point(1)], [1]), correction: ([clip.first_visible_point(2, correction)], [0])}
    # speck_fraction 0: the node publishes SAM 2's raw masks, compared pixel for pixel with Meta's
    params = {"corrections_as_conditioning": True, "speck_fraction": 0.0}
    with graph_node(client, tmp_path_factory.mktemp("corrections"), model_small.model_dir, params, vision=False) as g:
        g.start_over()
        masks = []
        for t in range(last + 1):
            then = None
            if t in prompts:
                points, labels = prompts[t]
                then = lambda s, p=points, lb=labels: g.publish("prompt", prompt_msg(1, s, points=p, labels=lb))  # noqa: E731
            objs = g.frame(clip.frames[t], then=then)
            masks.append(mask_array(g.output(objs.header.stamp.sec, "mask")))

    def meta_masks(as_conditioning: bool) -> list[np.ndarray]:
        predictor = build_official_predictor(
            model_small.checkpoint, model_small.config, image_size=model_small.image_size,
            add_all_frames_to_correct_as_cond=as_conditioning,
        )  # fmt: skip
        stream = OfficialStream(predictor, clip.frames, workdir=tmp_path)
        out = []
        try:
            for t in range(last + 1):
                objects = stream.track()
                if t in prompts:
                    objects = stream.add_points(1, points=prompts[t][0], labels=prompts[t][1])
                logits = image_ops.resize_float(objects[1].low_res_logits, *clip.frames.shape[1:3])
                out.append(logits > 0)
        finally:
            stream.close()
        return out

    with_flag, without_flag = meta_masks(True), meta_masks(False)
    # a prompt frame may be published as soon as it is tracked, before its prompt arrives (the
    # prompt lands on it by stamp and shows from the next frame on): compare the other frames
    for t in sorted(set(range(last + 1)) - set(prompts)):
        agree = float(np.mean((masks[t] == 1) == with_flag[t]))
        assert agree >= 0.999, f"frame {t}: the node's mask agrees with Meta's on {agree:.4%} of pixels"
    later = range(correction + 7, last + 1)  # the correction's ordinary memory has left the bank by then
    assert any(not np.array_equal(with_flag[t], without_flag[t]) for t in later), "the flag changed nothing"


def test_without_vision_msgs_the_features_are_off_with_one_warning(shipped_dir, tmp_path_factory, client, clip):
    hide = tmp_path_factory.mktemp("no_vision_msgs")
    (hide / "vision_msgs").mkdir()
    (hide / "vision_msgs" / "__init__.py").write_text('raise ImportError("vision_msgs hidden by the test")\n')
    import os

    path = os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])
    with graph_node(
        client, tmp_path_factory.mktemp("novision"), shipped_dir, vision=False, env={"PYTHONPATH": path}
    ) as g:
        g.start_over()
        g.frame(clip.frames[0], then=lambda s: g.publish("prompt", prompt_msg(1, s, box=clip.box(1, 0))))
        objs = wait_until(lambda: (m := g.frame(clip.frames[1])).objects and m, TIMEOUT, "the prompted object")
        assert ids_and_labels(objs) == {1: ""}
        time.sleep(1.0)
        topics = {name for name, _ in client.node.get_topic_names_and_types()}
        assert g.topic("tracked_objects") in topics
        assert not {g.topic("tracked_detections"), g.topic("label_info")} & topics
        assert g.proc.log().count("vision_msgs is not installed") == 1
