"""The benchmark's model-family axis: a seeded checkpoint and Meta's reference predictor per config.

In the main environment (Meta's ``sam2``) only SAM 2 configs exist. In the EdgeTAM environment
(``scripts/setup_edgetam_env.sh``) both do: EdgeTAM's official code ships SAM 2.1's configs and
SAM 2.1's model, and the reference predictor there is Meta's SAM 2.1 ``SAM2VideoPredictor`` for
both families (sam2_ros/evaluation/edgetam_reference.py), so one run times SAM 2.1-tiny, EdgeTAM
and the engine side by side.
"""

from __future__ import annotations

from pathlib import Path

from sam2_ros.evaluation.reference import build_official_predictor, make_random_checkpoint
from sam2_ros.export.builder import EDGETAM, edgetam_code_installed

# EdgeTAM's random initialisation puts every object score just below zero: +1 makes objects
# visible, as in the EdgeTAM tests (test/edgetam/conftest.py), so masks and memories carry content.
EDGETAM_VISIBLE_OFFSET = 1.0


def family_of(config: str) -> str:
    """``edgetam`` for the EdgeTAM config, ``sam2`` for the others."""
    return EDGETAM if Path(config).stem == EDGETAM else "sam2"


def make_checkpoint(path: Path, config: str, seed: int = 0, image_size: int | None = None) -> Path:
    """A seeded random checkpoint of ``config``'s family."""
    if family_of(config) == EDGETAM:
        from sam2_ros.evaluation.edgetam_reference import make_random_edgetam_checkpoint

        return make_random_edgetam_checkpoint(
            path, seed=seed, image_size=image_size, object_score_offset=EDGETAM_VISIBLE_OFFSET
        )
    return make_random_checkpoint(path, config, seed=seed, image_size=image_size)


def official_predictor(checkpoint: Path, config: str, image_size: int | None = None):
    """Meta's SAM 2.1 streaming predictor over ``config``'s official model."""
    if edgetam_code_installed():
        from sam2_ros.evaluation.edgetam_reference import STREAMING

        return build_official_predictor(checkpoint, config, image_size, predictor_class=STREAMING)
    return build_official_predictor(checkpoint, config, image_size)
