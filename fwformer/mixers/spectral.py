"""`spectral`: SpectFormer's spectral gating network, which is GFNet's global filter
(Rao et al., NeurIPS 2021; Patro et al., WACV 2025), on spikes.

The reference (`GlobalFilter`, raoyongming/GFNet @ 2de48b6, gfnet.py; `SpectralGatingNetwork`,
badripatro/SpectFormers @ b6cf487, vanilla_architecture/spectformer.py, the same code): on tokens laid
out as the H x W grid, in fp32,

    y = irfft2(rfft2(x, norm='ortho') * W, s=(H, W), norm='ortho')

with W a learnable complex weight per frequency and channel, `[H, W/2 + 1, D]` (stored as
`[H, W/2 + 1, D, 2]`, initialised 0.02 randn); no bias, no nonlinearity. 2 H (W/2 + 1) D parameters.

No spiking version is published; ours is an interpretation: spikes in, the filter as above, then BN
over channels and the output LIF of `Mixer.forward` (or, with `shortcut: membrane`, the block's LIF
before it and the BN features added to the stream). SpectFormer's placement (spectral blocks first,
attention after, `alpha = 4` of 12 in its vanilla model) is a per-block choice here; its spectral
blocks have a single residual around filter + MLP, ours keep the block's two.

Energy: with 'ortho' both ways the filter equals a per-channel circular 2-D convolution with the
real kernel irfft2(W) (default norm; `circular_kernel`), an exact identity (tested). On spikes that
convolution is accumulates only, N^2 D per step at the input's rate, which is how the meter prices
it (`record_product`); a neuromorphic chip would run it so, with fixed weights. The FFT is only how
an accelerator computes it quickly.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.energy import record_product
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


@register("spectral")
class SpectralGatingMixer(Mixer):
    card = MixerCard(
        computes="GFNet's global filter, SpectFormer's spectral gating network: `irfft2(rfft2(x, ortho) * W, "
                 "ortho)` with a learnable complex weight per frequency and channel, in fp32, then BN. Exactly a "
                 "per-channel circular 2-D convolution with `irfft2(W)`, which is how its energy is priced.",
        paper="GFNet (Rao et al., NeurIPS 2021) = SpectFormer (Patro et al., WACV 2025)",
        code="raoyongming/GFNet @ 2de48b6, `gfnet.py`, `GlobalFilter`; badripatro/SpectFormers @ b6cf487, "
             "`vanilla_architecture/spectformer.py`, `SpectralGatingNetwork` (the same code)",
        interpretation="No spiking version is published: spikes in, BN and the output LIF after the filter are "
                       "ours. SpectFormer's placement (spectral blocks first, attention after) is a per-block "
                       "choice here.",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        h, w = self.grid
        self.complex_weight = nn.Parameter(torch.randn(h, w // 2 + 1, dim, 2) * 0.02)
        self.bn = nn.BatchNorm1d(dim)

    def global_filter(self, x: torch.Tensor) -> torch.Tensor:
        """The GFNet filter on tokens `[T, B, N, D]` -> real `[T, B, N, D]` (fp32 inside, as the reference)."""
        t, b, n, d = x.shape
        h, w = self.grid
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = x.float().reshape(t * b, h, w, d)
            spectrum = torch.fft.rfft2(y, dim=(1, 2), norm="ortho")  # [T*B, H, W/2+1, D]
            spectrum = spectrum * torch.view_as_complex(self.complex_weight.float())
            y = torch.fft.irfft2(spectrum, s=(h, w), dim=(1, 2), norm="ortho")  # [T*B, H, W, D]
        record_product(self, "circular_conv", flops=t * b * n * n * d, operand=x)
        return y.reshape(t, b, n, d)

    def circular_kernel(self) -> torch.Tensor:
        """`[H, W, D]`: the real kernel k_c = irfft2(W_c) whose circular convolution the filter is."""
        h, w = self.grid
        return torch.fft.irfft2(torch.view_as_complex(self.complex_weight.float()), s=(h, w), dim=(0, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        y = self.global_filter(x).to(x.dtype if x.is_floating_point() else torch.float32)
        return self.bn_tokens(self.bn, y)
