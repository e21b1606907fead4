"""The parity harness: one scenario run through the engine and an official predictor, compared
after every step (SAM 2 against Meta's ``SAM2VideoPredictor``, EdgeTAM against Meta's EdgeTAM).

Both run the same seeded random checkpoint, the same synthetic clip and the same prompts. The
official predictor is driven as a stream: it tracks one frame at a time and prompts land only on
frames it has reached. After every step, for every object: low-res mask logits and object
pointers agree within 1e-4 (absolute) and the visible/occluded decision is identical.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import Sam2Tracker
from sam2_ros.engine.runner import ModelRunner
from sam2_ros.evaluation.reference import OfficialStream


def meta_sam2_predictor(model, **options):
    """Meta's SAM 2 predictor for an exported SAM 2 test model."""
    from sam2_ros.evaluation.reference import build_official_predictor

    return build_official_predictor(model.checkpoint, model.config, image_size=model.image_size, **options)


def tracker_with_a_glue_mistake(model_dir) -> Sam2Tracker:
    """A tracker whose memories carry the temporal encoding of the wrong frame (rolled by one): the
    kind of glue mistake the parity comparison must catch."""
    runner = ModelRunner.load(model_dir, threads=2)
    runner.host = dict(runner.host, maskmem_tpos_enc=np.roll(runner.host["maskmem_tpos_enc"], 1, axis=0))
    return Sam2Tracker(runner)


LOGIT_TOL = 1e-4
POINTER_TOL = 1e-4
# The official predictor uses min(num_frames, 16) object pointers; a live stream has no
# end, so the reference is always given at least 16 frames (only the first ones may be tracked).
MIN_LOADED_FRAMES = 16


@dataclass
class ParityRecord:
    """What a scenario saw: worst errors and every (frame, obj, visible) decision."""

    max_logit_error: float = 0.0
    max_pointer_error: float = 0.0
    decisions: list[tuple[int, int, bool]] = field(default_factory=list)
    steps: int = 0


def _compare(step: str, frame: int, engine_result, reference, record: ParityRecord) -> None:
    assert set(engine_result.objects) == set(reference), f"{step}: object ids differ"
    for obj_id, ref in reference.items():
        got = engine_result.objects[obj_id]
        logit_err = float(np.max(np.abs(got.low_res_logits - ref.low_res_logits)))
        ptr_err = float(np.max(np.abs(got.object_pointer - ref.object_pointer)))
        assert logit_err <= LOGIT_TOL, f"{step}: object {obj_id} logits differ by {logit_err:.3g}"
        assert ptr_err <= POINTER_TOL, f"{step}: object {obj_id} pointer differs by {ptr_err:.3g}"
        assert got.present == (ref.object_score > 0), f"{step}: object {obj_id} visibility differs"
        record.max_logit_error = max(record.max_logit_error, logit_err)
        record.max_pointer_error = max(record.max_pointer_error, ptr_err)
        record.decisions.append((frame, obj_id, got.present))
    record.steps += 1


def run_scenario(
    model,
    num_frames: int,
    script: dict,
    seed: int = 1,
    tmp_path=None,
    tracker=None,
    official_options: dict | None = None,
    after_frame: Callable[[int, Sam2Tracker, OfficialStream], None] | None = None,
    reference: Callable[..., object] = meta_sam2_predictor,
) -> ParityRecord:
    """Run ``script`` ({frame: [action, ...]}) through the engine and the official predictor.

    Actions: ("points", id, points, labels[, accumulate]), ("box", id, box),
    ("mask", id, mask), ("remove", id). ``official_options`` go to
    ``reference(model, **official_options)``, which builds the official predictor (Meta's SAM 2 by
    default); ``after_frame(t, engine, stream)`` runs after each frame's actions.

    The official predictor's outputs of a completed scenario are kept for the session: the same
    scenario (model, reference, options, clip, frames, script) run again against another engine
    (test_openvino repeats test_parity's) is compared with them instead of running Meta's predictor
    again. Not with ``after_frame``, which reads the live predictor.
    """
    clip = generate_clip(seed, num_frames=max(num_frames, MIN_LOADED_FRAMES))
    engine = tracker or Sam2Tracker.from_model_dir(model.model_dir, threads=2)
    key = (
        None if after_frame is not None else _scenario_key(model, num_frames, script, seed, official_options, reference)
    )
    kept = _REFERENCE_OUTPUTS.get(key) if key is not None else None
    if kept is not None:
        stream, replay = None, iter(kept)
    else:
        predictor = reference(model, **(official_options or {}))
        stream, replay = OfficialStream(predictor, clip.frames, workdir=tmp_path), None
    outputs: list[dict] = []

    def official(run: Callable[[], dict]) -> dict:
        ref = run() if replay is None else next(replay)
        outputs.append(ref)
        return ref

    record = ParityRecord()
    try:
        for t in range(num_frames):
            _compare(f"frame {t} track", t, engine.track(clip.frames[t]), official(lambda: stream.track()), record)
            for action in script.get(t, []):
                kind, obj_id = action[0], action[1]
                step = f"frame {t} {kind} {obj_id}"
                if kind == "points":
                    accumulate = len(action) > 4 and action[4]
                    got = engine.add_prompt(obj_id, points=action[2], labels=action[3])
                    ref = official(
                        lambda: stream.add_points(obj_id, points=action[2], labels=action[3], accumulate=accumulate)
                    )
                elif kind == "box":
                    got = engine.add_prompt(obj_id, box=action[2])
                    ref = official(lambda: stream.add_points(obj_id, box=action[2]))
                elif kind == "mask":
                    got = engine.add_prompt(obj_id, mask=action[2])
                    ref = official(lambda: stream.add_mask(obj_id, action[2]))
                elif kind == "remove":
                    engine.remove_object(obj_id)
                    if stream is not None:
                        stream.remove(obj_id)
                    assert obj_id not in engine.object_ids
                    continue
                else:  # pragma: no cover - a typo in a scenario
                    raise ValueError(kind)
                _compare(step, t, got, ref, record)
            if after_frame is not None:
                after_frame(t, engine, stream)
    finally:
        if stream is not None:
            stream.close()
    if key is not None and kept is None:
        _REFERENCE_OUTPUTS[key] = outputs  # complete: every step compared, none failed
    return record


# The official predictor's outputs of each completed scenario, step by step (run_scenario).
_REFERENCE_OUTPUTS: dict[str, list[dict]] = {}


def _scenario_key(model, num_frames, script, seed, official_options, reference) -> str:
    """What decides the official predictor's outputs of a scenario (the engine side does not)."""
    what = (
        f"{reference.__module__}.{reference.__qualname__}",
        str(model.checkpoint),
        model.config,
        model.image_size,
        num_frames,
        script,
        seed,
        sorted((official_options or {}).items()),
    )
    digest = hashlib.sha256()
    _digest(what, digest)
    return digest.hexdigest()


def _digest(value, digest) -> None:
    """Feed ``value`` (nested tuples, lists, dicts, arrays and scalars) into ``digest``: arrays by
    dtype, shape and bytes, everything else by repr."""
    if isinstance(value, np.ndarray):
        digest.update(f"array {value.dtype} {value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        digest.update(b"dict")
        for key in sorted(value):
            _digest(key, digest)
            _digest(value[key], digest)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__} {len(value)}".encode())
        for item in value:
            _digest(item, digest)
    else:
        digest.update(repr(value).encode())
