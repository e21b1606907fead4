"""SAM 2's per-object steps on a stream: track an object to a new frame, apply a prompt.

Each step takes an object's state and returns its new state; nothing is changed in place, so
the tracker commits a step's results only once every part of it has succeeded.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sam2_ros.engine import image_ops
from sam2_ros.engine.memory import MemoryPolicy
from sam2_ros.engine.prompts import MaskPrompt, PointPrompt
from sam2_ros.engine.runner import ModelRunner
from sam2_ros.engine.state import FrameFeatures, ObjectOutput, ObjectTrack

MASK_OUT_SCALE, MASK_OUT_BIAS = 20.0, -10.0  # SAM 2's logits for a mask prompt
PREV_LOGIT_CLAMP = 32.0


class Propagator:
    """The steps of one model and its memory policy."""

    def __init__(self, runner: ModelRunner, policy: MemoryPolicy, corrections_as_conditioning: bool = False) -> None:
        self.runner = runner
        self.policy = policy
        # SAM 2's add_all_frames_to_correct_as_cond: a correction makes its frame a conditioning frame
        self.corrections_as_conditioning = corrections_as_conditioning

    def advance(self, track: ObjectTrack, previous: FrameFeatures | None, features: FrameFeatures) -> ObjectTrack:
        """The object, last seen on ``previous``'s frame, tracked to ``features``' frame."""
        runner = self.runner
        bank = track.bank
        out = track.output
        if out is not None and out.prompted:
            # prompt outputs go to memory when the next frame arrives (SAM 2's preflight)
            assert previous is not None and previous.frame_idx == out.frame_idx
            bank = bank.with_memory(runner.encode_memory(previous, out, from_points=True), out.conditioning)
        bank = self.policy.prune(bank, features.frame_idx)
        conditioned = runner.condition(features, bank, self.policy.select(features.frame_idx, bank))
        multimask = runner.use_multimask(is_init_cond=False, num_points=0)
        decoded = runner.decode(conditioned, features, None, None, None, multimask)
        output = decoded.output(features.frame_idx, prompted=False, conditioning=False)
        memory = runner.encode_memory(features, output, from_points=False)
        return ObjectTrack(
            track.obj_id,
            bank.with_memory(memory, conditioning=False),
            output,
            tracked_frame=features.frame_idx,
            conditioned=conditioned,
        )

    def prompt(self, track: ObjectTrack, features: FrameFeatures, prompt: PointPrompt | MaskPrompt) -> ObjectTrack:
        """The object with ``prompt`` applied on ``features``' frame (add, or refine earlier prompts)."""
        is_init_cond = track.tracked_frame != features.frame_idx
        if isinstance(prompt, MaskPrompt):
            output = self._mask_prompt(features, prompt, is_init_cond)
        else:
            out = track.output
            previous = out if out is not None and out.frame_idx == features.frame_idx else None
            output = self._point_prompt(features, track, prompt, previous, is_init_cond)
        if self.corrections_as_conditioning and not output.conditioning:
            output = replace(output, conditioning=True)
        return replace(track, output=output)

    def _point_prompt(
        self,
        features: FrameFeatures,
        track: ObjectTrack,
        prompt: PointPrompt,
        previous: ObjectOutput | None,
        is_init_cond: bool,
    ) -> ObjectOutput:
        runner = self.runner
        points, labels = prompt.points, prompt.labels
        if not prompt.has_box and previous is not None and previous.points is not None:
            # clicks on a frame add up with the earlier clicks there; a box starts over
            points = np.concatenate([previous.points, points])
            labels = np.concatenate([previous.labels, labels])
        mask_input = None
        if previous is not None:
            mask_input = np.clip(previous.low_res_logits, -PREV_LOGIT_CLAMP, PREV_LOGIT_CLAMP)
        if is_init_cond:
            embeddings = runner.no_memory_embeddings(features)
        else:
            assert track.conditioned is not None
            embeddings = track.conditioned
        multimask = runner.use_multimask(is_init_cond, len(labels))
        decoded = runner.decode(embeddings, features, points, labels, mask_input, multimask)
        frame = features.frame_idx
        return decoded.output(frame, prompted=True, conditioning=is_init_cond, points=points, labels=labels)

    def _mask_prompt(self, features: FrameFeatures, prompt: MaskPrompt, is_init_cond: bool) -> ObjectOutput:
        runner = self.runner
        low_size = runner.settings.low_res_size
        mask_f = prompt.mask
        high = mask_f * MASK_OUT_SCALE + MASK_OUT_BIAS
        low = image_ops.resize_float(high, low_size, low_size)
        mask_input = image_ops.conv_4x4_stride_4(
            mask_f, runner.host["mask_downsample_weight"], runner.host["mask_downsample_bias"]
        )
        pointer = runner.decode(features.embeddings, features, None, None, mask_input, False).object_pointer
        appearing = float(bool((mask_f > 0).any()))
        score = MASK_OUT_SCALE * appearing + MASK_OUT_BIAS
        pointer = runner.gate_pointer(pointer, appearing)
        return ObjectOutput(features.frame_idx, low, 1.0, pointer, score, prompted=True, conditioning=is_init_cond)
