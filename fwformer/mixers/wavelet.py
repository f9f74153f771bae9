"""`dwt-<wavelet>[@level]`: FWformer's 2D-WT mixer (Wang et al., arXiv 2403.18228), and the wavelet
machinery every wavelet family here shares.

FWformer replaces SSA's dynamic bases with fixed wavelet bases and calls the transform
unparameterized. As for its Fourier mixers (`fourier.py`), the wavelet basis takes the place of
the attention map along the tokens and its coefficients are passed on (no inverse transform):

    spikes -> J-level 2-D DWT of the H x W token grid ('periodization') -> BN over channels
           -> output LIF (in `Mixer.forward`) -> spikes, `[T, B, N, D]` in and out

Coefficients come in pytorch-wavelets' order, one per token: the last approximation band (row
major), then LH, HL, HH of the deepest level, ..., of level 1. FWformer's tables use one level of
Haar (`fwformer-*-wt` presets); other PyWavelets discrete families and deeper levels are ours to
offer. Interpretation (the public text available to us does not say it): the token grid as the
two axes, coefficients out, BN and the LIF after the transform, the coefficient order.

Our wavelet-domain filter (forward DWT -> learnable per-band gains -> inverse DWT) is a different
design and has its own name, `wavefilter-<wavelet>[@level]` (`wavefilter.py`).

The transform is pytorch-wavelets' DWTForward/DWTInverse (any PyWavelets discrete family,
`pywt.wavelist(kind='discrete')`, optional level, default 1), run once per (wavelet, level,
grid) on the unit basis of the grid to read off its exact linear operator: analysis `[C, N]`
and synthesis `[N, C]` matrices (C coefficients, N = H W tokens). The forward pass is then
GEMMs on `[T*B, N, D]`, channels last: no permutes, no grouped-conv launches per level (2 to 4x
faster than calling the modules, measured on CPU: 1.1 s -> 0.5 s for the gains filter on haar,
3.6 s -> 1.0 s for its three-basis combination, forward + backward on [4, 32, 64, 384]), and no
pytorch-wavelets code under autocast (its fp16 failure cannot arise; the products follow autocast
like the Fourier mixers).

A name is accepted on a grid only if its analysis is a basis of the grid: C = N coefficients and
synthesis @ analysis == identity. pytorch-wavelets' periodization wraps a filter around the
signal once only, so long filters fail on small grids (on 8x8: haar up to 3 levels, db2 up to 2,
db3/sym3/coif1 only 1, coif2 none). A name that fails is a ConfigError at build time that lists
the levels that would work.

Energy: the products are not nn modules, so their multiply-accumulates are reported with
`record_product`, counted for the filter bank (see `analysis_macs`, `filter_bank_macs`), not for
the dense GEMMs that run it on an accelerator: the first pass reads the input spikes (ACs), every
later pass reads real values (MACs).
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Optional

import torch
from torch import nn

from fwformer.cli import ConfigError, closest
from fwformer.energy import record_product
from fwformer.mixers.basis import BasisMixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register_family

MODE = "periodization"  # coefficient arrays keep the grid's size (other modes grow them)


# --- names and grid checks, shared by every wavelet family ----------------------------------

@functools.lru_cache(maxsize=None)
def discrete_wavelets() -> tuple[str, ...]:
    import pywt

    return tuple(pywt.wavelist(kind="discrete"))


def parse_wavelet_suffix(prefix: str, suffix: str) -> dict:
    """'db2@2' -> {'wavelet': 'db2', 'level': 2}; the level defaults to 1."""
    name = f"{prefix}{suffix}"
    wavelet, sep, level_text = suffix.partition("@")
    known = discrete_wavelets()
    if wavelet not in known:
        raise ConfigError(
            f"unknown wavelet '{wavelet}' in mixer '{name}'{closest(wavelet, known)}; expected a PyWavelets "
            f"discrete wavelet: haar, db1-db38, sym2-sym20, coif1-coif17, bior*, rbio*, dmey"
        )
    if not sep:
        return {"wavelet": wavelet, "level": 1}
    if not level_text.isdigit() or int(level_text) < 1:
        raise ConfigError(f"the level in mixer '{name}' must be an integer >= 1, but got '{level_text}'")
    return {"wavelet": wavelet, "level": int(level_text)}


def mixer_name(prefix: str, wavelet: str, level: int) -> str:
    return f"{prefix}{wavelet}" + (f"@{level}" if level != 1 else "")


def max_level(grid: tuple[int, int]) -> int:
    """Deepest level that still halves a side of at least 2 tokens."""
    side = min(grid)
    return int(math.log2(side)) if side >= 2 else 0


def _grid_text(h: int, w: int) -> str:
    return ("an " if str(h)[0] == "8" or h in (11, 18) else "a ") + f"{h}x{w}"


def check_levels(name: str, wavelet: str, level: int, grid: tuple[int, int],
                 reconstructs: Callable[[str, int, int, int], bool]) -> None:
    """ConfigError unless `reconstructs(wavelet, level, H, W)`; the message lists the levels that do."""
    h, w = int(grid[0]), int(grid[1])
    if level <= max_level((h, w)) and reconstructs(wavelet, level, h, w):
        return
    working = [j for j in range(1, max_level((h, w)) + 1) if reconstructs(wavelet, j, h, w)]
    where = f"{wavelet} on {h}x{w}"
    tail = f"levels that work for {where}: {', '.join(map(str, working))}" if working else f"no level works for {where}"
    raise ConfigError(f"{name} cannot reconstruct {_grid_text(h, w)} grid; {tail}")


def is_inverse(analysis: Optional[torch.Tensor], synthesis: Optional[torch.Tensor]) -> bool:
    """synthesis @ analysis == identity. Filters hold fp32 values (~1e-7 off); failures are O(0.01-1)."""
    if analysis is None or synthesis is None or synthesis.shape[0] != analysis.shape[1]:
        return False
    eye = torch.eye(analysis.shape[1], dtype=analysis.dtype)
    return bool((synthesis @ analysis - eye).abs().max() < 1e-4)


# --- pytorch-wavelets' operator -----------------------------------------------------------

def make_transform_pair(wavelet: str, level: int) -> tuple[nn.Module, nn.Module]:
    import warnings

    with warnings.catch_warnings():  # pytorch-wavelets imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        from pytorch_wavelets import DWTForward, DWTInverse
    return DWTForward(J=level, wave=wavelet, mode=MODE), DWTInverse(wave=wavelet, mode=MODE)


@functools.lru_cache(maxsize=None)
def pytorch_wavelets_operator(wavelet: str, level: int, h: int, w: int):
    """(analysis [C, N], synthesis [N, C], subband [C]) of pytorch-wavelets on an h x w grid, float64.

    Coefficients are ordered [last approximation, then LH, HL, HH of the deepest level, ...,
    of level 1]; `subband` numbers them 0 (approximation) and 1 + 3 (J - level) + s. Returns
    (None, None, None) when the pair cannot even run or its shapes do not close up.
    """
    fwd, inv = make_transform_pair(wavelet, level)
    fwd, inv = fwd.double(), inv.double()
    n = h * w
    try:
        with torch.no_grad():
            low, highs = fwd(torch.eye(n, dtype=torch.float64).reshape(n, 1, h, w))
            bands = [low] + highs[::-1]  # [n, 1, h', w'], then [n, 1, 3, h_j, w_j] deepest first
            analysis = torch.cat([b.reshape(n, -1) for b in bands], dim=1).T  # [C, N]
            unit = torch.eye(analysis.shape[0], dtype=torch.float64)
            parts = list(unit.split([b[0].numel() for b in bands], dim=1))
            coeffs = [p.reshape(-1, *b.shape[1:]) for p, b in zip(parts, bands)]
            y = inv((coeffs[0], coeffs[1:][::-1]))  # [C, 1, H', W']
    except RuntimeError:  # a filter longer than a padded level can fail inside conv2d
        return None, None, None
    if y.shape[-2:] != (h, w):
        return None, None, None
    synthesis = y.reshape(analysis.shape[0], n).T  # [N, C]
    subband = [torch.zeros(low[0].numel(), dtype=torch.long)]
    for depth, band in enumerate(bands[1:]):
        subband.append((1 + 3 * depth + torch.arange(3)).repeat_interleave(band[0, 0, 0].numel()))
    return analysis, synthesis, torch.cat(subband)


def pytorch_wavelets_reconstructs(wavelet: str, level: int, h: int, w: int) -> bool:
    analysis, synthesis, _ = pytorch_wavelets_operator(wavelet, level, h, w)
    return is_inverse(analysis, synthesis)


# --- energy -------------------------------------------------------------------------------

def effective_taps(lowpass, highpass) -> float:
    """Mean non-zero taps of a filter pair (PyWavelets pads biorthogonal filters with zeros)."""
    return (sum(1 for v in lowpass if v != 0) + sum(1 for v in highpass if v != 0)) / 2


def analysis_macs(grid: tuple[int, int], level: int, taps: float) -> tuple[int, int]:
    """Multiply-accumulates of the forward transform alone, one channel of one image: (on spikes, on reals).

    Level j on h x w: a row pass (h w min(taps, w)) and a column pass (h w min(taps, h)); only the
    first level's row pass reads the input spikes. Odd sizes are padded by one, as pytorch-wavelets does.
    """
    h, w = grid
    spike, real = 0.0, 0.0
    for j in range(level):
        rows, cols = h * w * min(taps, w), h * w * min(taps, h)
        spike += rows if j == 0 else 0.0
        real += cols + (rows if j > 0 else 0.0)
        h, w = (h + 1) // 2, (w + 1) // 2
    return int(round(spike)), int(round(real))


def synthesis_macs(grid: tuple[int, int], level: int, taps: float) -> int:
    """Multiply-accumulates of the inverse transform alone (all on reals), one channel of one image."""
    h, w = grid
    real = 0.0
    for _ in range(level):
        real += h * w * (min(taps, w) + min(taps, h))
        h, w = (h + 1) // 2, (w + 1) // 2
    return int(round(real))


def wavelet_taps(wavelet: str, *, learned: bool = False) -> tuple[float, float]:
    """(analysis, synthesis) taps of a PyWavelets family: non-zero ones, or every one when learned."""
    import pywt

    wave = pywt.Wavelet(wavelet)
    if learned:
        return float(wave.dec_len), float(wave.rec_len)
    return effective_taps(wave.dec_lo, wave.dec_hi), effective_taps(wave.rec_lo, wave.rec_hi)


def record_filter_bank(module: nn.Module, tag: str, *, images: int, on_spikes: int, on_reals: int,
                       spikes: torch.Tensor, reals: torch.Tensor) -> None:
    """Report one filter bank: the pass on the input `spikes` (ACs) and the rest on `reals` (MACs)."""
    record_product(module, f"{tag}.rows", flops=images * on_spikes, operand=spikes)
    record_product(module, f"{tag}.coeffs", flops=images * on_reals, operand=reals)


def filter_bank_macs(grid: tuple[int, int], level: int, taps_dec: float, taps_rec: float) -> tuple[int, int]:
    """Multiply-accumulates of one channel of one image: (on the input spikes, on real values).

    A 1-D two-band pass over a line of n values gives n/2 lowpass and n/2 highpass outputs, so
    n * taps MACs (taps capped at n: a longer periodized filter wraps onto the same n values);
    a 2-D level on h x w does a row pass and a column pass, the inverse the same with the
    synthesis taps, and the gains one multiply per coefficient (h w in all). Only the first
    pass reads the input spikes; everything after it reads real values. Odd sizes are padded
    by one, as pytorch-wavelets does.
    """
    h, w = grid
    spike, real = 0.0, float(h * w)  # gains
    for j in range(level):
        rows, cols = h * w * min(taps_dec, w), h * w * min(taps_dec, h)
        spike += rows if j == 0 else 0.0
        real += cols + (rows if j > 0 else 0.0)
        real += h * w * (min(taps_rec, w) + min(taps_rec, h))
        h, w = (h + 1) // 2, (w + 1) // 2
    return int(round(spike)), int(round(real))


def wavelet_macs(wavelet: str, level: int, grid: tuple[int, int], *, learned: bool = False) -> tuple[int, int]:
    """`filter_bank_macs` (forward, gains, inverse) for a PyWavelets family; learned filters have every tap non-zero."""
    return filter_bank_macs(grid, level, *wavelet_taps(wavelet, learned=learned))


# --- what every `<prefix><wavelet>[@level]` family shares ----------------------------------

class WaveletFamily:
    """Name parsing, the grid check and the repr of a mixer family named `<prefix><wavelet>[@level]`.

    A subclass sets `prefix`, and `reconstructs` when its own operator (not pytorch-wavelets') decides
    whether a wavelet and level invert on a grid; it sets `self.wavelet` and `self.level`."""

    prefix = ""
    reconstructs: Callable[[str, int, int, int], bool] = staticmethod(pytorch_wavelets_reconstructs)

    @classmethod
    def parse_suffix(cls, suffix: str) -> dict:
        return parse_wavelet_suffix(cls.prefix, suffix)

    @classmethod
    def check_grid(cls, grid: tuple[int, int], *, wavelet: str, level: int = 1) -> None:
        check_levels(mixer_name(cls.prefix, wavelet, level), wavelet, level, grid, cls.reconstructs)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, wavelet={self.wavelet}, level={self.level}"


def failing_bases(bases: tuple[str, ...], grid: tuple[int, int]) -> list[str]:
    """The wavelets of a one-level combination that cannot reconstruct `grid`."""
    h, w = int(grid[0]), int(grid[1])
    return [b for b in bases if min(h, w) < 2 or not pytorch_wavelets_reconstructs(b, 1, h, w)]


# --- FWformer's 2D-WT -----------------------------------------------------------------------

@register_family("dwt-", "dwt-<wavelet>[@level]")
class DWTMixer(WaveletFamily, BasisMixer):
    """The 2-D DWT's analysis matrix as the token basis; coefficients out (FWformer's 2D-WT)."""

    card = MixerCard(
        computes="`A x`: the J-level 2-D DWT (periodization) of the token grid, coefficients out, one per token "
                 "(the last approximation band, then the detail bands, deepest level first), then BN. Any "
                 "PyWavelets discrete family (`dwt-haar`, `dwt-db2@2`, `dwt-bior2.2`); a family or level that "
                 "cannot reconstruct the grid is a configuration error listing the levels that work.",
        paper="FWformer's 2D-WT (Wang et al., arXiv 2403.18228; its tables use one level of Haar)",
        code="none published for FWformer; the transform is pytorch-wavelets' `DWTForward`, read off once "
             "per (wavelet, level, grid) as a matrix",
        interpretation="The token grid as the two axes, coefficients out with no inverse, pytorch-wavelets' "
                       "coefficient order, BN then the output LIF. Families other than Haar and deeper levels "
                       "are ours to offer.",
        examples=("dwt-haar", "dwt-db2@2", "dwt-coif1", "dwt-bior2.2"),
        shortcut="spike",
    )

    prefix = "dwt-"

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, wavelet: str = "haar",
                 level: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.check_grid(self.grid, wavelet=wavelet, level=level)
        self.wavelet, self.level = wavelet, level
        analysis, _, _ = pytorch_wavelets_operator(wavelet, level, *self.grid)
        self.set_fixed_basis(analysis)  # [C = N, N]; rebuilt from the name, not saved in checkpoints
        self.costs = analysis_macs(self.grid, level, wavelet_taps(wavelet)[0])

    def record_costs(self, x: torch.Tensor, y: torch.Tensor) -> None:
        t, b, _, d = x.shape
        record_filter_bank(self, self.wavelet, images=t * b * d, on_spikes=self.costs[0], on_reals=self.costs[1],
                           spikes=x, reals=y)

