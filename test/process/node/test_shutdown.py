"""SIGINT or SIGTERM (repeated too) while a frame is in flight: the node finishes and publishes that
frame, exits 0, and logs no error (issue 12, item 9: it logged ``RCLError: Failed to publish:
publisher's context is invalid``).

The node runs as ``sam2_ros_node`` with the shipped params file in its own process; this process
is the camera (real rclpy and Fast DDS between the two).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from ros_harness import image_msg, prompt_msg, publish_until, ros_environment, wait_until

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.tools.node_process import start_node

TIMEOUT = 30.0


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGINT,), (signal.SIGTERM,), (signal.SIGINT, signal.SIGINT, signal.SIGTERM)],
    ids=["SIGINT", "SIGTERM", "SIGINT-twice-then-SIGTERM"],  # the last: Ctrl-C under ros2 launch, then its escalation
)
def test_a_signal_with_a_frame_in_flight_stops_cleanly(client, model_small, tmp_path, signals):
    from sam2_ros.msg import Prompt, TrackedObjectArray
    from sensor_msgs.msg import Image

    ns = f"/shutdown{os.getpid()}_{len(signals)}_{int(signals[0])}"
    log = tmp_path / "node.log"
    # reliable input: this test is about shutdown, not transport; every frame must reach the node
    proc = start_node(model_small.model_dir, ns, ros_environment(), log, "input_reliability:=reliable")
    stop_camera = threading.Event()
    camera: threading.Thread | None = None
    try:
        objects_topic = f"{ns}/tracked_objects"
        client.subscribe(objects_topic, TrackedObjectArray)
        image_pub = client.publisher(f"{ns}/image", Image)
        prompt_pub = client.publisher(f"{ns}/prompt", Prompt)
        client.wait_for_subscribers(f"{ns}/image", TIMEOUT)
        client.wait_for_subscribers(f"{ns}/prompt", TIMEOUT)
        clip = generate_clip(11, num_frames=8, height=480, width=640, num_objects=2)

        def stamps() -> list[int]:
            return [m.header.stamp.sec for m in client.messages(objects_topic)]

        first = image_msg(clip.frames[0], 1)
        publish_until(lambda: image_pub.publish(first), lambda: 1 in stamps(), TIMEOUT, "a first output")
        prompt_pub.publish(prompt_msg(1, 1, box=clip.box(1)))
        prompt_pub.publish(prompt_msg(2, 1, box=clip.box(2)))

        def publish_frames() -> None:  # faster than the node tracks: it always has a next frame to work on
            n = 1
            while not stop_camera.is_set():
                n += 1
                image_pub.publish(image_msg(clip.frames[n % len(clip.frames)], n))
                time.sleep(0.02)

        camera = threading.Thread(target=publish_frames, daemon=True)
        camera.start()
        wait_until(lambda: len(stamps()) >= 4, TIMEOUT, "tracking under way")
        # signal right after an output: the worker has just taken the next frame
        seen = len(stamps())
        wait_until(lambda: len(stamps()) > seen, TIMEOUT, "the next output")
        last_before = max(stamps())
        for signum in signals:
            proc.send_signal(signum)
            time.sleep(0.05)
        code = proc.wait(timeout=TIMEOUT)
        stop_camera.set()
        camera.join(timeout=5)
        time.sleep(0.5)  # outputs published just before the exit may still be on their way
        output = log.read_text()
        assert code == 0, output[-3000:]
        for bad in ("ERROR", "Traceback", "RCLError", "Failed to publish"):
            assert bad not in output, output[-3000:]
        # the frame in flight at the signal was finished and published, not dropped
        assert max(stamps()) > last_before
    finally:
        stop_camera.set()
        if camera is not None:
            camera.join(timeout=5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_signals_repeated_until_the_node_has_exited_leave_exit_code_0(model_small, tmp_path):
    """Ctrl-C under ``ros2 launch``: the terminal's SIGINT, then launch's own, which may land after
    the stop is done, while the interpreter exits (it was killed then: exit code -2)."""
    from ros_harness import ros_environment

    log = tmp_path / "node.log"
    proc = start_node(model_small.model_dir, f"/repeat{os.getpid()}", ros_environment(), log)
    try:
        wait_until(lambda: "active" in log.read_text(), TIMEOUT, "the node's activation")
        deadline = time.monotonic() + TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            proc.send_signal(signal.SIGINT)
            time.sleep(0.01)
        assert proc.wait(timeout=TIMEOUT) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
