"""The Fourier mixers' bases agree with torch.fft on real inputs, and their products are reported."""
from __future__ import annotations

import math

import pytest
import torch

from fwformer.energy_ops import listening
from fwformer.mixers import create_mixer
from fwformer.mixers.fourier import hartley_basis, hartley_basis_2d

T, B, D = 2, 3, 5


def hartley_via_fft(x: torch.Tensor, dims) -> torch.Tensor:
    """Re - Im of the DFT over `dims`, orthonormal scaling."""
    f = torch.fft.fftn(x.double(), dim=dims)
    size = math.prod(x.shape[d] for d in dims)
    return ((f.real - f.imag) / math.sqrt(size)).float()


@pytest.mark.parametrize("n", [1, 7, 16, 64])
def test_hartley_basis_is_the_dft_read_as_real_minus_imaginary(n):
    x = torch.randn(n, 4)
    torch.testing.assert_close(hartley_basis(n) @ x, hartley_via_fft(x, dims=(0,)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("grid", [(4, 4), (8, 8), (4, 8), (3, 5)])
def test_hartley_2d_basis_is_the_2d_dft_read_as_real_minus_imaginary(grid):
    h, w = grid
    x = torch.randn(h, w, 3)
    expected = hartley_via_fft(x, dims=(0, 1)).reshape(h * w, 3)
    torch.testing.assert_close(hartley_basis_2d(h, w) @ x.reshape(h * w, 3), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name, grid", [("fft1d", (4, 4)), ("fft1d", (8, 4)), ("fft2d", (4, 4)), ("fft2d", (8, 4))])
def test_mixer_transform_agrees_with_torch_fft(name, grid):
    mixer = create_mixer(name, dim=D, grid=grid)
    h, w = grid
    x = torch.randn(T, B, h * w, D)  # real, not only spikes: the basis is what is checked
    if name == "fft1d":
        expected = hartley_via_fft(x, dims=(2,))
    else:
        expected = hartley_via_fft(x.reshape(T, B, h, w, D), dims=(2, 3)).reshape(x.shape)
    torch.testing.assert_close(mixer.transform(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("basis", [hartley_basis(16), hartley_basis_2d(4, 4)])
def test_hartley_bases_are_orthogonal_and_self_inverse(basis):
    eye = torch.eye(basis.shape[0])
    torch.testing.assert_close(basis @ basis, eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(basis, basis.T)


def test_real_part_of_dft_alone_would_lose_half_the_tokens():
    """Why Hartley and not FNet's Re(DFT): the cosine basis has rank N/2 + 1, Hartley rank N."""
    n = 16
    k = torch.arange(n, dtype=torch.float64)
    cosine = torch.cos(2 * math.pi * torch.outer(k, k) / n)
    assert torch.linalg.matrix_rank(cosine) == n // 2 + 1
    assert torch.linalg.matrix_rank(hartley_basis(n).double()) == n


def test_bases_are_buffers_not_parameters_nor_checkpoint_entries():
    mixer = create_mixer("fft2d", dim=D, grid=(4, 4))
    assert "basis" in dict(mixer.named_buffers())
    assert "basis" not in mixer.state_dict()
    assert all("basis" not in name for name, _ in mixer.named_parameters())


class Recorder:
    def __init__(self):
        self.calls = []

    def on_product(self, module, tag, flops, operand):
        self.calls.append((module, tag, flops, operand))


@pytest.mark.parametrize("name", ["fft1d", "fft2d"])
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
