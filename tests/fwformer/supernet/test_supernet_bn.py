"""Per-T BatchNorm in the supernet: one copy per T, the path's T picks it, a sub-network at T is a
stand-alone model with that T's copies, and a step trains only its T's copies."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.layers import reset_state
from fwformer.model import count_parameters
from fwformer.supernet import Choice, PerTBatchNorm, Supernet, recalibrate_batchnorm, standalone_key
from subnets import assert_same_logits

BLOCKS = [["ssa", "sepconv", "sdsa3", "identity"], ["sepconv", "ssa", "identity"]]  # sdsa3 reads its BatchNorms
T_CHOICES = [1, 2, 4]


def per_T_supernet() -> Supernet:
    torch.manual_seed(0)
    return Supernet(load_config("tiny", ["depth=2"]), BLOCKS, T_CHOICES, batchnorm="per-T")


def _mutate_copies(sn: Supernet) -> None:
    """Give every T's copy different affine weights and statistics, as training would."""
    with torch.no_grad():
        for norm in sn.per_T_norms:
            for i, bn in enumerate(norm.per_T):
                bn.weight.add_(0.1 * (i + 1))
                bn.running_mean.add_(0.05 * (i + 1))


def test_every_batchnorm_is_held_once_per_T_from_the_same_start():
    shared = Supernet(load_config("tiny", ["depth=2"]), BLOCKS, T_CHOICES)
    sn = per_T_supernet()
    plain = [m for m in shared.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(sn.per_T_norms) == len(plain) > 0
    assert all(len(n.per_T) == 3 for n in sn.per_T_norms)
    assert not [m for m in sn.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                and not any(m is c for n in sn.per_T_norms for c in n.per_T)], "every BatchNorm is split"
    for norm in sn.per_T_norms:
        assert all(torch.equal(c.weight, norm.per_T[0].weight) for c in norm.per_T)


def test_a_subnetwork_at_T_computes_what_a_standalone_model_with_that_Ts_copies_computes():
    sn = per_T_supernet()
    _mutate_copies(sn)
    x = torch.rand(2, 1, 8, 8)
    for T, first in zip(T_CHOICES, ("sepconv", "sdsa3", "sdsa3")):
        choice = Choice((first, "ssa"), T)
        model = sn.extract(choice)
        assert count_parameters(model) == sn.path_parameters(choice)
        for training in (True, False):
            assert_same_logits(sn, model, choice, x, training)
        state = sn.subnet_state_dict(choice)
        assert torch.equal(state["sps.stages.0.bn.weight"], sn.sps.stages[0].bn.per_T[T_CHOICES.index(T)].weight)


def test_a_step_trains_only_the_copies_of_its_T_and_recalibration_resets_only_those():
    sn = per_T_supernet()
    sn.train()
    choice = Choice(("sepconv", "ssa"), 2)
    with sn.use(choice):
        sn(torch.rand(2, 1, 8, 8)).sum().backward()
        reset_state(sn)
    for norm in sn.per_T_norms:
        for i, bn in enumerate(norm.per_T):
            if i != T_CHOICES.index(2):
                assert bn.weight.grad is None
    before = {i: bn.running_mean.clone() for i, bn in enumerate(sn.sps.stages[0].bn.per_T)}
    with sn.use(Choice(("sepconv", "ssa"), 4)):
        recalibrate_batchnorm(sn, [torch.rand(2, 1, 8, 8)])
    after = sn.sps.stages[0].bn.per_T
    assert torch.equal(after[0].running_mean, before[0]) and torch.equal(after[1].running_mean, before[1])
    assert not torch.equal(after[2].running_mean, before[2])


def test_state_keys_of_another_Ts_copy_have_no_standalone_name():
    assert standalone_key("sps.rpe.bn.per_T.2.weight", 2) == "sps.rpe.bn.weight"
    assert standalone_key("sps.rpe.bn.per_T.1.weight", 2) is None
    assert standalone_key("blocks.0.mixers.1.bn1.per_T.0.num_batches_tracked", 0) == "blocks.0.mixers.1.bn1.num_batches_tracked"
    assert standalone_key("head.weight", 1) == "head.weight"
    assert isinstance(per_T_supernet().sps.rpe.bn, PerTBatchNorm)


def test_an_unknown_batchnorm_mode_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match="batchnorm must be one of: shared, per-T, but got 'perT'"):
        Supernet(load_config("tiny", ["depth=2"]), BLOCKS, [1], batchnorm="perT")


def test_reading_a_batchnorms_attributes_reads_the_active_copy():
    """SDSA's padding reads its BatchNorm's bias and statistics directly: per T, the path's copy."""
    sn = per_T_supernet()
    _mutate_copies(sn)
    norm = sn.sps.rpe.bn
    norm.index = 2
    assert norm.weight is norm.per_T[2].weight and norm.eps == norm.per_T[2].eps
    with pytest.raises(AttributeError):
        norm.no_such_attribute
