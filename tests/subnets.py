"""A supernet's sub-network against its extracted stand-alone model (the supernet tests share it)."""
from __future__ import annotations

import torch

from fwformer.layers import reset_state


def assert_same_logits(supernet, model, choice, x, training: bool) -> None:
    """The supernet pinned to `choice` and the stand-alone `model` give identical logits on `x`, in
    training mode (batch statistics) or eval mode (running statistics)."""
    supernet.train(training)
    model.train(training)
    with torch.no_grad(), supernet.use(choice):
        ours = supernet(x)
        reset_state(supernet)
    with torch.no_grad():
        theirs = model(x)
        reset_state(model)
    assert torch.equal(ours, theirs), (choice, training)
