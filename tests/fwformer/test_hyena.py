"""`hyena2d` / `hyena2d-flip` against Hyena N-D's reference (Itamarzimm/HyenaND @ e8b875e, `hyena2d.py`):
the operator with its neurons and BNs taken out, the parameter count, the FFT convolution against a
direct one, the energy rows by hand, the implicit filter's window and its one shared Sin.

The reference's formulas are written out here independently of `fwformer/mixers/hyena.py` (loops,
explicit padding); only the learned tensors are read from the mixer."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.energy import measure_energy
from fwformer.layers import reset_state
from fwformer.mixers import create_mixer
from fwformer.mixers.hyena import quadrant_conv_direct, quadrant_conv_fft
from fwformer.model import build_model, count_parameters
from metering import Holder

NAMES = ["hyena2d", "hyena2d-flip"]
D, L = 4, 4  # channels, grid side
N = L * L


def make(name, dim=D, size=L):
    torch.manual_seed(0)
    return create_mixer(name, dim=dim, grid=(size, size))


def causal_loops(u, k, beta, scale):
    """y[..., c, i, j] = scale * sum_{a <= i, b <= j} k[c, i-a, j-b] u[..., c, a, b] + beta_c u[..., c, i, j]."""
    h, w = u.shape[-2:]
    y = beta[:, None, None] * u
    for i in range(h):
        for j in range(w):
            for a in range(i + 1):
                for b in range(j + 1):
                    y[..., i, j] = y[..., i, j] + scale * k[:, i - a, j - b] * u[..., a, b]
    return y


def anticausal_loops(u, k, beta, scale):
    """The opposite quadrant: y[..., c, i, j] = scale * sum_{a >= i, b >= j} k[c, a-i, b-j] u[..., c, a, b] + beta u."""
    h, w = u.shape[-2:]
    y = beta[:, None, None] * u
    for i in range(h):
        for j in range(w):
            for a in range(i, h):
                for b in range(j, w):
                    y[..., i, j] = y[..., i, j] + scale * k[:, a - i, b - j] * u[..., a, b]
    return y


def reference_operator(mixer, u, flip, scale):
    """HyenaOperator2d.forward (order 2, 2-D filter) on u `[B, L, L, D]`, with the mixer's weights."""
    p = u @ mixer.in_proj.weight.T + mixer.in_proj.bias  # [B, L, L, 3D]
    taps, bias = mixer.short_filter.weight[:, 0], mixer.short_filter.bias  # [3D, 3, 3], [3D]
    padded = F.pad(p, (0, 0, 1, 1, 1, 1))  # [B, L+2, L+2, 3D]: centred, zero padding 1
    q = bias + sum(taps[:, di, dj] * padded[:, di:di + L, dj:dj + L] for di in range(3) for dj in range(3))
    x0, x1, v = q.split(D, dim=-1)
    g = (v * x1).permute(0, 3, 1, 2)  # [B, D, L, L]
    k, beta = mixer.filter_fn(), mixer.filter_fn.bias
    if flip:  # `seq`: flip both axes before and after the convolution
        y = causal_loops(g.flip(-1, -2), k, beta, scale).flip(-1, -2)
    else:
        y = causal_loops(g, k, beta, scale)
    y = y.permute(0, 2, 3, 1) * x0  # [B, L, L, D]
    return y @ mixer.out_proj.weight.T + mixer.out_proj.bias


@pytest.mark.parametrize("name", NAMES)
def test_without_neurons_and_bns_the_mixer_is_the_reference_operator(name):
    mixer = make(name)
    for part in ("proj_lif", "conv_lif", "short_bn", "conv_bn", "out_bn"):
        setattr(mixer, part, nn.Identity())
    with torch.no_grad():  # a kernel as large as beta, so the convolution's scale shows in the output
        mixer.filter_fn.layers[-1].weight.mul_(100.0)
    u = torch.randn(2, L, L, D, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = mixer.features(u.reshape(1, 2, N, D))  # [T=1, B, N, D]
        want = reference_operator(mixer, u, name.endswith("flip"), scale=1 / (2 * L))
        other_scale = reference_operator(mixer, u, name.endswith("flip"), scale=1 / L)
    torch.testing.assert_close(got, want.reshape(1, 2, N, D), rtol=1e-4, atol=1e-5)
    # The long convolution matters at this size, so the 1/(2L) factor is checked, not swamped by beta.
    assert not torch.allclose(want, other_scale, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dim, size", [(384, 8), (16, 4)])
def test_parameter_count(dim, size):
    mixer = create_mixer("hyena2d", dim=dim, grid=(size, size))
    f = 64
    reference = 4 * dim**2 + 35 * dim + f * dim + 2 * f**2 + 10 * f + 3 * size
    bns = 2 * 3 * dim + 2 * dim + 2 * dim  # short_bn (3D channels), conv_bn, out_bn: weight and bias each
    norms = sum(p.numel() for m in mixer.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                for p in m.parameters())
    assert norms == bns
    assert count_parameters(mixer) - norms == reference
    assert count_parameters(mixer) == 4 * dim**2 + 45 * dim + f * dim + 2 * f**2 + 10 * f + 3 * size
    if dim == 384:
        assert reference == 636_696 and count_parameters(mixer) == 640_536


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("h, w", [(4, 4), (3, 5)])
def test_fft_convolution_is_the_direct_quadrant_convolution(flip, h, w):
    g = torch.Generator().manual_seed(3)
    u = torch.randn(2, 3, h, w, generator=g)  # [B', D, H, W]
    k, beta = torch.randn(3, h, w, generator=g), torch.randn(3, generator=g)
    loops = (anticausal_loops if flip else causal_loops)(u, k, beta, 0.125)
    fft = quadrant_conv_fft(u, k, beta, scale=0.125, flip=flip)
    direct = quadrant_conv_direct(u, k, beta, scale=0.125, flip=flip)
    torch.testing.assert_close(fft, loops, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(direct, loops, rtol=1e-4, atol=1e-5)


def test_the_two_names_see_opposite_quadrants():
    """One spike in the middle: hyena2d spreads it down-right, hyena2d-flip up-left."""
    k, beta = torch.ones(1, L, L), torch.zeros(1)
    u = torch.zeros(1, 1, L, L)
    u[..., 1, 2] = 1.0
    down_right = quadrant_conv_fft(u, k, beta, scale=1.0)[0, 0] > 0.5
    up_left = quadrant_conv_fft(u, k, beta, scale=1.0, flip=True)[0, 0] > 0.5
    rows, cols = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
    assert torch.equal(down_right, (rows >= 1) & (cols >= 2))
    assert torch.equal(up_left, (rows <= 1) & (cols <= 2))


@pytest.mark.parametrize("name", NAMES)
def test_energy_rows_match_the_hand_count(name):
    t, b, dim = 2, 3, 8
    mixer = make(name, dim=dim)
    for bn in (mixer.short_bn, mixer.conv_bn):  # eval-mode BN is an affine map: make the neurons fire
        bn.weight.data.fill_(10.0)
    seen = {}
    mixer.proj_lif.register_forward_hook(lambda m, i, o: seen.__setitem__("s", o.detach()))
    mixer.conv_lif.register_forward_hook(lambda m, i, o: seen.__setitem__("c", o.detach()))
    x = (torch.rand(t, b, N, dim, generator=torch.Generator().manual_seed(4)) < 0.4).float()
    report = measure_energy(Holder(mixer), [(x, torch.zeros(b))], input_kind="frames")

    x0, x1, v = seen["s"].split(dim, dim=2)  # [T, B, D, H, W] each
    c = seen["c"]
    gate, masked = x1 * v, c * x0
    rates = {"v": v.mean(), "g": gate.mean(), "c": c.mean(), "m": masked.mean()}
    assert all(0 < r < 1 for r in rates.values()), rates
    per_image = t * N * dim  # T N D elements of one image
    quadrant = (L * (L + 1) // 2) ** 2  # inputs summed over the outputs of one channel: sum (i+1)(j+1)
    want = {  # name: (kind, firing rate of the priced input, FLOPs per image)
        "mixer.in_proj": ("AC", x.mean(), per_image * 3 * dim),
        "mixer.short_filter": ("MAC", None, per_image * 3 * 9),
        "mixer.gate": ("AC", rates["v"], per_image),
        "mixer.long_conv": ("AC", rates["g"], t * dim * quadrant),
        "mixer.mask": ("AC", rates["c"], per_image),
        "mixer.out_proj": ("AC", rates["m"], per_image * dim),
    }
    rows = {row.name: row for row in report.layers}
    assert set(rows) == set(want)  # nothing else: the filter's FFN is not priced per image
    for row_name, (kind, rate, flops) in want.items():
        row = rows[row_name]
        assert (row.kind, row.flops) == (kind, flops), row_name
        if kind == "MAC":
            assert row.macs == flops and row.acs == 0
        else:
            assert row.firing_rate == pytest.approx(float(rate), rel=1e-6)
            assert row.acs == pytest.approx(float(rate) * flops, rel=1e-6) and row.macs == 0


def test_filter_window_positions_and_the_shared_sin():
    dim, size, f = 6, 5, 64
    filt = make("hyena2d", dim=dim, size=size).filter_fn
    # Decay rates: linspace(ln(1e-2)/1.5, ln(1e-2)/0.3, D), fixed buffers.
    deltas = filt.deltas.abs()
    assert deltas[0].item() == pytest.approx(math.log(100) / 1.5) == pytest.approx(3.0701, abs=1e-4)
    assert deltas[-1].item() == pytest.approx(math.log(100) / 0.3) == pytest.approx(15.3506, abs=1e-4)
    assert torch.all(deltas[1:] > deltas[:-1])
    buffers = dict(filt.named_buffers())
    assert set(buffers) == {"t", "deltas"} and "deltas" not in dict(filt.named_parameters())
    t = torch.linspace(0, 1, size)
    window = filt.window()  # [L, L, D]
    want = torch.exp(-(t[:, None, None] + t[None, :, None]) * deltas)
    torch.testing.assert_close(window, want)
    assert window[0, 0].tolist() == [1.0] * dim
    assert window[-1, -1, 0].item() == pytest.approx(math.exp(-2 * math.log(100) / 1.5), rel=1e-5)
    # Positions: z(m) = [t_m, cos(2 pi 1e-4 m / L), -sin(2 pi 1e-4 m / L)] at initialisation, learnable.
    angle = 2 * math.pi * 1e-4 * torch.arange(size) / size
    torch.testing.assert_close(filt.z.detach(), torch.stack([t, torch.cos(angle), -torch.sin(angle)], -1))
    # One Sin, one trainable frequency vector of F, started at w = 1, shared by all three activations.
    sins = [m for m in filt.modules() if type(m).__name__ == "Sin"]
    assert len(sins) == 1 and sins[0].freq.shape == (f,) and torch.equal(sins[0].freq, torch.ones(f))
    with torch.no_grad():
        sins[0].freq.copy_(torch.rand(f, generator=torch.Generator().manual_seed(5)) + 0.5)
        freq = sins[0].freq
        pairs = torch.cat([filt.z[:, None].expand(size, size, 3), filt.z[None].expand(size, size, 3)], -1)
        h = pairs
        for i, layer in enumerate(filt.layers):
            h = h @ layer.weight.T
            if i < 3:
                h = torch.sin(freq * (h + layer.bias))  # the same freq after each of the three
        torch.testing.assert_close(filt(), (h * want).permute(2, 0, 1))
    sizes = [tuple(layer.weight.shape) for layer in filt.layers]
    assert sizes == [(f, 6), (f, f), (f, f), (dim, f)] and filt.layers[-1].bias is None
    assert filt.bias.shape == (dim,)  # beta


@pytest.mark.parametrize("name", NAMES)
def test_runs_under_bf16_autocast(name):
    mixer = make(name, dim=16, size=8)
    x = (torch.rand(2, 2, 64, 16, generator=torch.Generator().manual_seed(6)) < 0.5).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = mixer(x)
    assert out.shape == x.shape and torch.isfinite(out.float()).all()
    assert ((out == 0) | (out == 1)).all()


@pytest.mark.parametrize("shortcut", ["spike", "membrane"])
def test_tiny_model_alternating_like_the_reference(shortcut):
    model = build_model(load_config("tiny", ["mixers=[hyena2d-flip,hyena2d]", f"shortcut={shortcut}"]))
    assert [b.mixer.flip for b in model.blocks] == [True, False]  # `seq` on even blocks, as the reference ViT
    assert all(b.mixer.activity_products for b in model.blocks)
    logits = model(torch.rand(3, 1, 8, 8))
    reset_state(model)
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", NAMES)
def test_a_rectangular_grid_is_a_config_error(name):
    with pytest.raises(ConfigError, match=rf"{name} needs a square token grid .* but got 8x4; allowed: H == W"):
        create_mixer(name, dim=8, grid=(8, 4))
