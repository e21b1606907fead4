"""Draw a tracking result on its image: tinted masks, boxes, ids and labels (numpy + PIL only).

The one copy of the overlay drawing, used by the node's ``overlay`` topic and the demos. It reads
only ``result.objects`` (id -> object) and, per object, ``visible``, ``area``, ``mask`` and ``bbox``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

PALETTE = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240]],
    np.uint8,
)
TINT = 0.55  # weight of the object's colour in a masked pixel
TEXT = (255, 255, 255)


def colour(obj_id: int) -> np.ndarray:
    """A stable RGB colour per object id (ids 1, 2, ... take the palette in order)."""
    return PALETTE[(obj_id - 1) % len(PALETTE)]


def draw_overlay(
    rgb: np.ndarray, result: Any, labels: Mapping[int, str] | None = None, caption: str | None = None
) -> np.ndarray:
    """``rgb`` (HxWx3 uint8) with each visible object's mask tinted, its box and "id label" text.

    ``labels`` maps object ids to names (optional); ``caption`` (e.g. "frame 3") is written in the
    top-left corner. Returns a new HxWx3 uint8 array.
    """
    from PIL import Image, ImageDraw

    labels = labels or {}
    out = rgb.astype(np.float32)
    for obj_id, obj in result.objects.items():
        if obj.visible and obj.area:
            out[obj.mask] = (1.0 - TINT) * out[obj.mask] + TINT * colour(obj_id)
    image = Image.fromarray(out.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for obj_id, obj in result.objects.items():
        if obj.visible and obj.bbox:
            draw.rectangle(list(obj.bbox), outline=tuple(int(c) for c in colour(obj_id)), width=2)
            text = f"{obj_id} {labels.get(obj_id, '')}".strip()
            draw.text((obj.bbox[0] + 3, obj.bbox[1] + 2), text, fill=TEXT)
    if caption:
        draw.text((4, 4), caption, fill=TEXT)
    return np.asarray(image)
