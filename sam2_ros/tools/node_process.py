"""Start and stop ``sam2_ros_node`` as a child process (demo, benchmarks)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from sam2_ros.resources import params_file


def start_node(model: Path, namespace: str, env: dict[str, str], log: Path, *params: str) -> subprocess.Popen:
    """The node with the launch file's parameters file, in ``namespace``; output to ``log``.

    ``params`` are extra ``name:=value`` overrides.
    """
    args = [sys.executable, "-m", "sam2_ros.node.main", "--ros-args", "-r", f"__ns:={namespace}",
            "--params-file", str(params_file()), "-p", f"model_dir:={model}"]  # fmt: skip
    for param in params:
        args += ["-p", param]
    with open(log, "w") as handle:
        return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env)


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGINT (a clean ROS shutdown), then kill after ``timeout``; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
