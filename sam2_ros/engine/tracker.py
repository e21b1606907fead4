"""Streaming SAM 2 tracker: frame in, every prompted object's mask out, bounded memory.

It reproduces ``sam2.SAM2VideoPredictor`` driven frame by frame: ``track(image)`` is
``propagate_in_video`` on one new frame, ``add_prompt`` is ``add_new_points_or_box`` /
``add_new_mask`` on a frame already tracked. Prompt outputs are written to memory when the
next frame arrives, as the official predictor does at its next propagation.

This module holds the state (the last ``prompt_history`` frames, each with every object's
state after it) and the public API. The model stages are in :mod:`~sam2_ros.engine.runner`,
the per-object steps in :mod:`~sam2_ros.engine.propagation`, prompt checks in
:mod:`~sam2_ros.engine.prompts` and memory selection in :mod:`~sam2_ros.engine.memory`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine.errors import InvalidInputError
from sam2_ros.engine.manifest import Manifest, ModelSettings
from sam2_ros.engine.memory import MemoryPolicy
from sam2_ros.engine.prompts import check_image, check_obj_id, normalize_prompt
from sam2_ros.engine.propagation import Propagator
from sam2_ros.engine.results import DEFAULT_SPECK_FRACTION, FrameResult, ObjectResult
from sam2_ros.engine.runner import ModelRunner
from sam2_ros.engine.state import FrameState, ObjectSnapshot, ObjectTrack

Points = Sequence[Sequence[float]] | np.ndarray


class Sam2Tracker:
    """SAM 2 video tracking on a live stream, one frame at a time."""

    def __init__(
        self,
        runner: ModelRunner,
        prompt_history: int = 1,
        mask_threshold: float = 0.0,
        backend_name: str = "onnxruntime",
        corrections_as_conditioning: bool = False,
        max_conditioning_frames: int | None = None,
        speck_fraction: float = DEFAULT_SPECK_FRACTION,
    ) -> None:
        if prompt_history < 1:
            raise ValueError("prompt_history must be at least 1")
        self._runner = runner
        self.backend_name = backend_name
        self.max_conditioning_frames = max_conditioning_frames
        policy = MemoryPolicy.from_settings(runner.settings, max_conditioning_frames)
        self._propagator = Propagator(runner, policy, bool(corrections_as_conditioning))
        self.prompt_history = int(prompt_history)
        self.mask_threshold = float(mask_threshold)
        # outputs leave out mask regions under this fraction of the object's largest (results.py)
        self.speck_fraction = float(speck_fraction)
        # the only state: the last `prompt_history` frames, each with every object's state after it
        self._history: deque[FrameState] = deque(maxlen=self.prompt_history)

    @classmethod
    def from_model_dir(
        cls,
        path: str | Path,
        backend: str = "onnxruntime",
        threads: int | None = None,
        backend_options: dict[str, Any] | None = None,
        verify_hashes: bool = True,
        prompt_history: int = 1,
        corrections_as_conditioning: bool = False,
        max_conditioning_frames: int | None = None,
        speck_fraction: float = DEFAULT_SPECK_FRACTION,
    ) -> Sam2Tracker:
        """Load and check a model directory written by ``sam2-ros-export``.

        ``prompt_history`` is how many of the last tracked frames keep their encodings, so
        a prompt made on one of them (``add_prompt(..., at=key)``) lands there.
        ``corrections_as_conditioning`` makes a correction (a prompt for a known object on a
        frame it was tracked on) a conditioning frame, kept in memory, as SAM 2's
        ``add_all_frames_to_correct_as_cond=True``; the default (False) is SAM 2's default.
        ``max_conditioning_frames`` (>= 2, or -1 for no bound) overrides the model's
        ``max_cond_frames_in_attn``: only that many conditioning frames, the closest, are
        attended, and older ones are dropped (None keeps the model's setting).
        ``speck_fraction``: regions of an object's mask smaller than this fraction of its largest
        region are left out of its outputs (mask, box, area, visibility); 0 keeps them all. The
        memory bank stores the raw mask either way, as Meta's predictor does.
        """
        return cls(
            ModelRunner.load(path, backend, threads, backend_options, verify_hashes),
            prompt_history,
            backend_name=backend,
            corrections_as_conditioning=corrections_as_conditioning,
            max_conditioning_frames=max_conditioning_frames,
            speck_fraction=speck_fraction,
        )

    def spawn(self, prompt_history: int | None = None) -> Sam2Tracker:
        """A new, empty tracker (another stream) sharing this one's loaded model."""
        history = self.prompt_history if prompt_history is None else prompt_history
        return Sam2Tracker(
            self._runner.spawn(),
            history,
            self.mask_threshold,
            self.backend_name,
            self.corrections_as_conditioning,
            self.max_conditioning_frames,
            self.speck_fraction,
        )

    # ------------------------------------------------------------------ properties
    @property
    def manifest(self) -> Manifest:
        """The model directory's manifest."""
        return self._runner.manifest

    @property
    def settings(self) -> ModelSettings:
        """The model's SAM 2 settings."""
        return self._runner.settings

    @property
    def corrections_as_conditioning(self) -> bool:
        """Whether a correction makes its frame a conditioning frame (see ``from_model_dir``)."""
        return self._propagator.corrections_as_conditioning

    @property
    def memory_policy(self) -> MemoryPolicy:
        """The memory policy in use: the model's settings, with ``max_conditioning_frames`` applied."""
        return self._propagator.policy

    @property
    def frame_idx(self) -> int:
        """Index of the last tracked frame (-1 before the first)."""
        return self._history[-1].features.frame_idx if self._history else -1

    @property
    def object_ids(self) -> list[int]:
        """Ids of the objects being tracked, in the order they were added."""
        return list(self._history[-1].tracks) if self._history else []

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(height, width) of the last tracked frame."""
        return self._history[-1].features.image_size if self._history else None

    @property
    def cached_keys(self) -> list[Hashable]:
        """Keys of the frames a prompt can still be applied to (oldest first)."""
        return [state.key for state in self._history]

    @property
    def cached_frames(self) -> list[int]:
        """Indices of the frames a prompt can still be applied to (oldest first)."""
        return [state.features.frame_idx for state in self._history]

    def object_state(self, obj_id: int) -> ObjectSnapshot:
        """A read-only snapshot of ``obj_id``'s memory bank and output after the newest frame."""
        track = self._history[-1].tracks.get(obj_id) if self._history else None
        if track is None:
            raise InvalidInputError(f"unknown object id {obj_id!r}; tracked ids: {self.object_ids}")
        return ObjectSnapshot.of(track)

    def memory_footprint(self) -> int:
        """Bytes held in memory banks, cached features and outputs (for boundedness checks)."""
        seen: set[int] = set()

        def size(array: np.ndarray | None) -> int:
            if array is None or id(array) in seen:
                return 0
            seen.add(id(array))
            return array.nbytes

        total = 0
        for state in self._history:
            f = state.features
            total += sum(size(a) for a in (f.high_res_0, f.high_res_1, f.embeddings, f.pos))
            for track in state.tracks.values():
                for mem in (*track.bank.conditioning.values(), *track.bank.recent.values()):
                    total += size(mem.object_pointer) + size(mem.features)
                total += size(track.conditioned)
                if track.output is not None:
                    total += size(track.output.low_res_logits)
        return total

    # ------------------------------------------------------------------ public API
    def track(self, image: np.ndarray, key: Hashable = None) -> FrameResult:
        """Encode a new frame and propagate every object to it.

        ``key`` names the frame for later prompts (``add_prompt(..., at=key)``); the default
        is the frame's index. Keys need not be unique: a prompt lands on the newest frame
        with its key.
        """
        check_image(image)
        self._runner.timer.reset()
        previous = self._history[-1] if self._history else None
        features = self._runner.encode_image(image, self.frame_idx + 1)
        tracks = {}
        if previous is not None:
            for obj_id, track in previous.tracks.items():
                tracks[obj_id] = self._propagator.advance(track, previous.features, features)
        key = features.frame_idx if key is None else key
        self._history.append(FrameState(key, features, tracks))
        return self._result()

    def add_prompt(
        self,
        obj_id: int,
        points: Points | None = None,
        labels: Sequence[int] | np.ndarray | None = None,
        box: Sequence[float] | np.ndarray | None = None,
        mask: np.ndarray | None = None,
        at: Hashable = None,
        frame_idx: int | None = None,
    ) -> FrameResult:
        """Prompt object ``obj_id`` (new id: add; known id: refine); return the newest frame.

        ``points`` are (x, y) pixels of the input image with ``labels`` 1 (foreground) or
        0 (background); ``box`` is (x0, y0, x1, y1) pixels; ``mask`` is HxW (non-zero =
        object). Points on a frame add up with earlier points on the same frame; a box or a
        mask replaces the earlier prompts of that frame.

        The prompt lands on the last tracked frame, or on the cached frame named by ``at``
        (its key) or ``frame_idx`` (its index; see ``cached_keys`` / ``cached_frames``):
        the object is then re-tracked from there to the newest frame, as if the prompt had
        come in time. Other objects are not touched.
        """
        if not self._history:
            raise InvalidInputError("no frame yet: call track(image) before add_prompt")
        obj_id = check_obj_id(obj_id)
        position = self._position(at, frame_idx)
        state = self._history[position]
        prompt = normalize_prompt(points, labels, box, mask, state.features.image_size, self.settings.image_size)
        self._runner.timer.reset()
        track = self._propagator.prompt(state.tracks.get(obj_id) or ObjectTrack(obj_id), state.features, prompt)
        # Re-track the object through the cached frames that follow, then commit all at once.
        updated = [FrameState(state.key, state.features, {**state.tracks, obj_id: track})]
        features = state.features
        for later in list(self._history)[position + 1 :]:
            track = self._propagator.advance(track, features, later.features)
            updated.append(FrameState(later.key, later.features, {**later.tracks, obj_id: track}))
            features = later.features
        for offset, new_state in enumerate(updated):
            self._history[position + offset] = new_state
        return self._result()

    def remove_object(self, obj_id: int) -> None:
        """Stop tracking ``obj_id``; raise InvalidInputError if it is not tracked."""
        if obj_id not in self.object_ids:
            raise InvalidInputError(f"unknown object id {obj_id!r}; tracked ids: {self.object_ids}")
        for state in self._history:
            state.tracks.pop(obj_id, None)

    def reset(self) -> None:
        """Forget every object and frame: the next ``track`` starts a new stream."""
        self._history.clear()

    # ------------------------------------------------------------------ helpers
    def _position(self, at: Hashable, frame_idx: int | None) -> int:
        """Where in the history a prompt lands: the newest frame, or the one named."""
        if at is not None and frame_idx is not None:
            raise InvalidInputError("give at (a frame key) or frame_idx (a frame index), not both")
        names: Sequence[Hashable]
        wanted: Hashable
        if frame_idx is not None:
            if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)):
                raise InvalidInputError(f"frame_idx must be an integer, got {frame_idx!r}")
            names, wanted, what = self.cached_frames, int(frame_idx), "frame"
        elif at is not None:
            names, wanted, what = self.cached_keys, at, "frame key"
        else:
            return len(self._history) - 1
        for position in range(len(names) - 1, -1, -1):
            if names[position] == wanted:
                return position
        raise InvalidInputError(f"{what} {wanted!r} is not cached; prompts can land on {names}")

    def _result(self) -> FrameResult:
        """The newest frame's result (full-resolution parts are computed when asked for)."""
        state = self._history[-1]
        size = state.features.image_size
        objects = {
            obj_id: ObjectResult(
                obj_id=obj_id,
                low_res_logits=out.low_res_logits,
                predicted_iou=out.predicted_iou,
                object_score=out.object_score,
                object_pointer=out.object_pointer,
                prompted=out.prompted,
                image_size=size,
                mask_threshold=self.mask_threshold,
                speck_fraction=self.speck_fraction,
            )
            for obj_id, track in state.tracks.items()
            if (out := track.output) is not None
        }
        return FrameResult(state.features.frame_idx, size, objects, self._runner.timer.snapshot(), state.key)
