"""One neuron-state contract (docs/guides/model.md): spikingjelly's neurons keep their state
between calls, and every public entry point that runs a model resets before and after, so what it
computes after someone left state behind is what a newly built model with the same weights computes
from rest.

The reference in every test is computed apart from the entry point: a new `build_model` holding the
same weights, `functional.reset_net` called explicitly before and after every batch, and the
figures (accuracy, cross-entropy, BatchNorm statistics) taken from the logits and PyTorch's own
BatchNorm."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional

from fwformer.config import load_config
from fwformer.layers import NEURON_TYPES, fresh_state, reset_state
from fwformer.model import build_model

CFG = load_config("tiny", ["mixers=[ssa,fft2d]", "T=3"])
CPU = torch.device("cpu")


def model_and_input():
    torch.manual_seed(0)
    model = build_model(CFG).eval()
    for m in model.modules():  # neurons that fire on an untrained model, so left-over state shows
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.bias.data.fill_(1.0)
    return model, images(1)


def images(seed: int) -> torch.Tensor:
    return torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def pollute(model, x):
    """Run a forward without resetting afterwards, as a careless caller would."""
    with torch.no_grad():
        model(x * 0.5)
    assert any(isinstance(m, NEURON_TYPES) and torch.is_tensor(m.v) and m.v.abs().sum() > 0 for m in model.modules())


def at_rest(model) -> bool:
    return all(not torch.is_tensor(m.v) or m.v.abs().sum() == 0 for m in model.modules() if isinstance(m, NEURON_TYPES))


def fresh_copy(model, cfg=CFG):
    """A newly built model holding `model`'s weights and BatchNorm statistics, never run, in its mode."""
    copy = build_model(cfg)
    copy.load_state_dict(model.state_dict())
    functional.reset_net(copy)
    return copy.train(model.training)


def logits_from_rest(model, x) -> torch.Tensor:
    functional.reset_net(model)
    with torch.no_grad():
        out = model(x)
    functional.reset_net(model)
    return out


def accuracy_and_loss(model, batches) -> tuple[float, float]:
    """Top-1 accuracy and mean cross-entropy of `(x, y)` batches, each batch from rest, in eval mode."""
    model.eval()
    logits = torch.cat([logits_from_rest(model, x) for x, _ in batches])
    y = torch.cat([y for _, y in batches])
    return int((logits.argmax(dim=1) == y).sum()) / len(y), F.cross_entropy(logits.float(), y).item()


def recalibrated(model, batches) -> dict[str, torch.Tensor]:
    """SPOS's BatchNorm statistics by PyTorch's definition: every BatchNorm's running mean and
    variance are the plain average (momentum None) over `batches` of its input's, the rest of the
    network in eval mode and each batch from rest. `model` is changed."""
    model.eval()
    for bn in model.modules():
        if isinstance(bn, torch.nn.modules.batchnorm._BatchNorm):
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
    for x in batches:
        logits_from_rest(model, x)
    return {k: v for k, v in model.state_dict().items() if "running" in k}


def test_left_over_state_changes_a_plain_forward():
    """Why the contract matters: `model(x)` alone depends on what ran before."""
    model, x = model_and_input()
    reference = logits_from_rest(fresh_copy(model), x)
    with torch.no_grad(), fresh_state(model):
        assert torch.equal(model(x), reference)
    pollute(model, x)
    with torch.no_grad():
        assert not torch.equal(model(x), reference)
    reset_state(model)


def test_evaluate_model_after_left_over_state():
    from fwformer.train import evaluate_model

    model, x = model_and_input()
    batches = [(x, torch.arange(4)), (images(2), torch.tensor([3, 2, 1, 0]))]
    accuracy, loss = accuracy_and_loss(fresh_copy(model), batches)
    pollute(model, x)
    got = evaluate_model(model, batches, device=CPU)
    assert (got["acc"], got["n"]) == (accuracy, 8) and got["loss"] == pytest.approx(loss, rel=1e-6)
    assert at_rest(model)


def test_inference_latency_leaves_the_model_at_rest():
    from fwformer.train import inference_latency_ms

    model, x = model_and_input()
    reference = logits_from_rest(fresh_copy(model), x)
    pollute(model, x)
    inference_latency_ms(model, x, device=CPU, amp=False, repeats=1)
    assert at_rest(model)
    with torch.no_grad():
        assert torch.equal(model(x), reference)  # no reset here: the latency left none to do
    reset_state(model)


@pytest.mark.parametrize("energy_model", ["sop", "simple"])
def test_energy_meter_after_left_over_state(energy_model):
    from fwformer.energy import measure_energy

    model, x = model_and_input()
    reference = measure_energy(fresh_copy(model), [x], input_kind="static", energy_model=energy_model)
    pollute(model, x)
    got = measure_energy(model, [x], input_kind="static", energy_model=energy_model)
    assert (got.energy_mj, got.firing_rates) == (reference.energy_mj, reference.firing_rates) and at_rest(model)


def test_bn_recalibration_after_left_over_state():
    from fwformer.supernet import recalibrate_batchnorm

    model, x = model_and_input()
    batches = [x, images(2)]
    reference = recalibrated(fresh_copy(model), batches)
    pollute(model, x)
    recalibrate_batchnorm(model, batches)
    got = model.state_dict()
    assert reference and all(torch.equal(v, got[k]) for k, v in reference.items()) and at_rest(model)


def test_supernet_scoring_after_left_over_state():
    """The scorer's accuracy is the extracted sub-network's, recalibrated and evaluated from rest."""
    from fwformer.data import build_datasets, with_data_geometry
    from fwformer.supernet import Choice, Supernet
    from search.supernet import SubnetScorer

    cfg = with_data_geometry(load_config("tiny", ["data=digits", "train.energy_batches=1"]))
    torch.manual_seed(0)
    net = Supernet(cfg, [["ssa", "fft2d"], ["fft2d", "ssa"]], [1, 2])
    scorer = SubnetScorer(net, cfg, build_datasets(cfg), device=CPU, calibration_batches=1, val_batches=2)
    choice = Choice(("ssa", "ssa"), 2)
    alone = net.extract(choice)  # copies of the path's weights, taken before anything ran
    recalibrated(alone, scorer.calibration)
    accuracy, loss = accuracy_and_loss(alone, scorer.val)
    with net.use(choice):
        pollute(net, scorer.val[0][0])
    got = scorer(choice)
    assert (got["val_acc"], got["num_val"]) == (accuracy, sum(len(y) for _, y in scorer.val))
    assert got["val_loss"] == pytest.approx(loss, rel=1e-6) and at_rest(net)


def test_summary_measures_the_seeded_model_from_rest():
    """A summary builds its model from the config's seed, whatever the global RNG went through."""
    from fwformer.data import build_datasets, make_loader, with_data_geometry
    from fwformer.energy import measure_energy
    from fwformer.model import count_parameters
    from fwformer.summary import summarize

    cfg = with_data_geometry(dataclasses.replace(CFG, data=dataclasses.replace(CFG.data, name="digits")))
    _, val_ds, _ = build_datasets(cfg)
    first = next(iter(make_loader(val_ds, cfg, train=False, device="cpu")))[0]
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg)
    functional.reset_net(model)
    ec = cfg.energy
    reference = measure_energy(model, [first], input_kind="static", energy_model=ec.model, e_mac_pj=ec.e_mac_pj,
                               e_ac_pj=ec.e_ac_pj, e_memory_pj_per_byte=ec.e_memory_pj_per_byte)
    torch.rand(100)  # the global RNG moves on: the summary must not depend on where it stands
    got = summarize(cfg, data="digits", batches=1)
    assert got["params"] == count_parameters(model) and not got["rate_one"]
    assert (got["energy_mj"], got["firing_rate"]) == (reference.energy_mj, reference.mean_firing_rate)


def test_evaluate_checkpoint_is_the_trained_weights_from_rest(tmp_path):
    from fwformer.data import build_datasets, make_loader, with_data_geometry
    from fwformer.train import evaluate_checkpoint, load_checkpoint, train

    # 2 epochs of 20 steps: a model that fires and predicts, so its weights, data and state all show.
    cfg = load_config("tiny", ["data=digits", "train.epochs=2", "train.max_steps_per_epoch=20", "train.warmup_epochs=0",
                               "train.energy_batches=1"])
    assert train(cfg, out_dir=tmp_path, progress=False)["val_acc"] > 0.2  # ten classes: above chance
    state = load_checkpoint(tmp_path)
    model = build_model(load_config(state["config"]))
    model.load_state_dict(state["model"])
    data_cfg = with_data_geometry(cfg)
    _, val_ds, _ = build_datasets(data_cfg, normalization=state["normalization"])
    accuracy, loss = accuracy_and_loss(model, list(make_loader(val_ds, data_cfg, train=False, device="cpu")))
    got = evaluate_checkpoint(tmp_path)
    assert (got["accuracy"], got["num_samples"]) == (accuracy, len(val_ds))
    assert got["loss"] == pytest.approx(loss, rel=1e-6)


def test_benchmark_subjects_start_and_end_at_rest():
    from benchmarks.mixers.subjects import GEOMETRIES, IsolatedMixer, Subject

    small = dataclasses.replace(GEOMETRIES["small"], overrides=("embed_dim=16", "num_heads=2", "depth=1"))
    subject = Subject(small, "ssa", batch=2, device="cpu", amp=False)
    pollute(subject.model, subject.x)
    subject.infer_step()
    assert at_rest(subject.model)
    alone = IsolatedMixer(subject.cfg, "ssa", batch=2, device="cpu", amp=False)
    alone.train_step()
    assert at_rest(alone.module)
