"""Build a SAM 2 or EdgeTAM model from a config and a checkpoint (or seeded random weights), safely.

Configs are YAML data: they are read with OmegaConf's safe loader and every ``_target_``
must name a class inside the ``sam2`` package, so a config cannot run arbitrary code.
Checkpoints are read with ``torch.load(..., weights_only=True)``.

Two model families share this path. SAM 2 configs are built with Meta's ``sam2`` package; the
EdgeTAM config with Meta's official EdgeTAM code, a fork of SAM 2 under the same import name
that lives in its own environment (``scripts/setup_edgetam_env.sh``, docs/EDGETAM.md).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam2_ros.engine.errors import ExportError
from sam2_ros.engine.manifest import sha256_of

# The video predictor's post-processing defaults (sam2.build_sam.build_sam2_video_predictor).
POSTPROCESSING_OVERRIDES: dict[str, Any] = {
    "sam_mask_decoder_extra_args": {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    },
    "binarize_mask_from_pts_for_mem_enc": True,
}

ALLOWED_TARGET_PREFIX = "sam2.modeling."

# Model families: what the manifest records and the engine runs.
SAM2 = "sam2"
EDGETAM = "edgetam"
EDGETAM_ENV_HINT = (
    "EdgeTAM is built with Meta's official EdgeTAM code, which installs as its own `sam2` package and so lives "
    "in a separate environment: run scripts/setup_edgetam_env.sh, then "
    "`.venv-edgetam/bin/python -m sam2_ros.export --config edgetam ...` (docs/EDGETAM.md)"
)


def edgetam_code_installed() -> bool:
    """Whether the ``sam2`` package importable here is EdgeTAM's (it has the spatial perceiver)."""
    import importlib.util

    try:
        return importlib.util.find_spec("sam2.modeling.perceiver") is not None
    except ModuleNotFoundError:
        return False


def config_family(model_cfg: dict[str, Any]) -> str:
    """The model family a model config builds: EdgeTAM has a spatial perceiver, SAM 2 has none."""
    return EDGETAM if model_cfg.get("spatial_perceiver") else SAM2


def checkpoint_family(state_dict: dict[str, Any]) -> str:
    """The model family a checkpoint's weights belong to (EdgeTAM's have perceiver weights)."""
    return EDGETAM if any(str(k).startswith("spatial_perceiver.") for k in state_dict) else SAM2


FAMILY_NAMES = {SAM2: "SAM 2", EDGETAM: "EdgeTAM"}


@dataclass
class BuiltModel:
    """A SAM2Base in eval mode plus where it came from."""

    family: str  # SAM2 or EDGETAM
    model: Any  # sam2.modeling.sam2_base.SAM2Base
    config_name: str
    config_path: Path
    config_sha256: str
    checkpoint_path: Path | None
    checkpoint_sha256: str | None
    random_init_seed: int | None
    postprocessing: bool


def known_config_names() -> dict[str, Path]:
    """Config names shipped with the official ``sam2`` package -> YAML path."""
    import sam2

    root = Path(sam2.__file__).parent / "configs"
    names: dict[str, Path] = {}
    for sub in ("sam2.1", "sam2"):
        for path in sorted((root / sub).glob("*.yaml")):
            names[path.stem] = path
    for path in sorted(root.glob("*.yaml")):  # EdgeTAM's code ships configs/edgetam.yaml
        names[path.stem] = path
    aliases = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}
    for name, path in list(names.items()):
        for long, short in aliases.items():
            if name.endswith("_" + short):
                names[name[: -len(short)] + long] = path
    return names


def resolve_config(config: str) -> tuple[str, Path]:
    """Map a config name (``sam2.1_hiera_t``) or a YAML path to (name, path)."""
    candidate = Path(config)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise ExportError(f"config file not found: {candidate}")
        return candidate.stem, candidate.resolve()
    names = known_config_names()
    key = config.removesuffix(".yaml")
    if key == EDGETAM and key not in names:
        raise ExportError(
            f"config {config!r} needs EdgeTAM's code, and the `sam2` package here is SAM 2's. {EDGETAM_ENV_HINT}"
        )
    if key not in names:
        raise ExportError(
            f"unknown config {config!r}: use one of {', '.join(sorted(names))}, or the path of a SAM 2 model YAML file"
        )
    return key, names[key]


def _check_targets(node: Any, where: str = "model") -> None:
    if isinstance(node, dict):
        target = node.get("_target_")
        if target is not None and not str(target).startswith(ALLOWED_TARGET_PREFIX):
            raise ExportError(
                f"config entry {where}._target_ = {target!r} is not allowed: "
                f"only classes under {ALLOWED_TARGET_PREFIX} can be built"
            )
        for key, value in node.items():
            _check_targets(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_targets(value, f"{where}[{i}]")


def load_model_config(config_path: Path, image_size: int | None, postprocessing: bool) -> Any:
    """Read a SAM 2 YAML config as data and apply the export's overrides."""
    from omegaconf import OmegaConf

    try:
        cfg = OmegaConf.load(config_path)
    except Exception as exc:  # yaml errors come in many types
        raise ExportError(f"config {config_path} is not valid YAML: {exc}") from exc
    if "model" not in cfg:
        raise ExportError(f"config {config_path} has no 'model' section")
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    _check_targets(model_cfg)
    model_cfg["_target_"] = "sam2.modeling.sam2_base.SAM2Base"
    if config_family(model_cfg) == EDGETAM and not edgetam_code_installed():
        raise ExportError(f"config {config_path} is an EdgeTAM config. {EDGETAM_ENV_HINT}")
    if image_size is not None:
        if image_size % 64 != 0 or not 128 <= image_size <= 2048:
            raise ExportError(f"--image-size must be a multiple of 64 in 128..2048, got {image_size}")
        model_cfg["image_size"] = image_size
    if config_family(model_cfg) == EDGETAM:
        _fit_rotary_sizes(model_cfg)
    if postprocessing:
        extra = dict(model_cfg.get("sam_mask_decoder_extra_args") or {})
        extra.update(POSTPROCESSING_OVERRIDES["sam_mask_decoder_extra_args"])
        model_cfg["sam_mask_decoder_extra_args"] = extra
        model_cfg["binarize_mask_from_pts_for_mem_enc"] = True
    model_cfg["compile_image_encoder"] = False
    return model_cfg


def _fit_rotary_sizes(model_cfg: dict[str, Any]) -> None:
    """Set EdgeTAM's rotary table of the memory-attention queries to the image embedding's size.

    EdgeTAM's cross-attention precomputes the queries' table for ``q_sizes`` (64 x 64: 1024 px);
    at another image size the table must follow (the self-attention recomputes its own, and the
    keys' table belongs to the perceiver's fixed 16 x 16 latents). Only the table changes: no weight.
    """
    side = int(model_cfg.get("image_size", 1024)) // 16
    layer = model_cfg["memory_attention"]["layer"]
    cross = layer.get("cross_attention", {})
    if "q_sizes" in cross:
        cross["q_sizes"] = [side, side]
    if "feat_sizes" in layer.get("self_attention", {}):
        layer["self_attention"]["feat_sizes"] = [side, side]


@contextlib.contextmanager
def no_pretrained_download():
    """Build EdgeTAM's timm backbone without its pretrained ImageNet weights.

    EdgeTAM's ``TimmBackbone`` asks timm for ``pretrained=True``, a download from a model hub.
    Nothing here may download, and nothing needs to: a checkpoint overwrites every weight, and
    ``--random-init`` draws them from its seed.
    """
    try:
        from sam2.modeling.backbones import timm as timm_backbone
    except ImportError:  # SAM 2's code: no timm backbone
        yield
        return
    create = timm_backbone.create_model

    def create_without_download(*args: Any, **kwargs: Any) -> Any:
        kwargs["pretrained"] = False
        return create(*args, **kwargs)

    timm_backbone.create_model = create_without_download
    try:
        yield
    finally:
        timm_backbone.create_model = create


def build_model(
    config: str,
    checkpoint: Path | None = None,
    random_init_seed: int | None = None,
    image_size: int | None = None,
    postprocessing: bool = True,
) -> BuiltModel:
    """Instantiate SAM 2 from ``config`` with weights from ``checkpoint`` or a seed."""
    import torch
    from hydra.utils import instantiate

    if (checkpoint is None) == (random_init_seed is None):
        raise ExportError("give exactly one of a checkpoint or a random-init seed")
    name, config_path = resolve_config(config)
    model_cfg = load_model_config(config_path, image_size, postprocessing)

    state_dict = None
    ckpt_sha = None
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise ExportError(f"checkpoint not found: {checkpoint}")
        try:
            loaded = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ExportError(
                f"checkpoint {checkpoint} could not be read as a PyTorch weights file "
                f"(corrupt, truncated or not a checkpoint): {exc}"
            ) from exc
        if not isinstance(loaded, dict) or not isinstance(loaded.get("model"), dict):
            raise ExportError(
                f"checkpoint {checkpoint} has no 'model' state dict (SAM 2 checkpoints are {{'model': state_dict}})"
            )
        state_dict = loaded["model"]
        ckpt_sha = sha256_of(checkpoint)
        family, weights_family = config_family(model_cfg), checkpoint_family(state_dict)
        if family != weights_family:
            raise ExportError(
                f"checkpoint {checkpoint} holds {FAMILY_NAMES[weights_family]} weights, and config {name!r} builds "
                f"{FAMILY_NAMES[family]}: give the checkpoint with its own config"
            )

    torch.manual_seed(random_init_seed if random_init_seed is not None else 0)
    try:
        with no_pretrained_download():
            model = instantiate(model_cfg, _recursive_=True)
    except Exception as exc:
        raise ExportError(f"config {config_path} does not build a SAM 2 model: {exc}") from exc
    if state_dict is None and config_family(model_cfg) == EDGETAM:
        calibrate_batch_norm(model, random_init_seed or 0)

    if state_dict is not None:
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as exc:
            message = str(exc).split("\n")
            summary = "\n  ".join(line.strip() for line in message[:12] if line.strip())
            raise ExportError(
                f"the weights in {checkpoint} do not fit config {name!r}:\n  {summary}\n"
                "Check that --config names the model the checkpoint was trained with."
            ) from exc
    model.eval()
    return BuiltModel(
        family=config_family(model_cfg),
        model=model,
        config_name=name,
        config_path=config_path,
        config_sha256=sha256_of(config_path),
        checkpoint_path=checkpoint,
        checkpoint_sha256=ckpt_sha,
        random_init_seed=random_init_seed,
        postprocessing=postprocessing,
    )


def calibrate_batch_norm(model: Any, seed: int) -> None:
    """Give a randomly initialised image encoder the BatchNorm statistics of a fixed random image.

    EdgeTAM's RepViT starts with running mean 0 and variance 1 in every BatchNorm; on random
    weights its activations then grow to ~1e7 through the stages and every mask is saturated.
    One forward pass in training mode with cumulative averaging (``momentum=None``) sets each
    BatchNorm to the statistics it sees, as a trained encoder's are. Only for random weights.
    """
    import torch

    norms = [m for m in model.image_encoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, model.image_size, model.image_size, generator=gen) * 4.0 - 2.0
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.image_encoder.train()
    with torch.no_grad():
        model.image_encoder(image)
    model.image_encoder.eval()
    for norm in norms:
        norm.momentum = 0.1


def default_threads() -> int:
    """Threads for torch during export: all cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1
