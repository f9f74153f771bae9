"""Max-Former's cheap local token mixers (NeurIPS 2025; bic-L/MaxFormer @ 6ddd4cc,
cifar10-100/mixer_hub.py): `dwc3`, `dwc5`, `dwc7` and `maxpool`. Spikes `[T, B, N, D]` in, features out.

`dwc<k>`, as `Mixer_DWC3/5/7`: BN(DW_kxk(s)), a depthwise k x k convolution with bias (padding k // 2)
on the spikes s = LIF(stream), added to the stream: a membrane-shortcut mixer, which
`shortcut: membrane` builds exactly; with `shortcut: spike` the output LIF follows (ours).
k^2 D + D + 2 D parameters.

`maxpool`: a 3x3 max-pool (stride 1, padding 1) over the grid, as `Max_Mixer`. *Interpretation*:
Max-Former's max-pool block replaces the stream by its max-pool (`x = mixer(x)`, no residual around
it) and pools the real-valued stream itself; every block here is residual and every mixer reads
spikes, so ours max-pools the spikes (an OR over each 3x3 neighbourhood) and adds BN of that to the
stream (the BN, 2 D parameters, scales the pooled spikes for the stream and for the spike
convention's output LIF, which a 0/1 input alone would seldom drive across threshold).

Energy: the depthwise convolution is priced by the meter on its spike input; a max-pool is no
synaptic operation (not priced, as pooling everywhere in this field).
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


DEPTHWISE_CARD = MixerCard(
    computes="`BN(DW_kxk(x) + b)`: a depthwise k x k convolution over the grid (k = 3, 5, 7), with bias.",
    paper="Max-Former (NeurIPS 2025)",
    code="bic-L/MaxFormer @ 6ddd4cc, `cifar10-100/mixer_hub.py`, `Mixer_DWC3`, `Mixer_DWC5`, `Mixer_DWC7`",
    shortcut="membrane",
)


class DepthwiseConvMixer(Mixer):
    kernel = 3

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.conv = nn.Conv2d(dim, dim, self.kernel, padding=self.kernel // 2, groups=dim, bias=True)
        self.bn = nn.BatchNorm2d(dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_tokens(self.bn(self.conv(self.to_maps(x))), x.shape[0])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel={self.kernel}"


@register("dwc3")
class DepthwiseConv3Mixer(DepthwiseConvMixer):
    card = DEPTHWISE_CARD
    kernel = 3


@register("dwc5")
class DepthwiseConv5Mixer(DepthwiseConvMixer):
    card = DEPTHWISE_CARD
    kernel = 5


@register("dwc7")
class DepthwiseConv7Mixer(DepthwiseConvMixer):
    card = DEPTHWISE_CARD
    kernel = 7


@register("maxpool")
class MaxPoolMixer(Mixer):
    card = MixerCard(
        computes="`BN(maxpool_3x3(x))` (stride 1): an OR over each 3x3 neighbourhood of spikes, scaled by BN.",
        paper="Max-Former (NeurIPS 2025)",
        code="bic-L/MaxFormer @ 6ddd4cc, `cifar10-100/mixer_hub.py`, `Max_Mixer`",
        interpretation="Max-Former's max-pool block replaces the real-valued stream by its max-pool, with no "
                       "residual; every block here is residual and its mixer reads spikes, so this pools the "
                       "spikes and adds BN of that to the stream.",
        shortcut="membrane",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.bn = nn.BatchNorm2d(dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_tokens(self.bn(self.pool(self.to_maps(x))), x.shape[0])
