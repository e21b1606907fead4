"""Publish a clip or a recording as camera topics, at its frame rate, with optional scripted prompts.

    sam2-ros-player --frames-dir DIR | --video FILE | --synthetic SEED | --bag BAG
                    [--rate 10] [--topic image] [--prompts prompts.yaml]
                    [--detections-topic detections] [--loop]
    sam2-ros-player --bag BAG --list-topics

Each image is stamped with the time it is published; a prompt scripted for frame N is
published right after frame N, stamped like it (so the node applies it to that image).
Prompt YAML: ``{N: [{id: 1, points: [[x, y]], labels: [1], label: cup}, {id: 2, box: [x0, y0, x1, y1]},
{id: 1, remove: true}, {reset: true}]}``, or a list of such items each with ``frame: N`` or (a bag)
``time: SECONDS`` (checked by :func:`sam2_ros.tools.demo.media.load_prompt_script`).
With ``--synthetic-depth`` each image is preceded by the clip's aligned depth image (16UC1,
millimetres) and its CameraInfo, on ``--depth-topic`` and ``--camera-info-topic``, stamped like it.
With ``--detections-topic`` (synthetic clip only) each image (every ``--detector-every``-th) is
followed by a scripted detector's ``vision_msgs/Detection2DArray`` for it, stamped like it
(:mod:`sam2_ros.tools.demo.scripted_detector`: the clip's ground-truth boxes plus noise).
Images, prompts and detections are published reliably; before it exits the player waits
(``--ack-timeout``) until every reliable subscriber has acknowledged them, so the last frames
and prompts are not lost with the process. SIGINT (Ctrl-C) or SIGTERM stops it in order
(:mod:`sam2_ros.tools.orderly_stop`): no message after the signal, then the node and the context
go, exit code 0.

A rosbag2 recording (``--bag``: a bag folder, with or without metadata.yaml, or one ``.mcap`` /
``.db3`` file; read with ``rosbags``, :mod:`sam2_ros.tools.bags.source`) plays its image topic
(``--bag-image``; default: its only Image or CompressedImage topic) on ``--topic``, and optionally
a depth Image (``--bag-depth`` -> ``--depth-topic``) and CameraInfo (``--bag-camera-info`` ->
``--camera-info-topic``), each message as recorded, header stamps included. A CompressedImage is
decoded and published as a raw Image (``--keep-compressed``: as is, on ``<topic>/compressed``).
It plays at the recorded rate (bag-time differences), or with ``--rate`` images at that rate, the
other topics right after the image before them. Prompt times count from the bag's first image; a
prompt goes with the image at or just before its time.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.tools.demo.media import load_image_folder, load_prompt_script, load_prompts, load_video
from sam2_ros.tools.demo.scripted_detector import detect, detection_array
from sam2_ros.tools.orderly_stop import ros_context, stop_on_signals

IMAGE_DEPTH = 10  # reliable readers get every frame unless they fall this many frames behind
DEFAULT_FRAMES = 48  # --max-frames of a clip (a bag plays whole)
DEFAULT_RATE = 10.0  # --rate of a clip (a bag plays at its recorded rate)


def synthetic_clip(args: argparse.Namespace) -> Any:
    """The built-in synthetic clip (a SyntheticClip), whole: its motion depends on its length."""
    from sam2_ros.clips.synthetic import generate_clip

    length = max(args.clip_frames or args.max_frames, args.max_frames)
    depth = bool(getattr(args, "synthetic_depth", False))
    return generate_clip(args.synthetic, num_frames=length, height=args.height, width=args.width, depth=depth)


def depth_messages(clip: Any, index: int, header: Any, frame_id: str) -> tuple[Any, Any]:
    """The synthetic clip's depth image (16UC1, millimetres) of frame ``index`` and its CameraInfo,
    stamped like ``header`` in ``frame_id``."""
    from sensor_msgs.msg import CameraInfo, Image

    millimetres = np.round(clip.depth[index] * 1000.0).astype("<u2")
    height, width = millimetres.shape
    depth = Image(height=height, width=width, encoding="16UC1", step=width * 2, data=millimetres.tobytes())
    fx, fy, cx, cy = clip.intrinsics
    info = CameraInfo(height=height, width=width, distortion_model="plumb_bob", d=[0.0] * 5)
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    for msg in (depth, info):
        msg.header.stamp, msg.header.frame_id = header.stamp, frame_id
    return depth, info


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
    parser = argparse.ArgumentParser(prog="sam2-ros-player", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--frames-dir", type=Path, help="folder of images, played in name order")
    source.add_argument("--video", type=Path, help="video file (read with OpenCV)")
    source.add_argument("--synthetic", type=int, default=11, help="seed of the built-in synthetic clip (default)")
    source.add_argument("--bag", type=Path, help="rosbag2 recording: a bag folder or one .mcap / .db3 file")
    parser.add_argument("--max-frames", type=int, help=f"images to play (default {DEFAULT_FRAMES:d}; a bag: all)")
    parser.add_argument("--clip-frames", type=int, help="length of the synthetic clip (default --max-frames)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--rate", type=float, help=f"frames per second (default {DEFAULT_RATE:g}; a bag: as recorded)")
    parser.add_argument("--topic", default="image", help="image topic (default image)")
    parser.add_argument("--prompt-topic", default="prompt")
    parser.add_argument("--prompts", type=Path, help="YAML of prompts per frame index (or, a bag, per time)")
    parser.add_argument("--detections-topic", help="also publish a scripted detector's Detection2DArray for each "
                        "frame here (synthetic clip only)")  # fmt: skip
    parser.add_argument("--detector-noise", type=float, default=2.0, help="detector box noise, pixels (std)")
    parser.add_argument("--detector-every", type=int, default=1, help="detect on every Nth frame")
    parser.add_argument("--detector-miss", type=float, default=0.0, help="probability of missing an object")
    parser.add_argument("--detector-seed", type=int, default=0, help="seed of the detector's noise")
    parser.add_argument("--synthetic-depth", action="store_true", help="also publish the synthetic clip's aligned "
                        "depth (16UC1, mm) on --depth-topic and its CameraInfo on --camera-info-topic, before each "
                        "image")  # fmt: skip
    parser.add_argument("--frame-id", default="camera", help="frame_id of a clip's images (a bag keeps its own)")
    parser.add_argument("--loop", action="store_true", help="play forever")
    parser.add_argument("--wait-subscribers", type=float, default=10.0, help="seconds to wait for subscribers")
    parser.add_argument("--min-subscribers", type=int, default=1, help="image subscribers to wait for")
    parser.add_argument("--ack-timeout", type=float, default=10.0, help="seconds to wait for delivery at the end")
    bag = parser.add_argument_group("recordings (--bag)")
    bag.add_argument("--list-topics", action="store_true", help="print the bag's topics (type, count, duration)")
    bag.add_argument("--bag-image", metavar="TOPIC", help="image topic to play (default: the only Image or "
                     "CompressedImage topic)")  # fmt: skip
    bag.add_argument("--bag-depth", metavar="TOPIC", help="depth Image topic to play on --depth-topic")
    bag.add_argument("--bag-camera-info", metavar="TOPIC", help="CameraInfo topic to play on --camera-info-topic")
    bag.add_argument("--depth-topic", default="depth", help="where the depth images go (default depth)")
    bag.add_argument("--camera-info-topic", default="camera_info", help="where CameraInfo goes (default camera_info)")
    bag.add_argument("--keep-compressed", action="store_true", help="publish a CompressedImage as is, on "
                     "<topic>/compressed (default: decoded, as a raw Image on --topic)")  # fmt: skip
    return parser


def wait_for_subscribers(args: argparse.Namespace, image_pub: Any, others: list[tuple[Any, str, bool]],
                         stop: threading.Event | None = None) -> None:  # fmt: skip
    """Wait (``--wait-subscribers``, or until ``stop``) for the image readers and one reader of each of
    ``others`` ((publisher, topic, warn when none)), then a little more for discovery to settle."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + args.wait_subscribers
    while time.monotonic() < deadline and (
        image_pub.get_subscription_count() < args.min_subscribers
        or any(pub.get_subscription_count() == 0 for pub, _, _ in others)
    ):
        if stop.wait(0.05):
            return
    for pub, topic, warn in others:
        if warn and pub.get_subscription_count() == 0:
            print(f"[player] WARNING: nobody subscribes to {topic}", file=sys.stderr)
    stop.wait(0.5)  # let the matched readers finish discovery too


def wait_acknowledged(publishers: list[Any], timeout_s: float, stop: threading.Event) -> bool | None:
    """Wait until every reliable reader has acknowledged what ``publishers`` sent: True, False after
    ``timeout_s``, None when ``stop`` came first (checked every 0.1 s)."""
    from rclpy.duration import Duration

    deadline = time.monotonic() + timeout_s
    pending = list(publishers)
    while pending:
        if stop.is_set():
            return None
        pending = [pub for pub in pending if not pub.wait_for_all_acked(Duration(seconds=0.1))]
        if pending and time.monotonic() >= deadline:
            return False
    return True


def print_topics(path: Path) -> int:
    """``--list-topics``: the bag's topics with type, message count, first message and duration."""
    from sam2_ros.tools.bags.source import Bag, BagError

    try:
        with Bag(path) as bag:
            rows, start, end = bag.list_topics(), bag.start_ns, bag.end_ns
    except BagError as exc:
        raise SystemExit(f"[player] {exc}") from None
    total = sum(row.count for row in rows)
    span = (end - start) / 1e9 if start is not None and end is not None else 0.0
    print(f"{path}: {len(rows)} topics, {total} messages, {span:.3f} s")
    table = [("topic", "type", "messages", "from (s)", "duration (s)", "rate (Hz)")]
    for row in rows:
        first = (row.first_ns - start) / 1e9 if row.first_ns is not None and start is not None else 0.0
        duration = (row.last_ns - row.first_ns) / 1e9 if row.first_ns is not None and row.last_ns is not None else 0
        rate = f"{(row.count - 1) / duration:.2f}" if row.count > 1 and duration > 0 else "-"
        table.append((row.topic, row.msgtype, str(row.count), f"{first:.3f}", f"{duration:.3f}", rate))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
        print("  ".join(cells).rstrip())
    return 0


def decode_compressed(msg: Any) -> Any:
    """A sensor_msgs/CompressedImage as a raw Image with its header (bgr8, or rgb8 when its format says
    rgb8; mono/alpha/16-bit as decoded), or None when OpenCV cannot decode it."""
    import cv2
    from sensor_msgs.msg import Image

    array = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        return None
    bits = 16 if array.dtype == np.uint16 else 8
    original = msg.format.split(";")[0].strip().lower()  # e.g. "rgb8; jpeg compressed bgr8"
    if array.ndim == 2:
        encoding = f"mono{bits}"
    elif original.startswith("rgb"):
        array = array[..., [2, 1, 0, 3][: array.shape[2]]]
        encoding = f"{'rgba' if array.shape[2] == 4 else 'rgb'}{bits}"
    else:
        encoding = f"{'bgra' if array.shape[2] == 4 else 'bgr'}{bits}"
    array = np.ascontiguousarray(array)
    out = Image(header=msg.header, height=array.shape[0], width=array.shape[1], encoding=encoding)
    out.step = array.shape[1] * array.itemsize * (1 if array.ndim == 2 else array.shape[2])
    out.is_bigendian = int(bits == 16 and sys.byteorder == "big")  # OpenCV decodes to native order
    out.data = array.tobytes()
    return out


def timed_prompts(bag: Any, image_topic: str, times: list[tuple[float, dict[str, Any]]],
                  max_frames: int | None) -> dict[int, list[dict[str, Any]]]:  # fmt: skip
    """Prompts scripted at times (seconds from the bag's first image) -> per image index: the image at or
    just before each time. Prompts after the recording or after the last image played are left out (warned)."""
    stamps = [m.time_ns for m in bag.messages([image_topic])]
    if not stamps:
        return {}
    offsets = [t - stamps[0] for t in stamps]
    end = (bag.end_ns or stamps[-1]) - stamps[0]
    played = len(offsets) if max_frames is None else min(max_frames, len(offsets))
    prompts: dict[int, list[dict[str, Any]]] = {}
    for seconds, item in times:
        ns = round(seconds * 1e9)
        index = bisect.bisect_right(offsets, ns) - 1
        if ns > end or index >= played:
            where = "the recording's end" if ns > end else f"the last image played ({offsets[played - 1] / 1e9:g} s)"
            print(f"[player] WARNING: prompt at {seconds:g} s is after {where}; not sent: {item}", file=sys.stderr)
            continue
        prompts.setdefault(index, []).append(item)
    return prompts


def play_bag(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Play a recording (``--bag``) until its end or ``stop``; 0 when everything was delivered (or it was
    stopped), 1 when some was not acknowledged."""
    from sam2_ros.tools.bags import source as bags

    script = load_prompt_script(args.prompts)
    try:
        with bags.Bag(args.bag) as bag:
            image_topic = args.bag_image or bags.default_image_topic(bag, exclude=[args.bag_depth or ""])
            compressed = bag.check_topic(image_topic, bags.IMAGE_TYPES) == bags.COMPRESSED_IMAGE
            if args.keep_compressed and not compressed:
                raise bags.BagError(f"--keep-compressed: {image_topic} is not a CompressedImage topic")
            if args.bag_depth:
                bag.check_topic(args.bag_depth, [bags.IMAGE])
            if args.bag_camera_info:
                bag.check_topic(args.bag_camera_info, [bags.CAMERA_INFO])
            prompts = {index: list(items) for index, items in script.frames.items()}
            for index, items in timed_prompts(bag, image_topic, script.times, args.max_frames).items():
                prompts.setdefault(index, []).extend(items)
            topics = [t for t in (image_topic, args.bag_depth, args.bag_camera_info) if t]
            if len(set(topics)) < len(topics):
                raise bags.BagError(f"one topic in two roles (image, depth, camera info): {topics}")
            return _play(args, bag.messages(topics), image_topic, compressed, prompts, stop or threading.Event())
    except bags.BagError as exc:
        raise SystemExit(f"[player] {exc}") from None


def _play(args: argparse.Namespace, messages: Any, image_topic: str, compressed: bool,
          prompts: dict[int, list[dict[str, Any]]], stop: threading.Event) -> int:  # fmt: skip
    """Publish a bag's messages (:class:`sam2_ros.tools.bags.source.BagMessage`, time order) in time, until ``stop``."""
    import rclpy
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image

    from sam2_ros.msg import Prompt
    from sam2_ros.node.qos import qos_profile
    from sam2_ros.tools.bags.source import deserialize

    if stop.is_set():
        return 0
    with ros_context() as context:
        node = rclpy.create_node("sam2_ros_player", context=context)
        keep = args.keep_compressed
        image_out = f"{args.topic}/compressed" if keep else args.topic
        image_pub = node.create_publisher(CompressedImage if keep else Image, image_out, qos_profile(IMAGE_DEPTH))
        prompt_pub = node.create_publisher(Prompt, args.prompt_topic, qos_profile(50))
        pubs = {image_topic: image_pub}
        others = [(prompt_pub, args.prompt_topic, False)] if prompts else []
        if args.bag_depth:
            pubs[args.bag_depth] = node.create_publisher(Image, args.depth_topic, qos_profile(IMAGE_DEPTH))
            others.append((pubs[args.bag_depth], args.depth_topic, True))
        if args.bag_camera_info:
            pubs[args.bag_camera_info] = node.create_publisher(CameraInfo, args.camera_info_topic, qos_profile(10))
            others.append((pubs[args.bag_camera_info], args.camera_info_topic, True))
        n = skipped = 0
        counts = dict.fromkeys(pubs, 0)
        start = first_ns = None
        delivered = None
        try:
            wait_for_subscribers(args, image_pub, others, stop)
            for recorded in messages:
                is_image = recorded.topic == image_topic
                if is_image and args.max_frames is not None and n >= args.max_frames:
                    break
                if start is None:
                    start, first_ns = time.monotonic(), recorded.time_ns
                if args.rate is None:  # as recorded
                    delay = start + (recorded.time_ns - first_ns) / 1e9 - time.monotonic()
                else:  # images at --rate, the other topics right after the image before them
                    delay = start + n / args.rate - time.monotonic() if is_image else 0.0
                if stop.wait(max(0.0, delay)):
                    break
                msg = deserialize(recorded)
                if is_image:
                    out = decode_compressed(msg) if compressed and not keep else msg
                    if out is None:
                        skipped += 1
                        print(f"[player] WARNING: cannot decode image {n} ({msg.format!r}); skipped", file=sys.stderr)
                    else:
                        image_pub.publish(out)
                        counts[image_topic] += 1
                        for item in prompts.get(n, []):
                            prompt_pub.publish(prompt_message(item, msg.header))
                    n += 1
                else:
                    pubs[recorded.topic].publish(msg)
                    counts[recorded.topic] += 1
            if not stop.is_set():
                delivered = wait_acknowledged([*pubs.values(), prompt_pub], args.ack_timeout, stop)
        finally:
            timing = "as recorded" if args.rate is None else f"at {args.rate:g} Hz"
            extra = "".join(
                f", {counts[topic]} on {out}"
                for topic, out in ((args.bag_depth, args.depth_topic), (args.bag_camera_info, args.camera_info_topic))
                if topic
            )
            extra += f", {skipped} undecodable skipped" if skipped else ""
            print(f"[player] published {counts[image_topic]} frames {timing} on {image_out} from {args.bag}"
                  f"{extra}{status_text(delivered, stop, args.ack_timeout)}", file=sys.stderr)  # fmt: skip
            node.destroy_node()
    return 1 if delivered is False else 0


def status_text(delivered: bool | None, stop: threading.Event, ack_timeout: float) -> str:
    """The end of the player's last line: delivered, not acknowledged, or stopped by a signal."""
    if stop.is_set():
        return "; stopped by a signal"
    return {True: "; all delivered", False: f"; NOT all acknowledged within {ack_timeout:g} s", None: ""}[delivered]


def main(argv: list[str] | None = None) -> int:
    """Play the clip or the bag; 0 when every frame and prompt was delivered (or it was stopped by SIGINT or
    SIGTERM), 1 when some were not acknowledged."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.detections_topic and (args.frames_dir or args.video or args.bag):
        parser.error("--detections-topic needs the synthetic clip (its ground truth), not --frames-dir, --video "
                     "or --bag")  # fmt: skip
    if args.synthetic_depth and (args.frames_dir or args.video or args.bag):
        parser.error("--synthetic-depth needs the synthetic clip, not --frames-dir, --video or --bag")
    if args.detector_every < 1:
        parser.error("--detector-every must be >= 1")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be > 0")
    if args.max_frames is not None and args.max_frames < 1:
        parser.error("--max-frames must be >= 1")
    if args.bag is None:
        options = (
            ("--list-topics", args.list_topics),
            ("--bag-image", args.bag_image),
            ("--bag-depth", args.bag_depth),
            ("--bag-camera-info", args.bag_camera_info),
            ("--keep-compressed", args.keep_compressed),
        )
        given = [name for name, value in options if value]
        if given:
            parser.error(f"{', '.join(given)}: only with --bag")
    elif args.loop:
        parser.error("--loop does not apply to --bag (the recorded stamps would repeat)")
    elif args.list_topics:
        return print_topics(args.bag)
    else:
        with stop_on_signals() as stop:
            return play_bag(args, stop)
    args.max_frames = args.max_frames or DEFAULT_FRAMES
    args.rate = args.rate or DEFAULT_RATE
    if args.detections_topic:
        try:
            import vision_msgs.msg  # noqa: F401
        except ImportError as exc:
            raise SystemExit(f"--detections-topic needs vision_msgs (ros-<distro>-vision-msgs): {exc}") from exc
    with stop_on_signals() as stop:
        return play_clip(args, stop)


def play_clip(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Play the synthetic clip, a folder or a video until its end (or forever, ``--loop``) or ``stop``;
    0 when every frame and prompt was delivered (or it was stopped), 1 when some were not acknowledged."""
    import rclpy
    from sensor_msgs.msg import Image

    from sam2_ros.msg import Prompt
    from sam2_ros.node.qos import qos_profile

    stop = stop or threading.Event()
    clip = synthetic_clip(args) if args.detections_topic or args.synthetic_depth else None
    frames = clip.frames[: args.max_frames] if clip is not None else load_frames(args)
    prompts = load_prompts(args.prompts)
    if stop.is_set():
        return 0
    with ros_context() as context:
        node = rclpy.create_node("sam2_ros_player", context=context)
        image_pub = node.create_publisher(Image, args.topic, qos_profile(IMAGE_DEPTH))
        prompt_pub = node.create_publisher(Prompt, args.prompt_topic, qos_profile(50))
        detection_pub = None
        if args.detections_topic:
            from vision_msgs.msg import Detection2DArray

            detection_pub = node.create_publisher(Detection2DArray, args.detections_topic, qos_profile(10))
        others = [(prompt_pub, args.prompt_topic, False)] if prompts else []
        if detection_pub is not None:
            others.append((detection_pub, args.detections_topic, True))
        depth_pubs: tuple[Any, Any] | None = None
        if args.synthetic_depth:
            from sensor_msgs.msg import CameraInfo

            depth_pubs = (
                node.create_publisher(Image, args.depth_topic, qos_profile(IMAGE_DEPTH)),
                node.create_publisher(CameraInfo, args.camera_info_topic, qos_profile(IMAGE_DEPTH)),
            )
            others += [(depth_pubs[0], args.depth_topic, True), (depth_pubs[1], args.camera_info_topic, True)]
        period = 1.0 / args.rate
        n = 0
        delivered = None
        try:
            wait_for_subscribers(args, image_pub, others, stop)
            start = time.monotonic()
            while not stop.is_set():
                index = n % len(frames)
                if n >= len(frames) and not args.loop:
                    break
                rgb = frames[index]
                msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=rgb.shape[1] * 3)
                msg.header.stamp = node.get_clock().now().to_msg()
                msg.header.frame_id = args.frame_id
                msg.data = np.ascontiguousarray(rgb).tobytes()
                if depth_pubs is not None:  # first, so the node has the frame's depth when the frame comes
                    for pub, depth_msg in zip(depth_pubs, depth_messages(clip, index, msg.header, args.frame_id)):
                        pub.publish(depth_msg)
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
                    stop.wait(max(0.0, start + n * period - time.monotonic()))
            if not stop.is_set():  # a reliable writer's unacknowledged samples die with it: wait for every reader
                publishers = [image_pub, prompt_pub] + ([detection_pub] if detection_pub is not None else [])
                delivered = wait_acknowledged(publishers + list(depth_pubs or ()), args.ack_timeout, stop)
        finally:
            print(f"[player] published {n} frames at {args.rate:g} Hz on {args.topic}"
                  f"{status_text(delivered, stop, args.ack_timeout)}", file=sys.stderr)  # fmt: skip
            node.destroy_node()
    return 1 if delivered is False else 0


if __name__ == "__main__":
    raise SystemExit(main())
