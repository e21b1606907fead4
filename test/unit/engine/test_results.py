"""A frame result's outputs without specks (engine/results.py), and one meaning of "visible".

Plain numpy: results built from hand-made low-res logits, no model.
"""

from __future__ import annotations

import numpy as np
import pytest

from sam2_ros.engine.results import DEFAULT_SPECK_FRACTION, FrameResult, ObjectResult, without_specks


def result(logits: np.ndarray, score: float = 3.0, size=(240, 320), **kwargs) -> ObjectResult:
    return ObjectResult(1, logits, 0.9, score, np.zeros(256, np.float32), False, size, **kwargs)


def object_with_speck() -> np.ndarray:
    """64x64 low-res logits: an object (a 12x14 block) and a one-pixel speck far from it."""
    logits = np.full((64, 64), -8.0, np.float32)
    logits[10:22, 8:22] = 6.0
    logits[55, 60] = 2.0  # one low-res pixel above the threshold
    return logits


def test_a_speck_far_from_the_object_is_left_out_of_mask_box_and_area():
    logits = object_with_speck()
    clean, raw = result(logits), result(logits, speck_fraction=0.0)
    assert raw.bbox[2] > 290 and raw.bbox[3] > 200  # the speck stretches the box over the image
    x0, y0, x1, y1 = clean.bbox
    assert (x0, y0) == raw.bbox[:2] and x1 <= 112 and y1 <= 85  # the object's own box
    assert clean.area < raw.area
    # the object's own pixels are exactly those of the raw mask: only the speck went
    np.testing.assert_array_equal(clean.mask, raw.mask & (np.arange(240)[:, None] < 150))
    np.testing.assert_array_equal(clean.low_res_logits, logits)  # what memory stores is untouched
    assert not np.shares_memory(clean.output_logits, logits)


def test_regions_of_comparable_size_are_all_kept():
    logits = np.full((64, 64), -8.0, np.float32)
    logits[5:15, 5:15] = 5.0  # an object split in two by an occluder: both halves stay
    logits[40:48, 40:50] = 5.0
    assert without_specks(logits, 0.0, DEFAULT_SPECK_FRACTION) is logits
    obj = result(logits)
    assert obj.bbox == result(logits, speck_fraction=0.0).bbox


def test_the_fraction_decides_what_a_speck_is():
    logits = np.full((64, 64), -8.0, np.float32)
    logits[0:10, 0:10] = 5.0  # 100 px
    logits[50:54, 50:54] = 5.0  # 16 px: 16% of the largest
    assert without_specks(logits, 0.0, 0.1) is logits
    cleaned = without_specks(logits, 0.0, 0.2)
    assert (cleaned[50:54, 50:54] < 0).all() and (cleaned[0:10, 0:10] == 5.0).all()
    assert without_specks(logits, 5.5, 0.2) is logits  # nothing above this threshold: nothing to do


def test_present_with_an_empty_mask_is_not_visible_anywhere():
    """SAM 2 may say "present" (object score > 0) while no logit is above the threshold: the
    object is not visible, has no box, and is not in the label image."""
    empty = result(np.full((64, 64), -3.0, np.float32), score=2.0)
    assert empty.present and not empty.visible
    assert empty.area == 0 and empty.bbox is None
    frame = FrameResult(0, (240, 320), {1: empty})
    assert not frame.label_image().any()
    hidden = result(object_with_speck(), score=-1.0)
    assert not hidden.present and not hidden.visible and hidden.area > 0


@pytest.mark.parametrize("threshold", [0.0, 2.0])
def test_the_label_image_leaves_specks_out(threshold):
    logits = object_with_speck()
    logits[55, 60] = threshold + 2.0
    frame = FrameResult(0, (240, 320), {1: result(logits, mask_threshold=threshold)})
    labels = frame.label_image()
    assert labels[200:, 280:].sum() == 0 and labels[45:75, 50:100].all()
