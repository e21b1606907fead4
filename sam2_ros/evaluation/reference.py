"""Meta's official ``SAM2VideoPredictor``, driven as a stream, and seeded test checkpoints.

Used by the parity tests and the benchmark (needs torch and the ``sam2`` package).
The official predictor works on a folder of frames; :class:`OfficialStream` prepares one
and feeds prompts only to frames the predictor has already reached, which is what a
live stream allows.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sam2_ros.export.builder import load_model_config, resolve_config

# Meta's predictor draws a tqdm progress bar per call (frame loading, every propagation step): one
# per frame when it is driven as a stream. This is the one place that silences them; every user of
# the predictor goes through this module. tqdm reads TQDM_* once, when it is first imported, and
# torch imports it, so users import this module before torch (at their top; nothing above imports
# tqdm). Child processes inherit the setting.
os.environ.setdefault("TQDM_DISABLE", "1")

MEMORY_PATH_PARAMETERS = (
    "maskmem_tpos_enc",
    "no_mem_embed",
    "no_obj_ptr",
    "no_obj_embed_spatial",
    "obj_ptr_tpos_proj.weight",
    "obj_ptr_tpos_proj.bias",
)


def make_random_checkpoint(
    path: Path,
    config: str = "sam2.1_hiera_t",
    seed: int = 0,
    image_size: int | None = None,
    enlarge_memory_path: bool = True,
    object_score_offset: float = 0.0,
) -> Path:
    """Write a seeded random-weight SAM 2 checkpoint (``{"model": state_dict}``).

    ``enlarge_memory_path`` draws the memory-path parameters from a standard normal so a
    glue mistake (wrong temporal index, missing no-memory embedding, ...) changes outputs
    by ~1e-3 instead of ~1e-5. ``object_score_offset`` is added to the object-score head's
    last bias (negative values force the occluded path).
    """
    import torch
    from hydra.utils import instantiate

    from sam2_ros.export.builder import load_model_config

    _, config_path = resolve_config(config)
    model_cfg = load_model_config(config_path, image_size, postprocessing=True)
    torch.manual_seed(seed)
    model = instantiate(model_cfg, _recursive_=True)
    return save_test_checkpoint(model, path, seed, enlarge_memory_path, object_score_offset)


def save_test_checkpoint(
    model, path: Path, seed: int, enlarge_memory_path: bool = True, object_score_offset: float = 0.0
) -> Path:
    """Make ``model`` (random weights) a parity test model, as :func:`make_random_checkpoint` says, and
    save it as ``{"model": state_dict}``."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        params = dict(model.named_parameters())
        if enlarge_memory_path:
            for name in MEMORY_PATH_PARAMETERS:
                if name in params:
                    params[name].copy_(torch.randn(params[name].shape, generator=gen))
        if object_score_offset:
            head = model.sam_mask_decoder.pred_obj_score_head
            last = head.layers[-1] if hasattr(head, "layers") else head
            last.bias += object_score_offset
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, path)
    return path


def build_official_predictor(
    checkpoint: Path,
    config: str = "sam2.1_hiera_t",
    image_size: int | None = None,
    postprocessing: bool = True,
    add_all_frames_to_correct_as_cond: bool = False,
    max_cond_frames_in_attn: int | None = None,
    predictor_class: str | None = None,
):
    """The official video predictor (CPU, no hole filling).

    Package configs go through ``build_sam2_video_predictor`` itself; a YAML file outside the
    ``sam2`` package (Hydra cannot compose those) is read with the export's safe loader, with the
    same post-processing overrides, and instantiated as ``SAM2VideoPredictor`` (or as
    ``predictor_class``, an import path, which always takes this way: EdgeTAM's reference).
    ``add_all_frames_to_correct_as_cond`` and ``max_cond_frames_in_attn`` (None: the config's
    value) are passed to the model's construction as config overrides.
    """
    model_overrides: dict[str, object] = {}
    if add_all_frames_to_correct_as_cond:
        model_overrides["add_all_frames_to_correct_as_cond"] = True
    if max_cond_frames_in_attn is not None:
        model_overrides["max_cond_frames_in_attn"] = int(max_cond_frames_in_attn)
    from sam2.build_sam import _load_checkpoint, build_sam2_video_predictor

    _, config_path = resolve_config(config)
    import sam2

    package_dir = Path(sam2.__file__).parent.resolve()
    if predictor_class is None and package_dir in config_path.resolve().parents:
        rel = os.path.relpath(config_path, package_dir)
        overrides = [f"++model.image_size={image_size}"] if image_size else []
        overrides += [f"++model.{key}={str(value).lower()}" for key, value in model_overrides.items()]
        predictor = build_sam2_video_predictor(
            rel, str(checkpoint), device="cpu", hydra_overrides_extra=overrides, apply_postprocessing=postprocessing
        )
    else:
        from hydra.utils import instantiate

        from sam2_ros.export.builder import no_pretrained_download

        model_cfg = load_model_config(config_path, image_size, postprocessing)
        model_cfg["_target_"] = predictor_class or "sam2.sam2_video_predictor.SAM2VideoPredictor"
        model_cfg.update(model_overrides)
        with no_pretrained_download():
            predictor = instantiate(model_cfg, _recursive_=True)
        _load_checkpoint(predictor, str(checkpoint))
        predictor.eval()
    # Hole filling needs SAM 2's CUDA extension; without it the official code skips it
    # with a warning. Switch it off explicitly so both sides are plainly the same.
    predictor.fill_hole_area = 0
    for key, value in model_overrides.items():
        if getattr(predictor, key) != value:
            raise RuntimeError(f"override {key}={value} did not reach the official predictor")
    return predictor


@dataclass
class ReferenceObject:
    """The official predictor's stored output for one object on one frame."""

    low_res_logits: np.ndarray
    object_pointer: np.ndarray
    object_score: float


class OfficialStream:
    """Drive ``SAM2VideoPredictor`` frame by frame like a live stream.

    ``frames`` are all loaded up front (the official predictor needs a folder), but
    tracking only ever reaches the next frame and prompts land only on reached frames.
    """

    def __init__(self, predictor, frames: np.ndarray, workdir: Path | None = None) -> None:
        import torch

        self._torch = torch
        self.predictor = predictor
        self._tmp = tempfile.TemporaryDirectory(dir=workdir)
        for i, frame in enumerate(frames):
            # PNG content under a .jpg name: lossless, and accepted by sam2's JPEG-folder loader.
            Image.fromarray(frame).save(Path(self._tmp.name) / f"{i:05d}.jpg", format="PNG")
        with torch.inference_mode():
            self.state = predictor.init_state(self._tmp.name)
        self.frame_idx = -1

    def close(self) -> None:
        """Delete the frame folder."""
        self._tmp.cleanup()

    def track(self) -> dict[int, ReferenceObject]:
        """Propagate every object to the next frame."""
        self.frame_idx += 1
        if self.state["obj_ids"]:
            for _ in self.predictor.propagate_in_video(
                self.state, start_frame_idx=self.frame_idx, max_frame_num_to_track=0
            ):
                pass
        return self.outputs()

    def add_points(self, obj_id: int, points=None, labels=None, box=None, accumulate: bool = False):
        """``add_new_points_or_box`` on the current frame (pixel coordinates)."""
        self.predictor.add_new_points_or_box(
            self.state,
            frame_idx=self.frame_idx,
            obj_id=obj_id,
            points=None if points is None else np.asarray(points, np.float32),
            labels=None if labels is None else np.asarray(labels, np.int32),
            box=None if box is None else np.asarray(box, np.float32),
            clear_old_points=not accumulate,
        )
        return self.outputs()

    def add_mask(self, obj_id: int, mask: np.ndarray):
        """``add_new_mask`` on the current frame."""
        self.predictor.add_new_mask(self.state, frame_idx=self.frame_idx, obj_id=obj_id, mask=mask.astype(bool))
        return self.outputs()

    def remove(self, obj_id: int) -> None:
        """``remove_object``."""
        self.predictor.remove_object(self.state, obj_id, need_output=False)

    def outputs(self) -> dict[int, ReferenceObject]:
        """Every object's latest output on the current frame."""
        results = {}
        t = self.frame_idx
        for obj_id, idx in self.state["obj_id_to_idx"].items():
            temp = self.state["temp_output_dict_per_obj"][idx]
            stored = self.state["output_dict_per_obj"][idx]
            out = None
            for source in (
                temp["cond_frame_outputs"],
                temp["non_cond_frame_outputs"],
                stored["cond_frame_outputs"],
                stored["non_cond_frame_outputs"],
            ):
                if t in source:
                    out = source[t]
                    break
            if out is None:
                continue
            results[obj_id] = ReferenceObject(
                low_res_logits=out["pred_masks"][0, 0].float().numpy().copy(),
                object_pointer=out["obj_ptr"][0].float().numpy().copy(),
                object_score=float(out["object_score_logits"][0, 0]),
            )
        return results
