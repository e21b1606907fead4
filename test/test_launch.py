"""The launch file: checked statically everywhere, run through launch_ros where it exists."""

from __future__ import annotations

import ast
import importlib.util

import pytest
import yaml

from sam2_ros.tools.resources import REPO_ROOT as REPO

LAUNCH_FILE = REPO / "launch" / "sam2_ros.launch.py"


def _declared_arguments() -> set[str]:
    tree = ast.parse(LAUNCH_FILE.read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument"
    }


def test_launch_file_declares_the_documented_arguments():
    assert _declared_arguments() == {"model_dir", "backend", "aidlite_accelerator", "image_topics", "namespace",
                                     "params_file", "rviz", "rviz_config"}  # fmt: skip


def test_launch_file_runs_no_code_from_strings():
    source = LAUNCH_FILE.read_text()
    for forbidden in ("eval(", "exec(", "subprocess", "os.system"):
        assert forbidden not in source


def test_launch_file_uses_the_tested_parameters_file_and_rviz_config():
    source = LAUNCH_FILE.read_text()
    assert '"config", "sam2_ros.yaml"' in source and '"rviz", "sam2_ros.rviz"' in source
    rviz = yaml.safe_load((REPO / "rviz" / "sam2_ros.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"]}
    assert topics == {"image", "overlay", "mask"}


@pytest.mark.skipif(importlib.util.find_spec("launch_ros") is None, reason="launch_ros is not installable here")
def test_launch_description_builds():
    spec = importlib.util.spec_from_file_location("sam2_ros_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert len(description.entities) >= 8
