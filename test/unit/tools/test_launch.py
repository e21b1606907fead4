"""The launch file: its logic unit-tested (launch_support, rviz_config) and the file itself checked
statically everywhere. Run through launch_ros's own Python API: test/process/tools/test_launch_process.py.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from sam2_ros.tools import launch_support, rviz_config
from sam2_ros.tools.launch_support import (
    file_parameters,
    image_topics_for,
    node_namespace,
    node_parameters,
    overrides,
    parse_image_topics,
    resolve_topic,
)

REPO = Path(__file__).resolve().parents[3]
LAUNCH_FILE = REPO / "launch" / "sam2_ros.launch.py"
PARAMS_FILE = REPO / "config" / "sam2_ros.yaml"
RVIZ_TEMPLATE = REPO / "rviz" / "sam2_ros.rviz"
EMPTY = {name: "" for name in launch_support.OVERRIDE_ARGUMENTS}


# ---------------------------------------------------------------- overrides: only what is given


def test_no_override_when_every_argument_is_empty():
    assert overrides(EMPTY) == {}
    assert overrides({}) == {}
    assert overrides({name: "  " for name in EMPTY}) == {}
    assert node_parameters("/p.yaml", EMPTY) == ["/p.yaml"]


def test_only_the_given_arguments_are_passed():
    given = {**EMPTY, "backend": "qnn", "namespace": "robot1", "rviz": "true"}
    assert overrides(given) == {"backend": "qnn"}
    assert node_parameters("/p.yaml", given) == ["/p.yaml", {"backend": "qnn"}]


def test_overrides_keep_their_declared_types():
    given = {"model_dir": "123", "backend": "aidlite", "aidlite_accelerator": "gpu",
             "openvino_device": "GPU", "openvino_precision": "mixed",
             "image_topics": "['/cam_left/image_raw', '/cam_right/image_raw']",
             "depth_topics": "[/cam_left/depth/image_raw, /cam_right/depth/image_raw]"}  # fmt: skip
    result = overrides(given)
    assert result == {
        "model_dir": "123",
        "backend": "aidlite",
        "aidlite_accelerator": "gpu",
        "openvino_device": "GPU",
        "openvino_precision": "mixed",
        "image_topics": ["/cam_left/image_raw", "/cam_right/image_raw"],
        "depth_topics": ["/cam_left/depth/image_raw", "/cam_right/depth/image_raw"],
    }
    assert type(result["model_dir"]) is str  # a numeric-looking directory stays a string
    assert all(type(t) is str for t in result["image_topics"])


def test_image_topics_argument_is_a_yaml_list():
    assert parse_image_topics("['/camera/image_raw']") == ["/camera/image_raw"]
    assert parse_image_topics("[a/image, ' b/image ']") == ["a/image", "b/image"]
    assert parse_image_topics("/camera/image_raw") == ["/camera/image_raw"]  # one bare name


@pytest.mark.parametrize("text", ["[]", "[1, 2]", "{a: b}", "['x', 'x']", "['']", "[[a]]"])
def test_bad_image_topics_argument_is_refused(text):
    with pytest.raises(ValueError, match="image_topics"):
        overrides({"image_topics": text})
    with pytest.raises(ValueError, match="depth_topics"):
        overrides({"depth_topics": text})


# ---------------------------------------------------------------- namespace and topics


@pytest.mark.parametrize(
    ("namespace", "base", "expected"),
    [("", None, "/"), ("robot1", None, "/robot1"), ("/robot1/", None, "/robot1"), ("a//b", None, "/a/b"),
     ("robot1", "fleet", "/fleet/robot1"), ("/robot1", "fleet", "/robot1"), ("", "/fleet", "/fleet")],
)  # fmt: skip
def test_node_namespace_as_launch_ros_forms_it(namespace, base, expected):
    assert node_namespace(namespace, base) == expected


def test_topics_resolve_against_the_namespace():
    assert resolve_topic("image", "/robot1") == "/robot1/image"
    assert resolve_topic("/camera/image_raw", "/robot1") == "/camera/image_raw"
    assert resolve_topic("~/reset", "/robot1") == "/robot1/sam2_ros/reset"
    assert resolve_topic("image", "") == "/image"
    assert resolve_topic("overlay", "/") == "/overlay"


def test_output_topics_follow_the_node_naming():
    # what test_node.py's test_two_cameras_share_one_model subscribes to, and the one-stream names
    two = ["left/image_raw", "right/image_raw"]
    assert launch_support.output_topic("/ns", two, "left/image_raw", "tracked_objects") == "/ns/left/tracked_objects"
    assert launch_support.output_topic("/ns", ["/camera/image_raw"], "/camera/image_raw", "mask") == "/ns/mask"


# ---------------------------------------------------------------- what the params file sets


def _write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_shipped_params_file_is_read_for_any_namespace():
    assert file_parameters(PARAMS_FILE, "/")["image_topics"] == ["image"]
    assert file_parameters(PARAMS_FILE, "/robot1")["image_topics"] == ["image"]


def test_params_file_node_keys_match_as_ros_matches_them(tmp_path):
    def params(key: Any) -> dict[str, Any]:
        return {"ros__parameters": {"image_topics": [key]}}

    path = _write(tmp_path / "p.yaml", {"/**": params("any"), "sam2_ros": params("root"),
                                        "/robot1/sam2_ros": params("robot1"), "/*/other": params("other")})  # fmt: skip
    assert file_parameters(path, "/")["image_topics"] == ["root"]  # `sam2_ros:` is /sam2_ros, after /**
    assert file_parameters(path, "/robot1")["image_topics"] == ["robot1"]
    assert file_parameters(path, "/robot2")["image_topics"] == ["any"]
    nested = _write(tmp_path / "n.yaml", {"robot1": {"sam2_ros": params("nested")}, "/*/sam2_ros": params("star")})
    assert file_parameters(nested, "/robot1")["image_topics"] == ["star"]  # the later matching section wins
    assert file_parameters(nested, "/a/b") == {}  # `*` is one namespace token


def test_image_topics_for_rviz_come_from_the_argument_then_the_params_file_then_the_default(tmp_path):
    path = _write(tmp_path / "p.yaml", {"/**": {"ros__parameters": {"image_topics": ["/a/image", "/b/image"]}}})
    assert image_topics_for("['/camera/image_raw']", path, "/robot1") == ["/camera/image_raw"]
    assert image_topics_for("", path, "/robot1") == ["/a/image", "/b/image"]
    other = _write(tmp_path / "o.yaml", {"/**": {"ros__parameters": {"backend": "qnn"}}})
    assert image_topics_for("", other, "/robot1") == ["image"]  # params.py's default


# ---------------------------------------------------------------- the generated RViz config


def _displays(config: dict[str, Any]) -> list[dict[str, Any]]:
    return config["Visualization Manager"]["Displays"]


def test_the_template_holds_one_display_set_on_relative_topics():
    displays = _displays(yaml.safe_load(RVIZ_TEMPLATE.read_text()))
    topics = {d["Topic"]["Value"]: d["Topic"]["Reliability Policy"] for d in displays}
    assert topics == {"image": "Best Effort", "overlay": "Reliable", "mask": "Reliable", "markers": "Reliable"}


def test_one_stream_in_a_namespace_shows_the_node_topics(tmp_path):
    path = rviz_config.write_config(RVIZ_TEMPLATE, ["/camera/image_raw"], "/robot1", tmp_path)
    displays = _displays(yaml.safe_load(path.read_text()))
    assert [d["Topic"]["Value"] for d in displays] == [
        "/camera/image_raw",
        "/robot1/overlay",
        "/robot1/mask",
        "/robot1/markers",
    ]
    template = _displays(yaml.safe_load(RVIZ_TEMPLATE.read_text()))
    assert [d["Name"] for d in displays] == [d["Name"] for d in template]


def test_two_streams_get_two_display_sets_on_the_resolved_topics(tmp_path):
    path = rviz_config.write_config(RVIZ_TEMPLATE, ["/cam_left/image_raw", "front/image"], "/robot1", tmp_path)
    assert path.parent == tmp_path
    config = yaml.safe_load(path.read_text())
    displays = _displays(config)
    assert [(d["Topic"]["Value"], d["Topic"]["Reliability Policy"]) for d in displays] == [
        ("/cam_left/image_raw", "Best Effort"),
        ("/robot1/cam_left/overlay", "Reliable"),
        ("/robot1/cam_left/mask", "Reliable"),
        ("/robot1/cam_left/markers", "Reliable"),
        ("/robot1/front/image", "Best Effort"),
        ("/robot1/front/overlay", "Reliable"),
        ("/robot1/front/mask", "Reliable"),
        ("/robot1/front/markers", "Reliable"),
    ]
    assert len({d["Name"] for d in displays}) == 8 and displays[4]["Name"].endswith("[front]")
    # the template's structure: the same keys everywhere, each display shaped as its template display
    template = yaml.safe_load(RVIZ_TEMPLATE.read_text())
    assert config.keys() == template.keys()
    assert config["Visualization Manager"].keys() == template["Visualization Manager"].keys()
    shapes = [(d.keys(), d["Topic"].keys()) for d in _displays(template)]
    assert [(d.keys(), d["Topic"].keys()) for d in displays] == shapes * 2
    assert {k: v for k, v in config.items() if k != "Visualization Manager"} == {
        k: v for k, v in template.items() if k != "Visualization Manager"
    }


def test_displays_not_in_the_template_set_are_kept(tmp_path):
    template = yaml.safe_load(RVIZ_TEMPLATE.read_text())
    grid = {"Class": "rviz_default_plugins/Grid", "Enabled": True, "Name": "Grid"}
    _displays(template).insert(0, grid)
    config = rviz_config.build_config(template, rviz_config.stream_topics(["a/image", "b/image"], "/"))
    assert _displays(config)[0] == grid and len(_displays(config)) == 9
    assert [d["Topic"]["Value"] for d in _displays(config)[1:5]] == ["/a/image", "/a/overlay", "/a/mask", "/a/markers"]


# ---------------------------------------------------------------- rviz:=true needs rviz2, checked first


def _ament_prefix_with(root: Path, package: str, executable: str | None) -> Path:
    """An ament prefix holding ``package`` (and ``lib/<package>/<executable>``, executable, if given)."""
    marker = root / "share" / "ament_index" / "resource_index" / "packages" / package
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    if executable is not None:
        path = root / "lib" / package / executable
        path.parent.mkdir(parents=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    return root


def test_rviz_without_rviz2_is_refused_in_one_line_that_says_what_to_do(tmp_path, monkeypatch):
    elsewhere = _ament_prefix_with(tmp_path / "other", "sam2_ros", None)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(elsewhere))
    with pytest.raises(launch_support.MissingExecutableError) as error:
        launch_support.require_executable("rviz2", "rviz2", "rviz:=true")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("rviz:=true needs rviz2, but package 'rviz2' is not installed")
    assert str(elsewhere) in message and message.endswith("or launch without rviz:=true; nothing was started")
    monkeypatch.delenv("AMENT_PREFIX_PATH")  # no ament prefix at all: the same error, not ament's EnvironmentError
    with pytest.raises(launch_support.MissingExecutableError, match="package 'rviz2' is not installed"):
        launch_support.require_executable("rviz2", "rviz2", "rviz:=true")


def test_rviz2_without_its_executable_is_refused_too(tmp_path, monkeypatch):
    prefix = _ament_prefix_with(tmp_path, "rviz2", None)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    with pytest.raises(launch_support.MissingExecutableError, match="has no executable .*lib/rviz2/rviz2"):
        launch_support.require_executable("rviz2", "rviz2", "rviz:=true")


def test_an_installed_rviz2_is_found_where_launch_ros_looks(tmp_path, monkeypatch):
    first = _ament_prefix_with(tmp_path / "ws", "sam2_ros", None)
    prefix = _ament_prefix_with(tmp_path / "ros", "rviz2", "rviz2")
    monkeypatch.setenv("AMENT_PREFIX_PATH", os.pathsep.join([str(first), str(prefix)]))
    assert launch_support.require_executable("rviz2", "rviz2", "rviz:=true") == prefix / "lib" / "rviz2" / "rviz2"


# ---------------------------------------------------------------- the launch file, statically


def _tree() -> ast.Module:
    return ast.parse(LAUNCH_FILE.read_text())


def _calls(name: str) -> list[ast.Call]:
    def called(node: ast.Call) -> str:
        return getattr(node.func, "id", None) or getattr(node.func, "attr", "")

    return [n for n in ast.walk(_tree()) if isinstance(n, ast.Call) and called(n) == name]


def _declared() -> dict[str, ast.expr | None]:
    """Declared argument -> its default_value expression."""
    result = {}
    for call in _calls("DeclareLaunchArgument"):
        default = next((k.value for k in call.keywords if k.arg == "default_value"), None)
        result[call.args[0].value] = default
    return result


def test_launch_file_declares_the_documented_arguments():
    assert set(_declared()) == {"model_dir", "backend", "aidlite_accelerator", "image_topics", "depth_topics",
                                "openvino_device", "openvino_precision",
                                "namespace", "params_file", "rviz", "rviz_config"}  # fmt: skip


def test_override_arguments_default_to_empty():
    declared = _declared()
    for name in (*launch_support.OVERRIDE_ARGUMENTS, "rviz_config", "namespace"):
        default = declared[name]
        assert isinstance(default, ast.Constant) and default.value == "", name


def test_node_parameters_are_built_only_through_launch_support():
    source = LAUNCH_FILE.read_text()
    assert "ParameterValue" not in source  # no typed default values of its own
    (node,) = _calls("LifecycleNode")
    (parameters,) = [k.value for k in node.keywords if k.arg == "parameters"]
    assert ast.unparse(parameters.func) == "launch_support.node_parameters"
    # the overrides come from every OVERRIDE_ARGUMENTS argument, as given
    (given,) = [n for n in ast.walk(_tree()) if isinstance(n, ast.DictComp)]
    assert ast.unparse(given.generators[0].iter) == "launch_support.OVERRIDE_ARGUMENTS"
    assert not any(isinstance(n, ast.Dict) and n.keys for n in ast.walk(_tree()))  # no parameter dict literal


def test_rviz2_is_looked_up_before_the_node_action_is_made():
    """launch starts the returned actions in order: an RViz action that fails after the node's
    left the node running (issue 22, defect 5). The lookup comes first, under the rviz condition."""
    (setup,) = [n for n in _tree().body if isinstance(n, ast.FunctionDef) and n.name == "_launch_setup"]

    def calls(node: ast.AST, name: str) -> list[ast.Call]:
        return [c for c in ast.walk(node) if isinstance(c, ast.Call) and ast.unparse(c.func).endswith(name)]

    (lookup,) = calls(setup, "launch_support.require_executable")
    assert [ast.literal_eval(a) for a in lookup.args] == ["rviz2", "rviz2", "rviz:=true"]
    (node,) = calls(setup, "LifecycleNode")
    (guard,) = [s for s in setup.body if isinstance(s, ast.If) and calls(s, "require_executable")]
    assert ast.unparse(guard.test) == "with_rviz"
    assert guard.lineno < node.lineno


def test_launch_file_uses_the_shipped_params_file_and_rviz_template():
    source = LAUNCH_FILE.read_text()
    assert '"config", "sam2_ros.yaml"' in source and '"rviz", "sam2_ros.rviz"' in source
    assert "FindPackageShare" in source and "rviz_config.write_config" in source


def test_launch_file_runs_no_code_from_strings():
    source = LAUNCH_FILE.read_text()
    for forbidden in ("eval(", "exec(", "subprocess", "os.system"):
        assert forbidden not in source
