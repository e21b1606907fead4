"""The Fast DDS transport settings ``sam2_ros_node`` gives itself before rclpy starts.

With Fast DDS's default transports a best-effort camera image above ~512 kB (640x480 rgb8 is
921 kB) from a publisher on the same host never arrives: the writer sends it through its own
512 KiB shared-memory segment. The shipped profile ``config/fastdds_image_input.xml`` makes the
node's readers UDP-only with a 4 MiB socket buffer, so unconfigured camera drivers reach it,
and gives its writers a large shared-memory segment (measurements: docs/PERFORMANCE.md). Linux
caps that buffer at ``net.core.rmem_max``; below 4 MiB the node warns how to raise it.

It is applied through ``FASTDDS_DEFAULT_PROFILES_FILE`` unless the user chose Fast DDS settings
of their own (see :data:`USER_SETTINGS`) or another rmw; their choice always stands.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import NamedTuple

from sam2_ros.resources import ResourceError, fastdds_profile

PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
# any of these set means the user configured Fast DDS themselves (FASTRTPS_*: older Fast DDS)
USER_SETTINGS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS")
CWD_PROFILE = "DEFAULT_FASTDDS_PROFILES.xml"  # Fast DDS also loads this from the working directory
FAST_DDS_RMWS = ("rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp")  # the default rmw is rmw_fastrtps_cpp
RECEIVE_BUFFER = 4 * 1024 * 1024  # the profile's UDP socket buffers; Linux caps them at net.core.rmem_max
RMEM_MAX = Path("/proc/sys/net/core/rmem_max")


def profile_path() -> Path | None:
    """The shipped Fast DDS profile, or None when the package's share directory does not hold it."""
    try:
        path = fastdds_profile()
    except ResourceError:
        return None
    return path if path.is_file() else None


def socket_buffer_limit(path: Path = RMEM_MAX) -> int | None:
    """The system's cap on socket receive buffers (``net.core.rmem_max``), or None where unknown."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def user_choice(env: MutableMapping[str, str], cwd: Path) -> str | None:
    """The user's own transport choice in ``env`` (a description), or None when there is none."""
    rmw = env.get("RMW_IMPLEMENTATION", "")
    if rmw and rmw not in FAST_DDS_RMWS:
        return f"RMW_IMPLEMENTATION={rmw}"
    for name in USER_SETTINGS:
        if name in env:
            return f"{name}={env[name]}"
    if (cwd / CWD_PROFILE).is_file():
        return str(cwd / CWD_PROFILE)
    return None


class TransportChoice(NamedTuple):
    """What :func:`apply_image_transport` did: a line for the node's log, and whether it is a warning."""

    message: str
    warning: bool = False


def apply_image_transport(
    env: MutableMapping[str, str] | None = None, cwd: Path | None = None, rmem_max: Path = RMEM_MAX
) -> TransportChoice:
    """Point Fast DDS at the shipped profile in ``env`` (default ``os.environ``) unless the user
    chose otherwise (``cwd``: the working directory). Call it before ``rclpy.init``."""
    env = os.environ if env is None else env
    chosen = user_choice(env, Path.cwd() if cwd is None else cwd)
    if chosen is not None:
        return TransportChoice(f"transport: the user's setting {chosen}")
    profile = profile_path()
    if profile is None:
        return TransportChoice(
            "transport: config/fastdds_image_input.xml not found, Fast DDS defaults: best-effort images above ~512 kB "
            "published on this host will not arrive",
            warning=True,
        )
    env[PROFILE_ENV] = str(profile)
    limit = socket_buffer_limit(rmem_max)
    if limit is not None and limit < RECEIVE_BUFFER:
        return TransportChoice(
            f"transport: Fast DDS profile {profile}, but net.core.rmem_max is {limit} bytes: most best-effort "
            f"images above ~512 kB will still be lost; raise it: sudo sysctl -w net.core.rmem_max={RECEIVE_BUFFER}",
            warning=True,
        )
    return TransportChoice(f"transport: Fast DDS profile {profile} (FASTDDS_BUILTIN_TRANSPORTS or {PROFILE_ENV} "
                           "choose another)")  # fmt: skip
