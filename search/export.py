"""Export one architecture of a finished search as an fwformer YAML with its provenance.

    python -m search.export --study quickstart --pick knee --out best.yaml
    python -m fwformer.train --config best.yaml --out runs/best

Picks act on the study's Pareto front (`search.front`: its own objectives; pruned and failed trials
never count): `knee` (see search.front.pareto), `max-<metric>`, `min-<metric>`, `<metric><=X` (the best
front point in the other objectives with metric <= X), `<metric>>=X` (likewise with metric >= X);
`acc` and `energy` stand for `val_acc` and `energy_mj` (`max-acc`, `energy<=0.4`; `acc>=90` on
fractional accuracies means 90 %). `--trial N` exports trial N instead. Quote the comparisons in
a shell: `--pick 'energy<=0.5'`.

The file is the trial's full resolved config (what `fwformer.train` trains directly) plus
`provenance`: study, trial, pick, objective values, seed, data, canonical key, MLflow run, code
version, storage and time.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import math
import sys
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from fwformer.cli import ArgumentParser, ConfigError, exit_on_user_error
from search.front import Front, parse_pick
from search.records import STUDY_BASE, TrialRecord, code_version
from fwformer.cli import check_output_file
from search.front import DEFAULT_STORAGE, load_stored_study, study_objectives
from search.records import redact

__all__ = ["TRAININGS", "build_parser", "export_architecture", "export_from_front", "main", "with_training"]

#: Which training an export holds: `full`, the base preset's own recipe (Spikformer-4-384: 300 epochs
#: and its cooldown), or `search`, the fidelity the search trained the trial at.
TRAININGS = ("full", "search")
#: The data keys that say where the data lives, kept from the study when the recipe's protocol applies.
_DATA_LOCATION = ("root", "path", "frames_cache")

def _plain(x: Any) -> Any:
    """Numbers and containers YAML and OmegaConf accept (numpy scalars, tuples, inf become plain)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def export_architecture(study_name: str, pick: Optional[str] = "knee", out: Union[str, Path] = "best.yaml", *,
                        storage: str = DEFAULT_STORAGE, trial: Optional[int] = None, force: bool = False,
                        training: str = "full") -> dict:
    """Write the picked trial's config with provenance to `out`; returns the provenance plus `path`.

    ConfigError (nothing written) for an existing `out` without `force`, an unknown study (naming
    the studies the storage holds), a study without finished trials, a bad pick, or a pick that
    matches nothing (naming what the front offers).
    """
    out = Path(out)
    check_output_file(out, "--out")
    if training not in TRAININGS:
        raise ConfigError(f"--training must be one of: {', '.join(TRAININGS)}, but got '{training}'")
    if out.exists() and not force:
        raise ConfigError(f"'{out}' exists; pass --force to overwrite it")
    study = load_stored_study(study_name, storage)
    front = Front.of_study(study, study_objectives(study))
    base = study.user_attrs.get(STUDY_BASE)
    if trial is not None:
        chosen = next((t for t in front.candidates if t.number == trial), None)
        if chosen is None:
            state = next((t.state.name for t in study.get_trials(deepcopy=False) if t.number == trial), None)
            why = f"is {state}" if state else "does not exist"
            raise ConfigError(f"trial {trial} of study '{study_name}' {why}; finished trials with a config: "
                              f"{', '.join(str(t.number) for t in front.candidates) or '(none)'}")
        return write_export(chosen, front, study_name, f"trial {trial}", out, storage=storage, training=training,
                            base=base)
    parse_pick(pick or "knee", front.objectives.metrics)  # a bad pick fails before the study is read further
    if not front.candidates:
        counts: dict[str, int] = {}
        for t in study.get_trials(deepcopy=False):
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials"
        raise ConfigError(f"study '{study_name}' has no COMPLETE trial with a config yet ({shown})")
    return export_from_front(front, study_name, pick, out, storage=storage, training=training, base=base)


def export_from_front(front: Front, study_name: str, pick: Optional[str] = "knee", out: Union[str, Path] = "best.yaml",
                      *, storage: str, training: str = "full", base: Optional[str] = None) -> dict:
    """The picked member of a front already built (the end of a search has one) into `out`, whether or
    not it exists; ConfigError for a pick that matches nothing. `base`: the study's base preset."""
    try:
        chosen = front.pick(pick or "knee")
    except ConfigError as err:
        raise ConfigError(f"{err} (study '{study_name}')") from None
    return write_export(chosen, front, study_name, str(pick or "knee"), Path(out), storage=storage, training=training,
                        base=base)


def with_training(cfg: Any, training: str, base: Optional[str], study_name: str) -> tuple[Any, dict]:
    """The trial's config for `training`, and what the export says of it: which training it holds, the
    recipe it comes from, and what the search trained.

    `full` keeps the architecture, the data and the energy model the search used, and trains with the
    base preset's own `train` section; on the preset's own dataset the preset's data protocol (split,
    augmentation) applies too, with the data where the study found it."""
    from fwformer.config import config_to_dict, load_config

    searched = {"epochs": cfg.train.epochs, "cooldown_epochs": cfg.train.cooldown_epochs,
                "max_steps_per_epoch": cfg.train.max_steps_per_epoch, "batch_size": cfg.train.batch_size,
                "lr": cfg.train.lr, "data_split": cfg.data.split}
    if training == "search":
        return cfg, {"holds": "search", "search_trained": searched}
    if not base:
        raise ConfigError(f"--training full needs the base preset of study '{study_name}', which it does not record "
                          f"(a study made by an older version); give --training search for the search's fidelity")
    try:
        recipe = load_config(base, check=False)
    except ConfigError as err:
        raise ConfigError(f"--training full reads the recipe of base '{base}': {err}; give --training search "
                          f"for the search's fidelity") from None
    d, full = config_to_dict(cfg), config_to_dict(recipe)
    d["train"] = full["train"]
    own_data = recipe.data.name == cfg.data.name
    if own_data:
        d["data"] = {**full["data"], **{k: d["data"][k] for k in _DATA_LOCATION if d["data"].get(k) is not None}}
    out = load_config(d)
    return out, {"holds": "full", "recipe": str(base), "epochs": out.train.epochs,
                 "cooldown_epochs": out.train.cooldown_epochs,
                 "data": "the recipe's protocol" if own_data else f"the study's ({recipe.data.name} is the recipe's)",
                 "search_trained": searched}


def write_export(chosen: Any, front: Front, study_name: str, picked_by: str, out: Path, *, storage: str,
                 training: str = "full", base: Optional[str] = None) -> dict:
    """Trial `chosen`'s config, for `training`, with its provenance as an fwformer YAML at `out`."""
    from fwformer.config import load_config, save_config

    objectives = front.objectives
    record = TrialRecord.of(chosen)
    cfg, trained = with_training(load_config(dict(record.config)), training, base, study_name)
    cfg.name = f"{study_name}-trial{chosen.number}"
    values = {n: float(v) for n, v in zip(objectives.metrics, chosen.values)}
    provenance = {
        "study": study_name,
        "trial": chosen.number,
        "pick": picked_by,
        "objectives": values,
        "directions": dict(zip(objectives.metrics, objectives.directions)),
        "seed": record.seed if record.seed is not None else cfg.train.seed,
        "data": _plain(dict(record.config.get("data") or {})),
        "canonical_key": record.canonical_key,
        "mlflow_run_id": record.mlflow_run_id,
        "metrics": _plain(record.metrics or {}),
        "params": _plain(dict(chosen.params)),
        "training": trained,
        "code_version": code_version(),
        "storage": redact(storage),  # no credentials in a file that gets shared
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    cfg.provenance = _plain(provenance)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    return {**provenance, "path": str(out)}


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m search.export",
        usage_line="python -m search.export --study NAME --out FILE [--pick PICK | --trial N] [--training full|search] "
                   "[--storage URL] [--force]",
        description="Write one architecture of a search (by default the knee of its Pareto front) as an fwformer "
                    "YAML with provenance; train it with `python -m fwformer.train --config FILE --out DIR`.",
    )
    p.add_argument("--study", required=True, help="study name (the Optuna study in --storage)")
    p.add_argument("--pick", default=None,
                   help="knee (default) | max-<metric> | min-<metric> | '<metric><=X' | '<metric>>=X' on the Pareto "
                        "front; acc and energy stand for val_acc and energy_mj, e.g. max-acc or 'energy<=0.4'")
    p.add_argument("--trial", type=int, default=None, help="export this trial number instead of a pick")
    p.add_argument("--out", required=True, help="the YAML file to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--training", choices=TRAININGS, default="full",
                   help="full (default): the base preset's own recipe (Spikformer-4-384: 300 epochs and its cooldown); "
                        "search: the fidelity the search trained the trial at, which reproduces the trial")
    p.add_argument("--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL (default: {DEFAULT_STORAGE})")
    return p


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.pick is not None and args.trial is not None:
        raise ConfigError("give --pick or --trial, not both")
    result = export_architecture(args.study, args.pick or "knee", args.out, storage=args.storage,
                                 trial=args.trial, force=args.force, training=args.training)
    values = ", ".join(f"{k} {v:.4g}" for k, v in result["objectives"].items())
    trained = result["training"]
    searched = trained["search_trained"]["epochs"]
    holds = (f"the full recipe of {trained['recipe']}: {trained['epochs']} epochs"
             + (f" and {trained['cooldown_epochs']} of cooldown" if trained["cooldown_epochs"] else "")
             + f"; the search trained {searched}" if trained["holds"] == "full"
             else f"the search's fidelity: {searched} epochs, as the trial trained")
    print(f"wrote {result['path']}: trial {result['trial']} of study '{result['study']}' ({result['pick']}; {values})\n"
          f"it trains with {holds}\n"
          f"train it with: python -m fwformer.train --config {result['path']} --out runs/{Path(result['path']).stem}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
