"""The model: Spikformer geometry and parameter count, inputs, configs and their errors."""
import pytest
import torch

from fwformer.config import load_config, preset_names
from fwformer.engine import reset_state
from fwformer.errors import ConfigError
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
