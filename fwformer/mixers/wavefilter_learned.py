"""`wavefilter-learned-<wavelet>[@level]`: `wavefilter-` with learnable wavelet filters. Our design.

As `wavefilter-<wavelet>` (`wavefilter.py`), on spikes `[T, B, N, D]`:

    spikes -> J-level periodized 2-D DWT with learnable filters -> per-subband channel gains
           -> inverse DWT with learnable filters -> BN over channels -> output LIF -> spikes

The four filters (analysis low/high, synthesis low/high) are shared by rows and columns, levels
and channels, start as PyWavelets' `dec_lo, dec_hi, rec_lo, rec_hi`, and are trained freely (no
orthogonality constraint): at initialisation the transform reconstructs exactly, training may
trade that for a better filter. The gains start as in `wavefilter-` (1 for the approximation
band, 1/2 for the details). Learning the wavelet is WavSpA's AdaWavSpA idea (arXiv 2210.01989),
but WavSpA attends in the coefficient space and learns one lowpass per channel: that is
`adawavspa-` (`wavspa.py`); the gains filter here is ours.

The operator is built from the filters by `filterbank.compose_operator` (two GEMMs on the data);
`check_grid` checks the initial operator once per (wavelet, level, grid).

Energy: the filter-bank MACs with the full filter length (learned taps are no longer zero) are
reported with `record_product` (`wavelet.filter_bank_macs`).
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.mixers.card import MixerCard
from fwformer.mixers.filterbank import (
    compose_operator,
    filters_reconstruct,
    level_sizes,
    place,
    placement,
    pywt_filters,
    quadrant_subbands,
)
from fwformer.mixers.registry import register_family
from fwformer.mixers.wavefilter import CoefficientMixer
from fwformer.mixers.wavelet import WaveletFamily, wavelet_macs


@register_family("wavefilter-learned-", "wavefilter-learned-<wavelet>[@level]")
class LearnedWaveFilterMixer(WaveletFamily, CoefficientMixer):
    card = MixerCard(
        computes="`wavefilter-` with its four filters (analysis and synthesis, low and high) learnable, shared by "
                 "rows, columns, levels and channels, started from the family's and trained freely (no "
                 "orthogonality constraint).",
        paper="our design, after WavSpA's AdaWavSpA idea of learning the wavelet (arXiv 2210.01989)",
        code="none (our design)",
        examples=("wavefilter-learned-db2", "wavefilter-learned-haar"),
    )

    prefix = "wavefilter-learned-"
    reconstructs = staticmethod(filters_reconstruct)  # its own periodized operator decides

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, wavelet: str = "haar",
                 level: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.check_grid(self.grid, wavelet=wavelet, level=level)
        self.wavelet, self.level = wavelet, level
        dec, rec = pywt_filters(wavelet)
        self.analysis_filters = nn.Parameter(dec.float())  # [2, L]: lowpass, highpass
        self.synthesis_filters = nn.Parameter(rec.float())
        for n in {n for size in level_sizes(self.grid, level) for n in size}:
            self.register_buffer(f"place_analysis_{n}", placement(n, dec.shape[1], synthesis=False), persistent=False)
            self.register_buffer(f"place_synthesis_{n}", placement(n, dec.shape[1], synthesis=True), persistent=False)
        self.init_coefficients(quadrant_subbands(self.grid, level), torch.arange(1 + 3 * level) == 0)
        self.costs = [(wavelet, *wavelet_macs(wavelet, level, self.grid, learned=True))]

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        return compose_operator(
            lambda n: place(getattr(self, f"place_analysis_{n}"), self.analysis_filters.reshape(-1)),  # [n, n]
            lambda n: place(getattr(self, f"place_synthesis_{n}"), self.synthesis_filters.reshape(-1)),
            self.grid, self.level,
        )
