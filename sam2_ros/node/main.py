"""``sam2_ros_node`` entry point: the node on a multi-threaded executor until SIGINT, SIGTERM or shutdown.

Before rclpy starts it points Fast DDS at the shipped transport profile, unless the user chose
their own (transport.py). On SIGINT or SIGTERM it stops in order: the worker finishes the frame
in flight and publishes it, then the executor, the node and the context go. (rclpy's own signal
handlers invalidate the context first, so a publish in flight failed with an RCLError.) The stop
waits at most for the frame in flight; SIGKILL ends the process at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from sam2_ros.node.transport import apply_image_transport

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _spin(executor: Any, stop: threading.Event, failed: list[BaseException]) -> None:
    """Spin ``executor`` until it is shut down; then (or on an error) set ``stop``.

    A lifecycle transition destroys subscriptions, timers and services from an executor thread
    while the spinning thread may hold them, or their QoS event handlers, in the wait set it is
    building; rclpy then raises ``InvalidHandle`` out of ``spin`` (rclpy#1206, #1355; it killed
    the node once). The entity is gone by then and the next wait no longer holds it, so the
    spin goes on: that error is the only one survived.
    """
    from rclpy.exceptions import InvalidHandle
    from rclpy.executors import ExternalShutdownException

    try:
        while not stop.is_set():
            try:
                executor.spin()
                return
            except InvalidHandle:
                continue  # an entity destroyed in a transition while the executor waited on it
    except ExternalShutdownException:
        pass
    except BaseException as exc:  # reported by main(), which then stops the node
        failed.append(exc)
    finally:
        stop.set()


def main(args: list[str] | None = None) -> int:
    """Run the node (arguments such as ``--ros-args -p model_dir:=...`` are passed to rclpy)."""
    transport = apply_image_transport()  # before rclpy.init: Fast DDS reads it when rclpy starts
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from sam2_ros.node.node import Sam2RosNode

    stop = threading.Event()
    spinning = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        """Stop in order (start-up is interrupted at once). Repeats are ignored: ``ros2 launch`` and
        the terminal both send SIGINT, and launch sends SIGTERM if the stop takes a while."""
        if stop.is_set():
            return
        stop.set()
        if not spinning.is_set():
            raise KeyboardInterrupt

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    failed: list[BaseException] = []
    node: Sam2RosNode | None = None
    executor: MultiThreadedExecutor | None = None
    spinner: threading.Thread | None = None
    try:
        node = Sam2RosNode()
        (node.get_logger().warning if transport.warning else node.get_logger().info)(transport.message)
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(node)
        node.autostart()
        spinner = threading.Thread(target=_spin, args=(executor, stop, failed), name="sam2_ros_spin", daemon=True)
        spinning.set()
        spinner.start()
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if node is not None:
            node.stop_worker()  # the frame in flight is published while the context is still valid
        if executor is not None:
            executor.shutdown(timeout_sec=10.0)
        if spinner is not None:
            spinner.join(timeout=10.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        # The stop is done. A repeated SIGINT (`ros2 launch` forwards one after the terminal's) must
        # not kill the exiting interpreter, which puts the default handlers back as it finalizes.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    if failed:
        print(f"sam2_ros_node: the executor failed: {failed[0]!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
