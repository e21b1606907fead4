"""Publish a clip as a camera topic, at its frame rate, with optional scripted prompts.

    python -m sam2_ros.tools.player --frames-dir DIR | --video FILE | --synthetic SEED  [--rate 10] [--topic image]
                              [--prompts prompts.yaml] [--loop]

Each image is stamped with the time it is published; a prompt scripted for frame N is
published right after frame N, stamped like it (so the node applies it to that image).
Prompt YAML: ``{N: [{id: 1, points: [[x, y]], labels: [1], label: cup}, {id: 2, box: [x0, y0, x1, y1]},
{id: 1, remove: true}, {reset: true}]}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml


def load_frames(args: argparse.Namespace) -> np.ndarray:
    """The frames to play, HxWx3 uint8 RGB."""
    if args.frames_dir:
        from PIL import Image

        paths = sorted(p for p in Path(args.frames_dir).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        if not paths:
            raise SystemExit(f"no images in {args.frames_dir}")
        return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths[: args.max_frames]])
    if args.video:
        import cv2

        capture = cv2.VideoCapture(str(args.video))
        frames = []
        while len(frames) < args.max_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(bgr[..., ::-1])
        if not frames:
            raise SystemExit(f"cannot read video {args.video}")
        return np.stack(frames)
    from sam2_ros.evaluation.synthetic import generate_clip

    return generate_clip(args.synthetic, num_frames=args.max_frames, height=args.height, width=args.width).frames


def load_prompts(path: Path | None) -> dict[int, list[dict[str, Any]]]:
    """Scripted prompts per frame index (YAML, read as data)."""
    if path is None:
        return {}
    raw = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(raw, dict):
        raise SystemExit(f"{path}: expected a mapping of frame index to a list of prompts")
    return {int(k): list(v) for k, v in raw.items()}


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
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second")
    parser.add_argument("--topic", default="image")
    parser.add_argument("--prompt-topic", default="prompt")
    parser.add_argument("--prompts", type=Path, help="YAML of prompts per frame index")
    parser.add_argument("--frame-id", default="camera")
    parser.add_argument("--loop", action="store_true", help="play forever")
    parser.add_argument("--wait-subscribers", type=float, default=10.0, help="seconds to wait for subscribers")
    parser.add_argument("--min-subscribers", type=int, default=1, help="image subscribers to wait for")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from sam2_ros.msg import Prompt

    frames = load_frames(args)
    prompts = load_prompts(args.prompts)
    rclpy.init()
    node = rclpy.create_node("sam2_ros_player")
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    image_pub = node.create_publisher(Image, args.topic, qos)
    prompt_pub = node.create_publisher(Prompt, args.prompt_topic, 50)
    deadline = time.monotonic() + args.wait_subscribers
    while time.monotonic() < deadline and (
        image_pub.get_subscription_count() < args.min_subscribers
        or (prompts and prompt_pub.get_subscription_count() == 0)
    ):
        time.sleep(0.05)
    time.sleep(0.5)  # let the matched readers finish discovery too
    period = 1.0 / args.rate
    start = time.monotonic()
    n = 0
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
            if n < len(frames):
                for item in prompts.get(index, []):
                    prompt_pub.publish(prompt_message(item, msg.header))
            n += 1
            time.sleep(max(0.0, start + n * period - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        print(f"[player] published {n} frames at {args.rate:g} Hz on {args.topic}", file=sys.stderr)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
