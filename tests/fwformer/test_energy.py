"""The energy meter: exact counts on a hand-sized model, SSA's products, rate-1 mode, hygiene."""
import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from fwformer import energy_ops
from fwformer.config import load_config
from fwformer.energy import measure_energy
from fwformer.energy_ops import record_product
from fwformer.model import build_model

# Per image: 8 ones of 32 for image 0, 16 of 32 for image 1.
PATTERNS = torch.zeros(2, 32)
PATTERNS[0, :8] = 1
PATTERNS[1, ::2] = 1


class KnownSpikes(nn.Module):
    """Stands in for a LIF: image i of the batch always emits PATTERNS[i]."""

    def forward(self, x):
        return PATTERNS[: x.shape[0]].clone()


class Doubling(nn.Module):
    """A product no module performs, reported as a mixer does: 2 ops per input element."""

    def forward(self, s):
        record_product(self, "double", flops=2 * s.numel(), operand=s)
        return 2 * s


class Toy(nn.Module):
    """conv(real image) -> known spikes -> fc(spikes); fc2 on s + s (counts 0/2); one product."""

    def __init__(self):
        super().__init__()
        self.cfg = SimpleNamespace(T=1, in_channels=1, img_size=4)
        self.conv = nn.Conv2d(1, 2, kernel_size=3, padding=1, bias=False)
        self.lif = KnownSpikes()
        self.fc = nn.Linear(32, 3)
        self.fc2 = nn.Linear(32, 1)
        self.product = Doubling()

    def forward(self, x):  # [B, 1, 4, 4]
        s = self.lif(self.conv(x))  # [B, 32] spikes
        self.product(s)
        return self.fc(s), self.fc2(s + s)


def image(batch):
    return torch.full((batch, 1, 4, 4), 0.3)


def test_toy_model_matches_the_hand_count():
    report = measure_energy(Toy(), [image(2)])
    rows = {row.name: row for row in report.layers}
    # conv: output 2 images x 2 ch x 4 x 4 = 64 values, each 1 in-channel x 9 taps -> 576; /2 images.
    assert rows["conv"].kind == "MAC" and rows["conv"].macs == 64 * 9 / 2 == 288
    # fc: 2 x 32 x 3 = 192 FLOPs; 24 ones of 64 inputs -> rate 0.375; /2 images.
    assert rows["fc"].kind == "AC" and rows["fc"].firing_rate == 0.375
    assert rows["fc"].acs == 0.375 * 192 / 2 == 36
    # fc2 on counts 0/2: mean count 0.75; 2 x 32 x 1 = 64 FLOPs.
    assert rows["fc2"].firing_rate == 0.75 and rows["fc2"].acs == 0.75 * 64 / 2 == 24
    # The product: 2 x 64 = 128 FLOPs at rate 0.375.
    assert rows["product.double"].kind == "AC" and rows["product.double"].acs == 0.375 * 128 / 2 == 24
    assert report.macs == 288 and report.acs == 36 + 24 + 24
    assert report.energy_mj == pytest.approx((4.6 * 288 + 0.9 * 84) * 1e-9, rel=1e-12)
    assert report.firing_rates == {"fc": 0.375, "fc2": 0.75, "product.double": 0.375}
    # ACs / spike FLOPs per image: 84 / (96 + 32 + 64).
    assert report.mean_firing_rate == pytest.approx(84 / 192)


def test_energy_constants_are_parameters():
    report = measure_energy(Toy(), [image(2)], e_mac_pj=1.0, e_ac_pj=0.0)
    assert report.energy_mj == pytest.approx(288 * 1e-9)


def test_rates_are_averaged_over_batches_weighted_by_elements():
    # (x, y) pairs; batch 2 has one image (8 ones); the third batch is cut by max_batches.
    batches = [(image(2), torch.zeros(2)), (image(1), torch.zeros(1)), (image(2), torch.zeros(2))]
    report = measure_energy(Toy(), batches, max_batches=2)
    fc = next(row for row in report.layers if row.name == "fc")
    assert report.images == 3
    assert fc.firing_rate == pytest.approx((8 + 16 + 8) / 96)
    assert fc.acs == pytest.approx((0.375 * 192 + 0.25 * 96) / 3)
    assert fc.flops == 96


def test_rate_one_prices_every_spike_input_at_one_and_the_image_as_macs():
    report = measure_energy(Toy())  # one image of model.cfg's shape
    rows = {row.name: row for row in report.layers}
    assert rows["conv"].kind == "MAC" and rows["conv"].macs == 288
    assert all(row.firing_rate == 1.0 for row in report.layers if row.kind == "AC")
    assert report.acs == 96 + 32 + 64 and report.rate_one and report.mean_firing_rate == 1.0


def test_mode_is_restored_and_hooks_removed_even_on_error():
    model = Toy()
    model.train()
    model.fc.eval()
    measure_energy(model, [image(2)])
    assert model.training and model.conv.training and not model.fc.training
    with pytest.raises(RuntimeError):
        measure_energy(model, [torch.zeros(2, 3, 4, 4)])  # conv expects one channel
    assert model.training and not model.fc.training
    assert all(not m._forward_hooks for m in model.modules())
    assert not energy_ops._LISTENERS


def test_report_is_json_serialisable():
    data = json.loads(json.dumps(measure_energy(Toy(), [image(2)]).to_dict()))
    assert {"energy_mj", "macs", "acs", "layers", "by_block", "by_mixer", "firing_rates",
            "mean_firing_rate"} <= set(data)
    assert data["layers"][0]["name"] == "conv" and data["layers"][0]["part"] == "conv"


def tiny(mixer):
    torch.manual_seed(0)
    return build_model(load_config("tiny", ["depth=1", f"mixers={mixer}"]))


def test_ssa_products_are_counted_at_measured_rates():
    model = tiny("ssa")
    for m in model.modules():  # louder BN so that an untrained network fires
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.weight.data.fill_(4.0)
    mixer = model.blocks[0].mixer
    seen = {}
    mixer.q_lif.register_forward_hook(lambda m, i, o: seen.__setitem__("q", o.mean().item()))
    mixer.v_lif.register_forward_hook(lambda m, i, o: seen.__setitem__("v", o.mean().item()))
    report = measure_energy(model, [torch.rand(4, 1, 8, 8)])
    rows = {row.name: row for row in report.layers}
    T, heads, N, d = 2, 2, 64, 16
    for tag, operand in (("qk", "q"), ("attn_v", "v")):
        row = rows[f"blocks.0.mixer.{tag}"]
        assert row.flops == T * heads * N * N * d  # per image; the call counts B times this
        assert 0 < row.firing_rate < 1 and row.firing_rate == pytest.approx(seen[operand])
        assert row.acs == pytest.approx(row.firing_rate * row.flops)
    assert report.by_mixer["blocks.0.mixer"] == pytest.approx(
        sum(r.energy_mj for r in report.layers if r.name.startswith("blocks.0.mixer.")))


def test_ssa_costs_more_than_identity_at_rate_one_by_exactly_its_own_count():
    ssa, identity = measure_energy(tiny("ssa")), measure_energy(tiny("identity"))
    T, N, D, heads, d = 2, 64, 32, 2, 16
    mixer_acs = 4 * T * N * D * D + 2 * T * heads * N * N * d  # q, k, v, proj; q k^T, (q k^T) v
    assert ssa.by_part["blocks.0.mixer"]["acs"] == mixer_acs
    assert identity.by_mixer == {"blocks.0.mixer": 0.0}
    assert ssa.acs - identity.acs == mixer_acs and ssa.macs == identity.macs
    assert ssa.energy_mj - identity.energy_mj == pytest.approx(0.9e-9 * mixer_acs)


def test_spikformer_4_384_at_rate_one():
    cfg = load_config("spikformer-4-384")
    report = measure_energy(build_model(cfg))
    assert all(row.firing_rate == 1.0 for row in report.layers if row.kind == "AC")
    # Real-valued inputs: the image into the first conv, and the head's mean over tokens and time.
    assert {row.name for row in report.layers if row.kind == "MAC"} == {"sps.stages.0.conv", "head"}
    first_conv = cfg.T * 32 * 32 * 48 * 3 * 9
    assert report.macs == first_conv + 384 * 10
    # SPS convs at 32, 32, 16, 8 (rpe) pixels, then per block q, k, v, proj, two SSA products, MLP.
    sps = 32 * 32 * (96 * 48 + 192 * 96) * 9 + 16 * 16 * 384 * 192 * 9 + 64 * 384 * 384 * 9
    block = 4 * 64 * 384 * 384 + 2 * 12 * 64 * 64 * 32 + 2 * 64 * 384 * 1536
    assert report.acs == cfg.T * (sps + 4 * block)
    assert 1.0 < report.energy_mj < 10.0
    assert set(report.by_block) == {"sps", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "head"}
    assert sum(report.by_block.values()) == pytest.approx(report.energy_mj)


def test_rate_one_treats_event_frames_as_spikes():
    torch.manual_seed(0)
    cfg = load_config("tiny", ["depth=1", "data=digits_dvs", "in_channels=2"])
    report = measure_energy(build_model(cfg))
    first = report.layers[0]
    assert first.name == "sps.stages.0.conv" and first.kind == "AC" and first.firing_rate == 1.0
    assert {row.name for row in report.layers if row.kind == "MAC"} == {"head"}
