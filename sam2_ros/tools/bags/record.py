"""Record a running sam2_ros node's topics to a rosbag2 MCAP bag (message definitions embedded).

    sam2-ros-record [--namespace NS] [--node NAME] [--output PATH] [--inputs] [--topics T ...]
                    [--duration S] [--uncompressed] [--ros-args ...]

What is recorded is asked from the ROS graph, not guessed from names: by default every topic the
node ``NS/NAME`` (``/sam2_ros`` in the root) publishes, i.e. its outputs (``mask``,
``tracked_objects``, ``tracked_detections``, ``label_info``, ``overlay``, ``markers``,
``tracked_detections_3d``, ``object_points``, per stream, and ``/diagnostics``, those it has);
``--inputs`` adds every topic it subscribes to, wherever they are (camera images or their
``compressed``, depth images and their ``camera_info``, ``prompt``, detections, clicks).
``/rosout``, ``/parameter_events``, ``/clock`` and the node's ``~/transition_event`` are never
recorded. ``--topics`` records the named topics instead of the outputs (relative names are in
``NS``). The recorder may start before the node: it waits for it and keeps looking, so topics
that appear later (the node creates its publishers at configure and subscribes to its inputs
only while active) are recorded from then on, for the whole recording.

``--output`` is a rosbag2 directory (``metadata.yaml`` plus one ``.mcap``; default
``sam2_ros_bag_<date>-<time>``), or one ``.mcap`` file when it ends in ``.mcap``. Foxglove opens
either; ``ros2 bag play`` replays either (``label_info`` latched, as published). Recording stops on
Ctrl-C, SIGTERM or after ``--duration`` seconds; the bag is closed cleanly and each topic's type and
message count printed. Exit code 0, 1 when nothing was recorded, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sam2_ros.node.outputs import OUTPUT_KINDS as NODE_OUTPUT_KINDS

if TYPE_CHECKING:
    from sam2_ros.tools.bags.writer import NodeInterface

PROG = "sam2-ros-record"
NODE_NAME = "sam2_ros"  # the node's name, as sam2_ros_node and the launch file start it
# The node's output topic names (its outputs table), for the demo's recorder (sam2-ros-record asks the graph).
OUTPUT_KINDS = NODE_OUTPUT_KINDS
DIAGNOSTICS = "/diagnostics"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default="", help="the node's namespace (default: the root)")
    parser.add_argument("--node", default=NODE_NAME, help=f"the node's name (default {NODE_NAME})")
    parser.add_argument("--output", type=Path, help="bag directory, or a file ending in .mcap (must not exist)")
    parser.add_argument("--inputs", action="store_true", help="also record every topic the node subscribes to "
                        "(camera, depth, camera_info, prompt, detections, clicks)")  # fmt: skip
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", help="record these topics instead of the outputs")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument("--uncompressed", action="store_true", help="no zstd chunk compression")
    return parser


def namespace_of(text: str) -> str:
    """``text`` as an absolute namespace (``""`` for the root)."""
    return "/" + text.strip("/") if text.strip("/") else ""


def selector(args: argparse.Namespace) -> NodeInterface:
    """Which graph topics to record, from the arguments: the node's publishers (unless ``--topics``), its
    subscriptions (``--inputs``) and the ``--topics``."""
    from sam2_ros.tools.bags.writer import NodeInterface

    ns = namespace_of(args.namespace)
    exact = [t if t.startswith("/") else f"{ns}/{t}" for t in args.topics or ()]
    return NodeInterface(args.node, ns, outputs=not args.topics, inputs=args.inputs, extra=exact)


def default_output() -> Path:
    """``sam2_ros_bag_<YYYY_mm_dd-HH_MM_SS>`` in the working directory (as ``ros2 bag record`` names bags)."""
    return Path(time.strftime("sam2_ros_bag_%Y_%m_%d-%H_%M_%S"))


def main(argv: list[str] | None = None) -> int:
    """Record until stopped; the exit code."""
    from rclpy.utilities import remove_ros_args

    from sam2_ros.tools.bags.writer import BagRecorder, BagWriter, summary_lines
    from sam2_ros.tools.orderly_stop import ros_context, stop_on_signals

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

    select = selector(args)
    with stop_on_signals() as stop, ros_context([PROG, *argv]) as context:
        writer = BagWriter(output, compress=not args.uncompressed)
        recorder = BagRecorder(writer, select, context=context, node_name="sam2_ros_record")
        kinds = [kind for kind, on in (("outputs", select.outputs), ("inputs", select.inputs)) if on]
        what = [f"the {' and '.join(kinds)} of node {select.full_name}"] if kinds else []
        print(f"[record] recording {', '.join(what + list(args.topics or []))} to {output} (Ctrl-C to stop)",
              file=sys.stderr, flush=True)  # fmt: skip
        try:
            stop.wait(args.duration)
        finally:
            recorder.close()
    lines = summary_lines(writer)
    total = sum(writer.counts.values())
    print(f"[record] wrote {output}: {len(lines)} topic(s), {total} message(s)")
    for line in lines:
        print(f"  {line}")
    return 0 if total else 1


if __name__ == "__main__":
    raise SystemExit(main())
