"""WavSpA's wavelet-space attention, spiking: forward DWT, one SSA per level group, inverse DWT,
checked against pytorch-wavelets' modules; AdaWavSpA's learnable per-channel lowpass."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.energy import listening
from fwformer.layers import reset_state
from fwformer.mixers import AttentionOptions, check_mixer, create_mixer
from fwformer.mixers.wavelet import make_transform_pair

T, B, D, HEADS = 2, 3, 8, 2


def spikes(seed: int = 1, n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, n, D, generator=g) < 0.4).float()


def loud(mixer: nn.Module) -> nn.Module:
    """BN weights 4, so that an untrained attention fires (a silent one would hide the wiring)."""
    for m in mixer.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.weight.data.fill_(4.0)
    return mixer


def make(name: str, **kw) -> nn.Module:
    torch.manual_seed(0)
    return loud(create_mixer(name, dim=D, grid=(8, 8), num_heads=HEADS, **kw))


def direct_wavspa(mixer, x: torch.Tensor, wavelet: str, level: int) -> torch.Tensor:
    """WavSpA by hand with pytorch-wavelets' modules: DWT of every channel's token grid, the coefficients
    as spikes, the mixer's attention on each level's coefficients (approximation, then the details of
    the deepest level, ..., of level 1), inverse DWT."""
    fwd, inv = make_transform_pair(wavelet, level)
    images = x.permute(0, 1, 3, 2).reshape(T * B, D, 8, 8)  # channels as image channels
    low, highs = fwd(images)  # [TB, D, h, w], [[TB, D, 3, h_j, w_j] finest first]

    def tokens(a: torch.Tensor) -> torch.Tensor:  # [TB, D, ...] -> [T, B, M, D]
        return a.reshape(T, B, D, -1).permute(0, 1, 3, 2)

    groups = [tokens(low)] + [tokens(h) for h in highs[::-1]]
    coeffs = torch.cat(groups, dim=2)
    c = coeffs.shape[2]
    s = mixer.coeff_lif(mixer.coeff_bn(coeffs.reshape(-1, D)).reshape(T, B, c, D))
    outs = [attend(part) for attend, part in zip(mixer.attentions, s.split([g.shape[2] for g in groups], dim=2))]

    def grid(z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:  # [T, B, M, D] -> like's shape
        return z.permute(0, 1, 3, 2).reshape(like.shape)

    low_z = grid(outs[0], low)
    highs_z = [grid(z, h) for z, h in zip(outs[1:], highs[::-1])][::-1]
    y = inv((low_z, highs_z))  # [TB, D, 8, 8]
    return y.reshape(T, B, D, 64).permute(0, 1, 3, 2)


@pytest.mark.parametrize("name, wavelet, level", [("wavspa-haar", "haar", 1), ("wavspa-db2@2", "db2", 2)])
def test_wavspa_is_attention_in_wavelet_space(name, wavelet, level):
    mixer = make(name)
    x = spikes()
    with torch.no_grad():
        got = mixer.features(x)
        reset_state(mixer)  # the same neurons run again from rest
        expected = direct_wavspa(mixer, x, wavelet, level)
    assert expected.std() > 0.1  # the attention fired: the wiring is what is compared
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_one_attention_per_level_group():
    mixer = make("wavspa-haar@2")
    assert mixer.group_sizes == [4, 12, 48] and len(mixer.attentions) == 3
    assert [len(mixer.attentions[0].q.linear.weight)] == [D]


@pytest.mark.parametrize("suffix", ["db2", "haar@2", "db2@2", "sym4"])
def test_adawavspa_starts_as_wavspa(suffix):
    """The adaptive bank built from the family's lowpass is pytorch-wavelets' transform of that family."""
    fixed = make(f"wavspa-{suffix}")
    adaptive = make(f"adawavspa-{suffix}")
    missing, unexpected = adaptive.load_state_dict(fixed.state_dict(), strict=False)
    assert missing == ["lowpass"] and not unexpected
    x = spikes()
    with torch.no_grad():
        a, b = fixed.features(x), adaptive.features(x)
    assert a.std() > 0.1
    torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)


def test_adawavspa_learns_one_lowpass_per_channel():
    import pywt

    mixer = make("adawavspa-db2")
    assert mixer.lowpass.shape == (D, 4)
    torch.testing.assert_close(mixer.lowpass[3], torch.tensor(pywt.Wavelet("db2").dec_lo, dtype=torch.float32))
    weights = torch.randn(T, B, 64, D, generator=torch.Generator().manual_seed(3))
    (mixer.features(spikes()) * weights).sum().backward()
    assert mixer.lowpass.grad is not None and (mixer.lowpass.grad.abs().sum(dim=1) > 0).all()
    with torch.no_grad():
        mixer.lowpass[0] += 0.1  # one channel's filter moves, the others' operators do not
        analysis, _ = mixer.operator()
    fixed = make("wavspa-db2")
    reference = fixed.analysis
    assert not torch.allclose(analysis[0].sort(dim=0).values, reference.sort(dim=0).values, atol=1e-3)
    for d in range(1, D):
        assert torch.cdist(analysis[d], reference).min(dim=1).values.max() < 1e-5


def test_adawavspa_needs_an_orthogonal_family():
    with pytest.raises(ConfigError, match=r"adawavspa-bior2.2 needs an orthogonal wavelet family"):
        check_mixer("adawavspa-bior2.2")
    with pytest.raises(ConfigError, match=r"adawavspa-dmey cannot reconstruct an 8x8 grid; no level works"):
        check_mixer("adawavspa-dmey", (8, 8))


def test_attention_options_reach_every_group():
    mixer = make("wavspa-haar@2", attention=AttentionOptions(scale=0.25, qkv_bias=False))
    assert all(a.scale == 0.25 and a.q.linear.bias is None for a in mixer.attentions)


class Recorder:
    def __init__(self):
        self.calls = []

    def on_product(self, module, tag, flops, operand):
        self.calls.append((module, tag, flops, operand))


def test_transforms_and_attention_products_are_reported():
    mixer = make("wavspa-haar")
    x = spikes()
    recorder = Recorder()
    with listening(recorder):
        mixer(x)
    images = T * B * D
    calls = {(m is mixer, tag): (flops, operand) for m, tag, flops, operand in recorder.calls}
    # Haar on 8x8: row pass 64*2 on the spikes, column pass 64*2 on reals; inverse 64*(2+2) on reals.
    assert calls[True, "haar.rows"][0] == images * 128 and torch.equal(calls[True, "haar.rows"][1], x)
    assert calls[True, "haar.coeffs"][0] == images * 128
    assert calls[True, "haar.inverse"][0] == images * 256
    # Each group's attention: q k^T and (q k^T) v over its own coefficient tokens (16 and 48).
    per_group = [(m, tag, flops) for m, tag, flops, _ in recorder.calls if m is not mixer]
    head_dim = D // HEADS
    assert [(tag, flops) for _, tag, flops in per_group] == [
        ("qk", T * B * HEADS * 16 * 16 * head_dim), ("attn_v", T * B * HEADS * 16 * 16 * head_dim),
        ("qk", T * B * HEADS * 48 * 48 * head_dim), ("attn_v", T * B * HEADS * 48 * 48 * head_dim)]
    assert [m for m, _, _ in per_group] == [mixer.attentions[0]] * 2 + [mixer.attentions[1]] * 2
