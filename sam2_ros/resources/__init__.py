"""Where the package's installed files are: params file, demo prompts, RViz config, Fast DDS profile, shipped model.

They live in the package's *share directory*, found in this order:

1. the source checkout this module runs from (an editable or ``--symlink-install`` set-up);
2. the install prefix this module was installed into (``<prefix>/share/sam2_ros``, as
   ``colcon build`` and ``pip install`` put them);
3. the ament index (``AMENT_PREFIX_PATH``, set by sourcing a workspace);
4. ``sys.prefix/share/sam2_ros``.

Writable data (the shipped model's first-use export) goes to the user cache instead
(:func:`cache_dir`), never into the source or install tree.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "sam2_ros"
_MARKER = Path("config") / "sam2_ros.yaml"


class ResourceError(RuntimeError):
    """The package's share directory (config/, models/, rviz/) cannot be found."""


def _source_checkout() -> Path | None:
    """The repository root when this module runs from a source checkout, else None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "package.xml").is_file() and (root / _MARKER).is_file() else None


def _candidates() -> Iterator[Path]:
    source = _source_checkout()
    if source is not None:
        yield source
    # <prefix>/lib/pythonX.Y/site-packages/sam2_ros/resources/__init__.py (not resolved: a
    # symlink install points into the source tree, which the first place already covers)
    here = Path(os.path.abspath(__file__))
    yield from (parent / "share" / PACKAGE for parent in here.parents[2:7])
    try:
        from ament_index_python.packages import get_package_share_directory

        yield Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, ValueError, OSError):  # OSError: AMENT_PREFIX_PATH unset
        pass
    yield Path(sys.prefix) / "share" / PACKAGE


@functools.lru_cache(maxsize=1)
def share_dir() -> Path:
    """The package's share directory (holds ``config/``, ``rviz/``, ``launch/``, ``models/``)."""
    candidates = []
    for candidate in _candidates():
        if (candidate / _MARKER).is_file():
            return candidate
        candidates.append(candidate)
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise ResourceError(
        f"cannot find the {PACKAGE} share directory (with {_MARKER}); looked in: {looked}. "
        "Source your workspace (source install/setup.bash) or reinstall the package."
    )


def params_file() -> Path:
    """The shipped parameters file, ``config/sam2_ros.yaml`` (what the launch file uses)."""
    return share_dir() / _MARKER


def demo_prompts() -> Path:
    """The demo's prompts for the synthetic clip, ``config/demo_prompts.yaml``."""
    return share_dir() / "config" / "demo_prompts.yaml"


def rviz_config() -> Path:
    """The RViz config template, ``rviz/sam2_ros.rviz``."""
    return share_dir() / "rviz" / "sam2_ros.rviz"


def fastdds_profile() -> Path:
    """The Fast DDS profile the node applies for camera images, ``config/fastdds_image_input.xml``."""
    return share_dir() / "config" / "fastdds_image_input.xml"


def shipped_model_dir() -> Path:
    """The shipped demo model's folder (checkpoint, config, model card), ``models/synthetic-128``."""
    return share_dir() / "models" / "synthetic-128"


def cache_dir() -> Path:
    """The user cache: ``$SAM2_ROS_CACHE``, else ``$XDG_CACHE_HOME/sam2_ros``, else ``~/.cache/sam2_ros``."""
    explicit = os.environ.get("SAM2_ROS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / PACKAGE
