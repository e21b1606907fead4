"""The ROS-free pieces behind the node's edges (test/process/node/test_node_edges_process.py): the
warning throttle, the arrival check of images too small for the model, the conditioning bound."""

from __future__ import annotations

import numpy as np
import pytest
from ros_harness import image_msg


def test_the_throttle_keys_on_the_kind_and_keeps_bounded_state():
    from sam2_ros.node.throttle import WarningThrottle

    now = [0.0]
    throttle = WarningThrottle(every_s=2.0, max_chars=100, max_kinds=8, clock=lambda: now[0])
    lines = [throttle.admit("prompt_unknown_stream", f"unknown stream {i:04d}{'x' * 5000}") for i in range(1000)]
    let_through = [line for line in lines if line is not None]
    assert len(let_through) == 1 and len(let_through[0]) <= 100 and let_through[0].endswith("\u2026")
    assert len(throttle) == 1  # one kind remembered, not one entry per text
    assert throttle.admit("image_size", "image 1x1 is too small") == "image 1x1 is too small"  # other kinds pass
    now[0] = 2.0
    assert (
        throttle.admit("prompt_unknown_stream", "unknown stream 'a'")
        == "unknown stream 'a' (999 more like it held back)"
    )
    for i in range(100):  # even an unbounded set of kinds cannot grow the state past max_kinds
        throttle.admit(f"kind{i}", "text")
    assert len(throttle) == 8


def test_images_too_small_for_the_model_fail_the_arrival_check():
    import cv2
    from sensor_msgs.msg import CompressedImage

    from sam2_ros.node.conversions import ConversionError, check_image_msg, compressed_to_rgb

    for height, width in ((1, 1), (1, 64), (64, 1)):
        with pytest.raises(ConversionError, match="too small") as err:
            check_image_msg(image_msg(np.zeros((height, width, 3), np.uint8), 1), 1 << 20)
        assert err.value.kind == "image_size"
    check_image_msg(image_msg(np.zeros((2, 2, 3), np.uint8), 1), 1 << 20)  # the engine's minimum passes
    ok, png = cv2.imencode(".png", np.zeros((1, 5, 3), np.uint8))
    assert ok
    tiny = CompressedImage(format="png", data=png.tobytes())
    check_image_msg(tiny, 1 << 20)  # its size shows only once decoded, in the worker:
    with pytest.raises(ConversionError, match="too small"):
        compressed_to_rgb(tiny, 1 << 20)


def test_the_conditioning_bound_is_automatic_with_corrections_and_checked():
    """max_conditioning_frames: 0 keeps the model's setting, unless corrections become conditioning
    frames (then a bound keeps memory flat); -1 and >= 2 pass through; 1 and below -1 are refused."""
    from sam2_ros.node.params import DEFAULT_CORRECTION_BOUND, conditioning_bound

    assert conditioning_bound(0, corrections_as_conditioning=False) is None
    assert conditioning_bound(0, corrections_as_conditioning=True) == DEFAULT_CORRECTION_BOUND
    assert conditioning_bound(-1, corrections_as_conditioning=True) == -1
    assert conditioning_bound(6, corrections_as_conditioning=False) == 6
    for bad in (1, -2):
        with pytest.raises(ValueError, match="max_conditioning_frames"):
            conditioning_bound(bad, corrections_as_conditioning=True)
