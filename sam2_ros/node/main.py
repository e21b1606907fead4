"""``sam2_ros_node`` entry point: the node on a multi-threaded executor until Ctrl-C or shutdown."""

from __future__ import annotations

import sys


def main(args: list[str] | None = None) -> int:
    """Run the node (arguments such as ``--ros-args -p model_dir:=...`` are passed to rclpy)."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    from sam2_ros.node.node import Sam2RosNode

    rclpy.init(args=sys.argv if args is None else args)
    node = Sam2RosNode()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        node.autostart()
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.stop_worker()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
