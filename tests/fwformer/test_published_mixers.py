"""The mixers named after papers, against their reference code's computation written out here
independently (in the reference's `[T, B, C, H, W]` layout), their parameter formulas
(../shared/MIXERS.md), and the energy meter's counts against a hand count."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fwformer.energy import measure_energy
from fwformer.layers import reset_state
from fwformer.mixers import create_mixer
from fwformer.model import count_parameters
from metering import Holder

T, B, H, W, D, HEADS = 3, 2, 4, 4, 8, 2
N = H * W


def make(name: str, dim: int = D, grid=(H, W), heads: int = HEADS):
    torch.manual_seed(0)
    mixer = create_mixer(name, dim=dim, grid=grid, num_heads=heads)
    randomise_norms(mixer)
    return mixer.eval()


def randomise_norms(module: nn.Module) -> None:
    """BN statistics and affine parameters away from the identity, so a misplaced BN shows."""
    g = torch.Generator().manual_seed(3)
    for bn in module.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            c = bn.num_features
            bn.running_mean.copy_(0.3 * torch.randn(c, generator=g))
            bn.running_var.copy_(0.5 + torch.rand(c, generator=g))
            bn.weight.data.copy_(1 + 0.5 * torch.randn(c, generator=g))
            bn.bias.data.copy_(1.5 + 0.7 * torch.randn(c, generator=g))  # drives the LIFs to fire


def spikes(rate: float = 0.4, seed: int = 1, shape=(T, B, N, D)) -> torch.Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < rate).float()


# --- the reference's pieces, written out ------------------------------------------------------------

def lif(x: torch.Tensor, threshold: float = 1.0, tau: float = 2.0) -> torch.Tensor:
    """spikingjelly's multi-step LIF (decay_input, hard reset to 0) over the first axis."""
    v, out = torch.zeros_like(x[0]), []
    for xt in x:
        v = v + (xt - v) / tau
        s = (v >= threshold).float()
        v = v * (1 - s)
        out.append(s)
    return torch.stack(out)


def bn(x: torch.Tensor, norm: nn.Module, channel_dim: int = 1) -> torch.Tensor:
    """Eval-mode BatchNorm over `channel_dim`."""
    shape = [1] * x.dim()
    shape[channel_dim] = -1
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return (x - norm.running_mean.view(shape)) * scale.view(shape) + norm.bias.view(shape)


def conv1x1(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """The reference's bias-aware 1x1 Conv2d on `[T*B, C, H, W]`, with our Linear layer's weights."""
    return F.conv2d(x, linear.weight[:, :, None, None], linear.bias)


def proj(x5: torch.Tensor, layer) -> torch.Tensor:
    """conv1x1 then BN on `[T, B, C, H, W]` (our `LinearBN`'s weights)."""
    t, b = x5.shape[:2]
    y = bn(conv1x1(x5.flatten(0, 1), layer.linear), layer.bn)
    return y.reshape(t, b, *y.shape[1:])


def to_maps5(x: torch.Tensor) -> torch.Tensor:  # [T, B, N, D] -> [T, B, D, H, W]
    return x.reshape(T, B, H, W, -1).permute(0, 1, 4, 2, 3)


def from_maps5(y: torch.Tensor) -> torch.Tensor:  # [T, B, D, H, W] -> [T, B, N, D]
    return y.flatten(3).transpose(2, 3)


def features(mixer, x):
    with torch.no_grad():
        out = mixer.features(x)
    reset_state(mixer)
    return out


# --- SDSA ------------------------------------------------------------------------------------------

def test_sdsa_is_ms_ssa_conv():
    m = make("sdsa")
    x = spikes()
    s = to_maps5(x)
    q, k, v = (lif(proj(s, getattr(m, n))) for n in "qkv")
    kv = lif((k * v).sum(dim=(3, 4), keepdim=True), 0.5)  # the token sum of K AND V, LIF at 0.5
    expected = from_maps5(proj(q * kv, m.proj))
    torch.testing.assert_close(features(m, x), expected)


def test_sdsa_is_head_invariant_and_its_parameter_count():
    assert torch.equal(features(make("sdsa", heads=1), spikes()), features(make("sdsa", heads=4), spikes()))
    assert count_parameters(make("sdsa", dim=384, grid=(8, 8), heads=8)) == 4 * 384**2 + 9 * 384


# --- SDSA-3 and RepConv -----------------------------------------------------------------------------

def repconv_reference(x: torch.Tensor, rc) -> torch.Tensor:
    """Meta-SpikeFormer's RepConv on `[M, C, H, W]`: BNAndPadLayer pads BN's zero response."""
    y = bn(F.conv2d(x, rc.pw1), rc.bn1)
    pad = bn(torch.zeros(1, y.shape[1], 1, 1), rc.bn1).view(-1)
    y = F.pad(y, [1, 1, 1, 1])
    y[:, :, 0, :] = pad.view(1, -1, 1)
    y[:, :, -1, :] = pad.view(1, -1, 1)
    y[:, :, :, 0] = pad.view(1, -1, 1)
    y[:, :, :, -1] = pad.view(1, -1, 1)
    y = F.conv2d(y, rc.dw, groups=y.shape[1])
    return bn(F.conv2d(y, rc.pw2), rc.bn2)


def test_sdsa3_is_ms_attention_repconv_qkv_id():
    m = make("sdsa3")
    x = spikes()
    s = to_maps5(x).flatten(0, 1)  # [T*B, C, H, W]

    def qkv(layer):
        y = bn(repconv_reference(s, layer.conv), layer.bn).reshape(T, B, D, N)
        return lif(y).transpose(-1, -2).reshape(T, B, N, HEADS, D // HEADS).permute(0, 1, 3, 2, 4)

    q, k, v = qkv(m.q), qkv(m.k), qkv(m.v)
    attn = (q @ (k.transpose(-2, -1) @ v)) * 0.125  # K^T V first
    attn = lif(attn.transpose(3, 4).reshape(T, B, D, N), 0.5).reshape(T * B, D, H, W)
    expected = bn(repconv_reference(attn, m.proj.conv), m.proj.bn).reshape(T, B, D, H, W)
    torch.testing.assert_close(features(m, x), from_maps5(expected))
    assert count_parameters(make("sdsa3", dim=384, grid=(8, 8), heads=8)) == 8 * 384**2 + 60 * 384


def test_repconv_folds_into_one_3x3_convolution():
    rc = make("sdsa3").q.conv
    x = spikes(shape=(4, D, H, W))
    with torch.no_grad():
        torch.testing.assert_close(rc.folded()(x), rc(x), rtol=1e-5, atol=1e-5)


# --- SepConv ---------------------------------------------------------------------------------------

def test_sepconv_is_v2_sepconv():
    m = make("sepconv")
    x = spikes()
    y = bn(F.conv2d(to_maps5(x).flatten(0, 1), m.pw1.weight), m.bn1)
    y = lif(y.reshape(T, B, 2 * D, H, W)).flatten(0, 1)
    y = bn(F.conv2d(F.conv2d(y, m.dw.weight, padding=3, groups=2 * D), m.pw2.weight), m.bn2)
    torch.testing.assert_close(features(m, x), from_maps5(y.reshape(T, B, D, H, W)))
    assert count_parameters(make("sepconv", dim=384, grid=(8, 8))) == 4 * 384**2 + 104 * 384


# --- QKFormer ---------------------------------------------------------------------------------------

def test_qkta_is_token_qk_attention():
    m = make("qkta")
    x = spikes()
    xc = x.transpose(2, 3)  # [T, B, C, N], the reference's layout

    def conv_bn_lif(layer):
        y = F.conv1d(xc.flatten(0, 1), layer.linear.weight[:, :, None])
        return lif(bn(y, layer.bn).reshape(T, B, D, N))

    q = conv_bn_lif(m.q).reshape(T, B, HEADS, D // HEADS, N)
    k = conv_bn_lif(m.k).reshape(T, B, HEADS, D // HEADS, N)
    attn = lif(q.sum(dim=3, keepdim=True), 0.5)  # one token mask per head
    y = (attn * k).flatten(2, 3).flatten(0, 1)
    y = bn(F.conv1d(y, m.proj.linear.weight[:, :, None], m.proj.linear.bias), m.proj.bn).reshape(T, B, D, N)
    torch.testing.assert_close(features(m, x), y.transpose(2, 3))
    # The head size decides how many channels vote: QKTA depends on the heads.
    assert not torch.equal(features(make("qkta", heads=1), x), features(make("qkta", heads=4), x))


def test_qkca_masks_k_by_the_token_sum_of_q():
    m = make("qkca")
    x = spikes()
    q = lif(m.q.bn(m.q.linear(x.reshape(-1, D))).reshape(T, B, N, D))
    k = lif(m.k.bn(m.k.linear(x.reshape(-1, D))).reshape(T, B, N, D))
    mask = lif(q.sum(dim=2, keepdim=True), 0.5)  # [T, B, 1, D]: one mask per channel
    expected = m.proj.bn(m.proj.linear((mask * k).reshape(-1, D))).reshape(T, B, N, D)
    torch.testing.assert_close(features(m, x), expected.detach())


@pytest.mark.parametrize("name", ["qkta", "qkca"])
def test_qk_parameter_count(name):
    assert count_parameters(make(name, dim=384, grid=(8, 8), heads=8)) == 3 * 384**2 + 7 * 384


# --- spectral (GFNet / SpectFormer) ------------------------------------------------------------------

def test_spectral_is_gfnet_global_filter():
    m = make("spectral")
    x = spikes()
    weight = torch.view_as_complex(m.complex_weight)
    y = torch.fft.irfft2(torch.fft.rfft2(x.reshape(T * B, H, W, D), dim=(1, 2), norm="ortho") * weight,
                         s=(H, W), dim=(1, 2), norm="ortho")
    torch.testing.assert_close(m.global_filter(x), y.reshape(T, B, N, D))
    assert m.complex_weight.shape == (H, W // 2 + 1, D, 2)
    assert count_parameters(make("spectral", dim=384, grid=(8, 8))) == 80 * 384 + 2 * 384  # + its BN


@pytest.mark.parametrize("grid", [(4, 4), (4, 6)])
def test_spectral_filter_is_the_circular_convolution_with_its_kernel(grid):
    h, w = grid
    m = make("spectral", grid=grid)
    x = spikes(shape=(1, 2, h * w, D))
    kernel = m.circular_kernel()  # [H, W, D]
    grid_x = x.reshape(2, h, w, D)
    expected = torch.zeros_like(grid_x)
    for i in range(h):
        for j in range(w):
            for a in range(h):
                for b in range(w):
                    expected[:, i, j] += kernel[(i - a) % h, (j - b) % w] * grid_x[:, a, b]
    with torch.no_grad():
        torch.testing.assert_close(m.global_filter(x).reshape(2, h, w, D), expected, rtol=1e-5, atol=1e-6)


# --- axial attention and GSAP ------------------------------------------------------------------------

def ssa_reference(x: torch.Tensor, att, heads: int, scale: float = 0.125) -> torch.Tensor:
    """Spikformer's SSA on `[T, M, L, D]` (attention among the L tokens of each of M sequences)."""
    t, m_, length, d = x.shape

    def qkv(layer):
        y = lif(layer.bn(layer.linear(x.reshape(-1, d))).reshape(t, m_, length, d))
        return y.reshape(t, m_, length, heads, d // heads).transpose(2, 3)

    q, k, v = qkv(att.q), qkv(att.k), qkv(att.v)
    y = lif(((q @ k.transpose(-2, -1)) @ v * scale).transpose(2, 3).reshape(t, m_, length, d), 0.5)
    return att.proj.bn(att.proj.linear(y.reshape(-1, d))).reshape(t, m_, length, d)


def test_axial_is_ssa_along_rows_then_columns():
    m = make("axial", grid=(4, 2))
    x = spikes(shape=(T, B, 8, D))
    rows = ssa_reference(x.reshape(T, B * 4, 2, D), m.rows, HEADS)  # each row's 2 tokens
    cols = lif(rows).reshape(T, B, 4, 2, D).transpose(2, 3).reshape(T, B * 2, 4, D)  # each column's 4
    expected = ssa_reference(cols, m.columns, HEADS).reshape(T, B, 2, 4, D).transpose(2, 3).reshape(T, B, 8, D)
    torch.testing.assert_close(features(m, x), expected.detach())
    ssa = make("ssa", dim=384, grid=(8, 8), heads=8)
    assert count_parameters(make("axial", dim=384, grid=(8, 8), heads=8)) == 2 * count_parameters(ssa)


def test_gsap_is_gsap_attention():
    m = make("gsap")
    x = spikes()
    s = to_maps5(x).flatten(0, 1)

    def cbn(seq, y, **kw):
        return bn(F.conv2d(y, seq[0].weight, seq[0].bias, **kw), seq[1])

    def spike5(y, th=1.0):
        return lif(y.reshape(T, B, *y.shape[1:]), th).flatten(0, 1)

    local = cbn(m.local, s, padding=1, groups=D)
    gate = spike5(cbn(m.gate, s), 0.5)
    feature = spike5(cbn(m.feature, s))
    message = spike5(cbn(m.row, feature, padding=(0, W - 1), groups=D) + feature)
    message = cbn(m.column, message, padding=(H - 1, 0), groups=D)
    y = spike5(bn(s + local + message * gate, m.attn_bn), 0.5)
    expected = cbn(m.proj, y).reshape(T, B, D, H, W)
    torch.testing.assert_close(features(m, x), from_maps5(expected))
    assert m.row[0].kernel_size == (1, 2 * W - 1) and m.column[0].kernel_size == (2 * H - 1, 1)
    assert count_parameters(make("gsap", dim=384, grid=(8, 8))) == 3 * 384**2 + 54 * 384


# --- Max-Former's local mixers -------------------------------------------------------------------------

@pytest.mark.parametrize("k", [3, 5, 7])
def test_dwc_is_maxformer_mixer_dwc(k):
    m = make(f"dwc{k}")
    x = spikes()
    y = bn(F.conv2d(to_maps5(x).flatten(0, 1), m.conv.weight, m.conv.bias, padding=k // 2, groups=D), m.bn)
    torch.testing.assert_close(features(m, x), from_maps5(y.reshape(T, B, D, H, W)))
    assert count_parameters(make(f"dwc{k}", dim=384, grid=(8, 8))) == k * k * 384 + 384 + 2 * 384


def test_maxpool_pools_the_spikes_of_each_3x3_neighbourhood():
    m = make("maxpool")
    x = spikes()
    y = bn(F.max_pool2d(to_maps5(x).flatten(0, 1), 3, stride=1, padding=1), m.bn)
    torch.testing.assert_close(features(m, x), from_maps5(y.reshape(T, B, D, H, W)))


# --- energy: every product the papers price, against a hand count --------------------------------------

def metered(name: str, x: torch.Tensor):
    """(rows by name, spike tensors seen by each named neuron) for one pass of mixer `name` on x."""
    mixer = make(name)
    seen = {}
    for n, module in mixer.named_modules():
        if n.endswith("lif"):
            module.register_forward_hook(lambda mod, i, o, n=n: seen.setdefault(n, o.detach()))
    with torch.no_grad():
        mixer(x)
    reset_state(mixer)
    report = measure_energy(Holder(mixer), [(x, torch.zeros(B))], input_kind="frames")
    return {r.name: r for r in report.layers}, seen


def rate(t: torch.Tensor) -> float:
    return t.abs().mean().item()


def test_sdsa_masks_and_column_sum_are_accumulates_at_their_operands_rates():
    x = spikes()
    rows, seen = metered("sdsa", x)
    q, k, v = seen["q_lif"], seen["k_lif"], seen["v_lif"]
    per_image = T * N * D  # each mask and the sum: one operation per element, per image
    assert rows["mixer.kv"].kind == "AC" and rows["mixer.kv"].acs == pytest.approx(rate(k) * per_image)
    assert rows["mixer.kv_sum"].acs == pytest.approx(rate(k * v) * per_image)
    assert rows["mixer.mask"].acs == pytest.approx(rate(q) * per_image)
    # q, k, v read the input spikes: rate x T N D^2; the projection reads the masked q.
    assert rows["mixer.q.linear"].acs == pytest.approx(rate(x) * T * N * D * D)
    assert rows["mixer.proj.linear"].kind == "AC"


def test_qkta_sum_and_mask_are_accumulates():
    x = spikes()
    rows, seen = metered("qkta", x)
    assert rows["mixer.q_sum"].acs == pytest.approx(rate(seen["q_lif"]) * T * N * D)
    assert rows["mixer.mask"].acs == pytest.approx(rate(seen["k_lif"]) * T * N * D)
    assert "mixer.v.linear" not in rows  # Q and K only


def test_sdsa3_prices_each_repconv_as_its_folded_3x3_convolution():
    x = spikes()
    rows, seen = metered("sdsa3", x)
    assert not any(r.op == "Conv2d" for r in rows.values())  # the unfolded chain is not priced
    folded = T * N * D * D * 9
    assert rows["mixer.q.conv.folded_conv3x3"].acs == pytest.approx(rate(x) * folded)
    assert rows["mixer.proj.conv.folded_conv3x3"].acs == pytest.approx(rate(seen["attn_lif"]) * folded)
    hd = D // HEADS
    assert rows["mixer.kv"].acs == pytest.approx(rate(seen["k_lif"]) * T * N * D * hd)


def test_spectral_is_priced_as_the_circular_convolution_on_spikes():
    x = spikes()
    rows, _ = metered("spectral", x)
    assert rows["mixer.circular_conv"].kind == "AC"
    assert rows["mixer.circular_conv"].acs == pytest.approx(rate(x) * T * N * N * D)


def test_gsap_convolutions_read_spikes_and_the_gate_is_a_mask():
    x = spikes()
    rows, seen = metered("gsap", x)
    for layer in ("feature.0", "gate.0", "local.0", "row.0", "column.0", "proj.0"):
        assert rows[f"mixer.{layer}"].kind == "AC", layer
    assert rows["mixer.row.0"].acs == pytest.approx(rate(seen["feature_lif"]) * T * N * D * (2 * W - 1))
    assert rows["mixer.gate"].acs == pytest.approx(rate(seen["gate_lif"]) * T * N * D)


def test_axial_core_costs_rows_plus_columns_not_tokens_squared():
    x = spikes()
    rows, _ = metered("axial", x)
    hd = D // HEADS
    # q k^T along rows: each of the N tokens meets the W of its row, per head channel.
    assert rows["mixer.rows.qk"].flops == T * N * W * hd * HEADS
    assert rows["mixer.columns.qk"].flops == T * N * H * hd * HEADS


def test_ternary_spikes_are_priced_as_accumulates_at_their_mean_magnitude():
    class Signed(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3, bias=False)

        def forward(self, x):
            return self.fc(x)

    x = torch.tensor([[[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0]]])  # [1, 2, 4]: |x| mean 3/8
    row = measure_energy(Signed(), [(x, torch.zeros(1))], input_kind="frames").layers[0]
    assert row.kind == "AC" and row.firing_rate == 3 / 8
    assert row.acs == pytest.approx(3 / 8 * 2 * 4 * 3)
