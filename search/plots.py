"""The front as files: a PNG (matplotlib), an interactive HTML (plotly: hover shows trial, mixers per
block and T) and a CSV table, for whatever objectives the study declares.

Axes: the study's second objective across, its first up (accuracy against energy for the shipped
studies); with one objective, trials across. Every trained trial is drawn; stopped and failed ones
grey, the front highlighted, the knee circled.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Optional

from search.front import Front

LABELS = {"val_acc": "validation accuracy", "energy_mj": "energy (mJ per image)", "latency_ms": "latency (ms)",
          "params": "parameters", "macs": "MACs per image", "acs": "ACs per image", "peak_mem_mb": "peak memory (MB)",
          "images_per_s": "training images per second", "train_time_s": "training time (s)",
          "mean_firing_rate": "mean firing rate"}


def axes(front: Front) -> tuple[str, str]:
    """(x metric, y metric); x is 'trial' for a single objective."""
    metrics = front.objectives.metrics
    return (metrics[1], metrics[0]) if len(metrics) > 1 else ("trial", metrics[0])


def front_csv(front: Front) -> str:
    """The front as CSV, in the front's order: trial, every objective, T, mixers, knee."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    metrics = list(front.objectives.metrics)
    writer.writerow(["trial", *metrics, "T", "mixers", "knee"])
    for r in front.rows():
        writer.writerow([r["trial"], *(f"{r[m]:.6g}" for m in metrics), r["T"], " ".join(r["mixers"]),
                         str(r["knee"]).lower()])
    return out.getvalue()


def _drawable(front: Front, x: str, y: str) -> list[dict[str, Any]]:
    return [r for r in front.all_rows() if r.get(y) is not None and r.get(x) is not None]


def plot_front(front: Front, png_path: Optional[Path], html_path: Optional[Path], *, title: str) -> None:
    """Either path may be None to skip that file."""
    x, y = axes(front)
    rows = _drawable(front, x, y)
    front_rows = sorted((r for r in rows if r["on_front"]), key=lambda r: r[x])
    knee = next((r for r in front.rows() if r["knee"]), None)
    if png_path is not None:
        _png(rows, front_rows, knee, x, y, Path(png_path), title)
    if html_path is not None:
        _html(rows, front_rows, knee, x, y, Path(html_path), title)


def _png(rows, front_rows, knee, x: str, y: str, path: Path, title: str) -> None:
    # The object API with the Agg canvas: no pyplot, no global backend switch, safe in any process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    done = [r for r in rows if r["state"] == "COMPLETE"]
    other = [r for r in rows if r["state"] != "COMPLETE"]
    if done:
        ax.scatter([r[x] for r in done], [r[y] for r in done], c="0.6", s=18, label="trials")
    if other:
        ax.scatter([r[x] for r in other], [r[y] for r in other], c="0.75", marker="x", s=18,
                   label="stopped / failed (not on the front)")
    if front_rows:
        ax.plot([r[x] for r in front_rows], [r[y] for r in front_rows], "--o", c="tab:red", ms=5, label="Pareto front")
        for r in front_rows:
            ax.annotate(str(r["trial"]), (r[x], r[y]), textcoords="offset points", xytext=(4, 4), fontsize=7,
                        color="tab:red")
    if knee is not None and knee.get(x) is not None:
        ax.scatter([knee[x]], [knee[y]], s=120, facecolors="none", edgecolors="k", label="knee")
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if rows:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def _hover(r: dict[str, Any], x: str, y: str) -> str:
    values = [f"{m}={r[m]:.4g}" for m in (y, x) if m != "trial" and r.get(m) is not None]
    lines = [f"trial {r['trial']}" + (" (Pareto front)" if r["on_front"] else ""), f"mixers: {', '.join(r['mixers'])}",
             f"T={r['T']}", *values, f"state: {r['state']}"]
    return "<br>".join(lines)


def _html(rows, front_rows, knee, x: str, y: str, path: Path, title: str) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    rest = [r for r in rows if not r["on_front"]]
    fig.add_trace(go.Scatter(
        x=[r[x] for r in rest], y=[r[y] for r in rest], mode="markers", name="trials",
        marker=dict(color="lightgrey", size=8, line=dict(color="grey", width=1)),
        text=[_hover(r, x, y) for r in rest], hovertemplate="%{text}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[r[x] for r in front_rows], y=[r[y] for r in front_rows], mode="lines+markers", name="Pareto front",
        line=dict(color="crimson", dash="dash"), marker=dict(color="crimson", size=10),
        text=[_hover(r, x, y) for r in front_rows], hovertemplate="%{text}<extra></extra>"))
    if knee is not None and knee.get(x) is not None:
        fig.add_trace(go.Scatter(x=[knee[x]], y=[knee[y]], mode="markers", name="knee",
                                 marker=dict(symbol="circle-open", size=18, color="black"), hoverinfo="skip"))
    fig.update_layout(title=title, xaxis_title=LABELS.get(x, x), yaxis_title=LABELS.get(y, y),
                      template="plotly_white")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)  # self-contained: opens offline
