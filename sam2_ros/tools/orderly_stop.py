"""An orderly stop on SIGINT or SIGTERM for the command-line tools (``sam2-ros-record``, the player).

rclpy's own signal handlers shut the context down the moment a signal arrives. A publish in flight,
or the next one, then fails with ``RCLError: ... publisher's context is invalid``; for certain so
when SIGINT was inherited ignored (a background job of a shell script), as no KeyboardInterrupt
follows. The tools start rclpy without those handlers (:func:`ros_context`), and a signal only sets
an event (:func:`stop_on_signals`): the tool stops publishing or recording, destroys its node, then
shuts the context down, and exits 0. (The node's own entry point, ``sam2_ros.node.main``, does the
same with its worker.)
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGINT and SIGTERM set (repeats change nothing), for the ``with`` block; the previous
    handlers come back after it. An inherited "ignored" is overridden, as a script that sends SIGINT means it.
    Outside the main thread (where Python cannot take signals) the event is only set by the caller."""
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def ros_context(args: Sequence[str] | None = None) -> Iterator[Any]:
    """A fresh rclpy context, initialised with ``args`` but without rclpy's signal handlers; shut down after
    the ``with`` block (destroy the nodes made in it first)."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    context = rclpy.Context()
    rclpy.init(args=None if args is None else list(args), context=context,
               signal_handler_options=SignalHandlerOptions.NO)  # fmt: skip
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)
