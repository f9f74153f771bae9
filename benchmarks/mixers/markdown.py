"""The benchmark pages' markdown tables from the JSON `python -m benchmarks.mixers` writes.

    python -m benchmarks.mixers --report benchmarks/results/mixers_cpu_small_every_family.json

Speed is shown as ratios only when the figures come from a CPU (absolute CPU times on a shared
machine say little); memory and energy are shown absolute and as ratios to SSA.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from benchmarks.mixers.catalogue import CLAIMS, PUBLISHED_FFT2D_VS_SSA
from benchmarks.mixers.run import _get, add_ratios


def _f(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown_tables(payload: dict[str, Any], geometries: Optional[Sequence[str]] = None) -> str:
    """Every table of one result file (of the geometries named, or all): speed, memory and energy per
    geometry, then energy per model."""
    return mixers_tables(payload, geometries) + "\n" + energy_model_tables(payload, geometries)


def _iqr(row: dict, key: str) -> str:
    q = row.get(f"{key}_iqr")
    return f" ({q[0]:.2f}-{q[1]:.2f})" if q else ""


def _columns(cpu: bool) -> list[tuple[str, Callable[[str, dict], str], str]]:
    """(header, cell of a mixer's row, FWformer's claim) of every column the speed table can have."""
    def claim(kind: str) -> str:
        return f"{CLAIMS[kind][0]:.2f}-{CLAIMS[kind][1]:.2f}"

    columns = [("params", lambda m, r: _f(r["params"] / 1e6 if r.get("params") else None, ".2f") + "M", "")]
    if not cpu:  # absolute speed means something on a GPU only
        columns += [("train img/s", lambda m, r: _f(r.get("train_ips"), ".0f"), ""),
                    ("infer img/s", lambda m, r: _f(r.get("infer_ips"), ".0f"), "")]
    return columns + [
        ("train xSSA", lambda m, r: _f(r.get("train_vs_ssa"), ".2f") + _iqr(r, "train_vs_ssa"), claim("train")),
        ("train /id", lambda m, r: _f(r.get("train_vs_identity"), ".2f"), ""),
        ("infer xSSA", lambda m, r: _f(r.get("infer_vs_ssa"), ".2f") + _iqr(r, "infer_vs_ssa"), claim("infer")),
        ("infer /id", lambda m, r: _f(r.get("infer_vs_identity"), ".2f"), ""),
        ("memory MB", lambda m, r: _f(_get(r, "memory.memory_mb"), ".0f"), ""),
        ("memory xSSA", lambda m, r: _f(r.get("memory_vs_ssa"), ".2f"), claim("memory")),
        ("energy mJ", lambda m, r: _f(_get(r, "energy.energy_mj"), ".4f"), ""),
        ("energy xSSA", lambda m, r: _f(r.get("energy_vs_ssa"), ".2f"), claim("energy")),
        ("energy@1 mJ", lambda m, r: _f(_get(r, "energy_rate1.energy_mj"), ".4f"), ""),
        ("energy@1 xSSA", lambda m, r: _f(r.get("energy_rate1_vs_ssa"), ".2f"), ""),
        ("mixer alone f+b xSSA", lambda m, r: "(no work)" if m == "identity" else _f(_get(r, "isolated.train_vs_ssa"), ".1f"), ""),
    ]


def mixers_tables(payload: dict[str, Any], geometries: Optional[Sequence[str]] = None) -> str:
    """Per geometry (all, or those named): the speed, memory and energy table, its columns those the run
    measured, then its notes and the energy by part."""
    m = payload["machine"]
    out = [f"Machine: {m['cpu']}, {m['cores']} cores, GPU {m['gpu'] or 'none'}; Python {m.get('python', '-')}, "
           f"torch {m['torch']}; {m['date']}; commit {m['commit']}.", "", f"Command: `{payload['command']}`", ""]
    for name, g in payload["geometries"].items():
        if geometries and name not in geometries:
            continue
        rows = g["mixers"]
        out.append(f"**{name}**: {g['description']}")
        out.append("")
        if any(r.get("train_vs_ssa") is not None for r in rows.values()):  # an energy-only run has the table below
            measured = [(h, cell, c) for h, cell, c in _columns(g["device"] == "cpu")
                        if any(cell(mixer, r) not in ("-", "-M") for mixer, r in rows.items() if mixer != "identity")]
            out.append(f"Device {g['device']}, batch {g['batch']}, {g['threads']} torch thread(s), {g['clock']} clock, "
                       f"medians of {g['repeats']} interleaved rounds (speed ratios: median of per-round paired "
                       f"ratios, quartiles in brackets).")
            out.append("")
            out.append("| mixer | " + " | ".join(h for h, _, _ in measured) + " |")
            out.append("|---" * (1 + len(measured)) + "|")
            for mixer, r in rows.items():
                out.append(f"| `{mixer}` | " + " | ".join(cell(mixer, r) for _, cell, _ in measured) + " |")
            out.append("| FWformer claim | " + " | ".join(c for _, _, c in measured) + " |")
            out.append("")
        for note in g["notes"]:
            out.append(f"- {note}")
        e = rows.get("ssa", {}).get("energy")
        if e:
            out.append(f"- energy: {e['steps']} AdamW steps of {e['batch']} CIFAR-10 subset images, firing rates on "
                       f"{e['val_images']} held-out images; SSA reached val acc {e['val_acc']:.2f} there.")
        for section, label in (("energy", "measured rates"), ("energy_rate1", "firing rate 1")):
            kinds = {mixer: _get(r, f"{section}.by_kind") for mixer, r in rows.items() if r.get(section)}
            if kinds and all(kinds.values()):
                out.append(f"- energy by part (mJ, `sop`, {label}): " + "; ".join(
                    f"`{mixer}` " + ", ".join(f"{k} {v:.4f}" for k, v in parts.items() if k != "head")
                    for mixer, parts in kinds.items()))
        out.append("")
    return "\n".join(out)


def energy_model_tables(payload: dict[str, Any], geometries: Optional[Sequence[str]] = None) -> str:
    """Energy per image under every energy model, measured rates and rate 1, with ratios to SSA,
    and how the mean firing rate moved over training (`--energy-checkpoints`)."""
    out = []
    for name, g in payload["geometries"].items():
        if geometries and name not in geometries:
            continue
        rows = g["mixers"]
        add_ratios(rows)  # a run stopped before its end has not written them
        models = next((list(_get(r, "energy_rate1.models") or []) for r in rows.values()
                       if _get(r, "energy_rate1.models")), [])
        if not models:
            continue
        e = next((r["energy"] for r in rows.values() if r.get("energy")), None)
        out.append(f"**{name}: energy under each model** (mJ per image, ratio to SSA in brackets)")
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
