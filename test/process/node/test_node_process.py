"""The ROS 2 node, in its own process, driven over real DDS by a client in this process."""

from __future__ import annotations

import time

import numpy as np
import pytest
from ros_harness import (
    NodeDriver,
    NodeProcess,
    image_msg,
    mask_array,
    publish_until,
    running_node,
)

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import Sam2Tracker

TIMEOUT = 30.0


@pytest.fixture(scope="module")
def clip():
    return generate_clip(21, num_frames=16)


@pytest.fixture(scope="module")
def node(model_small, tmp_path_factory, client):
    """One node for the tests that share it (each starts it over first), answering a first frame."""
    with running_node(
        client, tmp_path_factory.mktemp("node"), model_small.model_dir, {"max_objects": 4},
        outputs=("tracked_objects", "mask"), timeout=TIMEOUT,
    ) as driver:  # fmt: skip
        driver.frame(generate_clip(0, num_frames=1).frames[0], resend=True)
        yield driver


def _objects(msg):
    return {o.object_id: o for o in msg.objects}


def test_click_box_and_mask_prompts(node, clip):
    node.start_over(1000)
    node.frame(
        clip.frames[0],
        [
            {"object_id": 1, "points": [clip.first_visible_point(1)], "labels": [1], "label": "disc"},
            {"object_id": 2, "box": clip.box(2)},
            {"object_id": 3, "mask": clip.masks[3][0]},
        ],
    )
    for t in range(1, 3):
        objs = node.frame(clip.frames[t])
    mask = node.output(node.stamp, "mask")
    tracked = _objects(objs)
    assert set(tracked) == {1, 2, 3}
    assert tracked[1].label == "disc" and tracked[2].label == ""
    assert tracked[3].frames_tracked >= 2
    values = set(np.unique(mask_array(mask)).tolist())
    assert values <= {0, 1, 2, 3}
    for obj in tracked.values():
        if obj.visible and obj.area:
            assert (mask_array(mask) == obj.object_id).sum() <= obj.area


def test_headers_and_sizes_are_copied(node, clip):
    node.start_over(2000)
    node.frame(clip.frames[0], [{"object_id": 1, "points": [clip.first_visible_point(1)], "labels": [1]}])
    objs = node.frame(clip.frames[1])
    mask = node.output(node.stamp, "mask")
    assert objs.header.stamp.sec == mask.header.stamp.sec == node.stamp
    assert objs.header.frame_id == mask.header.frame_id == "camera"
    assert (objs.height, objs.width) == (mask.height, mask.width) == clip.frames[1].shape[:2]
    assert mask.encoding == "mono8"
    assert objs.inference_latency.sec > 0 or objs.inference_latency.nanosec > 0


def test_outputs_agree_with_the_engine(node, clip, model_small):
    """The node's mask image and objects are the engine's result for the same frames and prompts."""

    def frame(rgb, prompts=()):  # its tracked_objects and mask
        return node.frame(rgb, prompts), node.output(node.stamp, "mask")

    node.start_over(3000)
    engine = Sam2Tracker.from_model_dir(model_small.model_dir, threads=2)
    p1, box2 = clip.first_visible_point(1), clip.box(2)
    got = [frame(clip.frames[0], [{"object_id": 1, "points": [p1], "labels": [1]}, {"object_id": 2, "box": box2}])]
    engine.track(clip.frames[0])
    engine.add_prompt(1, points=[p1], labels=[1])
    want = [engine.add_prompt(2, box=box2)]
    for t in range(1, 4):
        got.append(frame(clip.frames[t]))
        want.append(engine.track(clip.frames[t]))
    # Frame 0 was published as soon as it was tracked, before its prompts arrived; they land on
    # it (by stamp) and show from frame 1 on, exactly as if given with the frame.
    for (objs, mask), result in zip(got[1:], want[1:]):
        assert [o.object_id for o in objs.objects] == list(result.objects)
        np.testing.assert_array_equal(mask_array(mask), result.label_image())
        for obj_id, obj in result.objects.items():
            msg = _objects(objs)[obj_id]
            assert msg.visible == obj.visible and msg.area == obj.area
            assert msg.predicted_iou == pytest.approx(obj.predicted_iou, abs=1e-5)
            if obj.bbox:
                assert (msg.bbox.x_offset, msg.bbox.y_offset) == obj.bbox[:2]
                assert (msg.bbox.width, msg.bbox.height) == (obj.bbox[2] - obj.bbox[0], obj.bbox[3] - obj.bbox[1])


def test_refine_and_remove(node, clip):
    node.start_over(4000)
    node.frame(clip.frames[0], [{"object_id": 5, "box": clip.box(1)}, {"object_id": 6, "box": clip.box(2)}])
    before = node.frame(clip.frames[1])
    objs = node.frame(clip.frames[2], [{"object_id": 5, "points": [clip.first_visible_point(1, 2)], "labels": [0]}])
    assert set(_objects(objs)) == {5, 6}
    node.prompt(object_id=5, action=1)  # remove
    objs = node.frame(clip.frames[3])
    assert set(_objects(objs)) == {6}
    assert _objects(objs)[6].frames_tracked == _objects(before)[6].frames_tracked + 2


def test_reset_by_topic_and_by_service(node, clip):
    node.start_over(5000)
    node.frame(clip.frames[0], [{"object_id": 1, "box": clip.box(1)}])
    node.prompt(object_id=0, action=2)  # reset the stream
    objs = node.frame(clip.frames[1])
    assert objs.objects == []
    node.frame(clip.frames[2], [{"object_id": 2, "box": clip.box(2, 2)}])
    assert node.reset().success
    objs = node.frame(clip.frames[3])
    mask = node.output(node.stamp, "mask")
    assert objs.objects == [] and not mask_array(mask).any()


BAD_IMAGES = {
    "wrong step": (lambda m: setattr(m, "step", m.step - 3), "is smaller than width x channels"),
    "short data": (lambda m: setattr(m, "data", bytes(m.data)[:-10]), "!= step x height"),
    "empty image": (lambda m: (setattr(m, "height", 0), setattr(m, "data", b"")), "empty image"),
    "unknown encoding": (lambda m: setattr(m, "encoding", "32FC1"), "unsupported encoding '32FC1'"),
    "oversized image": (lambda m: None, "exceeds max_image_pixels"),
}


def test_bad_images_are_dropped_and_the_node_goes_on(node, clip):
    node.start_over(6000)
    node.frame(clip.frames[0], [{"object_id": 1, "box": clip.box(1)}])
    for name, (spoil, expected) in BAD_IMAGES.items():
        if name == "oversized image":  # set at run time: the node takes it without a restart
            assert node.set_parameter("max_image_pixels", 1000).successful
        node.stamp += 1
        msg = image_msg(clip.frames[1], node.stamp)
        spoil(msg)
        publish_until(lambda m=msg: node.publish("image", m), lambda e=expected: e in node.proc.log(), TIMEOUT, name)
        if name == "oversized image":
            assert node.set_parameter("max_image_pixels", 4096 * 4096).successful
        objs = node.frame(clip.frames[1])
        assert set(_objects(objs)) == {1}, name


def test_every_supported_encoding(node, clip):
    node.start_over(7000)
    for encoding in ("rgb8", "bgr8", "rgba8", "bgra8", "mono8"):
        node.frame(clip.frames[0], encoding=encoding)
        mask = node.output(node.stamp, "mask")
        assert (mask.height, mask.width) == clip.frames[0].shape[:2], encoding


def test_bad_prompts_are_dropped_and_tracking_goes_on(node, clip):
    node.start_over(8000)
    node.prompt(object_id=1, stamp=7999, box=clip.box(1))  # before any image of this session
    time.sleep(1.5)  # longer than prompt_wait_s: it is not waiting for its image any more
    node.frame(clip.frames[0], [{"object_id": 1, "box": clip.box(1)}])
    bad = [
        {"object_id": 2, "points": [(400, 10)], "labels": [1]},  # outside the image
        {"object_id": 2, "points": [(float("nan"), 10)], "labels": [1]},
        {"object_id": 2, "box": (10, 10, 500, 100)},
        {"object_id": 0, "action": 1},  # remove: id out of range (0 adds a new object, removes none)
        {"object_id": 2, "points": [(10, 10)], "labels": [1, 0]},
        {"object_id": 2},  # empty
        {"object_id": 2, "mask": np.ones((10, 10), bool)},  # wrong size
        {"object_id": 9, "action": 1},  # remove unknown id
        {"object_id": 2, "box": clip.box(2), "stream": "no_such_camera"},
    ]
    for p in bad:
        node.prompt(**p)
    for obj_id in (11, 12, 13, 14):  # max_objects is 4: the fourth new one is refused
        node.prompt(object_id=obj_id, points=[clip.first_visible_point(2)], labels=[1])
    time.sleep(1.0)
    node.frame(clip.frames[1])
    objs = node.frame(clip.frames[2])
    assert set(_objects(objs)) == {1, 11, 12, 13}
    log = node.proc.log()
    checks = (
        "no image processed yet",
        "outside",
        "NaN",
        "object_id to remove must be 1..255",
        "unknown object id 9",
        "unknown stream",
        "max_objects",
        "mask prompt is 10x10",
        "1 points but 2 labels",
        "empty prompt",
    )
    for text in checks:
        assert text in log, text


def test_two_cameras_share_one_model(client, model_small, tmp_path, clip):
    params = {"image_topics": ["left/image_raw", "right/image_raw"]}
    with running_node(
        client, tmp_path, model_small.model_dir, params, timeout=TIMEOUT,
        inputs=("left/image_raw", "right/image_raw", "prompt"),
        outputs=("left/tracked_objects", "right/tracked_objects"),
    ) as node:  # fmt: skip
        client.clear()

        def first_frames():
            node.publish("left/image_raw", image_msg(clip.frames[0], 1))
            node.publish("right/image_raw", image_msg(clip.frames[5], 1))

        def both():
            return node.messages("right/tracked_objects") and node.messages("left/tracked_objects")

        publish_until(first_frames, both, TIMEOUT, "outputs of both cameras")
        node.prompt(object_id=1, stamp=1, box=clip.box(1), stream="left")
        node.prompt(object_id=2, stamp=1, box=clip.box(2, 5), stream="right")
        time.sleep(1.0)
        node.publish("left/image_raw", image_msg(clip.frames[1], 2))
        node.publish("right/image_raw", image_msg(clip.frames[6], 2))
        for side, obj_id in (("left", 1), ("right", 2)):
            msg = node.output(2, f"{side}/tracked_objects")
            assert msg.stream == side and [o.object_id for o in msg.objects] == [obj_id]
        assert "2 stream(s)" in node.proc.log()


def test_lifecycle_transitions(client, model_small, tmp_path):
    from lifecycle_msgs.msg import State, Transition

    params = {"autostart": False}
    with running_node(client, tmp_path, model_small.model_dir, params, inputs=(), outputs=(), timeout=TIMEOUT) as node:
        assert node.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert node.change_state(Transition.TRANSITION_CONFIGURE) and node.state() == State.PRIMARY_STATE_INACTIVE
        assert node.change_state(Transition.TRANSITION_ACTIVATE) and node.state() == State.PRIMARY_STATE_ACTIVE
        assert node.change_state(Transition.TRANSITION_DEACTIVATE) and node.state() == State.PRIMARY_STATE_INACTIVE
        assert node.change_state(Transition.TRANSITION_CLEANUP) and node.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert node.change_state(Transition.TRANSITION_CONFIGURE) and node.state() == State.PRIMARY_STATE_INACTIVE


def test_bad_model_directory_leaves_the_node_unconfigured(client, tmp_path):
    from lifecycle_msgs.msg import State

    broken = tmp_path / "broken_model"
    broken.mkdir()
    proc = NodeProcess(tmp_path, broken)
    try:
        node = NodeDriver(client, proc, inputs=(), outputs=(), timeout=TIMEOUT)
        assert node.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert proc.alive()
        assert "configure failed" in proc.log() and "no model.yaml" in proc.log()
    finally:
        proc.stop()


def test_aidlite_backend_without_the_sdk_fails_configure_with_install_steps(client, model_small, tmp_path):
    """On a machine without APLUX's aidlite module, backend aidlite stops at configure, saying how to install it."""
    from lifecycle_msgs.msg import State

    proc = NodeProcess(tmp_path, model_small.model_dir, {"backend": "aidlite", "aidlite_accelerator": "dsp"})
    try:
        node = NodeDriver(client, proc, inputs=(), outputs=(), timeout=TIMEOUT)
        assert node.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert proc.alive()
        log = proc.log()
        assert "configure failed" in log and "AidLite SDK" in log and "install" in log
    finally:
        proc.stop()


def test_fast_camera_against_slow_inference(client, model_small, tmp_path, clip):
    """30 Hz for 20 s into a node that needs ~0.1-0.3 s a frame: latency stays bounded."""
    with running_node(client, tmp_path, model_small.model_dir, timeout=TIMEOUT) as node:
        client.clear()
        first = node.frame(clip.frames[0], resend=True)
        node.prompt(object_id=1, stamp=first.header.stamp.sec, box=clip.box(1))
        pub = node.publisher("image")
        sent: dict[int, float] = {}
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < 20.0:
            n += 1
            stamp = 100 + n
            sent[stamp] = time.monotonic()
            pub.publish(image_msg(clip.frames[n % len(clip.frames)], stamp))
            time.sleep(max(0.0, start + n / 30.0 - time.monotonic()))
        # the newest waiting frame is never dropped: once the last one is out, so are all the others
        node.output(stamp)
        received = [m for m in node.messages() if m.header.stamp.sec > 100]
        assert len(received) >= 20
        stamps = [m.header.stamp.sec for m in received]
        assert stamps == sorted(stamps)
        arrived = {m.header.stamp.sec: t for t, m in client.arrivals(node.topic("tracked_objects"))}
        latency = [arrived[st] - sent[st] for st in stamps]
        # no queue builds up: the last outputs are about as fresh as the first ones
        assert np.mean(latency[-10:]) < 2 * np.mean(latency[:10]) + 0.5
        assert max(latency) < 5.0
        gaps = np.diff(stamps)
        assert gaps.max() > 1  # frames were dropped, not queued
        values = node.diagnostics()
        assert int(values["frames_dropped"]) > 0
        assert int(values["frames_received"]) >= int(values["frames_processed"]) + int(values["frames_dropped"]) - 1
        assert float(values["latency_ms_p95"]) < 5000


def test_overlay_is_published_to_subscribers(node, clip):
    node.subscribe("overlay")
    time.sleep(1.5)  # let the node's publisher match the new subscription (it draws only for subscribers)
    node.start_over(9000)
    node.frame(clip.frames[0], [{"object_id": 1, "box": clip.box(1), "label": "thing"}])
    node.frame(clip.frames[1])
    overlay = node.output(node.stamp, "overlay")
    assert overlay.encoding == "rgb8" and (overlay.height, overlay.width) == clip.frames[1].shape[:2]
    pixels = np.frombuffer(bytes(overlay.data), np.uint8).reshape(overlay.height, overlay.width, 3)
    assert not np.array_equal(pixels, clip.frames[1])  # masks and boxes were drawn


def test_compressed_images(client, model_small, tmp_path, clip):
    import cv2
    from sensor_msgs.msg import CompressedImage

    params = {"image_transport": "compressed"}
    with running_node(client, tmp_path, model_small.model_dir, params, inputs=("image/compressed",)) as node:
        ok, jpeg = cv2.imencode(".jpg", clip.frames[0][..., ::-1])
        assert ok
        msg = CompressedImage(format="jpeg", data=jpeg.tobytes())
        msg.header.stamp.sec = 42
        publish_until(lambda: node.publish("image/compressed", msg), node.messages, TIMEOUT, "output")
        out = node.messages()[-1]
        assert out.header.stamp.sec == 42 and (out.height, out.width) == clip.frames[0].shape[:2]
        bad = CompressedImage(format="jpeg", data=b"not a jpeg")
        publish_until(
            lambda: node.publish("image/compressed", bad), lambda: "cannot decode" in node.proc.log(), TIMEOUT,
            "decode warning",
        )  # fmt: skip
        assert node.proc.alive()
