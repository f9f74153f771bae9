"""The supernet of a study: its training config, where it lives, training it, and loading it again.

A supernet is trained by `fwformer.train.train` like any model (the study's data and training
settings, `search.supernet.epochs` epochs, a checkpoint after every epoch, resume), with the model
built by `fwformer.supernet.Supernet` from the space. Its training config carries what decides its
weights in `provenance.supernet` (the candidates of every block, the T choices, the sampling, the
candidates' learning-rate multiplier when it is not 1, the distillation and per-T BatchNorm when
set), so
`train`'s resume check and the reuse check below compare them like any other config key.

Where: `search.supernet.checkpoint` when the study names one (a trained supernet to reuse), else
`<workdir>/supernets/<key>/`, `key` a hash of the training config without its run-time keys: a
later study over the same space, data and training settings (another sampler, seed, objective or
name) finds the trained supernet there and does not train it again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Optional, Union

from fwformer.cli import ConfigError
from fwformer.config import EXECUTION_KEYS, Config, architecture, config_to_dict, load_config

#: Supernet epochs per epoch of a stand-alone trial when the study leaves `search.supernet.epochs` null.
EPOCHS_PER_TRIAL_EPOCH = 4  # docs/benchmarks/one-shot.md: 4x ranked sub-networks better than 1x or 2x on the quickstart
SUPERNETS_DIR = "supernets"


def supernet_epochs(study: Any) -> int:
    n = study.search.supernet.epochs
    return int(n) if n is not None else EPOCHS_PER_TRIAL_EPOCH * int(study.base.train.epochs)


def training_config(study: Any) -> Config:
    """The config `fwformer.train` trains the study's supernet with."""
    base, space, n = study.base, study.space, study.search.supernet
    spec = {"blocks": [list(c) for c in space.block_choices], "T": list(space.T), "sampling": n.sampling}
    if n.candidate_lr != 1.0:  # only then: the key (and the resume check) of every supernet trained before stays
        spec["candidate_lr"] = float(n.candidate_lr)
    if n.distill != "none":
        spec["distill"] = n.distill
    if n.batchnorm != "shared":
        spec["batchnorm"] = n.batchnorm
    return dataclasses.replace(
        base, name=f"{study.name}-supernet", depth=space.depth, mixers=[c[0] for c in space.block_choices],
        T=max(space.T), train=dataclasses.replace(base.train, epochs=supernet_epochs(study), cooldown_epochs=0),
        provenance={"supernet": spec})


def _identity(d: dict, *, skip: tuple = ()) -> dict:
    """`d` (a config dict) without the keys that do not change what is trained."""
    out = json.loads(json.dumps(d))
    for key in ("name", *skip, *(k for k in EXECUTION_KEYS if k != "train.epochs")):
        *path, last = key.split(".")
        node = out
        for p in path:
            node = node.get(p) or {}
        node.pop(last, None)
    return out


def supernet_key(cfg: Config) -> str:
    text = json.dumps(_identity(config_to_dict(cfg)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_dir(workdir: Path, cfg: Config) -> Path:
    return Path(workdir) / SUPERNETS_DIR / supernet_key(cfg)


def spec_of(cfg: Config) -> dict:
    spec = (cfg.provenance or {}).get("supernet")
    if not spec:
        raise ConfigError(f"config '{cfg.name}' is not a supernet's (no provenance.supernet)")
    return spec


def build_supernet(cfg: Config):
    """The (untrained) supernet a training config describes."""
    from fwformer.supernet import Supernet

    spec = spec_of(cfg)
    return Supernet(cfg, spec["blocks"], spec["T"], sampling=spec["sampling"], seed=int(cfg.train.seed),
                    candidate_lr=float(spec.get("candidate_lr", 1.0)), distill=spec.get("distill", "none"),
                    batchnorm=spec.get("batchnorm", "shared"))


def train_supernet(cfg: Config, out_dir: Path, *, report: Callable[[dict], Optional[bool]],
                   datasets: Optional[tuple] = None, num_threads: Optional[int] = None) -> dict:
    """Train (or continue training) the supernet of `cfg` in `out_dir`; `report` may stop it."""
    from fwformer.train import train

    if cfg.train.num_threads is None and num_threads:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, num_threads=int(num_threads)))
    return train(cfg, out_dir=out_dir, report=report, resume=True, progress=False, datasets=datasets,
                 model_factory=build_supernet)


def trained_epochs(path: Union[str, Path]) -> tuple[int, int]:
    """(epochs trained, epochs planned) of the supernet checkpoint at `path`; (0, 0) when there is none."""
    from fwformer.train import checkpoint_path, load_checkpoint

    if not checkpoint_path(path).is_file():
        return 0, 0
    state = load_checkpoint(path)
    planned = load_config(state["config"], check=False).train
    return int(state["epoch"]), int(planned.epochs) + int(planned.cooldown_epochs)


def load_supernet(path: Union[str, Path], device: Any = "cpu") -> tuple[Any, Config, dict]:
    """(supernet, its training config, the checkpoint) of a trained supernet's run folder or file."""
    from fwformer.train import load_checkpoint

    state = load_checkpoint(path, map_location=device)
    cfg = load_config(state["config"], check=False)
    spec_of(cfg)
    model = build_supernet(cfg)
    model.load_state_dict(state["model"])
    return model.to(device), cfg, state


def check_reusable(path: Union[str, Path], study: Any) -> None:
    """ConfigError unless `path` holds a fully trained supernet of the study's space, base model and data
    (its sampling, epochs and other training settings may differ: the study chose it)."""
    from fwformer.train import checkpoint_path, load_checkpoint

    file = checkpoint_path(Path(path).expanduser())
    where = f"search.supernet.checkpoint='{path}'"
    if not file.is_file():
        raise ConfigError(f"{where}: no supernet checkpoint at '{file}'")
    try:
        saved = load_config(load_checkpoint(file)["config"], check=False)
        spec = spec_of(saved)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    want = training_config(study)
    wanted = spec_of(want)
    for key in ("blocks", "T"):
        if spec[key] != wanted[key]:
            raise ConfigError(f"{where} was trained over {key} {spec[key]}, but the study's space has {wanted[key]}")
    mine, theirs = _identity(config_to_dict(want)), _identity(config_to_dict(saved))
    arch_mine, arch_theirs = architecture(mine), architecture(theirs)
    diff = sorted(k for k in set(arch_mine) | set(arch_theirs) if arch_mine.get(k) != arch_theirs.get(k))
    diff += [f"data.{k}" for k in sorted(set(mine["data"]) | set(theirs["data"]))
             if mine["data"].get(k) != theirs["data"].get(k)]
    if diff:
        raise ConfigError(f"{where} was trained with another {', '.join(diff)} than the study's; "
                          f"reuse a supernet of the same base model and data")
    done, planned = trained_epochs(file)
    if done < planned:
        raise ConfigError(f"{where} has trained {done} of {planned} epochs; finish it with the study that "
                          f"started it (--resume) or leave search.supernet.checkpoint unset")
