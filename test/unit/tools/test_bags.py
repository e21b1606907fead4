"""rosbag2 recordings in the player: bags written with rosbags' Writer (sqlite3 and mcap, with and without
metadata.yaml) from real rclpy messages (test/bag_harness.py), read back through sam2_ros.tools.bags.source,
and the player's bag options, without a process. Played over DDS by the player process:
test/process/tools/test_bags_process.py."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import yaml
from bag_harness import (
    CHATTER,
    DEPTH,
    FRAMES,
    IMAGE,
    INFO,
    PERIOD_NS,
    PNG,
    T0,
    TYPES,
    H,
    W,
    compressed,
    depth_array,
    image,
    recorded,
    rgb_frame,
    write_bag,
)

from sam2_ros.tools.bags import source as bags
from sam2_ros.tools.demo import player
from sam2_ros.tools.demo.media import load_prompt_script, load_prompts

VARIANTS = ["db3", "db3-no-metadata", "mcap", "mcap-no-metadata", "mcap-file", "db3-file"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_list_topics(bag_paths, variant):
    rows = bags.list_topics(bag_paths[variant])
    assert [row.topic for row in rows] == sorted(TYPES)
    by_topic = {row.topic: row for row in rows}
    assert {t: row.msgtype for t, row in by_topic.items()} == TYPES
    assert {t: row.count for t, row in by_topic.items()} == {**dict.fromkeys(TYPES, FRAMES), INFO: FRAMES + 1,
                                                               CHATTER: 1}  # fmt: skip
    last = T0 + (FRAMES - 1) * PERIOD_NS
    assert (by_topic[IMAGE].first_ns, by_topic[IMAGE].last_ns) == (T0, last)
    assert (by_topic[INFO].first_ns, by_topic[INFO].last_ns) == (T0 - 50_000_000, last + 4_000_000)
    with bags.Bag(bag_paths[variant]) as bag:
        assert (bag.start_ns, bag.end_ns) == (T0 - 50_000_000, last + 4_000_000)


@pytest.mark.parametrize("variant", VARIANTS)
def test_messages_in_bag_time_order_as_rclpy_messages(bag_paths, variant):
    topics = (IMAGE, PNG, DEPTH, INFO)
    got = list(bags.read_messages(bag_paths[variant], topics))
    expected = recorded(topics=topics)
    assert [(m.time_ns, m.topic, m.msgtype) for m in got] == [(t, topic, TYPES[topic]) for t, topic, _ in expected]
    for message, (_, _, original) in zip(got, expected):
        msg = bags.deserialize(message)
        assert type(msg) is type(original) and msg == original
    first = bags.deserialize(got[1])
    assert np.array_equal(np.frombuffer(bytes(first.data), np.uint8).reshape(H, W, 3), rgb_frame(0))


def test_several_storage_files_without_metadata_merge_in_time_order(tmp_path):
    """A split recording whose metadata.yaml is lost: its files read as one, in time order."""
    a = write_bag(tmp_path / "a", "mcap", metadata=False, topics=(IMAGE,))
    b = write_bag(tmp_path / "b", "mcap", metadata=False, topics=(INFO,))
    merged = tmp_path / "merged"
    merged.mkdir()
    (a / "a.mcap").rename(merged / "part_0.mcap")
    (b / "b.mcap").rename(merged / "part_1.mcap")
    got = [(m.time_ns, m.topic) for m in bags.read_messages(merged, (IMAGE, INFO))]
    assert got == [(t, topic) for t, topic, _ in recorded(topics=(IMAGE, INFO))]


def test_clear_errors(bag_paths, tmp_path):
    with pytest.raises(bags.BagError, match="no such file or folder"):
        bags.list_topics(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(bags.BagError, match="not a rosbag2 recording"):
        bags.list_topics(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(bags.BagError, match="not a rosbag2 recording"):
        bags.list_topics(tmp_path / "notes.txt")
    (tmp_path / "broken.mcap").write_bytes(b"not an mcap file")
    with pytest.raises(bags.BagError, match="cannot read as a rosbag2 recording"):
        bags.list_topics(tmp_path / "broken.mcap")
    with pytest.raises(
        bags.BagError, match="no topic '/nope'; its topics: .*/cam/image_raw \\(sensor_msgs/msg/Image\\)"
    ):
        list(bags.read_messages(bag_paths["mcap"], ["/nope"]))
    with bags.Bag(bag_paths["db3"]) as bag:
        with pytest.raises(bags.BagError, match="/chatter is a std_msgs/msg/String, not a sensor_msgs/msg/Image"):
            bag.check_topic(CHATTER, bags.IMAGE_TYPES)
        with pytest.raises(bags.BagError, match="several image topics, choose one with --bag-image: "):
            bags.default_image_topic(bag)
    with pytest.raises(bags.BagError, match="not installed here"):
        bags.message_class("no_such_msgs/msg/Thing")
    with pytest.raises(bags.BagError, match="unsupported message type"):
        bags.message_class("sensor_msgs/Image")


def test_default_image_topic(tmp_path):
    with bags.Bag(write_bag(tmp_path / "one", "mcap", topics=(IMAGE, DEPTH, INFO))) as bag:
        with pytest.raises(bags.BagError, match="--bag-image: /cam/depth \\(Image\\), /cam/image_raw \\(Image\\)$"):
            bags.default_image_topic(bag)
        assert bags.default_image_topic(bag, exclude=[DEPTH]) == IMAGE
    info_only = write_bag(tmp_path / "info", "db3", topics=(INFO,))
    no_image = "no Image or CompressedImage topic; its topics: /cam/camera_info"
    with bags.Bag(info_only) as bag, pytest.raises(bags.BagError, match=no_image):
        bags.default_image_topic(bag)


def test_prompt_script_by_time_and_frame(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump(
            [
                {"time": 0.3, "id": 1, "points": [[3, 4]], "labels": [1], "label": "cup"},
                {"frame": 2, "id": 2, "box": [1, 2, 10, 12]},
                {"time": 1, "reset": True},
            ]
        )
    )
    script = load_prompt_script(path)
    assert script.frames == {2: [{"id": 2, "box": [1, 2, 10, 12]}]}
    assert script.times == [(0.3, {"id": 1, "points": [[3, 4]], "labels": [1], "label": "cup"}), (1.0, {"reset": True})]
    with pytest.raises(SystemExit, match="need a recording"):
        load_prompts(path)
    # the mapping form is unchanged
    path.write_text("0:\n  - {id: 1, points: [[1, 2]], labels: [1]}\n")
    assert load_prompts(path) == {0: [{"id": 1, "points": [[1, 2]], "labels": [1]}]}
    assert load_prompt_script(path).times == []
    for bad, why in [
        ([{"time": 1, "frame": 2, "reset": True}], "either frame: N or time: SECONDS"),
        ([{"id": 1, "box": [0, 0, 1, 1]}], "either frame: N or time: SECONDS"),
        ([{"time": -1, "reset": True}], "time -1 is not a number of seconds >= 0"),
        ([{"time": "soon", "reset": True}], "is not a number of seconds"),
        ([{"frame": 1.5, "reset": True}], "frame 1.5 is not an integer"),
        ([{"time": 1, "id": 1}], "item 0: a prompt needs points"),
        (["x"], "item 0: a prompt must be a mapping"),
    ]:
        path.write_text(yaml.safe_dump(bad))
        with pytest.raises(SystemExit, match=why):
            load_prompt_script(path)


def test_timed_prompts_go_with_the_image_at_or_before_their_time(bag_paths, capsys):
    times = [(0.0, {"id": 1}), (0.25, {"id": 2}), (0.26, {"id": 3}), (0.49, {"id": 4}), (1.003, {"id": 5}),
             (1.01, {"id": 6})]  # fmt: skip
    with bags.Bag(bag_paths["mcap"]) as bag:
        # times count from the first image (T0), not from the bag's first message (a CameraInfo 50 ms earlier)
        assert player.timed_prompts(bag, IMAGE, times, None) == {
            0: [{"id": 1}],
            1: [{"id": 2}, {"id": 3}, {"id": 4}],
            4: [{"id": 5}],  # after the last image (1.0 s) but before the bag's end (1.004 s)
        }
        assert "prompt at 1.01 s is after the recording's end" in capsys.readouterr().err
        assert player.timed_prompts(bag, IMAGE, times, 2) == {0: [{"id": 1}], 1: [{"id": 2}, {"id": 3}, {"id": 4}]}
        assert "after the last image played (0.25 s)" in capsys.readouterr().err


def test_decode_compressed():
    from sensor_msgs.msg import CompressedImage

    png = player.decode_compressed(compressed(1, "png"))
    assert (png.encoding, png.height, png.width, png.step) == ("rgb8", H, W, W * 3)
    assert png.header == image(1).header
    assert np.array_equal(np.frombuffer(bytes(png.data), np.uint8).reshape(H, W, 3), rgb_frame(1))
    jpeg = player.decode_compressed(compressed(2, "jpeg"))
    assert jpeg.encoding == "bgr8"
    decoded = np.frombuffer(bytes(jpeg.data), np.uint8).reshape(H, W, 3)[..., ::-1]
    assert np.abs(decoded.astype(int) - rgb_frame(2)).mean() < 6
    ok, mono = cv2.imencode(".png", depth_array(0))
    msg = player.decode_compressed(CompressedImage(format="png", data=mono.tobytes()))
    assert (msg.encoding, msg.step) == ("mono16", W * 2)
    assert np.array_equal(np.frombuffer(bytes(msg.data), np.uint16).reshape(H, W), depth_array(0))
    assert player.decode_compressed(CompressedImage(format="jpeg", data=b"garbage")) is None


def test_list_topics_option(bag_paths, capsys):
    assert player.main(["--bag", str(bag_paths["db3-no-metadata"]), "--list-topics"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": 6 topics, 27 messages, 1.054 s")
    assert out[1].split() == ["topic", "type", "messages", "from", "(s)", "duration", "(s)", "rate", "(Hz)"]
    rows = {line.split()[0]: line.split()[1:] for line in out[2:]}
    assert rows[IMAGE] == [bags.IMAGE, "5", "0.050", "1.000", "4.00"]
    assert rows[INFO] == [bags.CAMERA_INFO, "6", "0.000", "1.054", "4.74"]
    assert rows[CHATTER] == ["std_msgs/msg/String", "1", "0.070", "0.000", "-"]


def test_player_errors(bag_paths, tmp_path, capsys):
    bag = str(bag_paths["mcap"])
    for argv, message in [
        (["--bag", str(tmp_path / "nope")], "no such file or folder"),
        (["--bag", bag, "--bag-image", "/nope"], "no topic '/nope'; its topics: "),
        (["--bag", bag], "several image topics, choose one with --bag-image: /cam/depth"),
        (["--bag", bag, "--bag-image", CHATTER], "is a std_msgs/msg/String, not a sensor_msgs/msg/Image"),
        (["--bag", bag, "--bag-image", IMAGE, "--bag-depth", INFO], "is a sensor_msgs/msg/CameraInfo, not a"),
        (["--bag", bag, "--bag-image", IMAGE, "--keep-compressed"], "is not a CompressedImage topic"),
    ]:
        with pytest.raises(SystemExit, match=message):
            player.main(argv)
    for argv in (["--list-topics"], ["--video", "x.mp4", "--bag-image", IMAGE], ["--bag", bag, "--loop"],
                 ["--bag", bag, "--detections-topic", "d"], ["--bag", bag, "--rate", "0"]):  # fmt: skip
        with pytest.raises(SystemExit) as raised:
            player.main(argv)
        assert raised.value.code == 2, argv
    assert "--list-topics: only with --bag" in capsys.readouterr().err
