"""The one-shot benchmark's markdown tables (`python -m benchmarks.supernet --report FILE ...`)."""
from __future__ import annotations

from benchmarks.common import median


def markdown_tables(payloads: list[dict]) -> str:
    """Markdown tables of one or more result files (`--report FILE ...`)."""
    lines: list[str] = []
    for payload in payloads:
        m = payload["machine"]
        lines.append(f"`{payload['command']}` (commit `{m['commit']}`, {m['date']}, {m['cpu']}, {m['cores']} cores, "
                     f"load average {', '.join(f'{x:.1f}' for x in m['load_average'])}; Python {m['python']}, "
                     f"torch {m['torch']})\n")
        if "fidelity" in payload:
            f = payload["fidelity"]
            lines += ["| supernet | training CPU-s | Kendall tau, val_acc (p) | Kendall tau, energy_mj (p) | "
                      "energy inherited / stand-alone, median (range) | stand-alone - inherited val_acc, median | "
                      "CPU-s per candidate |", "|---|---|---|---|---|---|---|"]
            for name, row in f["supernets"].items():
                cpu = payload["supernets"][name]["cpu_s"]
                lo, hi = row["energy_ratio_range"]
                lines.append(f"| {name} | {cpu:.0f} | {row['acc']['tau']:.3f} ({row['acc']['p']:.2g}) | "
                             f"{row['energy']['tau']:.3f} ({row['energy']['p']:.2g}) | {row['energy_ratio_median']:.3f} "
                             f"({lo:.3f}-{hi:.3f}) | {row['acc_gap_median']:.3f} | {row['cpu_s_per_candidate']:.2f} |")
            accs = [r["val_acc"] for r in f["standalone"]]
            cpus = [r["cpu_s"] for r in f["standalone"]]
            lines.append(f"\n{len(accs)} architectures; stand-alone val_acc {min(accs):.3f} to {max(accs):.3f}, "
                         f"training {median(cpus):.0f} CPU-s median ({min(cpus):.0f} to {max(cpus):.0f})\n")
        if "cost" in payload:
            for ref in ("study", "range"):
                c = payload["cost"][ref]
                reach = ", ".join("never" if t is None else f"{t['trials']} trials / {t['cpu_s']:.0f} CPU-s"
                                  for t in c["per_trial_to_95pct"])
                lines += [f"\n{ref} reference {[round(x, 6) for x in payload['cost']['references'][ref]]}: best "
                          f"per-trial hypervolume {c['best_per_trial_hv']:.5g}; per-trial runs reach 95% of it at: "
                          f"{reach} (of {', '.join(f'{x:.0f}' for x in c['per_trial_total_cpu'])} CPU-s in all)\n",
                          "| seed | candidates | k | HV / best per-trial | within 5% | CPU-s: supernet + candidates + "
                          "confirm = total | per-trial CPU-s to 95% / this |", "|---|---|---|---|---|---|---|"]
                base = c["per_trial_cpu_to_95pct_median"]
                for row in c["supernet"]:
                    p = row["parts"]
                    ratio = f"{base / row['cpu_s']:.2f}" if base and row["reached"] else "-"
                    lines.append(f"| {row['seed']} | {row['candidates']} | {row['k']} | {row['hv_vs_best']:.3f} | "
                                 f"{'yes' if row['reached'] else 'no'} | {p['supernet']:.0f} + {p['candidates']:.0f} + "
                                 f"{p['confirm']:.0f} = {row['cpu_s']:.0f} | {ratio} |")
            lines += ["\n| seed | candidates | k | candidate | inherited val_acc | stand-alone val_acc | energy mJ | "
                      "per-trial best val_acc at <= this energy |", "|---|---|---|---|---|---|---|---|"]
            for row in payload["sharing"]:
                rivals = ", ".join("-" if r is None else f"{r:.3f}" for r in row["per_trial_best_acc_at_energy"])
                lines.append(f"| {row['seed']} | {row['candidates']} | {row['k']} | {row['candidate']} | "
                             f"{row['inherited_acc']:.3f} | {row['standalone_acc']:.3f} | {row['energy_mj']:.4g} | {rivals} |")
    return "\n".join(lines)
