"""The token-mixer contract.

A mixer takes spikes `[T, B, N, D]` laid out on an `H x W` token grid (N = H * W, row-major)
and returns spikes of the same shape. Every mixer computes real-valued `features` (its transform,
then BN) and one output LIF turns them into spikes; a hybrid sums its parts' features before its
own output LIF, so the parts never fire separately.

Every mixer is built with the same keyword arguments (`create_mixer` passes them to hybrids' parts
too): the neuron constants, and `attention`, the options of Spikformer's attention
(`AttentionOptions`: scale, q/k/v bias), which only the mixers that attend read.
"""
from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import nn

from fwformer.layers import make_lif
from fwformer.mixers.attention import AttentionOptions
from fwformer.mixers.card import MixerCard


class Mixer(nn.Module):
    """Base class: subclasses implement `features(x) -> [T, B, N, D]` real values."""

    #: Output neuron threshold. Spikformer's SSA uses 1.0 after its projection.
    output_threshold: float = 1.0
    #: True when the mixer multiplies two activity-dependent tensors (attention maps, gates, masks
    #: computed from the input): a neuromorphic chip with fixed synaptic weights cannot run it.
    activity_products: bool = False
    #: What it computes, the paper and code it follows, our interpretations (`fwformer.mixers.card`).
    #: Every registered class declares its own; the documentation's mixer reference is built from them.
    card: ClassVar[Optional[MixerCard]] = None

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, tau: float = 2.0,
                 surrogate_alpha: float = 4.0, attention: Optional[AttentionOptions] = None):
        super().__init__()
        self.dim = dim
        self.grid = (int(grid[0]), int(grid[1]))
        self.num_heads = num_heads
        self.tau = tau
        self.surrogate_alpha = surrogate_alpha
        self.attention_options = attention or AttentionOptions()
        self.out_lif = make_lif(tau=tau, v_threshold=self.output_threshold, alpha=surrogate_alpha)

    @property
    def num_tokens(self) -> int:
        return self.grid[0] * self.grid[1]

    def lif(self, v_threshold: float = 1.0) -> nn.Module:
        """A LIF with this mixer's neuron constants."""
        return make_lif(tau=self.tau, v_threshold=v_threshold, alpha=self.surrogate_alpha)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def to_maps(self, x: torch.Tensor) -> torch.Tensor:
        return tokens_to_maps(x, self.grid)

    def to_tokens(self, y: torch.Tensor, t: int) -> torch.Tensor:
        return maps_to_tokens(y, t)

    def bn_tokens(self, bn: nn.Module, y: torch.Tensor) -> torch.Tensor:
        """A BatchNorm1d over the channels of tokens `[..., D]`."""
        return bn(y.reshape(-1, y.shape[-1])).reshape(y.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.out_lif(self.features(x))

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[2] != self.num_tokens or x.shape[3] != self.dim:
            raise ValueError(
                f"{type(self).__name__} expects [T, B, N={self.num_tokens}, D={self.dim}] "
                f"(grid {self.grid[0]}x{self.grid[1]}), but got {list(x.shape)}"
            )

    def extra_repr(self) -> str:
        return f"dim={self.dim}, grid={self.grid}"


def tokens_to_maps(x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Tokens `[T, B, N, D]` -> feature maps `[T*B, D, H, W]` for convolutions over the grid."""
    t, b, n, d = x.shape
    return x.reshape(t * b, *grid, d).permute(0, 3, 1, 2)


def maps_to_tokens(y: torch.Tensor, t: int) -> torch.Tensor:
    """Feature maps `[T*B, D, H, W]` -> tokens `[T, B, N, D]` (row-major, as `tokens_to_maps` read them)."""
    tb, d = y.shape[:2]
    return y.flatten(2).transpose(1, 2).reshape(t, tb // t, -1, d)
