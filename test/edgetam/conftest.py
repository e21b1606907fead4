"""Fixtures of the EdgeTAM suite, which runs in the EdgeTAM environment (``.venv-edgetam``).

``scripts/run_tests.sh`` runs it with ``--confcutdir=test/edgetam``: the main suite's conftest
(ROS, Meta's sam2) is not loaded here; the shared parity harness is imported from ``test/``.
Models are seeded random EdgeTAM checkpoints exported through the real export CLI, once per session.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # parity_harness

import sam2_ros.evaluation.reference  # noqa: E402,F401  before torch: it silences Meta's progress bars

CONFIG = "edgetam"
SIZE = 512


@dataclass(frozen=True)
class ExportedEdgeTam:
    """A seeded EdgeTAM checkpoint and the model directory exported from it."""

    checkpoint: Path
    model_dir: Path
    image_size: int
    config: str = CONFIG


def export_edgetam(root: Path, name: str, image_size: int = SIZE, extra_args: tuple[str, ...] = (), **kwargs):
    """Make a seeded checkpoint (``kwargs``: make_random_edgetam_checkpoint's) and export it."""
    import torch

    from sam2_ros.evaluation.edgetam_reference import make_random_edgetam_checkpoint
    from sam2_ros.export.cli import main as export_main

    torch.set_num_threads(2)
    ckpt = make_random_edgetam_checkpoint(root / f"{name}.pt", image_size=image_size, **kwargs)
    out = root / name
    args = ["--checkpoint", str(ckpt), "--config", CONFIG, "--image-size", str(image_size), "--output", str(out)]
    assert export_main([*args, *extra_args, "-q"]) == 0, "export failed"
    return ExportedEdgeTam(ckpt, out, image_size)


# EdgeTAM's own random initialisation puts every object score just below zero (about -0.1), so
# every mask would be NO_OBJ_SCORE; +1 makes objects visible, as a trained model sees them.
VISIBLE = 1.0


@pytest.fixture(scope="session")
def edgetam_model(tmp_path_factory) -> ExportedEdgeTam:
    """EdgeTAM at 512 px, seed 0, objects visible."""
    return export_edgetam(tmp_path_factory.mktemp("edgetam"), "edgetam_512", seed=0, object_score_offset=VISIBLE)


@pytest.fixture(scope="session")
def edgetam_occluded(tmp_path_factory) -> ExportedEdgeTam:
    """EdgeTAM at 512 px with the object score pushed negative (the occluded path)."""
    return export_edgetam(tmp_path_factory.mktemp("edgetam"), "edgetam_512_occluded", seed=0, object_score_offset=-20.0)
