"""The engine's Python log records, written by the node's ROS logger.

The engine (ROS-free) reports through Python ``logging`` (logger ``sam2_ros.engine``): a model
with random weights, a precision the CPU lacks. In the node those records go to the node's ROS
logger instead (console, ``/rosout``, log files), once, with the node's name, rather than to
Python's stderr fallback beside it.
"""

from __future__ import annotations

import logging
from typing import Any

ENGINE_LOGGER = "sam2_ros.engine"


class RosLogHandler(logging.Handler):
    """Writes Python log records with a ROS logger (rclpy ``RcutilsLogger``), level for level."""

    def __init__(self, ros_logger: Any) -> None:
        super().__init__()
        self._ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.levelno >= logging.ERROR:
                self._ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self._ros_logger.warning(text)
            elif record.levelno >= logging.INFO:
                self._ros_logger.info(text)
            else:
                self._ros_logger.debug(text)
        except Exception:  # a log line must never break the caller
            self.handleError(record)


def route_engine_log(ros_logger: Any) -> RosLogHandler:
    """Send the engine's records to ``ros_logger`` only (no longer to Python's stderr); returns the
    handler, for `unroute_engine_log`."""
    handler = RosLogHandler(ros_logger)
    engine = logging.getLogger(ENGINE_LOGGER)
    engine.addHandler(handler)
    engine.propagate = False
    return handler


def unroute_engine_log(handler: RosLogHandler) -> None:
    """Undo `route_engine_log`: the engine's records go to Python's handlers again."""
    engine = logging.getLogger(ENGINE_LOGGER)
    engine.removeHandler(handler)
    if not any(isinstance(h, RosLogHandler) for h in engine.handlers):
        engine.propagate = True
