"""Bags out: rosbag2 MCAP recordings of the node's topics (sam2_ros.tools.bags.writer, sam2-ros-record, the demo).

Each bag is read back with rosbags' AnyReader on an empty typestore (every type from the definitions
embedded in the bag, nothing from a ROS install) and, where installed, with Foxglove's own
``mcap`` reader and ``mcap_ros2`` decoder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from ros_harness import NodeProcess, image_msg, prompt_msg, ros_environment, wait_until

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.tools.bags import record
from sam2_ros.tools.bags.writer import (
    BagWriter,
    make_typestore,
    msg_dirs,
    offered_qos,
    output_selector,
    request_qos,
)

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 60.0


def read_bag(path: Path) -> tuple[dict, dict, dict]:
    """(topic -> type, topic -> offered QoS list, topic -> [(log time, message)]), decoded from the bag alone."""
    from rosbags.highlevel import AnyReader

    messages: dict[str, list] = defaultdict(list)
    with AnyReader([path]) as reader:  # no default typestore: the embedded definitions or nothing
        types = {c.topic: c.msgtype for c in reader.connections}
        qos = {c.topic: c.ext.offered_qos_profiles for c in reader.connections}
        for connection, timestamp, data in reader.messages():
            messages[connection.topic].append((timestamp, reader.deserialize(data, connection.msgtype)))
    return types, qos, messages


def read_with_mcap_ros2(path: Path) -> tuple[dict, dict]:
    """(topic -> (schema name, encoding), topic -> decoded messages) with Foxglove's mcap libraries."""
    pytest.importorskip("mcap_ros2")
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    decoded: dict[str, list] = defaultdict(list)
    with open(path, "rb") as handle:
        reader = make_reader(handle, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        schemas = {c.topic: (summary.schemas[c.schema_id].name, summary.schemas[c.schema_id].encoding)
                   for c in summary.channels.values()}  # fmt: skip
        for _, channel, _, message in reader.iter_decoded_messages():
            decoded[channel.topic].append(message)
    return schemas, decoded


def stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


# ------------------------------------------------------------------------------------------ unit
def test_typestore_holds_the_package_and_vision_msgs_types():
    typestore = make_typestore()
    for name in ("Prompt", "TrackedObject", "TrackedObjectArray"):
        assert f"sam2_ros/msg/{name}" in typestore.fielddefs
    vision = {p.stem for p in (ROOT / "interfaces" / "vision_msgs" / "msg").glob("*.msg")}
    assert {"Detection2DArray", "LabelInfo"} <= vision
    assert {f"vision_msgs/msg/{n}" for n in vision} <= set(typestore.fielddefs)
    # and the standard types the node publishes
    for msgtype in ("sensor_msgs/msg/Image", "diagnostic_msgs/msg/DiagnosticArray"):
        assert msgtype in typestore.fielddefs


def test_embedded_definitions_hash_like_rosidl():
    """The definitions come from the .msg files installed with the typesupport: rosidl's own type hashes."""
    typestore = make_typestore()
    checked = 0
    for package in ("sam2_ros", "vision_msgs"):
        for path in sorted(msg_dirs(package)[0].glob("*.json")):
            for entry in json.loads(path.read_text())["type_hashes"]:
                assert typestore.hash_rihs01(entry["type_name"]) == entry["hash_string"], entry["type_name"]
                checked += 1
    if not checked:
        pytest.skip("no rosidl type descriptions installed (messages not built)")


def _messages():
    """A few real rclpy messages of the node's topics, serialized by rclpy."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from rclpy.serialization import serialize_message
    from sam2_ros.msg import TrackedObject, TrackedObjectArray
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2D, Detection2DArray, LabelInfo, VisionClass

    objects = TrackedObjectArray(stream="cam", height=4, width=6)
    objects.header.stamp.sec, objects.header.frame_id = 7, "camera"
    objects.objects = [TrackedObject(object_id=3, label="cup", visible=True, area=5, presence_probability=0.5)]
    mask = Image(height=2, width=3, encoding="mono8", step=3, data=bytes([0, 3, 3, 0, 0, 3]))
    mask.header.stamp.sec = 7
    detections = Detection2DArray(detections=[Detection2D(id="3")])
    labels = LabelInfo(class_map=[VisionClass(class_id=3, class_name="cup")])
    diagnostics = DiagnosticArray(status=[DiagnosticStatus(name="n", values=[KeyValue(key="k", value="v")])])
    prompt = prompt_msg(3, 7, box=(1, 1, 4, 3), label="cup")
    topics = {
        "/ns/tracked_objects": ("sam2_ros/msg/TrackedObjectArray", objects),
        "/ns/mask": ("sensor_msgs/msg/Image", mask),
        "/ns/tracked_detections": ("vision_msgs/msg/Detection2DArray", detections),
        "/ns/label_info": ("vision_msgs/msg/LabelInfo", labels),
        "/ns/prompt": ("sam2_ros/msg/Prompt", prompt),
        "/diagnostics": ("diagnostic_msgs/msg/DiagnosticArray", diagnostics),
    }
    return {topic: (msgtype, msg, serialize_message(msg)) for topic, (msgtype, msg) in topics.items()}


@pytest.mark.parametrize("name", ["small.mcap", "small_bag"])
def test_bag_round_trip_decodes_from_the_embedded_definitions(tmp_path, name):
    from rclpy.qos import DurabilityPolicy, QoSProfile

    sent = _messages()
    path = tmp_path / name
    writer = BagWriter(path)
    for i, (topic, (msgtype, _, data)) in enumerate(sent.items()):
        latched = topic.endswith("label_info")
        profile = QoSProfile(depth=1 if latched else 10)
        if latched:
            profile.durability = DurabilityPolicy.TRANSIENT_LOCAL
        writer.add_topic(topic, msgtype, [offered_qos(profile)])
        writer.write(topic, 1_000 + i, data)
        writer.write(topic, 2_000 + i, data)
    assert writer.close() == path
    if name.endswith(".mcap"):  # one file, no staging folder left next to it
        assert path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [name]
    else:
        assert sorted(p.name for p in path.iterdir()) == ["metadata.yaml", f"{name}.mcap"]

    types, qos, messages = read_bag(path)
    assert types == {topic: msgtype for topic, (msgtype, _, _) in sent.items()}
    assert qos["/ns/label_info"][0].durability.name == "TRANSIENT_LOCAL"
    assert qos["/ns/tracked_objects"][0].durability.name == "VOLATILE"
    assert qos["/ns/tracked_objects"][0].reliability.name == "RELIABLE"
    for i, topic in enumerate(sent):
        assert [t for t, _ in messages[topic]] == [1_000 + i, 2_000 + i]
    objects = messages["/ns/tracked_objects"][0][1]
    assert (objects.stream, objects.header.frame_id, objects.header.stamp.sec) == ("cam", "camera", 7)
    assert [(o.object_id, o.label, o.visible, o.area) for o in objects.objects] == [(3, "cup", True, 5)]
    assert bytes(messages["/ns/mask"][0][1].data) == bytes([0, 3, 3, 0, 0, 3])
    assert messages["/ns/label_info"][0][1].class_map[0].class_name == "cup"
    prompt = messages["/ns/prompt"][0][1]
    assert (prompt.object_id, prompt.label, list(prompt.box)) == (3, "cup", [1.0, 1.0, 4.0, 3.0])
    assert prompt.ACTION_RESET_STREAM == 2  # constants travel with the definition

    if name.endswith(".mcap"):
        schemas, decoded = read_with_mcap_ros2(path)
        assert schemas["/ns/tracked_objects"] == ("sam2_ros/msg/TrackedObjectArray", "ros2msg")
        assert all(encoding == "ros2msg" for _, encoding in schemas.values())
        assert decoded["/ns/tracked_objects"][0].objects[0].label == "cup"
        assert decoded["/ns/label_info"][0].class_map[0].class_id == 3
        assert decoded["/diagnostics"][0].status[0].values[0].value == "v"


def test_a_bag_never_overwrites(tmp_path):
    (tmp_path / "x.mcap").write_bytes(b"")
    with pytest.raises(FileExistsError):
        BagWriter(tmp_path / "x.mcap")
    assert record.main(["--output", str(tmp_path / "x.mcap")]) == 2


def test_output_selection_by_name():
    """The demo's selector (it knows its topic names)."""
    select = output_selector("/robot/sam2", record.OUTPUT_KINDS, [record.DIAGNOSTICS])
    for topic in ("/robot/sam2/mask", "/robot/sam2/left/tracked_objects", "/robot/sam2/label_info", "/diagnostics"):
        assert select(topic), topic
    for topic in ("/robot/sam2/image", "/robot/mask", "/robot/sam2/a/b/mask", "/other/mask", "/robot/sam2/maskx"):
        assert not select(topic), topic
    root = output_selector("", ("mask",))
    assert root("/mask") and root("/left/mask") and not root("/a/b/mask")


class FakeGraph:
    """The two graph queries of an rclpy Node, answered from dicts (node name, namespace) -> [(topic, types)]; a
    node exists once it has publishers (every rclpy node has /rosout)."""

    def __init__(self) -> None:
        self.publishers: dict[tuple[str, str], list] = {}
        self.subscriptions: dict[tuple[str, str], list] = {}

    def _get(self, table: dict, name: str, namespace: str) -> list:
        from rclpy.node import NodeNameNonExistentError

        if (name, namespace) not in self.publishers:  # as rclpy answers for a node not (yet) in the graph
            raise NodeNameNonExistentError(f"no node {namespace} {name}")
        return table.get((name, namespace), [])

    def get_publisher_names_and_types_by_node(self, name: str, namespace: str) -> list:
        return self._get(self.publishers, name, namespace)

    def get_subscriber_names_and_types_by_node(self, name: str, namespace: str) -> list:
        return self._get(self.subscriptions, name, namespace)


def test_recorded_topics_are_what_the_graph_says_the_node_has():
    """sam2-ros-record selects the node's publishers and (--inputs) its subscriptions as the graph reports them,
    wherever they are; the set grows as the node configures and activates; ROS's own topics are left out."""
    image, depth = "/camera/image_raw", "/camera/aligned_depth_to_color/image_raw"
    info = "/camera/aligned_depth_to_color/camera_info"
    graph = FakeGraph()
    select = record.selector(record.build_parser().parse_args(["--namespace", "robot/sam2", "--inputs"]))
    assert select.full_name == "/robot/sam2/sam2_ros"
    assert select.update(graph) is False and not select(image)  # not up yet
    unconfigured = [("/rosout", ["rcl_interfaces/msg/Log"]),
                    ("/parameter_events", ["rcl_interfaces/msg/ParameterEvent"]),
                    ("/robot/sam2/sam2_ros/transition_event", ["lifecycle_msgs/msg/TransitionEvent"])]  # fmt: skip
    graph.publishers[("sam2_ros", "/robot/sam2")] = unconfigured
    assert select.update(graph) is True and select.found and select.topics == set()
    outputs = ["/robot/sam2/mask", "/robot/sam2/tracked_objects", "/robot/sam2/markers", "/diagnostics"]
    graph.publishers[("sam2_ros", "/robot/sam2")] = unconfigured + [(t, ["x/msg/Y"]) for t in outputs]
    assert select.update(graph) is False  # found before
    assert all(select(t) for t in outputs) and not select(image)  # configured: outputs, no inputs yet
    inputs = [image, depth, info, "/robot/sam2/prompt", "/robot/sam2/detections", f"{image}_mouse_left", "/clock"]
    graph.subscriptions[("sam2_ros", "/robot/sam2")] = [(t, ["x/msg/Y"]) for t in inputs]
    select.update(graph)
    assert all(select(t) for t in outputs + inputs[:-1])  # active: its inputs too, however deep their names
    graph.subscriptions.clear()
    select.update(graph)
    assert select(depth) and select(info)  # deactivated: what was recorded stays recorded
    for topic in ("/rosout", "/parameter_events", "/clock", "/robot/sam2/sam2_ros/transition_event", "/robot/sam2/x"):
        assert not select(topic), topic
    # without --inputs only the outputs; another name with --node; --topics instead of the outputs
    outputs_only = record.selector(record.build_parser().parse_args(["--namespace", "/robot/sam2"]))
    outputs_only.update(graph)
    assert outputs_only("/robot/sam2/mask") and not outputs_only(image) and not outputs_only("/robot/sam2/prompt")
    renamed = record.selector(record.build_parser().parse_args(["--node", "tracker"]))
    assert renamed.full_name == "/tracker" and renamed.update(graph) is False
    graph.publishers[("tracker", "/")] = [("/mask", ["sensor_msgs/msg/Image"])]
    assert renamed.update(graph) and renamed("/mask")
    args = record.build_parser().parse_args(["--namespace", "/ns", "--topics", "mask", "/abs"])
    named = record.selector(args)
    named.update(graph)
    assert [named(t) for t in ("/ns/mask", "/abs", "/ns/tracked_objects", "/diagnostics")] == [True, True, False, False]


def test_requested_qos_matches_every_publisher():
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    volatile = QoSProfile(depth=10)
    best_effort = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
    assert request_qos([latched]).durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert request_qos([latched, volatile]).durability == DurabilityPolicy.VOLATILE
    assert request_qos([volatile]).reliability == ReliabilityPolicy.RELIABLE
    assert request_qos([volatile, best_effort]).reliability == ReliabilityPolicy.BEST_EFFORT


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


# ------------------------------------------------------------------------------- process level
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
