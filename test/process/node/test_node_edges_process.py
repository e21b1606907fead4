"""Edges of the node's behaviour (issue 12): reset while inactive, frames waiting at deactivation,
images too small for the model, and floods of bad prompts against the warning throttle.

The process-level tests run the real node in its own process, driven over real DDS (ros_harness);
the ROS-free checks of the pieces behind them are in test/unit/node/test_node_edges.py.
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from ros_harness import NodeProcess, image_msg, prompt_msg, publish_until, running_node, wait_until

from sam2_ros.clips.synthetic import generate_clip

TIMEOUT = 30.0


# ---------------------------------------------------------------------------- the node in its process
@pytest.fixture(scope="module")
def clip():
    return generate_clip(21, num_frames=16)


@pytest.fixture
def driver(client, model_small, tmp_path):
    """A node of its own per test; frames are sent again under newer stamps until one comes back
    (the image subscription is created anew at each activation)."""
    params = {"input_depth": 100}
    with running_node(client, tmp_path, model_small.model_dir, params, resend=True, timeout=TIMEOUT) as node:
        yield node


def test_reset_while_inactive_is_refused_and_nothing_is_queued(driver, clip):
    from lifecycle_msgs.msg import Transition

    driver.frame(clip.frames[0])
    driver.prompt(object_id=1, box=clip.box(1))
    driver.track(clip, 1)
    assert driver.change_state(Transition.TRANSITION_DEACTIVATE)
    response = driver.reset()
    assert not response.success and "not active" in response.message and "nothing was reset" in response.message
    assert driver.change_state(Transition.TRANSITION_ACTIVATE)
    objs = driver.frame(clip.frames[1])  # the first frame after activation: the refused reset did not run
    assert [o.object_id for o in objs.objects] == [1]
    response = driver.reset()  # while active it works, and returns once done
    assert response.success, response.message
    assert driver.frame(clip.frames[2]).objects == []


def test_deactivation_drops_the_waiting_frame(driver, clip):
    """A camera keeps sending while the node is deactivated: the frame waiting then (and the one in
    flight, published during deactivation) never comes out after the next activation."""
    from lifecycle_msgs.msg import Transition

    driver.frame(clip.frames[0])
    driver.prompt(object_id=1, box=clip.box(1))
    driver.track(clip, 1)  # an object to track: each frame takes the node a while
    images = driver.publisher("image")
    waited = []  # per deactivation: images dropped
    for cycle in range(1, 6):  # until a deactivation found a frame waiting (nearly always the first)
        base = 10_000 * cycle
        sending = threading.Event()
        sending.set()

        def camera(base: int = base, sending: threading.Event = sending) -> None:
            n = 0
            while sending.is_set():  # 30 Hz into a node that needs longer per frame
                n += 1
                images.publish(image_msg(clip.frames[n % len(clip.frames)], base + n))
                time.sleep(1 / 30)

        thread = threading.Thread(target=camera, daemon=True)
        thread.start()
        try:
            wait_until(lambda b=base: sum(s > b for s in driver.stamps()) >= 2, TIMEOUT, "outputs of the camera")
            time.sleep(0.1)  # a few camera frames on: not just when the worker has taken one
            assert driver.change_state(Transition.TRANSITION_DEACTIVATE)
        finally:
            sending.clear()
            thread.join()
        waited.append(int(re.findall(r"inactive: dropped (\d+) waiting image", driver.proc.log())[-1]))
        # what was published during the deactivation has arrived once nothing new comes for a second
        count = -1
        while count != len(driver.messages()):
            count = len(driver.messages())
            time.sleep(1.0)
        before = len(driver.messages())
        assert driver.change_state(Transition.TRANSITION_ACTIVATE)
        driver.stamp = base + 5_000
        driver.frame(clip.frames[0])  # outputs come in order: a stale frame would have come before this one
        late = [m.header.stamp.sec for m in driver.messages()[before:] if m.header.stamp.sec < base + 5_000]
        assert late == [], f"frames sent before deactivation were published after activation: {late}"
        if waited[-1]:
            break
    assert waited[-1] == 1, f"no frame was waiting at any deactivation ({waited}): the test proves nothing"


def test_images_too_small_for_the_model_are_rejected_counted_and_tracking_goes_on(driver, clip):
    from sam2_ros.node.throttle import WARN_EVERY_S

    driver.frame(clip.frames[0])
    driver.prompt(object_id=1, box=clip.box(1))
    driver.track(clip, 1)
    wait_until(lambda: driver.diagnostics().get("messages_rejected") == "0", TIMEOUT, "diagnostics")
    deep = driver.deep_publisher("image", 100)
    log_start = len(driver.proc.log())
    start = time.monotonic()
    for i in range(100):
        height, width = ((1, 1), (1, 64), (64, 1))[i % 3]
        deep.publish(image_msg(np.full((height, width, 3), 128, np.uint8), 5000 + i))
    wait_until(lambda: driver.diagnostics().get("messages_rejected") == "100", TIMEOUT, "100 rejected images counted")
    elapsed = time.monotonic() - start
    assert driver.proc.alive()
    new_lines = driver.proc.log()[log_start:].splitlines()
    assert new_lines and all("[WARN]" in line and "too small" in line for line in new_lines), new_lines
    assert len(new_lines) <= 1 + elapsed / WARN_EVERY_S, new_lines  # one line per WARN_EVERY_S at most
    values = driver.diagnostics()
    assert int(values["frames_received"]) >= 100 + int(values["frames_processed"])
    objs = driver.frame(clip.frames[1])  # a normal frame afterwards: the object is still tracked
    assert [o.object_id for o in objs.objects] == [1]
    assert not any(m.header.stamp.sec in range(5000, 5100) for m in driver.messages())


def test_a_flood_of_prompts_for_unknown_streams_logs_little(driver, clip):
    """150 prompts naming distinct 64 kB streams: a few short lines, and a valid prompt still works."""
    from sam2_ros.node.throttle import WARN_EVERY_S, WARN_MAX_CHARS

    driver.frame(clip.frames[0])
    deep = driver.deep_publisher("prompt", 150)
    log_start = len(driver.proc.log())
    start = time.monotonic()
    for i in range(150):
        name = "".join(chr(ord("a") + i // 26**k % 26) for k in range(3)) + "x" * 65533  # distinct letters
        deep.publish(prompt_msg(1, driver.stamp, box=clip.box(1), stream=name))
    # one more after the flood, again until its line comes: it reports how many were held back
    # (one writer delivers in order, so the flood has been handled by then)
    last = prompt_msg(1, driver.stamp, box=clip.box(1), stream="after the flood")
    publish_until(lambda: deep.publish(last), lambda: "after the flood" in driver.proc.log(), TIMEOUT, "last line")
    elapsed = time.monotonic() - start
    assert driver.proc.alive()
    new_text = driver.proc.log()[log_start:]
    new_lines = new_text.splitlines()
    assert all("[WARN]" in line and "unknown stream" in line for line in new_lines), new_lines
    assert len(new_lines) <= 2 + elapsed / WARN_EVERY_S  # one line per kind per WARN_EVERY_S
    assert all(len(line) <= WARN_MAX_CHARS + 200 for line in new_lines)  # the line, its prefix and the count
    assert len(new_text.encode()) <= (2 + elapsed / WARN_EVERY_S) * (WARN_MAX_CHARS + 201)
    assert "x" * 100 not in new_text  # the names are cut short
    held = [int(n) for n in re.findall(r"\((\d+) more like it held back\)", new_text)]
    # the flood reached the node: at least the 50 its prompt subscription queues, and the last one
    assert held and sum(held) + len(new_lines) >= 50 + 1
    driver.prompt(object_id=2, box=clip.box(2))  # a valid prompt afterwards works
    assert [o.object_id for o in driver.track(clip, 2).objects] == [2]


LIFECYCLE_CYCLES = 200
FULL_CYCLE_EVERY = 10  # every 10th cycle also cleans up and configures again (the model is loaded anew)


def test_lifecycle_cycles_and_resets_under_load_never_break_the_executor(driver, clip):
    """200 lifecycle cycles (deactivate/activate; every 10th also cleanup/configure) with a reset in
    every other one, while a camera streams at 30 Hz and a flood of bad images and prompts keeps the
    executor waking: entities a transition destroys may still sit in the executor's wait set
    (rclpy#1206, #1355), which once killed the node's executor with InvalidHandle. The node must
    survive every cycle, and still track afterwards."""
    from lifecycle_msgs.msg import Transition

    driver.frame(clip.frames[0])
    sending = threading.Event()
    sending.set()
    tiny = image_msg(np.zeros((1, 1, 3), np.uint8), 1)  # rejected as it arrives: keeps the executor busy
    stray = prompt_msg(1, 1, box=clip.box(1), stream="no such stream")
    images, prompts = driver.publisher("image"), driver.publisher("prompt")

    def load() -> None:
        n = 0
        while sending.is_set():
            n += 1
            if n % 30 == 0:  # ~30 Hz camera
                images.publish(image_msg(clip.frames[n % len(clip.frames)], 100_000 + n))
            images.publish(tiny)
            prompts.publish(stray)
            time.sleep(0.001)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    resets = 0
    try:
        for cycle in range(LIFECYCLE_CYCLES):
            assert driver.proc.alive(), driver.proc.log()[-3000:]
            assert driver.change_state(Transition.TRANSITION_DEACTIVATE), f"cycle {cycle}: deactivate"
            if cycle % FULL_CYCLE_EVERY == 0:
                assert driver.change_state(Transition.TRANSITION_CLEANUP), f"cycle {cycle}: cleanup"
                assert driver.change_state(Transition.TRANSITION_CONFIGURE), f"cycle {cycle}: configure"
            assert driver.change_state(Transition.TRANSITION_ACTIVATE), f"cycle {cycle}: activate"
            if cycle % 2 == 0:  # a reset while frames run
                response = driver.reset()
                assert response.success, f"cycle {cycle}: {response.message}"
                resets += 1
    finally:
        sending.clear()
        thread.join()
    log = driver.proc.log()
    assert driver.proc.alive(), log[-3000:]
    assert "InvalidHandle" not in log and "executor failed" not in log and "Traceback" not in log, log[-3000:]
    assert "destruction was requested" not in log, log[-3000:]
    assert resets == LIFECYCLE_CYCLES // 2
    driver.stamp = 900_000
    driver.frame(clip.frames[0])
    driver.prompt(object_id=2, box=clip.box(2))
    assert 2 in [o.object_id for o in driver.track(clip, 2).objects]  # it still tracks


def test_every_parameter_has_a_value_so_a_dump_lists_them_all(driver):
    """``ros2 param dump`` asks GetParameters for every name; rclpy answers nothing at all if one of
    them is unset. The empty-list parameters were declared by type and left unset: the dump was
    ``{}`` and ``ros2 param get depth_topics`` said "Parameter not set"."""
    from rcl_interfaces.msg import ParameterType
    from rcl_interfaces.srv import GetParameters, ListParameters

    from sam2_ros.node.params import PARAMETERS

    names = list(driver.call(ListParameters, "sam2_ros/list_parameters").result.names)
    assert {spec.name for spec in PARAMETERS} <= set(names)
    values = driver.call(GetParameters, "sam2_ros/get_parameters", GetParameters.Request(names=names)).values
    assert len(values) == len(names)
    unset = [name for name, value in zip(names, values) if value.type == ParameterType.PARAMETER_NOT_SET]
    assert unset == []
    by_name = dict(zip(names, values))
    for name in ("depth_topics", "detection_classes"):
        assert by_name[name].type == ParameterType.PARAMETER_STRING_ARRAY
        assert list(by_name[name].string_array_value) == []
    # they stay read-only and string arrays
    result = driver.set_parameter("depth_topics", ["x"])
    assert not result.successful and "read-only" in result.reason


def test_the_random_weights_warning_is_logged_once_by_the_node_logger(client, model_small, tmp_path):
    """The engine's warning about a random-weight model reaches the node's ROS logger (console,
    /rosout), and only once: it was printed by Python logging and again by the node."""
    import shutil

    import yaml

    model_dir = tmp_path / "random_model"
    shutil.copytree(model_small.model_dir, model_dir)
    manifest = yaml.safe_load((model_dir / "model.yaml").read_text())
    manifest["random_weights"] = True  # as sam2-ros-export --random-init writes it
    (model_dir / "model.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    proc = NodeProcess(tmp_path, model_dir)
    try:
        wait_until(lambda: "active" in proc.log(), TIMEOUT, "the node's activation")
        lines = [line for line in proc.log().splitlines() if "RANDOM weights" in line]
        assert len(lines) == 1, lines
        assert lines[0].startswith("[WARN]") and "sam2_ros]:" in lines[0], lines
    finally:
        assert proc.stop() == 0, proc.log()[-3000:]
