"""The tests see the engine through its public API only: no test reads an engine private attribute."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PRIVATE = re.compile(r"_[a-z]\w*")
# the hooks the tracker once kept for white-box tests; they must not come back
FORMER_HOOKS = {"_tracks", "_host"}


def private_names(folder: Path) -> set[str]:
    """Private attributes set on ``self``/``cls`` and private methods of the classes under ``folder``."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                names.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                names.update(f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return {name for name in names if PRIVATE.fullmatch(name)}


def test_no_test_reads_an_engine_private_attribute():
    engine = private_names(ROOT / "sam2_ros" / "engine")
    assert {"_history", "_runner", "_propagator"} <= engine  # the scan sees the tracker's state
    # names the tests' own helper classes define for themselves are theirs to use
    watched = (engine | FORMER_HOOKS) - private_names(ROOT / "test")
    pattern = re.compile(r"\.(" + "|".join(sorted(watched)) + r")\b")
    reads = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "test").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not reads, "tests read engine internals; use Sam2Tracker.object_state, ModelRunner.load, ...:\n" + "\n".join(
        reads
    )
