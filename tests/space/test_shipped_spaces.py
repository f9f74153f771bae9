"""Every mixer a shipped CIFAR study can propose is a model that runs at the study's real geometry
(so a name the space accepts never fails inside a GPU trial)."""
from __future__ import annotations

import pytest
import torch

from fwformer.layers import reset_state
from fwformer.model import build_model
from search.study import load_study

STUDY = load_study("fw_pareto")
MIXERS = sorted({m for block in STUDY.space.block_choices for m in block})


def test_fw_pareto_runs_at_the_spikformer_4_384_geometry():
    base = STUDY.base
    assert (base.embed_dim, base.depth, base.img_size, base.grid) == (384, 4, 32, (8, 8))


@pytest.mark.parametrize("mixer", MIXERS)
def test_every_fw_pareto_mixer_builds_and_trains_one_step(mixer):
    cfg = STUDY.trial_config({**{f"mixer_{i}": mixer for i in range(STUDY.space.depth)}, "T": 1,
                              **{k: v[0] for k, v in STUDY.space.dims.items()}})
    torch.manual_seed(0)
    model = build_model(cfg)
    x = torch.rand(1, cfg.in_channels, cfg.img_size, cfg.img_size)
    logits = model(x)
    assert logits.shape == (1, cfg.num_classes) and torch.isfinite(logits).all()
    logits.sum().backward()
    reset_state(model)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
