"""sam2-ros-prompt as a user runs it: a subprocess talking over DDS to a real node process, while
this process streams camera frames to the node and watches its tracked_objects."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from ros_harness import NodeProcess, image_msg, prompt_msg, publish_until, ros_environment, wait_until

from sam2_ros.clips.synthetic import generate_clip

pytestmark = pytest.mark.slow  # separate processes

TIMEOUT = 30.0
FRAME_PERIOD_S = 0.2
STREAM = "image"  # the stream name of the node's one image topic


LAST_SENT = [0]  # stamp (s) of the newest frame the camera thread has published
PERIOD = [FRAME_PERIOD_S]  # the camera thread's period now (a test may slow it down)


@pytest.fixture(scope="module")
def clip():
    return generate_clip(21, num_frames=16)


@pytest.fixture(scope="module")
def node(model_small, tmp_path_factory, client, clip):
    """One node for the module, fed a new stamped frame every FRAME_PERIOD_S (frames back and forth
    through the clip) by a thread of this process; each test resets it first."""
    proc = NodeProcess(tmp_path_factory.mktemp("node"), model_small.model_dir, {"prompt_frame_cache": 16})
    objects_topic, image_topic = proc.topic("tracked_objects"), proc.topic("image")
    client.subscribe(objects_topic, client.types["objects"])
    pub = client.publisher(image_topic, client.types["image"])
    client.wait_for_subscribers(image_topic, TIMEOUT)
    publish_until(lambda: pub.publish(image_msg(clip.frames[0], 9999)), lambda: client.messages(objects_topic),
                  TIMEOUT, "the node's first output")  # fmt: skip
    stop = threading.Event()

    def camera() -> None:
        order = list(range(len(clip.frames))) + list(range(len(clip.frames) - 2, 0, -1))
        n = 0
        while not stop.wait(PERIOD[0]):
            pub.publish(image_msg(clip.frames[order[n % len(order)]], 10000 + n))
            LAST_SENT[0] = 10000 + n
            n += 1

    thread = threading.Thread(target=camera, daemon=True)
    thread.start()
    yield proc
    stop.set()
    thread.join(timeout=5)
    assert proc.stop() == 0, proc.log()[-3000:]


def tool(node, *args: str, namespace: bool = True) -> subprocess.CompletedProcess:
    """Run sam2-ros-prompt against ``node``."""
    cmd = [sys.executable, "-m", "sam2_ros.tools.prompt_tool"] + (["--namespace", node.ns] if namespace else [])
    return subprocess.run(cmd + list(args), env=ros_environment(), capture_output=True, text=True, timeout=60)


def tools(namespace: str, runs: list[tuple[str, ...]]) -> list[tuple[int, str, float]]:
    """Run sam2-ros-prompt with each of ``runs`` at once; (exit code, stderr, seconds) of each."""
    cmd = [sys.executable, "-m", "sam2_ros.tools.prompt_tool", "--namespace", namespace]
    start = time.monotonic()
    procs = [subprocess.Popen(cmd + list(args), env=ros_environment(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for args in runs]  # fmt: skip
    results = []
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        results.append((proc.returncode, err, time.monotonic() - start))
    return results


def ok(node, *args: str) -> dict:
    """Run the tool with --json; it must succeed; its JSON output."""
    done = tool(node, *args, "--json")
    assert done.returncode == 0, f"{done.stderr}\n{node.log()[-2000:]}"
    return json.loads(done.stdout)


def newest(client, node):
    return client.messages(node.topic("tracked_objects"))[-1]


def ids_seen(client, node, want: set[int]) -> None:
    """Wait until the node publishes exactly the objects ``want``."""
    wait_until(lambda: {o.object_id for o in newest(client, node).objects} == want, TIMEOUT, f"objects {want}")


def reset(client, node) -> None:
    """Reset the node; return once it has published three frames since (prompts stamped like those
    land on an image the node holds: a frame from before the reset is forgotten)."""
    from std_srvs.srv import Trigger

    assert client.call(Trigger, node.topic("sam2_ros/reset"), Trigger.Request()).success
    # frames sent after the reset returned are processed after it (counting outputs instead let
    # outputs of earlier frames, still on their way, pass for new ones under load)
    after = LAST_SENT[0]

    def since() -> int:
        return sum(m.header.stamp.sec > after for m in client.messages(node.topic("tracked_objects")))

    wait_until(lambda: since() >= 3, TIMEOUT, "three frames after the reset")
    ids_seen(client, node, set())


def seed(client, node, boxes: dict[int, tuple[float, ...]], label: str = "") -> None:
    """Add objects by box, by Prompt messages from this process (stamped like the newest output)."""
    pub = client.publisher(node.topic("prompt"), client.types["prompt"])
    client.wait_for_subscribers(node.topic("prompt"), TIMEOUT)
    stamp = newest(client, node).header.stamp
    for obj_id, box in boxes.items():
        msg = prompt_msg(obj_id, stamp.sec, box=box, label=label)
        msg.header.stamp = stamp
        pub.publish(msg)
    ids_seen(client, node, set(boxes))


def stamp_ns(text: str) -> int:
    sec, nanosec = text.split(".")
    return int(sec) * 1_000_000_000 + int(nanosec)


def stamps_seen(client, node) -> set[int]:
    return {m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec
            for m in client.messages(node.topic("tracked_objects"))}  # fmt: skip


def test_points_add_a_new_object_and_an_id_refines_it(client, node, clip):
    reset(client, node)
    x, y = clip.first_visible_point(1)
    bx, by = clip.first_visible_point(2)
    added = ok(node, "--point", str(x), str(y), "--negative", str(bx), str(by))
    assert added["action"] == "added" and added["object_id"] == 1  # the node picked the lowest free id
    assert stamp_ns(added["stamp"]) in stamps_seen(client, node)  # the newest frame the node had published
    refined = ok(node, "--id", "1", "--point", str(x), str(y), "--label", "disc")
    assert refined["action"] == "refined" and refined["object"]["label"] == "disc"
    wait_until(lambda: [(o.object_id, o.label) for o in newest(client, node).objects] == [(1, "disc")], TIMEOUT,
               "object 1 labelled disc")  # fmt: skip


def test_box_and_mask_prompts_take_the_lowest_free_id(client, node, clip, tmp_path):
    reset(client, node)
    for obj_id in (1, 3):
        box = [str(v) for v in clip.box(obj_id)]
        assert ok(node, "--id", str(obj_id), "--box", *box)["object_id"] == obj_id
    png = tmp_path / "mask.png"
    cv2.imwrite(str(png), clip.masks[2][0].astype(np.uint8) * 255)
    added = ok(node, "--mask", str(png), "--label", "blob")
    assert added["object_id"] == 2 and added["object"]["label"] == "blob"
    ids_seen(client, node, {1, 2, 3})


def test_remove_and_reset_of_one_stream(client, node, clip):
    reset(client, node)
    seed(client, node, {1: clip.box(1), 2: clip.box(2)})
    done = tool(node, "--remove", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"object 1 removed from stream {STREAM!r}"
    ids_seen(client, node, {2})
    missing = tool(node, "--remove", "1", "--timeout", "5")
    assert missing.returncode == 1 and "object 1 is not tracked" in missing.stderr
    done = ok(node, "--reset", "--stream", STREAM)
    assert done["action"] == "reset" and done["stream"] == STREAM
    ids_seen(client, node, set())


def test_reset_by_service(client, node, clip):
    reset(client, node)
    seed(client, node, {7: clip.box(1)})
    done = tool(node, "--reset")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "reset 1 stream(s)"  # the node's answer
    ids_seen(client, node, set())


def test_list_prints_the_tracked_objects(client, node, clip):
    reset(client, node)
    seed(client, node, {1: clip.box(1)}, label="cup")
    seed(client, node, {1: clip.box(1), 2: clip.box(2)})
    done = tool(node, "--list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"stream {STREAM!r} stamp ") and lines[0].endswith("320x240: 2 object(s)")
    assert lines[1].startswith("id=1 label='cup' visible=") and " bbox=(" in lines[1] and " area=" in lines[1]
    assert lines[2].startswith("id=2 label='' ")
    listed = ok(node, "--list")
    assert (listed["stream"], listed["height"], listed["width"]) == (STREAM, 240, 320)
    assert [(o["object_id"], o["label"]) for o in listed["objects"]] == [(1, "cup"), (2, "")]
    assert stamp_ns(listed["stamp"]) in stamps_seen(client, node)
    # --ros-args remaps work: the namespace as a remap instead of --namespace
    done = tool(node, "--list", "--ros-args", "-r", f"__ns:={node.ns}", namespace=False)
    assert done.returncode == 0 and "2 object(s)" in done.stdout, done.stderr


def test_stamp_chooses_the_image(client, node, clip):
    reset(client, node)
    # The named image must still be cached when the prompt arrives: the node holds its last 16 frames
    # (prompt_frame_cache's maximum), 3.2 s at 5 Hz, less than the tool's start under load. At 1 Hz
    # they outlast the tool's 10 s timeout: a prompt that arrives at all names a cached image.
    PERIOD[0] = 1.0
    try:
        seen = len(client.messages(node.topic("tracked_objects")))
        wait_until(lambda: len(client.messages(node.topic("tracked_objects"))) >= seen + 2, TIMEOUT, "slow frames")
        older = client.messages(node.topic("tracked_objects"))[-2].header.stamp
        stamp = f"{older.sec}.{older.nanosec:09d}"
        added = ok(node, "--stamp", stamp, "--id", "4", "--box", *[str(v) for v in clip.box(3)])
    finally:
        PERIOD[0] = FRAME_PERIOD_S
    assert added["stamp"] == stamp and added["object_id"] == 4
    ids_seen(client, node, {4})


BAD_ARGUMENTS = [
    ((), "nothing to do"),
    (("--remove", "1", "--point", "1", "2"), "not with --remove"),
    (("--box", "50", "10", "20", "30"), "--box needs X0 < X1"),
    (("--id", "0", "--point", "1", "2"), "object ids are 1..255"),
    (("--id", "256", "--point", "1", "2"), "object ids are 1..255"),
    (("--point", "nan", "2"), "not a finite number"),
    (("--point", "1"), "expected 2 arguments"),
    (("--mask", "/no/such/mask.png"), "no such file"),
    (("--label", "cup"), "--id and --label go with"),
    (("--list", "--reset"), "not allowed with argument"),
    (("--list", "--stamp", "12.5"), "--stamp goes with a prompt"),
    (("--point", "1", "2", "--stamp", "soon"), "not a time stamp"),
]


def test_bad_arguments_exit_2_with_a_message(client, node, tmp_path):
    not_png, small = tmp_path / "mask.png", tmp_path / "small.png"
    not_png.write_text("not an image")
    cv2.imwrite(str(small), np.full((10, 10), 255, np.uint8))
    cases = BAD_ARGUMENTS + [
        (("--mask", str(not_png)), "not an image OpenCV can read"),
        # checked against the image size the node reports (320x240)
        (("--point", "400", "10"), "--point 400 10 is outside the 320x240 image"),
        (("--box", "0", "0", "100", "300"), "--box 0 0 100 300 is outside the 320x240 image"),
        (("--mask", str(small)), "--mask is 10x10, the image is 320x240"),
    ]
    for (args, expected), (code, err, _) in zip(cases, tools(node.ns, [args for args, _ in cases])):
        assert code == 2 and expected in err, (args, err)
        assert err.startswith("usage: sam2-ros-prompt") or err.startswith("sam2-ros-prompt: error:"), err


def test_no_node_exits_1_within_the_timeout():
    cases = [
        (("--point", "1", "2"), "/nobody/prompt"),
        (("--remove", "3"), "/nobody/prompt"),
        (("--list",), "/nobody/tracked_objects"),
        (("--reset",), "/nobody/sam2_ros/reset"),
    ]
    for (args, where), (code, err, seconds) in zip(cases, tools("nobody", [a + ("--timeout", "2") for a, _ in cases])):
        assert code == 1 and f"no sam2_ros node answered on {where} within 2 s" in err, (args, err)
        assert seconds < 15


def test_every_prompt_landed_on_a_cached_image(node):
    """The tool's stamps (the newest published frame, or --stamp) named images the node still held,
    and the node took every prompt."""
    log = node.log()
    for problem in ("matches no cached image", "prompt dropped", "remove dropped"):
        assert problem not in log, log[-3000:]
