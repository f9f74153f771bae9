"""Our synaptic-operation counts against spikingjelly's own counters, layer type by layer type.

spikingjelly 2.0's `MACCounter` and `SynOpCounter` (`spikingjelly.activation_based.op_counter`)
count at the level of aten calls. For every layer type both count, the counts agree exactly, or
differ in the one way the README ("Energy", differences with spikingjelly) states, which the
assertions here pin down.
"""
import pytest
import torch
from spikingjelly.activation_based.op_counter import DispatchCounterMode, MACCounter, SynOpCounter
from torch import nn

from fwformer.config import load_config
from fwformer.energy import measure_energy
from fwformer.layers import reset_state
from fwformer.model import build_model


def spikingjelly_counts(model, x):
    """(MACs, SynOps) per module scope (names relative to the model), one forward in eval mode."""
    mac, synop = MACCounter(), SynOpCounter()
    model.eval()
    with torch.no_grad(), DispatchCounterMode([mac, synop]):
        model(x)
    reset_state(model)
    root = type(model).__name__

    def per_scope(counter):
        out = {}
        for scope, ops in counter.get_counts().items():
            if scope.startswith(root + "."):
                out[scope[len(root) + 1:]] = sum(ops.values())
        return out

    return per_scope(mac), per_scope(synop)


class Spikes(nn.Module):
    """A stand-in neuron: 1 where the input is above its median."""

    def forward(self, x):
        return (x > x.median()).float()


class Plain(nn.Module):
    """conv on the real image, conv and linear on spikes, none padded."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, kernel_size=3)
        self.lif = Spikes()
        self.conv2 = nn.Conv2d(4, 3, kernel_size=2, stride=2, bias=False)
        self.fc = nn.Linear(3 * 3 * 3, 5)

    def forward(self, x):  # [B, 2, 8, 8]
        s = self.lif(self.conv(x))  # [B, 4, 6, 6] spikes
        return self.fc(self.lif(self.conv2(s)).flatten(1))


def test_plain_layers_agree_exactly():
    torch.manual_seed(0)
    model, x = Plain(), torch.randn(3, 2, 8, 8)
    ours = {r.name: r for r in measure_energy(model, [x], input_kind="static").layers}
    macs, synops = spikingjelly_counts(model, x)
    images = 3
    assert ours["conv"].kind == "MAC" and ours["conv"].macs * images == macs["conv"] == 3 * 4 * 36 * 2 * 9
    for name in ("conv2", "fc"):
        assert ours[name].kind == "AC" and 0 < ours[name].firing_rate < 1
        assert ours[name].acs * images == synops[name]
        assert macs[name] == 0


@pytest.fixture(scope="module")
def spikformer():
    """Tiny Spikformer (T 2, 1 block of SSA) that fires: BN statistics from one batch, outputs x 4."""
    torch.manual_seed(0)
    model = build_model(load_config("tiny", ["depth=1", "mixers=ssa"]))
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data.fill_(4.0)
            m.momentum = None
            m.reset_running_stats()
    with torch.no_grad():
        model.train()(torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(1)))
    reset_state(model)
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    seen = {}
    keep = ["sps.stages.2.conv", "sps.rpe.conv", "blocks.0.mixer.q_lif", "blocks.0.mixer.k_lif"]
    modules = dict(model.named_modules())

    def keep_first(name):
        def hook(module, inputs, output):
            seen.setdefault(name, (inputs[0], output))

        return hook

    handles = [modules[n].register_forward_hook(keep_first(n)) for n in keep]
    report = measure_energy(model, [x], input_kind="static")
    for h in handles:
        h.remove()
    macs, synops = spikingjelly_counts(model, x)
    return dict(model=model, images=2, ours={r.name: r for r in report.layers}, macs=macs, synops=synops, seen=seen,
                cfg=model.cfg)


def test_linear_on_binary_spikes_agrees_exactly(spikformer):
    s = spikformer
    for name in ("blocks.0.mixer.proj.linear", "blocks.0.mlp.fc2.linear"):
        row = s["ours"][name]
        assert row.kind == "AC" and 0 < row.firing_rate < 1
        assert row.acs * s["images"] == s["synops"][name] > 0
        assert s["macs"][name] == 0


def test_linear_on_the_residual_stream_is_a_mac_layer_for_spikingjelly(spikformer):
    """Difference 1: the residual stream holds spike counts (0, 1, 2, ...). We price it as synaptic
    operations at its mean count; spikingjelly counts only {0, 1} tensors as spikes, so for it these
    layers are dense MACs and do no synaptic operations."""
    s = spikformer
    for name in ("blocks.0.mixer.q.linear", "blocks.0.mixer.k.linear", "blocks.0.mixer.v.linear",
                 "blocks.0.mlp.fc1.linear"):
        row = s["ours"][name]
        assert row.kind == "AC" and row.firing_rate > 0
        assert s["macs"][name] == row.flops * s["images"]
        assert s["synops"][name] == 0


def test_first_conv_of_a_static_image_runs_once_for_us_and_T_times_for_spikingjelly(spikformer):
    """Difference 2: spikingjelly counts what runs; the model repeats the image T times."""
    s = spikformer
    row = s["ours"]["sps.stages.0.conv"]
    assert row.kind == "MAC" and row.macs == 8 * 8 * 16 * 1 * 9
    assert s["macs"]["sps.stages.0.conv"] == s["cfg"].T * row.macs * s["images"]


def test_head_agrees_exactly(spikformer):
    s = spikformer
    row = s["ours"]["head"]
    assert row.kind == "MAC" and row.macs * s["images"] == s["macs"]["head"] == 2 * 32 * 10


def _taps_inside(h: int, w: int) -> torch.Tensor:
    """Kernel taps of a 3x3, stride 1, padding 1 conv that land inside the H x W output, per input pixel."""
    rows = torch.full((h,), 3.0)
    rows[0] = rows[-1] = 2.0
    cols = torch.full((w,), 3.0)
    cols[0] = cols[-1] = 2.0
    return torch.outer(rows, cols)  # [H, W]


def test_padded_conv_on_spikes_differs_only_at_the_border(spikformer):
    """Difference 3: we give every input spike the kernel's whole fan-out (rate x FLOPs, the papers'
    rule); spikingjelly counts only the taps that land inside the output, fewer at the border."""
    s = spikformer
    for name in ("sps.stages.2.conv", "sps.rpe.conv"):
        x, out = s["seen"][name]  # [T*B, C_in, H, W] binary spikes
        c_out = out.shape[1]
        row = s["ours"][name]
        assert row.kind == "AC" and row.acs * s["images"] == x.sum() * 9 * c_out
        inside = (x * _taps_inside(*x.shape[-2:])).sum() * c_out
        assert s["synops"][name] == inside < row.acs * s["images"]


def test_ssa_products(spikformer):
    """q k^T: both operands are spikes. Difference 4: spikingjelly counts the coincidences (q_i k_j = 1);
    we price q's firing rate x FLOPs, the papers' rule. (q k^T) v: the attention map holds counts, so
    both price v's spikes, and agree exactly."""
    s = spikformer
    q, k = s["seen"]["blocks.0.mixer.q_lif"][1], s["seen"]["blocks.0.mixer.k_lif"][1]  # [T, B, N, D]
    coincidences = (q.sum(dim=2) * k.sum(dim=2)).sum()  # sum over heads of q_h k_h^T, by channel
    qk, attn_v = s["ours"]["blocks.0.mixer.qk"], s["ours"]["blocks.0.mixer.attn_v"]
    assert 0 < coincidences < qk.acs * s["images"]
    children = [n for n in s["synops"] if n.startswith("blocks.0.mixer.") and n.count(".") == 3]
    mixer_products = s["synops"]["blocks.0.mixer"] - sum(s["synops"][n] for n in children)  # the mixer's own
    assert mixer_products == coincidences + attn_v.acs * s["images"]
