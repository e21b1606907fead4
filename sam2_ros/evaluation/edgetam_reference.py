"""Meta's official EdgeTAM as a streaming reference, and seeded EdgeTAM test checkpoints.

Only for the EdgeTAM environment (``scripts/setup_edgetam_env.sh``), where the ``sam2`` package
is EdgeTAM's official code (facebookresearch/EdgeTAM, as the ``edgetam-dimos`` wheel).

EdgeTAM's code is a fork of SAM 2 taken before SAM 2.1's predictor update: its
``SAM2VideoPredictor`` refuses new objects once tracking has started and shares conditioning
frames between objects. Its model, ``SAM2Base`` with the spatial perceiver, is SAM 2.1's plus
the perceiver. The reference is therefore :class:`EdgeTamStreamingPredictor`: Meta's SAM 2.1
predictor (``sam2_video_predictor.py`` of ``sam2`` 1.1.0, the file the SAM 2 parity tests run,
placed in the environment by its set-up) over EdgeTAM's model, with EdgeTAM's own
``_get_maskmem_pos_enc`` (its memories are tokens, not maps). Every line that runs is Meta's.
The tests also check it against EdgeTAM's own predictor where the two predictors agree.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import sam2_ros.evaluation.reference  # noqa: F401  before torch: it silences Meta's progress bars
from sam2_ros.evaluation.reference import build_official_predictor, save_test_checkpoint

META_PREDICTOR_FILE = Path(sys.prefix) / "share" / "sam2_ros" / "meta-sam2-1.1.0" / "sam2_video_predictor.py"
CONFIG = "edgetam"


def _load_meta_predictor_module():
    if not META_PREDICTOR_FILE.is_file():
        raise RuntimeError(
            f"{META_PREDICTOR_FILE} is missing: the EdgeTAM reference needs Meta's SAM 2.1 predictor there "
            "(scripts/setup_edgetam_env.sh puts it in place)"
        )
    spec = importlib.util.spec_from_file_location("meta_sam2_1_1_0_video_predictor", META_PREDICTOR_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_META = _load_meta_predictor_module()

from sam2.sam2_video_predictor import SAM2VideoPredictor as EdgeTamOwnPredictor  # noqa: E402


class EdgeTamStreamingPredictor(_META.SAM2VideoPredictor):
    """Meta's SAM 2.1 ``SAM2VideoPredictor`` over EdgeTAM's model (see the module's docstring)."""

    _get_maskmem_pos_enc = EdgeTamOwnPredictor._get_maskmem_pos_enc


STREAMING = f"{__name__}.EdgeTamStreamingPredictor"
OWN = "sam2.sam2_video_predictor.SAM2VideoPredictor"


def build_edgetam_predictor(checkpoint: Path, image_size: int | None = None, own: bool = False, **options):
    """The EdgeTAM reference predictor (CPU); ``own`` builds EdgeTAM's own, older predictor instead."""
    return build_official_predictor(
        checkpoint, CONFIG, image_size=image_size, predictor_class=OWN if own else STREAMING, **options
    )


def make_random_edgetam_checkpoint(
    path: Path, seed: int = 0, image_size: int | None = None, object_score_offset: float = 0.0
) -> Path:
    """Write a seeded random-weight EdgeTAM checkpoint (``{"model": state_dict}``).

    The weights are EdgeTAM's own initialisation from ``seed``, with the image encoder's BatchNorm
    statistics taken from a fixed random image (random RepViT statistics saturate every mask) and
    the memory-path parameters drawn from a standard normal, so glue mistakes show (as for SAM 2).
    ``object_score_offset`` is added to the object-score head's last bias.
    """
    from sam2_ros.export.builder import build_model

    model = build_model(CONFIG, random_init_seed=seed, image_size=image_size).model
    return save_test_checkpoint(model, path, seed, object_score_offset=object_score_offset)
