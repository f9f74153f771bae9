"""The weight-sharing supernet: sub-networks equal stand-alone models, path sampling, BN recalibration."""
from collections import Counter

import pytest
import torch

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.layers import reset_state
from fwformer.model import count_parameters
from fwformer.supernet import Choice, PathSampler, Supernet, recalibrate_batchnorm
from subnets import assert_same_logits


@pytest.fixture(scope="module")
def names() -> list[str]:
    """The quickstart study's candidate mixers (names follow the registry, never spelled here)."""
    from search.study import load_study

    return list(load_study("quickstart").space.block_choices[0])


@pytest.fixture(scope="module")
def supernet(names) -> Supernet:
    torch.manual_seed(0)
    return Supernet(load_config("tiny", ["depth=2"]), [names, list(reversed(names))], [1, 2, 3])


def _choices(names: list[str]) -> list[Choice]:
    """Every candidate in a block at least once, every T."""
    n = len(names)
    return [Choice((names[i], names[(i + 1) % n]), 1 + (i // 2) % 3) for i in range(0, n, 2)]


def test_subnetwork_computes_exactly_what_a_standalone_model_with_its_weights_computes(supernet, names):
    x = torch.rand(2, 1, 8, 8)
    assert {c.T for c in _choices(names)} == {1, 2, 3}
    for choice in _choices(names):
        model = supernet.extract(choice)
        assert count_parameters(model) == supernet.path_parameters(choice)
        for training in (True, False):  # batch statistics, then running statistics
            assert_same_logits(supernet, model, choice, x, training)
    supernet.eval()


def test_gradients_reach_only_the_active_path(supernet, names):
    choice = Choice((names[0], names[1]), 2)
    supernet.train()
    supernet.zero_grad(set_to_none=True)
    with supernet.use(choice):
        supernet(torch.rand(2, 1, 8, 8)).sum().backward()
        reset_state(supernet)
    for block, name in zip(supernet.blocks, choice.mixers):
        for i, mixer in enumerate(block.mixers):
            grads = [p.grad is not None for p in mixer.parameters()]
            assert all(grads) if block.names[i] == name else not any(grads), (name, block.names[i])
    assert all(p.grad is not None for p in supernet.head.parameters())
    supernet.zero_grad(set_to_none=True)
    supernet.eval()


def test_a_choice_outside_the_supernet_is_refused_naming_what_it_holds(supernet, names):
    with pytest.raises(ConfigError, match="not a candidate of block 0"):
        supernet.pin(Choice(("no-such-mixer", names[0]), 1))
    with pytest.raises(ConfigError, match=r"T=7 is not a choice"):
        supernet.pin(Choice((names[0], names[0]), 7))


@pytest.mark.parametrize("scheme", ["uniform", "balanced"])
def test_path_sampling_covers_every_candidate_and_is_a_function_of_the_step(scheme):
    blocks = [["a", "b", "c"], ["d", "e", "f", "g", "h"]]
    sampler = PathSampler(blocks, [1, 2, 4], scheme=scheme, seed=3)
    steps = [sampler(s) for s in range(60)]
    assert steps == [sampler(s) for s in range(60)], "the same step always gives the same path"
    assert steps != [PathSampler(blocks, [1, 2, 4], scheme=scheme, seed=4)(s) for s in range(60)]
    for i, candidates in enumerate(blocks):
        assert {c.mixers[i] for c in steps} == set(candidates)
    assert {c.T for c in steps} == {1, 2, 4}
    if scheme == "balanced":  # every aligned run of m steps draws each of the m candidates once
        for i, candidates in enumerate(blocks):
            m = len(candidates)
            for start in range(0, 60, m):
                assert Counter(c.mixers[i] for c in steps[start:start + m]) == Counter(candidates)
        for start in range(0, 60, 3):
            assert sorted(c.T for c in steps[start:start + 3]) == [1, 2, 4]


def test_training_forwards_draw_the_sampled_paths_and_count_steps():
    sn = Supernet(load_config("tiny", ["depth=2"]), [["identity", "fft2d"], ["fft2d", "identity"]], [1, 2], seed=5)
    sn.train()
    drawn = []
    for _ in range(6):
        sn(torch.rand(2, 1, 8, 8))
        reset_state(sn)
        drawn.append(sn.current)
    assert drawn == [sn.sampler(s) for s in range(6)]
    assert sn.state_dict()["_extra_state"] == {"steps": 6}, "the step count is saved with the weights"
    with sn.use(drawn[0]):
        sn(torch.rand(2, 1, 8, 8))  # a pinned path draws nothing
        reset_state(sn)
    assert sn.steps == 6


def _on_path(sn: Supernet, choice: Choice, key: str) -> bool:
    parts = key.split(".")
    if parts[0] == "blocks" and parts[2] == "mixers":
        return sn.blocks[int(parts[1])].names[int(parts[3])] == choice.mixers[int(parts[1])]
    return True


def test_bn_recalibration_changes_only_the_statistics_of_the_path_batchnorms(supernet, names):
    choice = Choice((names[0], names[1]), 2)
    supernet.train()
    for _ in range(2):  # some training-mode statistics to start from
        supernet(torch.rand(4, 1, 8, 8))
        reset_state(supernet)
    supernet.eval()
    before = {k: v.clone() for k, v in supernet.state_dict().items() if torch.is_tensor(v)}
    momenta = [m.momentum for m in supernet.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    batches = [torch.rand(5, 1, 8, 8) for _ in range(3)]
    with supernet.use(choice):
        assert recalibrate_batchnorm(supernet, batches) == 3
    after = supernet.state_dict()
    changed = {k for k, v in before.items() if not torch.equal(v, after[k])}
    assert changed, "recalibration re-estimated something"
    for key in changed:
        assert key.rsplit(".", 1)[1] in ("running_mean", "running_var", "num_batches_tracked"), key
        assert _on_path(supernet, choice, key), f"{key} is off the path"
    assert any(not _on_path(supernet, choice, k) and "running_mean" in k for k in before), "the test has a path to miss"
    assert not supernet.training and [m.momentum for m in supernet.modules()
                                      if isinstance(m, torch.nn.BatchNorm1d)] == momenta
    # The statistics are the plain average over the batches: whatever they were before, the same.
    with supernet.use(Choice((names[1], names[0]), 1)):
        recalibrate_batchnorm(supernet, batches)
    with supernet.use(choice):
        recalibrate_batchnorm(supernet, batches)
    again = supernet.state_dict()
    assert all(torch.equal(after[k], again[k]) for k in before if k.startswith(("sps.", "head.")))


def test_bn_recalibration_of_an_extracted_model_gives_the_supernets_statistics(supernet, names):
    choice = Choice((names[2], names[3]), 3)
    batches = [torch.rand(4, 1, 8, 8) for _ in range(2)]
    model = supernet.extract(choice)
    recalibrate_batchnorm(model, batches)
    with supernet.use(choice):
        recalibrate_batchnorm(supernet, batches)
    theirs = model.state_dict()
    for key, value in supernet.subnet_state_dict(choice).items():
        assert torch.allclose(value.float(), theirs[key].float(), atol=1e-6), key


def test_membrane_supernet_subnetworks_equal_standalone_models():
    """The membrane convention (a LIF before each mixer, BN-ended MLP, head LIF) in the supernet too."""
    torch.manual_seed(0)
    names = ["sdsa", "fft2d", "qkta"]
    supernet = Supernet(load_config("tiny", ["depth=2", "shortcut=membrane", "head_lif=true"]), [names, names], [1, 2])
    x = torch.rand(2, 1, 8, 8)
    for choice in (Choice(("sdsa", "qkta"), 2), Choice(("fft2d", "sdsa"), 1)):
        model = supernet.extract(choice)
        assert model.cfg.shortcut == "membrane" and model.blocks[0].mixer_lif is not None
        assert_same_logits(supernet, model, choice, x, training=True)
