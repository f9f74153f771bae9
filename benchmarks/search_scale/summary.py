"""From replayed runs to `search_scale.json`'s rows, the markdown tables and the plot.

Hypervolumes are at the range reference point: the worst val_acc and the largest energy_mj that
the baseline's trainings and the random architectures measured (`reference_keys`; on digits those
of seeds 0 and 1, `REFERENCE_SEEDS`): what the space spans, the same for every strategy and seed,
so adding a strategy whose confirmed architectures fall outside it, or another seed, does not move
the reference of the others. The study's reference (accuracy 0 and energy at firing rate 1
of the space's costliest model) saturates, every front covers nearly all of it, so it is reported
beside (`*_study_ref`) but decides nothing. The baseline is per-trial TPE of the same seed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

DIRECTIONS = ("maximize", "minimize")


#: dataset -> the seeds whose baselines and random architectures define its range reference, fixed
#: once measured: a seed added later (digits' seed 2 trained a 0.79 architecture, below the 0.836 of
#: seeds 0 and 1) would otherwise move the reference, and with it every row already reported.
#: A dataset not listed takes every seed.
REFERENCE_SEEDS = {"digits": (0, 1)}


def reference_keys(runs: Sequence[dict], fidelity: dict, dataset: str) -> set[str]:
    """The architectures that define the range reference of `dataset`: every one the baseline (`tpe`)
    runs of its reference seeds (`REFERENCE_SEEDS`) trained and every random architecture of their
    rank-fidelity draws."""
    seeds = REFERENCE_SEEDS.get(dataset)
    counts = lambda seed: seeds is None or seed in seeds  # noqa: E731
    keys = {e["key"] for r in runs if r["strategy"] == "tpe" and counts(r["seed"]) for e in r["events"]
            if e["key"] is not None}
    return keys | {p["key"] for (ds, seed, _), pairs in fidelity.items() if ds == dataset and counts(seed) for p in pairs}


def with_baseline(runs: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """(the runs whose dataset and seed have a finished `tpe` baseline, the runs still waiting for one)."""
    finished = {(r["dataset"], r["seed"]) for r in runs if r["strategy"] == "tpe" and not r.get("partial")}
    ready = [r for r in runs if (r["dataset"], r["seed"]) in finished]
    return ready, [r for r in runs if (r["dataset"], r["seed"]) not in finished]


def range_reference(results: Sequence[dict]) -> list[float]:
    # Early-stopped trainings are partial curves with no final measurement: they do not define the range.
    done = [r for r in results if r.get("complete", True) and not r["failed"]]
    return [min(r["val_acc"] for r in done), max(r["energy_mj"] for r in done)]


def curve(events: Sequence[dict], reference: Sequence[float]) -> list[tuple[float, float]]:
    """(CPU-seconds, hypervolume of the front so far) after every event."""
    from search.front import hypervolume

    points, out = [], []
    for e in events:
        if e["values"]:
            points.append(e["values"])
        out.append((e["cpu_s"], hypervolume(points, DIRECTIONS, reference) if points else 0.0))
    return out


def first_reach(points: Sequence[tuple[float, float]], target: float) -> Optional[float]:
    return next((cpu for cpu, hv in points if hv >= target), None)


def front_min_energy(events: Sequence[dict]) -> Optional[float]:
    energies = [e["values"][1] for e in events if e["values"]]
    return min(energies) if energies else None


def rows(runs: Sequence[dict], results: Sequence[dict], fidelity: dict, epochs_of: dict,
         study_reference: Optional[dict] = None) -> list[dict]:
    """One row per (dataset, seed, strategy), the headline fields first.

    `fidelity` maps (dataset, seed, supernet epochs) to random architectures' inherited and stand-alone
    results; `epochs_of` maps a one-shot strategy to its supernet's epochs, so that each row's tau over
    random architectures is that of its own supernet; `study_reference` maps a dataset to its
    study's reference point, for the `*_study_ref` hypervolumes.
    """
    from scipy.stats import kendalltau

    from benchmarks.common import kendall

    reference = range_reference(results)
    baselines = {(r["dataset"], r["seed"]): r for r in runs if r["strategy"] == "tpe"}
    out = []
    for run in runs:
        base = baselines[(run["dataset"], run["seed"])]
        base_curve, own = curve(base["events"], reference), curve(run["events"], reference)
        target = 0.95 * base_curve[-1][1]
        row = dict(dataset=run["dataset"], seed=run["seed"], strategy=run["strategy"], compute_s=own[-1][0],
                   compute_to_95_s=first_reach(own, target), hypervolume=own[-1][1],
                   baseline_hypervolume=base_curve[-1][1], baseline_compute_to_95_s=first_reach(base_curve, target),
                   reference=reference, trials=sum(e["key"] is not None for e in run["events"]),
                   stopped_early=sum(e["state"] == "PRUNED" for e in run["events"]),
                   front_min_energy_mj=front_min_energy(run["events"]),
                   baseline_front_min_energy_mj=front_min_energy(base["events"]))
        if study_reference and run["dataset"] in study_reference:
            ref = study_reference[run["dataset"]]
            row.update(study_reference=ref, hypervolume_study_ref=curve(run["events"], ref)[-1][1],
                       baseline_hypervolume_study_ref=curve(base["events"], ref)[-1][1])
        confirmed = [e for e in run["events"] if e.get("inherited") and e["values"]]
        if confirmed:
            tau = kendalltau([e["inherited"][0] for e in confirmed], [e["values"][0] for e in confirmed])
            row["kendall_tau_confirmed"] = dict(tau=float(tau.statistic), n=len(confirmed))
            pairs = fidelity.get((run["dataset"], run["seed"], epochs_of.get(run["strategy"])), [])
            if pairs:
                row["kendall_tau_random"] = kendall([p["inherited"][0] for p in pairs], [p["standalone"][0] for p in pairs])
        out.append(row)
    return out


def _s(x: Optional[float]) -> str:
    return "never" if x is None else f"{x:,.0f}"


def table(result_rows: Sequence[dict]) -> str:
    lines = ["| dataset | seed | strategy | trials (stopped early) | CPU-s | CPU-s to 95% of baseline HV | "
             "baseline's CPU-s to 95% / this | HV / baseline HV | HV / baseline, study ref. | cheapest front energy (mJ) | Kendall tau "
             "inherited val_acc: random / confirmed |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result_rows:
        ratio = "-" if not r["compute_to_95_s"] else f"{r['baseline_compute_to_95_s'] / r['compute_to_95_s']:.2f}"
        tau = "-"
        if "kendall_tau_confirmed" in r:
            rnd = r.get("kendall_tau_random")
            tau = (f"{rnd['tau']:.2f} (n {rnd['n']})" if rnd else "-") + \
                f" / {r['kendall_tau_confirmed']['tau']:.2f} (n {r['kendall_tau_confirmed']['n']})"
        energy = "-" if r["front_min_energy_mj"] is None else f"{r['front_min_energy_mj']:.4g}"
        study = (f"{r['hypervolume_study_ref'] / r['baseline_hypervolume_study_ref']:.4f}"
                 if "hypervolume_study_ref" in r else "-")
        lines.append(f"| {r['dataset']} | {r['seed']} | {r['strategy']} | {r['trials']} ({r['stopped_early']}) | "
                     f"{r['compute_s']:,.0f} | {_s(r['compute_to_95_s'])} | {ratio} | "
                     f"{r['hypervolume'] / r['baseline_hypervolume']:.3f} | {study} | {energy} | {tau} |")
    return "\n".join(lines)


def plot(runs: Sequence[dict], results: Sequence[dict], path: Path) -> Path:
    """Hypervolume (a fraction of the same seed's TPE final) against CPU-seconds: a column per seed,
    the per-trial strategies in the top row and the one-shot ones below, TPE in both (dark grey)."""
    from search.report import PALETTE, new_figure, save

    reference = range_reference(results)
    seeds = sorted({r["seed"] for r in runs})
    names = sorted({r["strategy"] for r in runs} - {"tpe"})
    families = [("per-trial", [n for n in names if n.startswith("tpe")]),
                ("one-shot", [n for n in names if not n.startswith("tpe")])]
    fig = new_figure(5.2 * len(seeds), 7.2)
    axes = fig.subplots(2, len(seeds), squeeze=False)
    for col, seed in enumerate(seeds):
        of_seed = {r["strategy"]: r for r in runs if r["seed"] == seed}
        final = curve(of_seed["tpe"]["events"], reference)[-1][1]
        for row, (family, members) in enumerate(families):
            ax = axes[row][col]
            for i, name in enumerate(["tpe", *members]):
                if name in of_seed:
                    xs, ys = zip(*curve(of_seed[name]["events"], reference))
                    ax.step(xs, [y / final for y in ys], where="post", label=name, linewidth=1.5,
                            color="0.25" if name == "tpe" else PALETTE[(i - 1) % len(PALETTE)],
                            linestyle="-" if name == "tpe" or i <= len(PALETTE) else "--")
            ax.axhline(0.95, color="0.4", linewidth=0.8, linestyle=":")
            ax.set_xscale("log")
            ax.set_ylim(0.5, 1.08)
            ax.set_xlabel("compute (CPU-seconds, log scale)")
            ax.set_ylabel("hypervolume / TPE's final\n(range reference)")
            ax.set_title(f"{of_seed['tpe']['dataset']}, seed {seed}, {family}; dotted: the 95% target", fontsize=9)
            ax.legend(fontsize=7, loc="lower right")
    return save(fig, path)


def supernet_label(supernet: Any) -> str:
    """A supernet as raw runs name it (its epochs, or e.g. 'balanced-e24') in tables."""
    return f"supernet e{supernet}" if isinstance(supernet, int) else f"supernet {supernet}"


def supernet_order(supernet: Any) -> tuple:
    """Uniform supernets by epochs first, then the other samplings by name."""
    return (isinstance(supernet, str), supernet)


def pooled_pairs(fidelity: dict, dataset: str) -> dict[Any, dict[str, dict]]:
    """Supernet (epochs, or e.g. 'balanced-e24') -> {architecture key: its inherited and stand-alone
    pair}, over every seed, in `supernet_order`."""
    pooled: dict[Any, dict[str, dict]] = {}
    for (ds, _, supernet), pairs in sorted(fidelity.items(), key=lambda kv: (kv[0][0], supernet_order(kv[0][2]), kv[0][1])):
        if ds == dataset:
            pooled.setdefault(supernet, {}).update((p["key"], p) for p in pairs)
    return pooled


def training_free_rows(dataset: str, scores: dict, results: dict, fidelity: dict, cpu_s: float) -> dict:
    """SNASNet's score against stand-alone val_acc over the random architectures, beside each
    supernet's inherited val_acc on the same ones (pooled over seeds), and as a pre-filter: how many
    of the stand-alone top quarter its top half keeps (chance: half)."""
    from benchmarks.common import kendall

    keys = sorted(scores)
    acc = [results[k]["val_acc"] for k in keys]
    ranked = [scores[k] for k in keys]  # -inf (a singular kernel) ranks last, as in the reference
    top_quarter = {k for k, _ in sorted(zip(keys, acc), key=lambda t: -t[1])[: max(1, len(keys) // 4)]}
    top_half = {k for k, _ in sorted(zip(keys, ranked), key=lambda t: -t[1])[: len(keys) // 2]}
    inherited = pooled_pairs(fidelity, dataset)
    return dict(dataset=dataset, architectures=len(keys), cpu_s_per_architecture=cpu_s / max(1, len(keys)),
                kendall_tau_score=kendall(ranked, acc),
                singular_kernels=sum(s == float("-inf") for s in ranked),
                top_quarter_kept_by_top_half=len(top_quarter & top_half) / len(top_quarter),
                kendall_tau_inherited={supernet_label(e): kendall([p["inherited"][0] for p in ps.values()],
                                                                  [p["standalone"][0] for p in ps.values()])
                                       for e, ps in inherited.items()},
                scores=[dict(key=k, score=None if s == float("-inf") else s, val_acc=a)
                        for k, s, a in zip(keys, ranked, acc)])
