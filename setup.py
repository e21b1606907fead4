"""sam2_ros: SAM 2 promptable video segmentation and tracking for ROS 2."""

from setuptools import find_packages, setup

package_name = "sam2_ros"


def _requirements(name: str) -> list[str]:
    with open(f"requirements/{name}.txt") as handle:
        return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(include=["sam2_ros", "sam2_ros.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    python_requires=">=3.10",
    install_requires=_requirements("runtime"),
    extras_require={
        # torch and sam2 need special install flags: use scripts/setup_env.sh
        "export": ["torch", "sam2==1.1.0", *_requirements("export")],
        "test": _requirements("dev"),
    },
    zip_safe=False,
    maintainer="sam2_ros developers",
    maintainer_email="sam2-ros@example.com",
    description="Promptable video segmentation and tracking with SAM 2 for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "sam2-ros-export = sam2_ros.export.cli:main",
            "sam2-ros-qnn-manifest = sam2_ros.export.bins:main",
            "sam2-ros-bench = sam2_ros.bench:main",
            "sam2-ros-demo = sam2_ros.tools.node_demo:main",
            "sam2-ros-player = sam2_ros.tools.player:main",
            "sam2_ros_node = sam2_ros.node.main:main",
        ],
    },
)
