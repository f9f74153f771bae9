"""Axial token mixers on spikes: `axial` (spiking axial attention) and `gsap` (Gated Spiking Axial
Propagation). Spikes `[T, B, N, D]` in, features (ending in BN) out.

`axial`: self-attention along one axis of the grid at a time, the other axis folded into the batch
(Ho et al. 2019, "Axial Attention in Multidimensional Transformers"; Wang et al., ECCV 2020,
Axial-DeepLab). No spiking axial attention is published; ours is an interpretation built from
Spikformer's attention (`fwformer.mixers.attention`: q, k, v = LIF(BN(Linear)), (q k^T) v * scale, no
softmax, LIF_0.5, Linear-BN), in the variant we chose and state:
- *sequential* (Ho et al.'s encoder form and Axial-DeepLab's `AxialBlock`: height, then width), not
  lucidrains' summed parallel axes: along the rows of the grid (each row's W tokens attend to each
  other), a LIF to turn the row attention's output back into spikes, then along the columns;
- *per-axis projections*: each axis has its own q, k, v and projection (as Axial-DeepLab's two
  `AxialAttention` layers), so 2x SSA's parameters, and 2x its Linear work;
- *no relative position terms* (Axial-DeepLab's r^q, r^k, r^v are not used; Spikformer has none);
- the attention options (`ssa.scale`, `ssa.qkv_bias`) are the config's, as for `ssa`.
The core costs 2 N (H + W) D per step instead of SSA's 2 N^2 D.

`gsap`, as `GSAPAttention.forward` computes it (Fancyssc/GSAP @ d92d979, cifar10/gsap/spiking.py),
with the axis length the grid's (the reference's `feature_size`, img_size / 4 = 8 on CIFAR):

    s   = the input spikes (the reference's `proj_lif`: the block's LIF in the membrane convention)
    loc = BN(DW_3x3(s));  g = LIF_0.5(BN(W_g s));  f = LIF(BN(W_f s))             (1x1s bias-free)
    m   = LIF(BN(DW_{1 x (2W-1)}(f)) + f);  m = BN(DW_{(2H-1) x 1}(m))         whole-axis depthwise convs
    y   = LIF_0.5(BN(s + loc + m * g));  out = BN(W_p y + b)

GSAP's blocks are membrane-shortcut blocks (`shortcut: membrane` builds them so); with
`shortcut: spike` the output LIF of `Mixer.forward` follows and the spikes are added (ours).
Parameters 3 D^2 + 54 D at an 8x8 grid.

Energy: convolutions and Linear layers are priced by the meter by their inputs; the gate is
reported as a mask on the binary gate spikes (`record_product`, T B N D accumulates at g's rate).
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.energy import record_product
from fwformer.mixers.attention import SpikingAttention
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


@register("axial")
class AxialAttentionMixer(Mixer):
    activity_products = True  # each axis's q k^T and its product with v
    card = MixerCard(
        computes="Spikformer's attention along the rows of the grid, a LIF, then along its columns; each axis "
                 "its own q, k, v and projection; no relative position terms. The core costs `2 N (H + W) D` per "
                 "step instead of SSA's `2 N^2 D`.",
        paper="Axial attention (Ho et al. 2019, the sequential form; Axial-DeepLab, Wang et al. ECCV 2020, "
              "per-axis layers)",
        code="csrhddlam/axial-deeplab @ 79088ed, `lib/models/axialnet.py`, `AxialAttention` (the structure "
             "followed; no spiking version is published)",
        interpretation="Our spiking interpretation: sequential axes (rows, then columns) rather than summed "
                       "ones, per-axis projections (twice SSA's parameters), no relative position terms, the "
                       "config's `ssa` options.",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.rows = SpikingAttention(dim, num_heads, self.attention_options, self.lif)
        self.row_lif = self.lif()
        self.columns = SpikingAttention(dim, num_heads, self.attention_options, self.lif)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        h, w = self.grid
        y = self.rows(x.reshape(t, b * h, w, d))  # [T, B*H, W, D]: each row attends within itself
        y = self.row_lif(y).reshape(t, b, h, w, d).transpose(2, 3)  # [T, B, W, H, D]: spikes, by column
        y = self.columns(y.reshape(t, b * w, h, d))  # [T, B*W, H, D]
        return y.reshape(t, b, w, h, d).transpose(2, 3).reshape(t, b, n, d)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, heads={self.num_heads}, rows then columns"


class ConvBN2d(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel, *, padding=0, groups: int = 1, bias: bool = False):
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=padding, groups=groups, bias=bias),
                         nn.BatchNorm2d(c_out))


@register("gsap")
class GatedSpikingAxialPropagation(Mixer):
    activity_products = True  # the gate spikes multiply the propagated message
    card = MixerCard(
        computes="`loc = BN(DW_3x3(x))`, gate `g = LIF_0.5(BN(W_g x))`, `f = LIF(BN(W_f x))`, "
                 "`m = BN(DW_{(2H-1)x1}(LIF(BN(DW_{1x(2W-1)}(f)) + f)))` (whole-axis depthwise convolutions), "
                 "`BN(W_p LIF_0.5(BN(x + loc + m * g)) + b)`.",
        paper="Gated Spiking Axial Propagation (GSAP)",
        code="Fancyssc/GSAP @ d92d979, `cifar10/gsap/spiking.py`, `GSAPAttention`",
        interpretation="The axis length is our grid's side (the reference's `feature_size`).",
        shortcut="membrane",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        h, w = self.grid
        self.feature = ConvBN2d(dim, dim, 1)
        self.feature_lif = self.lif()
        self.local = ConvBN2d(dim, dim, 3, padding=1, groups=dim)
        self.row = ConvBN2d(dim, dim, (1, 2 * w - 1), padding=(0, w - 1), groups=dim)  # spans a whole row
        self.row_lif = self.lif()
        self.column = ConvBN2d(dim, dim, (2 * h - 1, 1), padding=(h - 1, 0), groups=dim)
        self.gate = ConvBN2d(dim, dim, 1)
        self.gate_lif = self.lif(v_threshold=0.5)
        self.attn_bn = nn.BatchNorm2d(dim)
        self.attn_lif = self.lif(v_threshold=0.5)
        self.proj = ConvBN2d(dim, dim, 1, bias=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape

        def lif(neuron: nn.Module, maps: torch.Tensor) -> torch.Tensor:  # the neuron runs over T
            return neuron(maps.reshape(t, b, *maps.shape[1:])).flatten(0, 1)

        s = self.to_maps(x)  # [T*B, D, H, W]
        local = self.local(s)
        gate = lif(self.gate_lif, self.gate(s))
        feature = lif(self.feature_lif, self.feature(s))
        message = lif(self.row_lif, self.row(feature) + feature)
        message = self.column(message)
        record_product(self, "gate", flops=t * b * n * d, operand=gate)
        y = lif(self.attn_lif, self.attn_bn(s + local + message * gate))
        return self.to_tokens(self.proj(y), t)
