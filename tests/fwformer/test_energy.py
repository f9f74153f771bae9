"""The energy meter: exact counts on a hand-sized model, SSA's products, rate-1 mode, the first layer
once for a static image, the energy models and their errors, hygiene."""
import json
import warnings
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.energy import check_priceable, measure_energy, products, record_product
from fwformer.energy.static_input import RunOnce, repeats_of
from fwformer.layers import reset_state
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
    report = measure_energy(Toy(), [image(2)], input_kind="static")
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
    report = measure_energy(Toy(), [image(2)], input_kind="static", e_mac_pj=1.0, e_ac_pj=0.0)
    assert report.energy_mj == pytest.approx(288 * 1e-9)


def test_rates_are_averaged_over_batches_weighted_by_elements():
    # (x, y) pairs; batch 2 has one image (8 ones); the third batch is cut by max_batches.
    batches = [(image(2), torch.zeros(2)), (image(1), torch.zeros(1)), (image(2), torch.zeros(2))]
    report = measure_energy(Toy(), batches, input_kind="static", max_batches=2)
    fc = next(row for row in report.layers if row.name == "fc")
    assert report.images == 3
    assert fc.firing_rate == pytest.approx((8 + 16 + 8) / 96)
    assert fc.acs == pytest.approx((0.375 * 192 + 0.25 * 96) / 3)
    assert fc.flops == 96


def test_rate_one_prices_every_spike_input_at_one_and_the_image_as_macs():
    report = measure_energy(Toy(), input_kind="static")  # one image of model.cfg's shape
    rows = {row.name: row for row in report.layers}
    assert rows["conv"].kind == "MAC" and rows["conv"].macs == 288
    assert all(row.firing_rate == 1.0 for row in report.layers if row.kind == "AC")
    assert report.acs == 96 + 32 + 64 and report.rate_one and report.mean_firing_rate == 1.0


def test_mode_is_restored_and_hooks_removed_even_on_error():
    model = Toy()
    model.train()
    model.fc.eval()
    measure_energy(model, [image(2)], input_kind="static")
    assert model.training and model.conv.training and not model.fc.training
    with pytest.raises(RuntimeError):
        measure_energy(model, [torch.zeros(2, 3, 4, 4)], input_kind="static")  # conv expects one channel
    assert model.training and not model.fc.training
    assert all(not m._forward_hooks for m in model.modules())
    assert not products._LISTENERS


def test_report_is_json_serialisable():
    data = json.loads(json.dumps(measure_energy(Toy(), [image(2)], input_kind="static").to_dict()))
    assert {"energy_model", "energy_mj", "macs", "acs", "layers", "by_block", "by_mixer", "firing_rates",
            "mean_firing_rate", "input_kind", "costs"} <= set(data)
    assert data["energy_model"] == "sop" and data["input_kind"] == "static"
    assert data["layers"][0]["name"] == "conv" and data["layers"][0]["part"] == "conv"


def tiny(mixer):
    torch.manual_seed(0)
    return build_model(load_config("tiny", ["depth=1", f"mixers={mixer}"]))


def loud(model):
    """An untrained network that fires: BN statistics from one batch, outputs scaled by 4."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data.fill_(4.0)
            m.momentum = None  # the running statistics become this batch's
            m.reset_running_stats()
    shape = (model.cfg.in_channels, model.cfg.img_size, model.cfg.img_size)
    with torch.no_grad():
        model.train()(torch.rand(8, *shape, generator=torch.Generator().manual_seed(1)))
    reset_state(model)
    return model


def test_ssa_products_are_counted_at_measured_rates():
    model = loud(tiny("ssa"))
    mixer = model.blocks[0].mixer
    seen = {}
    mixer.q_lif.register_forward_hook(lambda m, i, o: seen.__setitem__("q", o.mean().item()))
    mixer.v_lif.register_forward_hook(lambda m, i, o: seen.__setitem__("v", o.mean().item()))
    report = measure_energy(model, [torch.rand(4, 1, 8, 8)], input_kind="static")
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
    ssa, identity = (measure_energy(tiny(m), input_kind="static") for m in ("ssa", "identity"))
    T, N, D, heads, d = 2, 64, 32, 2, 16
    mixer_acs = 4 * T * N * D * D + 2 * T * heads * N * N * d  # q, k, v, proj; q k^T, (q k^T) v
    assert ssa.by_part["blocks.0.mixer"]["acs"] == mixer_acs
    assert identity.by_mixer == {"blocks.0.mixer": 0.0}
    assert ssa.acs - identity.acs == mixer_acs and ssa.macs == identity.macs
    assert ssa.energy_mj - identity.energy_mj == pytest.approx(0.9e-9 * mixer_acs)


def test_spikformer_4_384_at_rate_one():
    cfg = load_config("spikformer-4-384")
    report = measure_energy(build_model(cfg), input_kind="static")
    assert all(row.firing_rate == 1.0 for row in report.layers if row.kind == "AC")
    # Real-valued inputs: the image into the first conv, and the head's mean over tokens and time.
    assert {row.name for row in report.layers if row.kind == "MAC"} == {"sps.stages.0.conv", "head"}
    first_conv = 32 * 32 * 48 * 3 * 9  # once: the image is the same at every step (not x T = 4)
    assert first_conv == 1_327_104 and report.repeated_layers == ["sps.stages.0.conv"]
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
    report = measure_energy(build_model(cfg), input_kind="frames")
    first = report.layers[0]
    assert first.name == "sps.stages.0.conv" and first.kind == "AC" and first.firing_rate == 1.0
    assert {row.name for row in report.layers if row.kind == "MAC"} == {"head"}


# ------------------------------------------------------------------ a static image runs its first layer once


def test_repeats_of_recognises_time_major_copies_only():
    image = torch.rand(2, 3, 4, 4)
    repeated = image.unsqueeze(0).expand(4, *image.shape).flatten(0, 1)  # [T*B, ...], as the model does
    assert repeats_of(repeated, image) == 4
    assert repeats_of(image, image) == 1  # not repeated
    interleaved = image.unsqueeze(1).expand(2, 4, 3, 4, 4).flatten(0, 1)  # [B*T, ...]: another layout
    assert repeats_of(interleaved, image) == 1
    assert repeats_of(repeated + 1e-3 * (repeated.sum() > 0), image) == 1


def test_first_layer_of_a_static_image_is_priced_once_and_frames_per_step():
    torch.manual_seed(0)
    model = tiny("identity")  # T = 2
    x = torch.rand(3, 1, 8, 8)
    static = measure_energy(model, [x], input_kind="static")
    frames = measure_energy(model, [x.unsqueeze(0).expand(2, *x.shape).clone()], input_kind="frames")
    first = {r.name: r for r in static.layers}["sps.stages.0.conv"]
    assert static.repeated_layers == ["sps.stages.0.conv"] and frames.repeated_layers == []
    assert first.kind == "MAC" and first.macs == 8 * 8 * 16 * 1 * 9  # one step per image
    # The same real-valued frames fed as frames are priced at every step; everything after is the same.
    assert {r.name: r for r in frames.layers}["sps.stages.0.conv"].macs == 2 * first.macs
    assert static.acs == pytest.approx(frames.acs)


def test_running_the_first_layer_once_changes_no_output():
    torch.manual_seed(0)
    model = tiny("ssa").eval()
    x = torch.rand(2, 1, 8, 8)
    names = {m: n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    run_once = RunOnce(names)
    run_once.image = x
    with torch.no_grad():
        expected = model(x)
        reset_state(model)
        with run_once.pre_hooks(), run_once.post_hooks():
            got = model(x)
        reset_state(model)
    assert run_once.found == {"sps.stages.0.conv": 2}
    assert torch.equal(got, expected)


def test_input_kind_is_required_and_checked():
    with pytest.raises(TypeError):
        measure_energy(Toy(), [image(2)])  # the caller must say what it feeds
    with pytest.raises(ValueError, match="input_kind must be one of static, frames"):
        measure_energy(Toy(), [image(2)], input_kind="events")


# ------------------------------------------------------------------ energy models


def test_unknown_energy_model_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="unknown energy.model 'stp'; expected one of: sop, simple, lemaire"):
        load_config("tiny", ["energy.model=stp"])
    with pytest.raises(ConfigError, match="energy.e_memory_pj_per_byte must be a finite number >= 0"):
        load_config("tiny", ["energy.e_memory_pj_per_byte=-1"])
    assert load_config("tiny", ["energy.model=simple"]).energy.model == "simple"


def test_simple_is_spikingjellys_estimate_simple_energy_per_image():
    from spikingjelly.activation_based.op_counter import estimate_simple_energy

    model = loud(tiny("ssa"))
    x = torch.rand(3, 1, 8, 8)
    frames = x.unsqueeze(0).expand(2, *x.shape).clone()  # frames: nothing is run once, so no correction
    report = measure_energy(model, [frames], input_kind="frames", energy_model="simple")
    reset_state(model.eval())
    expected = estimate_simple_energy(model, frames)
    assert report.energy_model == "simple" and report.images == 3
    assert report.energy_mj == pytest.approx(expected.energy_total_pj * 1e-9 / 3, rel=1e-12)
    assert report.memory_bytes == expected.counts["memory_access_bytes"] / 3 > 0
    assert report.macs == expected.counts["mac"] / 3 and report.acs == expected.counts["ac"] / 3
    # The rows are what each module does itself: they add up to the totals.
    assert sum(r.energy_mj for r in report.layers) == pytest.approx(report.energy_mj, rel=1e-9)
    assert sum(r.memory_bytes for r in report.layers) == pytest.approx(report.memory_bytes, rel=1e-9)
    assert report.by_mixer["blocks.0.mixer"] > 0


def test_simple_runs_the_first_layer_once_too():
    model = tiny("identity")
    x = torch.rand(3, 1, 8, 8)
    static = measure_energy(model, [x], input_kind="static", energy_model="simple")
    frames = measure_energy(model, [x.unsqueeze(0).expand(2, *x.shape).clone()], input_kind="frames",
                            energy_model="simple")
    first_static = {r.name: r for r in static.layers}["sps.stages.0.conv"]
    first_frames = {r.name: r for r in frames.layers}["sps.stages.0.conv"]
    assert first_frames.macs == 2 * first_static.macs == 2 * 8 * 8 * 16 * 9
    assert first_frames.memory_bytes == 2 * first_static.memory_bytes


def test_memory_aware_model_charges_weights_not_fixed_bases():
    """Under `simple` every weight read costs memory traffic; a fixed basis is no module's weight."""
    ssa, fft = (measure_energy(tiny(m), input_kind="static", energy_model="simple") for m in ("ssa", "fft2d"))
    assert ssa.breakdown_mj["memory"] > ssa.breakdown_mj["mac"] + ssa.breakdown_mj["ac"]
    ssa_rows = {r.name: r for r in ssa.layers if r.part == "blocks.0.mixer"}
    for layer in ("q", "k", "v", "proj"):
        assert ssa_rows[f"blocks.0.mixer.{layer}.linear"].memory_bytes > 0
    fft_memory = {r.op for r in fft.layers if r.part == "blocks.0.mixer" and r.memory_bytes}
    assert fft_memory == {"LIFNode"}  # only neuron state: the basis product reads no weights
    assert fft.by_mixer["blocks.0.mixer"] < ssa.by_mixer["blocks.0.mixer"]


def test_lemaire_refuses_products_it_cannot_price_naming_the_layer():
    with pytest.raises(ConfigError, match="energy.model=lemaire cannot price 'blocks.0.mixer.qk': a product"):
        measure_energy(tiny("ssa"), input_kind="static", energy_model="lemaire")
    with pytest.raises(ConfigError, match="cannot price 'blocks.0.mixer.qk'"):
        check_priceable(tiny("ssa"), "lemaire", input_kind="static")
    check_priceable(tiny("ssa"), "simple", input_kind="static")  # the other models price everything


def test_lemaire_refuses_modules_outside_its_formulas():
    model = nn.Sequential(nn.Conv2d(1, 2, kernel_size=3), nn.BatchNorm2d(2), nn.GELU())
    with pytest.raises(ConfigError, match="cannot price '2': a GELU module .the formulas cover Conv, Linear, IF"):
        measure_energy(model, [image(2)], input_kind="static", energy_model="lemaire")


def test_lemaire_is_spikingjellys_estimate_per_image():
    from spikingjelly.activation_based.op_counter import LemaireEnergyConfig, estimate_lemaire_energy

    model = loud(build_model(load_config("tiny", ["depth=1", "mixers=identity", "T=1"])))
    x = torch.rand(2, 1, 8, 8)
    report = measure_energy(model, [x], input_kind="static", energy_model="lemaire")
    total = 0.0
    for i in range(2):  # Lemaire sizes its buffers by one inference: one image at a time
        reset_state(model.eval())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BatchNorm: omitted, folded at inference
            total += estimate_lemaire_energy(model, x[i:i + 1], config=LemaireEnergyConfig(strict=False)).total_pj
    assert report.energy_model == "lemaire" and report.layers == [] and report.by_part == {}
    assert report.energy_mj == pytest.approx(total * 1e-9 / 2, rel=1e-12)

