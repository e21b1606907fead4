"""Export a built SAM 2 model to a sam2_ros model directory (ONNX components + manifest).

The directory is written to a temporary sibling and renamed into place only when every
file is written and checked, so a failed export never leaves a partial directory behind.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sam2_ros import __version__
from sam2_ros.engine.errors import ExportError
from sam2_ros.engine.manifest import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    ComponentSpec,
    Manifest,
    ModelSettings,
    TensorSpec,
    sha256_of,
)
from sam2_ros.export.builder import EDGETAM, BuiltModel

LOG = logging.getLogger("sam2_ros.export")
HOST_TENSORS_FILE = "host_tensors.npz"
PIXEL_MEAN = (0.485, 0.456, 0.406)
PIXEL_STD = (0.229, 0.224, 0.225)
EXPORT_CHECK_TOLERANCE = 1e-3


def settings_from_model(built: BuiltModel) -> ModelSettings:
    """Read the glue settings off a built SAM2Base, refusing ones the engine cannot run."""
    m = built.model
    unsupported = []
    if m.num_maskmem < 1:
        unsupported.append("num_maskmem = 0 (image-only SAM)")
    if not m.use_obj_ptrs_in_encoder:
        unsupported.append("use_obj_ptrs_in_encoder = false")
    if not m.pred_obj_scores:
        unsupported.append("pred_obj_scores = false")
    if not m.use_high_res_features_in_sam:
        unsupported.append("use_high_res_features_in_sam = false")
    if not m.directly_add_no_mem_embed:
        unsupported.append("directly_add_no_mem_embed = false")
    if m.non_overlap_masks_for_mem_enc:
        unsupported.append("non_overlap_masks_for_mem_enc = true")
    if m.hidden_dim % m.mem_dim != 0:
        unsupported.append("hidden_dim not a multiple of mem_dim")
    if unsupported:
        raise ExportError(
            f"config {built.config_name!r} uses settings the streaming engine does not support: "
            + "; ".join(unsupported)
        )
    dec = m.sam_mask_decoder
    perceiver = getattr(m, "spatial_perceiver", None)
    memory_tokens = 0 if perceiver is None else max(perceiver.num_latents, 0) + max(perceiver.num_latents_2d, 0)
    return ModelSettings(
        image_size=int(m.image_size),
        backbone_stride=int(m.backbone_stride),
        hidden_dim=int(m.hidden_dim),
        mem_dim=int(m.mem_dim),
        num_maskmem=int(m.num_maskmem),
        max_obj_ptrs_in_encoder=int(m.max_obj_ptrs_in_encoder),
        max_cond_frames_in_attn=int(m.max_cond_frames_in_attn),
        memory_temporal_stride_for_eval=int(m.memory_temporal_stride_for_eval),
        sigmoid_scale_for_mem_enc=float(m.sigmoid_scale_for_mem_enc),
        sigmoid_bias_for_mem_enc=float(m.sigmoid_bias_for_mem_enc),
        binarize_mask_from_pts_for_mem_enc=bool(m.binarize_mask_from_pts_for_mem_enc),
        use_mask_input_as_output_without_sam=bool(m.use_mask_input_as_output_without_sam),
        multimask_output_in_sam=bool(m.multimask_output_in_sam),
        multimask_min_pt_num=int(m.multimask_min_pt_num),
        multimask_max_pt_num=int(m.multimask_max_pt_num),
        multimask_output_for_tracking=bool(m.multimask_output_for_tracking),
        use_multimask_token_for_obj_ptr=bool(m.use_multimask_token_for_obj_ptr),
        dynamic_multimask_via_stability=bool(dec.dynamic_multimask_via_stability),
        dynamic_multimask_stability_delta=float(dec.dynamic_multimask_stability_delta),
        dynamic_multimask_stability_thresh=float(dec.dynamic_multimask_stability_thresh),
        soft_no_obj_ptr=bool(m.soft_no_obj_ptr),
        fixed_no_obj_ptr=bool(m.fixed_no_obj_ptr),
        add_tpos_enc_to_obj_ptrs=bool(m.add_tpos_enc_to_obj_ptrs),
        proj_tpos_enc_in_obj_ptrs=bool(m.proj_tpos_enc_in_obj_ptrs),
        use_signed_tpos_enc_to_obj_ptrs=bool(m.use_signed_tpos_enc_to_obj_ptrs),
        only_obj_ptrs_in_the_past_for_eval=bool(m.only_obj_ptrs_in_the_past_for_eval),
        use_no_obj_embed_spatial=m.no_obj_embed_spatial is not None,
        memory_tokens=memory_tokens,
    )


def host_tensors_from_model(built: BuiltModel, settings: ModelSettings) -> dict[str, np.ndarray]:
    """The small parameters the host-side glue applies itself."""
    import torch

    m = built.model
    c, cm = settings.hidden_dim, settings.mem_dim

    def arr(t: Any, shape: tuple[int, ...]) -> np.ndarray:
        return t.detach().float().cpu().numpy().reshape(shape).astype(np.float32)

    if settings.proj_tpos_enc_in_obj_ptrs:
        proj_w, proj_b = arr(m.obj_ptr_tpos_proj.weight, (cm, c)), arr(m.obj_ptr_tpos_proj.bias, (cm,))
    else:
        proj_w, proj_b = np.eye(cm, dtype=np.float32), np.zeros(cm, np.float32)
    no_obj_spatial = (
        arr(m.no_obj_embed_spatial, (cm,)) if m.no_obj_embed_spatial is not None else np.zeros(cm, np.float32)
    )
    with torch.no_grad():
        return {
            "no_mem_embed": arr(m.no_mem_embed, (c,)),
            "maskmem_tpos_enc": arr(m.maskmem_tpos_enc, (settings.num_maskmem, cm)),
            "no_obj_ptr": arr(m.no_obj_ptr, (c,)),
            "no_obj_embed_spatial": no_obj_spatial,
            "obj_ptr_tpos_proj_weight": proj_w,
            "obj_ptr_tpos_proj_bias": proj_b,
            "mask_downsample_weight": arr(m.mask_downsample.weight, (4, 4)),
            "mask_downsample_bias": arr(m.mask_downsample.bias, (1,)),
        }


def example_inputs(
    settings: ModelSettings, static_bank: tuple[int, int] | None = None, decoder_points: tuple[int, ...] = ()
) -> dict[str, dict[str, Any]]:
    """Example inputs (and dynamic axes) per component, batch 1.

    ``static_bank`` = (memory slots, pointer tokens) exports memory attention with fixed shapes;
    ``decoder_points`` replaces the dynamic decoder with one static decoder per point count.
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    s, e, c, cm = settings.image_size, settings.embed_size, settings.hidden_dim, settings.mem_dim
    t = settings.memory_tokens_per_frame

    def rnd(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    examples: dict[str, dict[str, Any]] = {
        "image_encoder": {"inputs": {"image": rnd(1, 3, s, s)}, "dynamic": {}},
        "mask_decoder": {
            "inputs": {
                "image_embeddings": rnd(1, c, e, e),
                "high_res_feats_0": rnd(1, c // 8, 4 * e, 4 * e),
                "high_res_feats_1": rnd(1, c // 4, 2 * e, 2 * e),
                "point_coords": torch.rand(1, 3, 2, generator=gen) * s,
                "point_labels": torch.tensor([[1, 0, 1]], dtype=torch.int32),
                "mask_input": rnd(1, 1, 4 * e, 4 * e),
                "has_mask_input": torch.ones(1),
            },
            "dynamic": {"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
        },
        "memory_encoder": {
            "inputs": {"image_embeddings": rnd(1, c, e, e), "mask_for_memory": rnd(1, 1, s, s)},
            "dynamic": {},
        },
        "memory_attention": {
            "inputs": {
                "image_embeddings": rnd(1, c, e, e),
                "image_pos": rnd(1, c, e, e),
                "memory": rnd(1, 2 * t, cm),
                "memory_pos": rnd(1, 2 * t, cm),
                "object_pointers": rnd(1, 8, cm),
                "object_pointers_pos": rnd(1, 8, cm),
            },
            "dynamic": {
                "memory": {1: "memory_tokens"},
                "memory_pos": {1: "memory_tokens"},
                "object_pointers": {1: "pointer_tokens"},
                "object_pointers_pos": {1: "pointer_tokens"},
            },
        },
    }
    for n in decoder_points:
        example = {k: v.clone() for k, v in examples["mask_decoder"]["inputs"].items()}
        example["point_coords"] = torch.rand(1, n, 2, generator=gen) * s
        # float labels: static runtimes such as AidLite take a single input dtype
        example["point_labels"] = torch.tensor([[1, 0, 2, 3][i % 4] for i in range(n)], dtype=torch.float32)[None]
        examples[f"mask_decoder.points{n}"] = {"inputs": example, "dynamic": {}}
    if decoder_points:
        del examples["mask_decoder"]
    if static_bank is not None:
        slots, tokens = static_bank
        memory_valid = torch.ones(1, slots)
        memory_valid[0, -1] = 0.0  # exercise the masking in the export check
        examples["memory_attention"] = {
            "inputs": {
                "image_embeddings": rnd(1, c, e, e),
                "image_pos": rnd(1, c, e, e),
                "memory": rnd(1, slots * t, cm),
                "memory_pos": rnd(1, slots * t, cm),
                "object_pointers": rnd(1, tokens, cm),
                "object_pointers_pos": rnd(1, tokens, cm),
                "memory_valid": memory_valid,
                "pointer_valid": (torch.arange(tokens) < tokens // 2).float()[None],
            },
            "dynamic": {},
        }
    return examples


OUTPUT_NAMES = {
    "image_encoder": ("high_res_feats_0", "high_res_feats_1", "image_embeddings", "image_pos"),
    "mask_decoder": ("masks", "iou_predictions", "object_pointers", "object_score_logits"),
    "memory_encoder": ("memory_features", "memory_pos"),
    "memory_attention": ("conditioned_embeddings",),
}


def component_modules(
    built: BuiltModel, settings: ModelSettings, static: bool, decoder_points: tuple[int, ...] = ()
) -> dict[str, Any]:
    """The torch modules exported as the model directory's components, for ``built``'s family."""
    from sam2_ros.export import components

    e = settings.embed_size
    edgetam = built.family == EDGETAM
    if edgetam:
        attention = (
            components.StaticEdgeTamMemoryAttentionComponent if static else components.EdgeTamMemoryAttentionComponent
        )
        memory_encoder = components.EdgeTamMemoryEncoderComponent
    else:
        attention = components.StaticMemoryAttentionComponent if static else components.MemoryAttentionComponent
        memory_encoder = components.MemoryEncoderComponent
    decoders = {f"mask_decoder.points{n}": components.MaskDecoderComponent(built.model) for n in decoder_points}
    try:
        return {
            "image_encoder": components.ImageEncoderComponent(built.model),
            **(decoders or {"mask_decoder": components.MaskDecoderComponent(built.model)}),
            "memory_encoder": memory_encoder(built.model),
            "memory_attention": attention(built.model, (e, e)),
        }
    except ValueError as exc:
        raise ExportError(f"config {built.config_name!r}: {exc}") from exc


def export_component(
    name: str, module: Any, example: dict[str, Any], path: Path, opset: int | None = None
) -> ComponentSpec:
    """Export one component to ``path`` (at the exporter's default opset unless ``opset``) and check
    it against PyTorch on the example inputs with ONNX Runtime."""
    import onnxruntime as ort
    import torch

    inputs = example["inputs"]
    dynamic = example["dynamic"]
    dims: dict[str, Any] = {}
    dynamic_shapes = []
    for input_name in inputs:
        axes = dynamic.get(input_name, {})
        spec = {}
        for axis, axis_name in axes.items():
            if axis_name not in dims:
                dims[axis_name] = torch.export.Dim(axis_name, min=1, max=1 << 20)
            spec[axis] = dims[axis_name]
        dynamic_shapes.append(spec)
    module.eval()
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # torch.onnx prints progress and warns about unused torchvision ops: noise here
        warnings.simplefilter("ignore")
        reference = module(*inputs.values())
        if isinstance(reference, torch.Tensor):
            reference = (reference,)
        torch.onnx.export(
            module,
            tuple(inputs.values()),
            str(path),
            dynamo=True,
            input_names=list(inputs),
            output_names=list(OUTPUT_NAMES[name.split(".")[0]]),
            dynamic_shapes=tuple(dynamic_shapes),
            optimize=True,
            external_data=False,
            verbose=False,
            **({"opset_version": opset} if opset else {}),
        )
    # Check the exported graph against PyTorch on the example inputs.
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()})
    output_names = OUTPUT_NAMES[name.split(".")[0]]
    for out_name, ref, val in zip(output_names, reference, got):
        err = float(np.max(np.abs(ref.numpy() - val))) if val.size else 0.0
        scale = max(1.0, float(np.max(np.abs(ref.numpy()))) if val.size else 1.0)
        if not err <= EXPORT_CHECK_TOLERANCE * scale:
            raise ExportError(f"exported {name} output {out_name} differs from PyTorch by {err:.3g}")
    in_specs = []
    for input_name, tensor in inputs.items():
        shape = list(tensor.shape)
        for axis, axis_name in dynamic.get(input_name, {}).items():
            shape[axis] = axis_name
        dtype = "int32" if tensor.dtype == torch.int32 else "float32"
        in_specs.append(TensorSpec(input_name, tuple(shape), dtype))
    out_specs = []
    for out_name, ref in zip(output_names, reference):
        shape = list(ref.shape)
        out_specs.append(TensorSpec(out_name, tuple(shape), "float32"))
    return ComponentSpec(
        name=name, file=path.name, sha256=sha256_of(path), inputs=tuple(in_specs), outputs=tuple(out_specs)
    )


def check_output_dir(output: Path, force: bool) -> None:
    """Fail early (before the slow export) if ``output`` cannot be written."""
    if output.exists() and not force:
        raise ExportError(f"output {output} already exists; pass --force to replace it")
    if output.exists() and not output.is_dir():
        raise ExportError(f"output {output} exists and is not a directory")
    parent = output.parent if output.parent != Path("") else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write to {output}: {probe} is not a writable directory")


def static_bank_size(settings: ModelSettings, conditioning_frames: int = 1) -> tuple[int, int]:
    """(memory slots, pointer tokens) of a fixed bank holding ``conditioning_frames`` prompted
    frames plus SAM 2's recent frames (num_maskmem - 1 memories, max_obj_ptrs - 1 pointers)."""
    split = settings.hidden_dim // settings.mem_dim
    slots = conditioning_frames + settings.num_maskmem - 1
    tokens = (conditioning_frames + settings.max_obj_ptrs_in_encoder - 1) * split
    return slots, tokens


def write_model_dir(
    built: BuiltModel,
    output: Path,
    force: bool = False,
    static_bank: tuple[int, int] | None = None,
    decoder_points: tuple[int, ...] = (),
    finish: Any = None,
) -> Manifest:
    """Export all components of ``built`` into ``output`` atomically; return the manifest.

    ``static_bank`` (memory slots, pointer tokens) exports every component with static shapes,
    as static-shape runtimes (QNN) need: memory attention over a fixed bank with validity
    masks (see :func:`static_bank_size`), one decoder per count in ``decoder_points``, and
    Hiera written with rank-4 tensors. ``finish(staging_dir, manifest) -> manifest`` runs on
    the complete directory before it is moved into place (the QNN compile step).
    """
    output = Path(output)
    check_output_dir(output, force)
    settings = settings_from_model(built)
    host = host_tensors_from_model(built, settings)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    os.chmod(staging, 0o755)
    try:
        static = static_bank is not None
        if static and 1 not in decoder_points:
            raise ExportError("static decoders need a 1-point variant (tracking): include 1 in the point counts")
        examples = example_inputs(settings, static_bank, decoder_points if static else ())
        specs: dict[str, ComponentSpec] = {}
        from sam2_ros.export import static_ops  # torch only here: the CLI checks its arguments first

        patch = static_ops.hiera_for_static_runtimes() if static else contextlib.nullcontext()
        with patch:
            for name, module in component_modules(built, settings, static, decoder_points if static else ()).items():
                LOG.info("exporting %s", name)
                specs[name] = export_component(name, module, examples[name], staging / f"{name}.onnx")
        np.savez(staging / HOST_TENSORS_FILE, **host)
        source = {
            "config": built.config_name,
            "config_sha256": built.config_sha256,
            "checkpoint": built.checkpoint_path.name if built.checkpoint_path else None,
            "checkpoint_sha256": built.checkpoint_sha256,
            "random_init_seed": built.random_init_seed,
            "postprocessing": built.postprocessing,
            "exported_by": f"sam2_ros {__version__}",
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        manifest = Manifest(
            version=MANIFEST_VERSION,
            settings=settings,
            pixel_mean=PIXEL_MEAN,
            pixel_std=PIXEL_STD,
            components=specs,
            host_tensors_file=HOST_TENSORS_FILE,
            host_tensors_sha256=sha256_of(staging / HOST_TENSORS_FILE),
            host_tensor_shapes={k: tuple(v.shape) for k, v in host.items()},
            random_weights=built.random_init_seed is not None,
            source=source,
            model_family=built.family,
        )
        header = "# sam2_ros model directory manifest (data, read with yaml.safe_load)\n" + (
            "# RANDOM WEIGHTS: masks from this model carry no meaning.\n" if manifest.random_weights else ""
        )
        if finish is not None:
            manifest = finish(staging, manifest)
        (staging / MANIFEST_NAME).write_text(header + yaml.safe_dump(manifest.to_dict(), sort_keys=False))
        if output.exists():
            shutil.rmtree(output)
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest
