"""Markdown tables for BENCHMARKS.md from the JSON the benchmarks write.

    python -m benchmarks.report benchmarks/results/mixers_cpu.json [benchmarks/results/search.json ...]

Speed is shown as ratios only when the figures come from a CPU (absolute CPU times on a shared
machine say little); memory and energy are shown absolute and as ratios to SSA.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Optional

from benchmarks.mixers.catalogue import CLAIMS
from benchmarks.mixers.run import _get


def _f(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _iqr(row: dict, key: str) -> str:
    q = row.get(f"{key}_iqr")
    return f" ({q[0]:.2f}-{q[1]:.2f})" if q else ""


def mixers_tables(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    out = [f"Machine: {m['cpu']}, {m['cores']} cores, GPU {m['gpu'] or 'none'}; torch {m['torch']}; "
           f"{m['date']}; commit {m['commit']}.", f"Command: `{payload['command']}`", ""]
    for name, g in payload["geometries"].items():
        cpu = g["device"] == "cpu"
        out.append(f"### {name}: {g['description']}")
        out.append("")
        out.append(f"Device {g['device']}, batch {g['batch']}, {g['threads']} torch thread(s), {g['clock']} clock, "
                   f"medians of {g['repeats']} interleaved rounds (speed ratios: median of per-round paired "
                   f"ratios, quartiles in brackets).")
        out.append("")
        speed = "" if cpu else "train img/s | infer img/s | "
        out.append(f"| mixer | params | {speed}train xSSA | train /id | infer xSSA | infer /id | memory MB | "
                   f"memory xSSA | energy mJ | energy xSSA | energy@1 mJ | energy@1 xSSA | mixer alone f+b xSSA |")
        out.append("|---" * (13 + (2 if not cpu else 0)) + "|")
        for mixer, r in g["mixers"].items():
            cells = [f"`{mixer}`", _f(r["params"] / 1e6 if r.get("params") else None, ".2f") + "M"]
            if not cpu:
                cells += [_f(r.get("train_ips"), ".0f"), _f(r.get("infer_ips"), ".0f")]
            cells += [
                _f(r.get("train_vs_ssa"), ".2f") + _iqr(r, "train_vs_ssa"), _f(r.get("train_vs_identity"), ".2f"),
                _f(r.get("infer_vs_ssa"), ".2f") + _iqr(r, "infer_vs_ssa"), _f(r.get("infer_vs_identity"), ".2f"),
                _f(_get(r, "memory.memory_mb"), ".0f"), _f(r.get("memory_vs_ssa"), ".2f"),
                _f(_get(r, "energy.energy_mj"), ".4f"), _f(r.get("energy_vs_ssa"), ".2f"),
                _f(_get(r, "energy_rate1.energy_mj"), ".4f"), _f(r.get("energy_rate1_vs_ssa"), ".2f"),
                _f(_get(r, "isolated.train_vs_ssa"), ".1f") if mixer != "identity" else "(no work)",
            ]
            out.append("| " + " | ".join(cells) + " |")
        claim = ["FWformer claim", ""] + (["", ""] if not cpu else [])
        claim += [f"{CLAIMS['train'][0]:.2f}-{CLAIMS['train'][1]:.2f}", "", f"{CLAIMS['infer'][0]:.2f}-{CLAIMS['infer'][1]:.2f}",
                  "", "", f"{CLAIMS['memory'][0]:.2f}-{CLAIMS['memory'][1]:.2f}", "",
                  f"{CLAIMS['energy'][0]:.2f}-{CLAIMS['energy'][1]:.2f}", "", "", ""]
        out.append("| " + " | ".join(claim) + " |")
        out.append("")
        for note in g["notes"]:
            out.append(f"- {note}")
        ssa = g["mixers"].get("ssa", {})
        e = ssa.get("energy")
        if e:
            out.append(f"- energy: {e['steps']} AdamW steps of {e['batch']} CIFAR-10 subset images, firing rates on "
                       f"{e['val_images']} held-out images; SSA reached val acc {e['val_acc']:.2f} there.")
            kinds = {mixer: r["energy"].get("by_kind") for mixer, r in g["mixers"].items() if r.get("energy")}
            if all(kinds.values()):
                out.append("- energy by part (mJ, measured rates): " + "; ".join(
                    f"`{mixer}` " + ", ".join(f"{k} {v:.4f}" for k, v in parts.items() if k != "head")
                    for mixer, parts in kinds.items()))
        out.append("")
    return "\n".join(out)


def energy_model_tables(payload: dict[str, Any]) -> str:
    """Energy per image under every energy model, measured rates and rate 1, with ratios to SSA,
    and how the mean firing rate moved over training (`--energy-checkpoints`)."""
    from benchmarks.mixers.catalogue import PUBLISHED_FFT2D_VS_SSA
    from benchmarks.mixers.run import add_ratios

    out = []
    for name, g in payload["geometries"].items():
        rows = g["mixers"]
        add_ratios(rows)  # a run stopped before its end has not written them
        models = next((list(_get(r, "energy_rate1.models") or []) for r in rows.values()
                       if _get(r, "energy_rate1.models")), [])
        if not models:
            continue
        e = next((r["energy"] for r in rows.values() if r.get("energy")), None)
        out.append(f"#### {name}: energy under each model (mJ per image, ratio to SSA in brackets)")
        out.append("")
        if e:
            out.append(f"Measured rates: {e['steps']} AdamW steps of {e['batch']} CIFAR-10 subset images, rates on "
                       f"{e['val_images']} held-out images. Rate 1: every neuron fires at every step.")
            out.append("")
        head = [f"{m} measured" for m in models if e] + [f"{m} @ rate 1" for m in models]
        out.append("| mixer | val acc | mean rate | " + " | ".join(head) + " |")
        out.append("|---" * (3 + len(head)) + "|")
        for mixer, r in rows.items():
            cells = [f"`{mixer}`", _f(_get(r, "energy.val_acc"), ".2f"), _f(_get(r, "energy.mean_firing_rate"), ".3f")]
            for section in ("energy", "energy_rate1"):
                ratios = f"{section}_vs_ssa_by_model"
                if section == "energy" and not e:
                    continue
                for m in models:
                    value = _get(r, f"{section}.models.{m}.energy_mj")
                    if value is None:
                        cells.append("cannot price" if _get(r, f"{section}.models.{m}.error") else "-")
                    else:
                        cells.append(f"{value:.4f} ({_f((r.get(ratios) or {}).get(m), '.2f')})")
            out.append("| " + " | ".join(cells) + " |")
        out.append(f"| FWformer published, CIFAR-10 (its convention) | | | 2D-FFT / SSA = 0.393 / 0.523 = "
                   f"{PUBLISHED_FFT2D_VS_SSA:.2f} |" + " |" * (len(head) - 1))
        out.append("")
        errors = {m: _get(r, f"energy_rate1.models.{m}.error") for r in rows.values() for m in models}
        for m, err in errors.items():
            if err:
                out.append(f"- {m}: {err}")
                break
        histories = {mixer: _get(r, "energy.rate_history") for mixer, r in rows.items()
                     if _get(r, "energy.rate_history")}
        if any(len(h) > 1 for h in histories.values()):
            steps = sorted({h["step"] for hist in histories.values() for h in hist})
            out.append("")
            out.append("Mean firing rate (and `sop` mJ) on the held-out images at each training step:")
            out.append("")
            out.append("| mixer | " + " | ".join(f"step {s}" for s in steps) + " |")
            out.append("|---" * (1 + len(steps)) + "|")
            for mixer, hist in histories.items():
                at = {h["step"]: h for h in hist}
                out.append(f"| `{mixer}` | " + " | ".join(
                    f"{at[s]['mean_firing_rate']:.4f} ({at[s]['energy_mj']:.4f})" if s in at else "-" for s in steps) + " |")
        out.append("")
    return "\n".join(out)


def search_tables(payload: dict[str, Any]) -> str:
    out = []
    eff = payload.get("efficiency")
    if eff:
        out.append(f"Command: `{payload['command']}`; study `{eff['study']}` ({eff['space_size']} parameter "
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
                    cells.append(_f(r[f"trials_to_{tag}_median"], ".0f") if r[f"trials_to_{tag}_median"] is not None else "never")
                curve = r["median_curve"]
                cells.append(" / ".join(_f(curve[min(i, len(curve)) - 1] / s["best_hv"], ".2f") for i in (8, 16, 24)))
                cells.append(", ".join(_f(f, ".3f") for f in r["final_hv_vs_best"]))
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
                       f"{r['median_train_time_s']:.1f} | {_f(r['median_eval_est_s'], '.1f')} | "
                       f"{100 * r['share_outside_training']:.0f}% | {100 * r['share_outside_training_and_eval']:.0f}% | "
                       f"{_f(100 * r['share_of_command_outside_training_and_eval'] if 'share_of_command_outside_training_and_eval' in r else None, '.0f')}% | "
                       f"{_f(r.get('startup_s'), '.0f')} | {_f(r.get('wrapup_s'), '.0f')} | "
                       f"{r['trials_per_hour_end_to_end']:.0f} | {_f(r.get('trials_per_hour_steady'), '.0f')} |")
        out.append("")
    return "\n".join(out)


def main(paths: list[str]) -> None:
    for path in paths:
        with open(path) as f:
            payload = json.load(f)
        if payload.get("benchmark") == "mixers":
            print(mixers_tables(payload))
            print(energy_model_tables(payload))
        else:
            print(search_tables(payload))


if __name__ == "__main__":
    main(sys.argv[1:])
