"""Record a running sam2_ros node's outputs to a rosbag2 MCAP bag (message definitions embedded).

    sam2-ros-record [--namespace NS] [--output PATH] [--inputs] [--topics T ...] [--duration S]
                    [--uncompressed] [--ros-args ...]

By default the node's outputs in ``NS``: ``mask``, ``tracked_objects``, ``tracked_detections``,
``label_info``, ``overlay``, ``markers``, ``tracked_detections_3d``, ``object_points`` (those that
exist), also as ``<stream>/<kind>`` with several streams, and ``/diagnostics``. ``--inputs`` adds
``image``, ``prompt``, ``detections``, ``depth`` and ``camera_info``; ``--topics`` records the named
topics instead of the outputs (relative names are in ``NS``). Topics are picked up when their
publishers appear, for the whole recording.

``--output`` is a rosbag2 directory (``metadata.yaml`` plus one ``.mcap``; default
``sam2_ros_bag_<date>-<time>``), or one ``.mcap`` file when it ends in ``.mcap``. Foxglove opens
either; ``ros2 bag play`` replays either (``label_info`` latched, as published). Recording stops on
Ctrl-C, SIGTERM or after ``--duration`` seconds; the bag is closed cleanly and each topic's type and
message count printed. Exit code 0, 1 when nothing was recorded, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

PROG = "sam2-ros-record"
OUTPUT_KINDS = (
    "mask",
    "tracked_objects",
    "tracked_detections",
    "label_info",
    "overlay",
    "markers",
    "tracked_detections_3d",
    "object_points",
)
INPUT_KINDS = ("image", "prompt", "detections", "depth", "camera_info")
DIAGNOSTICS = "/diagnostics"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default="", help="the node's namespace (default: the root)")
    parser.add_argument("--output", type=Path, help="bag directory, or a file ending in .mcap (must not exist)")
    parser.add_argument("--inputs", action="store_true", help="also record " + ", ".join(INPUT_KINDS))
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", help="record these topics instead of the outputs")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument("--uncompressed", action="store_true", help="no zstd chunk compression")
    return parser


def namespace_of(text: str) -> str:
    """``text`` as an absolute namespace (``""`` for the root)."""
    return "/" + text.strip("/") if text.strip("/") else ""


def selector(args: argparse.Namespace) -> Callable[[str], bool]:
    """Which graph topics to record, from the arguments."""
    from sam2_ros.tools.bag_writer import output_selector

    ns = namespace_of(args.namespace)
    exact = [t if t.startswith("/") else f"{ns}/{t}" for t in args.topics or ()]
    kinds = (() if args.topics else OUTPUT_KINDS) + (INPUT_KINDS if args.inputs else ())
    return output_selector(ns, kinds, exact if args.topics else [DIAGNOSTICS])


def default_output() -> Path:
    """``sam2_ros_bag_<YYYY_mm_dd-HH_MM_SS>`` in the working directory (as ``ros2 bag record`` names bags)."""
    return Path(time.strftime("sam2_ros_bag_%Y_%m_%d-%H_%M_%S"))


def main(argv: list[str] | None = None) -> int:
    """Record until stopped; the exit code."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    from rclpy.utilities import remove_ros_args

    from sam2_ros.tools.bag_writer import BagRecorder, BagWriter, summary_lines

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(remove_ros_args([PROG, *argv])[1:])
    except SystemExit as exc:  # argparse's own errors (2) and --help (0)
        return int(exc.code or 0)
    output = args.output or default_output()
    if output.exists():
        print(f"{PROG}: error: {output} exists already; not overwriting", file=sys.stderr)
        return 2
    if args.duration is not None and args.duration <= 0:
        print(f"{PROG}: error: --duration must be > 0", file=sys.stderr)
        return 2

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    context = rclpy.Context()
    rclpy.init(args=[PROG, *argv], context=context, signal_handler_options=SignalHandlerOptions.NO)
    writer = BagWriter(output, compress=not args.uncompressed)
    recorder = BagRecorder(writer, selector(args), context=context, node_name="sam2_ros_record")
    print(f"[record] recording to {output} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        stop.wait(args.duration)
    finally:
        recorder.close()
        rclpy.try_shutdown(context=context)
    lines = summary_lines(writer)
    total = sum(writer.counts.values())
    print(f"[record] wrote {output}: {len(lines)} topic(s), {total} message(s)")
    for line in lines:
        print(f"  {line}")
    return 0 if total else 1


if __name__ == "__main__":
    raise SystemExit(main())
