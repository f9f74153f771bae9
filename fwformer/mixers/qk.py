"""QKFormer's Q-K attention (Zhou et al., NeurIPS 2024): `qkta` (token attention) and `qkca`
(channel attention). Spikes `[T, B, N, D]` in, features (ending in BN) out; the output LIF of
`Mixer.forward` is the reference's `proj_lif`.

`qkta`, exactly as `Token_QK_Attention.forward` (zhouchenlin2096/QKFormer @ c2a00e8, cifar10/model.py):

    q, k = LIF(BN(W x))                      bias-free 1x1 projections, no V, no input LIF
    a    = LIF_0.5(sum over each head's channels of q)   [T, B, N, h]: one binary token mask per head
    out  = BN(W_p (a * k) + b)               K masked by it (broadcast over the head's channels)

The head size sets how many channels vote for each token's mask, so `num_heads` matters here.

`qkca`, the channel variant from the paper's description: a = LIF_0.5(sum over tokens of q),
one binary mask per channel `[T, B, 1, D]`, then the same masking of K and projection. **The
official repository contains no QK channel attention**: this follows the paper's text (and a
third-party fork's `Channel_QK_Attention`, which differs from QKTA only in the summed axis); we
keep QKTA's no-input-LIF, output-LIF layout for it. It is head-invariant.

QKFormer's blocks add a mixer's spikes to the stream (`shortcut: spike`), which is ours. Its CIFAR
model is hierarchical: QKTA runs at the 32x32 and 16x16 stages and SSA at 8x8, which our flat
grid cannot express; a `qkta` block here runs on the model's single token grid (an
interpretation of its placement, not of its computation).

Energy: the Linear layers are priced by the meter; the sum of Q and the mask on K are reported as
accumulates on spike operands (`record_product`), T B N D operations each at the rate of Q and K.
"""
from __future__ import annotations

import torch

from fwformer.energy import record_product
from fwformer.layers import LinearBN
from fwformer.mixers.attention import check_heads
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


class QKAttention(Mixer):
    """Q and K projections, a mask from Q on K, the projection; subclasses choose the summed axis."""

    activity_products = True  # the mask computed from Q multiplies K

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.q, self.k = LinearBN(dim, dim, bias=False), LinearBN(dim, dim, bias=False)
        self.q_lif, self.k_lif = self.lif(), self.lif()
        self.attn_lif = self.lif(v_threshold=0.5)
        self.proj = LinearBN(dim, dim)

    def mask(self, q: torch.Tensor) -> torch.Tensor:
        """The binary mask from spikes q `[T, B, N, D]`, broadcastable against it."""
        raise NotImplementedError

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        q, k = self.q_lif(self.q(x)), self.k_lif(self.k(x))
        record_product(self, "q_sum", flops=t * b * n * d, operand=q)
        mask = self.mask(q)
        record_product(self, "mask", flops=t * b * n * d, operand=k)
        return self.proj(mask * k)


@register("qkta")
class TokenQKAttention(QKAttention):
    card = MixerCard(
        computes="Q-K token attention: q, k = LIF(BN(W x)), no V; `mask = LIF_0.5(sum of q over each head's "
                 "channels)`, one token mask per head; `BN(W_p (mask AND k) + b)`. The head size decides how many "
                 "channels vote, so `num_heads` matters.",
        paper="QKFormer (Zhou et al., NeurIPS 2024)",
        code="zhouchenlin2096/QKFormer @ c2a00e8, `cifar10/model.py`, `Token_QK_Attention`",
        interpretation="QKFormer's CIFAR model is hierarchical (QKTA at the 32x32 and 16x16 stages, SSA at 8x8); "
                       "here QKTA runs on the model's one token grid: its placement, not its computation, is ours.",
        shortcut="spike",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        check_heads("qkta", dim, num_heads)
        super().__init__(dim, grid, num_heads, **common)

    def mask(self, q: torch.Tensor) -> torch.Tensor:
        t, b, n, d = q.shape
        votes = q.reshape(t, b, n, self.num_heads, d // self.num_heads).sum(dim=-1, keepdim=True)  # [T, B, N, h, 1]
        mask = self.attn_lif(votes)
        return mask.expand(-1, -1, -1, -1, d // self.num_heads).reshape(t, b, n, d)  # channel c = head * D/h + j

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, heads={self.num_heads}"


@register("qkca")
class ChannelQKAttention(QKAttention):
    card = MixerCard(
        computes="As `qkta` with the sum over tokens: `mask = LIF_0.5(sum over tokens of q)`, one mask per channel; "
                 "head-invariant.",
        paper="QKFormer (Zhou et al., NeurIPS 2024): the channel attention of its text",
        code="none: the official repository has no channel variant",
        interpretation="Follows the paper's description with QKTA's layout (no input LIF, an output LIF).",
        shortcut="spike",
    )

    def mask(self, q: torch.Tensor) -> torch.Tensor:
        return self.attn_lif(q.sum(dim=2, keepdim=True))  # [T, B, 1, D]
