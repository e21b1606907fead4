"""Runs the exported SAM 2 components, one call per stage, with SAM 2's host-side glue.

The runner knows tensors, not objects or frames in a stream: it encodes an image, conditions
an embedding on chosen memories, decodes masks, encodes a memory. What to call when is the
tracker's business (:mod:`sam2_ros.engine.propagation`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine import image_ops
from sam2_ros.engine.backends import Component, create_backend
from sam2_ros.engine.errors import BackendError, InvalidInputError, ModelDirError
from sam2_ros.engine.manifest import Manifest, ModelSettings, load_model_dir
from sam2_ros.engine.memory import FrameMemory, MemoryBank, MemorySelection
from sam2_ros.engine.state import FrameFeatures, ObjectOutput
from sam2_ros.engine.timing import StageTimer

LOG = logging.getLogger("sam2_ros.engine")

NO_OBJ_SCORE = -1024.0  # SAM 2's placeholder logit for "no object"


@dataclass(frozen=True)
class Decoded:
    """The mask decoder's chosen output, gated as SAM 2 gates it."""

    low_res_logits: np.ndarray  # [S/4, S/4] float32
    predicted_iou: float
    object_pointer: np.ndarray  # [hidden_dim] float32
    object_score: float

    def output(self, frame_idx: int, prompted: bool, conditioning: bool, **prompt: np.ndarray) -> ObjectOutput:
        """This decoding as an object's output on ``frame_idx`` (``prompt``: its points and labels)."""
        return ObjectOutput(
            frame_idx,
            self.low_res_logits,
            self.predicted_iou,
            self.object_pointer,
            self.object_score,
            prompted=prompted,
            conditioning=conditioning,
            **prompt,
        )


class ModelRunner:
    """A loaded model's components and host tensors, and the stage calls on them."""

    def __init__(self, manifest: Manifest, host: dict[str, np.ndarray], components: dict[str, Component]) -> None:
        self.manifest = manifest
        self.settings: ModelSettings = manifest.settings
        self.host = host
        self.components = components
        self.timer = StageTimer()
        self._mean = np.asarray(manifest.pixel_mean, np.float32)
        self._std = np.asarray(manifest.pixel_std, np.float32)
        self._memory_pos: np.ndarray | None = None
        # (memory slots, pointer tokens) when memory attention was exported with static shapes
        attention_inputs = {t.name: t for t in manifest.components["memory_attention"].inputs}
        self.static_bank: tuple[int, int] | None = None
        if "memory_valid" in attention_inputs:
            self.static_bank = (
                int(attention_inputs["memory_valid"].shape[1]),
                int(attention_inputs["pointer_valid"].shape[1]),
            )
        s = self.settings
        if not s.use_mask_input_as_output_without_sam:
            raise ModelDirError("use_mask_input_as_output_without_sam = false is not supported")
        if s.memory_dtype != "bfloat16":
            raise ModelDirError(f"memory_dtype {s.memory_dtype!r} is not supported (bfloat16 only)")

    @classmethod
    def load(
        cls,
        path: str | Path,
        backend: str = "onnxruntime",
        threads: int | None = None,
        backend_options: dict[str, Any] | None = None,
        verify_hashes: bool = True,
    ) -> ModelRunner:
        """Load and check a model directory written by ``sam2-ros-export`` on ``backend``.

        ``Sam2Tracker.from_model_dir`` loads its model with this; ``Sam2Tracker(runner)`` tracks with a
        runner built here, which a caller may inspect first (``components``, ``static_bank``, ``host``).
        """
        model_dir = Path(path)
        manifest, host = load_model_dir(model_dir, verify_hashes=verify_hashes)
        runtime = create_backend(backend, threads=threads, options=backend_options)
        components = {name: runtime.load(model_dir, spec) for name, spec in manifest.components.items()}
        if manifest.random_weights:
            LOG.warning("model %s has RANDOM weights: its masks carry no meaning", model_dir)
        return cls(manifest, host, components)

    def spawn(self) -> ModelRunner:
        """A runner on the same loaded model with a timer of its own (for another stream)."""
        runner = ModelRunner(self.manifest, self.host, self.components)
        runner._memory_pos = self._memory_pos
        return runner

    # ------------------------------------------------------------------ image encoder
    def encode_image(self, image: np.ndarray, frame_idx: int) -> FrameFeatures:
        """Preprocess and encode one HxWx3 uint8 RGB frame."""
        with self.timer.stage("preprocess"):
            x = image_ops.preprocess(image, self.settings.image_size, self._mean, self._std)
        with self.timer.stage("image_encoder"):
            out = self.components["image_encoder"].run({"image": x})
        return FrameFeatures(
            frame_idx,
            (int(image.shape[0]), int(image.shape[1])),
            out["high_res_feats_0"],
            out["high_res_feats_1"],
            out["image_embeddings"],
            out["image_pos"],
        )

    def no_memory_embeddings(self, features: FrameFeatures) -> np.ndarray:
        """The frame's embedding with SAM 2's ``no_mem_embed`` (a frame that has no memory)."""
        return features.embeddings + self.host["no_mem_embed"].reshape(1, -1, 1, 1)

    # ------------------------------------------------------------------ memory attention
    def condition(self, features: FrameFeatures, bank: MemoryBank, selection: MemorySelection) -> np.ndarray:
        """Memory attention: the frame's embedding conditioned on the selected memories."""
        s = self.settings
        with self.timer.stage("memory_attention"):
            tpos = self.host["maskmem_tpos_enc"]
            memory_pos = self.memory_position()
            memory, memory_pos_list = [], []
            for frame, t_pos in selection.spatial:
                stored = bank.get(frame).features
                assert stored is not None, "the memory policy keeps the features it selects"
                memory.append(image_ops.from_bfloat16(stored))
                memory_pos_list.append(memory_pos + tpos[s.num_maskmem - t_pos - 1])
            pointers = np.stack([bank.get(frame).object_pointer for frame, _ in selection.pointers])
            distances = np.array([d for _, d in selection.pointers], dtype=np.int64)
            feeds = {
                "image_embeddings": features.embeddings,
                "image_pos": features.pos,
                "memory": np.concatenate(memory)[None],
                "memory_pos": np.concatenate(memory_pos_list)[None],
                "object_pointers": pointers.reshape(-1, s.mem_dim)[None].astype(np.float32),
                "object_pointers_pos": self._pointer_positions(distances)[None],
            }
            if self.static_bank is not None:
                feeds = self._pad_to_static_bank(feeds)
            return self.components["memory_attention"].run(feeds)["conditioned_embeddings"]

    def _pointer_positions(self, distances: np.ndarray) -> np.ndarray:
        """SAM 2's temporal encoding of object pointers, one row per pointer token."""
        s = self.settings
        if s.add_tpos_enc_to_obj_ptrs:
            tpos_dim = s.hidden_dim if s.proj_tpos_enc_in_obj_ptrs else s.mem_dim
            t_diff_max = s.max_obj_ptrs_in_encoder - 1
            pe = image_ops.sine_encoding_1d((distances / t_diff_max).astype(np.float32), tpos_dim)
            pointer_pos = pe @ self.host["obj_ptr_tpos_proj_weight"].T + self.host["obj_ptr_tpos_proj_bias"]
        else:
            pointer_pos = np.zeros((len(distances), s.mem_dim), np.float32)
        return np.repeat(pointer_pos.astype(np.float32), s.hidden_dim // s.mem_dim, axis=0)

    def _pad_to_static_bank(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Fill a static-shape memory attention's fixed bank: zeros, masked out as invalid."""
        assert self.static_bank is not None
        slots, tokens = self.static_bank
        hw = self.settings.memory_tokens_per_frame
        n_mem = feeds["memory"].shape[1] // hw
        n_tok = feeds["object_pointers"].shape[1]
        if n_mem > slots or n_tok > tokens:
            raise BackendError(
                f"the memory bank ({n_mem} memories, {n_tok} pointer tokens) exceeds this static-shape model's "
                f"capacity ({slots}, {tokens}); re-export with a larger --static-conditioning-frames"
            )

        def pad(array: np.ndarray, length: int) -> np.ndarray:
            out = np.zeros((1, length, array.shape[2]), np.float32)
            out[:, : array.shape[1]] = array
            return out

        return {
            **feeds,
            "memory": pad(feeds["memory"], slots * hw),
            "memory_pos": pad(feeds["memory_pos"], slots * hw),
            "object_pointers": pad(feeds["object_pointers"], tokens),
            "object_pointers_pos": pad(feeds["object_pointers_pos"], tokens),
            "memory_valid": (np.arange(slots) < n_mem).astype(np.float32)[None],
            "pointer_valid": (np.arange(tokens) < n_tok).astype(np.float32)[None],
        }

    # ------------------------------------------------------------------ mask decoder
    def use_multimask(self, is_init_cond: bool, num_points: int) -> bool:
        """SAM 2's choice between one mask and the best of three."""
        s = self.settings
        return (
            s.multimask_output_in_sam
            and (is_init_cond or s.multimask_output_for_tracking)
            and s.multimask_min_pt_num <= num_points <= s.multimask_max_pt_num
        )

    def gate_pointer(self, pointer: np.ndarray, appearing: float) -> np.ndarray:
        """Blend an object pointer with ``no_obj_ptr`` by how present the object is."""
        if self.settings.fixed_no_obj_ptr:
            pointer = np.float32(appearing) * pointer
        return (pointer + np.float32(1.0 - appearing) * self.host["no_obj_ptr"]).astype(np.float32)

    def decode(
        self,
        embeddings: np.ndarray,
        features: FrameFeatures,
        points: np.ndarray | None,
        labels: np.ndarray | None,
        mask_input: np.ndarray | None,
        multimask: bool,
    ) -> Decoded:
        """Prompt encoder + mask decoder, then SAM 2's host-side choices and gating."""
        s = self.settings
        with self.timer.stage("mask_decoder"):
            if points is None or labels is None or len(labels) == 0:
                points = np.zeros((1, 2), np.float32)
                labels = np.array([-1], np.int32)
            low_size = s.low_res_size
            decoder = self.decoder_for(len(labels))
            labels_dtype = next(t.dtype for t in decoder.spec.inputs if t.name == "point_labels")
            feeds = {
                "image_embeddings": np.ascontiguousarray(embeddings, dtype=np.float32),
                "high_res_feats_0": features.high_res_0,
                "high_res_feats_1": features.high_res_1,
                "point_coords": points.astype(np.float32)[None],
                "point_labels": labels.astype(labels_dtype)[None],
                "mask_input": (
                    np.zeros((1, 1, low_size, low_size), np.float32)
                    if mask_input is None
                    else mask_input.reshape(1, 1, low_size, low_size).astype(np.float32)
                ),
                "has_mask_input": np.array([0.0 if mask_input is None else 1.0], np.float32),
            }
            out = decoder.run(feeds)
            masks, ious = out["masks"][0], out["iou_predictions"][0]
            pointers, score = out["object_pointers"][0], float(out["object_score_logits"][0, 0])
            best_multi = 1 + int(np.argmax(ious[1:]))
            if multimask:
                index = best_multi
                pointer = pointers[best_multi] if s.use_multimask_token_for_obj_ptr else pointers[0]
            else:
                index = 0
                if s.dynamic_multimask_via_stability and not self._stable(masks[0]):
                    index = best_multi
                pointer = pointers[0]
            appearing = score > 0
            low = masks[index] if appearing else np.full_like(masks[index], NO_OBJ_SCORE)
            lam = float(image_ops.sigmoid(np.asarray(score, np.float32))) if s.soft_no_obj_ptr else float(appearing)
            pointer = self.gate_pointer(pointer, lam)
        return Decoded(np.ascontiguousarray(low, dtype=np.float32), float(ious[index]), pointer, score)

    def _stable(self, single: np.ndarray) -> bool:
        """SAM 2's stability test of the single-mask output."""
        s = self.settings
        area_i = np.count_nonzero(single > s.dynamic_multimask_stability_delta)
        area_u = np.count_nonzero(single > -s.dynamic_multimask_stability_delta)
        stability = np.float32(area_i) / np.float32(area_u) if area_u > 0 else 1.0
        return bool(stability >= s.dynamic_multimask_stability_thresh)

    def decoder_for(self, num_points: int) -> Component:
        """The dynamic decoder, or a static-shape model's decoder for exactly ``num_points`` points."""
        dynamic = self.components.get("mask_decoder")
        if dynamic is not None:
            return dynamic
        static = self.components.get(f"mask_decoder.points{num_points}")
        if static is None:
            counts = self.manifest.decoder_points()
            raise InvalidInputError(
                f"this static-shape model has decoders for {counts} prompt points, and this prompt needs "
                f"{num_points} (a box counts 2; clicks on one frame add up); re-export with "
                f"--decoder-points {','.join(str(n) for n in sorted({*counts, num_points}))}"
            )
        return static

    # ------------------------------------------------------------------ memory encoder
    def encode_memory(self, features: FrameFeatures, output: ObjectOutput, from_points: bool) -> FrameMemory:
        """Memory encoder on the output's mask, with SAM 2's scaling and no-object embedding."""
        assert features.frame_idx == output.frame_idx
        s = self.settings
        with self.timer.stage("memory_encoder"):
            high = image_ops.resize_float(output.low_res_logits, s.image_size, s.image_size)
            if s.binarize_mask_from_pts_for_mem_enc and from_points:
                mask = (high > 0).astype(np.float32)
            else:
                mask = image_ops.sigmoid(high)
            if s.sigmoid_scale_for_mem_enc != 1.0:
                mask = mask * np.float32(s.sigmoid_scale_for_mem_enc)
            if s.sigmoid_bias_for_mem_enc != 0.0:
                mask = mask + np.float32(s.sigmoid_bias_for_mem_enc)
            out = self.components["memory_encoder"].run(
                {"image_embeddings": features.embeddings, "mask_for_memory": mask[None, None].astype(np.float32)}
            )
            flat = self._flatten(out["memory_features"][0])
            if s.use_no_obj_embed_spatial and not output.object_score > 0:
                flat = flat + self.host["no_obj_embed_spatial"][None, :]
            if self._memory_pos is None:
                self._memory_pos = self._flatten(out["memory_pos"][0])
        return FrameMemory(output.frame_idx, image_ops.to_bfloat16(flat), output.object_pointer, output.object_score)

    def memory_position(self) -> np.ndarray:
        """[HW, mem_dim]: the memory encoder's spatial position encoding, the same for every memory.

        It depends only on the model, so it is kept from the first memory this runner encoded; a
        bank is only ever attended after one of its memories was encoded.
        """
        assert self._memory_pos is not None, "memory attention before any memory was encoded"
        return self._memory_pos

    def _flatten(self, chw: np.ndarray) -> np.ndarray:
        """[C, h, w] (SAM 2) or [C, T] (EdgeTAM's latents) -> [tokens, C], contiguous."""
        return np.ascontiguousarray(chw.reshape(self.settings.mem_dim, -1).T)
