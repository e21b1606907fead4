"""Meta's trainable SAM 2 (``training.model.sam2.SAM2Train``) and loss for the synthetic model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sam2_ros.export.builder import load_model_config

MODEL_CONFIG = Path(__file__).with_name("sam2_synthetic_128.yaml")

# Prompt simulation during training, as in Meta's sam2.1 training config (fewer correction clicks).
TRAIN_PROMPTING: dict[str, Any] = {
    "prob_to_use_pt_input_for_train": 0.5,
    "prob_to_use_box_input_for_train": 0.5,
    "prob_to_sample_from_gt_for_train": 0.1,
    "num_frames_to_correct_for_train": 2,
    "rand_frames_to_correct_for_train": True,
    "add_all_frames_to_correct_as_cond": True,
    "num_init_cond_frames_for_train": 2,
    "rand_init_cond_frames_for_train": True,
    "num_correction_pt_per_frame": 3,
    "use_act_ckpt_iterative_pt_sampling": False,
    "num_init_cond_frames_for_eval": 1,
    "forward_backbone_per_frame_for_eval": True,
}

# Meta's loss weights for SAM 2.1 training (focal 20 : dice 1 : IoU 1 : object score 1).
LOSS_WEIGHTS = {"loss_mask": 20.0, "loss_dice": 1.0, "loss_iou": 1.0, "loss_class": 1.0}


def build_train_model(config: Path = MODEL_CONFIG, prompting: dict[str, Any] | None = None):
    """``SAM2Train`` built from the (safely loaded) model YAML plus the training prompt settings
    (``TRAIN_PROMPTING``, with ``prompting`` overriding any of them)."""
    from hydra.utils import instantiate

    unknown = set(prompting or {}) - set(TRAIN_PROMPTING)
    if unknown:
        raise ValueError(f"unknown prompt settings {sorted(unknown)}: use keys of TRAIN_PROMPTING")
    model_cfg = load_model_config(config, image_size=None, postprocessing=False)
    model_cfg["_target_"] = "training.model.sam2.SAM2Train"
    model_cfg.update(TRAIN_PROMPTING | (prompting or {}))
    return instantiate(model_cfg, _recursive_=True)


def build_loss():
    """Meta's ``MultiStepMultiMasksAndIous`` with the SAM 2.1 training settings."""
    from training.loss_fns import MultiStepMultiMasksAndIous

    return MultiStepMultiMasksAndIous(
        weight_dict=dict(LOSS_WEIGHTS),
        supervise_all_iou=True,
        iou_use_l1_loss=True,
        pred_obj_scores=True,
        focal_gamma_obj_score=0.0,
        focal_alpha_obj_score=-1.0,
    )
