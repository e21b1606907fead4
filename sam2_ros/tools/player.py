"""Publish a clip as a camera topic, at its frame rate, with optional scripted prompts.

    python -m sam2_ros.tools.player --frames-dir DIR | --video FILE | --synthetic SEED  [--rate 10] [--topic image]
                              [--prompts prompts.yaml] [--detections-topic detections] [--loop]

Each image is stamped with the time it is published; a prompt scripted for frame N is
published right after frame N, stamped like it (so the node applies it to that image).
Prompt YAML: ``{N: [{id: 1, points: [[x, y]], labels: [1], label: cup}, {id: 2, box: [x0, y0, x1, y1]},
{id: 1, remove: true}, {reset: true}]}`` (checked by :func:`sam2_ros.tools.media.load_prompts`).
With ``--detections-topic`` (synthetic clip only) each image (every ``--detector-every``-th) is
followed by a scripted detector's ``vision_msgs/Detection2DArray`` for it, stamped like it
(:mod:`sam2_ros.tools.scripted_detector`: the clip's ground-truth boxes plus noise).
Images, prompts and detections are published reliably; before it exits the player waits
(``--ack-timeout``) until every reliable subscriber has acknowledged them, so the last frames
and prompts are not lost with the process.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.tools.media import load_image_folder, load_prompts, load_video
from sam2_ros.tools.scripted_detector import detect, detection_array

IMAGE_DEPTH = 10  # reliable readers get every frame unless they fall this many frames behind


def synthetic_clip(args: argparse.Namespace) -> Any:
    """The built-in synthetic clip (a SyntheticClip), whole: its motion depends on its length."""
    from sam2_ros.evaluation.synthetic import generate_clip

    length = max(args.clip_frames or args.max_frames, args.max_frames)
    return generate_clip(args.synthetic, num_frames=length, height=args.height, width=args.width)


def load_frames(args: argparse.Namespace) -> np.ndarray:
    """The frames to play, HxWx3 uint8 RGB (the start of the synthetic clip without a folder or video)."""
    if args.frames_dir:
        return load_image_folder(args.frames_dir, args.max_frames)
    if args.video:
        return load_video(args.video, args.max_frames)
    return synthetic_clip(args).frames[: args.max_frames]


def prompt_message(item: dict[str, Any], header: Any) -> Any:
    """A sam2_ros/Prompt from one scripted item."""
    from geometry_msgs.msg import Point32

    from sam2_ros.msg import Prompt

    msg = Prompt(header=header, object_id=int(item.get("id", 0)), label=str(item.get("label", "")))
    msg.stream = str(item.get("stream", ""))
    if item.get("reset"):
        msg.action = Prompt.ACTION_RESET_STREAM
    elif item.get("remove"):
        msg.action = Prompt.ACTION_REMOVE_OBJECT
    else:
        msg.action = Prompt.ACTION_ADD_OR_REFINE
        msg.points = [Point32(x=float(x), y=float(y), z=0.0) for x, y in item.get("points", [])]
        msg.labels = [int(v) for v in item.get("labels", [])]
        if "box" in item:
            msg.has_box = True
            msg.box = [float(v) for v in item["box"]]
    return msg


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.tools.player", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--frames-dir", type=Path, help="folder of images, played in name order")
    source.add_argument("--video", type=Path, help="video file (read with OpenCV)")
    source.add_argument("--synthetic", type=int, default=11, help="seed of the built-in synthetic clip (default)")
    parser.add_argument("--max-frames", type=int, default=48)
    parser.add_argument("--clip-frames", type=int, help="length of the synthetic clip (default --max-frames)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second")
    parser.add_argument("--topic", default="image")
    parser.add_argument("--prompt-topic", default="prompt")
    parser.add_argument("--prompts", type=Path, help="YAML of prompts per frame index")
    parser.add_argument("--detections-topic", help="also publish a scripted detector's Detection2DArray for each "
                        "frame here (synthetic clip only)")  # fmt: skip
    parser.add_argument("--detector-noise", type=float, default=2.0, help="detector box noise, pixels (std)")
    parser.add_argument("--detector-every", type=int, default=1, help="detect on every Nth frame")
    parser.add_argument("--detector-miss", type=float, default=0.0, help="probability of missing an object")
    parser.add_argument("--detector-seed", type=int, default=0, help="seed of the detector's noise")
    parser.add_argument("--frame-id", default="camera")
    parser.add_argument("--loop", action="store_true", help="play forever")
    parser.add_argument("--wait-subscribers", type=float, default=10.0, help="seconds to wait for subscribers")
    parser.add_argument("--min-subscribers", type=int, default=1, help="image subscribers to wait for")
    parser.add_argument("--ack-timeout", type=float, default=10.0, help="seconds to wait for delivery at the end")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Play the clip; 0 when every frame and prompt was delivered, 1 when some were not acknowledged."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.detections_topic and (args.frames_dir or args.video):
        parser.error("--detections-topic needs the synthetic clip (its ground truth), not --frames-dir or --video")
    if args.detector_every < 1:
        parser.error("--detector-every must be >= 1")
    if args.detections_topic:
        try:
            from vision_msgs.msg import Detection2DArray
        except ImportError as exc:
            raise SystemExit(f"--detections-topic needs vision_msgs (ros-<distro>-vision-msgs): {exc}") from exc
    import rclpy
    from rclpy.duration import Duration
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from sam2_ros.msg import Prompt

    clip = synthetic_clip(args) if args.detections_topic else None
    frames = clip.frames[: args.max_frames] if clip is not None else load_frames(args)
    prompts = load_prompts(args.prompts)
    rclpy.init()
    node = rclpy.create_node("sam2_ros_player")
    image_pub = node.create_publisher(
        Image, args.topic, QoSProfile(depth=IMAGE_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
    )
    prompt_pub = node.create_publisher(
        Prompt, args.prompt_topic, QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    )
    detection_pub = None
    if args.detections_topic:
        detection_pub = node.create_publisher(
            Detection2DArray, args.detections_topic, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        )
    deadline = time.monotonic() + args.wait_subscribers
    while time.monotonic() < deadline and (
        image_pub.get_subscription_count() < args.min_subscribers
        or (prompts and prompt_pub.get_subscription_count() == 0)
        or (detection_pub is not None and detection_pub.get_subscription_count() == 0)
    ):
        time.sleep(0.05)
    if detection_pub is not None and detection_pub.get_subscription_count() == 0:
        print(f"[player] WARNING: nobody subscribes to {args.detections_topic}", file=sys.stderr)
    time.sleep(0.5)  # let the matched readers finish discovery too
    period = 1.0 / args.rate
    start = time.monotonic()
    n = 0
    delivered = None
    try:
        while True:
            index = n % len(frames)
            if n >= len(frames) and not args.loop:
                break
            rgb = frames[index]
            msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=rgb.shape[1] * 3)
            msg.header.stamp = node.get_clock().now().to_msg()
            msg.header.frame_id = args.frame_id
            msg.data = np.ascontiguousarray(rgb).tobytes()
            image_pub.publish(msg)
            if detection_pub is not None and index % args.detector_every == 0:
                found = detect(clip, index, args.detector_seed, args.detector_noise, args.detector_every,
                               args.detector_miss)  # fmt: skip
                detection_pub.publish(detection_array(found, msg.header))
            if n < len(frames):
                for item in prompts.get(index, []):
                    prompt_pub.publish(prompt_message(item, msg.header))
            n += 1
            if n < len(frames) or args.loop:
                time.sleep(max(0.0, start + n * period - time.monotonic()))
        # a reliable writer's unacknowledged samples die with it: wait until every reader has them
        timeout = Duration(seconds=args.ack_timeout)
        publishers = [image_pub, prompt_pub] + ([detection_pub] if detection_pub is not None else [])
        delivered = all([pub.wait_for_all_acked(timeout) for pub in publishers])
    except KeyboardInterrupt:
        pass
    finally:
        status = {True: "; all delivered", False: f"; NOT all acknowledged within {args.ack_timeout:g} s", None: ""}
        print(f"[player] published {n} frames at {args.rate:g} Hz on {args.topic}{status[delivered]}", file=sys.stderr)
        node.destroy_node()
        rclpy.try_shutdown()
    return 1 if delivered is False else 0


if __name__ == "__main__":
    raise SystemExit(main())
