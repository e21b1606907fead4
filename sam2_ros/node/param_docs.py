"""The parameter table (params.py) written out for people: docs/NODE.md's table and config/sam2_ros.yaml.

    python -m sam2_ros.node.param_docs           # rewrite both in the checkout (run from its root)
    python -m sam2_ros.node.param_docs --check   # exit 1 naming the files that differ from the table

test/unit/node/test_params.py fails when either file drifts from the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from rcl_interfaces.msg import ParameterType

from sam2_ros.node.params import PARAMETERS, ParameterSpec

DOC = Path("docs") / "NODE.md"
CONFIG = Path("config") / "sam2_ros.yaml"
TABLE_START = "<!-- parameters: written by python -m sam2_ros.node.param_docs; edit sam2_ros/node/params.py -->"
TABLE_END = "<!-- end of parameters -->"
TYPE_NAMES = {
    ParameterType.PARAMETER_STRING: "string",
    ParameterType.PARAMETER_INTEGER: "integer",
    ParameterType.PARAMETER_DOUBLE: "double",
    ParameterType.PARAMETER_BOOL: "bool",
    ParameterType.PARAMETER_STRING_ARRAY: "string[]",
}
YAML_HEADER = """\
# Parameters of sam2_ros_node: every parameter at its default, with its description. The default
# `params_file` of launch/sam2_ros.launch.py, also used by the tests.
#
# A full copy for you to edit: copy it, change what your robot needs and launch with
# `params_file:=/path/to/copy.yaml`. Every parameter is here (rather than only a few) so the copy
# shows all there is to set, what each does and its allowed values, without opening the source.
# A copy keeps the values it was made with: after an upgrade, compare it with this file.
#
# Written from sam2_ros/node/params.py (the one place defaults live) by
# `python -m sam2_ros.node.param_docs`; test/unit/node/test_params.py keeps it equal to that table. Lists
# that are empty by default are commented out: the ROS parameters-file parser gives `[]` no type.
#
# The launch arguments model_dir, backend, aidlite_accelerator, openvino_device,
# openvino_precision, image_topics and depth_topics override only what they name, and only when
# given; left out, the values here stand. `/**:` applies to the node in any namespace;
# `sam2_ros:` only in the root namespace, `/robot1/sam2_ros:` only in /robot1.
# [configure]: read when the node configures; [run time]: may be set while it runs.
"""


def yaml_value(value: Any) -> str:
    """``value`` as a YAML flow scalar or list that parses back to the same value and type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # a float keeps its point: 0.0, not 0 (an integer to ROS)
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    text = str(value)
    return text if text and yaml.safe_load(text) == text else json.dumps(text)


def allowed(spec: ParameterSpec) -> str:
    """The values a parameter may take, in words ("" when any of its type)."""
    if spec.choices:
        return spec.choices_text()
    if spec.range is not None:
        low, high = spec.range
        return f"{yaml_value(low)}..{yaml_value(high)}"
    return ""


def when(spec: ParameterSpec) -> str:
    """When the node reads the parameter."""
    return "configure" if spec.read_only else "run time"


def markdown_table(specs: Sequence[ParameterSpec] = PARAMETERS) -> str:
    """docs/NODE.md's parameter table (between its markers)."""
    rows = ["| name | type | default | allowed | read at | |", "|---|---|---|---|---|---|"]
    for spec in specs:
        cells = (
            f"`{spec.name}`",
            TYPE_NAMES[spec.type],
            f"`{yaml_value(spec.default)}`",
            allowed(spec),
            when(spec),
            spec.description.replace("|", "\\|"),
        )
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def yaml_text(specs: Sequence[ParameterSpec] = PARAMETERS) -> str:
    """config/sam2_ros.yaml: every parameter at its default, its description as a comment."""
    lines = [YAML_HEADER.rstrip("\n"), "/**:", "  ros__parameters:"]
    for spec in specs:
        limits = f"; {allowed(spec)}" if allowed(spec) else ""
        comment = f"{spec.description} [{when(spec)}{limits}]"
        lines.append("")
        lines += textwrap.wrap(comment, 100, initial_indent="    # ", subsequent_indent="    # ")
        unset = "# " if spec.default == [] else ""
        lines.append(f"    {unset}{spec.name}: {yaml_value(spec.default)}")
    return "\n".join(lines) + "\n"


def with_table(doc: str, table: str) -> str:
    """``doc`` with the text between its parameter-table markers replaced by ``table``."""
    head, start, rest = doc.partition(TABLE_START + "\n")
    _, end, tail = rest.partition(TABLE_END)
    if not (start and end):
        raise ValueError(f"{DOC} lacks the markers {TABLE_START!r} ... {TABLE_END!r}")
    return head + start + table + end + tail


def written(root: Path) -> dict[Path, str]:
    """What docs/NODE.md and config/sam2_ros.yaml under ``root`` should hold."""
    return {
        root / DOC: with_table((root / DOC).read_text(), markdown_table()),
        root / CONFIG: yaml_text(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the checkout (default: here)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file differs")
    args = parser.parse_args(argv)
    stale = {path: text for path, text in written(args.root).items() if path.read_text() != text}
    for path, text in stale.items():
        if args.check:
            print(f"{path} differs from sam2_ros/node/params.py: run python -m sam2_ros.node.param_docs")
        else:
            path.write_text(text)
            print(f"wrote {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
