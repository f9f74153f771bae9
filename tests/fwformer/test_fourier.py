"""Fourier-basis mixers: FWformer's fft1d/fft2d against torch.fft's real part, our Hartley mixers
against torch.fft's Re - Im, and the basis product reported to the energy meter."""
from __future__ import annotations

import math

import pytest
import torch

from fwformer.energy import listening
from fwformer.mixers import create_mixer
from fwformer.mixers.fourier import dft_real_basis, dft_real_basis_2d
from fwformer.mixers.hartley import hartley_basis, hartley_basis_2d

T, B, D = 2, 3, 5


def real_dft(x: torch.Tensor, dims) -> torch.Tensor:
    """FWformer's (and FNet's) formula: the real part of the orthonormal DFT over `dims`."""
    return torch.fft.fftn(x.double(), dim=dims, norm="ortho").real.float()


def hartley_via_fft(x: torch.Tensor, dims) -> torch.Tensor:
    """Re - Im of the DFT over `dims`, orthonormal scaling."""
    f = torch.fft.fftn(x.double(), dim=dims)
    size = math.prod(x.shape[d] for d in dims)
    return ((f.real - f.imag) / math.sqrt(size)).float()


@pytest.mark.parametrize("name, grid", [("fft1d", (4, 4)), ("fft1d", (8, 4)), ("fft2d", (4, 4)), ("fft2d", (8, 4)),
                                        ("fft2d", (3, 5))])
def test_fwformer_transform_is_the_real_part_of_torch_fft(name, grid):
    """fft1d: Re(FFT) along the row-major tokens; fft2d: Re(FFT2) over the H x W grid (not the channels)."""
    mixer = create_mixer(name, dim=D, grid=grid)
    h, w = grid
    x = torch.randn(T, B, h * w, D)  # real, not only spikes: the basis is what is checked
    if name == "fft1d":
        expected = real_dft(x, dims=(2,))
    else:
        expected = real_dft(x.reshape(T, B, h, w, D), dims=(2, 3)).reshape(x.shape)
    torch.testing.assert_close(mixer.transform(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name, grid", [("hartley1d", (4, 4)), ("hartley1d", (8, 4)), ("hartley2d", (4, 4)),
                                        ("hartley2d", (8, 4))])
def test_hartley_transform_agrees_with_torch_fft(name, grid):
    mixer = create_mixer(name, dim=D, grid=grid)
    h, w = grid
    x = torch.randn(T, B, h * w, D)
    if name == "hartley1d":
        expected = hartley_via_fft(x, dims=(2,))
    else:
        expected = hartley_via_fft(x.reshape(T, B, h, w, D), dims=(2, 3)).reshape(x.shape)
    torch.testing.assert_close(mixer.transform(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("basis", [hartley_basis(16), hartley_basis_2d(4, 4)])
def test_hartley_bases_are_orthogonal_and_self_inverse(basis):
    eye = torch.eye(basis.shape[0])
    torch.testing.assert_close(basis @ basis, eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(basis, basis.T)


def test_real_part_keeps_half_the_token_patterns_and_hartley_keeps_all():
    """What the search can compare: Re(DFT) loses the sine patterns (rank N/2 + 1 in 1-D, below N in 2-D); Hartley keeps N."""
    n = 16
    assert torch.linalg.matrix_rank(dft_real_basis(n).double()) == n // 2 + 1
    assert torch.linalg.matrix_rank(hartley_basis(n).double()) == n
    assert torch.linalg.matrix_rank(dft_real_basis_2d(4, 4).double()) < 16
    assert torch.linalg.matrix_rank(hartley_basis_2d(4, 4).double()) == 16


@pytest.mark.parametrize("name", ["fft2d", "hartley1d"])
def test_bases_are_buffers_not_parameters_nor_checkpoint_entries(name):
    mixer = create_mixer(name, dim=D, grid=(4, 4))
    assert "fixed_basis" in dict(mixer.named_buffers())
    assert "fixed_basis" not in mixer.state_dict()
    assert [n for n, _ in mixer.named_parameters()] == ["bn.weight", "bn.bias"]  # unparameterized transform


class Recorder:
    def __init__(self):
        self.calls = []

    def on_product(self, module, tag, flops, operand):
        self.calls.append((module, tag, flops, operand))


@pytest.mark.parametrize("name", ["fft1d", "fft2d", "hartley1d", "hartley2d"])
def test_basis_product_is_reported_on_the_input_spikes(name):
    mixer = create_mixer(name, dim=D, grid=(4, 4))
    x = (torch.rand(T, B, 16, D) < 0.3).float()
    recorder = Recorder()
    with listening(recorder):
        mixer(x)
    [(module, tag, flops, operand)] = recorder.calls
    assert module is mixer and tag == "basis"
    assert flops == T * B * 16 * 16 * D  # every call: all timesteps, the whole batch
    assert torch.equal(operand, x)
