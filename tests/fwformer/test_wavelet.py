"""Wavelet mixers: FWformer's 2D-WT and DWT-C against pytorch-wavelets and PyWavelets, our wavelet filters'
exact reconstruction, a clear error where a name cannot be built, and the filter banks' energy."""
from __future__ import annotations

import itertools
import math
import re
import warnings

import numpy as np
import pytest
import torch

from fwformer.cli import ConfigError
from fwformer.energy import listening
from fwformer.mixers import check_mixer, create_mixer
from fwformer.mixers.filterbank import compose_operator, place, placement, pywt_filters, quadrature_mirror
from fwformer.mixers.filterbank import filters_reconstruct as learned_reconstructs
from fwformer.mixers.wavelet import discrete_wavelets, make_transform_pair, max_level, pytorch_wavelets_reconstructs

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


def pywt_matrix(wavelet: str, level: int, h: int, w: int) -> torch.Tensor:
    """PyWavelets' `wavedec2` (periodization) of every unit image, coefficients in `coeffs_to_array` layout: `[N, N]`."""
    import pywt

    columns = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "level too high": every coefficient sees the wrap, as intended here
        for i in range(h * w):
            unit = np.zeros(h * w)
            unit[i] = 1.0
            array, _ = pywt.coeffs_to_array(pywt.wavedec2(unit.reshape(h, w), wavelet, mode="periodization", level=level))
            columns.append(array.flatten())
    return torch.tensor(np.array(columns)).T


def dwt_forward(wavelet: str, level: int, images: torch.Tensor) -> torch.Tensor:
    """pytorch-wavelets' DWTForward on `[M, 1, H, W]`: coefficients flattened in its output order `[M, N]`."""
    fwd, _ = make_transform_pair(wavelet, level)
    low, highs = fwd(images)
    return torch.cat([low.reshape(len(images), -1)] + [h.reshape(len(images), -1) for h in highs[::-1]], dim=1)


# --- FWformer's 2D-WT and DWT-C --------------------------------------------------------------------

@pytest.mark.parametrize("name, wavelet, level", [("dwt-haar", "haar", 1), ("dwt-db2@2", "db2", 2),
                                                  ("dwt-bior2.2", "bior2.2", 1)])
def test_dwt_is_the_2d_wavelet_transform_of_the_token_grid(name, wavelet, level):
    """FWformer's 2D-WT: the coefficients of DWTForward over the H x W grid, one per token, for every channel."""
    mixer = create_mixer(name, dim=D, grid=(8, 8))
    x = torch.randn(2, 3, 64, D)
    images = x.permute(0, 1, 3, 2).reshape(-1, 1, 8, 8)  # every (t, b, channel) as one 8x8 image
    expected = dwt_forward(wavelet, level, images).reshape(2, 3, D, 64).permute(0, 1, 3, 2)
    torch.testing.assert_close(mixer.transform(x), expected, atol=1e-5, rtol=0)
    # The same numbers as PyWavelets' own wavedec2, up to the coefficients' order.
    ours = mixer.fixed_basis.double()
    reference = pywt_matrix(wavelet, level, 8, 8)
    assert torch.cdist(ours, reference).min(dim=1).values.max() < 1e-6


def test_dwtc_is_the_weighted_sum_of_its_bases():
    mixer = create_mixer("dwtc", dim=D, grid=(8, 8))
    with torch.no_grad():
        mixer.weights.copy_(torch.tensor([0.7, -0.2, 0.4]))
    x = torch.randn(2, 3, 64, D)
    images = x.permute(0, 1, 3, 2).reshape(-1, 1, 8, 8)
    coeffs = sum(a * dwt_forward(w, 1, images) for a, w in zip((0.7, -0.2, 0.4), ("haar", "db2", "rbio2.2")))
    expected = coeffs.reshape(2, 3, D, 64).permute(0, 1, 3, 2)
    torch.testing.assert_close(mixer.transform(x), expected, atol=1e-5, rtol=0)
    assert sorted(n for n, _ in mixer.named_parameters()) == ["bn.bias", "bn.weight", "weights"]


def test_dwtc_weights_learn():
    mixer = create_mixer("dwtc", dim=D, grid=(8, 8))
    (mixer.transform(torch.rand(2, 2, 64, D)) * torch.randn(2, 2, 64, D)).sum().backward()
    assert mixer.weights.grad is not None and mixer.weights.grad.abs().min() > 0


def test_dwt_accepts_exactly_the_names_that_are_a_basis_of_the_grid():
    """dwt- (coefficients out) and wavefilter- (inverse after gains) accept the same names: those whose
    analysis is invertible on the grid."""
    for wavelet, level, grid in CASES:
        accepted = []
        for prefix in ("dwt-", "wavefilter-"):
            try:
                check_mixer(name_of(prefix, wavelet, level), grid)
                accepted.append(True)
            except ConfigError as err:
                assert "cannot reconstruct" in str(err)
                accepted.append(False)
        basis = level <= max_level(grid) and pytorch_wavelets_reconstructs(wavelet, level, *grid)
        assert accepted[0] == accepted[1] == basis, (wavelet, level, grid)


def test_dwt_rejects_a_deep_level_and_names_the_levels_that_work():
    with pytest.raises(ConfigError, match=r"dwt-db3@2 cannot reconstruct an 8x8 grid; levels that work for db3 on 8x8: 1"):
        check_mixer("dwt-db3@2", (8, 8))


def test_dwtc_rejects_a_grid_its_bases_cannot_reconstruct():
    message = r"dwtc combines haar, db2, rbio2.2 at level 1, but db2, rbio2.2 cannot reconstruct a 2x2 grid"
    with pytest.raises(ConfigError, match=message):
        check_mixer("dwtc", (2, 2))


# --- the filter-bank operators (wavefilter-learned-, adawavspa-) -----------------------------------

@pytest.mark.parametrize("wavelet, level, grid", [("haar", 3, (8, 8)), ("db2", 2, (8, 8)), ("sym4", 1, (8, 8)),
                                                  ("bior2.2", 2, (8, 8)), ("db2", 1, (4, 8)), ("coif2", 1, (8, 8))])
def test_filterbank_operator_is_pywavelets_periodization(wavelet, level, grid):
    dec, rec = pywt_filters(wavelet)
    taps = dec.shape[1]
    analysis, synthesis = compose_operator(
        lambda n: place(placement(n, taps, synthesis=False).double(), dec.reshape(-1)),
        lambda n: place(placement(n, taps, synthesis=True).double(), rec.reshape(-1)),
        grid, level,
    )
    torch.testing.assert_close(analysis, pywt_matrix(wavelet, level, *grid), atol=1e-10, rtol=0)
    torch.testing.assert_close(synthesis @ analysis, torch.eye(grid[0] * grid[1], dtype=torch.float64), atol=1e-8, rtol=0)


def test_quadrature_mirror_rebuilds_every_orthogonal_family_from_its_lowpass():
    import pywt

    for wavelet in ("haar", "db2", "db5", "sym3", "coif2"):
        assert pywt.Wavelet(wavelet).orthogonal
        dec, rec = pywt_filters(wavelet)
        analysis, synthesis = quadrature_mirror(dec[0])
        torch.testing.assert_close(analysis, dec.reshape(-1))
        torch.testing.assert_close(synthesis, rec.reshape(-1))


# --- our wavelet filters (gains between forward and inverse) ---------------------------------------

@pytest.mark.parametrize("wavelet, level, grid", CASES)
def test_wavefilter_reconstructs_or_raises(wavelet, level, grid):
    assert_reconstructs_or_explains("wavefilter-", wavelet, level, grid)


@pytest.mark.parametrize("wavelet, level, grid", CASES)
def test_learned_wavefilter_reconstructs_or_raises(wavelet, level, grid):
    assert_reconstructs_or_explains("wavefilter-learned-", wavelet, level, grid)


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


def test_wavefilter_operator_is_pytorch_wavelets():
    """The matrices the mixer multiplies by are DWTForward/DWTInverse, read off once."""
    mixer = create_mixer("wavefilter-db2@2", dim=1, grid=(8, 8))
    _, inv = make_transform_pair("db2", 2)
    img = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close((mixer.analysis @ img.reshape(5, 64, 1)).squeeze(-1), dwt_forward("db2", 2, img),
                               atol=1e-5, rtol=0)
    coeffs = torch.randn(5, 64)
    low_c, mid, fine = coeffs.split([4, 12, 48], dim=1)
    expected = inv((low_c.reshape(5, 1, 2, 2), [fine.reshape(5, 1, 3, 4, 4), mid.reshape(5, 1, 3, 2, 2)]))
    torch.testing.assert_close(mixer.synthesis @ coeffs.T, expected.reshape(5, 64).T, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["wavefilter-haar", "wavefilter-learned-haar"])
def test_initial_gains_average_input_and_lowpass(name):
    """Gains 1 (approximation) and 1/2 (details): haar@1 starts as (x + 2x2 block mean) / 2."""
    mixer = create_mixer(name, dim=2, grid=(4, 4)).eval()  # BN with fresh statistics: y / sqrt(1 + eps)
    x = torch.randn(1, 1, 16, 2)
    blocks = x.reshape(2, 2, 2, 2, 2).mean(dim=(1, 3), keepdim=True).expand(2, 2, 2, 2, 2).reshape(1, 1, 16, 2)
    with torch.no_grad():
        y = mixer.features(x) * math.sqrt(1 + mixer.bn.eps)
    torch.testing.assert_close(y, (x + blocks) / 2, atol=1e-5, rtol=0)


@pytest.mark.parametrize("suffix", ["db2@2", "bior2.2"])
def test_learned_wavefilter_starts_as_the_fixed_one(suffix):
    """Its operator, built from the taps, is the family's periodized transform (pytorch-wavelets')."""
    fixed = create_mixer(f"wavefilter-{suffix}", dim=D, grid=(8, 8)).eval()
    learned = create_mixer(f"wavefilter-learned-{suffix}", dim=D, grid=(8, 8)).eval()
    x = torch.randn(2, 2, 64, D)
    with torch.no_grad():
        torch.testing.assert_close(learned.features(x), fixed.features(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("grid", [(8, 8), (4, 4), (16, 8)])
def test_wavefilter_combo_reconstructs(grid):
    mixer = create_mixer("wavefilter-combo", dim=D, grid=grid)
    x = torch.randn(2, 2, grid[0] * grid[1], D)
    torch.testing.assert_close(mixer.reconstruct(x), x, atol=1e-5, rtol=0)


def test_wavefilter_combo_rejects_a_grid_its_bases_cannot_reconstruct():
    message = r"wavefilter-combo combines haar, db2, rbio2.2 at level 1, but db2, rbio2.2 cannot reconstruct a 2x2 grid"
    with pytest.raises(ConfigError, match=message):
        check_mixer("wavefilter-combo", (2, 2))


# --- names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, closest", [
    ("dwt-db99", "db9"), ("dwt-haarr", "haar"), ("wavefilter-learned-haarr", "haar"), ("wavspa-sym22", "sym2"),
])
def test_unknown_wavelet_names_the_closest(name, closest):
    wavelet = name.rsplit("-", 1)[1]
    message = rf"unknown wavelet '{wavelet}' in mixer '{name}' \(did you mean: {closest}\b"
    with pytest.raises(ConfigError, match=message):
        check_mixer(name)


@pytest.mark.parametrize("name, level", [
    ("dwt-db2@0", "0"), ("wavefilter-db2@x", "x"), ("adawavspa-db2@", ""), ("wavefilter-learned-db2@-1", "-1"),
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
        check_mixer("wavefilter-haar", (7, 7))


# --- energy -----------------------------------------------------------------------------------------

class Recorder:
    def __init__(self):
        self.calls = []

    def on_product(self, module, tag, flops, operand):
        self.calls.append((tag, flops, operand))


@pytest.mark.parametrize("name, on_spikes, on_reals", [
    # FWformer's 2D-WT is the forward transform alone. haar on 8x8, 2 taps: row pass 64*2 on the
    # spikes, column pass 64*2 on reals.
    ("dwt-haar", 128, 128),
    # db2@2: level 1 with 4 taps (256 + 256), level 2 on 4x4 rows and columns 16*4 each, on reals.
    ("dwt-db2@2", 256, 256 + 128),
    # Our filters add gains (64) and the inverse (64*(2+2) for haar).
    ("wavefilter-haar", 128, 128 + 64 + 256),
    # db2@2, 4 taps: level 1 as above with 4 taps; level 2 on 4x4: 2*16*4 forward, 16*(4+4) inverse.
    ("wavefilter-db2@2", 256, (256 + 64 + 512) + (128 + 128)),
    # bior2.2 pads its filters with zeros: 5 + 3 non-zero analysis taps, 3 + 5 synthesis, mean 4.
    ("wavefilter-bior2.2", 256, 256 + 64 + 512),
    # learned filters: every tap of db2's 4 counts.
    ("wavefilter-learned-db2", 256, 256 + 64 + 512),
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


@pytest.mark.parametrize("name, per_basis", [
    # FWformer's DWT-C: each basis' forward transform (rbio2.2's analysis taps are bior2.2's synthesis:
    # mean 4 non-zero) plus one multiply per coefficient for its weight.
    ("dwtc", [("haar", 128, 128 + 64), ("db2", 256, 256 + 64), ("rbio2.2", 256, 256 + 64)]),
    ("wavefilter-combo", [("haar", 128, 128 + 64 + 256), ("db2", 256, 256 + 64 + 512),
                          ("rbio2.2", 256, 256 + 64 + 512)]),
])
def test_combinations_report_every_basis(name, per_basis):
    mixer = create_mixer(name, dim=D, grid=(8, 8))
    recorder = Recorder()
    with listening(recorder):
        mixer((torch.rand(1, 1, 64, D) < 0.3).float())
    expected = [(f"{w}.{part}", D * n) for w, rows, reals in per_basis for part, n in (("rows", rows), ("coeffs", reals))]
    assert [(tag, flops) for tag, flops, _ in recorder.calls] == expected
