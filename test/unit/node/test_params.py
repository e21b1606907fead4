"""The parameter table (sam2_ros/node/params.py) and what is written from it: choices, defaults,
config/sam2_ros.yaml and docs/NODE.md's table (sam2_ros/node/param_docs.py). No ROS graph."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from sam2_ros.node import param_docs
from sam2_ros.node.detections import DetectionRules
from sam2_ros.node.params import PARAMETERS, SPECS, default, read_config, read_rules

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "config" / "sam2_ros.yaml"
DOC = REPO / "docs" / "NODE.md"
CHOICE_PARAMETERS = ("aidlite_accelerator", "openvino_precision", "image_transport", "input_reliability",
                     "depth_reliability")  # fmt: skip
COMMENTED = re.compile(r"^    # (\w+): (.*)$")  # a parameter line commented out


def _config(tmp_path, **values):
    params = {name: spec.default for name, spec in SPECS.items()} | {"model_dir": str(tmp_path)} | values
    return read_config(params.__getitem__)


# ---------------------------------------------------------------------------- choices
def test_the_five_choice_lists_are_in_the_table():
    assert {s.name for s in PARAMETERS if s.choices} == set(CHOICE_PARAMETERS)
    assert SPECS["aidlite_accelerator"].choices == ("dsp", "cpu", "gpu")
    assert SPECS["openvino_precision"].choices == ("", "f32", "bf16", "mixed")
    assert SPECS["image_transport"].choices == ("raw", "compressed")
    assert SPECS["input_reliability"].choices == SPECS["depth_reliability"].choices == ("best_effort", "reliable")
    for name in CHOICE_PARAMETERS:
        spec = SPECS[name]
        assert isinstance(spec.default, str) and spec.choose(spec.default) == spec.default, name
        assert spec.descriptor().additional_constraints == f"one of: {spec.choices_text()}", name
    assert SPECS["backend"].descriptor().additional_constraints == ""


@pytest.mark.parametrize(
    ("name", "backend", "bad", "message"),
    [
        ("aidlite_accelerator", "aidlite", "npu", "aidlite_accelerator must be dsp, cpu or gpu, got 'npu'"),
        (
            "openvino_precision",
            "openvino",
            "fp16",
            "openvino_precision must be f32, bf16 or mixed, or empty, got 'fp16'",
        ),
        ("image_transport", "onnxruntime", "theora", "image_transport must be raw or compressed, got 'theora'"),
        ("input_reliability", "onnxruntime", "fast", "input_reliability must be best_effort or reliable, got 'fast'"),
        ("depth_reliability", "onnxruntime", "", "depth_reliability must be best_effort or reliable, got ''"),
    ],
)
def test_a_bad_choice_fails_at_configure_naming_parameter_value_and_choices(tmp_path, name, backend, bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _config(tmp_path, backend=backend, **{name: bad})


def test_choices_are_matched_case_insensitively_and_checked_only_where_used(tmp_path):
    config = _config(
        tmp_path, image_transport=" Compressed ", input_reliability="RELIABLE", depth_reliability="reliable"
    )
    assert (config.image_transport, config.input_reliability, config.depth_reliability) == (
        "compressed", "reliable", "reliable")  # fmt: skip
    assert _config(tmp_path, backend="aidlite", aidlite_accelerator="GPU").backend_options == {"accelerator": "gpu"}
    assert _config(tmp_path, backend="aidlite").backend_options == {"accelerator": "dsp"}
    # the backend options of another backend are not read, so not checked
    assert _config(tmp_path, aidlite_accelerator="npu", openvino_precision="fp16").backend_options == {}


# ---------------------------------------------------------------------------- defaults
def test_the_detection_rules_defaults_are_the_tables():
    """DetectionRules (detections.py) keeps defaults of its own for its unit tests: they must be the table's."""
    assert read_rules(default) == DetectionRules()


@pytest.mark.parametrize("spec", PARAMETERS, ids=lambda s: s.name)
def test_every_default_is_written_as_yaml_of_its_own_type(spec):
    value = yaml.safe_load(param_docs.yaml_value(spec.default))
    assert value == spec.default and type(value) is type(spec.default)


# ---------------------------------------------------------------------------- config/sam2_ros.yaml
def test_the_shipped_params_file_holds_every_default():
    """Every parameter is set at its default, except empty lists: commented out, as ROS cannot type ``[]``."""
    active = yaml.safe_load(CONFIG.read_text())["/**"]["ros__parameters"]
    commented = {}
    for line in CONFIG.read_text().splitlines():
        match = COMMENTED.match(line)
        if match and match[1] in SPECS:
            commented[match[1]] = yaml.safe_load(match[2])
    assert not set(active) & set(commented)
    assert set(active) | set(commented) == set(SPECS), "a parameter is missing from config/sam2_ros.yaml, or extra"
    for name, value in active.items():
        assert value == SPECS[name].default and type(value) is type(SPECS[name].default), name
    assert commented == {s.name: [] for s in PARAMETERS if s.default == []}


def test_the_shipped_params_file_is_written_from_the_table():
    assert CONFIG.read_text() == param_docs.yaml_text(), "run python -m sam2_ros.node.param_docs"


def test_the_params_file_header_names_the_launch_override_arguments():
    from sam2_ros.tools.launch_support import OVERRIDE_ARGUMENTS

    header = " ".join(param_docs.YAML_HEADER.replace("#", " ").split())
    names = ", ".join(OVERRIDE_ARGUMENTS[:-1]) + f" and {OVERRIDE_ARGUMENTS[-1]}"
    assert f"The launch arguments {names} override only what they name" in header


# ---------------------------------------------------------------------------- docs/NODE.md
def _doc_rows(text: str) -> list[list[str]]:
    table = text.split(param_docs.TABLE_START + "\n")[1].split(param_docs.TABLE_END)[0]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in table.splitlines()[2:]]


def test_the_doc_table_lists_every_parameter_with_its_type_default_choices_and_description():
    rows = _doc_rows(DOC.read_text())
    assert [row[0] for row in rows] == [f"`{s.name}`" for s in PARAMETERS]
    for row, spec in zip(rows, PARAMETERS):
        assert row[1] == param_docs.TYPE_NAMES[spec.type], spec.name
        assert yaml.safe_load(row[2].strip("`")) == spec.default, spec.name
        assert row[3] == (spec.choices_text() if spec.choices else param_docs.allowed(spec)), spec.name
        assert row[4] == ("configure" if spec.read_only else "run time"), spec.name
        assert row[5] == spec.description.replace("|", "\\|"), spec.name
    assert DOC.read_text() == param_docs.with_table(DOC.read_text(), param_docs.markdown_table())


def test_one_command_rewrites_what_drifted_and_check_says_so(tmp_path, capsys):
    for path in (param_docs.DOC, param_docs.CONFIG):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, tmp_path / path)
    assert param_docs.main(["--root", str(tmp_path), "--check"]) == 0
    doc = tmp_path / param_docs.DOC
    doc.write_text(doc.read_text().replace("| `max_objects` | integer | `16` |", "| `max_objects` | integer | `8` |"))
    config = tmp_path / param_docs.CONFIG
    config.write_text(config.read_text().replace("max_objects: 16", "max_objects: 8"))
    assert param_docs.main(["--root", str(tmp_path), "--check"]) == 1
    assert str(doc) in capsys.readouterr().out
    assert param_docs.main(["--root", str(tmp_path)]) == 0
    assert doc.read_text() == (REPO / param_docs.DOC).read_text()
    assert config.read_text() == (REPO / param_docs.CONFIG).read_text()
    assert param_docs.main(["--root", str(tmp_path), "--check"]) == 0
