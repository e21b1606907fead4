"""Streaming SAM 2 tracker: frame in, every prompted object's mask out, bounded memory.

It reproduces ``sam2.SAM2VideoPredictor`` driven frame by frame: ``track(image)`` is
``propagate_in_video`` on one new frame, ``add_prompt`` is ``add_new_points_or_box`` /
``add_new_mask`` on the frame tracked last. Prompt outputs are written to memory when the
next frame arrives, as the official predictor does at its next propagation.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine import image_ops
from sam2_ros.engine.backends import Component, create_backend
from sam2_ros.engine.errors import BackendError, InvalidInputError, ModelDirError
from sam2_ros.engine.manifest import Manifest, ModelSettings, load_model_dir
from sam2_ros.engine.memory import FrameMemory, MemoryBank, select_memories
from sam2_ros.engine.results import FrameResult, ObjectResult, mask_statistics

LOG = logging.getLogger("sam2_ros.engine")

NO_OBJ_SCORE = -1024.0  # SAM 2's placeholder logit for "no object"
MASK_OUT_SCALE, MASK_OUT_BIAS = 20.0, -10.0  # SAM 2's logits for a mask prompt
PREV_LOGIT_CLAMP = 32.0
STAGES = ("preprocess", "image_encoder", "memory_attention", "mask_decoder", "memory_encoder", "postprocess")


@dataclass(frozen=True)
class FrameFeatures:
    """Image-encoder outputs of one frame (shared by all objects)."""

    frame_idx: int
    image_size: tuple[int, int]
    high_res_0: np.ndarray
    high_res_1: np.ndarray
    embeddings: np.ndarray  # [1, C, e, e]
    pos: np.ndarray  # [1, C, e, e]


@dataclass(frozen=True)
class ObjectOutput:
    """An object's output on the current frame, before it is written to memory."""

    frame_idx: int
    low_res_logits: np.ndarray  # [S/4, S/4], already NO_OBJ_SCORE-gated
    predicted_iou: float
    object_pointer: np.ndarray
    object_score: float
    prompted: bool  # from add_prompt (memory encoded on the next frame, binarised)
    conditioning: bool  # stored as a conditioning frame
    points: np.ndarray | None = None  # accumulated prompt points on this frame (model pixels)
    labels: np.ndarray | None = None


@dataclass
class ObjectTrack:
    """State of one tracked object."""

    obj_id: int
    bank: MemoryBank = field(default_factory=MemoryBank)
    output: ObjectOutput | None = None  # latest output on the current frame
    tracked_frame: int = -1  # last frame this object was tracked (not prompted) on
    conditioned: np.ndarray | None = None  # memory-conditioned embedding of tracked_frame


class Sam2Tracker:
    """SAM 2 video tracking on a live stream, one frame at a time."""

    def __init__(
        self,
        manifest: Manifest,
        host_tensors: dict[str, np.ndarray],
        components: dict[str, Component],
        backend: str,
        prompt_history: int = 1,
        mask_threshold: float = 0.0,
    ) -> None:
        self.manifest = manifest
        self.settings: ModelSettings = manifest.settings
        self.backend_name = backend
        self._host = host_tensors
        self._components = components
        self._mean = np.asarray(manifest.pixel_mean, np.float32)
        self._std = np.asarray(manifest.pixel_std, np.float32)
        if prompt_history < 1:
            raise ValueError("prompt_history must be at least 1")
        self.prompt_history = int(prompt_history)
        self.mask_threshold = float(mask_threshold)
        self._tracks: dict[int, ObjectTrack] = {}
        self._features: FrameFeatures | None = None
        self._frame_idx = -1
        # the last `prompt_history` frames: their features and every object's state after them
        self._history: deque[tuple[FrameFeatures, dict[int, ObjectTrack]]] = deque(maxlen=self.prompt_history)
        self._memory_pos: np.ndarray | None = None  # [HW, mem_dim], the same for every frame
        # (memory slots, pointer tokens) when memory attention was exported with static shapes
        attention_inputs = {t.name: t for t in manifest.components["memory_attention"].inputs}
        self._static_bank: tuple[int, int] | None = None
        if "memory_valid" in attention_inputs:
            self._static_bank = (
                int(attention_inputs["memory_valid"].shape[1]),
                int(attention_inputs["pointer_valid"].shape[1]),
            )
        self._check_supported()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model_dir(
        cls,
        path: str | Path,
        backend: str = "onnxruntime",
        threads: int | None = None,
        backend_options: dict[str, Any] | None = None,
        verify_hashes: bool = True,
        prompt_history: int = 1,
    ) -> Sam2Tracker:
        """Load and check a model directory written by ``sam2-ros-export``.

        ``prompt_history`` is how many of the last tracked frames keep their encodings, so
        a prompt made on one of them (``add_prompt(..., frame_idx=...)``) lands there.
        """
        model_dir = Path(path)
        manifest, host = load_model_dir(model_dir, verify_hashes=verify_hashes)
        runtime = create_backend(backend, threads=threads, options=backend_options)
        components = {name: runtime.load(model_dir, spec) for name, spec in manifest.components.items()}
        if manifest.random_weights:
            LOG.warning("model %s has RANDOM weights: its masks carry no meaning", model_dir)
        return cls(manifest, host, components, backend, prompt_history=prompt_history)

    def spawn(self, prompt_history: int | None = None) -> Sam2Tracker:
        """A new, empty tracker (another stream) sharing this one's loaded model."""
        history = self.prompt_history if prompt_history is None else prompt_history
        return Sam2Tracker(self.manifest, self._host, self._components, self.backend_name, history, self.mask_threshold)

    def _check_supported(self) -> None:
        s = self.settings
        if not s.use_mask_input_as_output_without_sam:
            raise ModelDirError("use_mask_input_as_output_without_sam = false is not supported")
        if s.memory_dtype != "bfloat16":
            raise ModelDirError(f"memory_dtype {s.memory_dtype!r} is not supported (bfloat16 only)")

    # ------------------------------------------------------------------ properties
    @property
    def frame_idx(self) -> int:
        """Index of the last tracked frame (-1 before the first)."""
        return self._frame_idx

    @property
    def object_ids(self) -> list[int]:
        """Ids of the objects being tracked, in the order they were added."""
        return list(self._tracks)

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(height, width) of the last tracked frame."""
        return self._features.image_size if self._features else None

    @property
    def cached_frames(self) -> list[int]:
        """Indices of the frames a prompt can still be applied to (oldest first)."""
        return [features.frame_idx for features, _ in self._history]

    def memory_footprint(self) -> int:
        """Bytes held in memory banks, cached features and outputs (for boundedness checks)."""
        seen: set[int] = set()

        def size(array: np.ndarray | None) -> int:
            if array is None or id(array) in seen:
                return 0
            seen.add(id(array))
            return array.nbytes

        total = 0
        for features, tracks in [*self._history, (self._features, self._tracks)]:
            if features is not None:
                total += sum(
                    size(a) for a in (features.high_res_0, features.high_res_1, features.embeddings, features.pos)
                )
            for track in tracks.values():
                for mem in (*track.bank.conditioning.values(), *track.bank.recent.values()):
                    total += size(mem.object_pointer) + size(mem.features)
                total += size(track.conditioned)
                if track.output is not None:
                    total += size(track.output.low_res_logits)
        return total

    # ------------------------------------------------------------------ public API
    def track(self, image: np.ndarray) -> FrameResult:
        """Encode a new frame and propagate every object to it."""
        _validate_image(image)
        timings = dict.fromkeys(STAGES, 0.0)
        # One image encoding for all objects, then every object advances to the new frame.
        features = self._encode_image(image, self._frame_idx + 1, timings)
        new_tracks = {
            obj_id: self._advance(track, self._features, features, timings) for obj_id, track in self._tracks.items()
        }
        self._tracks = new_tracks
        self._features = features
        self._frame_idx = features.frame_idx
        self._history.append((features, new_tracks))
        return self._result(timings)

    def add_prompt(
        self,
        obj_id: int,
        points: Sequence[Sequence[float]] | np.ndarray | None = None,
        labels: Sequence[int] | np.ndarray | None = None,
        box: Sequence[float] | np.ndarray | None = None,
        mask: np.ndarray | None = None,
        frame_idx: int | None = None,
    ) -> FrameResult:
        """Prompt object ``obj_id`` (new id: add; known id: refine); return the current frame.

        ``points`` are (x, y) pixels of the input image with ``labels`` 1 (foreground) or
        0 (background); ``box`` is (x0, y0, x1, y1) pixels; ``mask`` is HxW (non-zero =
        object). Points on a frame add up with earlier points on the same frame; a box or a
        mask replaces the earlier prompts of that frame.

        The prompt lands on the last tracked frame, or on ``frame_idx`` when that frame is
        still cached (see ``cached_frames``): the object is then re-tracked from there to the
        current frame, as if the prompt had come in time. Other objects are not touched.
        """
        if self._features is None:
            raise InvalidInputError("no frame yet: call track(image) before add_prompt")
        obj_id = _validate_obj_id(obj_id)
        if frame_idx is None:
            frame_idx = self._frame_idx
        if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)):
            raise InvalidInputError(f"frame_idx must be an integer, got {frame_idx!r}")
        cached = self.cached_frames
        if int(frame_idx) not in cached:
            raise InvalidInputError(f"frame {frame_idx} is not cached; prompts can land on frames {cached}")
        position = cached.index(int(frame_idx))
        features, tracks_then = self._history[position]
        height, width = features.image_size
        pts, lbls, box_arr, mask_arr = _validate_prompt(points, labels, box, mask, height, width)
        timings = dict.fromkeys(STAGES, 0.0)

        track = tracks_then.get(obj_id) or ObjectTrack(obj_id)
        is_init_cond = track.tracked_frame != features.frame_idx
        previous = track.output if track.output is not None and track.output.frame_idx == features.frame_idx else None
        if mask_arr is not None:
            output = self._mask_prompt(features, mask_arr, is_init_cond, timings)
        else:
            output = self._point_prompt(features, track, pts, lbls, box_arr, previous, is_init_cond, timings)
        track = replace(track, output=output)

        # Re-track the object through the cached frames that follow, then commit all at once.
        updated = [{**tracks_then, obj_id: track}]
        for later_features, later_tracks in list(self._history)[position + 1 :]:
            track = self._advance(track, features, later_features, timings)
            updated.append({**later_tracks, obj_id: track})
            features = later_features
        for offset, tracks in enumerate(updated):
            self._history[position + offset] = (self._history[position + offset][0], tracks)
        self._tracks = updated[-1]
        return self._result(timings)

    def _advance(
        self, track: ObjectTrack, previous: FrameFeatures | None, features: FrameFeatures, timings: dict[str, float]
    ) -> ObjectTrack:
        """One object from the frame of ``previous`` to the frame of ``features``."""
        s = self.settings
        bank = track.bank
        out = track.output
        if out is not None and out.prompted:
            # prompt outputs go to memory when the next frame arrives (SAM 2's preflight)
            memory = self._encode_memory(previous, out, from_points=True, timings=timings)
            bank = bank.with_memory(memory, conditioning=out.conditioning)
        bank = bank.pruned(
            features.frame_idx,
            num_maskmem=s.num_maskmem,
            max_obj_ptrs=s.max_obj_ptrs_in_encoder,
            max_cond_frames=s.max_cond_frames_in_attn,
            temporal_stride=s.memory_temporal_stride_for_eval,
        )
        conditioned = self._condition(features, bank, timings)
        multimask = self._use_multimask(is_init_cond=False, num_points=0)
        low, iou, ptr, score = self._decode(conditioned, features, None, None, None, multimask, timings)
        output = ObjectOutput(features.frame_idx, low, iou, ptr, score, prompted=False, conditioning=False)
        memory = self._encode_memory(features, output, from_points=False, timings=timings)
        return ObjectTrack(
            track.obj_id,
            bank.with_memory(memory, conditioning=False),
            output,
            tracked_frame=features.frame_idx,
            conditioned=conditioned,
        )

    def remove_object(self, obj_id: int) -> None:
        """Stop tracking ``obj_id``; raise InvalidInputError if it is not tracked."""
        if obj_id not in self._tracks:
            raise InvalidInputError(f"unknown object id {obj_id!r}; tracked ids: {self.object_ids}")
        del self._tracks[obj_id]
        for _, tracks in self._history:
            tracks.pop(obj_id, None)

    def reset(self) -> None:
        """Forget every object and frame: the next ``track`` starts a new stream."""
        self._tracks = {}
        self._features = None
        self._frame_idx = -1
        self._history.clear()

    # ------------------------------------------------------------------ prompts
    def _point_prompt(
        self,
        feats: FrameFeatures,
        track: ObjectTrack,
        pts: np.ndarray | None,
        lbls: np.ndarray | None,
        box: np.ndarray | None,
        previous: ObjectOutput | None,
        is_init_cond: bool,
        timings: dict[str, float],
    ) -> ObjectOutput:
        height, width = feats.image_size
        s = self.settings.image_size
        scale = np.array([width, height], dtype=np.float32)
        new_pts = np.zeros((0, 2), np.float32) if pts is None else pts
        new_lbls = np.zeros((0,), np.int32) if lbls is None else lbls
        if box is not None:
            new_pts = np.concatenate([box.reshape(2, 2), new_pts])
            new_lbls = np.concatenate([np.array([2, 3], np.int32), new_lbls])
        model_pts = (new_pts / scale * np.float32(s)).astype(np.float32)
        if box is None and previous is not None and previous.points is not None:
            model_pts = np.concatenate([previous.points, model_pts])
            new_lbls = np.concatenate([previous.labels, new_lbls])
        mask_input = None
        if previous is not None:
            mask_input = np.clip(previous.low_res_logits, -PREV_LOGIT_CLAMP, PREV_LOGIT_CLAMP)
        if is_init_cond:
            embeddings = feats.embeddings + self._host["no_mem_embed"].reshape(1, -1, 1, 1)
        else:
            assert track.conditioned is not None
            embeddings = track.conditioned
        multimask = self._use_multimask(is_init_cond, len(new_lbls))
        low, iou, ptr, score = self._decode(embeddings, feats, model_pts, new_lbls, mask_input, multimask, timings)
        return ObjectOutput(
            feats.frame_idx,
            low,
            iou,
            ptr,
            score,
            prompted=True,
            conditioning=is_init_cond,
            points=model_pts,
            labels=new_lbls,
        )

    def _mask_prompt(
        self, feats: FrameFeatures, mask: np.ndarray, is_init_cond: bool, timings: dict[str, float]
    ) -> ObjectOutput:
        s, low_size = self.settings.image_size, self.settings.low_res_size
        mask_f = mask.astype(np.float32)
        if mask_f.shape != (s, s):
            mask_f = (image_ops.resize_float(mask_f, s, s) >= 0.5).astype(np.float32)
        high = mask_f * MASK_OUT_SCALE + MASK_OUT_BIAS
        low = image_ops.resize_float(high, low_size, low_size)
        mask_input = image_ops.conv_4x4_stride_4(
            mask_f, self._host["mask_downsample_weight"], self._host["mask_downsample_bias"]
        )
        _, _, ptr, _ = self._decode(feats.embeddings, feats, None, None, mask_input, False, timings)
        appearing = float(bool((mask_f > 0).any()))
        score = MASK_OUT_SCALE * appearing + MASK_OUT_BIAS
        ptr = self._gate_pointer(ptr, appearing)
        return ObjectOutput(feats.frame_idx, low, 1.0, ptr, score, prompted=True, conditioning=is_init_cond)

    # ------------------------------------------------------------------ model stages
    def _encode_image(self, image: np.ndarray, frame_idx: int, timings: dict[str, float]) -> FrameFeatures:
        t0 = time.perf_counter()
        x = image_ops.preprocess(image, self.settings.image_size, self._mean, self._std)
        t1 = time.perf_counter()
        out = self._components["image_encoder"].run({"image": x})
        t2 = time.perf_counter()
        timings["preprocess"] += t1 - t0
        timings["image_encoder"] += t2 - t1
        return FrameFeatures(
            frame_idx,
            (int(image.shape[0]), int(image.shape[1])),
            out["high_res_feats_0"],
            out["high_res_feats_1"],
            out["image_embeddings"],
            out["image_pos"],
        )

    def _condition(self, feats: FrameFeatures, bank: MemoryBank, timings: dict[str, float]) -> np.ndarray:
        """Memory attention: the frame's embedding conditioned on the object's memories."""
        s = self.settings
        t0 = time.perf_counter()
        selection = select_memories(
            feats.frame_idx,
            list(bank.conditioning),
            set(bank.recent),
            num_maskmem=s.num_maskmem,
            max_obj_ptrs=s.max_obj_ptrs_in_encoder,
            max_cond_frames=s.max_cond_frames_in_attn,
            temporal_stride=s.memory_temporal_stride_for_eval,
            only_past_pointers=s.only_obj_ptrs_in_the_past_for_eval,
            signed_pointer_distance=s.use_signed_tpos_enc_to_obj_ptrs,
            dropped_conditioning=bank.dropped_conditioning,
        )
        assert self._memory_pos is not None, "a tracked object always has a memory"
        tpos = self._host["maskmem_tpos_enc"]
        memory = []
        memory_pos = []
        for frame, t_pos in selection.spatial:
            features = bank.get(frame).features
            assert features is not None
            memory.append(image_ops.from_bfloat16(features))
            memory_pos.append(self._memory_pos + tpos[s.num_maskmem - t_pos - 1])
        pointers = np.stack([bank.get(frame).object_pointer for frame, _ in selection.pointers])
        distances = np.array([d for _, d in selection.pointers], dtype=np.int64)
        split = s.hidden_dim // s.mem_dim
        if s.add_tpos_enc_to_obj_ptrs:
            tpos_dim = s.hidden_dim if s.proj_tpos_enc_in_obj_ptrs else s.mem_dim
            t_diff_max = s.max_obj_ptrs_in_encoder - 1
            pe = image_ops.sine_encoding_1d((distances / t_diff_max).astype(np.float32), tpos_dim)
            pointer_pos = pe @ self._host["obj_ptr_tpos_proj_weight"].T + self._host["obj_ptr_tpos_proj_bias"]
        else:
            pointer_pos = np.zeros((len(distances), s.mem_dim), np.float32)
        feeds = {
            "image_embeddings": feats.embeddings,
            "image_pos": feats.pos,
            "memory": np.concatenate(memory)[None],
            "memory_pos": np.concatenate(memory_pos)[None],
            "object_pointers": pointers.reshape(-1, s.mem_dim)[None].astype(np.float32),
            "object_pointers_pos": np.repeat(pointer_pos.astype(np.float32), split, axis=0)[None],
        }
        if self._static_bank is not None:
            feeds = self._pad_to_static_bank(feeds)
        out = self._components["memory_attention"].run(feeds)["conditioned_embeddings"]
        timings["memory_attention"] += time.perf_counter() - t0
        return out

    def _pad_to_static_bank(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Fill a static-shape memory attention's fixed bank: zeros, masked out as invalid."""
        assert self._static_bank is not None
        slots, tokens = self._static_bank
        hw = self.settings.embed_size**2
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

    def _use_multimask(self, is_init_cond: bool, num_points: int) -> bool:
        s = self.settings
        return (
            s.multimask_output_in_sam
            and (is_init_cond or s.multimask_output_for_tracking)
            and s.multimask_min_pt_num <= num_points <= s.multimask_max_pt_num
        )

    def _gate_pointer(self, pointer: np.ndarray, appearing: float) -> np.ndarray:
        if self.settings.fixed_no_obj_ptr:
            pointer = np.float32(appearing) * pointer
        return (pointer + np.float32(1.0 - appearing) * self._host["no_obj_ptr"]).astype(np.float32)

    def _decode(
        self,
        embeddings: np.ndarray,
        feats: FrameFeatures,
        points: np.ndarray | None,
        labels: np.ndarray | None,
        mask_input: np.ndarray | None,
        multimask: bool,
        timings: dict[str, float],
    ) -> tuple[np.ndarray, float, np.ndarray, float]:
        """Prompt encoder + mask decoder, then SAM 2's host-side choices and gating."""
        s = self.settings
        t0 = time.perf_counter()
        if points is None or labels is None or len(labels) == 0:
            points = np.zeros((1, 2), np.float32)
            labels = np.array([-1], np.int32)
        low_size = s.low_res_size
        decoder = self._decoder_for(len(labels))
        labels_dtype = next(t.dtype for t in decoder.spec.inputs if t.name == "point_labels")
        feeds = {
            "image_embeddings": np.ascontiguousarray(embeddings, dtype=np.float32),
            "high_res_feats_0": feats.high_res_0,
            "high_res_feats_1": feats.high_res_1,
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
            if s.dynamic_multimask_via_stability:
                single = masks[0]
                area_i = np.count_nonzero(single > s.dynamic_multimask_stability_delta)
                area_u = np.count_nonzero(single > -s.dynamic_multimask_stability_delta)
                stability = np.float32(area_i) / np.float32(area_u) if area_u > 0 else 1.0
                if not stability >= s.dynamic_multimask_stability_thresh:
                    index = best_multi
            pointer = pointers[0]
        appearing = score > 0
        low = masks[index] if appearing else np.full_like(masks[index], NO_OBJ_SCORE)
        if s.soft_no_obj_ptr:
            lam = float(image_ops.sigmoid(np.float32(score)))
        else:
            lam = float(appearing)
        pointer = self._gate_pointer(pointer, lam)
        timings["mask_decoder"] += time.perf_counter() - t0
        return np.ascontiguousarray(low, dtype=np.float32), float(ious[index]), pointer, score

    def _decoder_for(self, num_points: int) -> Component:
        """The dynamic decoder, or a static-shape model's decoder for exactly ``num_points`` points."""
        dynamic = self._components.get("mask_decoder")
        if dynamic is not None:
            return dynamic
        static = self._components.get(f"mask_decoder.points{num_points}")
        if static is None:
            counts = self.manifest.decoder_points()
            raise InvalidInputError(
                f"this static-shape model has decoders for {counts} prompt points, and this prompt needs "
                f"{num_points} (a box counts 2; clicks on one frame add up); re-export with "
                f"--decoder-points {','.join(str(n) for n in sorted({*counts, num_points}))}"
            )
        return static

    def _encode_memory(
        self,
        feats: FrameFeatures | None,
        output: ObjectOutput,
        from_points: bool,
        timings: dict[str, float],
    ) -> FrameMemory:
        """Memory encoder on the output's mask, with SAM 2's scaling and no-object embedding."""
        assert feats is not None and feats.frame_idx == output.frame_idx
        s = self.settings
        t0 = time.perf_counter()
        high = image_ops.resize_float(output.low_res_logits, s.image_size, s.image_size)
        if s.binarize_mask_from_pts_for_mem_enc and from_points:
            mask = (high > 0).astype(np.float32)
        else:
            mask = image_ops.sigmoid(high)
        if s.sigmoid_scale_for_mem_enc != 1.0:
            mask = mask * np.float32(s.sigmoid_scale_for_mem_enc)
        if s.sigmoid_bias_for_mem_enc != 0.0:
            mask = mask + np.float32(s.sigmoid_bias_for_mem_enc)
        out = self._components["memory_encoder"].run(
            {"image_embeddings": feats.embeddings, "mask_for_memory": mask[None, None].astype(np.float32)}
        )
        features = out["memory_features"][0]
        if s.use_no_obj_embed_spatial and not output.object_score > 0:
            features = features + self._host["no_obj_embed_spatial"][:, None, None]
        if self._memory_pos is None:
            self._memory_pos = np.ascontiguousarray(out["memory_pos"][0].reshape(s.mem_dim, -1).T)
        flat = np.ascontiguousarray(features.reshape(s.mem_dim, -1).T)
        timings["memory_encoder"] += time.perf_counter() - t0
        return FrameMemory(output.frame_idx, image_ops.to_bfloat16(flat), output.object_pointer, output.object_score)

    # ------------------------------------------------------------------ results
    def _result(self, timings: dict[str, float]) -> FrameResult:
        assert self._features is not None
        t0 = time.perf_counter()
        height, width = self._features.image_size
        objects = {}
        for obj_id, track in self._tracks.items():
            out = track.output
            if out is None:
                continue
            logits = image_ops.resize_float(out.low_res_logits, height, width)
            mask = logits > self.mask_threshold
            bbox, area, centroid = mask_statistics(mask)
            objects[obj_id] = ObjectResult(
                obj_id=obj_id,
                mask=mask,
                mask_logits=logits,
                low_res_logits=out.low_res_logits,
                predicted_iou=out.predicted_iou,
                object_score=out.object_score,
                object_pointer=out.object_pointer,
                prompted=out.prompted,
                bbox=bbox,
                area=area,
                centroid=centroid,
            )
        timings["postprocess"] += time.perf_counter() - t0
        timings["total"] = sum(timings[k] for k in STAGES)
        return FrameResult(self._frame_idx, (height, width), objects, timings)


# ---------------------------------------------------------------------- validation
def _validate_image(image: Any) -> None:
    if not isinstance(image, np.ndarray):
        raise InvalidInputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidInputError(f"image must be uint8 RGB, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInputError(f"image must be HxWx3 (RGB), got shape {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InvalidInputError(f"image is too small: {image.shape[1]}x{image.shape[0]}")


def _validate_obj_id(obj_id: Any) -> int:
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
        raise InvalidInputError(f"object id must be an integer, got {obj_id!r}")
    return int(obj_id)


def _validate_prompt(
    points: Any, labels: Any, box: Any, mask: Any, height: int, width: int
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    if points is None and box is None and mask is None:
        raise InvalidInputError("empty prompt: give points with labels, a box, or a mask")
    if (points is None) != (labels is None):
        raise InvalidInputError("points and labels must be given together")
    if mask is not None and (points is not None or box is not None):
        raise InvalidInputError("a mask prompt cannot be combined with points or a box")
    pts = lbls = box_arr = mask_arr = None
    if points is not None:
        try:
            pts = np.asarray(points, dtype=np.float64)
            raw_labels = np.asarray(labels)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"points/labels are not numeric: {exc}") from exc
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
            raise InvalidInputError(f"points must be a non-empty Nx2 array of (x, y), got shape {pts.shape}")
        if raw_labels.shape != (len(pts),):
            raise InvalidInputError(f"labels must have one entry per point ({len(pts)}), got shape {raw_labels.shape}")
        if not np.all(np.isfinite(pts)):
            raise InvalidInputError("points contain NaN or infinity")
        if not np.isin(raw_labels, (0, 1)).all():
            raise InvalidInputError(f"labels must be 0 (background) or 1 (foreground), got {raw_labels.tolist()}")
        if (pts[:, 0] < 0).any() or (pts[:, 0] > width).any() or (pts[:, 1] < 0).any() or (pts[:, 1] > height).any():
            raise InvalidInputError(f"points {pts.tolist()} are outside the {width}x{height} image")
        pts = pts.astype(np.float32)
        lbls = raw_labels.astype(np.int32)
    if box is not None:
        try:
            box_arr = np.asarray(box, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"box is not numeric: {exc}") from exc
        if box_arr.shape != (4,):
            raise InvalidInputError(f"box must be (x0, y0, x1, y1), got {box_arr.size} values")
        if not np.all(np.isfinite(box_arr)):
            raise InvalidInputError("box contains NaN or infinity")
        x0, y0, x1, y1 = box_arr
        if not (x0 < x1 and y0 < y1):
            raise InvalidInputError(f"box {box_arr.tolist()} must have x0 < x1 and y0 < y1")
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            raise InvalidInputError(f"box {box_arr.tolist()} is outside the {width}x{height} image")
        box_arr = box_arr.astype(np.float32)
    if mask is not None:
        mask_arr = np.asarray(mask)
        if mask_arr.shape != (height, width):
            raise InvalidInputError(f"mask must be {height}x{width} like the image, got shape {mask_arr.shape}")
        if mask_arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"mask must be boolean or numeric, got dtype {mask_arr.dtype}")
        if mask_arr.dtype.kind == "f" and not np.all(np.isfinite(mask_arr)):
            raise InvalidInputError("mask contains NaN or infinity")
        mask_arr = mask_arr > 0
    return pts, lbls, box_arr, mask_arr
