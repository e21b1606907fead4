"""The engine's numpy glue against the PyTorch operations SAM 2 uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from sam2_ros.engine import image_ops


@pytest.mark.parametrize("src, dst", [((64, 64), (256, 256)), ((64, 64), (240, 320)), ((256, 256), (480, 640))])
def test_resize_float_enlarging_is_torch_bilinear(src, dst):
    x = np.random.default_rng(0).normal(size=src).astype(np.float32) * 10
    want = F.interpolate(torch.from_numpy(x)[None, None], size=dst, mode="bilinear", align_corners=False)[0, 0].numpy()
    # PyTorch computes source coordinates in float32 (PIL in double): for non-integer scale
    # factors its weights carry ~1e-6 relative error, up to ~1e-3 on logits of +-40.
    atol = 1e-5 if all(d % s == 0 for d, s in zip(dst, src)) else 2e-3
    np.testing.assert_allclose(image_ops.resize_float(x, *dst), want, atol=atol)


@pytest.mark.parametrize("src, dst", [((256, 256), (64, 64)), ((240, 320), (256, 256)), ((1024, 1024), (256, 256))])
def test_resize_float_shrinking_is_torch_antialiased_bilinear(src, dst):
    x = np.random.default_rng(1).normal(size=src).astype(np.float32) * 10
    want = F.interpolate(
        torch.from_numpy(x)[None, None], size=dst, mode="bilinear", align_corners=False, antialias=True
    )[0, 0].numpy()
    np.testing.assert_allclose(image_ops.resize_float(x, *dst), want, atol=1e-5)


def test_bfloat16_round_trip_matches_torch():
    x = np.random.default_rng(2).normal(size=10000).astype(np.float32) * 100
    want = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(image_ops.from_bfloat16(image_ops.to_bfloat16(x)), want)


def test_conv_4x4_stride_4_matches_torch_conv():
    rng = np.random.default_rng(3)
    x = (rng.random((64, 64)) > 0.5).astype(np.float32)
    w, b = rng.normal(size=(4, 4)).astype(np.float32), rng.normal(size=1).astype(np.float32)
    want = F.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None], torch.from_numpy(b), stride=4)
    np.testing.assert_allclose(image_ops.conv_4x4_stride_4(x, w, b), want[0, 0].numpy(), atol=1e-5)


def test_sine_encoding_matches_sam2():
    from sam2.modeling.sam2_utils import get_1d_sine_pe

    pos = np.array([0, 1, 5, 15, -3], np.float32) / 15
    want = get_1d_sine_pe(torch.from_numpy(pos), dim=256).numpy()
    np.testing.assert_allclose(image_ops.sine_encoding_1d(pos, 256), want, atol=1e-6)


def test_preprocess_matches_sam2_frame_loader(tmp_path):
    from sam2.utils.misc import _load_img_as_tensor

    image = np.random.default_rng(4).integers(0, 256, size=(120, 200, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "f.png")
    ref, _, _ = _load_img_as_tensor(str(tmp_path / "f.png"), 128)
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    ref = ((ref.float() - mean) / std).numpy()
    got = image_ops.preprocess(image, 128, mean.numpy().ravel(), std.numpy().ravel())
    np.testing.assert_array_equal(got[0], ref)
