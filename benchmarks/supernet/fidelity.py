"""Rank fidelity: do a supernet's inherited scores rank random architectures as their own trainings do?"""
from __future__ import annotations

import time
from typing import Any, Callable

from benchmarks.common import CurveCache, kendall, median, random_architectures
from benchmarks.supernet.training import scorer_of


def fidelity(study: Any, cache: CurveCache, supernets: dict, n: int, log: Callable[[str], None]) -> dict:
    """`n` architectures drawn uniformly (seed 0), trained stand-alone and scored by each supernet of
    `supernets` ({(sampling, epochs): (folder, CPU-s)}) with inherited weights; Kendall's tau of
    inherited against stand-alone val_acc and energy, the energy ratio and the accuracy gap."""
    from search.supernet import choice_of

    archs = list(random_architectures(study, seed=0, n=n, key=cache.key))
    rows = [cache(p)[1] for p in archs]
    out = {}
    for (sampling, epochs), (folder, _) in supernets.items():
        score = scorer_of(study, folder, study.search.supernet)
        cpu = time.process_time()
        inherited = [score(choice_of(study.trial_config(p))) for p in archs]
        per = (time.process_time() - cpu) / len(archs)
        acc = kendall([r["val_acc"] for r in inherited], [r["val_acc"] for r in rows])
        energy = kendall([r["energy_mj"] for r in inherited], [r["energy_mj"] for r in rows])
        ratio = [i["energy_mj"] / r["energy_mj"] for i, r in zip(inherited, rows)]
        out[f"{sampling}-e{epochs}"] = dict(
            acc=acc, energy=energy, cpu_s_per_candidate=per, energy_ratio_median=median(ratio),
            energy_ratio_range=[min(ratio), max(ratio)],
            acc_gap_median=median([r["val_acc"] - i["val_acc"] for i, r in zip(inherited, rows)]),
            inherited=[{k: i[k] for k in ("val_acc", "energy_mj")} for i in inherited])
        log(f"  fidelity {sampling} e{epochs}: tau acc {acc['tau']:.3f} (p {acc['p']:.2g}), tau energy "
            f"{energy['tau']:.3f}, energy inherited/stand-alone {median(ratio):.3f}, {per:.2f} CPU-s per candidate")
    return dict(architectures=archs, standalone=[{k: r[k] for k in ("val_acc", "energy_mj", "cpu_s")} for r in rows],
                supernets=out)
