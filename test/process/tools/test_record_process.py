"""Bags out, recorded by the programs: ``sam2-ros-record`` (``python -m``) on nothing and on a live node
over DDS (its outputs, and with --inputs what the node subscribes to), the demo's demo.mcap. Each bag is read
back from the definitions embedded in it (test/bag_harness.py). The writer and the recorder's choices, in this
process: test/unit/tools/test_record.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bag_harness import read_bag, read_with_mcap_ros2
from ros_harness import NodeProcess, image_msg, prompt_msg, ros_environment, wait_until

from sam2_ros.clips.synthetic import generate_clip

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 60.0


def stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def test_record_tool_stops_after_its_duration(tmp_path):
    """Nothing to record: the bag is still closed cleanly at --duration; exit code 1."""
    path = tmp_path / "empty"
    cmd = [sys.executable, "-m", "sam2_ros.tools.bags.record", "--topics", "/sam2_ros_no_such_topic", "--duration", "1"]
    done = subprocess.run([*cmd, "--output", str(path)], env=ros_environment(), capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "0 topic(s), 0 message(s)" in done.stdout
    assert (path / "metadata.yaml").is_file()
    assert read_bag(path)[0] == {}


@pytest.mark.slow
def test_record_tool_records_a_live_node(client, shipped_dir, tmp_path):
    """sam2-ros-record started before the node: picks up its topics, records inputs and outputs, stops on Ctrl-C."""
    clip = generate_clip(21, num_frames=5)
    node = NodeProcess(tmp_path, shipped_dir)
    bag = tmp_path / "live.mcap"
    cmd = [sys.executable, "-m", "sam2_ros.tools.bags.record", "--namespace", node.ns, "--inputs", "--duration", "300"]
    proc = subprocess.Popen([*cmd, "--output", str(bag)], env=ros_environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    started = time.time_ns()
    try:
        objects = node.topic("tracked_objects")
        client.subscribe(objects, client.types["objects"])
        image_pub = client.publisher(node.topic("image"), client.types["image"])
        prompt_pub = client.publisher(node.topic("prompt"), client.types["prompt"])
        count = client.node.count_subscribers

        def everyone_listens() -> bool:  # the node and the recorder on the inputs, the recorder on the outputs
            outputs = all(count(node.topic(k)) >= 1 for k in ("mask", "tracked_detections", "label_info"))
            return (image_pub.get_subscription_count() >= 2 and prompt_pub.get_subscription_count() >= 2
                    and count(objects) >= 2 and outputs)  # fmt: skip

        wait_until(everyone_listens, TIMEOUT, "the node and the recorder on every topic")
        for t in range(len(clip.frames)):
            image_pub.publish(image_msg(clip.frames[t], t + 1))
            if t == 0:
                prompt_pub.publish(prompt_msg(1, 1, box=clip.box(1), label="blob"))
            wait_until(lambda t=t: any(m.header.stamp.sec == t + 1 for m in client.messages(objects)), TIMEOUT,
                       f"the output of frame {t + 1}")  # fmt: skip
        wait_until(lambda: any(o.object_id == 1 for m in client.messages(objects) for o in m.objects), TIMEOUT,
                   "the prompted object")  # fmt: skip
        time.sleep(1.0)  # the last outputs reach the recorder too
        received = [stamp(m) for m in client.messages(objects)]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        assert node.stop() == 0, node.log()[-3000:]
    assert proc.returncode == 0, err
    assert "WARNING" not in err, err  # the embedded definitions hash like the node's types
    types, qos, messages = read_bag(bag)
    printed = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}  # topic type count
    for kind in ("tracked_objects", "mask", "tracked_detections", "label_info", "image", "prompt"):
        topic = node.topic(kind)
        assert topic in types, (kind, sorted(types))
        assert printed[topic] == [types[topic], str(len(messages[topic]))], out
    assert types[objects] == "sam2_ros/msg/TrackedObjectArray"
    assert "/diagnostics" in types
    # every message as the client got it, at receive times within the run
    assert [stamp(m) for _, m in messages[objects]] == received
    assert [stamp(m) for _, m in messages[node.topic("mask")]] == received
    assert [stamp(m) for _, m in messages[node.topic("tracked_detections")]] == received
    assert [stamp(m) for _, m in messages[node.topic("image")]] == [(t + 1) * 10**9 for t in range(5)]
    assert [m.object_id for _, m in messages[node.topic("prompt")]] == [1]
    assert all(started < t < time.time_ns() for topic in messages for t, _ in messages[topic])
    # label_info: received although latched before the recorder subscribed, and replayed latched
    assert messages[node.topic("label_info")]
    assert {q.durability.name for q in qos[node.topic("label_info")]} == {"TRANSIENT_LOCAL"}
    assert any(o.object_id == 1 for _, m in messages[objects] for o in m.objects)


def depth_msg(metres, stamp_sec: int, frame_id: str = "camera_depth"):
    """A 16UC1 depth image (millimetres)."""
    import numpy as np
    from sensor_msgs.msg import Image

    values = np.round(metres * 1000).astype("<u2")
    msg = Image(height=values.shape[0], width=values.shape[1], encoding="16UC1", step=values.shape[1] * 2)
    msg.data = values.tobytes()
    msg.header.stamp.sec, msg.header.frame_id = stamp_sec, frame_id
    return msg


def info_msg(intrinsics, width: int, height: int, stamp_sec: int, frame_id: str = "camera_depth"):
    from sensor_msgs.msg import CameraInfo

    fx, fy, cx, cy = intrinsics
    msg = CameraInfo(width=width, height=height, k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0])
    msg.header.stamp.sec, msg.header.frame_id = stamp_sec, frame_id
    return msg


@pytest.mark.slow
def test_record_inputs_records_what_the_node_subscribes_to_wherever_it_is(client, shipped_dir, tmp_path):
    """--inputs with a camera's own topics (absolute, three levels deep, as a RealSense names them): the bag holds
    the colour image, the aligned depth image and its camera_info, the prompts and detections, and every output
    (3D ones included). The recorder starts first: it waits for the node and picks up the inputs, which the node
    subscribes to only once active."""
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray

    clip = generate_clip(12, num_frames=4, num_objects=1, occlusion=False, depth=True)
    camera = f"/camera_{os.getpid()}"  # a camera of this test session
    image_topic, depth_topic = f"{camera}/image_raw", f"{camera}/aligned_depth_to_color/image_raw"
    info_topic = f"{camera}/aligned_depth_to_color/camera_info"
    bag = tmp_path / "inputs.mcap"
    ns = f"/test{os.getpid()}_{NodeProcess._count + 1}"  # the namespace of the next NodeProcess
    cmd = [sys.executable, "-m", "sam2_ros.tools.bags.record", "--namespace", ns, "--inputs", "--duration", "300"]
    proc = subprocess.Popen([*cmd, "--output", str(bag)], env=ros_environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    node = None
    started = time.time_ns()
    try:
        time.sleep(2.0)  # the recorder is up, waiting for a node that is not there yet
        params = {"image_topics": [image_topic], "depth_topics": [depth_topic], "depth_reliability": "reliable"}
        node = NodeProcess(tmp_path, shipped_dir, params)
        assert node.ns == ns
        objects = node.topic("tracked_objects")
        client.subscribe(objects, client.types["objects"])
        pubs = {
            image_topic: client.publisher(image_topic, Image),
            depth_topic: client.publisher(depth_topic, Image),
            info_topic: client.publisher(info_topic, CameraInfo),
            node.topic("prompt"): client.publisher(node.topic("prompt"), client.types["prompt"]),
            node.topic("detections"): client.publisher(node.topic("detections"), Detection2DArray),
        }
        outputs = [node.topic(k) for k in ("mask", "tracked_objects", "tracked_detections", "label_info", "overlay",
                                           "markers", "tracked_detections_3d", "object_points")]  # fmt: skip

        def everyone_listens() -> bool:  # the node and the recorder on the inputs, the recorder on the outputs
            return (all(pub.get_subscription_count() >= 2 for pub in pubs.values())
                    and client.node.count_subscribers(objects) >= 2
                    and all(client.node.count_subscribers(t) >= 1 for t in outputs))  # fmt: skip

        wait_until(everyone_listens, TIMEOUT, "the node and the recorder on every topic")
        height, width = clip.frames.shape[1:3]
        for t in range(len(clip.frames)):
            pubs[info_topic].publish(info_msg(clip.intrinsics, width, height, t + 1))
            pubs[depth_topic].publish(depth_msg(clip.depth[t], t + 1))
            pubs[image_topic].publish(image_msg(clip.frames[t], t + 1))
            detections = Detection2DArray()
            detections.header.stamp.sec = t + 1
            pubs[node.topic("detections")].publish(detections)
            if t == 0:
                pubs[node.topic("prompt")].publish(prompt_msg(1, 1, box=clip.box(1), label="blob"))
            wait_until(lambda t=t: any(m.header.stamp.sec == t + 1 for m in client.messages(objects)), TIMEOUT,
                       f"the output of frame {t + 1}")  # fmt: skip
        positioned = [m for m in client.messages(objects) if any(o.has_position for o in m.objects)]
        assert positioned, "no 3D position: the depth did not reach the node"
        time.sleep(1.0)  # the last outputs reach the recorder too
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if node is not None:
            assert node.stop() == 0, node.log()[-3000:]
    assert proc.returncode == 0, err
    assert f"found node {ns}/sam2_ros" in err, err
    types, _, messages = read_bag(bag)
    frames = [(t + 1) * 10**9 for t in range(len(clip.frames))]
    assert types[image_topic] == types[depth_topic] == "sensor_msgs/msg/Image"
    assert types[info_topic] == "sensor_msgs/msg/CameraInfo"
    assert [stamp(m) for _, m in messages[image_topic]] == frames
    assert [stamp(m) for _, m in messages[depth_topic]] == frames
    assert [stamp(m) for _, m in messages[info_topic]] == frames
    assert bytes(messages[depth_topic][0][1].data) == depth_msg(clip.depth[0], 1).data.tobytes()
    assert messages[info_topic][0][1].k[0] == clip.intrinsics[0]
    assert [m.object_id for _, m in messages[node.topic("prompt")]] == [1]
    assert [stamp(m) for _, m in messages[node.topic("detections")]] == frames
    for topic in outputs + ["/diagnostics"]:
        assert messages[topic], (topic, sorted(types))
    assert any(o.has_position for _, m in messages[objects] for o in m.objects)
    assert not {"/rosout", "/parameter_events", f"{ns}/sam2_ros/transition_event"} & set(types), sorted(types)
    assert all(started < t < time.time_ns() for topic in messages for t, _ in messages[topic])


@pytest.mark.slow
def test_demo_writes_demo_mcap(tmp_path):
    """`node_demo` records its inputs and every output to output/demo.mcap: as many frames as summary.json."""
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "sam2_ros.tools.demo.node_demo", "--max-frames", "6", "--output", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    bag = out / "demo.mcap"
    assert bag.is_file() and not [p for p in out.iterdir() if p.name.startswith(".")]
    types, qos, messages = read_bag(bag)
    by_kind = {topic.rsplit("/", 1)[1]: topic for topic in types if topic != "/diagnostics"}
    assert {"image", "prompt", "mask", "tracked_objects", "overlay", "tracked_detections", "label_info"} <= set(by_kind)
    assert "/diagnostics" in types
    assert summary["bag"]["file"] == "demo.mcap"
    assert summary["bag"]["messages"] == {topic: len(messages[topic]) for topic in types}
    assert len(messages[by_kind["image"]]) == summary["frames_published"] == 6
    assert len(messages[by_kind["tracked_objects"]]) == summary["frames_out"] > 0
    assert len(messages[by_kind["mask"]]) == summary["frames_out"]
    images = [stamp(m) for _, m in messages[by_kind["image"]]]
    assert {stamp(m) for _, m in messages[by_kind["tracked_objects"]]} <= set(images)
    assert {o.label for _, m in messages[by_kind["tracked_objects"]] for o in m.objects} == {"blob"}
    assert {q.durability.name for q in qos[by_kind["label_info"]]} == {"TRANSIENT_LOCAL"}
    schemas, decoded = read_with_mcap_ros2(bag)
    assert schemas[by_kind["tracked_objects"]] == ("sam2_ros/msg/TrackedObjectArray", "ros2msg")
    assert len(decoded[by_kind["image"]]) == 6 and decoded[by_kind["image"]][0].width == 640
