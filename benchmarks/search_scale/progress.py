"""A baseline still under way, against the one-shot runs of the same dataset and seed.

On the CIFAR-10 subset the 120-trial TPE baseline is about 8 CPU-hours per seed on an AMD EPYC and
14 on an Intel Xeon, more than one session's machine gives, so it is trained over several runs of the same command, each going on
from the curve cache the last one left. Its cache replays exactly the run so far (the seeded
sampler proposes the same trials given the same outcomes), without training (`CurveCache.trains`).

The headline figure, compute to 95% of the baseline's *final* hypervolume, needs the finished
baseline. What a partial one already gives is the comparison at equal hypervolume: the CPU-seconds
a one-shot run took to its front's hypervolume against those the baseline took to the same
hypervolume. Where the baseline has not reached it yet, the speed-up is a lower bound (the
baseline's CPU-seconds so far over the one-shot run's). The range reference is that of the
trainings so far (the baseline's and the random architectures'), so it may still widen.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from benchmarks.search_scale.summary import curve, first_reach, range_reference, reference_keys


def equal_hypervolume(baseline: dict, run: dict, reference: Sequence[float]) -> dict:
    """`run`'s final hypervolume and the CPU-seconds it and the (partial) baseline each took to reach it,
    with `run`'s hypervolume curve."""
    base, own = curve(baseline["events"], reference), curve(run["events"], reference)
    target = own[-1][1]
    own_cpu, base_cpu = first_reach(own, target), first_reach(base, target)
    row: dict[str, Any] = dict(strategy=run["strategy"], compute_s=own[-1][0], hypervolume=target,
                               compute_to_own_hypervolume_s=own_cpu, baseline_compute_to_same_s=base_cpu, curve=own)
    if base_cpu is not None:
        row["speedup_at_equal_hypervolume"] = base_cpu / own_cpu
    else:  # not reached yet: the baseline will need more than it has spent
        row["speedup_at_equal_hypervolume_at_least"] = base[-1][0] / own_cpu
    return row


def progress_row(dataset: str, seed: int, baseline: dict, budget: int, one_shot: Sequence[dict],
                 results: dict, fidelity: dict) -> dict:
    """The partial baseline (trials, CPU-seconds, hypervolume so far; at least one trial) and each one-shot
    run at equal hypervolume."""
    keys = reference_keys([baseline], fidelity, dataset)
    reference = range_reference([results[k] for k in keys if k in results])
    base = curve(baseline["events"], reference)
    # Its trials' CPU-seconds are comparable only where one CPU model trained them.
    machines = Counter(results[e["key"]].get("cpu", "unrecorded") for e in baseline["events"])
    return dict(dataset=dataset, seed=seed, reference=reference, baseline_trials=len(baseline["events"]),
                baseline_trained_on=dict(machines),
                baseline_budget=budget, baseline_finished=not baseline.get("partial", False),
                baseline_stopped_early=sum(e["state"] == "PRUNED" for e in baseline["events"]),
                baseline_compute_s=base[-1][0], baseline_hypervolume=base[-1][1],
                baseline_curve=base, one_shot=[equal_hypervolume(baseline, r, reference) for r in one_shot])


def table(row: dict) -> str:
    lines = [f"{row['dataset']}, seed {row['seed']}: TPE {row['baseline_trials']} of {row['baseline_budget']} trials, "
             f"{row['baseline_compute_s']:,.0f} CPU-s, hypervolume {row['baseline_hypervolume']:.4g} "
             f"(range reference {row['reference'][0]:.4g}, {row['reference'][1]:.4g} mJ, from the trainings so far); "
             f"trained on {', '.join(f'{cpu} ({n})' for cpu, n in row['baseline_trained_on'].items())}",
             "", "| strategy | CPU-s | hypervolume | TPE's CPU-s to the same | speed-up at equal hypervolume |",
             "|---|---|---|---|---|"]
    for r in row["one_shot"]:
        if "speedup_at_equal_hypervolume" in r:
            reached, speedup = f"{r['baseline_compute_to_same_s']:,.0f}", f"{r['speedup_at_equal_hypervolume']:.2f}"
        else:
            reached = f"not yet (> {row['baseline_compute_s']:,.0f})"
            speedup = f">= {r['speedup_at_equal_hypervolume_at_least']:.2f}"
        lines.append(f"| {r['strategy']} | {r['compute_s']:,.0f} | {r['hypervolume']:.4g} | {reached} | {speedup} |")
    return "\n".join(lines)


def plot(row: dict, path: Path) -> Path:
    """Hypervolume against CPU-seconds: the partial baseline and each one-shot run."""
    from search.report import PALETTE, new_figure, save

    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    xs, ys = zip(*row["baseline_curve"])
    ax.step(xs, ys, where="post", color="0.25", linewidth=1.5,
            label=f"tpe, {row['baseline_trials']} of {row['baseline_budget']} trials so far")
    for i, r in enumerate(row["one_shot"]):
        xs, ys = zip(*r["curve"])
        ax.step(xs, ys, where="post", color=PALETTE[i % len(PALETTE)], linewidth=1.5, label=r["strategy"])
        ax.axhline(r["hypervolume"], color=PALETTE[i % len(PALETTE)], linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.set_xlabel("compute (CPU-seconds, log scale)")
    ax.set_ylabel("hypervolume (range reference so far)")
    ax.set_title(f"{row['dataset']}, seed {row['seed']}: the baseline under way; dotted: each one-shot front's "
                 "hypervolume", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    return save(fig, path)

