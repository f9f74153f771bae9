"""Spike-driven Transformer's attentions (Yao et al.): `sdsa` (V1, NeurIPS 2023), `sdsa3` and
`sepconv` (V2 / Meta-SpikeFormer, ICLR 2024). Spikes `[T, B, N, D]` in, features (ending in BN) out.

`sdsa`, as `MS_SSA_Conv.forward` computes it (BICLab/Spike-Driven-Transformer @ 3faa822,
module/ms_conv.py):

    q, k, v = LIF(BN(W x))          bias-free 1x1 projections, each with its own BN and LIF
    kv      = LIF_0.5(sum_n k * v)  the column (token) sum of K AND V: one binary mask per channel
    out     = BN(W_p (q * kv) + b)  Q masked by it, a projection with bias and BN; no softmax, no scale

Every step is channel-wise, so the heads do not change the result (the reference's reshape into
heads is a no-op for the mathematics). The reference also builds a `talking_heads` Conv1d(h, h)
that its forward never calls: we do not build it, so a block here has h^2 fewer parameters
(4 D^2 + 9 D instead of 4 D^2 + 9 D + h^2).

`sdsa3`, Meta-SpikeFormer's SDSA-3 (`MS_Attention_RepConv_qkv_id`, BICLab/Spike-Driven-Transformer-V2
@ 35f245f, classification/models.py): q, k, v = LIF(BN(RepConv(x))), then per head
`LIF_0.5((q (k^T v)) * 0.125)` (K^T V first, the scale fixed at 0.125 in the reference), then
BN(RepConv(.)) as the projection. SDSA-2 and SDSA-4 are not implemented (their formulas are not
settled in the material available to us).

`sepconv`, V2's early-stage token mixer (`SepConv`): BN(PW_{2D->D}(DW_7x7(LIF(BN(PW_{D->2D}(x)))))),
no biases, no neuron between the depthwise and the second pointwise conv (so that conv reads real
values: priced as MACs).

The block convention: the references are membrane-shortcut blocks, which begin with a LIF on the
stream (`shortcut_lif`, `head_lif`, `lif1`) and end in BN; with `shortcut: membrane` the block
supplies that LIF and adds these features, exactly so. With `shortcut: spike` (Spikformer's
blocks) the mixer reads the stream of spike counts and its output LIF makes spikes: an
interpretation of ours.

Energy: the Linear layers are priced by the meter; the masks and the column sum are reported as
accumulates on spike operands (`record_product`): K AND V at K's rate, its column sum at the rate
of K AND V, the mask on Q at Q's rate, each T B N D operations. A RepConv is priced as the single
3x3 convolution it folds into at inference (exactly: every step is linear and the reference pads
with BN's response to zero), on its spike input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fwformer.energy import record_product
from fwformer.layers import LinearBN
from fwformer.mixers.attention import check_heads
from fwformer.mixers.base import Mixer, maps_to_tokens, tokens_to_maps
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


@register("sdsa")
class SpikeDrivenSelfAttention(Mixer):
    activity_products = True  # K AND V, and the mask on Q
    card = MixerCard(
        computes="Spike-driven self-attention: bias-free q, k, v = LIF(BN(W x)); `mask = LIF_0.5(sum over tokens "
                 "of k AND v)`, one binary mask per channel; `BN(W_p (q AND mask) + b)`. No softmax, no scale; "
                 "the number of heads does not change the result.",
        paper="Spike-driven Transformer V1 (Yao et al., NeurIPS 2023)",
        code="BICLab/Spike-Driven-Transformer @ 3faa822, `module/ms_conv.py`, `MS_SSA_Conv`",
        interpretation="The reference's talking-heads `Conv1d(h, h)`, built but never called, is not built "
                       "here (h^2 fewer parameters).",
        shortcut="membrane",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.q, self.k, self.v = (LinearBN(dim, dim, bias=False) for _ in range(3))
        self.q_lif, self.k_lif, self.v_lif = self.lif(), self.lif(), self.lif()
        self.kv_lif = self.lif(v_threshold=0.5)  # the reference's `talking_heads_lif`
        self.proj = LinearBN(dim, dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        q, k, v = self.q_lif(self.q(x)), self.k_lif(self.k(x)), self.v_lif(self.v(x))
        kv = k * v  # [T, B, N, D], K AND V
        record_product(self, "kv", flops=t * b * n * d, operand=k)
        record_product(self, "kv_sum", flops=t * b * n * d, operand=kv)
        mask = self.kv_lif(kv.sum(dim=2, keepdim=True))  # [T, B, 1, D]: one binary mask per channel
        record_product(self, "mask", flops=t * b * n * d, operand=q)
        return self.proj(q * mask)


class RepConv(nn.Module):
    """Meta-SpikeFormer's re-parameterisable conv on feature maps `[M, C_in, H, W]`:
    conv1x1 (no bias) -> BN -> pad 1 pixel with BN's response to 0 -> depthwise 3x3 (no bias, no
    padding) -> conv1x1 to C_out (no bias) -> BN.

    Every step is linear, and the padding equals what the chain gives a zero input, so the whole is
    one 3x3 convolution with bias on the zero-padded input (`folded`), which is what inference runs
    and what the energy meter prices (9 C_in C_out per output pixel, on the input's spikes). The
    layers are held as parameters applied functionally, so the meter does not also price the
    unfolded chain that training runs.
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.pw1 = nn.Parameter(torch.empty(c_in, c_in, 1, 1))
        self.bn1 = nn.BatchNorm2d(c_in)
        self.dw = nn.Parameter(torch.empty(c_in, 1, 3, 3))
        self.pw2 = nn.Parameter(torch.empty(c_out, c_in, 1, 1))
        self.bn2 = nn.BatchNorm2d(c_out)
        for w in (self.pw1, self.dw, self.pw2):  # nn.Conv2d's own default initialisation
            nn.init.kaiming_uniform_(w, a=5 ** 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, _, h, w = x.shape
        y = self.bn1(F.conv2d(x, self.pw1))  # [M, C_in, H, W]
        # The border holds BN1's response to a zero input under its running statistics, detached, as
        # the reference's BNAndPadLayer (exactly what a zero-padded input gives in eval mode).
        bn = self.bn1
        pad = (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
        y = F.pad(y, [1, 1, 1, 1])  # [M, C_in, H+2, W+2]
        border = torch.ones(1, 1, h + 2, w + 2, dtype=y.dtype, device=y.device)
        border[..., 1:-1, 1:-1] = 0
        y = y + border * pad.to(y.dtype).view(1, -1, 1, 1)
        y = F.conv2d(y, self.dw, groups=y.shape[1])  # [M, C_in, H, W]
        y = self.bn2(F.conv2d(y, self.pw2))  # [M, C_out, H, W]
        record_product(self, "folded_conv3x3", flops=m * h * w * self.pw2.shape[0] * self.pw1.shape[0] * 9,
                       operand=x)
        return y

    @torch.no_grad()
    def folded(self) -> nn.Conv2d:
        """The single 3x3 convolution (with bias, zero padding 1) this RepConv equals in eval mode."""
        c_out, c_in = self.pw2.shape[0], self.pw1.shape[0]
        s1 = self.bn1.weight / torch.sqrt(self.bn1.running_var + self.bn1.eps)  # BN1 = s1 * z + t1
        t1 = self.bn1.bias - self.bn1.running_mean * s1
        s2 = self.bn2.weight / torch.sqrt(self.bn2.running_var + self.bn2.eps)
        t2 = self.bn2.bias - self.bn2.running_mean * s2
        a = self.pw1[:, :, 0, 0] * s1[:, None]  # [C_in(mid), C_in]: pw1 then BN1's scale
        p2 = self.pw2[:, :, 0, 0]  # [C_out, C_in(mid)]
        # out[o] = s2[o] * sum_m p2[o, m] * sum_taps dw[m, tap] * (sum_i a[m, i] x[i, tap] + t1[m]) + t2[o]
        weight = torch.einsum("om,mhw,mi->oihw", p2, self.dw[:, 0], a) * s2[:, None, None, None]
        bias = s2 * (p2 @ (self.dw[:, 0].sum(dim=(1, 2)) * t1)) + t2
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=True)
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        return conv


class RepConvBN(nn.Module):
    """`Sequential(RepConv, BatchNorm2d)`, the reference's q, k, v and proj, on tokens `[T, B, N, D]`."""

    def __init__(self, dim: int, grid: tuple[int, int]):
        super().__init__()
        self.grid = grid
        self.conv = RepConv(dim, dim)
        self.bn = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return maps_to_tokens(self.bn(self.conv(tokens_to_maps(x, self.grid))), x.shape[0])


@register("sdsa3")
class SpikeDrivenSelfAttention3(Mixer):
    activity_products = True  # K^T V and its product with Q
    card = MixerCard(
        computes="Meta-SpikeFormer's SDSA-3: q, k, v = LIF(BN(RepConv(x))); per head `LIF_0.5((q (k^T v)) * "
                 "0.125)`, K^T V first; then `BN(RepConv(.))`. RepConv = conv1x1, BN, padding with BN's zero "
                 "response, depthwise 3x3, conv1x1, BN.",
        paper="Spike-driven Transformer V2 / Meta-SpikeFormer (Yao et al., ICLR 2024)",
        code="BICLab/Spike-Driven-Transformer-V2 @ 35f245f, `classification/models.py`, "
             "`MS_Attention_RepConv_qkv_id`",
        interpretation="SDSA-2 and SDSA-4 of the paper are not implemented: their formulas are not settled in "
                       "the text available to us.",
        shortcut="membrane",
    )
    SCALE = 0.125  # `self.scale` of the reference, fixed there

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        check_heads("sdsa3", dim, num_heads)
        self.q, self.k, self.v, self.proj = (RepConvBN(dim, self.grid) for _ in range(4))
        self.q_lif, self.k_lif, self.v_lif = self.lif(), self.lif(), self.lif()
        self.attn_lif = self.lif(v_threshold=0.5)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        h, hd = self.num_heads, d // self.num_heads

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.reshape(t, b, n, h, hd).transpose(2, 3)  # [T, B, h, N, D/h]

        q, k, v = heads(self.q_lif(self.q(x))), heads(self.k_lif(self.k(x))), heads(self.v_lif(self.v(x)))
        kv = k.transpose(-2, -1) @ v  # [T, B, h, D/h, D/h]: counts
        record_product(self, "kv", flops=t * b * h * n * hd * hd, operand=k)
        out = (q @ kv) * self.SCALE  # [T, B, h, N, D/h]
        record_product(self, "q_kv", flops=t * b * h * n * hd * hd, operand=q)
        out = self.attn_lif(out.transpose(2, 3).reshape(t, b, n, d))
        return self.proj(out)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, heads={self.num_heads}, scale={self.SCALE}"


@register("sepconv")
class SeparableConvMixer(Mixer):
    card = MixerCard(
        computes="`BN(PW_{2D->D}(DW_7x7(LIF(BN(PW_{D->2D}(x))))))`: an inverted separable convolution, no biases, "
                 "no neuron after the depthwise convolution (the second pointwise convolution reads real values).",
        paper="Meta-SpikeFormer (Yao et al., ICLR 2024): its early-stage token mixer",
        code="BICLab/Spike-Driven-Transformer-V2 @ 35f245f, `classification/models.py`, `SepConv`",
        shortcut="membrane",
    )

    """V2's `SepConv`: expansion 2, depthwise kernel 7 (padding 3), no biases."""

    EXPANSION, KERNEL = 2, 7

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        mid = self.EXPANSION * dim
        self.pw1 = nn.Conv2d(dim, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.lif1 = self.lif()  # the reference's lif2 (its lif1 is the block's, in the membrane convention)
        self.dw = nn.Conv2d(mid, mid, self.KERNEL, padding=self.KERNEL // 2, groups=mid, bias=False)
        self.pw2 = nn.Conv2d(mid, dim, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        y = self.bn1(self.pw1(self.to_maps(x)))  # [T*B, 2D, H, W]
        y = self.lif1(y.reshape(t, -1, *y.shape[1:])).flatten(0, 1)  # spikes, the LIF over T
        return self.to_tokens(self.bn2(self.pw2(self.dw(y))), t)
