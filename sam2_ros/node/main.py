"""``sam2_ros_node`` entry point."""

from __future__ import annotations

import sys


def main() -> int:
    """Run the node (arguments such as ``--ros-args -p model_dir:=...`` are passed to rclpy)."""
    from sam2_ros.node.node import main as node_main

    return node_main(sys.argv)


if __name__ == "__main__":
    raise SystemExit(main())
