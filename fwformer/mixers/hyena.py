"""`hyena2d` and `hyena2d-flip`: Hyena N-D's order-2 operator (Zimerman & Wolf, AISTATS 2024), made spiking.

The reference is `Itamarzimm/HyenaND` @ e8b875e, `pytorch-image-models/timm/models/layers/hyena2d.py`:
`HyenaOperator2d` with order 2, filter_order 64, `hyena2d_filter=True` and window_mode 'standard', as
the README's Hyena-DeiT run builds it. On an L x L grid of D channels it computes

    x0, x1, v = split(DW3x3(Linear_{D->3D}(u)))        centred depthwise "short filter", both with bias
    g         = x1 * v
    y         = Linear_{D->D}(x0 * (h ** g / (2L) + beta * g))

where `h ** g` is the linear, quadrant-causal convolution y[i,j] = sum_{a<=i, b<=j} h[c, i-a, j-b] g[a,b]
(zero-padded FFT on 2L x 2L; the 1/(2L) is the reference's division of the kernel's spectrum by the FFT
size on top of irfft2's own normalisation), `beta` a learnable skip per channel (randn), and `h` an
implicit filter (`ImplicitFilter2d`): an FFN of the positions (i, j), times a fixed exponential window.
Its `directional_mode='seq'` flips the signal in both axes around the convolution, so the sum runs over
a >= i, b >= j: that is `hyena2d-flip`. Run with `--directional_mode seq`, the reference ViT (`Block`,
`vision_transformer.py`) sets `seq` on the EVEN block indices (0-based: 0, 2, ...) and 'standard' on the
odd ones, so `mixers=[hyena2d-flip, hyena2d, hyena2d-flip, hyena2d]`
reproduces its alternation; a per-block search picks each block's direction itself.

Spiking version. INTERPRETATION: no spiking Hyena is published; this follows the recipe in the
project's MIXERS.md (section 8, [INFERRED]). Spikes `x` `[T, B, N, D]` in:

    x0, x1, v = LIF(BN(DW3x3(Linear(x))))             three spike tensors (one BN and LIF over 3D channels)
    g         = x1 AND v                              a product of two spike tensors
    c         = LIF_0.5(BN(h ** g / (2L) + beta g))   the long convolution, real kernel, spikes in
    features  = BN(Linear(c AND x0))

and the output LIF of `Mixer.forward` (the `spike` block convention); in the `membrane` convention the
block feeds `features` with LIF(stream) and adds the BN output. What we chose where the recipe is open:
- BN before every LIF, as in Spikformer's q/k/v; the neuron after the long convolution has threshold 0.5,
  as Spikformer's neuron after its attention product, whose place the long convolution takes;
- the short filter keeps the reference's place, right after in_proj with nothing in between: it is fed
  real values, so the energy meter prices it as MACs (27 D per token and step), not ACs;
- every layer keeps the reference's bias (in_proj, short filter, out_proj), though a BN follows;
- dropout (0 in the reference's runs) is left out; the grid must be square (the reference's filter,
  positions and 1/(2L) are defined on L x L only), a ConfigError otherwise;
- the implicit filter and the FFT convolution run in fp32 with autocast off.

Parameters: the reference's 4D^2 + 35D + F D + 2F^2 + 10F + 3L (F = 64) plus our BNs' 6D + 2D + 2D,
so 4D^2 + 45D + F D + 2F^2 + 10F + 3L: 640,536 at D = 384, L = 8 (636,696 without the BNs).

Energy (`record_product`, on top of the Linear and Conv2d layers the meter prices itself):
- `gate`: x1 AND v, T B N D operations at v's firing rate (v the signal, x1 its mask, as the reference
  writes `v * x1`);
- `long_conv`: the direct quadrant convolution of the spikes g, each output (i, j) summing (i+1)(j+1)
  inputs: T B D (H(H+1)/2)(W(W+1)/2) operations at g's rate (the same count for the flipped quadrant);
  beta folds into the kernel's (0, 0) tap, so it adds none. The FFT is how an accelerator runs it;
  a spike-driven chip would run the direct form, which `quadrant_conv_direct` computes;
- `mask`: c AND x0, T B N D at c's rate.
The filter's FFN runs on positions only: batch-independent, a fixed kernel computed once at inference,
so it is not priced per image (its Linear layers are evaluated functionally, out of the meter's sight).
The gates multiply two activity-dependent tensors (`activity_products`): a neuromorphic chip with fixed
synaptic weights cannot run them. Under `energy.model=simple` the figures are spikingjelly's, which
counts what runs: it sees the FFN's matrix products every forward (N (6F + 2F^2 + F D) MACs, per batch)
and no FFT operation; `lemaire` refuses this mixer, as it does every mixer with products.

Initialisation: in_proj, short filter, out_proj and the FFN's Linear layers as PyTorch builds them, or,
under `init: spikformer`, the truncated normal (std 0.02) on every Linear, the FFN's included, as the
reference DeiT's `_init_vit_weights` gives them (the kernel then starts near zero and beta carries the
convolution); z, beta (randn) and the Sin frequencies (1) as the reference. At initialisation the LIF
after the short filter fires a few per cent of the time, so the two ANDs make the gated path sparse
(its rate about the product of the rates).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from fwformer.cli import ConfigError
from fwformer.energy import record_product
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register

FILTER_ORDER = 64  # width F of the filter's FFN (`--hyena_filter_order`)
EMB_DIM = 3  # positional features per axis: t and one complex band (Re, Im)
BAND_FREQ = 1e-4  # the single band of `PositionalEmbedding` (linspace(1e-4, bands - 1, bands), bands = 1)
INNER_LAYERS = 2  # `num_inner_mlps`
SIN_FREQ = 1.0  # `w`, the initial frequency of the shared Sin
# ExponentialModulation: decay rates ln(target)/pct for the slow and fast ends, |delta| from 3.07 to 15.35.
TARGET, SLOW_PCT, FAST_PCT = 1e-2, 1.5, 0.3


# --- the long convolution ---------------------------------------------------------------------

def quadrant_conv_fft(u: torch.Tensor, k: torch.Tensor, beta: torch.Tensor, *, scale: float,
                      flip: bool = False) -> torch.Tensor:
    """`scale * (k ** u) + beta u`, quadrant-causal and zero-padded, by FFT on a 2H x 2W grid.

    u `[..., D, H, W]`, k `[D, H, W]`, beta `[D]`. flip: the opposite quadrant (a >= i, b >= j), by
    flipping u in both axes before and the result after, as the reference's `seq` mode does.
    """
    h, w = u.shape[-2:]
    if flip:
        u = u.flip(-1, -2)
    size = (2 * h, 2 * w)  # twice the grid: no wrap-around, so the convolution is linear
    spectrum = torch.fft.rfft2(u, s=size) * torch.fft.rfft2(k, s=size)  # [..., D, 2H, W+1]
    y = torch.fft.irfft2(spectrum, s=size)[..., :h, :w] * scale + u * beta[:, None, None]  # [..., D, H, W]
    return y.flip(-1, -2) if flip else y


def quadrant_conv_direct(u: torch.Tensor, k: torch.Tensor, beta: torch.Tensor, *, scale: float,
                         flip: bool = False) -> torch.Tensor:
    """The same as `quadrant_conv_fft` as a direct depthwise convolution (what a spike-driven chip runs)."""
    h, w = u.shape[-2:]
    if flip:
        u = u.flip(-1, -2)
    lead = u.shape[:-3]
    maps = u.reshape(-1, *u.shape[-3:])  # [B', D, H, W]
    # conv2d correlates: padding on top/left and the kernel reversed make y[i,j] = sum k[i-a, j-b] u[a,b].
    padded = F.pad(maps, (w - 1, 0, h - 1, 0))  # [B', D, 2H-1, 2W-1]
    y = F.conv2d(padded, k.flip(-1, -2)[:, None], groups=k.shape[0]) * scale + maps * beta[:, None, None]
    y = y.reshape(*lead, *y.shape[1:])
    return y.flip(-1, -2) if flip else y


def quadrant_taps(h: int, w: int) -> int:
    """Inputs summed over all outputs of one channel: output (i, j) sums (i+1)(j+1) of them."""
    return (h * (h + 1) // 2) * (w * (w + 1) // 2)


# --- the implicit filter ----------------------------------------------------------------------

class Sin(nn.Module):
    """sin(freq * x) with a trainable frequency per feature (the reference's `Sin`, train_freq=True)."""

    def __init__(self, features: int, w: float = SIN_FREQ):
        super().__init__()
        self.freq = nn.Parameter(torch.full((features,), float(w)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.freq * x)


class ImplicitFilter2d(nn.Module):
    """`HyenaFilter2d` with `hyena2d_filter=True`: the kernel `[D, L, L]` as a function of the positions.

    z(t) = [t, Re e^{-i f w}, Im e^{-i f w}], t = linspace(0, 1, L), w = 2 pi m / L for position m,
    f = 1e-4: a learnable `[L, 3]`. Position (i, j) feeds concat(z(i), z(j)) to
    Linear(6, F) Sin Linear(F, F) Sin Linear(F, F) Sin Linear(F, D, no bias), ONE Sin module (one
    frequency vector) for all three activations, then the window exp(-t_i |delta_c|) exp(-t_j |delta_c|)
    with delta = linspace(ln(1e-2)/1.5, ln(1e-2)/0.3, D) fixed (window_mode 'standard': shift 0, and the
    reference's X and Y deltas are equal). `bias` is beta, the skip of the convolution.
    """

    def __init__(self, dim: int, size: int, order: int = FILTER_ORDER):
        super().__init__()
        self.size = size
        t = torch.linspace(0, 1, size)  # [L]
        angle = BAND_FREQ * 2 * math.pi * torch.arange(size, dtype=torch.float32) / size  # f w, [L]
        self.z = nn.Parameter(torch.stack([t, torch.cos(angle), -torch.sin(angle)], dim=-1))  # [L, 3]
        self.register_buffer("t", t, persistent=False)
        deltas = torch.linspace(math.log(TARGET) / SLOW_PCT, math.log(TARGET) / FAST_PCT, dim)  # [D]
        self.register_buffer("deltas", deltas, persistent=False)
        widths = [2 * EMB_DIM] + [order] * (INNER_LAYERS + 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.layers.append(nn.Linear(order, dim, bias=False))
        self.act = Sin(order)
        self.bias = nn.Parameter(torch.randn(dim))

    def window(self) -> torch.Tensor:
        """`[L, L, D]`: exp(-t_i |delta|) exp(-t_j |delta|)."""
        decay = torch.exp(-self.t[:, None] * self.deltas.abs())  # [L, D]
        return decay[:, None, :] * decay[None, :, :]

    def forward(self) -> torch.Tensor:
        n = self.size
        rows = self.z[:, None].expand(n, n, EMB_DIM)  # z(i) at (i, j)
        cols = self.z[None].expand(n, n, EMB_DIM)  # z(j) at (i, j)
        h = torch.cat([rows, cols], dim=-1)  # [L, L, 6]
        # Called functionally, not as modules: the energy meter prices module calls per image, and this
        # FFN runs on positions only (at inference, once for a fixed kernel).
        for layer in self.layers[:-1]:
            h = self.act(F.linear(h, layer.weight, layer.bias))  # [L, L, F]
        h = F.linear(h, self.layers[-1].weight)  # [L, L, D]
        return (h * self.window()).permute(2, 0, 1)  # [D, L, L]


HYENA_CARD = MixerCard(
    computes="Hyena N-D's order-2 operator on spikes: `x0, x1, v = LIF(BN(DW_3x3(Linear(x))))`; "
             "`c = LIF_0.5(BN(h ** (x1 AND v) / (2L) + beta (x1 AND v)))` with `h` the implicit filter (an FFN of "
             "positions with one shared Sin, times a fixed exponential window) and `**` the linear quadrant-causal "
             "2-D convolution; `BN(Linear(c AND x0))`. Square grids only. `-flip` takes the opposite quadrant "
             "(the reference's `seq`), which the reference uses on even blocks: `mixers=[hyena2d-flip,hyena2d,...]` "
             "reproduces its alternation.",
    paper="Hyena N-D (Zimerman & Wolf, AISTATS 2024)",
    code="Itamarzimm/HyenaND @ e8b875e, `pytorch-image-models/timm/models/layers/hyena2d.py`, `HyenaOperator2d` "
         "(operator, filter, 1/(2L) and parameters as its code)",
    interpretation="The spiking form is ours (no spiking Hyena is published): the neurons, the three BNs, "
                   "threshold 0.5 after the long convolution.",
)


# --- the mixer --------------------------------------------------------------------------------

class SpikingHyena2d(Mixer):
    """Hyena N-D's order-2 operator on spikes; `flip` chooses the quadrant (see the module docstring)."""

    activity_products = True  # x1 AND v, c AND x0
    mixer_name = "hyena2d"  # create_mixer sets the same on the instance
    flip = False

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.check_grid(self.grid)
        size = self.grid[0]
        self.in_proj = nn.Linear(dim, 3 * dim)
        self.short_filter = nn.Conv2d(3 * dim, 3 * dim, kernel_size=3, padding=1, groups=3 * dim)
        self.short_bn = nn.BatchNorm2d(3 * dim)
        self.proj_lif = self.lif()
        self.filter_fn = ImplicitFilter2d(dim, size)
        self.scale = 1.0 / (2 * size)  # the reference's extra 1/(2L)
        self.conv_bn = nn.BatchNorm2d(dim)
        self.conv_lif = self.lif(v_threshold=0.5)
        self.out_proj = nn.Linear(dim, dim)
        self.out_bn = nn.BatchNorm1d(dim)

    @classmethod
    def check_grid(cls, grid: tuple[int, int]) -> None:
        if grid[0] != grid[1]:
            raise ConfigError(
                f"{cls.mixer_name} needs a square token grid (the reference's filter and its 1/(2L) are defined on "
                f"L x L), but got {grid[0]}x{grid[1]}; allowed: H == W"
            )

    def long_conv(self, g: torch.Tensor) -> torch.Tensor:
        """`[T*B, D, L, L]` spikes -> real, in fp32: h ** g / (2L) + beta g (the quadrant of `flip`)."""
        with torch.autocast(device_type=g.device.type, enabled=False):
            return quadrant_conv_fft(g.float(), self.filter_fn(), self.filter_fn.bias, scale=self.scale,
                                     flip=self.flip)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        u = self.short_bn(self.short_filter(self.to_maps(self.in_proj(x))))  # [T*B, 3D, H, W]
        s = self.proj_lif(u.unflatten(0, (t, -1))).flatten(0, 1)  # spikes, [T*B, 3D, H, W]
        x0, x1, v = s.split(self.dim, dim=1)  # [T*B, D, H, W] each
        g = x1 * v
        record_product(self, "gate", flops=g.numel(), operand=v)
        c = self.long_conv(g)
        record_product(self, "long_conv", flops=g.shape[0] * self.dim * quadrant_taps(*self.grid), operand=g)
        c = self.conv_lif(self.conv_bn(c).unflatten(0, (t, -1))).flatten(0, 1)  # spikes, [T*B, D, H, W]
        m = c * x0
        record_product(self, "mask", flops=m.numel(), operand=c)
        y = self.out_proj(self.to_tokens(m, t))  # [T, B, N, D]
        return self.bn_tokens(self.out_bn, y)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, quadrant={'bottom-right (seq)' if self.flip else 'top-left'}"


@register("hyena2d")
class SpikingHyena2dStandard(SpikingHyena2d):
    """The reference's 'standard' direction: output (i, j) sees inputs a <= i, b <= j (odd blocks there)."""

    card = HYENA_CARD


@register("hyena2d-flip")
class SpikingHyena2dFlip(SpikingHyena2d):
    """The reference's 'seq' direction: output (i, j) sees inputs a >= i, b >= j (even blocks there)."""

    card = HYENA_CARD

    mixer_name = "hyena2d-flip"
    flip = True
