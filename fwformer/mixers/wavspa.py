"""`wavspa-<wavelet>[@level]` and `adawavspa-<wavelet>[@level]`: WavSpA's wavelet-space attention, spiking.

WavSpA (Zhuang et al., arXiv 2210.01989; code EvanZhuang/wavspa, `wavspa_learn.py`) replaces a
Transformer's attention by (1) a forward wavelet transform of the sequence, (2) attention in the
wavelet coefficient space, one attention layer per level of coefficients (the approximation, then
the details of each level), and (3) the inverse transform back to the input space. Its wavelets are
fixed (Daubechies) or adaptive: AdaWavSpA learns one lowpass filter per channel, initialised from
a Daubechies filter, and derives the other three filters from it by the quadrature-mirror
relations of an orthogonal filter bank (its `CQF_expansion`).

Here, on spikes `[T, B, N, D]` on an H x W token grid:

    c = A x                         2-D DWT of the grid: C = N coefficient tokens, real
    s = LIF(BN(c))                  the coefficients as spikes
    z_g = SSA_g(s_g)                Spikformer's attention (`attention.py`) over the coefficient
                                    tokens of each group g: the last approximation band, then the
                                    LH, HL, HH bands of each level; one attention layer per group
    y = S z                         inverse 2-D DWT, real
    out = LIF(y)                    the output LIF (in `Mixer.forward`): spikes, `[T, B, N, D]`

`wavspa-`: A and S are pytorch-wavelets' DWTForward/DWTInverse (any PyWavelets discrete family),
read off once per (wavelet, level, grid) as in `wavelet.py`. `adawavspa-`: one learnable lowpass
per channel (`[D, L]`), initialised from the family's `dec_lo`; the highpass and the synthesis
filters follow from it by `filterbank.quadrature_mirror`, and the per-channel operators
`[D, N, N]` are rebuilt from the filters every forward (`filterbank.compose_operator`). The
family must be orthogonal (haar, db, sym, coif), as the relations hold only for those; at
initialisation it computes exactly what `wavspa-` of the same family computes.

The attention takes the config's `ssa` options (scale, q/k/v bias). Interpretations (WavSpA is a
1-D, real-valued model for long sequences): the 2-D transform of the token grid; the three
detail bands of a level attended together as one group (WavSpA's 1-D transform has one detail
array per level); BN + LIF to turn the coefficients into spikes for SSA's spike-driven q, k, v;
no normalisation before the transform (the input is already spikes) and none after the inverse
(SSA's projection ends in BN). Not implemented: WavSpA's orthogonal (angle) parametrisation and
its lifting-scheme wavelets.

Energy: the forward transform's first pass on the input spikes (ACs), its other passes on real
coefficients and the inverse on the attention's real output (MACs), counted as filter banks
(`wavelet.analysis_macs`, `wavelet.synthesis_macs`); the attention's Linear layers are measured
by the energy meter's hooks and its two spike products reported by `attention.attend`.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.energy import record_product
from fwformer.mixers.attention import SpikingAttention, check_heads
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.filterbank import (
    compose_operator,
    filters_reconstruct,
    level_sizes,
    place,
    placement,
    pywt_filters,
    quadrant_subbands,
    quadrature_mirror,
)
from fwformer.mixers.registry import register_family
from fwformer.mixers.wavelet import (
    WaveletFamily,
    analysis_macs,
    pytorch_wavelets_operator,
    synthesis_macs,
    wavelet_taps,
)


def level_groups(subband: torch.Tensor, level: int, *, finest_first: bool) -> torch.Tensor:
    """`[C]` group of every coefficient: 0 for the approximation band, then 1, 2, ... for the details of
    the deepest level, ..., of level 1. `subband` numbers the detail bands 1 + 3 j + (0, 1, 2) with j
    counting levels from the finest (`filterbank.quadrant_subbands`) or from the deepest
    (`wavelet.pytorch_wavelets_operator`)."""
    depth = (subband - 1) // 3
    return torch.where(subband == 0, 0, 1 + (level - 1 - depth if finest_first else depth))


class WaveletSpaceAttention(WaveletFamily, Mixer):
    """Forward DWT -> BN + LIF -> one SSA per level group -> inverse DWT. Subclasses give the operator."""

    prefix = ""
    activity_products = True  # each group's attention

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, wavelet: str, level: int,
                 learned: bool, **common):
        super().__init__(dim, grid, num_heads, **common)
        check_heads(self.prefix.rstrip("-"), dim, num_heads)
        self.check_grid(self.grid, wavelet=wavelet, level=level)
        self.wavelet, self.level = wavelet, level
        self.coeff_bn = nn.BatchNorm1d(dim)
        self.coeff_lif = self.lif()
        taps_dec, taps_rec = wavelet_taps(wavelet, learned=learned)
        self.costs = (*analysis_macs(self.grid, level, taps_dec), synthesis_macs(self.grid, level, taps_rec))

    def init_groups(self, groups: torch.Tensor) -> torch.Tensor:
        """One attention per group; returns the permutation that makes every group's coefficients contiguous."""
        order = torch.argsort(groups, stable=True)
        self.group_sizes = torch.bincount(groups).tolist()
        self.attentions = nn.ModuleList(
            SpikingAttention(self.dim, self.num_heads, self.attention_options, self.lif) for _ in self.group_sizes
        )
        return order

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(analysis `[C, N]` or `[D, C, N]`, synthesis `[N, C]` or `[D, N, C]`), groups contiguous."""
        raise NotImplementedError

    @staticmethod
    def along_tokens(op: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """`op` along the tokens of `x [T*B, N, D]`: one matrix for every channel, or one per channel."""
        op = op.to(x.dtype)
        if op.dim() == 2:
            return torch.matmul(op, x)
        return torch.einsum("dcn,pnd->pcd", op, x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        analysis, synthesis = self.operator()
        coeffs = self.along_tokens(analysis, x.reshape(t * b, n, d))  # [T*B, C, D]
        c = coeffs.shape[1]
        spikes = self.coeff_lif(self.coeff_bn(coeffs.reshape(-1, d)).reshape(t, b, c, d))
        parts = spikes.split(self.group_sizes, dim=2)  # per group: [T, B, C_g, D]
        z = torch.cat([attend(part) for attend, part in zip(self.attentions, parts)], dim=2)  # [T, B, C, D]
        y = self.along_tokens(synthesis, z.reshape(t * b, c, d))  # [T*B, N, D]
        images = t * b * d
        on_spikes, on_coeffs, inverse = self.costs
        record_product(self, f"{self.wavelet}.rows", flops=images * on_spikes, operand=x)
        record_product(self, f"{self.wavelet}.coeffs", flops=images * on_coeffs, operand=coeffs)
        record_product(self, f"{self.wavelet}.inverse", flops=images * inverse, operand=z)
        return y.reshape(t, b, n, d)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, groups={self.group_sizes}"


@register_family("wavspa-", "wavspa-<wavelet>[@level]")
class WavSpAMixer(WaveletSpaceAttention):
    card = MixerCard(
        computes="Forward 2-D DWT of the grid; the coefficients to spikes (BN, LIF); Spikformer's attention "
                 "over the coefficient tokens of each group (the approximation band, then each level's three "
                 "detail bands), one attention per group; inverse DWT. The attention takes the config's `ssa` "
                 "options.",
        paper="WavSpA (Zhuang et al., arXiv 2210.01989), with fixed wavelets",
        code="EvanZhuang/wavspa, `lra_benchmarks/models/wavspa/wavspa_learn.py`",
        interpretation="Made spiking (WavSpA is a 1-D real-valued model): the 2-D transform of the token grid, "
                       "a level's three detail bands attended together as one group, BN and a LIF to make the "
                       "coefficients spikes for SSA's q, k, v, no normalisation after the inverse. Its "
                       "orthogonal (angle) parametrisation and lifting wavelets are not implemented.",
        examples=("wavspa-haar", "wavspa-db2@2"),
    )

    """Fixed wavelet: pytorch-wavelets' exact operator."""

    prefix = "wavspa-"

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, wavelet: str = "haar",
                 level: int = 1, **common):
        super().__init__(dim, grid, num_heads, wavelet=wavelet, level=level, learned=False, **common)
        analysis, synthesis, subband = pytorch_wavelets_operator(wavelet, level, *self.grid)
        order = self.init_groups(level_groups(subband, level, finest_first=False))
        self.register_buffer("analysis", analysis[order].float(), persistent=False)  # [C, N]
        self.register_buffer("synthesis", synthesis[:, order].float(), persistent=False)  # [N, C]

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.analysis, self.synthesis


def lowpass_reconstructs(wavelet: str, level: int, h: int, w: int) -> bool:
    return filters_reconstruct(wavelet, level, h, w, from_lowpass=True)


@register_family("adawavspa-", "adawavspa-<wavelet>[@level]")
class AdaWavSpAMixer(WaveletSpaceAttention):
    card = MixerCard(
        computes="As `wavspa-`, with one learnable lowpass filter per channel, started from the family's; the "
                 "highpass and synthesis filters follow by the quadrature-mirror relations, so only orthogonal "
                 "families (haar, db, sym, coif) are accepted. At initialisation it computes what `wavspa-` of "
                 "its family computes.",
        paper="WavSpA's AdaWavSpA (Zhuang et al., arXiv 2210.01989)",
        code="EvanZhuang/wavspa, `wavspa/conv_fwt_learn.py`, `CQF_expansion`",
        interpretation="Made spiking as `wavspa-`.",
        examples=("adawavspa-db2", "adawavspa-haar@2"),
    )

    """Adaptive wavelet: one learnable lowpass per channel, the rest of the orthogonal bank derived from it."""

    prefix = "adawavspa-"
    reconstructs = staticmethod(lowpass_reconstructs)  # its own filter bank decides

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, wavelet: str = "haar",
                 level: int = 1, **common):
        super().__init__(dim, grid, num_heads, wavelet=wavelet, level=level, learned=True, **common)
        dec, _ = pywt_filters(wavelet)
        taps = dec.shape[1]
        self.lowpass = nn.Parameter(dec[0].float().expand(dim, taps).clone())  # [D, L]
        for n in {n for size in level_sizes(self.grid, level) for n in size}:
            self.register_buffer(f"place_analysis_{n}", placement(n, taps, synthesis=False), persistent=False)
            self.register_buffer(f"place_synthesis_{n}", placement(n, taps, synthesis=True), persistent=False)
        groups = level_groups(quadrant_subbands(self.grid, level), level, finest_first=True)
        self.register_buffer("order", self.init_groups(groups), persistent=False)

    @classmethod
    def parse_suffix(cls, suffix: str) -> dict:
        import pywt

        options = super().parse_suffix(suffix)
        if not pywt.Wavelet(options["wavelet"]).orthogonal:
            raise ConfigError(
                f"{cls.prefix}{suffix} needs an orthogonal wavelet family (haar, db*, sym*, coif*): AdaWavSpA "
                f"derives the filter bank from one lowpass filter, but '{options['wavelet']}' is biorthogonal"
            )
        return options

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        analysis_filters, synthesis_filters = quadrature_mirror(self.lowpass)  # [D, 2L] each
        analysis, synthesis = compose_operator(
            lambda n: place(getattr(self, f"place_analysis_{n}"), analysis_filters),  # [D, n, n]
            lambda n: place(getattr(self, f"place_synthesis_{n}"), synthesis_filters),
            self.grid, self.level,
        )
        return analysis[:, self.order], synthesis[:, :, self.order]  # [D, C, N], [D, N, C]
