"""The league as a terminal table and as accuracy against energy, one panel per dataset."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.league.runs import DATASETS


def table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = sorted((r for r in rows if r["dataset"] == dataset), key=lambda r: -r["acc_mean"])
        lines += [f"== {dataset} ==", f"{'mixer':<26}{'block':>9}{'seeds':>6}{'acc %':>8}{'+-':>6}{'energy uJ':>11}"
                                     f"{'params':>9}"]
        for r in mine:
            lines.append(f"{r['mixer']:<26}{r['shortcut']:>9}{r['seeds']:>6}{100 * r['acc_mean']:>8.1f}"
                         f"{100 * r['acc_std']:>6.1f}{1e3 * r['energy_mj']:>11.3f}{r['params'] / 1e3:>8.1f}k")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Accuracy against energy, one panel per dataset, error bars over seeds; Okabe-Ito colours by kind."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fwformer.mixers import create_mixer

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig = Figure(figsize=(6.5 * len(datasets), 5.6))
    FigureCanvasAgg(fig)
    colours = {"attention (products of spikes)": "#D55E00", "fixed or learned weights only": "#0072B2",
               "membrane-shortcut block": "#009E73"}
    for i, dataset in enumerate(datasets):
        ax = fig.add_subplot(1, len(datasets), i + 1)
        mine = [r for r in rows if r["dataset"] == dataset]
        for r in mine:
            dynamic = create_mixer(r["mixer"], dim=8, grid=(8, 8), num_heads=2).activity_products
            kind = "membrane-shortcut block" if r["shortcut"] == "membrane" else (
                "attention (products of spikes)" if dynamic else "fixed or learned weights only")
            ax.errorbar(1e3 * r["energy_mj"], 100 * r["acc_mean"], yerr=100 * r["acc_std"], fmt="o", ms=5,
                        color=colours[kind], ecolor=colours[kind], capsize=2, label=kind)
            label = r["mixer"] + (" (m)" if r["shortcut"] == "membrane" else "")
            ax.annotate(label, (1e3 * r["energy_mj"], 100 * r["acc_mean"]), textcoords="offset points",
                        xytext=(4, 3), fontsize=7)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=8, loc="best")
        ax.margins(x=0.15, y=0.1)  # room for the labels of the outermost points
        ax.set_xlabel("energy per image (µJ, sop convention, measured firing rates)")
        ax.set_ylabel("validation accuracy (%), mean ± std over seeds")
        preset = DATASETS[dataset][0]
        ax.set_title(f"{dataset}: {preset}, every block the same mixer")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
