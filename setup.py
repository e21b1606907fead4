"""sam2_ros: SAM 2 promptable video segmentation and tracking for ROS 2."""

from pathlib import Path

from setuptools import find_packages, setup

package_name = "sam2_ros"
SHARE = f"share/{package_name}"


def _requirements(name: str) -> list[str]:
    with open(f"requirements/{name}.txt") as handle:
        return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]


def _executables() -> list[str]:
    """``NAME = MODULE:FUNCTION`` lines of scripts/executables.txt (CMakeLists.txt reads it too)."""
    lines = Path("scripts/executables.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _files(folder: str, *patterns: str) -> list[str]:
    return sorted(str(path) for pattern in patterns for path in Path(folder).glob(pattern) if path.is_file())


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(include=["sam2_ros", "sam2_ros.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (SHARE, ["package.xml"]),
        # the share directory a colcon install also has (sam2_ros/resources/ finds it)
        (f"{SHARE}/config", _files("config", "*.yaml", "*.xml")),
        (f"{SHARE}/launch", _files("launch", "*.py")),
        (f"{SHARE}/rviz", _files("rviz", "*.rviz")),
        (f"{SHARE}/models/synthetic-128", _files("models/synthetic-128", "*.pt", "*.yaml", "*.json", "*.md")),
    ],
    python_requires=">=3.10",
    install_requires=_requirements("runtime"),
    extras_require={
        # torch and sam2 need special install flags: use scripts/setup_env.sh
        "export": ["torch", "sam2==1.1.0", *_requirements("export")],
        "test": _requirements("dev"),
        # the openvino backend (fast mode on x86); pinned in requirements/openvino.txt
        "openvino": _requirements("openvino"),
        # rosbag2 recordings (the player's --bag, sam2-ros-record); pinned in requirements/ros.txt
        "bags": [r for r in _requirements("ros") if r.startswith("rosbags")],
    },
    zip_safe=False,
    maintainer="sam2_ros developers",
    maintainer_email="sam2-ros@example.com",
    description="Promptable video segmentation and tracking with SAM 2 for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": _executables(),
    },
)
