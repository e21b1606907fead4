"""Stateless torch wrappers around SAM 2's four video components, ready for ONNX export.

The split follows SAM 2's own seams (``forward_image``, ``memory_attention``,
``_forward_sam_heads``, ``_encode_new_memory``). Everything that holds state or flips
near zero (memory selection, multimask choice, object-score gating, binarisation,
temporal encodings) stays on the host, in :mod:`sam2_ros.engine`.

Memory attention is re-expressed with real-valued rotary tables (SAM 2 uses complex
tensors, which no ONNX exporter supports) and query/key projections whose output channels are
de-interleaved, so the rotation needs no strided split or interleaving (glue that costs up to
a fifth of memory attention in OpenVINO bf16); the arithmetic is the same.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from sam2.modeling.position_encoding import compute_axial_cis
from torch import nn


class ImageEncoderComponent(nn.Module):
    """image [1,3,S,S] (normalised) -> high-res features, image embedding, its position encoding."""

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        self.sam = sam

    def forward(self, image: torch.Tensor):
        out = self.sam.forward_image(image)
        fpn = out["backbone_fpn"]
        pos = out["vision_pos_enc"]
        return fpn[0], fpn[1], fpn[2], pos[-1]


def _near(labels: torch.Tensor, value: float) -> torch.Tensor:
    """1 where ``labels`` is ``value``, 0 where it is another label (labels are 1 apart), as [..., 1]."""
    return (1.0 - 2.0 * (labels - value).abs()).clamp(0.0, 1.0).unsqueeze(-1)


def embed_points(prompt_encoder: nn.Module, points: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """SAM 2's ``PromptEncoder._embed_points(pad=True)``, with soft label tests instead of ``==``.

    For exact labels the result is bit-identical to SAM 2's (each embedding is multiplied by
    exactly 1 or 0). Quantised graphs (QDQ) carry labels as 16- or 8-bit codes that dequantise
    to -0.99998 rather than -1; SAM 2's int cast would truncate those to 0 and turn clicks and
    padding into negative clicks, which is what broke w8a16 decoders before this function.
    """
    points = points + 0.5  # pixel centres
    labels = labels.to(points.dtype)
    points = torch.cat([points, torch.zeros_like(points[:, :1])], dim=1)
    labels = torch.cat([labels, -torch.ones_like(labels[:, :1])], dim=1)
    embedding = prompt_encoder.pe_layer.forward_with_coords(points, prompt_encoder.input_image_size)
    not_a_point = _near(labels, -1.0)
    embedding = embedding * (1.0 - not_a_point) + not_a_point * prompt_encoder.not_a_point_embed.weight
    for label, table in enumerate(prompt_encoder.point_embeddings):
        embedding = embedding + _near(labels, float(label)) * table.weight
    return embedding


class MaskDecoderComponent(nn.Module):
    """Prompt encoder + mask decoder + object-pointer head, all four output tokens.

    Points are in model-input pixels (0..S); label -1 pads. ``has_mask_input`` (0 or 1)
    selects between ``mask_input`` (low-res logits) and the learned no-mask embedding.
    Labels may come as int32 or float32 (runtimes such as AidLite take one input dtype).
    Points are embedded by :func:`embed_points`, which matches SAM 2 exactly and survives
    quantised labels.
    """

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        self.sam = sam

    def forward(
        self,
        image_embeddings: torch.Tensor,
        high_res_feats_0: torch.Tensor,
        high_res_feats_1: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ):
        prompt_encoder = self.sam.sam_prompt_encoder
        decoder = self.sam.sam_mask_decoder
        sparse = embed_points(prompt_encoder, point_coords, point_labels)
        b, _, h, w = image_embeddings.shape
        no_mask = prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(b, -1, h, w)
        with_mask = prompt_encoder.mask_downscaling(mask_input)
        dense = has_mask_input * with_mask + (1.0 - has_mask_input) * no_mask
        masks, iou_pred, mask_tokens_out, object_score_logits = decoder.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            repeat_image=False,
            high_res_features=[high_res_feats_0, high_res_feats_1],
        )
        object_pointers = self.sam.obj_ptr_proj(mask_tokens_out)
        return masks, iou_pred, object_pointers, object_score_logits


class MemoryEncoderComponent(nn.Module):
    """(raw image embedding, mask already scaled for memory) -> memory features and position encoding."""

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        self.sam = sam

    def forward(self, image_embeddings: torch.Tensor, mask_for_memory: torch.Tensor):
        out = self.sam.memory_encoder(image_embeddings, mask_for_memory, skip_mask_sigmoid=True)
        return out["vision_features"], out["vision_pos_enc"][0]


class EdgeTamMemoryEncoderComponent(MemoryEncoderComponent):
    """EdgeTAM's memory encoder: SAM 2's, then the spatial perceiver that compresses the memory.

    Outputs channel-first like SAM 2's ([1, Cm, T] instead of [1, Cm, h, w]), with T = the
    perceiver's latents (256 global, then 256 on a 16 x 16 grid): the bank stores compressed
    memories and the host glue treats both families alike. The position encoding is zero for
    the global latents and a sine encoding of the grid for the others, the same for every memory.
    """

    def __init__(self, sam: nn.Module) -> None:
        super().__init__(sam)
        if sam.no_obj_embed_spatial is not None:
            # SAM 2.1 adds it before the perceiver, where the host cannot: not in any EdgeTAM config
            raise ValueError("EdgeTAM with no_obj_embed_spatial is not supported")

    def forward(self, image_embeddings: torch.Tensor, mask_for_memory: torch.Tensor):
        features, pos = super().forward(image_embeddings, mask_for_memory)
        latents, latents_pos = self.sam.spatial_perceiver(features, pos)
        return latents.transpose(1, 2), latents_pos.transpose(1, 2)


def deinterleaved_order(channels: int, heads: int) -> torch.Tensor:
    """Channel order that puts each head's rotary pairs as [all first halves, all second halves].

    SAM 2 rotates adjacent channel pairs (2i, 2i+1). Reordering the rows of the query and key
    projections by this order makes them emit each head's pairs de-interleaved, so the rotation
    works on two contiguous halves instead of a strided split and an interleaving stack. Queries
    and keys are reordered alike, so every query-key dot product is the same sum of the same
    products (only the order of the additions changes).
    """
    head_dim = channels // heads
    order = [head * head_dim + i for head in range(heads) for first in (0, 1) for i in range(first, head_dim, 2)]
    return torch.tensor(order)


def _rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent channel pairs of ``x`` [..., N, D] (SAM 2's own layout) by cos/sin [N, D/2]."""
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    real, imag = pairs[..., 0], pairs[..., 1]
    return torch.stack((real * cos - imag * sin, real * sin + imag * cos), dim=-1).flatten(-2)


def _rotate_halves(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` [..., N, D], laid out as [first halves, second halves] of its channel pairs,
    by angles with cos/sin [N, D/2]; the result keeps that layout."""
    real, imag = x.chunk(2, dim=-1)
    return torch.cat((real * cos - imag * sin, real * sin + imag * cos), dim=-1)


# Channel layouts of the rotary pairs: "halves" (exported) or "pairs" (SAM 2's; kept to measure against)
ROTARY_LAYOUTS = ("halves", "pairs")


class RotaryProjections(nn.Module):
    """The query and key projections of one RoPEAttention, as constants of the exported graph, with
    their rows de-interleaved (:func:`deinterleaved_order`) in layout ``halves``; SAM 2's module is
    not changed."""

    def __init__(self, attn: nn.Module, layout: str = "halves") -> None:
        super().__init__()
        if layout not in ROTARY_LAYOUTS:
            raise ValueError(f"rotary layout {layout!r} is not one of {ROTARY_LAYOUTS}")
        self.rotate = _rotate_halves if layout == "halves" else _rotate_pairs
        dim = attn.internal_dim
        order = deinterleaved_order(dim, attn.num_heads) if layout == "halves" else torch.arange(dim)
        with torch.no_grad():
            self.register_buffer("q_weight", attn.q_proj.weight[order].clone(), persistent=False)
            self.register_buffer("q_bias", attn.q_proj.bias[order].clone(), persistent=False)
            self.register_buffer("k_weight", attn.k_proj.weight[order].clone(), persistent=False)
            self.register_buffer("k_bias", attn.k_proj.bias[order].clone(), persistent=False)

    def query(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.q_weight, self.q_bias)

    def key(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.k_weight, self.k_bias)


def _rope_attention(
    attn: nn.Module,
    projections: RotaryProjections,
    q: torch.Tensor,
    k_rope: torch.Tensor,
    k_plain: torch.Tensor | None,
    v: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    key_bias: torch.Tensor | None = None,
    tile_tables: bool = False,
    attend: Any = None,
    key_tables: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """SAM 2's RoPEAttention.forward with real-valued rotary tables.

    ``k_rope`` holds whole frames of tokens each (rotated with the frame's tables: ``key_tables``
    (cos, sin) where the keys' differ from the queries' ``cos``/``sin``, as in EdgeTAM);
    ``k_plain`` (object-pointer tokens) is not rotated. ``key_bias`` ([K], 0 or a large
    negative number per key) masks padding keys out. ``tile_tables`` repeats the tables over
    the frames instead of reshaping the keys to 5-D (static-shape runtimes such as the QNN HTP
    need tensors of rank 4 at most). ``attend`` replaces :func:`_attend` (the benchmark's forms).
    """
    heads = attn.num_heads
    q = attn._separate_heads(projections.query(q), heads)
    k = attn._separate_heads(projections.key(k_rope), heads)
    b, nh, n_k, d = k.shape
    rotate = projections.rotate
    q = rotate(q, cos, sin)
    k_cos, k_sin = key_tables if key_tables is not None else (cos, sin)
    hw = k_cos.shape[0]
    if tile_tables:
        frames = n_k // hw
        k = rotate(k, k_cos.repeat(frames, 1), k_sin.repeat(frames, 1))
    else:
        k = rotate(k.reshape(b, nh, n_k // hw, hw, d), k_cos, k_sin).reshape(b, nh, n_k, d)
    if k_plain is not None:
        k = torch.cat([k, attn._separate_heads(projections.key(k_plain), heads)], dim=2)
    v = attn._separate_heads(attn.v_proj(v), heads)
    return attn.out_proj(attn._recombine_heads((attend or _attend)(q, k, v, key_bias)))


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_bias: torch.Tensor | None) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d) + key_bias) v``, as ``F.scaled_dot_product_attention`` computes it,
    written out so that the scale multiplies the queries only: the exporter's SDPA scales queries
    and keys by sqrt(scale) each, one more elementwise pass over the (7x larger) keys in every
    layer. ONNX Runtime runs MatMul, Softmax and MatMul either way (its fused attention kernels were
    slower: docs/PERFORMANCE.md); OpenVINO fuses this pattern into its MHA kernel."""
    logits = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)
    if key_bias is not None:
        logits = logits + key_bias.reshape(1, 1, 1, -1)
    return torch.softmax(logits, dim=-1) @ v


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_bias: torch.Tensor | None) -> torch.Tensor:
    """:func:`_attend` as one ``F.scaled_dot_product_attention`` (ONNX ``Attention`` from opset 23)."""
    mask = None if key_bias is None else key_bias.reshape(1, 1, 1, -1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


class MemoryAttentionComponent(nn.Module):
    """Condition the current image embedding on a variable number of memories and pointers.

    Inputs (batch-first): image embedding [B,C,h,w], its position encoding [1,C,h,w],
    spatial memories [B, M*h*w, Cm] with their encodings, pointer tokens [B, P, Cm] with
    their encodings. Output: conditioned embedding [B,C,h,w]. ``rotary_layout`` "pairs" keeps
    SAM 2's interleaved channels and ``sdpa`` attends with one ``F.scaled_dot_product_attention``
    (both only to measure the exported form against: ``python -m sam2_ros.bench.attention``).
    """

    def __init__(
        self, sam: nn.Module, feat_hw: tuple[int, int], rotary_layout: str = "halves", sdpa: bool = False
    ) -> None:
        super().__init__()
        self.attention = sam.memory_attention
        self.attend = _sdpa if sdpa else _attend
        first = self.attention.layers[0]
        head_dim = first.self_attn.internal_dim // first.self_attn.num_heads
        theta = 10000.0
        cis = compute_axial_cis(dim=head_dim, end_x=feat_hw[1], end_y=feat_hw[0], theta=theta)
        self.register_buffer("rope_cos", cis.real.clone(), persistent=False)
        self.register_buffer("rope_sin", cis.imag.clone(), persistent=False)
        # the memory keys' tables, one frame of memory tokens long (SAM 2: the queries' own)
        self.register_buffer("key_cos", cis.real.clone(), persistent=False)
        self.register_buffer("key_sin", cis.imag.clone(), persistent=False)
        for layer in self.attention.layers:
            for attn in (layer.self_attn, layer.cross_attn_image):
                if not math.isclose(attn.compute_cis.keywords["theta"], theta):
                    raise ValueError("rope_theta other than 10000 is not supported")
        self.projections = nn.ModuleList(
            nn.ModuleList([RotaryProjections(a, rotary_layout) for a in (layer.self_attn, layer.cross_attn_image)])
            for layer in self.attention.layers
        )

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        object_pointers: torch.Tensor,
        object_pointers_pos: torch.Tensor,
        key_bias: torch.Tensor | None = None,
        tile_tables: bool = False,
    ) -> torch.Tensor:
        b, c, h, w = image_embeddings.shape
        curr = image_embeddings.flatten(2).transpose(1, 2)  # [B, HW, C]
        curr_pos = image_pos.flatten(2).transpose(1, 2).expand(b, -1, -1)
        output = curr
        if self.attention.pos_enc_at_input:
            output = output + 0.1 * curr_pos
        cos, sin = self.rope_cos, self.rope_sin
        for layer, (self_proj, cross_proj) in zip(self.attention.layers, self.projections):
            # self-attention
            tgt2 = layer.norm1(output)
            q = k = tgt2 + curr_pos if layer.pos_enc_at_attn else tgt2
            output = output + _rope_attention(
                layer.self_attn, self_proj, q, k, None, tgt2, cos, sin, None, tile_tables, self.attend
            )
            # cross-attention to memories and pointers
            tgt2 = layer.norm2(output)
            q = tgt2 + curr_pos if layer.pos_enc_at_cross_attn_queries else tgt2
            if layer.pos_enc_at_cross_attn_keys:
                k_mem, k_ptr = memory + memory_pos, object_pointers + object_pointers_pos
            else:
                k_mem, k_ptr = memory, object_pointers
            v = torch.cat([memory, object_pointers], dim=1)
            output = output + _rope_attention(
                layer.cross_attn_image,
                cross_proj,
                q,
                k_mem,
                k_ptr,
                v,
                cos,
                sin,
                key_bias,
                tile_tables,
                self.attend,
                (self.key_cos, self.key_sin),
            )
            # feed-forward
            tgt2 = layer.norm3(output)
            output = output + layer.linear2(layer.activation(layer.linear1(tgt2)))
        output = self.attention.norm(output)
        return output.transpose(1, 2).reshape(b, c, h, w)


# Additive attention bias of a padding key: exp() underflows to exactly 0, and the value stays
# finite in fp16 (-1e9 would become -inf there, and 0 * -inf is NaN).
MASKED = -30000.0


class StaticMemoryAttentionComponent(MemoryAttentionComponent):
    """Memory attention over a fixed-size bank, for runtimes that need static shapes (QNN).

    Every memory slot and pointer token is always present; ``memory_valid`` [1, M] and
    ``pointer_valid`` [1, P] (1 = real, 0 = padding) mask the empty ones out of the
    cross-attention, so one graph serves every fill level of the bank.
    """

    def forward(  # type: ignore[override]
        self,
        image_embeddings: torch.Tensor,
        image_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        object_pointers: torch.Tensor,
        object_pointers_pos: torch.Tensor,
        memory_valid: torch.Tensor,
        pointer_valid: torch.Tensor,
    ) -> torch.Tensor:
        tokens = self.key_cos.shape[0]  # per memory
        valid = torch.cat([memory_valid.reshape(-1, 1).expand(-1, tokens).reshape(-1), pointer_valid.reshape(-1)])
        key_bias = (1.0 - valid) * MASKED
        return super().forward(
            image_embeddings, image_pos, memory, memory_pos, object_pointers, object_pointers_pos, key_bias, True
        )


def edgetam_key_tables(sam: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """EdgeTAM's rotary tables for one compressed memory: identity (cos 1, sin 0) for the perceiver's
    global latents, which EdgeTAM does not rotate, then the 16 x 16 grid's table for the 2D latents.

    A rotation by angle 0 is exact (x*1 - y*0 = x), so one table per memory replaces EdgeTAM's
    split of every memory into rotated and unrotated tokens.
    """
    cross = sam.memory_attention.layers[0].cross_attn_image
    for layer in sam.memory_attention.layers:
        other = layer.cross_attn_image
        if not torch.equal(other.freqs_cis_k, cross.freqs_cis_k) or not torch.equal(
            other.freqs_cis_q, cross.freqs_cis_q
        ):
            raise ValueError("EdgeTAM layers with different rotary tables are not supported")
    perceiver = sam.spatial_perceiver
    grid = cross.freqs_cis_k
    if perceiver.num_latents_2d != grid.shape[0]:
        raise ValueError(f"the keys' rotary table has {grid.shape[0]} rows for {perceiver.num_latents_2d} 2D latents")
    plain = max(perceiver.num_latents, 0)
    cos = torch.cat([torch.ones(plain, grid.shape[1]), grid.real])
    sin = torch.cat([torch.zeros(plain, grid.shape[1]), grid.imag])
    return cos, sin


class _EdgeTamKeys:
    """Memory attention over EdgeTAM's compressed memories (RoPEAttentionv2 cross-attention)."""

    def _use_edgetam_keys(self, sam: nn.Module, feat_hw: tuple[int, int]) -> None:
        cross = sam.memory_attention.layers[0].cross_attn_image
        queries = cross.freqs_cis_q
        if queries.shape[0] != feat_hw[0] * feat_hw[1] or not torch.allclose(queries.real, self.rope_cos):
            raise ValueError(
                f"EdgeTAM's query rotary table ({queries.shape[0]} rows) does not fit a {feat_hw} image embedding"
            )
        cos, sin = edgetam_key_tables(sam)
        self.key_cos, self.key_sin = cos, sin


class EdgeTamMemoryAttentionComponent(MemoryAttentionComponent, _EdgeTamKeys):
    """:class:`MemoryAttentionComponent` for EdgeTAM: memories of T perceiver latents each."""

    def __init__(self, sam: nn.Module, feat_hw: tuple[int, int], **kwargs: Any) -> None:
        super().__init__(sam, feat_hw, **kwargs)
        self._use_edgetam_keys(sam, feat_hw)


class StaticEdgeTamMemoryAttentionComponent(StaticMemoryAttentionComponent, _EdgeTamKeys):
    """:class:`StaticMemoryAttentionComponent` for EdgeTAM."""

    def __init__(self, sam: nn.Module, feat_hw: tuple[int, int], **kwargs: Any) -> None:
        super().__init__(sam, feat_hw, **kwargs)
        self._use_edgetam_keys(sam, feat_hw)
