"""Shared fixtures: seeded random SAM 2 checkpoints, exported through the real export CLI.

Models are built once per test session (``sam2.1_hiera_t`` at 256 px; 1024 px only for the
test that needs it) in a pytest temporary directory.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import sam2_ros.evaluation.reference  # noqa: F401  imported before torch: it silences Meta's progress bars

CONFIG = "sam2.1_hiera_t"
SMALL = 256


SYNTHETIC_CONFIG = str(Path(__file__).resolve().parents[1] / "sam2_ros" / "train" / "sam2_synthetic_128.yaml")


@dataclass(frozen=True)
class ExportedModel:
    """A checkpoint and the model directory exported from it."""

    checkpoint: Path
    model_dir: Path
    image_size: int
    config: str = CONFIG


def _export(tmp_root: Path, name: str, image_size: int, **checkpoint_kwargs) -> ExportedModel:
    import torch

    from sam2_ros.evaluation.reference import make_random_checkpoint
    from sam2_ros.export.cli import main as export_main

    torch.set_num_threads(2)
    ckpt = make_random_checkpoint(tmp_root / f"{name}.pt", CONFIG, image_size=image_size, **checkpoint_kwargs)
    out = tmp_root / name
    code = export_main(
        ["--checkpoint", str(ckpt), "--config", CONFIG, "--image-size", str(image_size), "--output", str(out), "-q"]
    )
    assert code == 0, "export failed"
    return ExportedModel(ckpt, out, image_size)


@pytest.fixture(scope="session")
def model_small(tmp_path_factory) -> ExportedModel:
    """sam2.1_hiera_t at 256 px, seeded random weights, memory-path parameters enlarged."""
    return _export(tmp_path_factory.mktemp("models"), "hiera_t_256", SMALL, seed=0)


@pytest.fixture(scope="session")
def model_small_occluded(tmp_path_factory) -> ExportedModel:
    """As ``model_small`` but the object-score head is shifted negative: objects read as occluded."""
    return _export(tmp_path_factory.mktemp("models"), "hiera_t_256_occluded", SMALL, seed=0, object_score_offset=-6.0)


@pytest.fixture(scope="session")
def model_qnn(tmp_path_factory) -> ExportedModel:
    """The small 128 px synthetic-model architecture, seeded random weights (memory path enlarged),
    exported with ``--target qnn``: static ONNX plus QNN context binaries compiled by onnxruntime-qnn."""
    import torch

    from sam2_ros.evaluation.reference import make_random_checkpoint
    from sam2_ros.export.cli import main as export_main

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("models")
    ckpt = make_random_checkpoint(root / "synthetic128.pt", SYNTHETIC_CONFIG, seed=0)
    out = root / "synthetic128_qnn"
    code = export_main(
        ["--checkpoint", str(ckpt), "--config", SYNTHETIC_CONFIG, "--target", "qnn", "--output", str(out), "-q"]
    )
    assert code == 0, "export --target qnn failed"
    return ExportedModel(ckpt, out, 128, SYNTHETIC_CONFIG)


@pytest.fixture(scope="session")
def model_1024(tmp_path_factory) -> ExportedModel:
    """sam2.1_hiera_t at its native 1024 px."""
    return _export(tmp_path_factory.mktemp("models"), "hiera_t_1024", 1024, seed=3)


@pytest.fixture(scope="session")
def shipped_dir():
    """The shipped model's ONNX directory (exported from the checkpoint into the user cache once, if needed)."""
    from sam2_ros.tools import shipped

    return shipped.exported_dir()


# Tests that need a model exported with torch (the export environment, tens of seconds each
# session) are `slow`; so are modules that mark themselves (separate processes, colcon builds).
# `colcon test` runs the rest (`-m "not slow"`); the README's test command runs everything.
EXPORTING_FIXTURES = {
    "model_small",
    "model_small_occluded",
    "model_qnn",
    "model_1024",
    "shipped_dir",
    "openvino_export",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if EXPORTING_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("simulator"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def aidlite(monkeypatch):
    """Install the aidlite TEST DOUBLE (test/aidlite_double.py) as the ``aidlite`` module."""
    import aidlite_double

    aidlite_double.calls.clear()
    aidlite_double.sources.clear()
    monkeypatch.setitem(sys.modules, "aidlite", aidlite_double)
    return aidlite_double


@pytest.fixture(scope="module")
def client():
    """A ROS 2 client in the test process (ros_harness.Client), on the harness's private domain."""
    from ros_harness import ros_client

    with ros_client() as ros:
        yield ros


@pytest.fixture(scope="module")
def bag_paths(tmp_path_factory) -> dict[str, Path]:
    """Every variant of the same recording (test/bag_harness.py): folders with and without metadata.yaml, and
    single files."""
    from bag_harness import write_bag

    root = tmp_path_factory.mktemp("bags")
    paths = {}
    for storage in ("db3", "mcap"):
        paths[storage] = write_bag(root / storage, storage)
        paths[f"{storage}-no-metadata"] = write_bag(root / f"{storage}_bare", storage, metadata=False)
        paths[f"{storage}-file"] = paths[f"{storage}-no-metadata"] / f"{storage}_bare.{storage}"
        assert paths[f"{storage}-file"].is_file()
    return paths
