"""The layers' import graph against docs/ARCHITECTURE.md's tables, entry for entry.

The layer table and the tools' rooms table are read from the doc, so the doc and this test cannot
disagree. Each table runs from the ground floor up: a row may import only rows above it, so the
graph is layered and acyclic. The code's imports are read from the source with ``ast``
(function-level imports included), so a lazy import that breaks the layering is caught too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "sam2_ros"
TOOLS = PACKAGE / "tools"
DOC = ROOT / "docs" / "ARCHITECTURE.md"
LAYER_HEADER = "| layer | folder | owns | imports |"
ROOM_HEADER = "| room | folder | owns | imports |"
TOP_ROOM = "top"  # the modules directly in sam2_ros/tools/


def read_table(text: str, header: str) -> dict[str, tuple[str, set[str]]]:
    """A markdown table's rows in order: name -> (folder, the names its ``imports`` cell lists).

    The ``imports`` cell lists names in backticks, or says ``nothing``."""
    lines = text.splitlines()
    assert header in lines, f"docs/ARCHITECTURE.md has no table headed {header!r}"
    rows: dict[str, tuple[str, set[str]]] = {}
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        name, folder, _owns, imports = (cell.strip() for cell in line.strip("|").split("|"))
        names = set(re.findall(r"`([a-z_]+)`", imports))
        assert names or imports == "nothing", f"{name}: list its imports in backticks, or write nothing: {imports!r}"
        assert name not in rows, f"docs/ARCHITECTURE.md lists {name} twice"
        rows[name] = (folder.strip("`"), names)
    return rows


def layering_errors(imports: dict[str, set[str]]) -> list[str]:
    """Where rows in ground-floor-up order break "a layer imports only the layers below it"."""
    errors, below = [], set()
    for name, wanted in imports.items():
        errors += [f"{name} imports {dep}, which is not in a row above it" for dep in sorted(wanted - below)]
        below.add(name)
    return errors


def sam2_ros_modules(path: Path) -> set[str]:
    """The dotted sam2_ros names a module imports (``from a.b import c`` gives ``a.b.c``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("sam2_ros.")}


def sam2_ros_imports(path: Path) -> set[str]:
    """The sam2_ros subpackages a module imports (``sam2_ros.engine.x`` -> ``engine``)."""
    return {name.split(".")[1] for name in sam2_ros_modules(path)}


def tools_room(dotted: str) -> str:
    """The tools room a dotted name inside sam2_ros.tools belongs to."""
    part = dotted.split(".")[2]
    return part if (TOOLS / part / "__init__.py").is_file() else TOP_ROOM


LAYERS = read_table(DOC.read_text(), LAYER_HEADER)
ROOMS = read_table(DOC.read_text(), ROOM_HEADER)


def packages_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}


def compare(name: str, declared: set[str], made: dict[str, set[str]]) -> None:
    """Fail unless the imports a row declares are exactly those its code makes (dep -> files)."""
    undeclared = {dep: sorted(files) for dep, files in made.items() if dep not in declared}
    assert not undeclared, f"{name} imports what its row in docs/ARCHITECTURE.md does not list: {undeclared}"
    unused = sorted(declared - set(made))
    assert not unused, f"docs/ARCHITECTURE.md says {name} imports {unused}, but nothing in it does: drop them"


def test_the_layer_table_and_the_tree_list_the_same_packages():
    source = {name for name, (folder, _) in LAYERS.items() if folder.startswith("sam2_ros/")}
    for name in source:
        assert LAYERS[name][0] == f"sam2_ros/{name}/", f"{name}'s folder must be sam2_ros/{name}/"
    packages = packages_in(PACKAGE)
    assert not source - packages, f"docs/ARCHITECTURE.md lists {sorted(source - packages)}, which sam2_ros/ lacks"
    assert not packages - source, f"add {sorted(packages - source)} to docs/ARCHITECTURE.md's layer table"
    for name in set(LAYERS) - source:  # generated (msg): a source folder at the root, no Python to read
        assert (ROOT / LAYERS[name][0]).is_dir(), f"docs/ARCHITECTURE.md: {name}'s folder {LAYERS[name][0]} is missing"
        assert not LAYERS[name][1], f"{name} is generated: it imports nothing of sam2_ros"
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert not loose, f"modules belong in a package, not loose in sam2_ros/: {loose}"


def test_the_rooms_table_and_tools_list_the_same_rooms():
    expected = {TOP_ROOM: "sam2_ros/tools/", **{name: f"sam2_ros/tools/{name}/" for name in packages_in(TOOLS)}}
    assert {name: folder for name, (folder, _) in ROOMS.items()} == expected, (
        "docs/ARCHITECTURE.md's tools' rooms must list sam2_ros/tools/ and each of its subpackages"
    )


@pytest.mark.parametrize("table", [LAYERS, ROOMS], ids=["layers", "tools rooms"])
def test_each_table_is_layered(table):
    errors = layering_errors({name: wanted for name, (_, wanted) in table.items()})
    assert not errors, f"docs/ARCHITECTURE.md (rows run from the ground floor up): {errors}"


@pytest.mark.parametrize("package", sorted(packages_in(PACKAGE)))
def test_package_imports_what_its_row_lists(package):
    assert package in LAYERS, f"add {package} to docs/ARCHITECTURE.md's layer table"
    made: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for dep in sam2_ros_imports(path) - {package, "__version__"}:
            made.setdefault(dep, set()).add(str(path.relative_to(PACKAGE)))
    compare(package, LAYERS[package][1], made)


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_tools_room_imports_what_its_row_lists(room):
    assert room == TOP_ROOM or (TOOLS / room / "__init__.py").is_file(), f"sam2_ros/tools/ has no room {room}"
    paths = sorted(TOOLS.glob("*.py")) if room == TOP_ROOM else sorted((TOOLS / room).rglob("*.py"))
    made: dict[str, set[str]] = {}
    for path in paths:
        for dotted in sam2_ros_modules(path):
            if dotted.startswith("sam2_ros.tools.") and tools_room(dotted) != room:
                made.setdefault(tools_room(dotted), set()).add(str(path.relative_to(PACKAGE)))
    compare(room, ROOMS[room][1], made)


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    source = (
        "def f():\n"
        "    from sam2_ros.export.qnn import compile_model_dir\n"
        "    import sam2_ros.node.node\n"
    )
    module.write_text(source)
    assert sam2_ros_imports(module) == {"export", "node"}
    with pytest.raises(AssertionError, match=r"does not list: \{'node'"):
        compare("export", {"engine", "export"}, {"export": {"m.py"}, "node": {"m.py"}})
    with pytest.raises(AssertionError, match=r"says engine imports \['clips'\]"):
        compare("engine", {"clips"}, {})


def test_the_check_sees_an_upward_arrow_and_a_cycle():
    assert layering_errors({"clips": set(), "engine": {"clips"}, "node": {"engine"}}) == []
    cycle = {"engine": {"node"}, "node": {"engine"}}
    assert layering_errors(cycle) == ["engine imports node, which is not in a row above it"]
    assert layering_errors({"a": set(), "b": {"c"}, "c": {"a"}}) == ["b imports c, which is not in a row above it"]


def test_the_table_reader_reads_names_in_order_and_refuses_prose():
    rows = ["| a | `f/` | o | nothing |", "| b | `g/` | o | `a` |"]
    text = "\n".join(["x", ROOM_HEADER, "|---|---|---|---|", *rows, ""])
    assert list(read_table(text, ROOM_HEADER).items()) == [("a", ("f/", set())), ("b", ("g/", {"a"}))]
    with pytest.raises(AssertionError, match="backticks"):
        read_table(text.replace("`a` |", "all |"), ROOM_HEADER)
