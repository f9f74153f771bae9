"""The terminal table of one geometry's figures."""
from __future__ import annotations

from benchmarks.common import fmt
from benchmarks.mixers.catalogue import PUBLISHED_FFT2D_VS_SSA
from benchmarks.mixers.run import _get


def table(result: dict) -> str:
    rows = result["mixers"]
    lines = [f"== {result['geometry']} ({result['description']}), device {result['device']}, batch {result['batch']}, "
             f"{result['threads']} threads, {result['clock']} clock, medians of {result['repeats']} interleaved rounds =="]
    head = (f"{'mixer':<16}{'params':>8} {'train img/s':>11} {'xSSA':>5} {'/id':>5} {'infer img/s':>11} {'xSSA':>5} "
            f"{'/id':>5} {'mem MB':>8} {'xSSA':>5} {'mJ':>7} {'xSSA':>5} {'mJ@1':>7} {'xSSA':>5} "
            f"{'mix f+b ms':>10} {'xSSA':>6}")
    lines += [head, "-" * len(head)]
    for m, r in rows.items():
        iso = r.get("isolated", {})
        lines.append(
            f"{m:<16}{fmt(r.get('params', 0) / 1e6, '.2f') + 'M':>8} {fmt(r.get('train_ips'), '.1f'):>11} "
            f"{fmt(r.get('train_vs_ssa'), '.2f'):>5} {fmt(r.get('train_vs_identity'), '.2f'):>5} "
            f"{fmt(r.get('infer_ips'), '.1f'):>11} {fmt(r.get('infer_vs_ssa'), '.2f'):>5} "
            f"{fmt(r.get('infer_vs_identity'), '.2f'):>5} {fmt(_get(r, 'memory.memory_mb'), '.1f'):>8} "
            f"{fmt(r.get('memory_vs_ssa'), '.2f'):>5} {fmt(_get(r, 'energy.energy_mj'), '.4f'):>7} "
            f"{fmt(r.get('energy_vs_ssa'), '.2f'):>5} {fmt(_get(r, 'energy_rate1.energy_mj'), '.4f'):>7} "
            f"{fmt(r.get('energy_rate1_vs_ssa'), '.2f'):>5} {fmt(iso.get('train_ms'), '.2f'):>10} "
            f"{fmt(iso.get('train_vs_ssa'), '.2f'):>6}"
        )
    lines.append("xSSA: speed ratio (higher = faster) or memory/energy ratio (lower = less); /id: fraction of the "
                 "identity bound; mJ: measured firing rates after short training; mJ@1: firing rate 1; "
                 "mix f+b: the mixer alone, forward + backward")
    lines.append("FWformer claims vs SSA: train x1.09-1.51, infer x1.19-1.70, memory x0.74-0.96, energy x0.75-0.80")
    models = next((list(_get(r, "energy_rate1.models")) for r in rows.values() if _get(r, "energy_rate1.models")), [])
    if models:
        lines.append("energy by model, mJ per image (xSSA), measured rates | firing rate 1:")
        for m, r in rows.items():
            cells = []
            for section in ("energy", "energy_rate1"):
                ratios = f"{section}_vs_ssa_by_model"
                for name in models:
                    e = _get(r, f"{section}.models.{name}.energy_mj")
                    x = (r.get(ratios) or {}).get(name)
                    cells.append(f"{name} {fmt(e, '.4f')} ({fmt(x, '.2f')})")
            lines.append(f"  {m:<22} " + "  ".join(cells))
        lines.append(f"  FWformer published (CIFAR-10, its sop convention): 2D-FFT / SSA = 0.393 / 0.523 mJ = "
                     f"{PUBLISHED_FFT2D_VS_SSA:.2f}")
    for note in result["notes"]:
        lines.append(f"note: {note}")
    goals = result.get("goals")
    if goals and "note" not in goals:
        lines.append("goals (best fixed-basis mixer):")
        for key, g in goals.items():
            if key == "device" or g.get("best") is None:
                continue
            lines.append(f"  {key:<20} target {g['target']:.2f}  best {g['best']} {g['value']:.2f}  "
                         f"{'MET' if g['met'] else 'MISSED'}")
    return "\n".join(lines)
