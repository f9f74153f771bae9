"""One line per step for the progress output and the summary: the figure a reader looks for first.

Read defensively: a step that failed half-way leaves a partial file, and a headline is never worth
an exception (it is '' when the figures are not there)."""
from __future__ import annotations

from typing import Any, Callable


def _tests(p: dict) -> str:
    parts = []
    for name, run in p.get("runs", {}).items():
        counts = run.get("counts")
        parts.append(f"{name}: " + (", ".join(f"{v} {k}" for k, v in counts.items() if v) if counts
                                    else run.get("status", "?")))
    return "; ".join(parts)


def _mixers(p: dict) -> str:
    parts = []
    for name, g in p.get("geometries", {}).items():
        rows = g.get("mixers", {})
        # The goals' per-mixer ratios cover the fixed-basis mixers only (FWformer's kind); else every row.
        per_mixer = ((g.get("goals") or {}).get("train_vs_ssa") or {}).get("per_mixer") or {
            m: r["train_vs_ssa"] for m, r in rows.items() if m not in ("ssa", "identity") and r.get("train_vs_ssa")}
        ssa = rows.get("ssa", {}).get("train_ips")
        text = f"{name}" + (f" ssa {ssa:,.0f} img/s" if ssa else "")
        if per_mixer:
            best = max(per_mixer, key=per_mixer.get)
            row = rows.get(best, {})
            text += f", fastest {best} x{per_mixer[best]:.2f} train"
            if row.get("infer_vs_ssa"):
                text += f" x{row['infer_vs_ssa']:.2f} infer"
            if row.get("memory_vs_ssa"):
                text += f" x{row['memory_vs_ssa']:.2f} memory"
        parts.append(text)
    return "; ".join(parts)


def _neurons(p: dict) -> str:
    parts = [f"selected {p['selected']}"] if p.get("selected") else []
    gains = p.get("speedup_vs_torch") or {}
    probes = [pr for pr in p.get("probes", []) if pr.get("name") != "torch" and pr.get("why") != "unavailable"]
    if isinstance(p.get("compile"), dict):
        probes.append(p["compile"])
    for probe in probes:
        status = probe.get("status", "pass")
        if status != "pass":
            verdict = status
        elif probe.get("error"):
            verdict = "failed"
        else:
            gain = gains.get(probe["name"])
            verdict = (f"x{gain:.2f} " if gain else "") + ("exact" if probe.get("exact") else "NOT exact")
            if probe.get("amp_error"):
                verdict += ", refused under bf16"
        parts.append(f"{probe['name']} {verdict}")
    return "; ".join(parts)


def _training(p: dict) -> str:
    parts = [f"{m} {r['images_per_s']:,.0f} img/s" for m, r in p.get("alone", {}).items()
             if isinstance(r, dict) and r.get("images_per_s")]
    sharing = (p.get("sharing") or {}).get("throughput_vs_alone")
    if sharing:
        parts.append(f"two at once x{sharing:.2f} the throughput of one")
    epoch = (p.get("budget") or {}).get("epoch_s_shared_mean_T")
    if epoch:
        parts.append(f"fw_pareto epoch ~{epoch:.0f} s per trial at gpu 0.5")
    return ", ".join(parts)


HEADLINES: dict[str, Callable[[dict], str]] = {
    "tests": _tests, "mixers_fp32": _mixers, "mixers_bf16": _mixers, "mixers_events": _mixers,
    "neurons": _neurons, "training": _training,
}


def headline(step: str, payload: dict[str, Any]) -> str:
    try:
        return HEADLINES.get(step, lambda _: "")(payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        return ""
