"""`fatm`, `fatm@<blocks>`: SWformer's Frequency-Aware Token Mixer (Fang et al., ECCV 2024, arXiv 2403.11138).

Reference code: bic-L/Spiking-Wavelet-Transformer @ da8c644, `cifar10-100/model.py` (`FATM`, `Block`),
`cifar10-100/wavelet_layers.py` (the Haar matrix, `Haar2DForward`, `Haar2DInverse`) and
`cifar10-100/neuron.py` (`MultiStepNegIFNode`). On spikes S `[T, B, N, D]` of an H x W token grid,
with b channel blocks of s = D / b channels:

    F = H_H . NegIF(S . H_W^T)                       Haar2DForward: rows (along W), neuron, columns
    W = LIF(BN(F))                                   haar_forward_bn, haar_neuron
    W_j <- W_j M_j,  M in R^{b x s x s}              block-diagonal channel mixing, shared by all positions
    I = H_H^T . NegIF(NegIF(BN(W)) . H_W)            haar_multiply_bn, then Haar2DInverse
    wavelet = BN(I)                                  haar_inverse_bn
    conv1 = BN(Conv1x1_{s->s}(S)), conv2 = BN(Conv3x3_{s->s}(S))   one conv, with bias, shared by the b blocks
    features = wavelet + conv1 + conv2               real values; no LIF, no residual inside

H_n is the orthonormal multi-level Haar matrix (`haar_matrix`), fixed. NegIF is SWformer's ternary
integrate-and-fire neuron (`fwformer.layers.SignedIFNode`) with the layers' thresholds: +1 at
v >= 1.0 (`vth=1.0`), -1 at v <= -(0.5 + 1e-3) (the class default 0.5 kept), hard reset, reset not
detached. The 2-D transform is the tensor product of two full 1-D transforms (PyWavelets' `wavedec`
along each axis), not Mallat's pyramid (`wavedec2`, our `dwt-haar@3`): a different basis beyond
one level.

`fatm` has 4 blocks, as SWformer's CIFAR runs (`train.py --flblocks`, default 4; the class default
is 16 and the ImageNet scripts pass 2); `fatm@<blocks>` takes any block count that divides D.
Parameters: D^2/b (M) + 10 s^2 + 2 s (the two convs) + 10 D (five BNs): 133,056 at D = 384, b = 4.

Contract and where our setting differs from the reference:
- Grid: the reference runs on maps `[T, B, C, H, W]`; on CIFAR they are 8x8 after its SPS, the grid of
  our CIFAR models. Our tokens are those maps read row-major, kept channels-last: the same computation.
- Block convention: SWformer's block is the membrane one (a LIF, `x_neuron`, on the stream feeds
  FATM, whose real-valued sum is added to the stream); our `membrane` block supplies that LIF and
  calls `features`. Under our `spike` convention (Spikformer's block) the mixer is fed the stream of
  spike counts directly and the base class's output LIF turns the sum into spikes: our interpretation.
- Non-square grids: the reference builds one matrix from H and assumes H = W; we transform rows with
  H_W and columns with H_H (the same when square). Both sides must be powers of two (the recursion).
- BN over channels of tokens here is the reference's BatchNorm2d over maps (the same statistics).
- The surrogate's alpha is the config's (default 4, the reference's spikingjelly default).
- Not implemented: the ImageNet variant's extras (its `haar_vth` argument, the identity added inside
  FATM, the unused `haar_inverse_neuron`); the reference's `torch.compile` and CUDA-only counters.

Energy: the convs are priced by the meter (they are nn.Conv2d). The other products are reported
with `record_product`, as synapses of their fixed or learned weights, on spike operands (binary S or
the stream's counts, ternary spikes, LIF spikes W): a {-1, 0, +1} input is an accumulate of either
sign, so SOPs = sum |x| x fan-out. The Haar matrix is priced by its non-zeros, not as a dense
product: an input spike at position i of `y = M x` reaches the non-zeros of column i of M. Every
column of H_n has 1 + log2 n of them (the scaling row and one detail row per level), so the forward
products cost mean |x| x numel x (1 + log2 n) exactly; the inverse multiplies by H^T, whose columns
(the rows of H) have n, n, n/2, n/2, n/4 (x4), ..., 2 non-zeros, so it is reported per group of
equal fan-out, which keeps the count exact at any distribution of spikes (`HaarProduct`).
`activity_products` stays False: every product has a fixed or learned weight, so a chip with fixed
synapses and signed spikes could run it.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.energy import record_product
from fwformer.layers import SignedIFNode
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register, register_family

CIFAR_BLOCKS = 4  # SWformer's train.py --flblocks default, which its CIFAR runs use
HAAR_VTH_POS = 1.0  # Haar2DForward/Haar2DInverse(MultiStepNegIFNode, vth=1.0)
HAAR_VTH_NEG = 0.5  # MultiStepNegIFNode's default negative threshold, which the layers do not change


def is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def haar_matrix(n: int) -> torch.Tensor:
    """The orthonormal n x n multi-level Haar matrix (float64), n a power of two.

    Recursion: the upper half is H_{n/2} (x) [1, 1] (coarser rows, spread over pairs), the lower half
    I_{n/2} (x) [1, -1] (the finest differences); each row is then scaled to unit norm. Rows run from
    the scaling row through the coarsest detail to the n/2 finest ones.
    """
    if not is_power_of_two(n):
        raise ValueError(f"the Haar matrix needs a power of two, but got n={n}")
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        upper = torch.kron(h, torch.tensor([[1.0, 1.0]], dtype=torch.float64))  # [m, 2m]
        lower = torch.kron(torch.eye(h.shape[0], dtype=torch.float64), torch.tensor([[1.0, -1.0]], dtype=torch.float64))
        h = torch.cat([upper, lower])  # [2m, 2m], rows not yet normalised
    return h / h.norm(dim=1, keepdim=True)


def fan_out_groups(matrix: torch.Tensor) -> list[tuple[int, int, int]]:
    """(start, length, fan-out) runs of inputs of `y = matrix @ x` that reach equally many non-zeros."""
    fan = (matrix != 0).sum(dim=0).tolist()  # per input: the non-zeros of its column
    groups: list[tuple[int, int, int]] = []
    for i, f in enumerate(fan):
        if groups and groups[-1][2] == f:
            start, length, _ = groups[-1]
            groups[-1] = (start, length + 1, f)
        else:
            groups.append((i, 1, f))
    return groups


class HaarProduct(nn.Module):
    """`matrix @ x` along one axis of channels-last maps `[T, B, H, W, D]` (rows: along W, columns: along H),
    reported to the energy meter as the synapses of the matrix's non-zeros."""

    def __init__(self, matrix: torch.Tensor, axis: str):
        super().__init__()
        assert axis in ("rows", "columns")
        self.axis = axis
        # Fixed, rebuilt from the name (not saved). Kept in float64 and cast per call, so a float32 run
        # sees the reference's float32 matrix and a float64 run the exact one.
        self.register_buffer("matrix", matrix.double(), persistent=False)
        self.groups = fan_out_groups(matrix)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.matrix.to(x.dtype)
        t, b, h, w, d = x.shape
        if self.axis == "rows":
            y = torch.matmul(m, x)  # [T, B, H, W, D]: m [W, W] acts on the W axis
        else:
            y = torch.matmul(m, x.reshape(t, b, h, w * d)).reshape(t, b, h, w, d)  # m [H, H] on the H axis
        dim = 3 if self.axis == "rows" else 2
        for start, length, fan in self.groups:  # one record per fan-out, so sum |x| x fan-out is exact
            part = x.narrow(dim, start, length)
            record_product(self, "synapses", flops=part.numel() * fan, operand=part)
        return y

    def extra_repr(self) -> str:
        return f"axis={self.axis}, n={self.matrix.shape[0]}"


class HaarForward2D(nn.Module):
    """Haar2DForward: H_H . NegIF(X . H_W^T), no neuron on the output."""

    def __init__(self, h: int, w: int, alpha: float):
        super().__init__()
        self.rows = HaarProduct(haar_matrix(w), "rows")
        self.col_neuron = SignedIFNode(HAAR_VTH_POS, HAAR_VTH_NEG, alpha=alpha)
        self.columns = HaarProduct(haar_matrix(h), "columns")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.columns(self.col_neuron(self.rows(x)))


class HaarInverse2D(nn.Module):
    """Haar2DInverse: H_H^T . NegIF(NegIF(Y) . H_W): a ternary neuron before each 1-D inverse."""

    def __init__(self, h: int, w: int, alpha: float):
        super().__init__()
        self.row_neuron = SignedIFNode(HAAR_VTH_POS, HAAR_VTH_NEG, alpha=alpha)
        self.rows = HaarProduct(haar_matrix(w).T, "rows")  # Y . H along W is H^T applied to each row
        self.col_neuron = SignedIFNode(HAAR_VTH_POS, HAAR_VTH_NEG, alpha=alpha)
        self.columns = HaarProduct(haar_matrix(h).T, "columns")

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.columns(self.col_neuron(self.rows(self.row_neuron(y))))


@register("fatm", blocks=CIFAR_BLOCKS)
@register_family("fatm@", "fatm[@<blocks>]")
class FrequencyAwareTokenMixer(Mixer):
    """SWformer's FATM: the spiking Haar branch with block-diagonal mixing, plus a 1x1 and a 3x3 conv
    shared by the channel blocks; the sum of the three branches (ending in BN) as features."""

    activity_products = False  # Haar, M and the convs are weights; nothing multiplies two activities
    card = MixerCard(
        computes="SWformer's Frequency-Aware Token Mixer with b channel blocks (`fatm`: 4, its CIFAR runs'): "
                 "`BN(Haar^-1(BN(LIF(BN(Haar(x))) blockdiag(M))))` with `Haar(X) = H NegIF(X H^T)`, "
                 "`Haar^-1(Y) = H^T NegIF(NegIF(Y) H)`, H the fixed orthonormal multi-level Haar matrix and NegIF "
                 "ternary integrate-and-fire neurons (+1 at v >= 1.0, -1 at v <= -0.501); plus `BN(Conv1x1(x))` "
                 "and `BN(Conv3x3(x))`, each one s->s convolution with bias shared by the blocks; the three "
                 "summed. Its spikes are signed: a -1 is a subtraction, which a fixed-weight chip can run.",
        paper="SWformer (Fang et al., ECCV 2024, arXiv 2403.11138)",
        code="bic-L/Spiking-Wavelet-Transformer @ da8c644, `cifar10-100/model.py` (`FATM`), "
             "`cifar10-100/wavelet_layers.py`, `cifar10-100/neuron.py` (`MultiStepNegIFNode`)",
        interpretation="A non-square grid takes one Haar matrix per axis (the reference assumes a square; both "
                       "sides must be powers of two). The ImageNet variant's extras are not implemented.",
        shortcut="membrane",
        examples=("fatm@2",),
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, blocks: int = CIFAR_BLOCKS, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.check_grid(self.grid, blocks=blocks)
        if dim % blocks:
            divisors = [k for k in range(1, dim + 1) if dim % k == 0]
            raise ConfigError(f"{self.name_of(blocks)} needs a block count that divides embed_dim={dim}, but got "
                              f"{blocks}; allowed: {', '.join(map(str, divisors))}")
        self.blocks, self.block_size = blocks, dim // blocks
        h, w, s = *self.grid, self.block_size

        self.haar_forward = HaarForward2D(h, w, self.surrogate_alpha)
        self.haar_forward_bn = nn.BatchNorm1d(dim)
        self.haar_neuron = self.lif()
        self.haar_weight = nn.Parameter(0.02 * torch.randn(blocks, s, s))  # M, the reference's init
        self.haar_multiply_bn = nn.BatchNorm1d(dim)
        self.haar_inverse = HaarInverse2D(h, w, self.surrogate_alpha)
        self.haar_inverse_bn = nn.BatchNorm1d(dim)
        self.conv1 = nn.Conv2d(s, s, kernel_size=1)
        self.conv1_bn = nn.BatchNorm1d(dim)
        self.conv2 = nn.Conv2d(s, s, kernel_size=3, padding=1)
        self.conv2_bn = nn.BatchNorm1d(dim)

    @staticmethod
    def name_of(blocks: int) -> str:
        return "fatm" if blocks == CIFAR_BLOCKS else f"fatm@{blocks}"

    @classmethod
    def parse_suffix(cls, suffix: str) -> dict:
        if not suffix.isdigit() or int(suffix) < 1:
            raise ConfigError(f"the block count in mixer 'fatm@{suffix}' must be an integer >= 1 that divides "
                              f"embed_dim (fatm@<blocks>, e.g. fatm@16; plain fatm is 4 blocks), but got '{suffix}'")
        return {"blocks": int(suffix)}

    @classmethod
    def check_grid(cls, grid: tuple[int, int], *, blocks: int = CIFAR_BLOCKS) -> None:
        h, w = int(grid[0]), int(grid[1])
        if not (is_power_of_two(h) and is_power_of_two(w)):
            raise ConfigError(f"{cls.name_of(blocks)} needs a token grid whose sides are powers of two (its Haar "
                              f"matrix halves them: 1, 2, 4, 8, 16, ...), but got {h}x{w}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        h, w = self.grid
        maps = x.reshape(t, b, h, w, d)  # channels-last maps; token n is (n // W, n % W)

        haar = self.bn_tokens(self.haar_forward_bn, self.haar_forward(maps))
        spikes = self.haar_neuron(haar)  # [T, B, H, W, D] binary
        per_block = spikes.reshape(t, b, h, w, self.blocks, self.block_size)  # [T, B, H, W, b, s]
        mixed = torch.einsum("...js,jsk->...jk", per_block, self.haar_weight).reshape(t, b, h, w, d)  # W_j M_j
        record_product(self, "haar_multiply", flops=spikes.numel() * self.block_size, operand=spikes)
        haar = self.bn_tokens(self.haar_multiply_bn, mixed)
        wavelet = self.bn_tokens(self.haar_inverse_bn, self.haar_inverse(haar)).reshape(t, b, n, d)

        # Block j is channels j*s .. (j+1)*s - 1 (the reference's reshape); folding the blocks into the
        # batch makes one s -> s conv serve all of them.
        per_block_maps = self.to_maps(x).reshape(t * b * self.blocks, self.block_size, h, w)  # [T*B*b, s, H, W]
        conv1 = self.conv_branch(self.conv1, self.conv1_bn, per_block_maps, t)
        conv2 = self.conv_branch(self.conv2, self.conv2_bn, per_block_maps, t)
        return wavelet + conv1 + conv2  # [T, B, N, D] real

    def conv_branch(self, conv: nn.Conv2d, norm: nn.BatchNorm1d, per_block_maps: torch.Tensor, t: int) -> torch.Tensor:
        """One s -> s conv on every block, the blocks side by side again, then BN over all D channels."""
        y = conv(per_block_maps).reshape(-1, self.dim, *self.grid)  # [T*B, D, H, W]
        return self.bn_tokens(norm, self.to_tokens(y, t))  # [T, B, N, D]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, blocks={self.blocks}, block_size={self.block_size}"
