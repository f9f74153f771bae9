"""How well stand-alone accuracy itself ranks the random architectures: the ceiling of any tau.

The tau goal (0.75) compares the supernet's inherited accuracy with each architecture's stand-alone
val_acc from one training run. That run is itself a noisy measurement (initialisation, shuffling,
augmentation; on digits a validation image is 0.28 points of accuracy), so no score can rank
architectures by it better than the noise allows. This trains the same random architectures again
with another `train.seed` (`replicate`) and measures:

- tau between the two stand-alone replicas, over all architectures and within each T;
- the ceiling that implies for any score against one replica (`ceiling_from_replicas`): under a
  Gaussian model (a replica = the architecture's true accuracy + independent noise of the same
  spread; an interpretation, the benchmark's, not a paper's), Greiner's relation tau = (2/pi)
  arcsin(r) turns the replicas' tau into their correlation r; the truth correlates sqrt(r) with
  one replica, and the truth is the best any score can do;
- each supernet's inherited tau on the same architectures, against the first replica (what the
  goal measures) and against the mean of both (a less noisy target).
"""
from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Callable, Optional, Sequence

_WORKER: dict = {}  # per worker process: (dataset, train seed) -> its CurveCache


def ceiling_from_replicas(tau_replicas: float) -> float:
    """The expected tau of the noiseless accuracy against one replica, given two replicas' tau."""
    r = math.sin(math.pi * max(tau_replicas, 0.0) / 2)
    return 2 / math.pi * math.asin(math.sqrt(r))


def _train_one(dataset: str, train_seed: int, params: dict) -> tuple[str, dict]:
    """One architecture trained stand-alone with `train_seed` (run in a worker process)."""
    import torch

    from benchmarks.common import CurveCache
    from benchmarks.search_scale.study import scale_study

    torch.set_num_threads(1)
    if (dataset, train_seed) not in _WORKER:
        study = scale_study(dataset, 1, extra=[f"train.seed={train_seed}"])
        _WORKER[(dataset, train_seed)] = CurveCache(study, None, lambda msg: None)
    return _WORKER[(dataset, train_seed)](params)


def replicate(dataset: str, train_seed: int, wanted: dict[str, dict], done: dict, jobs: int,
              on_row: Callable[[str, dict], None], log: Callable[[str], None], label: str = "replica") -> dict:
    """Architecture key -> its row trained with `train_seed`, for every architecture of `wanted` (key ->
    trial params) not in `done` (key -> row), `jobs` at a time; `on_row` sees each row as it finishes.
    `run --jobs` trains its random architectures with this too (`label` names them in the log)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    out = {k: done[k] for k in wanted if k in done}
    todo = [p for k, p in wanted.items() if k not in done]
    log(f"  {len(out)} of {len(wanted)} {label}s cached, training {len(todo)} ({jobs} at a time)")
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_train_one, dataset, train_seed, p) for p in todo]
        for i, future in enumerate(as_completed(futures), 1):
            key, row = future.result()
            out[key] = row
            on_row(key, row)
            log(f"    {label} {i}/{len(todo)} T{row['T']} {','.join(row['mixers'])}: val_acc "
                f"{row.get('val_acc', float('nan')):.4f} ({row['cpu_s']:.0f} CPU-s)")
    return out


def compared(results: dict, replicas: dict) -> list[str]:
    """The architectures whose training and replica both finished, sorted."""
    return sorted(k for k in replicas if not replicas[k]["failed"] and not results[k]["failed"])


def noise_rows(dataset: str, results: dict, replicas: dict, pooled: dict, train_seeds: tuple[int, int]) -> dict:
    """The replicas' agreement and the supernets' tau on the same architectures (see the module);
    `train_seeds`: the first training's seed and the replicas'."""
    import numpy as np

    from benchmarks.search_scale.summary import supernet_label
    from benchmarks.common import kendall

    keys = compared(results, replicas)
    first = np.array([results[k]["val_acc"] for k in keys])
    second = np.array([replicas[k]["val_acc"] for k in keys])
    T = np.array([results[k]["T"] for k in keys])
    agreement = kendall(list(first), list(second))
    by_T = {}
    for t in sorted(set(T.tolist())):
        m = T == t
        by_T[str(t)] = dict(n=int(m.sum()), tau_replicas=kendall(list(first[m]), list(second[m]))["tau"],
                            sd_val_acc=float(first[m].std()), sd_replica_difference=float((first[m] - second[m]).std()))
    supernets = {}
    for supernet, pairs in pooled.items():
        common = [k for k in keys if k in pairs]
        if len(common) < 3:
            continue
        inherited = [pairs[k]["inherited"][0] for k in common]
        standalone = [results[k]["val_acc"] for k in common]
        row = supernets[supernet_label(supernet)] = dict(
            n=len(common), tau_first_replica=kendall(inherited, standalone)["tau"],
            tau_mean_of_replicas=kendall(inherited, [(a + replicas[k]["val_acc"]) / 2
                                                     for k, a in zip(common, standalone)])["tau"])
        if all("inherited_loss" in pairs[k] for k in common):  # raw runs from before it was recorded lack it
            row["tau_loss_first_replica"] = kendall([-pairs[k]["inherited_loss"] for k in common], standalone)["tau"]
    return dict(dataset=dataset, architectures=len(keys), train_seeds=list(train_seeds),
                tau_replicas=agreement, ceiling=ceiling_from_replicas(agreement["tau"]),
                mean_abs_difference=float(np.abs(first - second).mean()), by_T=by_T, supernets=supernets,
                replica_cpu_s=float(sum(replicas[k]["cpu_s"] for k in keys)))


def league_agreement(runs: Sequence[dict]) -> list[dict]:
    """How trainings with different seeds rank the configurations of `benchmarks.league` (every block
    the same mixer, one T; three seeds each): replicas that cost nothing more to read. One row per
    dataset, over every configuration and over the spike-shortcut ones alone (the membrane-shortcut
    rows differ from them systematically, which a ranking of mixers within one convention does not see)."""
    import itertools
    import statistics

    from benchmarks.common import kendall

    out = []
    for dataset in sorted({r["dataset"] for r in runs}):
        for shortcuts in ("all", "spike"):
            acc: dict = {}
            for r in runs:
                if r["dataset"] == dataset and shortcuts in ("all", r["shortcut"]):
                    acc.setdefault((r["mixer"], r["shortcut"]), {})[r["seed"]] = r["val_acc"]
            seeds = sorted({seed for by_seed in acc.values() for seed in by_seed})
            acc = {k: by_seed for k, by_seed in acc.items() if len(by_seed) == len(seeds)}  # a run missing: left out
            pairs = {f"{a}-{b}": kendall([v[a] for v in acc.values()], [v[b] for v in acc.values()])["tau"]
                     for a, b in itertools.combinations(seeds, 2)}
            tau = statistics.fmean(pairs.values())
            out.append(dict(dataset=dataset, shortcuts=shortcuts, configurations=len(acc), seeds=seeds,
                            tau_seed_pairs=pairs, tau_replicas=tau, ceiling=ceiling_from_replicas(tau),
                            sd_across_configurations=statistics.pstdev(statistics.fmean(v[s] for s in seeds)
                                                                       for v in acc.values()),
                            sd_within_configuration=statistics.fmean(statistics.stdev(v[s] for s in seeds)
                                                                     for v in acc.values())))
    return out


def league_table(rows: Sequence[dict]) -> str:
    lines = ["| dataset | blocks | configurations | tau between seeds (each pair) | mean | ceiling for any score | "
             "sd across configurations / within one (points) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        pairs = ", ".join(f"{k}: {v:.2f}" for k, v in r["tau_seed_pairs"].items())
        lines.append(f"| {r['dataset']} | {r['shortcuts']} | {r['configurations']} | {pairs} | {r['tau_replicas']:.2f} | "
                     f"{r['ceiling']:.2f} | {100 * r['sd_across_configurations']:.2f} / "
                     f"{100 * r['sd_within_configuration']:.2f} |")
    return "\n".join(lines)


def table(rows: Sequence[dict]) -> str:
    lines = ["| dataset | architectures | tau between replicas | ceiling for any score | within T: tau between "
             "replicas (n) | supernet: tau vs first replica / vs mean of both |", "|---|---|---|---|---|---|"]
    for r in rows:
        within = ", ".join(f"T{t} {v['tau_replicas']:.2f} ({v['n']})" for t, v in r["by_T"].items())
        nets = ", ".join(f"{name} {v['tau_first_replica']:.2f} / {v['tau_mean_of_replicas']:.2f}"
                         for name, v in r["supernets"].items())
        lines.append(f"| {r['dataset']} | {r['architectures']} | {r['tau_replicas']['tau']:.2f} | {r['ceiling']:.2f} | "
                     f"{within} | {nets} |")
    return "\n".join(lines)


def plot(results: dict, replicas: dict, pairs: dict, supernet: str, path: Path) -> Path:
    """Left: the second stand-alone training against the first; right: the supernet's inherited
    val_acc against the first; one colour per T, so the within-T scatter is what to look at."""
    from search.report import PALETTE, new_figure, save

    keys = [k for k in compared(results, replicas) if k in pairs]
    fig = new_figure(10.4, 4.4)
    left, right = fig.subplots(1, 2)
    for i, t in enumerate(sorted({results[k]["T"] for k in keys})):
        of_t = [k for k in keys if results[k]["T"] == t]
        first = [100 * results[k]["val_acc"] for k in of_t]
        left.scatter(first, [100 * replicas[k]["val_acc"] for k in of_t], s=18, color=PALETTE[i], label=f"T {t}")
        right.scatter(first, [100 * pairs[k]["inherited"][0] for k in of_t], s=18, color=PALETTE[i], label=f"T {t}")
    for ax, ylabel in ((left, "stand-alone val_acc, train.seed 1 (%)"), (right, f"inherited val_acc, {supernet} (%)")):
        ax.set_xlabel("stand-alone val_acc, train.seed 0 (%)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc="lower right")
    # The diagonal over the points' own range (both axes alike), not up to 100%: CIFAR's lie in 30-46%.
    lo, hi = min(left.get_xlim()[0], left.get_ylim()[0]), max(left.get_xlim()[1], left.get_ylim()[1])
    left.plot([lo, hi], [lo, hi], color="0.6", linewidth=0.8, linestyle=":")
    left.set_xlim(lo, hi)
    left.set_ylim(lo, hi)
    left.set_title("two trainings of the same architectures", fontsize=9)
    right.set_title("the supernet against the first training", fontsize=9)
    return save(fig, path)


def load_replicas(path: Optional[Path], train_seed: int) -> dict:
    """The replicas cached at `path` (JSON, or gzipped JSON when it ends in .gz, as committed)."""
    from fwformer.cli import ConfigError

    if path is None or not path.is_file():
        return {}
    try:
        data = path.read_bytes()
        cached = json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)
        seed, rows = cached["train_seed"], cached["results"]
    except (OSError, EOFError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"--cache {path} is not a replicas file (`noise --cache FILE` writes one): {err}") from None
    if seed != train_seed:
        raise ConfigError(f"--cache {path} holds replicas trained with train.seed={seed}, not --train-seed {train_seed}")
    return rows


def save_replicas(path: Path, train_seed: int, replicas: dict) -> None:
    from benchmarks.common import write_json, write_whole

    if path.suffix == ".gz":
        write_whole(path, gzip.compress(json.dumps(dict(train_seed=train_seed, results=replicas)).encode(), mtime=0))
    else:
        write_json(path, dict(train_seed=train_seed, results=replicas))
