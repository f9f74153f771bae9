"""One neuron-state contract (README "The model library"): spikingjelly's neurons keep their state
between calls, and every public entry point that runs a model resets before and after, so calling
it twice on the same input, even after someone left state behind, gives the same result."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from fwformer.config import load_config
from fwformer.model import build_model
from fwformer.neurons import NEURON_TYPES, fresh_state, reset_state

CFG = load_config("tiny", ["mixers=[ssa,fft2d]", "T=3"])


def model_and_input():
    torch.manual_seed(0)
    model = build_model(CFG).eval()
    for m in model.modules():  # neurons that fire on an untrained model, so left-over state shows
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.bias.data.fill_(1.0)
    return model, torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def pollute(model, x):
    """Run a forward without resetting afterwards, as a careless caller would."""
    with torch.no_grad():
        model(x * 0.5)
    assert any(isinstance(m, NEURON_TYPES) and torch.is_tensor(m.v) and m.v.abs().sum() > 0 for m in model.modules())


def at_rest(model) -> bool:
    return all(not torch.is_tensor(m.v) or m.v.abs().sum() == 0 for m in model.modules() if isinstance(m, NEURON_TYPES))


def test_left_over_state_changes_a_plain_forward():
    """Why the contract matters: `model(x)` alone depends on what ran before."""
    model, x = model_and_input()
    with torch.no_grad(), fresh_state(model):
        clean = model(x)
    pollute(model, x)
    with torch.no_grad():
        assert not torch.equal(model(x), clean)
    reset_state(model)


def test_evaluate_model_twice_after_left_over_state():
    from fwformer.engine import evaluate_model

    model, x = model_and_input()
    batches = [(x, torch.arange(4))]
    first = evaluate_model(model, batches, device=torch.device("cpu"))
    pollute(model, x)
    assert evaluate_model(model, batches, device=torch.device("cpu")) == first and at_rest(model)


def test_inference_latency_leaves_the_model_at_rest():
    from fwformer.engine import inference_latency_ms

    model, x = model_and_input()
    with torch.no_grad(), fresh_state(model):
        clean = model(x)
    pollute(model, x)
    inference_latency_ms(model, x, device=torch.device("cpu"), amp=False, repeats=1)
    assert at_rest(model)
    with torch.no_grad(), fresh_state(model):
        assert torch.equal(model(x), clean)


@pytest.mark.parametrize("energy_model", ["sop", "simple"])
def test_energy_meter_twice_after_left_over_state(energy_model):
    from fwformer.energy import measure_energy

    model, x = model_and_input()
    first = measure_energy(model, [x], input_kind="static", energy_model=energy_model)
    pollute(model, x)
    second = measure_energy(model, [x], input_kind="static", energy_model=energy_model)
    assert (second.energy_mj, second.firing_rates) == (first.energy_mj, first.firing_rates) and at_rest(model)


def test_bn_recalibration_twice_after_left_over_state():
    from fwformer.supernet import recalibrate_batchnorm

    model, x = model_and_input()
    recalibrate_batchnorm(model, [x])
    first = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    pollute(model, x)
    recalibrate_batchnorm(model, [x])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in first.items()) and at_rest(model)


def test_supernet_scoring_twice_after_left_over_state():
    from fwformer.data import build_datasets, with_data_geometry
    from fwformer.supernet import Choice, Supernet
    from search.supernet import SubnetScorer

    cfg = with_data_geometry(load_config("tiny", ["data=digits", "train.energy_batches=1"]))
    torch.manual_seed(0)
    net = Supernet(cfg, [["ssa", "fft2d"], ["fft2d", "ssa"]], [1, 2])
    scorer = SubnetScorer(net, cfg, build_datasets(cfg), device=torch.device("cpu"), calibration_batches=1,
                          val_batches=2)
    choice = Choice(("ssa", "ssa"), 2)
    first = scorer(choice)
    with net.use(choice):
        pollute(net, scorer.val[0][0])
    assert scorer(choice) == first and at_rest(net)


def test_summary_twice_gives_the_same_figures():
    """A summary builds a fresh model each time: from the config's seed, so its rates repeat."""
    from fwformer.summary import summarize

    cfg = dataclasses.replace(CFG, data=dataclasses.replace(CFG.data, name="digits"))
    assert summarize(cfg, data="digits", batches=1) == summarize(cfg, data="digits", batches=1)


def test_evaluate_checkpoint_twice(tmp_path):
    from fwformer.evaluate import evaluate_checkpoint
    from fwformer.train import train

    cfg = load_config("tiny", ["data=digits", "train.epochs=1", "train.max_steps_per_epoch=2",
                               "train.energy_batches=1"])
    train(cfg, out_dir=tmp_path, progress=False)
    assert evaluate_checkpoint(tmp_path) == evaluate_checkpoint(tmp_path)


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
