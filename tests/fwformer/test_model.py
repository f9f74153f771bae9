"""The model: Spikformer geometry and parameter count, inputs, configs and their errors."""
import pytest
import torch

from fwformer.cli import ConfigError
from fwformer.config import load_config, preset_names
from fwformer.layers import reset_state
from fwformer.model import build_model, count_parameters


def test_spikformer_4_384_has_the_published_parameter_count():
    model = build_model(load_config("spikformer-4-384"))
    assert count_parameters(model) == pytest.approx(9.32e6, rel=1e-3)


def test_every_preset_loads_and_validates():
    for name in preset_names():
        cfg = load_config(name)
        assert len(cfg.block_mixers) == cfg.depth


def test_fwformer_presets_differ_from_spikformer_only_in_mixers():
    base = load_config("spikformer-4-384")
    for name in ("fwformer-4-384-fft1d", "fwformer-4-384-fft2d", "fwformer-4-384-wt", "fwformer-4-384-dwtc"):
        cfg = load_config(name)
        assert cfg.mixers != base.mixers
        assert (cfg.embed_dim, cfg.depth, cfg.T, cfg.num_heads) == (base.embed_dim, base.depth, base.T, base.num_heads)


def test_overrides_build_a_model_with_one_mixer_per_block():
    cfg = load_config("tiny", ["mixers=[identity,ssa]", "T=3"])
    model = build_model(cfg)
    assert [type(b.mixer).__name__ for b in model.blocks] == ["IdentityMixer", "SpikingSelfAttention"]
    assert model.T == 3


def test_single_mixer_name_means_every_block():
    cfg = load_config("tiny", ["mixers=identity", "depth=3"])
    assert cfg.block_mixers == ["identity"] * 3


def test_static_and_frame_inputs_give_logits_and_gradients():
    cfg = load_config("tiny")
    model = build_model(cfg)
    static = torch.rand(3, 1, 8, 8)
    assert model(static).shape == (3, 10)
    frames = (torch.rand(cfg.T, 3, 1, 8, 8) > 0.5).float()
    logits = model(frames)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_neuron_state_persists_until_the_loop_resets_it():
    from spikingjelly.activation_based.neuron import BaseNode

    model = build_model(load_config("tiny")).eval()
    x = torch.rand(2, 1, 8, 8)
    neurons = [m for m in model.modules() if isinstance(m, BaseNode)]
    with torch.no_grad():
        first = model(x)
        # The membrane potentials the call left behind are still there for the next call.
        assert any(torch.is_tensor(n.v) and n.v.abs().sum() > 0 for n in neurons)
        reset_state(model)
        assert all(float(torch.as_tensor(n.v).abs().max()) == 0.0 for n in neurons)
        again = model(x)
    assert torch.equal(first, again)


def test_wrong_input_shape_names_the_expected_one():
    model = build_model(load_config("tiny"))
    with pytest.raises(ValueError, match=r"input must be \[B, 1, 8, 8\]"):
        model(torch.rand(2, 3, 8, 8))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["T=0"], r"T must be >= 1, but got T=0"),
        (["mixers=[ssa,ssa,ssa]"], r"mixers must have one name or one per block \(depth=2\), but got 3"),
        (["mixers=fft3d"], r"unknown mixer 'fft3d'.*expected one of: .*ssa"),
        (["mixers=sss"], r"did you mean: ssa"),
        (["num_heads=3"], r"embed_dim must be divisible by num_heads, but got embed_dim=32, num_heads=3"),
        (["sps_pools=3"], r"sps_pools must be between 0 and sps_stages=2"),
        (["tau=1.0"], r"tau must be > 1"),
        (["foo=1"], r"unknown key 'foo'"),
        (["data.nme=x"], r"unknown key 'data.nme' \(did you mean: name"),
        (["T=abc"], r"bad value for 'T'"),
        (["T"], r"override 'T' is not of the form key=value"),
    ],
)
def test_config_errors_name_the_key_and_what_is_allowed(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", overrides)


def test_unknown_preset_suggests_close_names():
    with pytest.raises(ConfigError, match=r"unknown preset 'spikformer-4-38' \(did you mean: spikformer-4-384"):
        load_config("spikformer-4-38")


def test_missing_geometry_is_an_error_when_building():
    with pytest.raises(ConfigError, match="img_size is not set"):
        load_config("tiny", ["img_size=null"])


def test_pytorch_initialisation_keeps_each_linear_at_its_own_scale():
    """`init: pytorch` (the tiny preset): every Linear keeps PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    so layers of different fan-in have different scales, and biases are not zeroed."""
    torch.manual_seed(0)
    model = build_model(load_config("cifar-small", ["embed_dim=128", "depth=2", "init=pytorch"]))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    for m in linears:
        bound = m.in_features ** -0.5
        w = m.weight.detach()
        assert float(w.abs().max()) <= bound and float(w.std()) > 0.5 * bound / 3 ** 0.5
    assert any(m.bias is not None and m.bias.any() for m in linears)
    assert load_config("tiny").init == "pytorch" and load_config("spikformer-4-384").init == "spikformer"


def test_unknown_init_scheme_is_a_config_error():
    with pytest.raises(ConfigError, match="init must be one of spikformer, pytorch, spike-driven, swformer, but got init='xavier'"):
        build_model(load_config("tiny", ["init=xavier"]))


def test_reference_initialisation_of_linear_layers():
    """Spikformer's `_init_weights` (ZK-Zhou/spikformer cifar10/model.py): every Linear trunc_normal_
    std 0.02 with zero bias; convolutions and BatchNorms keep PyTorch's defaults."""
    torch.manual_seed(0)
    model = build_model(load_config("cifar-small", ["embed_dim=128", "depth=2"]))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) >= 1 + 2 * 2  # the head, and per block at least the MLP's two
    weights = torch.cat([m.weight.detach().flatten() for m in linears])
    assert abs(float(weights.std()) - 0.02) < 0.001 and abs(float(weights.mean())) < 0.001
    assert all(m.bias is None or not m.bias.any() for m in linears)
    for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
        w = conv.weight.detach()
        fan_in = w[0].numel()  # PyTorch's kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        assert float(w.abs().max()) <= fan_in ** -0.5 and float(w.std()) > 0.5 * (3 * fan_in) ** -0.5


# --- the block conventions ---------------------------------------------------------------------------

def _lif(x, threshold=1.0):
    """spikingjelly's multi-step LIF (tau 2, decay_input, hard reset to 0) over the first axis."""
    v, out = torch.zeros_like(x[0]), []
    for xt in x:
        v = v + (xt - v) / 2
        s = (v >= threshold).float()
        v = v * (1 - s)
        out.append(s)
    return torch.stack(out)


def _convbn(x5, layer):  # ConvBN on [T, B, C, H, W], eval mode
    t, b = x5.shape[:2]
    y = layer.bn(layer.conv(x5.flatten(0, 1)))
    return y.reshape(t, b, *y.shape[1:])


def _linearbn(x, layer):
    return layer.bn(layer.linear(x.reshape(-1, x.shape[-1]))).reshape(*x.shape[:-1], -1)


def test_membrane_shortcut_model_is_spike_driven_transformers_forward():
    """A small `spike-driven-2-512` (SDSA, membrane blocks, MS_SPS, head LIF) against model/spikeformer.py's
    forward written out with the same weights: SPS whose last stage has no LIF and whose position
    embedding is BN(conv(LIF(x_feat))) + x_feat; blocks x + SDSA(x) (SDSA starts with its shortcut LIF),
    x + BN(fc2(LIF(BN(fc1(LIF(x)))))); token mean, head LIF, Linear, mean over T."""
    cfg = load_config("spike-driven-2-512", ["embed_dim=32", "num_heads=4", "T=3"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    for module in model.modules():  # BN away from the identity, so that neurons fire
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.bias.data.uniform_(0.5, 2.0)
            module.running_var.uniform_(0.5, 1.5)
    image = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        logits = model(image)
        reset_state(model)
        x = image.unsqueeze(0).repeat(3, 1, 1, 1, 1)  # [T, B, C, H, W]
        stages = model.sps.stages
        x = _lif(_convbn(x, stages[0]))
        x = _lif(_convbn(x, stages[2]))
        x = _lif(_convbn(x, stages[4])).flatten(0, 1)
        x = torch.nn.functional.max_pool2d(x, 3, 2, 1).reshape(3, 2, 16, 16, 16)
        x = _convbn(x, stages[7]).flatten(0, 1)  # the last stage: conv, BN, maxpool, no LIF
        x_feat = torch.nn.functional.max_pool2d(x, 3, 2, 1).reshape(3, 2, 32, 8, 8)
        x = x_feat + _convbn(_lif(x_feat), model.sps.rpe)
        x = x.flatten(3).transpose(2, 3)  # [T, B, N, D]
        for block in model.blocks:
            sdsa = block.mixer
            s = _lif(x)  # shortcut_lif
            q, k, v = (_lif(_linearbn(s, getattr(sdsa, n))) for n in "qkv")
            mask = _lif((k * v).sum(dim=2, keepdim=True), 0.5)
            x = x + _linearbn(q * mask, sdsa.proj)
            x = x + _linearbn(_lif(_linearbn(_lif(x), block.mlp.fc1)), block.mlp.fc2)
        expected = model.head(_lif(x.mean(dim=2)).mean(dim=0))
    assert _lif(x.mean(dim=2)).sum() > 0  # the head LIF fires: the comparison is not of silence
    torch.testing.assert_close(logits, expected)


def test_spike_and_membrane_conventions_build_the_same_parameters_but_differ():
    spike = load_config("tiny", ["mixers=[sdsa,fft2d]"])
    membrane = load_config("tiny", ["mixers=[sdsa,fft2d]", "shortcut=membrane"])
    assert count_parameters(build_model(spike)) == count_parameters(build_model(membrane))
    from space.search_space import canonical_key

    assert canonical_key(spike) != canonical_key(membrane)
    with pytest.raises(ConfigError, match="shortcut must be one of spike, membrane, but got shortcut='sew'"):
        load_config("tiny", ["shortcut=sew"])


def test_spike_driven_and_swformer_initialisations():
    torch.manual_seed(0)
    cfg = load_config("tiny", ["init=spike-driven", "embed_dim=64"])
    model = build_model(cfg)
    conv = model.sps.stages[0].conv.weight
    assert 0.015 < conv.std() < 0.025  # normal 0.02 (timm cuts at +-2 absolute: no cut at this scale)
    assert 0.015 < model.blocks[0].mlp.fc1.linear.weight.std() < 0.025
    assert model.head.weight.std() > 0.05  # the classifier keeps PyTorch's (uniform, 1/sqrt(64) bound)
    torch.manual_seed(0)
    sw = build_model(load_config("tiny", ["init=swformer", "embed_dim=64"]))
    assert 0.015 < sw.head.weight.std() < 0.025 and (sw.head.bias == 0).all()
    assert sw.blocks[0].mlp.fc1.linear.weight.std() > 0.05  # PyTorch's, as the reference's 1x1 convs
