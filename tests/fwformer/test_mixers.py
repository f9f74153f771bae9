"""The mixer contract, run against every registered mixer and examples of every family."""
from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based.neuron import BaseNode

from fwformer.config import load_config
from fwformer.engine import reset_state
from fwformer.errors import ConfigError
from fwformer.mixers import MIXERS, check_mixer, create_mixer
from fwformer.model import build_model

T, B, D, HEADS = 2, 2, 16, 2
GRID = (8, 8)  # coif1 and bior2.2 cannot reconstruct a 4x4 grid
N = GRID[0] * GRID[1]
FAMILY_EXAMPLES = [
    "dwt-haar", "dwt-db2", "dwt-db2@2", "dwt-sym2", "dwt-coif1", "dwt-bior2.2", "wavelet-learned-db2",
    "fft2d+dwt-haar", "ssa+fft2d",
]
NAMES = sorted(MIXERS) + [n for n in FAMILY_EXAMPLES if n not in MIXERS]


def make(name: str, grid=GRID):
    torch.manual_seed(0)
    return create_mixer(name, dim=D, grid=grid, num_heads=HEADS)


def spikes(rate: float = 0.5, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, N, D, generator=g) < rate).float()


def is_binary(t: torch.Tensor) -> bool:
    return bool(((t == 0) | (t == 1)).all())


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


@pytest.mark.parametrize("name", ["fft1d", "fft2d", "dwt-db2", "dwtc", "wavelet-learned-db2", "fft2d+dwt-haar"])
def test_mixer_runs_under_bf16_autocast(name):
    mixer = make(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = mixer(spikes())
    assert out.shape == (T, B, N, D) and is_binary(out.float())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ["fft1d", "fft2d", "dwt-db2@2", "dwtc", "wavelet-learned-db2", "ssa+fft2d"])
def test_mixer_runs_under_cuda_autocast(name, dtype):
    mixer = make(name).cuda()
    x = spikes().cuda().requires_grad_(True)
    with torch.autocast("cuda", dtype=dtype):
        out = mixer(x)
    out.float().sum().backward()
    assert is_binary(out.float()) and torch.isfinite(x.grad).all()


def test_unknown_mixer_names_the_closest():
    message = r"unknown mixer 'fft3d' \(did you mean: fft2d, fft1d\?\); expected one of: dwtc, fft1d, fft2d"
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


@pytest.mark.parametrize("name", ["fft1d", "fft2d", "dwt-haar", "dwtc", "wavelet-learned-haar", "fft2d+dwt-haar"])
def test_bad_input_shape(name):
    mixer = make(name)
    with pytest.raises(ValueError, match=r"expects \[T, B, N=64, D=16\] \(grid 8x8\), but got \[2, 2, 63, 16\]"):
        mixer(torch.zeros(T, B, N - 1, D))
    with pytest.raises(ValueError, match=r"but got \[2, 64, 16\]"):
        mixer(torch.zeros(T, N, D))


@pytest.mark.parametrize("mixers", [
    "[fft2d,dwt-db2@2]", "dwtc", "[wavelet-learned-db2,fft1d+dwt-haar]", "[ssa+fft2d,dwt-bior2.2]", "dwt-haar@3",
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
])
def test_tiny_config_rejects_bad_mixers(mixers, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", [f"mixers={mixers}"])
