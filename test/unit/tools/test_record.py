"""Bags out: rosbag2 MCAP recordings of the node's topics (sam2_ros.tools.bags.writer, sam2-ros-record, the demo).

Each bag is read back with rosbags' AnyReader on an empty typestore (every type from the definitions
embedded in the bag, nothing from a ROS install) and, where installed, with Foxglove's own
``mcap`` reader and ``mcap_ros2`` decoder (test/bag_harness.py). The recorder and the demo as programs:
test/process/tools/test_record_process.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bag_harness import read_bag, read_with_mcap_ros2
from ros_harness import prompt_msg

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
