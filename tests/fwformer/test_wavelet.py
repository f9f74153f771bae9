"""Wavelet mixers: exact reconstruction where the grid check accepts, a clear error where it does not."""
from __future__ import annotations

import itertools
import math
import re

import pytest
import torch

from fwformer.energy_ops import listening
from fwformer.errors import ConfigError
from fwformer.mixers import check_mixer, create_mixer
from fwformer.mixers.learned_wavelet import learned_reconstructs
from fwformer.mixers.wavelet import discrete_wavelets, make_transform_pair, pytorch_wavelets_reconstructs

FAMILIES = ["haar", "db2", "db3", "sym2", "sym3", "coif1", "bior2.2"]
LEVELS = [1, 2, 3]
GRIDS = [(8, 8), (4, 4)]
CASES = list(itertools.product(FAMILIES, LEVELS, GRIDS))
D = 3


def name_of(prefix: str, wavelet: str, level: int) -> str:
    return f"{prefix}{wavelet}" + (f"@{level}" if level > 1 else "")  # as errors spell it


def listed_levels(message: str) -> list[int]:
    m = re.search(r"levels that work for \S+ on \d+x\d+: ([\d, ]+)$", message)
    return [int(v) for v in m.group(1).split(", ")] if m else []


def assert_reconstructs_or_explains(prefix: str, wavelet: str, level: int, grid):
    name = name_of(prefix, wavelet, level)
    h, w = grid
    try:
        check_mixer(name, grid)
    except ConfigError as err:
        message = str(err)
        assert re.fullmatch(
            rf"{re.escape(name)} cannot reconstruct an? {h}x{w} grid; "
            rf"(levels that work for {re.escape(wavelet)} on {h}x{w}: [\d, ]+"
            rf"|no level works for {re.escape(wavelet)} on {h}x{w})",
            message,
        ), message
        for good in listed_levels(message):  # the levels it offers do build
            assert_reconstructs_or_explains(prefix, wavelet, good, grid)
        return
    mixer = create_mixer(name, dim=D, grid=grid)
    x = torch.randn(2, 2, h * w, D)
    torch.testing.assert_close(mixer.reconstruct(x), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("wavelet, level, grid", CASES)
def test_dwt_reconstructs_or_raises(wavelet, level, grid):
    assert_reconstructs_or_explains("dwt-", wavelet, level, grid)


@pytest.mark.parametrize("wavelet, level, grid", CASES)
def test_learned_wavelet_reconstructs_or_raises(wavelet, level, grid):
    assert_reconstructs_or_explains("wavelet-learned-", wavelet, level, grid)


def test_dwt_levels_on_8x8_match_pytorch_wavelets_periodization():
    """REFERENCE.md: haar up to 3 levels, db2 up to 2, db3/sym3/coif1 only 1, coif2 none."""
    expected = {"haar": [1, 2, 3], "db2": [1, 2], "db3": [1], "sym3": [1], "coif1": [1], "coif2": []}
    found = {w: [j for j in LEVELS if pytorch_wavelets_reconstructs(w, j, 8, 8)] for w in expected}
    assert found == expected


def test_learned_wavelets_reconstruct_every_family_at_level_1():
    """The modular periodization inverts PyWavelets' rec/dec pairs for every discrete family but
    dmey, whose FIR approximation of the Meyer wavelet is not perfect-reconstruction."""
    failing = [w for w in discrete_wavelets() if not learned_reconstructs(w, 1, 4, 4)]
    assert failing == ["dmey"]


def test_dwt_operator_is_pytorch_wavelets():
    """The matrices the mixer multiplies by are DWTForward/DWTInverse, read off once."""
    mixer = create_mixer("dwt-db2@2", dim=1, grid=(8, 8))
    fwd, inv = make_transform_pair("db2", 2)
    img = torch.randn(5, 1, 8, 8)
    low, highs = fwd(img)
    expected = torch.cat([low.reshape(5, -1)] + [h.reshape(5, -1) for h in highs[::-1]], dim=1)
    torch.testing.assert_close((mixer.analysis @ img.reshape(5, 64, 1)).squeeze(-1), expected, atol=1e-5, rtol=0)
    coeffs = torch.randn(5, 64)
    low_c, mid, fine = coeffs.split([4, 12, 48], dim=1)
    expected = inv((low_c.reshape(5, 1, 2, 2), [fine.reshape(5, 1, 3, 4, 4), mid.reshape(5, 1, 3, 2, 2)]))
    torch.testing.assert_close(mixer.synthesis @ coeffs.T, expected.reshape(5, 64).T, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["dwt-haar", "wavelet-learned-haar"])
def test_initial_gains_average_input_and_lowpass(name):
    """Gains 1 (approximation) and 1/2 (details): haar@1 starts as (x + 2x2 block mean) / 2."""
    mixer = create_mixer(name, dim=2, grid=(4, 4)).eval()  # BN with fresh statistics: y / sqrt(1 + eps)
    x = torch.randn(1, 1, 16, 2)
    blocks = x.reshape(2, 2, 2, 2, 2).mean(dim=(1, 3), keepdim=True).expand(2, 2, 2, 2, 2).reshape(1, 1, 16, 2)
    with torch.no_grad():
        y = mixer.features(x) * math.sqrt(1 + mixer.bn.eps)
    torch.testing.assert_close(y, (x + blocks) / 2, atol=1e-5, rtol=0)


@pytest.mark.parametrize("grid", [(8, 8), (4, 4), (16, 8)])
def test_dwtc_reconstructs(grid):
    mixer = create_mixer("dwtc", dim=D, grid=grid)
    x = torch.randn(2, 2, grid[0] * grid[1], D)
    torch.testing.assert_close(mixer.reconstruct(x), x, atol=1e-5, rtol=0)


def test_dwtc_rejects_a_grid_its_bases_cannot_reconstruct():
    message = r"dwtc combines haar, db2, rbio2.2 at level 1, but db2, rbio2.2 cannot reconstruct a 2x2 grid"
    with pytest.raises(ConfigError, match=message):
        check_mixer("dwtc", (2, 2))


@pytest.mark.parametrize("name, closest", [
    ("dwt-db99", "db9"), ("dwt-haarr", "haar"), ("wavelet-learned-haarr", "haar"), ("dwt-sym22", "sym2"),
])
def test_unknown_wavelet_names_the_closest(name, closest):
    wavelet = name.rsplit("-", 1)[1]
    message = rf"unknown wavelet '{wavelet}' in mixer '{name}' \(did you mean: {closest}\b"
    with pytest.raises(ConfigError, match=message):
        check_mixer(name)


@pytest.mark.parametrize("name, level", [
    ("dwt-db2@0", "0"), ("dwt-db2@x", "x"), ("dwt-db2@", ""), ("wavelet-learned-db2@-1", "-1"),
])
def test_bad_level(name, level):
    message = rf"the level in mixer '{re.escape(name)}' must be an integer >= 1, but got '{level}'"
    with pytest.raises(ConfigError, match=message):
        check_mixer(name)


def test_level_deeper_than_the_grid():
    message = r"dwt-haar@3 cannot reconstruct a 4x4 grid; levels that work for haar on 4x4: 1, 2"
    with pytest.raises(ConfigError, match=message):
        check_mixer("dwt-haar@3", (4, 4))
    with pytest.raises(ConfigError, match=r"no level works for haar on 7x7"):
        check_mixer("dwt-haar", (7, 7))


class Recorder:
    def __init__(self):
        self.calls = []

    def on_product(self, module, tag, flops, operand):
        self.calls.append((tag, flops, operand))


@pytest.mark.parametrize("name, on_spikes, on_reals", [
    # haar on 8x8, 2 taps: first (row) pass 64*2; then columns 64*2, gains 64, inverse 64*(2+2).
    ("dwt-haar", 128, 128 + 64 + 256),
    # db2@2, 4 taps: level 1 as above with 4 taps; level 2 on 4x4: 2*16*4 forward, 16*(4+4) inverse.
    ("dwt-db2@2", 256, (256 + 64 + 512) + (128 + 128)),
    # bior2.2 pads its filters with zeros: 5 + 3 non-zero analysis taps, 3 + 5 synthesis, mean 4.
    ("dwt-bior2.2", 256, 256 + 64 + 512),
    # learned filters: every tap of db2's 4 counts.
    ("wavelet-learned-db2", 256, 256 + 64 + 512),
])
def test_filter_bank_macs_are_reported(name, on_spikes, on_reals):
    mixer = create_mixer(name, dim=D, grid=(8, 8))
    x = (torch.rand(2, 3, 64, D) < 0.3).float()
    recorder = Recorder()
    with listening(recorder):
        mixer(x)
    [(rows_tag, rows, rows_operand), (coeffs_tag, coeffs, coeffs_operand)] = recorder.calls
    images = 2 * 3 * D  # T * B * D one-channel images
    assert rows_tag.endswith(".rows") and coeffs_tag.endswith(".coeffs")
    assert (rows, coeffs) == (images * on_spikes, images * on_reals)
    assert torch.equal(rows_operand, x)  # priced at the input's firing rate
    assert not torch.equal(coeffs_operand, coeffs_operand.round())  # real values: priced as MACs


def test_dwtc_reports_every_basis():
    mixer = create_mixer("dwtc", dim=D, grid=(8, 8))
    recorder = Recorder()
    with listening(recorder):
        mixer((torch.rand(1, 1, 64, D) < 0.3).float())
    assert [tag for tag, _, _ in recorder.calls] == [
        "haar.rows", "haar.coeffs", "db2.rows", "db2.coeffs", "rbio2.2.rows", "rbio2.2.coeffs"]
