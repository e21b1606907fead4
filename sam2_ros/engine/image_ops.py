"""Numeric helpers of the streaming glue, each matching what SAM 2 does in PyTorch.

- :func:`preprocess` is ``sam2.utils.misc._load_img_as_tensor`` + normalisation.
- :func:`resize_float` is ``F.interpolate(mode="bilinear", align_corners=False)`` when
  enlarging and the same with ``antialias=True`` when shrinking (PIL's and PyTorch's
  antialiased bilinear use the same separable triangle filter).
- :func:`to_bfloat16` / :func:`from_bfloat16` are ``tensor.to(torch.bfloat16)`` (round to
  nearest even) and back; SAM 2 stores mask memories in bfloat16.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def preprocess(image: np.ndarray, size: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> [1,3,size,size] float32, resized (PIL bicubic) and normalised."""
    resized = np.asarray(Image.fromarray(image, "RGB").resize((size, size)))
    x = (resized / 255.0).astype(np.float32)
    x -= mean
    x /= std
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def resize_float(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a 2-D float32 array to (height, width)."""
    if values.shape == (height, width):
        return values.astype(np.float32, copy=True)
    img = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32))
    return np.asarray(img.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function in float32."""
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x, dtype=np.float32))).astype(np.float32)


def to_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounding to nearest even like PyTorch."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    return ((bits + rounding) >> 16).astype(np.uint16)


def from_bfloat16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def conv_4x4_stride_4(mask: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """SAM 2's ``mask_downsample`` (Conv2d(1, 1, kernel 4, stride 4)) on a 2-D array."""
    h, w = mask.shape
    blocks = mask.reshape(h // 4, 4, w // 4, 4)
    return (np.einsum("aibj,ij->ab", blocks, weight, dtype=np.float32) + bias[0]).astype(np.float32)


def sine_encoding_1d(positions: np.ndarray, dim: int, temperature: float = 10000.0) -> np.ndarray:
    """``sam2.modeling.sam2_utils.get_1d_sine_pe`` in float32: [N] -> [N, dim]."""
    half = dim // 2
    index = np.arange(half, dtype=np.float32)
    dim_t = np.power(np.float32(temperature), (2 * (index // 2) / half).astype(np.float32))
    pe = positions.astype(np.float32)[:, None] / dim_t
    return np.concatenate([np.sin(pe), np.cos(pe)], axis=-1).astype(np.float32)
