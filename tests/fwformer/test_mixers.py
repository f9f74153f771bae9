"""The mixer contract, run against every registered mixer and examples of every family."""
from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based.neuron import BaseNode

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.layers import reset_state
from fwformer.mixers import FAMILIES, MIXERS, check_mixer, create_mixer
from fwformer.mixers.hybrid import HybridMixer
from fwformer.mixers.registry import family_prefix
from fwformer.model import build_model

T, B, D, HEADS = 2, 2, 16, 2
GRID = (8, 8)  # coif1 and bior2.2 cannot reconstruct a 4x4 grid
N = GRID[0] * GRID[1]
# A family runs the contract through the examples its card declares (`MixerCard.examples`), hybrids
# through the hybrid's card; a family registered without examples fails `test_every_family_has_examples`.
FAMILY_EXAMPLES = sorted({name for cls in FAMILIES.values() if cls.card for name in cls.card.examples})
HYBRID_EXAMPLES = list(HybridMixer.card.examples)
NAMES = sorted(MIXERS) + [n for n in FAMILY_EXAMPLES + HYBRID_EXAMPLES if n not in MIXERS]


def make(name: str, grid=GRID):
    torch.manual_seed(0)
    return create_mixer(name, dim=D, grid=grid, num_heads=HEADS)


def spikes(rate: float = 0.5, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, N, D, generator=g) < rate).float()


def is_binary(t: torch.Tensor) -> bool:
    return bool(((t == 0) | (t == 1)).all())


@pytest.mark.parametrize("prefix", sorted(FAMILIES))
def test_every_family_has_examples(prefix):
    card = FAMILIES[prefix].card
    examples = card.examples if card else ()
    assert examples, f"mixer family {prefix!r} declares no examples in its card, so the contract below never runs it"
    assert [n for n in examples if family_prefix(n) != prefix] == [], f"examples of {prefix!r} outside the family"


def test_hybrid_examples_are_hybrids():
    assert HYBRID_EXAMPLES and all("+" in name for name in HYBRID_EXAMPLES)


@pytest.mark.parametrize("name", NAMES)
def test_mixer_contract(name):
    mixer = make(name)
    x = spikes().requires_grad_(True)
    out = mixer(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert is_binary(out), f"{name} returned non-binary values"
    reset_state(mixer)
    assert torch.equal(mixer(x), out), "the same input from rest must give the same spikes"
    reset_state(mixer)

    # A random-weighted loss: a constant upstream gradient would vanish through BN.
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    (mixer(x) * weights).sum().backward()
    reset_state(mixer)
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # Behind an inner neuron that stayed silent (SSA's attention LIF on tiny inputs) a weight's
    # gradient is exactly zero; without inner neurons every parameter must get a non-zero one.
    inner = any(isinstance(m, BaseNode) and not n.endswith("out_lif") for n, m in mixer.named_modules())
    for pname, p in mixer.named_parameters():
        assert p.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"
        assert inner or p.grad.abs().sum() > 0, f"{name}: zero gradient for {pname}"

    mixer.eval()
    with torch.no_grad():
        first = mixer(x)
        reset_state(mixer)
        assert is_binary(first) and torch.equal(mixer(x), first)


@pytest.mark.parametrize("name", ["fft1d", "fft2d", "hartley2d", "dwt-db2", "dwtc", "wavefilter-db2", "wavefilter-combo",
                                  "wavefilter-learned-db2", "wavspa-db2", "adawavspa-db2", "fft2d+dwt-haar"])
def test_mixer_runs_under_bf16_autocast(name):
    mixer = make(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = mixer(spikes())
    assert out.shape == (T, B, N, D) and is_binary(out.float())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ["fft1d", "fft2d", "hartley1d", "dwt-db2@2", "dwtc", "wavefilter-db2@2",
                                  "wavefilter-combo", "wavefilter-learned-db2", "wavspa-db2@2", "adawavspa-db2@2",
                                  "ssa+fft2d"])
def test_mixer_runs_under_cuda_autocast(name, dtype):
    mixer = make(name).cuda()
    x = spikes().cuda().requires_grad_(True)
    with torch.autocast("cuda", dtype=dtype):
        out = mixer(x)
    out.float().sum().backward()
    assert is_binary(out.float()) and torch.isfinite(x.grad).all()


def test_unknown_mixer_names_the_closest():
    message = r"unknown mixer 'fft3d' \(did you mean: fft2d, fft1d\?\); expected one of: axial, dwc3, dwc5, dwc7, dwtc, fft1d, fft2d"
    with pytest.raises(ConfigError, match=message):
        make("fft3d")
    with pytest.raises(ConfigError, match=r"unknown mixer 'sa' \(did you mean: ssa"):
        check_mixer("sa")


@pytest.mark.parametrize("name, message", [
    ("fft2d+fft2d", "must join distinct mixer names"),
    ("fft2d+", "must join distinct mixer names"),
    ("fft2d+fft3d", r"unknown mixer 'fft3d'"),
    ("ssa+dwt-db3@2", r"dwt-db3@2 cannot reconstruct an 8x8 grid; levels that work for db3 on 8x8: 1"),
])
def test_hybrid_errors(name, message):
    with pytest.raises(ConfigError, match=message):
        make(name)


@pytest.mark.parametrize("name", ["fft1d", "hartley2d", "dwt-haar", "dwtc", "wavefilter-combo", "wavefilter-learned-haar",
                                  "wavspa-haar", "adawavspa-haar", "fft2d+dwt-haar"])
def test_bad_input_shape(name):
    mixer = make(name)
    with pytest.raises(ValueError, match=r"expects \[T, B, N=64, D=16\] \(grid 8x8\), but got \[2, 2, 63, 16\]"):
        mixer(torch.zeros(T, B, N - 1, D))
    with pytest.raises(ValueError, match=r"but got \[2, 64, 16\]"):
        mixer(torch.zeros(T, N, D))


@pytest.mark.parametrize("mixers", [
    "[fft2d,dwt-db2@2]", "dwtc", "[wavefilter-learned-db2,hartley1d+wavefilter-haar]", "[ssa+fft2d,dwt-bior2.2]",
    "dwt-haar@3", "[wavspa-haar@2,adawavspa-db2]",
])
def test_tiny_models_build_and_run(mixers):
    cfg = load_config("tiny", [f"mixers={mixers}"])
    model = build_model(cfg)
    logits = model(torch.rand(3, 1, 8, 8))
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()


@pytest.mark.parametrize("mixers, message", [
    ("dwt-db3@2", r"dwt-db3@2 cannot reconstruct an 8x8 grid; levels that work for db3 on 8x8: 1"),
    ("[fft2d,dwt-coif2]", r"dwt-coif2 cannot reconstruct an 8x8 grid; no level works for coif2 on 8x8"),
    ("dwt-haarr", r"unknown wavelet 'haarr' in mixer 'dwt-haarr' \(did you mean: haar\?\)"),
    ("[fft2d,fft3d]", r"unknown mixer 'fft3d'"),
    ("wavspa-db3@2", r"wavspa-db3@2 cannot reconstruct an 8x8 grid; levels that work for db3 on 8x8: 1"),
    ("adawavspa-bior2.2", r"adawavspa-bior2.2 needs an orthogonal wavelet family .* 'bior2.2' is biorthogonal"),
    ("wavelet-learned-db2", r"unknown mixer 'wavelet-learned-db2'"),
])
def test_tiny_config_rejects_bad_mixers(mixers, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", [f"mixers={mixers}"])


# --- Spikformer's attention options (config section `ssa`) --------------------------------------

def attention_modules(model):
    """Every module that runs Spikformer's attention: the `ssa` mixers and WavSpA's per-group parts."""
    from fwformer.mixers.attention import SpikingAttention
    from fwformer.mixers.ssa import SpikingSelfAttention

    return [m for m in model.modules() if isinstance(m, (SpikingSelfAttention, SpikingAttention))]


@pytest.mark.parametrize("mixers", ["ssa", "[ssa+fft2d,wavspa-haar@2]"])
def test_ssa_options_reach_every_attention(mixers):
    default = attention_modules(build_model(load_config("tiny", [f"mixers={mixers}"])))
    event = attention_modules(build_model(load_config("tiny", [f"mixers={mixers}", "ssa.scale=0.25",
                                                               "ssa.qkv_bias=false"])))
    assert len(default) == len(event) >= 2
    for m in default:
        assert m.scale == 0.125 and all(getattr(m, p).linear.bias is not None for p in ("q", "k", "v"))
    for m in event:
        assert m.scale == 0.25 and all(getattr(m, p).linear.bias is None for p in ("q", "k", "v"))
        assert m.proj.linear.bias is not None  # the reference keeps the projection's bias


def test_ssa_scale_multiplies_the_attention_product():
    from fwformer.mixers import AttentionOptions

    seen = []
    for scale in (0.125, 0.25):
        torch.manual_seed(0)
        mixer = create_mixer("ssa", dim=D, grid=GRID, num_heads=HEADS, attention=AttentionOptions(scale=scale))
        mixer.attn_lif.register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
        mixer(spikes())
    assert seen[0].abs().sum() > 0
    torch.testing.assert_close(seen[1], 2 * seen[0])


def test_event_presets_carry_the_reference_event_attention():
    for name in ("spikformer-2-256", "fwformer-2-256-fft1d", "fwformer-2-256-fft2d", "fwformer-2-256-wt",
                 "fwformer-2-256-dwtc"):
        cfg = load_config(name)
        assert (cfg.ssa.scale, cfg.ssa.qkv_bias) == (0.25, False), name
    cfg = load_config("spikformer-4-384")
    assert (cfg.ssa.scale, cfg.ssa.qkv_bias) == (0.125, True)


@pytest.mark.parametrize("override, message", [
    ("ssa.scale=0", r"ssa.scale must be a finite number > 0 .* but got 0"),
    ("ssa.scale=-1", r"ssa.scale must be a finite number > 0"),
    ("ssa.qkv_bias=maybe", r"ssa.qkv_bias"),
    ("ssa.heads=2", r"'ssa\.heads'"),
])
def test_bad_ssa_options_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", [override])
