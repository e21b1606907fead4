"""Clips, scripted prompts and contact sheets for the tools (player, demos): one copy of each.

Frames come from a folder of images (name order) or a video file (OpenCV), as HxWx3 uint8 RGB.
Prompt YAML, read as data (``yaml.safe_load``) and checked here, maps a frame index to a list of
prompts::

    0:
      - {id: 1, points: [[x, y], ...], labels: [1, ...], label: cup}   # add or refine (clicks)
      - {id: 2, box: [x0, y0, x1, y1], label: box}                     # add or refine (box)
    8:
      - {id: 1, remove: true}                                          # forget an object
      - {reset: true}                                                  # forget every object

``label`` (a name) and ``stream`` (the node's stream; empty = the only one) are optional.
The same prompts can also be a list, each item saying when: ``frame: N`` (an image index) or, for a
recording (the player's ``--bag``), ``time: SECONDS`` from the bag's first image::

    - {time: 0.0, id: 1, points: [[x, y]], labels: [1], label: cup}
    - {time: 2.5, id: 1, remove: true}
    - {frame: 40, reset: true}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
PROMPT_KEYS = {"id", "points", "labels", "label", "box", "remove", "reset", "stream"}


def load_image_folder(folder: Path, limit: int | None = None) -> np.ndarray:
    """The images in ``folder`` (:data:`IMAGE_SUFFIXES`, name order, at most ``limit``) as NxHxWx3 RGB."""
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not paths:
        raise SystemExit(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    sizes = {f.shape for f in frames}
    if len(sizes) > 1:
        raise SystemExit(f"the images in {folder} differ in size: {sorted(sizes)}")
    return np.stack(frames)


def load_video(path: Path, limit: int | None = None) -> np.ndarray:
    """The first ``limit`` frames (all if None) of a video file, read with OpenCV, as NxHxWx3 RGB."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while limit is None or len(frames) < limit:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(np.ascontiguousarray(bgr[..., ::-1]))
    finally:
        capture.release()
    if not frames:
        raise SystemExit(f"cannot read video {path}")
    return np.stack(frames)


class PromptScript(NamedTuple):
    """Scripted prompts: per image index, and at times (seconds from the first image, file order)."""

    frames: dict[int, list[dict[str, Any]]]
    times: list[tuple[float, dict[str, Any]]]


def load_prompts(path: Path | None) -> dict[int, list[dict[str, Any]]]:
    """Scripted prompts per frame index from a prompt YAML (see the module docstring); ``{}`` without one.

    Raises ``SystemExit`` with the file, frame and item at fault when the YAML does not fit the schema,
    and for ``time:`` items (they need a recording: :func:`load_prompt_script`).
    """
    script = load_prompt_script(path)
    if script.times:
        raise SystemExit(f"{path}: prompts at a time: need a recording (the player's --bag); use frame: N")
    return script.frames


def load_prompt_script(path: Path | None) -> PromptScript:
    """Scripted prompts by frame index and by time from a prompt YAML (mapping or list form; module docstring).

    Raises ``SystemExit`` with the file, frame (or item) and item at fault when the YAML does not fit.
    """
    if path is None:
        return PromptScript({}, [])
    path = Path(path)
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"{path}: cannot read prompts: {exc}") from exc
    if raw is None:
        return PromptScript({}, [])
    if isinstance(raw, list):
        return _prompt_list(path, raw)
    if not isinstance(raw, dict):
        raise SystemExit(
            f"{path}: expected a mapping of frame index to a list of prompts, or a list of prompts with "
            f"frame: or time:, got {type(raw).__name__}"
        )
    prompts: dict[int, list[dict[str, Any]]] = {}
    for key, items in raw.items():
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise SystemExit(f"{path}: frame index {key!r} is not an integer >= 0")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise SystemExit(f"{path}: frame {key}: expected a list of prompts, got {items!r}")
        for item in items:
            problem = _prompt_problem(item)
            if problem:
                raise SystemExit(f"{path}: frame {key}: {problem}: {item!r}")
        prompts.setdefault(key, []).extend(dict(item) for item in items)
    return PromptScript(prompts, [])


def _prompt_list(path: Path, raw: list[Any]) -> PromptScript:
    """The list form: each item a prompt plus ``frame: N`` or ``time: SECONDS``."""
    frames: dict[int, list[dict[str, Any]]] = {}
    times: list[tuple[float, dict[str, Any]]] = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise SystemExit(f"{path}: item {n}: a prompt must be a mapping: {entry!r}")
        when = [key for key in ("frame", "time") if key in entry]
        if len(when) != 1:
            raise SystemExit(f"{path}: item {n}: give either frame: N or time: SECONDS: {entry!r}")
        item = {k: v for k, v in entry.items() if k not in ("frame", "time")}
        problem = _prompt_problem(item)
        if problem:
            raise SystemExit(f"{path}: item {n}: {problem}: {entry!r}")
        value = entry[when[0]]
        if when[0] == "frame":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SystemExit(f"{path}: item {n}: frame {value!r} is not an integer >= 0")
            frames.setdefault(value, []).append(item)
        else:
            if not _is_number(value) or value < 0:
                raise SystemExit(f"{path}: item {n}: time {value!r} is not a number of seconds >= 0")
            times.append((float(value), item))
    return PromptScript(frames, times)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _prompt_problem(item: Any) -> str | None:
    """Why ``item`` is not a valid scripted prompt, or None."""
    if not isinstance(item, dict):
        return "a prompt must be a mapping"
    unknown = set(item) - PROMPT_KEYS
    if unknown:
        return f"unknown key(s) {sorted(unknown)} (known: {sorted(PROMPT_KEYS)})"
    if "stream" in item and not isinstance(item["stream"], str):
        return "stream must be a string"
    if item.get("reset"):
        extra = set(item) - {"reset", "stream"}
        return f"reset: true takes no other keys, got {sorted(extra)}" if extra else None
    obj_id = item.get("id")
    if isinstance(obj_id, bool) or not isinstance(obj_id, int) or obj_id < 1:
        return "id must be an integer >= 1"
    if item.get("remove"):
        return None
    if "label" in item and not isinstance(item["label"], str):
        return "label must be a string"
    points, labels, box = item.get("points"), item.get("labels"), item.get("box")
    if points is None and box is None:
        return "a prompt needs points (with labels) or a box, or remove: true, or reset: true"
    if points is not None:
        if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in points
        ):
            return "points must be a list of [x, y]"
        if not isinstance(labels, list) or len(labels) != len(points) or any(v not in (0, 1) for v in labels):
            return "labels must list 1 (foreground) or 0 (background) for each point"
    elif labels is not None:
        return "labels without points"
    if box is not None and not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
        return "box must be [x0, y0, x1, y1]"
    return None


def contact_sheet(frames: Sequence[np.ndarray], count: int = 12, columns: int = 4, scale: float = 1.0) -> Any:
    """A PIL image of up to ``count`` evenly spaced ``frames`` (HxWx3 uint8), ``columns`` wide, each scaled."""
    from PIL import Image

    if not frames:
        raise ValueError("no frames for a contact sheet")
    picks = list(frames[:: max(1, len(frames) // count)])[:count]
    h, w = picks[0].shape[:2]
    tw, th = int(w * scale), int(h * scale)
    sheet = Image.new("RGB", (columns * tw, ((len(picks) + columns - 1) // columns) * th))
    for i, rgb in enumerate(picks):
        tile = Image.fromarray(np.asarray(rgb, np.uint8))
        if (tw, th) != (w, h):
            tile = tile.resize((tw, th))
        sheet.paste(tile, ((i % columns) * tw, (i // columns) * th))
    return sheet
