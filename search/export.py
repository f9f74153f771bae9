"""Export one architecture of a finished search as an fwformer YAML with its provenance.

    python -m search.export --study quickstart --pick knee --out best.yaml
    python -m fwformer.train --config best.yaml --out runs/best

Picks act on the Pareto front of the study's COMPLETE trials (pruned and failed trials never count):
`knee` (see search.pareto), `max-acc`, `min-energy`, `energy<=X` (the most accurate front point with
energy <= X mJ), `acc>=X` (the cheapest front point with accuracy >= X; X above 1 is read as a
percentage when accuracies are fractions). `--trial N` exports trial N instead. Quote the
comparisons in a shell: `--pick 'energy<=0.5'`.

The file is the trial's full resolved config (what `fwformer.train` trains directly) plus
`provenance`: study, trial, pick, objective values, seed, data, canonical key, MLflow run, code
version, storage and time.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from fwformer.errors import ConfigError, closest, exit_on_user_error

DEFAULT_STORAGE = "sqlite:///optuna.db"
PICKS = ("knee", "max-acc", "min-energy", "energy<=X", "acc>=X")
_THRESHOLD = re.compile(r"^\s*(energy|acc)\s*(<=|>=)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")


def parse_pick(pick: str) -> tuple[str, Optional[float]]:
    """('knee'|'max-acc'|'min-energy', None) or ('energy<=', X) / ('acc>=', X)."""
    text = str(pick).strip()
    if text in ("knee", "max-acc", "min-energy"):
        return text, None
    m = _THRESHOLD.match(text)
    if m and f"{m.group(1)}{m.group(2)}" in ("energy<=", "acc>="):
        return f"{m.group(1)}{m.group(2)}", float(m.group(3))
    raise ConfigError(f"unknown pick '{pick}'{closest(text, PICKS)}; expected one of: {', '.join(PICKS)} "
                      f"(X a number, e.g. energy<=0.4 or acc>=0.9)")


def _check_storage(storage: str) -> None:
    if storage.startswith("sqlite:///"):
        path = Path(storage[len("sqlite:///"):])
        if not path.is_file():
            raise ConfigError(f"no Optuna storage at '{storage}' ({path} does not exist); run the study first "
                              f"or pass --storage")


def _load_study(study_name: str, storage: str):
    import optuna

    _check_storage(storage)
    try:
        names = optuna.get_all_study_names(storage=storage)
    except Exception as err:
        raise ConfigError(f"cannot open Optuna storage '{storage}': {str(err).splitlines()[0]}") from None
    if study_name not in names:
        raise ConfigError(f"unknown study '{study_name}'{closest(study_name, names)} in storage '{storage}'; "
                          f"it holds: {', '.join(sorted(names)) or '(no studies)'}")
    return optuna.load_study(study_name=study_name, storage=storage)


def _metric_names(study) -> list[str]:
    names = study.metric_names or study.user_attrs.get("metric_names") or study.user_attrs.get("objectives")
    if names:
        return [n if isinstance(n, str) else n[0] for n in names]
    if len(study.directions) == 2:
        return ["val_acc", "energy_mj"]
    return [f"objective_{i}" for i in range(len(study.directions))]


def _objective(t, names: list[str], metric: str) -> Optional[float]:
    if metric in names and t.values is not None:
        return float(t.values[names.index(metric)])
    value = (t.user_attrs.get("metrics") or {}).get(metric)
    return None if value is None else float(value)


def _pick_on_front(front: list, kind: str, x: Optional[float], *, names: list[str], directions: list[str]):
    from search.pareto import knee_index

    acc = [_objective(t, names, "val_acc") for t in front]
    energy = [_objective(t, names, "energy_mj") for t in front]
    if any(v is None for v in acc + energy) and kind != "knee":
        raise ConfigError(f"pick '{kind}' needs val_acc and energy_mj, but the study's objectives are {names}")
    idx = list(range(len(front)))
    if kind == "knee":
        k = knee_index([list(t.values) for t in front], directions)
        return front[k]
    if kind == "max-acc":
        return front[min(idx, key=lambda i: (-acc[i], energy[i], front[i].number))]
    if kind == "min-energy":
        return front[min(idx, key=lambda i: (energy[i], -acc[i], front[i].number))]
    if kind == "energy<=":
        ok = [i for i in idx if energy[i] <= x]
        return front[min(ok, key=lambda i: (-acc[i], energy[i], front[i].number))] if ok else None
    if kind == "acc>=":
        if x is not None and x > 1 and max(acc) <= 1:
            x = x / 100.0  # `acc>=90` on fractional accuracies means 90 %
        ok = [i for i in idx if acc[i] >= x]
        return front[min(ok, key=lambda i: (energy[i], -acc[i], front[i].number))] if ok else None
    raise AssertionError(kind)


def _front_offers(front: list, names: list[str]) -> str:
    pairs = sorted((_objective(t, names, "val_acc"), _objective(t, names, "energy_mj"), t.number) for t in front)
    return ", ".join(f"trial {n}: acc {a:.4g} / {e:.4g} mJ" for a, e, n in pairs)


def code_version() -> str:
    """`git describe` of the source tree when it is a checkout, else the installed package version."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return f"git {out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return f"fwformer-nas {version('fwformer-nas')}"
    except Exception:
        import fwformer

        return f"fwformer {fwformer.__version__}"


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


def _safe_storage(storage: str) -> str:
    return re.sub(r"//[^/@]*@", "//***@", storage)  # no credentials in a file that gets shared


def export_architecture(study_name: str, pick: Optional[str] = "knee", out: Union[str, Path] = "best.yaml", *,
                        storage: str = DEFAULT_STORAGE, trial: Optional[int] = None, force: bool = False) -> dict:
    """Write the picked trial's config with provenance to `out`; returns the provenance plus `path`.

    ConfigError (nothing written) for an existing `out` without `force`, an unknown study (naming
    the studies the storage holds), a study without finished trials, a bad pick, or a pick that
    matches nothing (naming what the front offers).
    """
    from optuna.trial import TrialState

    from fwformer.config import load_config, save_config
    from search.pareto import pareto_mask

    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"'{out}' exists; pass --force to overwrite it")
    if trial is None:
        kind, x = parse_pick(pick or "knee")
    study = _load_study(study_name, storage)
    names = _metric_names(study)
    directions = [d.name.lower() for d in study.directions]
    all_trials = study.get_trials(deepcopy=False)
    # A repeat proposal (`duplicate_of`) is a copy of the trial that trained it: pick the original.
    done = [t for t in all_trials if t.state == TrialState.COMPLETE and t.values is not None
            and "config" in t.user_attrs and "duplicate_of" not in t.user_attrs
            and all(math.isfinite(v) for v in t.values)]

    if trial is not None:
        chosen = next((t for t in done if t.number == trial), None)
        if chosen is None:
            state = next((t.state.name for t in all_trials if t.number == trial), None)
            why = f"is {state}" if state else "does not exist"
            raise ConfigError(f"trial {trial} of study '{study_name}' {why}; finished trials with a config: "
                              f"{', '.join(str(t.number) for t in done) or '(none)'}")
        picked_by = f"trial {trial}"
    else:
        if not done:
            counts = {}
            for t in all_trials:
                counts[t.state.name] = counts.get(t.state.name, 0) + 1
            shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials"
            raise ConfigError(f"study '{study_name}' has no COMPLETE trial with a config yet ({shown})")
        mask = pareto_mask([list(t.values) for t in done], directions)
        front = [t for t, on in zip(done, mask) if on]
        chosen = _pick_on_front(front, kind, x, names=names, directions=directions)
        if chosen is None:
            raise ConfigError(f"pick '{pick}' matches no point of the Pareto front of study '{study_name}'; "
                              f"the front offers: {_front_offers(front, names)}")
        picked_by = str(pick)

    cfg = load_config(dict(chosen.user_attrs["config"]))
    cfg.name = f"{study_name}-trial{chosen.number}"
    objectives = {n: float(v) for n, v in zip(names, chosen.values)}
    provenance = {
        "study": study_name,
        "trial": chosen.number,
        "pick": picked_by,
        "objectives": objectives,
        "directions": dict(zip(names, directions)),
        "seed": chosen.user_attrs.get("seed", cfg.train.seed),
        "data": _plain(dict(chosen.user_attrs["config"].get("data") or {})),
        "canonical_key": chosen.user_attrs.get("canonical_key"),
        "mlflow_run_id": chosen.user_attrs.get("mlflow_run_id"),
        "metrics": _plain(chosen.user_attrs.get("metrics") or {}),
        "params": _plain(dict(chosen.params)),
        "code_version": code_version(),
        "storage": _safe_storage(storage),
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    cfg.provenance = _plain(provenance)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    return {**provenance, "path": str(out)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m search.export",
        description="Write one architecture of a search (by default the knee of its Pareto front) as an fwformer "
                    "YAML with provenance; train it with `python -m fwformer.train --config FILE --out DIR`.",
    )
    p.add_argument("--study", required=True, help="study name (the Optuna study in --storage)")
    p.add_argument("--pick", default=None,
                   help="knee (default) | max-acc | min-energy | 'energy<=X' (mJ) | 'acc>=X' -- on the Pareto front")
    p.add_argument("--trial", type=int, default=None, help="export this trial number instead of a pick")
    p.add_argument("--out", required=True, help="the YAML file to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL (default: {DEFAULT_STORAGE})")
    return p


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.pick is not None and args.trial is not None:
        raise ConfigError("give --pick or --trial, not both")
    result = export_architecture(args.study, args.pick or "knee", args.out, storage=args.storage,
                                 trial=args.trial, force=args.force)
    values = ", ".join(f"{k} {v:.4g}" for k, v in result["objectives"].items())
    print(f"wrote {result['path']}: trial {result['trial']} of study '{result['study']}' ({result['pick']}; {values})\n"
          f"train it with: python -m fwformer.train --config {result['path']} --out runs/{Path(result['path']).stem}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
