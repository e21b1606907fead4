"""Prompt a running sam2_ros node from the command line, and see that it took the prompt.

    sam2-ros-prompt --point X Y [--point X Y ...] [--negative X Y ...] [--box X0 Y0 X1 Y1] [--id N] [--label L]
    sam2-ros-prompt --mask PNG [--id N] [--label L]
    sam2-ros-prompt --remove ID | --reset | --list [--json]
    common: [--stream S] [--namespace NS] [--node NAME] [--stamp SEC.NANOSEC] [--timeout 10] [--ros-args ...]

The prompt is stamped like the newest frame the node has published ``tracked_objects`` for
(the node still holds that image, so the prompt lands on exactly it), or ``--stamp``. Without
``--id`` a new object is added and the node picks its id (the lowest free one), which is printed.
The tool waits until a later ``tracked_objects`` message shows the effect; exit code 0 when it
does, 1 when no node answers within ``--timeout`` seconds, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

PROG = "sam2-ros-prompt"
NS_PER_S = 1_000_000_000


class UsageError(Exception):
    """A bad argument (exit code 2)."""


class NoAnswer(Exception):
    """No node answered in time (exit code 1)."""


def finite(text: str) -> float:
    """A finite float (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def object_id(text: str) -> int:
    """An object id, 1..255 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 255:
        raise argparse.ArgumentTypeError(f"object ids are 1..255, got {value}")
    return value


def stamp_ns(text: str) -> int:
    """``SECONDS`` (``1712345678.25``, ``1712345678.000000123``) as nanoseconds (argparse type)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a time stamp in seconds: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"stamp must be finite seconds >= 0, got {text!r}")
    return int((value * NS_PER_S).to_integral_value())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add = parser.add_argument_group("add or refine an object")
    add.add_argument("--point", nargs=2, type=finite, action="append", default=[], metavar=("X", "Y"),
                     help="foreground click in image pixels (repeatable)")  # fmt: skip
    add.add_argument("--negative", nargs=2, type=finite, action="append", default=[], metavar=("X", "Y"),
                     help="background click in image pixels (repeatable)")  # fmt: skip
    add.add_argument("--box", nargs=4, type=finite, metavar=("X0", "Y0", "X1", "Y1"), help="box in image pixels")
    add.add_argument("--mask", metavar="PNG", help="mask image of the camera image's size (non-zero = object)")
    add.add_argument("--id", type=object_id, help="object to add or refine, 1..255 (default: a new one)")
    add.add_argument("--label", default="", help="class name carried to the outputs")
    verbs = parser.add_mutually_exclusive_group()
    verbs.add_argument("--remove", type=object_id, metavar="ID", help="stop tracking object ID")
    verbs.add_argument("--reset", action="store_true", help="forget every object (of --stream only, if given)")
    verbs.add_argument("--list", action="store_true", help="print the tracked objects of one tracked_objects message")
    parser.add_argument("--stream", default="", help="camera stream name (needed when the node has several)")
    parser.add_argument("--namespace", default="", help="the node's namespace (default: the root)")
    parser.add_argument("--node", default="sam2_ros", help="the node's name, for its reset service")
    parser.add_argument("--stamp", type=stamp_ns, metavar="SECONDS", help="stamp of the image the prompt is made on")
    parser.add_argument("--timeout", type=finite, default=10.0, help="seconds to wait for the node (default 10)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse and check the arguments; UsageError when they do not make one request."""
    args = parser.parse_args(argv)
    shape = bool(args.point or args.negative or args.box or args.mask)
    if not shape and (args.id or args.label):
        raise UsageError("--id and --label go with --point, --negative, --box or --mask")
    if not (shape or args.remove or args.reset or args.list):
        raise UsageError("nothing to do: give --point, --negative, --box or --mask, or --remove, --reset or --list")
    if shape and (args.remove or args.reset or args.list):
        raise UsageError("--point, --negative, --box and --mask add or refine: not with --remove, --reset or --list")
    if args.mask and (args.point or args.negative or args.box):
        raise UsageError("--mask is a prompt of its own: not with --point, --negative or --box")
    if args.box and not (args.box[0] < args.box[2] and args.box[1] < args.box[3]):
        raise UsageError(f"--box needs X0 < X1 and Y0 < Y1, got {' '.join(f'{v:g}' for v in args.box)}")
    if args.stamp is not None and (args.list or (args.reset and not args.stream)):
        raise UsageError("--stamp goes with a prompt (not with --list, nor --reset without --stream)")
    if args.timeout <= 0:
        raise UsageError("--timeout must be > 0")
    if args.mask:
        args.mask = read_mask(args.mask)
    ns = "/" + args.namespace.strip("/")
    from rclpy.exceptions import InvalidNamespaceException
    from rclpy.validate_namespace import validate_namespace

    try:
        validate_namespace(ns)
    except InvalidNamespaceException as exc:
        raise UsageError(f"bad --namespace {args.namespace!r}: {str(exc).splitlines()[0]}") from None
    args.namespace = ns
    return args


def read_mask(path: str) -> np.ndarray:
    """A mask PNG as an HxW bool array (any non-zero channel is the object)."""
    import cv2

    if not os.path.isfile(path):
        raise UsageError(f"--mask {path}: no such file")
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise UsageError(f"--mask {path}: not an image OpenCV can read")
    mask = image.any(axis=2) if image.ndim == 3 else image > 0
    if not mask.any():
        raise UsageError(f"--mask {path}: no non-zero pixel")
    return mask


def check_inside(args: argparse.Namespace, height: int, width: int) -> None:
    """Points and box inside the image, the mask of its size (UsageError otherwise)."""
    for flag, (x, y) in [("--point", p) for p in args.point] + [("--negative", p) for p in args.negative]:
        if not (0 <= x <= width and 0 <= y <= height):
            raise UsageError(f"{flag} {x:g} {y:g} is outside the {width}x{height} image")
    if args.box and not (args.box[0] >= 0 and args.box[1] >= 0 and args.box[2] <= width and args.box[3] <= height):
        raise UsageError(f"--box {' '.join(f'{v:g}' for v in args.box)} is outside the {width}x{height} image")
    if args.mask is not None and args.mask.shape != (height, width):
        h, w = args.mask.shape
        raise UsageError(f"--mask is {w}x{h}, the image is {width}x{height}")


def stamp_text(stamp: Any) -> str:
    return f"{stamp.sec}.{stamp.nanosec:09d}"


def object_dict(obj: Any) -> dict[str, Any]:
    """A TrackedObject as plain data."""
    box = obj.bbox
    return {
        "object_id": obj.object_id,
        "label": obj.label,
        "visible": obj.visible,
        "presence_probability": round(float(obj.presence_probability), 4),
        "predicted_iou": round(float(obj.predicted_iou), 4),
        "bbox": [box.x_offset, box.y_offset, box.width, box.height],
        "centroid": [round(obj.centroid.x, 2), round(obj.centroid.y, 2)],
        "area": obj.area,
        "frames_tracked": obj.frames_tracked,
    }


def array_dict(msg: Any) -> dict[str, Any]:
    """A TrackedObjectArray as plain data."""
    return {
        "stream": msg.stream,
        "stamp": stamp_text(msg.header.stamp),
        "height": msg.height,
        "width": msg.width,
        "objects": [object_dict(o) for o in msg.objects],
    }


def object_line(obj: Any) -> str:
    box = obj.bbox
    return (
        f"id={obj.object_id} label={obj.label!r} visible={'yes' if obj.visible else 'no'} "
        f"presence={obj.presence_probability:.2f} bbox=({box.x_offset}, {box.y_offset}, {box.width}, {box.height}) "
        f"area={obj.area}"
    )


def ids(msg: Any) -> set[int]:
    return {o.object_id for o in msg.objects}


class Link:
    """The tool's ROS node: the prompt publisher and the tracked_objects subscription(s)."""

    def __init__(self, args: argparse.Namespace, ros_args: list[str]) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        from sam2_ros.msg import Prompt, TrackedObjectArray

        self.args, self.deadline = args, time.monotonic() + args.timeout
        self.context = rclpy.Context()
        rclpy.init(args=ros_args, context=self.context)
        self.node = rclpy.create_node(f"sam2_ros_prompt_{os.getpid()}", namespace=args.namespace, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.messages: list[Any] = []
        topics = ["tracked_objects"] + ([f"{args.stream}/tracked_objects"] if args.stream else [])
        self.subs = [self.node.create_subscription(TrackedObjectArray, t, self._store, 10) for t in topics]
        self.prompt_pub = self.node.create_publisher(Prompt, "prompt", 10)

    def _store(self, msg: Any) -> None:
        if not self.args.stream or msg.stream == self.args.stream:
            self.messages.append(msg)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()

    def spin_until(self, done: Callable[[], Any], failure: str) -> Any:
        """Spin until ``done()`` is truthy (returns it); NoAnswer with ``failure`` at the deadline."""
        while True:
            value = done()
            if value:
                return value
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise NoAnswer(failure)
            self.executor.spin_once(timeout_sec=min(0.05, left))

    def no_answer(self, where: str, question: str = "is it running and active, and is the camera streaming?") -> str:
        return f"no sam2_ros node answered on {where} within {self.args.timeout:g} s: {question}"

    def wait_for_node(self) -> None:
        """Wait for a subscriber on the prompt topic."""
        pub = self.prompt_pub
        self.spin_until(lambda: pub.get_subscription_count() > 0, self.no_answer(pub.topic_name))

    def newest(self) -> Any:
        """The newest tracked_objects message (waits for one)."""
        topics = " or ".join(s.topic_name for s in self.subs)
        hint = "" if self.args.stream else " (a node with several streams needs --stream)"
        self.spin_until(lambda: self.messages, self.no_answer(topics) + hint)
        return self.messages[-1]

    def reset_service(self) -> Any:
        """Call the node's ~/reset (std_srvs/Trigger); its response."""
        from std_srvs.srv import Trigger

        name = self.node.resolve_service_name(f"{self.args.node}/reset")
        client = self.node.create_client(Trigger, name)
        failure = self.no_answer(name, f"is it running (named {self.args.node}, see --node)?")
        self.spin_until(client.service_is_ready, failure)
        future = client.call_async(Trigger.Request())
        return self.spin_until(lambda: future.done() and future.result(), failure)

    def prompt(self, msg: Any, ref: Any, shows: Callable[[Any], Any], what: str) -> tuple[Any, Any]:
        """Publish ``msg``; wait for a tracked_objects message after ``ref`` where ``shows(m)``
        holds (and, if it held on ``ref`` already, for the second message after publishing: the
        first may have been in flight). Returns (that message, ``shows``'s value)."""
        topic = self.prompt_pub.topic_name
        start = len(self.messages)
        self.prompt_pub.publish(msg)
        already = bool(shows(ref))

        def found() -> tuple[Any, Any] | None:
            later = [m for m in self.messages[start:] if _ns(m.header.stamp) > _ns(ref.header.stamp)]
            for i, m in enumerate(later):
                value = shows(m)
                if value and (not already or i >= 1):
                    return m, value
            return None

        failure = (
            f"the sam2_ros node on {topic} did not show {what} within {self.args.timeout:g} s "
            "(see its log: the prompt may have been dropped, e.g. max_objects reached)"
        )
        return self.spin_until(found, failure)


def _ns(stamp: Any) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def prompt_msg(args: argparse.Namespace, ref: Any) -> Any:
    """The Prompt for ``args``, stamped like ``ref`` unless --stamp."""
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import Point32
    from sensor_msgs.msg import Image

    from sam2_ros.msg import Prompt

    msg = Prompt(stream=args.stream, label=args.label)
    msg.header.frame_id = ref.header.frame_id
    if args.stamp is None:
        msg.header.stamp = ref.header.stamp
    else:
        msg.header.stamp = Time(sec=args.stamp // NS_PER_S, nanosec=args.stamp % NS_PER_S)
    if args.reset:
        msg.action = Prompt.ACTION_RESET_STREAM
    elif args.remove:
        msg.action, msg.object_id = Prompt.ACTION_REMOVE_OBJECT, args.remove
    else:
        msg.action, msg.object_id = Prompt.ACTION_ADD_OR_REFINE, args.id or 0
        clicks = [(p, 1) for p in args.point] + [(p, 0) for p in args.negative]
        msg.points = [Point32(x=float(x), y=float(y), z=0.0) for (x, y), _ in clicks]
        msg.labels = [label for _, label in clicks]
        if args.box:
            msg.has_box, msg.box = True, [float(v) for v in args.box]
        if args.mask is not None:
            mask = args.mask.astype(np.uint8) * 255
            msg.mask = Image(height=mask.shape[0], width=mask.shape[1], encoding="mono8", step=mask.shape[1])
            msg.mask.data = mask.tobytes()
    return msg


def run(link: Link, args: argparse.Namespace) -> dict[str, Any]:
    """Do what ``args`` ask; the result as plain data (with ``text``, the line to print)."""
    if args.reset and not args.stream:
        response = link.reset_service()
        if not response.success:
            raise NoAnswer(f"the node refused the reset: {response.message}")
        return {"action": "reset", "message": response.message, "text": response.message}
    if not args.list:
        link.wait_for_node()
    ref = link.newest()
    if args.list:
        lines = [f"stream {ref.stream!r} stamp {stamp_text(ref.header.stamp)} {ref.width}x{ref.height}: "
                 f"{len(ref.objects)} object(s)"] + [object_line(o) for o in ref.objects]  # fmt: skip
        return {**array_dict(ref), "text": "\n".join(lines)}
    check_inside(args, ref.height, ref.width)
    msg = prompt_msg(args, ref)
    where = f"stream {ref.stream!r}"
    if args.reset:
        link.prompt(msg, ref, lambda m: not m.objects, f"the reset of {where}")
        return {"action": "reset", "stream": ref.stream, "text": f"reset {where}", **_stamp(msg)}
    if args.remove:
        if args.remove not in ids(ref):
            raise NoAnswer(f"object {args.remove} is not tracked on {where} (tracked: {sorted(ids(ref))})")
        link.prompt(msg, ref, lambda m: args.remove not in ids(m), f"object {args.remove} removed")
        text = f"object {args.remove} removed from {where}"
        return {"action": "removed", "object_id": args.remove, **_stamp(msg), "text": text}
    if args.id:
        verb = "refined" if args.id in ids(ref) else "added"

        def shows(m: Any) -> int | None:
            obj = next((o for o in m.objects if o.object_id == args.id), None)
            return args.id if obj is not None and (not args.label or obj.label == args.label) else None

    else:
        verb, before = "added", ids(ref)

        def shows(m: Any) -> int | None:
            return min(ids(m) - before, default=None)

    shown, new_id = link.prompt(msg, ref, shows, f"the {verb} object {args.id or '(new)'}")
    obj = next(o for o in shown.objects if o.object_id == new_id)
    text = f"object {new_id} {verb} on {where} at stamp {stamp_text(msg.header.stamp)}: {object_line(obj)}"
    return {"action": verb, "object_id": new_id, "object": object_dict(obj), **_stamp(msg), "text": text}


def _stamp(msg: Any) -> dict[str, str]:
    return {"stamp": stamp_text(msg.header.stamp)}


def main(argv: list[str] | None = None) -> int:
    """Run the tool; the exit code (0 done, 1 no answer in time, 2 bad arguments)."""
    from rclpy.utilities import remove_ros_args

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parse_args(parser, remove_ros_args([PROG, *argv])[1:])
    except SystemExit as exc:  # argparse's own errors (2) and --help (0)
        return int(exc.code or 0)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    link = Link(args, [PROG, *argv])
    try:
        result = run(link, args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except NoAnswer as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        link.close()
    text = result.pop("text")
    print(json.dumps(result) if args.json else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
