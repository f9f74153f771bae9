"""SWformer's FATM (`fatm`, `fatm@<blocks>`): the Haar matrix against its closed form and PyWavelets,
the mixer against the reference computation written out here, the ternary neurons, parameters,
conv sharing across blocks, energy by hand (ternary operands included), names and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.energy import listening, measure_energy
from fwformer.energy.sop import PRICED, SopMeter
from fwformer.layers import SignedIFNode, reset_state
from fwformer.mixers import check_mixer, create_mixer, known_names
from fwformer.mixers.fatm import HaarProduct, haar_matrix
from fwformer.mixers.registry import resolve_mixer
from fwformer.model import build_model, count_parameters

SIDES = [1, 2, 4, 8, 16, 32, 64]


# --- the reference, written out independently -----------------------------------------------

def haar_closed_form(n: int) -> torch.Tensor:
    """Haar functions: the constant 1/sqrt(n), then for level j = 0, 1, ... and shift k < 2^j the
    difference +-1/sqrt(L) on the two halves of [k L, (k+1) L), L = n / 2^j."""
    h = torch.zeros(n, n, dtype=torch.float64)
    h[0] = 1 / math.sqrt(n)
    row, support = 1, n
    while support >= 2:
        for k in range(n // support):
            lo, mid, hi = k * support, k * support + support // 2, (k + 1) * support
            h[row, lo:mid], h[row, mid:hi] = 1 / math.sqrt(support), -1 / math.sqrt(support)
            row += 1
        support //= 2
    return h


def neg_if(x: torch.Tensor, v_pos: float = 1.0, v_neg: float = 0.5) -> torch.Tensor:
    """MultiStepNegIFNode over the first axis: V += X; +1 at V >= v_pos, -1 at V <= -(v_neg + 1e-3); V = 0 after either."""
    v, out = torch.zeros_like(x[0]), []
    for xt in x:
        v = v + xt
        s = (v >= v_pos).to(x.dtype) - (v <= -(v_neg + 1e-3)).to(x.dtype)
        v = torch.where(s != 0, torch.zeros_like(v), v)
        out.append(s)
    return torch.stack(out)


def lif(x: torch.Tensor, tau: float = 2.0, v_th: float = 1.0) -> torch.Tensor:
    v, out = torch.zeros_like(x[0]), []
    for xt in x:
        v = v + (xt - v) / tau
        s = (v >= v_th).to(x.dtype)
        v = torch.where(s != 0, torch.zeros_like(v), v)
        out.append(s)
    return torch.stack(out)


def bn(x: torch.Tensor, layer: torch.nn.BatchNorm1d) -> torch.Tensor:
    """BatchNorm2d on [T, B, C, H, W]: batch statistics in training, running ones in eval."""
    if layer.training:
        mean = x.mean(dim=(0, 1, 3, 4))
        var = x.var(dim=(0, 1, 3, 4), unbiased=False)
    else:
        mean, var = layer.running_mean, layer.running_var
    shape = (1, 1, -1, 1, 1)
    return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + layer.eps) * layer.weight.view(shape) + \
        layer.bias.view(shape)


def reference_fatm(s: torch.Tensor, m) -> torch.Tensor:
    """SWformer's FATM.forward after its x_neuron, on spikes s `[T, B, C, H, W]`, with `m`'s weights."""
    t, b, c, h, w = s.shape
    hh, hw = haar_closed_form(h), haar_closed_form(w)
    size = c // m.blocks
    f = hh @ neg_if(s @ hw.T)  # Haar2DForward
    f = lif(bn(f, m.haar_forward_bn))
    mixed = torch.empty_like(f)
    for j in range(m.blocks):
        block = slice(j * size, (j + 1) * size)
        mixed[:, :, block] = torch.einsum("tbdhw,dk->tbkhw", f[:, :, block], m.haar_weight[j])
    f = bn(mixed, m.haar_multiply_bn)
    f = hh.T @ neg_if(neg_if(f) @ hw)  # Haar2DInverse
    wavelet = bn(f, m.haar_inverse_bn)
    convs = []
    for conv, norm, pad in ((m.conv1, m.conv1_bn, 0), (m.conv2, m.conv2_bn, 1)):
        parts = [F.conv2d(s[:, :, j * size:(j + 1) * size].flatten(0, 1), conv.weight, conv.bias, padding=pad)
                 for j in range(m.blocks)]
        convs.append(bn(torch.cat(parts, dim=1).reshape(t, b, c, h, w), norm))
    return wavelet + convs[0] + convs[1]


def to_tokens(img: torch.Tensor) -> torch.Tensor:
    """[T, B, C, H, W] -> [T, B, N, C], tokens row-major."""
    return img.flatten(3).transpose(2, 3)


def randomise_norms(mixer, seed: int = 3) -> None:
    g = torch.Generator().manual_seed(seed)
    for layer in mixer.modules():
        if isinstance(layer, torch.nn.BatchNorm1d):
            c = layer.num_features
            layer.running_mean.copy_(0.3 * torch.randn(c, generator=g))
            layer.running_var.copy_(0.5 + torch.rand(c, generator=g))
            layer.weight.data.copy_(0.5 + torch.rand(c, generator=g))
            layer.bias.data.copy_(0.3 * torch.randn(c, generator=g))


def fatm(name: str = "fatm", dim: int = 8, grid=(4, 4), seed: int = 0):
    torch.manual_seed(seed)
    return create_mixer(name, dim=dim, grid=grid)


def spike_maps(t, b, c, h, w, rate=0.5, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, b, c, h, w, generator=g) < rate).to(dtype)


# --- the Haar matrix ------------------------------------------------------------------------

@pytest.mark.parametrize("n", SIDES)
def test_haar_matrix_is_the_orthonormal_multilevel_basis(n):
    h = haar_matrix(n)
    torch.testing.assert_close(h, haar_closed_form(n), rtol=0, atol=1e-15)
    torch.testing.assert_close(h @ h.T, torch.eye(n, dtype=torch.float64), rtol=0, atol=1e-12)
    levels = int(math.log2(n))
    nonzero = h != 0
    assert int(nonzero.sum()) == n * (1 + levels)
    # Every column (an input position) meets the scaling row and one detail row per level ...
    assert nonzero.sum(dim=0).tolist() == [1 + levels] * n
    # ... while the rows hold n, n, n/2, n/2, n/4 (x4), ..., 2 non-zeros.
    expected_rows = [n] + [n >> j for j in range(levels) for _ in range(2 ** j)]
    assert nonzero.sum(dim=1).tolist() == expected_rows


def test_haar_matrix_of_8_has_32_non_zeros():
    assert int((haar_matrix(8) != 0).sum()) == 32


@pytest.mark.parametrize("n", SIDES[1:])
def test_haar_matrix_rows_are_pywavelets_full_level_haar(n):
    """pywt.wavedec(e_i, 'haar', 'periodization', level=log2 n), concatenated [cA_J, cD_J, ..., cD_1], is
    column i of H_n: the same rows in the same order with the same signs (pywt's detail is (x0 - x1)/sqrt 2)."""
    import pywt

    level = int(math.log2(n))
    columns = [np.concatenate(pywt.wavedec(np.eye(n)[i], "haar", mode="periodization", level=level))
               for i in range(n)]
    np.testing.assert_allclose(np.stack(columns, axis=1), haar_matrix(n).numpy(), rtol=0, atol=1e-12)


def test_the_2d_transform_is_per_axis_wavedec_not_the_pyramid():
    """H X H^T is the full 1-D transform along each axis (the tensor-product basis); PyWavelets' wavedec2
    (Mallat's pyramid, our dwt-haar@3) is another basis at 3 levels."""
    import pywt

    x = np.random.default_rng(0).random((8, 8))
    h = haar_matrix(8).numpy()
    per_axis = np.concatenate(pywt.wavedec(np.concatenate(pywt.wavedec(x, "haar", mode="periodization", axis=1),
                                                          axis=1), "haar", mode="periodization", axis=0), axis=0)
    np.testing.assert_allclose(h @ x @ h.T, per_axis, rtol=0, atol=1e-12)
    pyramid, _ = pywt.coeffs_to_array(pywt.wavedec2(x, "haar", mode="periodization", level=3))
    assert not np.allclose(np.sort((h @ x @ h.T).ravel()), np.sort(pyramid.ravel()))


# --- the mixer against the reference --------------------------------------------------------

@pytest.mark.parametrize("blocks, grid", [(2, (4, 4)), (4, (4, 4)), (2, (8, 8)), (4, (8, 8)), (2, (4, 8))])
@pytest.mark.parametrize("training", [False, True])
def test_features_are_the_reference_computation(blocks, grid, training):
    mixer = fatm(f"fatm@{blocks}", dim=8, grid=grid).double()
    randomise_norms(mixer)
    mixer.train(training)
    with torch.no_grad():
        mixer.haar_weight.mul_(25)  # M at init (0.02 randn) leaves the inverse's neurons almost silent
    seen = {}
    for name in ("haar_forward.col_neuron", "haar_inverse.row_neuron", "haar_inverse.col_neuron"):
        mixer.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
    s = spike_maps(3, 2, 8, *grid)  # T = 3 steps, so the IF neurons integrate, fire and reset
    with torch.no_grad():
        ours = mixer.features(to_tokens(s))
    reset_state(mixer)
    torch.testing.assert_close(ours, to_tokens(reference_fatm(s, mixer)), rtol=1e-10, atol=1e-10)
    for name, out in seen.items():  # the ternary neurons really fired both ways
        assert set(out.unique().tolist()) == {-1.0, 0.0, 1.0}, name


def test_the_three_ternary_neurons_have_the_reference_thresholds_and_dynamics():
    mixer = fatm()
    neurons = [mixer.haar_forward.col_neuron, mixer.haar_inverse.row_neuron, mixer.haar_inverse.col_neuron]
    assert [type(m) for m in mixer.modules()].count(SignedIFNode) == 3
    # Per step: no leak, +1 at V >= 1.0, -1 at V <= -0.501, V = 0 after either spike.
    # Columns are neurons, rows steps: -0.6 fires at once but +0.6 waits (asymmetric thresholds); a
    # charge is kept without leak (columns 3, 4); -0.5 is inside the 1e-3 margin (column 4).
    x = torch.tensor([[0.6, -0.3, -0.6, 0.6, -0.5, 0.4],
                      [0.6, -0.3, 0.0, 0.0, 0.0, -1.0],
                      [0.6, -0.3, 0.0, 0.6, -0.5, 0.1]])
    expected = torch.tensor([[0, 0, -1, 0, 0, 0],
                             [1, -1, 0, 0, 0, -1],
                             [0, 0, 0, 1, -1, 0]], dtype=torch.float32)
    for neuron in neurons:
        assert (neuron.v_threshold, neuron.v_threshold_neg, neuron.detach_reset) == (1.0, 0.5, False)
        torch.testing.assert_close(neuron(x), expected, rtol=0, atol=0)
        reset_state(neuron)
        torch.testing.assert_close(neuron(x.double()), neg_if(x.double()), rtol=0, atol=0)
        reset_state(neuron)


def test_parameter_count_is_the_formula():
    for dim, blocks in [(384, 4), (384, 16), (384, 2), (8, 2), (32, 4)]:
        s = dim // blocks
        mixer = create_mixer(f"fatm@{blocks}", dim=dim, grid=(8, 8))
        assert count_parameters(mixer) == dim * dim // blocks + 10 * s * s + 2 * s + 10 * dim
    assert count_parameters(create_mixer("fatm", dim=384, grid=(8, 8))) == 133_056
    assert count_parameters(create_mixer("fatm@16", dim=384, grid=(8, 8))) == 18_864


def test_one_conv_serves_every_channel_block():
    mixer = fatm("fatm@4", dim=16, grid=(4, 4))
    s = 4
    assert mixer.conv1.weight.shape == (s, s, 1, 1) and mixer.conv2.weight.shape == (s, s, 3, 3)
    assert mixer.conv1.bias is not None and mixer.conv2.bias is not None
    outputs = {}
    for name in ("conv1", "conv2"):
        getattr(mixer, name).register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
    x = spike_maps(2, 3, 16, 4, 4, dtype=torch.float32)
    mixer.features(to_tokens(x))
    for name, pad in (("conv1", 0), ("conv2", 1)):
        conv = getattr(mixer, name)
        out = outputs[name].reshape(6, 16, 4, 4)  # [T*B, D, H, W]
        for j in range(4):
            alone = F.conv2d(x.flatten(0, 1)[:, j * s:(j + 1) * s], conv.weight, conv.bias, padding=pad)
            torch.testing.assert_close(out[:, j * s:(j + 1) * s], alone)


# --- energy -----------------------------------------------------------------------------------

def metered(module, *inputs):
    """The meter's rows for one call: convs through their hooks, the rest through `record_product`."""
    meter = SopMeter({m: f"mixer.{n}" if n else "mixer" for n, m in module.named_modules()})
    for m in module.modules():
        if isinstance(m, PRICED):
            m.register_forward_hook(meter.hook)
    with torch.no_grad(), listening(meter):
        module(*inputs)
    return {row.name: row for row in meter.rows(rate_one=False)}


def test_ternary_haar_product_by_hand():
    """x = [+1, -1, 0, +1] along a 4-point axis, signed spikes: 3 events.
    Forward (H_4): every column has 3 non-zeros, so 3 x 3 = 9 synaptic ops = mean |x| 0.75 x 12.
    Inverse (H_4^T): the inputs reach 4, 4, 2, 2 non-zeros, so 4 + 4 + 0 + 2 = 10 (one mean-rate record
    would say 0.75 x 12 = 9). Dense, either would be 16 MACs."""
    x = torch.tensor([1.0, -1.0, 0.0, 1.0]).reshape(1, 1, 1, 4, 1)  # [T, B, H, W, D], along W
    forward = metered(HaarProduct(haar_matrix(4), "rows"), x)["mixer.synapses"]
    assert (forward.kind, forward.flops, forward.acs, forward.firing_rate) == ("AC", 12, 9.0, 0.75)
    inverse = metered(HaarProduct(haar_matrix(4).T, "rows"), x)["mixer.synapses"]
    assert (inverse.kind, inverse.flops, inverse.acs, inverse.firing_rate) == ("AC", 12, 10.0, 0.75)
    columns = metered(HaarProduct(haar_matrix(4).T, "columns"), x.reshape(1, 1, 4, 1, 1))["mixer.synapses"]
    assert (columns.kind, columns.acs) == ("AC", 10.0)


def exact_synapses(product: HaarProduct, x: torch.Tensor) -> float:
    """sum_i |x_i| x (non-zeros of column i of the matrix), along the product's axis."""
    fan = (product.matrix != 0).sum(dim=0).to(x.dtype)
    dim = 3 if product.axis == "rows" else 2
    shape = [1] * x.dim()
    shape[dim] = -1
    return float((x.abs() * fan.view(shape)).sum())


def test_mixer_products_are_priced_as_exact_synapse_counts():
    mixer = fatm("fatm@2", dim=8, grid=(8, 8))
    with torch.no_grad():
        mixer.haar_weight.mul_(25)
    products = {n: m for n, m in mixer.named_modules() if isinstance(m, HaarProduct)}
    operands = {}
    for name, product in products.items():
        product.register_forward_hook(lambda m, i, o, name=name: operands.__setitem__(name, i[0]))
    mixer.haar_neuron.register_forward_hook(lambda m, i, o: operands.__setitem__("haar_neuron", o))
    x = to_tokens(spike_maps(3, 2, 8, 8, 8, rate=0.3, dtype=torch.float32))
    rows = metered(mixer, x)
    assert set(products) == {"haar_forward.rows", "haar_forward.columns", "haar_inverse.rows", "haar_inverse.columns"}
    for name, product in products.items():
        row = rows[f"mixer.{name}.synapses"]
        operand = operands[name]
        assert row.kind == "AC" and row.flops == operand.numel() * 4  # 1 + log2 8 per input on average
        assert row.acs == pytest.approx(exact_synapses(product, operand), rel=1e-12)
        if name != "haar_forward.rows":  # the input S is binary; the rest are the ternary neurons' spikes
            assert (operand == -1).any() and (operand == 1).any()
    spikes = operands["haar_neuron"]
    mix = rows["mixer.haar_multiply"]
    assert mix.kind == "AC" and mix.flops == spikes.numel() * 4  # T B N D s, s = 4
    assert mix.acs == pytest.approx(float(spikes.sum()) * 4, rel=1e-12)
    ones = float(x.sum())
    assert rows["mixer.conv1"].acs == pytest.approx(ones * 4) and rows["mixer.conv2"].acs == pytest.approx(ones * 36)


def test_rate_one_energy_of_tiny_counts_every_synapse():
    cfg = load_config("tiny", ["mixers=fatm"])
    report = measure_energy(build_model(cfg), None, input_kind="static")
    identity = measure_energy(build_model(load_config("tiny", ["mixers=identity"])), None, input_kind="static")
    T, N, D, s = cfg.T, 64, cfg.embed_dim, cfg.embed_dim // 4
    haar = 4 * N * D * (1 + 3)  # four products, 1 + log2 8 non-zeros per column (not 4 N D sqrt(N) dense)
    mixer = T * (11 * N * D * s + haar)  # M, conv1 (1x1), conv2 (3x3) and the Haar synapses
    assert report.by_part["blocks.0.mixer"]["acs"] == mixer
    assert report.acs - identity.acs == cfg.depth * mixer and report.macs == identity.macs


# --- names, errors, the model ----------------------------------------------------------------

def test_fatm_is_four_blocks_and_fatm_at_b_any_divisor():
    assert fatm("fatm", dim=32).blocks == 4
    assert fatm("fatm@16", dim=32).block_size == 2
    assert resolve_mixer("fatm") == resolve_mixer("fatm@4")
    from space.mixers import canonical_mixer

    assert canonical_mixer("fatm") == canonical_mixer("fatm@4") != canonical_mixer("fatm@16")
    assert "fatm[@<blocks>]" in known_names() and "fatm" not in known_names()  # one entry for both spellings


@pytest.mark.parametrize("name, grid, message", [
    ("fatm@x", (8, 8), r"the block count in mixer 'fatm@x' must be an integer >= 1 that divides embed_dim .* got 'x'"),
    ("fatm@0", (8, 8), r"the block count in mixer 'fatm@0' must be an integer >= 1"),
    ("fatm@", (8, 8), r"the block count in mixer 'fatm@' must be an integer >= 1 .* but got ''"),
    ("fatm@3", (8, 8), r"fatm@3 needs a block count that divides embed_dim=32, but got 3; allowed: 1, 2, 4, 8, 16, 32$"),
    ("fatm", (6, 6), r"fatm needs a token grid whose sides are powers of two .*, but got 6x6$"),
    ("fatm@2", (8, 12), r"fatm@2 needs a token grid whose sides are powers of two .*, but got 8x12$"),
    ("fatmx", (8, 8), r"unknown mixer 'fatmx' \(did you mean: fatm"),
])
def test_bad_names_and_grids_are_one_line_config_errors(name, grid, message):
    with pytest.raises(ConfigError, match=message) as err:
        create_mixer(name, dim=32, grid=grid)
    assert "\n" not in str(err.value)


def test_config_errors_reach_the_model():
    with pytest.raises(ConfigError, match=r"fatm needs a token grid whose sides are powers of two"):
        load_config("tiny", ["mixers=fatm", "img_size=12"])
    with pytest.raises(ConfigError, match=r"fatm@3 needs a block count that divides embed_dim=32"):
        build_model(load_config("tiny", ["mixers=fatm@3"]))
    check_mixer("fatm@16", (16, 16))


def test_runs_under_bf16_autocast():
    mixer = fatm("fatm", dim=16, grid=(8, 8))
    x = to_tokens(spike_maps(2, 2, 16, 8, 8, dtype=torch.float32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = mixer(x)
        features = mixer.features(x)
    assert out.shape == x.shape and bool(((out == 0) | (out == 1)).all())
    assert torch.isfinite(features.float()).all()


@pytest.mark.parametrize("shortcut", ["spike", "membrane"])
def test_tiny_model_with_fatm_trains_a_step(shortcut):
    torch.manual_seed(0)
    model = build_model(load_config("tiny", ["mixers=[fatm,fatm@2]", f"shortcut={shortcut}"]))
    logits = model(torch.rand(3, 1, 8, 8))
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()
    logits.sum().backward()
    reset_state(model)
    assert model.blocks[1].mixer.haar_weight.grad is not None
