"""A weight-sharing supernet over per-block mixers and T, for single-path one-shot search.

Single-path one-shot NAS (Guo et al., "Single Path One-Shot Neural Architecture Search with
Uniform Sampling", ECCV 2020, "SPOS"): one network holds every candidate of every choice; each
training step trains one path drawn at random; afterwards a sub-network is evaluated with the
weights it inherits, after re-estimating its BatchNorm statistics on a few training batches.

Here every block holds every candidate mixer of its block (each with its own parameters; a
hybrid `a+b` is a candidate of its own, sharing nothing with `a` or `b`); the patch splitter, the
blocks' MLPs and the head are shared by all paths. T is elastic: every layer is applied to each
timestep alike, so the same weights run at any T (a static image is repeated T times, the head
averages over T).

A path (`Choice`: one mixer per block and a T) is active at a time:
- pinned (`pin(choice)`, or `with supernet.use(choice):`), every forward runs that sub-network,
  which computes exactly what a stand-alone `SpikingTransformer` of `config_of(choice)` computes
  when loaded with `subnet_state_dict(choice)` (`extract(choice)` does both; tested);
- unpinned in training mode, every forward draws the next path from `PathSampler` as a pure
  function of (seed, step); the step count is saved with the weights (`get_extra_state`), so a
  resumed training continues the same sequence of paths;
- unpinned in eval mode (a training loop's validation, its energy and latency figures), every
  forward draws from a second stream that restarts whenever the model enters eval mode, so each
  validation pass sees the same random paths: a monitor of the supernet, not a sub-network's score.

`recalibrate_batchnorm(model, batches)` re-estimates the statistics of the BatchNorms that run.

Two training options, both off by default (docs/benchmarks/search-scale.md measured neither better): `distill=
"inplace"` makes a training step's loss the best path so far on the labels plus the sampled path
on its predictions (`training_loss`, `distill.py`); `batchnorm="per-T"` holds every
BatchNorm once per T choice, the active path's T choosing the copy (`batchnorm.py`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import random
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional, Sequence

import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.config import Config, validate
from fwformer.layers import fresh_state, make_lif, reset_state
from fwformer.model import (ResidualBlock, SpikingTransformer, build_model, classify, initialise, lif_options,
                            make_mixer, make_mlp, make_sps, neuron_options)
from fwformer.supernet.batchnorm import BATCHNORM, split_by_T, standalone_key
from fwformer.supernet.distill import REFRESH, BestSoFar, distillation_loss

SAMPLING = ("uniform", "balanced")
#: How a training step's loss is formed: `none` (the sampled path on the labels, SPOS) or `inplace`
#: (the best path so far on the labels, the sampled path on its predictions: `distill.py`).
DISTILL = ("none", "inplace")
#: A candidate mixer's state key: block index, candidate index, the mixer's own key.
MIXER_KEY = re.compile(r"^blocks\.(\d+)\.mixers\.(\d+)\.(.*)$")


@dataclass(frozen=True)
class Choice:
    """One sub-network: the mixer of every block and the number of timesteps."""

    mixers: tuple[str, ...]
    T: int


class PathSampler:
    """The path of training step `step`, a pure function of (seed, step).

    `uniform` (SPOS): every block's mixer and T drawn uniformly and independently at every step.
    `balanced`: each choice (every block, and T) walks through a fresh random permutation of its
    candidates, so within every aligned run of m steps (m its number of candidates) each candidate
    is drawn exactly once: FairNAS's count fairness (Chu et al., ICCV 2021) without its gradient
    accumulation over the m paths (one path per optimizer step, as SPOS).
    """

    def __init__(self, block_choices: Sequence[Sequence[str]], T_choices: Sequence[int], *,
                 scheme: str = "uniform", seed: int = 0):
        if scheme not in SAMPLING:
            raise ConfigError(f"supernet sampling must be one of: {', '.join(SAMPLING)}, but got '{scheme}'")
        self.blocks = [tuple(c) for c in block_choices]
        self.T = tuple(T_choices)
        self.scheme = scheme
        self.seed = int(seed)

    def __call__(self, step: int) -> Choice:
        dims = [*self.blocks, self.T]
        if self.scheme == "uniform":
            rng = random.Random(f"{self.seed}:{step}")
            picks = [rng.randrange(len(d)) for d in dims]
        else:
            picks = [self._balanced(i, len(d), step) for i, d in enumerate(dims)]
        return Choice(tuple(d[p] for d, p in zip(self.blocks, picks)), self.T[picks[-1]])

    def _balanced(self, dim: int, m: int, step: int) -> int:
        order = list(range(m))
        random.Random(f"{self.seed}:{dim}:{step // m}").shuffle(order)
        return order[step % m]


class SuperBlock(ResidualBlock):
    """A block with every candidate mixer (`mixers[i]` is `names[i]`) and one shared MLP; the same
    residual steps and block convention as the stand-alone `Block`."""

    def __init__(self, names: Sequence[str], mixers: Sequence[nn.Module], mlp: nn.Module, **convention):
        super().__init__(mlp, **convention)
        self.names = list(names)
        self.mixers = nn.ModuleList(mixers)
        self.active = 0

    def active_mixer(self) -> nn.Module:
        return self.mixers[self.active]


class Supernet(nn.Module):
    def __init__(self, base: Config, block_choices: Sequence[Sequence[str]], T_choices: Sequence[int], *,
                 sampling: str = "uniform", seed: int = 0, candidate_lr: float = 1.0, distill: str = "none",
                 batchnorm: str = "shared"):
        super().__init__()
        if not candidate_lr > 0:
            raise ConfigError(f"a supernet's candidate_lr must be > 0, but got {candidate_lr}")
        if distill not in DISTILL:
            raise ConfigError(f"a supernet's distill must be one of: {', '.join(DISTILL)}, but got '{distill}'")
        if batchnorm not in BATCHNORM:
            raise ConfigError(f"a supernet's batchnorm must be one of: {', '.join(BATCHNORM)}, but got '{batchnorm}'")
        self.candidate_lr = float(candidate_lr)
        block_choices = [list(dict.fromkeys(c)) for c in block_choices]
        if not block_choices or any(not c for c in block_choices) or not T_choices:
            raise ConfigError("a supernet needs at least one block, one mixer per block and one T")
        self.base = dataclasses.replace(base, depth=len(block_choices), mixers=[c[0] for c in block_choices],
                                        T=max(T_choices))
        validate(self.base)
        cfg = self.base
        self.sps = make_sps(cfg)
        self.blocks = nn.ModuleList(SuperBlock(names, [make_mixer(cfg, n) for n in names], make_mlp(cfg),
                                               shortcut=cfg.shortcut, **neuron_options(cfg))
                                    for names in block_choices)
        self.head_lif = make_lif(**lif_options(cfg)) if cfg.head_lif else None
        self.head = nn.Linear(cfg.embed_dim, cfg.num_classes)
        initialise(self, cfg.init)
        self.T_choices = sorted(dict.fromkeys(int(t) for t in T_choices))
        # After initialise: every T's copy starts from the same values (and the shared weights are drawn as before).
        self.per_T_norms = split_by_T(self, len(self.T_choices)) if batchnorm == "per-T" else []
        self.sampler = PathSampler(block_choices, self.T_choices, scheme=sampling, seed=seed)
        self.eval_sampler = PathSampler(block_choices, self.T_choices, scheme="uniform", seed=seed + 1)
        self.steps = 0  # training forwards that drew a path (saved as extra state)
        self._eval_steps = 0
        self.pinned: Optional[Choice] = None
        self.current = Choice(tuple(cfg.mixers), cfg.T)
        self.best_so_far = (BestSoFar([len(c) for c in block_choices] + [len(self.T_choices)])
                            if distill == "inplace" else None)
        self.teacher: Optional[Choice] = None  # in-place distillation's teacher, chosen every REFRESH steps

    # ---- choosing the path ----------------------------------------------------------------------
    @property
    def block_choices(self) -> list[list[str]]:
        return [list(b.names) for b in self.blocks]

    def check_choice(self, choice: Choice) -> None:
        if len(choice.mixers) != len(self.blocks):
            raise ConfigError(f"a choice needs {len(self.blocks)} mixers, one per block, but got {list(choice.mixers)}")
        for i, (name, block) in enumerate(zip(choice.mixers, self.blocks)):
            if name not in block.names:
                raise ConfigError(f"mixer '{name}' is not a candidate of block {i}; the supernet holds: "
                                  f"{', '.join(block.names)}")
        if choice.T not in self.T_choices:
            raise ConfigError(f"T={choice.T} is not a choice of the supernet; it runs T in {self.T_choices}")

    def _activate(self, choice: Choice) -> None:
        for name, block in zip(choice.mixers, self.blocks):
            block.active = block.names.index(name)
        T_index = self.T_choices.index(choice.T)
        for norm in self.per_T_norms:
            norm.index = T_index
        self.current = choice

    def pin(self, choice: Optional[Choice]) -> None:
        """Run `choice` on every forward from now on (None: sample again)."""
        if choice is not None:
            self.check_choice(choice)
            self._activate(choice)
        self.pinned = choice

    @contextlib.contextmanager
    def use(self, choice: Choice) -> Iterator["Supernet"]:
        previous = self.pinned
        self.pin(choice)
        try:
            yield self
        finally:
            self.pin(previous)

    def train(self, mode: bool = True) -> "Supernet":
        if not mode:
            self._eval_steps = 0  # every validation pass sees the same sequence of paths
        return super().train(mode)

    def get_extra_state(self) -> dict:
        state: dict = {"steps": int(self.steps)}
        if self.best_so_far is not None:  # a resumed training then picks the same teachers
            state["distill"] = dict(self.best_so_far.state(), teacher=self._picks(self.teacher) if self.teacher else None)
        return state

    def set_extra_state(self, state: dict) -> None:
        self.steps = int(state["steps"])
        if self.best_so_far is not None and "distill" in state:
            self.best_so_far.load(state["distill"])
            picks = state["distill"]["teacher"]
            self.teacher = self._choice_of(picks) if picks is not None else None

    def _picks(self, choice: Choice) -> list[int]:
        return [b.names.index(n) for n, b in zip(choice.mixers, self.blocks)] + [self.T_choices.index(choice.T)]

    def _choice_of(self, picks: Sequence[int]) -> Choice:
        return Choice(tuple(b.names[p] for b, p in zip(self.blocks, picks[:-1])), self.T_choices[picks[-1]])

    def lr_scale(self, name: str) -> float:
        """The learning-rate multiplier of parameter `name` (`fwformer.train.loop.param_groups` reads it): a
        candidate mixer is trained only on the steps whose path holds it (1 in m, m its block's
        candidates), so `candidate_lr` above 1 lets it move as far in fewer steps; shared weights: 1."""
        return self.candidate_lr if MIXER_KEY.match(name) else 1.0

    def training_loss(self, x: torch.Tensor, logits: torch.Tensor, target: torch.Tensor,
                      criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """The loss of a training step whose forward of `x` gave `logits` (`fwformer.train` calls it;
        `criterion` is the step's loss on the labels): that loss, or with `distill: inplace` the best
        path so far on the labels plus the sampled path on the teacher's predictions."""
        loss = criterion(logits, target)
        if self.best_so_far is None or self.pinned is not None:
            return loss
        student = self.current
        self.best_so_far.credit(self._picks(student), loss)
        if self.teacher is None or self.steps % REFRESH == 0:
            self.teacher = self._choice_of(self.best_so_far.best())
        if self.teacher == student:
            return loss
        reset_state(self)  # the teacher's forward starts from rest, as every forward does
        with self.use(self.teacher):
            teacher_logits = self(x)
        return distillation_loss(logits, teacher_logits, target, criterion)

    # ---- running ----------------------------------------------------------------------------------
    @property
    def cfg(self) -> Config:
        """The config of the active sub-network (what the energy meter and a stand-alone model read)."""
        return self.config_of(self.current)

    @property
    def T(self) -> int:
        return self.current.T

    def config_of(self, choice: Choice) -> Config:
        return dataclasses.replace(self.base, mixers=list(choice.mixers), T=int(choice.T))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pinned is None:
            if self.training:
                self._activate(self.sampler(self.steps))
                self.steps += 1
            else:
                self._activate(self.eval_sampler(self._eval_steps))
                self._eval_steps += 1
        # The stand-alone model's input check and direct encoding, at the active T (reads self.cfg, self.T).
        x = self.sps(SpikingTransformer.to_time_major(self, x))  # [T, B, N, D]
        for block in self.blocks:
            x = block(x)
        return classify(self, x)

    # ---- sub-networks as stand-alone models ---------------------------------------------------------
    def subnet_state_dict(self, choice: Choice) -> dict[str, torch.Tensor]:
        """The weights (and BN statistics) of `choice`, under a stand-alone model's names."""
        self.check_choice(choice)
        index = {i: block.names.index(name) for i, (name, block) in enumerate(zip(choice.mixers, self.blocks))}
        out, T_index = {}, self.T_choices.index(choice.T)
        for key, value in self.state_dict().items():
            key = standalone_key(key, T_index)
            if key is None or key.endswith("_extra_state"):  # another T's BatchNorm copy; the step count
                continue
            m = MIXER_KEY.match(key)
            if m is None:
                out[key] = value
            elif int(m.group(2)) == index[int(m.group(1))]:
                out[f"blocks.{m.group(1)}.mixer.{m.group(3)}"] = value
        return out

    def extract(self, choice: Choice) -> SpikingTransformer:
        """A stand-alone model of `choice` holding the supernet's weights (copies, on the same device)."""
        param = next(self.parameters())
        with torch.device(param.device):
            model = build_model(self.config_of(choice))
        model.load_state_dict({k: v.clone() for k, v in self.subnet_state_dict(choice).items()})
        return model

    def path_parameters(self, choice: Choice) -> int:
        """Parameters of the sub-network `choice` (what `count_parameters` gives its stand-alone model)."""
        names = {n for n, _ in self.named_parameters()}
        return sum(v.numel() for k, v in self.state_dict().items() if k in names and self._on_path(k, choice))

    def _on_path(self, key: str, choice: Choice) -> bool:
        key = standalone_key(key, self.T_choices.index(choice.T))
        if key is None:
            return False
        m = MIXER_KEY.match(key)
        return m is None or self.blocks[int(m.group(1))].names[int(m.group(2))] == choice.mixers[int(m.group(1))]


# ---- BatchNorm recalibration -------------------------------------------------------------------------
@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Re-estimate the running mean and variance of every BatchNorm that runs on `batches` (inputs),
    as SPOS does before it scores a sub-network: the statistics are reset, then set to the plain
    average over the batches (momentum None). Only BatchNorms compute in training mode; every
    other module runs in eval mode, and neuron state is reset after each batch. Nothing but BN
    statistics changes; BatchNorms that do not run keep theirs. Returns the number of batches."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    modes = {m: m.training for m in model.modules()}
    momenta = {bn: bn.momentum for bn in norms}
    seen: set = set()

    def first_use(bn: nn.Module, inputs) -> None:
        if bn not in seen:
            seen.add(bn)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the batches

    handles = [bn.register_forward_pre_hook(first_use) for bn in norms]
    n = 0
    try:
        model.eval()
        for bn in norms:
            bn.train()
        with fresh_state(model):
            for x in batches:
                model(x)
                reset_state(model)
                n += 1
    finally:
        for h in handles:
            h.remove()
        for bn, momentum in momenta.items():
            bn.momentum = momentum
        for module, mode in modes.items():
            module.training = mode
    if n == 0:
        raise ValueError("recalibrate_batchnorm got no batches")
    return n
