"""In-place distillation in the supernet: the teacher is the best path so far, the step's loss is
the teacher's on the labels plus the sampled path's on the teacher, and its state resumes."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.layers import reset_state
from fwformer.supernet import DECAY, MIXER_KEY, BestSoFar, Choice, Supernet, soft_cross_entropy

BLOCKS = [["ssa", "sepconv", "identity"], ["sepconv", "ssa", "identity"]]


def criterion(logits, target):
    return F.cross_entropy(logits.float(), target)


def test_best_so_far_keeps_a_moving_average_per_candidate_and_ranks_unseen_ones_last():
    best = BestSoFar([3, 2])
    best.credit([0, 1], torch.tensor(2.0))
    assert best.best() == [0, 1], "a candidate seen once beats the unseen ones"
    best.credit([2, 1], torch.tensor(1.0))
    assert best.average[1][1].item() == pytest.approx(DECAY * 2.0 + (1 - DECAY) * 1.0)
    assert best.best() == [2, 1]
    restored = BestSoFar([3, 2])
    restored.load(best.state())
    assert restored.best() == best.best() and restored.seen == [[1, 0, 1], [0, 2]]
    with pytest.raises(ValueError, match=r"over \[3, 2\] candidates, but the supernet has \[2, 2\]"):
        BestSoFar([2, 2]).load(best.state())


def test_a_distilled_step_is_the_teachers_label_loss_plus_the_students_loss_on_the_teacher():
    torch.manual_seed(0)
    sn = Supernet(load_config("tiny", ["depth=2"]), BLOCKS, [1, 2], seed=3, distill="inplace")
    sn.train()
    x, y = torch.rand(4, 1, 8, 8), torch.randint(0, 10, (4,))
    sn.best_so_far.credit([1, 0, 1], torch.tensor(0.5))  # sepconv, sepconv, T=2: the best so far
    twin = copy.deepcopy(sn)
    logits = sn(x)
    student = sn.current
    assert student != Choice(("sepconv", "sepconv"), 2)
    loss = sn.training_loss(x, logits, y, criterion)
    assert sn.teacher == Choice(("sepconv", "sepconv"), 2)
    assert sn.steps == 1, "the teacher's forward draws no path"
    # The same two forwards on the twin, by hand.
    with twin.use(student):
        s = twin(x)
    reset_state(twin)
    with twin.use(sn.teacher):
        t = twin(x)
    assert torch.allclose(loss, criterion(t, y) + soft_cross_entropy(s, t))
    loss.backward()
    on = {i: {student.mixers[i], sn.teacher.mixers[i]} for i in range(2)}
    for name, p in sn.named_parameters():
        m = MIXER_KEY.match(name)
        if m and sn.blocks[int(m.group(1))].names[int(m.group(2))] not in on[int(m.group(1))]:
            assert p.grad is None, name


def test_without_distillation_the_step_loss_is_the_label_loss_and_nothing_more_runs():
    sn = Supernet(load_config("tiny", ["depth=2"]), BLOCKS, [1, 2], seed=3)
    sn.train()
    x, y = torch.rand(4, 1, 8, 8), torch.randint(0, 10, (4,))
    logits = sn(x)
    calls = []
    handle = sn.register_forward_hook(lambda *a: calls.append(1))
    assert torch.equal(sn.training_loss(x, logits, y, criterion), criterion(logits, y))
    handle.remove()
    assert not calls and sn.teacher is None and sn.best_so_far is None
    assert sn.state_dict()["_extra_state"] == {"steps": 1}


def test_the_teacher_and_the_averages_are_saved_with_the_weights():
    sn = Supernet(load_config("tiny", ["depth=2"]), BLOCKS, [1, 2], seed=3, distill="inplace")
    sn.train()
    for _ in range(3):
        x, y = torch.rand(2, 1, 8, 8), torch.randint(0, 10, (2,))
        sn.training_loss(x, sn(x), y, criterion)
        reset_state(sn)
    again = Supernet(load_config("tiny", ["depth=2"]), BLOCKS, [1, 2], seed=3, distill="inplace")
    again.load_state_dict(sn.state_dict())
    assert again.teacher == sn.teacher and again.steps == 3
    assert again.best_so_far.state() == sn.best_so_far.state()


def test_an_unknown_distillation_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match="distill must be one of: none, inplace, but got 'kd'"):
        Supernet(load_config("tiny", ["depth=2"]), BLOCKS, [1], distill="kd")
