"""Region similarity J and contour accuracy F (DAVIS definitions) on masks with known answers."""

import numpy as np
import pytest

from sam2_ros.evaluation.metrics import boundary, boundary_f, dilate, iou


def square(size: int, x0: int, y0: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[y0 : y0 + side, x0 : x0 + side] = True
    return mask


def test_iou_known_values():
    a, b = square(20, 0, 0, 10), square(20, 5, 0, 10)
    assert iou(a, a) == 1.0
    assert iou(a, b) == pytest.approx(50 / 150)
    assert iou(a, square(20, 10, 10, 5)) == 0.0
    empty = np.zeros((20, 20), bool)
    assert iou(empty, empty) == 1.0  # correctly reported absent
    assert iou(a, empty) == 0.0


def test_boundary_is_the_outline():
    outline = boundary(square(10, 2, 2, 4))
    assert outline.sum() == 12  # a 4x4 square's perimeter pixels
    assert not outline[3:5, 3:5].any()


def test_dilate_uses_a_disk():
    point = np.zeros((9, 9), bool)
    point[4, 4] = True
    grown = dilate(point, 2)
    assert grown.sum() == 13  # the pixels within distance 2 of the centre
    assert grown[4, 6] and grown[6, 4] and not grown[6, 6]


def test_boundary_f_tolerance():
    a = square(200, 50, 50, 60)
    assert boundary_f(a, a) == 1.0
    # the tolerance is ceil(0.008 * diagonal) = 3 px here: a 2 px shift is still a perfect contour
    assert boundary_f(a, square(200, 52, 50, 60)) == 1.0
    far = boundary_f(a, square(200, 70, 50, 60))
    assert 0.0 < far < 0.7
    empty = np.zeros_like(a)
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(a, empty) == 0.0
