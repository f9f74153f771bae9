"""The search benchmark's figures as text: the terminal summary of a run, and the markdown tables of
the benchmark pages from a result file (`python -m benchmarks.search --report FILE`)."""
from __future__ import annotations

from typing import Any

from benchmarks.common import fmt
from benchmarks.search.efficiency import THRESHOLDS


def terminal_summary(payload: dict[str, Any]) -> str:
    """What a run prints when it ends."""
    lines = []
    eff = payload.get("efficiency")
    if eff:
        lines.append(f"== search efficiency: study {eff['study']}, {eff['trials']} trials x {eff['seeds']} seeds, "
                     f"{eff['epochs']} epochs per architecture ==")
        for label, key in (("study reference", "study_reference"), ("range reference", "range_reference")):
            s = eff[key]
            lines.append(f"{label} {[float(f'{r:.4g}') for r in s['reference']]}: best hypervolume seen "
                         f"{s['best_hv']:.5g} (front of all runs together {s['union_hv']:.5g})")
            lines.append(f"  {'sampler':<8} {'trials to 90%':<14} {'median':>6}  {'to 95%':<14} {'median':>6}  "
                         f"{'to 99%':<14} {'median':>6}  final HV / best (per seed)")
            for name, r in s["samplers"].items():
                cells = []
                for q in THRESHOLDS:
                    tag = f"{round(100 * q)}pct"
                    need = ",".join("-" if n is None else str(n) for n in r[f"trials_to_{tag}"])
                    cells.append(f"{need:<14} {fmt(r[f'trials_to_{tag}_median'], '.1f'):>6}")
                finals = ", ".join(fmt(f, ".3f") for f in r["final_hv_vs_best"])
                lines.append(f"  {name:<8} {'  '.join(cells)}  {finals}")
        lines.append(f"('-': did not reach 90% of the best hypervolume within the budget; "
                     f"{eff['architectures_in_cache']} distinct architectures in the cache)")
    ov = payload.get("overhead")
    if ov:
        lines.append("== search overhead (python -m search.run) ==")
        lines.append(f"{'concurrent':>10} {'trials':>6} {'trial wall s':>12} {'train s':>8} {'eval s':>7} "
                     f"{'outside train':>13} {'outside train+eval':>18} {'whole cmd':>9} {'trials/h':>8} {'steady/h':>8}")
        for r in ov["runs"]:
            if "error" in r:
                lines.append(f"{r['concurrent']:>10} error: {r['error']} (exit {r['returncode']})")
                continue
            lines.append(
                f"{r['concurrent']:>10} {r['completed']:>6} {fmt(r['median_trial_wall_s'], '.1f'):>12} "
                f"{fmt(r['median_train_time_s'], '.1f'):>8} {fmt(r['median_eval_est_s'], '.1f'):>7} "
                f"{fmt(100 * r['share_outside_training'], '.0f') + '%':>13} "
                f"{fmt(100 * r['share_outside_training_and_eval'], '.0f') + '%':>18} "
                f"{fmt(100 * r['share_of_command_outside_training_and_eval'], '.0f') + '%':>9} "
                f"{fmt(r['trials_per_hour_end_to_end'], '.0f'):>8} {fmt(r.get('trials_per_hour_steady'), '.0f'):>8}")
    return "\n".join(lines)


def markdown_tables(payload: dict[str, Any]) -> str:
    """The benchmark pages' tables of one result file: efficiency per reference point, then overhead."""
    m = payload["machine"]
    out = [f"Command: `{payload['command']}`", "",
           f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, torch {m['torch']}; {m['date']}; "
           f"commit {m['commit']}.", ""]
    eff = payload.get("efficiency")
    if eff:
        out.append(f"Study `{eff['study']}` ({eff['space_size']} parameter "
                   f"combinations), {eff['trials']} trained trials per search, {eff['seeds']} seeds, "
                   f"{eff['epochs']} epochs per architecture, {eff['architectures_in_cache']} distinct architectures.")
        out.append("")
        for label, key in (("study reference point", "study_reference"), ("range reference point", "range_reference")):
            s = eff[key]
            ref = ", ".join(f"{r:.4g}" for r in s["reference"])
            out.append(f"{label} (val_acc {ref.split(', ')[0]}, energy_mj {ref.split(', ')[1]}); best hypervolume "
                       f"of a single run {s['best_hv']:.4g}, of all runs' points together {s['union_hv']:.4g}:")
            out.append("")
            out.append("| sampler | trials to 90% of best, per seed | median | to 95% | median | to 99% | median | "
                       "median HV/best after 8 / 16 / 24 trials | final HV / best, per seed |")
            out.append("|---" * 9 + "|")
            for name, r in s["samplers"].items():
                cells = [name]
                for tag in ("90pct", "95pct", "99pct"):
                    cells.append(", ".join("never" if n is None else str(n) for n in r[f"trials_to_{tag}"]))
                    cells.append(fmt(r[f"trials_to_{tag}_median"], ".0f") if r[f"trials_to_{tag}_median"] is not None else "never")
                curve = r["median_curve"]
                cells.append(" / ".join(fmt(curve[min(i, len(curve)) - 1] / s["best_hv"], ".2f") for i in (8, 16, 24)))
                cells.append(", ".join(fmt(f, ".3f") for f in r["final_hv_vs_best"]))
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    ov = payload.get("overhead")
    if ov:
        out.append("| concurrent trials | trials | median trial wall s | median train s | median eval s (est.) | "
                   "trial wall outside training | trial wall outside training + eval | whole command outside "
                   "training + eval | start-up s | wrap-up s | trials/h end to end | trials/h steady |")
        out.append("|---" * 12 + "|")
        for r in ov["runs"]:
            if "error" in r:
                out.append(f"| {r['concurrent']} | error: {r['error']} | | | | | | | |")
                continue
            out.append(f"| {r['concurrent']} | {r['completed']} | {r['median_trial_wall_s']:.1f} | "
                       f"{r['median_train_time_s']:.1f} | {fmt(r['median_eval_est_s'], '.1f')} | "
                       f"{100 * r['share_outside_training']:.0f}% | {100 * r['share_outside_training_and_eval']:.0f}% | "
                       f"{fmt(100 * r['share_of_command_outside_training_and_eval'] if 'share_of_command_outside_training_and_eval' in r else None, '.0f')}% | "
                       f"{fmt(r.get('startup_s'), '.0f')} | {fmt(r.get('wrapup_s'), '.0f')} | "
                       f"{r['trials_per_hour_end_to_end']:.0f} | {fmt(r.get('trials_per_hour_steady'), '.0f')} |")
        out.append("")
    return "\n".join(out)
