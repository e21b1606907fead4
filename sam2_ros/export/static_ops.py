"""Hiera's window partition and attention written with tensors of rank 4 at most.

SAM 2's Hiera reshapes into 5-D and 6-D tensors (window partition, the fused q/k/v split).
The Qualcomm HTP cannot allocate those graphs ("QNN_COMMON_ERROR_MEM_ALLOC" at finalize).
These replacements compute the same values with rank <= 4 for a batch of one image, which
is what the image encoder component exports. EdgeTAM's spatial perceiver partitions the memory
into windows with a 6-D view as well; the same rank-4 partition replaces it. :func:`hiera_for_static_runtimes`
swaps them in for the duration of a static-shape export only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """[1, H, W, C] -> [num_windows, window, window, C] (padded), as sam2's, with 4-D tensors."""
    _, height, width, channels = x.shape
    pad_h, pad_w = (window - height % window) % window, (window - width % window) % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = height + pad_h, width + pad_w
    x = x.reshape(hp // window, window, wp // window, window * channels).permute(0, 2, 1, 3)
    return x.reshape(-1, window, window, channels), (hp, wp)


def window_unpartition(
    windows: torch.Tensor, window: int, pad_hw: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`: back to [1, H, W, C]."""
    (hp, wp), (height, width) = pad_hw, hw
    channels = windows.shape[-1]
    x = windows.reshape(hp // window, wp // window, window, window * channels).permute(0, 2, 1, 3)
    x = x.reshape(1, hp, wp, channels)
    if hp > height or wp > width:
        x = x[:, :height, :width, :].contiguous()
    return x


def multiscale_attention_forward(self, x: torch.Tensor) -> torch.Tensor:
    """``MultiScaleAttention.forward`` with the q/k/v split done in 4-D."""
    from sam2.modeling.backbones.hieradet import do_pool

    b, height, width, _ = x.shape
    q, k, v = torch.unbind(self.qkv(x).reshape(b, height * width, 3, -1), 2)
    if self.q_pool:
        q = do_pool(q.reshape(b, height, width, -1), self.q_pool)
        height, width = q.shape[1:3]
        q = q.reshape(b, height * width, -1)

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(b, t.shape[1], self.num_heads, -1).transpose(1, 2)

    x = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
    return self.proj(x.transpose(1, 2).reshape(b, height, width, -1))


def perceiver_window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """EdgeTAM's ``perceiver.window_partition`` ([1, H, W, C] -> [windows, window, window, C]) in 4-D."""
    return window_partition(x, window)[0]


@contextlib.contextmanager
def hiera_for_static_runtimes() -> Iterator[None]:
    """Use the rank-4 Hiera (and EdgeTAM perceiver) operations inside this block (restored afterwards)."""
    import sam2.modeling.backbones.hieradet as hieradet

    try:
        import sam2.modeling.perceiver as perceiver
    except ImportError:  # Meta's SAM 2 code: no perceiver
        perceiver = None
    saved = (hieradet.window_partition, hieradet.window_unpartition, hieradet.MultiScaleAttention.forward)
    hieradet.window_partition = window_partition
    hieradet.window_unpartition = window_unpartition
    hieradet.MultiScaleAttention.forward = multiscale_attention_forward
    saved_perceiver = perceiver.window_partition if perceiver is not None else None
    if perceiver is not None:
        perceiver.window_partition = perceiver_window_partition
    try:
        yield
    finally:
        hieradet.window_partition, hieradet.window_unpartition, hieradet.MultiScaleAttention.forward = saved
        if perceiver is not None:
            perceiver.window_partition = saved_perceiver
