"""The scripted detector (issue 13): ground-truth boxes plus noise, as vision_msgs, through the demo
(as programs, over DDS: test/process/tools/test_scripted_detector_process.py)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.tools.demo import node_demo, player
from sam2_ros.tools.demo.scripted_detector import NOISE_CLIP, SCORE_RANGE, Detection, detect, detection_array


@pytest.fixture(scope="module")
def clip():
    """The demo's clip (seed 11, 640x480, 32 frames): object 3 all but leaves the frame around frame 18."""
    return generate_clip(11, num_frames=32, height=480, width=640)


def test_detections_are_seeded(clip):
    assert detect(clip, 5, seed=3) == detect(clip, 5, seed=3)
    assert detect(clip, 5, seed=3) != detect(clip, 5, seed=4)
    assert detect(clip, 5, seed=3) != detect(clip, 6, seed=3)


def test_boxes_are_the_ground_truth_within_the_noise_bound(clip):
    for t in range(len(clip.frames)):
        for det in detect(clip, t, noise_px=2.0):
            truth = np.array(clip.box(det.object_id, t))
            assert np.all(np.abs(np.array(det.box) - truth) <= NOISE_CLIP * 2.0 + 1e-9), (t, det)
            x0, y0, x1, y1 = det.box
            assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480
    exact = detect(clip, 0, noise_px=0.0)
    assert [d.box for d in exact] == [clip.box(i, 0) for i in (1, 2, 3)]
    noisy = detect(clip, 0, noise_px=2.0)
    assert any(d.box != e.box for d, e in zip(noisy, exact))


def test_only_visible_objects_with_their_labels_and_scores(clip):
    for t in range(len(clip.frames)):
        found = detect(clip, t)
        visible = [i for i in sorted(clip.masks) if clip.masks[i][t].sum() >= 0.01 * 640 * 480]
        assert [d.object_id for d in found] == visible, t
        for det in found:
            assert det.label == clip.kinds[det.object_id]
            assert SCORE_RANGE[0] <= det.score <= SCORE_RANGE[1]
    assert [d.label for d in detect(clip, 0)] == ["blob", "blob", "ellipse"]
    assert [d.object_id for d in detect(clip, 17)] == [1, 2]  # object 3: 71 visible pixels


def test_every_and_misses(clip):
    assert detect(clip, 3, every=2) == []
    assert detect(clip, 4, every=2) == detect(clip, 4)  # the noise of a frame does not depend on `every`
    assert all(detect(clip, t, miss_probability=1.0) == [] for t in range(4))
    kept = sum(len(detect(clip, t, miss_probability=0.5)) for t in range(len(clip.frames)))
    assert 0 < kept < sum(len(detect(clip, t)) for t in range(len(clip.frames)))
    with pytest.raises(ValueError):
        detect(clip, 0, every=0)


def test_detection_array_fields():
    from std_msgs.msg import Header

    header = Header(frame_id="camera")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    detections = [Detection((10.0, 20.0, 50.0, 100.0), "star", 0.75, 4), Detection((0.0, 0.0, 3.0, 5.0), "blob", 0.6)]
    msg = detection_array(detections, header)
    assert msg.header == header and len(msg.detections) == 2
    first = msg.detections[0]
    assert first.header == header
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (30.0, 60.0)
    assert (first.bbox.size_x, first.bbox.size_y) == (40.0, 80.0)
    assert len(first.results) == 1
    assert first.results[0].hypothesis.class_id == "star" and first.results[0].hypothesis.score == 0.75
    assert msg.detections[1].results[0].hypothesis.class_id == "blob"
    assert detection_array([], header).detections == []


def test_detections_need_the_synthetic_clip(tmp_path):
    with pytest.raises(SystemExit) as raised:
        player.main(["--video", str(tmp_path / "x.mp4"), "--detections-topic", "detections"])
    assert raised.value.code == 2
    with pytest.raises(SystemExit) as raised:
        node_demo.main(["--prompts", "detector", "--frames", str(tmp_path), "--output", str(tmp_path / "out")])
    assert raised.value.code == 2


def _fake_recorder(frames: list[tuple[np.ndarray, list[tuple[int, str]]]]) -> SimpleNamespace:
    """A Recorder's state: one label image and (id, label) objects per frame, stamped by frame index."""
    objects, labels = [], {}
    for t, (image, objs) in enumerate(frames):
        header = SimpleNamespace(stamp=SimpleNamespace(sec=t, nanosec=0))
        items = [SimpleNamespace(object_id=i, label=lab, has_position=False) for i, lab in objs]  # no depth
        msg = SimpleNamespace(header=header, objects=items)
        objects.append((0, msg))
        labels[t * 10**9] = image
    stamps = [t * 10**9 for t in range(len(frames))]
    return SimpleNamespace(lock=threading.Lock(), objects=objects, label_images=labels, input_stamps=stamps)


def test_quality_maps_the_node_ids_to_the_ground_truth(clip):
    """Detector prompts: node ids 1, 2, 3 tracking ground-truth objects 3, 1, 2 score as those."""
    frames = []
    for t in range(4):
        image = np.zeros((480, 640), np.uint8)
        for node_id, truth_id in ((1, 3), (2, 1), (3, 2)):
            image[clip.masks[truth_id][t]] = node_id
        frames.append((image, [(1, "ellipse"), (2, "blob"), (3, "blob")]))
    recorder = _fake_recorder(frames)
    quality = node_demo.quality_vs_ground_truth(recorder, clip, node_chose_ids=True)
    assert quality["node_to_ground_truth_id"] == {"1": 3, "2": 1, "3": 2}
    assert quality["mean_iou"] == 1.0 and quality["object_frames_scored"] == 12
    assert set(quality["mean_iou_per_object"]) == {"1", "2", "3"}
    # prompts from a file: the ids are the file's, meant as the clip's
    identity = node_demo.quality_vs_ground_truth(recorder, clip)
    assert identity["mean_iou"] < 0.1 and "node_to_ground_truth_id" not in identity
