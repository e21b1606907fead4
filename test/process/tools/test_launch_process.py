"""The launch file run through launch_ros's own Python API (LaunchService), where launch_ros exists: the
launched node's parameters read over DDS from this process. Its logic and the file checked statically:
test/unit/tools/test_launch.py."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
LAUNCH_FILE = REPO / "launch" / "sam2_ros.launch.py"


def _write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _ament_prefix() -> str | None:
    """An ament prefix holding the node executable: AMENT_PREFIX_PATH's, else this interpreter's."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p] or [sys.prefix]
    found = [p for p in prefixes if (Path(p) / "lib" / "sam2_ros" / "sam2_ros_node").is_file()]
    return found[0] if found else None


needs_launch_ros = pytest.mark.skipif(
    importlib.util.find_spec("launch_ros") is None or _ament_prefix() is None,
    reason="launch_ros is not installable from pip here (or no installed sam2_ros_node in the ament prefix)",
)


@pytest.fixture
def launch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The launched node and this process's client find each other, and no other test's nodes."""
    monkeypatch.setenv("AMENT_PREFIX_PATH", os.environ.get("AMENT_PREFIX_PATH") or str(_ament_prefix()))
    # the installed executable runs `python3` from PATH: this interpreter's, with its packages
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("ROS_DOMAIN_ID", os.environ.get("ROS_DOMAIN_ID", str(100 + os.getpid() % 100)))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def _get_parameters(node: str, names: list[str], timeout: float = 60.0) -> dict[str, Any]:
    """``names`` of the running ``node`` through its get_parameters service."""
    import rclpy
    from rcl_interfaces.srv import GetParameters
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import parameter_value_to_python

    context = Context()
    rclpy.init(context=context)
    try:
        client_node = rclpy.create_node(f"sam2_ros_launch_test_{os.getpid()}", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(client_node)
        client = client_node.create_client(GetParameters, f"{node}/get_parameters")
        assert client.wait_for_service(timeout_sec=timeout), f"{node}/get_parameters did not appear"
        future = client.call_async(GetParameters.Request(names=names))
        executor.spin_until_future_complete(future, timeout_sec=timeout)
        response = future.result()
        assert response is not None, "get_parameters did not answer"
        return {name: parameter_value_to_python(value) for name, value in zip(names, response.values)}
    finally:
        rclpy.shutdown(context=context)


def _launch_and_get(arguments: dict[str, str], node: str, names: list[str]) -> dict[str, Any]:
    """Run the launch file with ``arguments`` (LaunchService), read ``names`` off ``node``, shut down."""
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from launch import LaunchDescription, LaunchService

    service = LaunchService()
    source = PythonLaunchDescriptionSource(str(LAUNCH_FILE))
    service.include_launch_description(
        LaunchDescription([IncludeLaunchDescription(source, launch_arguments=list(arguments.items()))])
    )

    async def run() -> dict[str, Any]:
        launched = asyncio.ensure_future(service.run_async(shutdown_when_idle=False))
        try:
            return await asyncio.get_running_loop().run_in_executor(None, _get_parameters, node, names)
        finally:
            stopping = service.shutdown()
            if stopping is not None:
                await stopping
            await launched

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


NAMES = ["model_dir", "backend", "aidlite_accelerator", "openvino_precision", "image_topics"]


def _user_params_file(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A user's params file setting every override parameter to a non-default value."""
    values = {"model_dir": str(tmp_path / "my_model"), "backend": "qnn", "aidlite_accelerator": "gpu",
              "openvino_precision": "bf16",
              "image_topics": ["/cam_left/image_raw", "/cam_right/image_raw"]}  # fmt: skip
    # autostart off: the test is about the parameters the node gets, not about loading a model
    path = _write(tmp_path / "user.yaml", {"/**": {"ros__parameters": {**values, "autostart": False}}})
    return path, values


@needs_launch_ros
def test_launched_node_gets_the_params_file_values(tmp_path, launch_env):
    path, values = _user_params_file(tmp_path)
    assert _launch_and_get({"params_file": str(path)}, "/sam2_ros", NAMES) == values


@needs_launch_ros
def test_a_given_launch_argument_overrides_the_params_file(tmp_path, launch_env):
    path, values = _user_params_file(tmp_path)
    arguments = {"params_file": str(path), "namespace": "robot1", "backend": "onnxruntime",
                 "openvino_precision": "mixed", "image_topics": "['/camera/image_raw']"}  # fmt: skip
    got = _launch_and_get(arguments, "/robot1/sam2_ros", NAMES)
    expected = {"backend": "onnxruntime", "openvino_precision": "mixed", "image_topics": ["/camera/image_raw"]}
    assert got == {**values, **expected}
