"""The layers' import graph: each package imports only the layers below it (docs/ARCHITECTURE.md).

Read from the source with ``ast`` (function-level imports included), so a lazy import that
breaks the layering is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sam2_ros"

# package -> the sam2_ros packages it may import (itself always)
ALLOWED = {
    "clips": set(),
    "engine": set(),
    "resources": set(),
    "node": {"engine", "msg", "resources"},
    "export": {"clips", "engine"},  # calibration on the synthetic clips
    "evaluation": {"clips", "engine", "export"},  # Meta's predictor built from export's config loader
    "train": {"clips", "engine", "evaluation", "export", "resources", "tools"},  # the card packages a run as the shipped model
    "tools": {"clips", "engine", "evaluation", "export", "node", "msg", "resources"},
    "bench": {"clips", "engine", "evaluation", "export", "node", "msg", "resources", "tools"},
}


def sam2_ros_imports(path: Path) -> set[str]:
    """The sam2_ros subpackages a module imports (``sam2_ros.engine.x`` -> ``engine``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "sam2_ros" else [f"sam2_ros.{a.name}" for a in node.names]
        found |= {name.split(".")[1] for name in names if name.startswith("sam2_ros.")}
    return found


def test_every_package_is_in_the_layer_table():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(ALLOWED), "add the new package to ALLOWED and to docs/ARCHITECTURE.md"
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert not loose, f"modules belong in a package, not loose in sam2_ros/: {loose}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_lower_layers(package):
    wrong = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        bad = sam2_ros_imports(path) - ALLOWED[package] - {package, "__version__"}
        if bad:
            wrong[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert not wrong, f"{package} must not import these: {wrong}"


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    source = (
        "def f():\n"
        "    from sam2_ros.export.qnn import compile_model_dir\n"
        "    import sam2_ros.node.node\n"
    )
    module.write_text(source)
    assert sam2_ros_imports(module) == {"export", "node"}
