"""The one mapping from reliability and durability to an rclpy QoS profile, for the node and the tools."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy


def qos_profile(depth: int, reliable: bool = True, latched: bool = False) -> QoSProfile:
    """A keep-last QoS of ``depth``: reliable or best effort; transient local (``latched``) or volatile."""
    return QoSProfile(
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )
