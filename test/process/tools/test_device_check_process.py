"""``sam2-ros-device-check`` as a program: ``python -m`` (help, schema, a bad option), the venv's console script,
and its imports in a fresh interpreter (neither torch nor rclpy). The check itself, in this process:
test/unit/tools/test_device_check.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sam2_ros.tools.device.report import REPORT_SCHEMA

REPO = Path(__file__).resolve().parents[3]


def test_cli_entry_point_and_schema(tmp_path):
    lines = (REPO / "scripts" / "executables.txt").read_text().splitlines()
    assert "sam2-ros-device-check = sam2_ros.tools.device.check:main" in lines
    done = subprocess.run(
        [sys.executable, "-m", "sam2_ros.tools.device.check", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "usage: sam2-ros-device-check" in done.stdout and "--htp-arch" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "sam2_ros.tools.device.check", "--print-schema"], capture_output=True, text=True
    )
    assert json.loads(done.stdout) == json.loads(json.dumps(REPORT_SCHEMA))
    done = subprocess.run(
        [sys.executable, "-m", "sam2_ros.tools.device.check", str(tmp_path), "--backend-option", "nokey"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "KEY=VALUE" in done.stderr


@pytest.mark.slow  # the venv's console script (colcon test runs another Python; test_workspace checks ros2 run)
def test_console_script_is_installed():
    script = Path(sys.executable).parent / "sam2-ros-device-check"
    assert script.is_file(), "sam2-ros-device-check is not installed: re-run scripts/setup_env.sh"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage: sam2-ros-device-check" in done.stdout


def test_the_tool_imports_neither_torch_nor_rclpy():
    code = (
        "import sys, sam2_ros.tools.device.check\n"
        "bad = [m for m in ('torch', 'rclpy', 'sam2', 'onnx') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
