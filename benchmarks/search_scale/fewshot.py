"""Few-shot by T: the trained supernet split into one sub-supernet per T, each fine-tuned at its T.

Few-shot NAS (Zhao et al., "Few-shot Neural Architecture Search", ICML 2021) splits a one-shot
supernet by the choices of the edge whose candidates interfere most and trains each sub-supernet
from the shared weights. `interference` measured where the paths interfere here: T explains more
of the supernet's rank error than any block's mixer kind (on the CIFAR-10 subset 36% against at most
24%; on digits 12% against 13%), and every weight is shared across T. So the split is by T (an
interpretation: the paper splits by an operation choice, T is ours): sub-supernet t starts from the
trained supernet's weights and trains `epochs` more epochs on paths drawn at T = t only (the same
sampling over the mixers, the study's training settings and schedule over those epochs); a
sub-network is scored by the sub-supernet of its T. The sub-supernets hold exactly the parent's
parameters (the supernet has no T-specific ones), so each is a `Supernet` over one T.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable


def split_config(parent_cfg: Any, T: int, epochs: int) -> Any:
    """The training config of the sub-supernet at `T`: the parent's, over T = [T], for `epochs`."""
    spec = dict(parent_cfg.provenance["supernet"], T=[int(T)])
    train = dataclasses.replace(parent_cfg.train, epochs=int(epochs), cooldown_epochs=0)
    return dataclasses.replace(parent_cfg, name=f"{parent_cfg.name}-T{T}", T=int(T), train=train,
                               provenance={"supernet": spec})


def from_parent(parent: Path) -> Callable[[Any], Any]:
    """A model factory for `fwformer.train.train`: the sub-supernet its config describes, holding the
    parent supernet's trained weights (a resumed fine-tuning then loads its own checkpoint over them)."""
    from fwformer.train import load_checkpoint
    from search.supernet import build_supernet

    weights = {k: v for k, v in load_checkpoint(parent)["model"].items() if not k.endswith("_extra_state")}

    def build(cfg: Any) -> Any:
        model = build_supernet(cfg)
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or [k for k in missing if not k.endswith("_extra_state")]:
            raise ValueError(f"the sub-supernet's weights are not its parent's: missing {missing}, unexpected {unexpected}")
        return model

    return build


def train_split(parent: Path, parent_cfg: Any, epochs: int, workdir: Path, log: Callable[[str], None]) -> dict:
    """{T: (sub-supernet folder, CPU-s)} over the parent's T choices; a finished one is not trained again."""
    from benchmarks.supernet import trained_once
    from fwformer.train import train

    out = {}
    for T in parent_cfg.provenance["supernet"]["T"]:
        cfg = split_config(parent_cfg, T, epochs)
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, num_threads=1))
        folder = workdir / f"{parent.name}-splitT{epochs}" / f"T{T}"
        report = lambda m, T=T: log(f"    sub-supernet T{T}: epoch {m['epoch']} loss {m['train_loss']:.3f}") and False  # noqa: E731
        out[T] = (folder, trained_once(folder, lambda on_epoch: train(
            cfg, out_dir=folder, resume=True, progress=False, model_factory=from_parent(parent),
            report=lambda m: on_epoch(m) or report(m))))
        log(f"  sub-supernet T{T}: {out[T][1]:.0f} CPU-s")
    return out


class ByT:
    """Scores a sub-network with the sub-supernet of its T (a `SubnetScorer` per T)."""

    def __init__(self, scorers: dict[int, Any]):
        self.scorers = scorers

    def __call__(self, choice: Any) -> dict:
        return self.scorers[int(choice.T)](choice)
