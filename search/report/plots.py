"""The front as files: a PNG (matplotlib), an interactive HTML (plotly: hover shows trial, mixers per
block and T) and a CSV table, for whatever objectives the study declares.

Axes: the study's second objective across, its first up (accuracy against energy for the shipped
studies); with one objective, trials across. Every trained trial is drawn, stopped and failed ones
as crosses; the front is the staircase that bounds what it dominates (`search.report.style`), the knee
circled; energy in microjoules when every value is below 0.01 mJ.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Optional, Sequence

from search.front import Front
from search.report.style import (FRONT_COLOUR, OTHER_COLOUR, Scale, draw_staircase, new_figure, plotly_shape, save,
                          scale_of)


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


def scales(front: Front, *more: Front) -> tuple[Scale, Scale]:
    """The (x, y) scales of the front's plot, one unit for all the fronts given (panels side by side)."""
    x, y = axes(front)
    rows = [r for f in (front, *more) for r in _drawable(f, x, y)]
    return scale_of(x, [r[x] for r in rows]), scale_of(y, [r[y] for r in rows])


def plot_front(front: Front, png_path: Optional[Path], html_path: Optional[Path], *, title: str) -> None:
    """Either path may be None to skip that file."""
    if png_path is not None:
        fig = new_figure(6.4, 4.8)
        draw_front(fig.add_subplot(), front, title=title)
        save(fig, Path(png_path))
    if html_path is not None:
        _html(front, Path(html_path), title)


def limits(fronts: Sequence[Front], scale: tuple[Scale, Scale], margin: float = 0.05) -> tuple[tuple, tuple]:
    """((x0, x1), (y0, y1)) that hold every drawable trial of `fronts` in `scale`, with matplotlib's
    usual margin: panels side by side on the same axes."""
    x, y = axes(fronts[0])
    rows = [r for f in fronts for r in _drawable(f, x, y)]
    out = []
    for metric, s in zip((x, y), scale):
        values = [s(r[metric]) for r in rows] or [0.0, 1.0]
        lo, hi = min(values), max(values)
        pad = (hi - lo) * margin or abs(hi) * margin or 1.0
        out.append((lo - pad, hi + pad))
    return out[0], out[1]


def draw_front(ax: Any, front: Front, *, title: str, scale: Optional[tuple[Scale, Scale]] = None,
               bounds: Optional[tuple[tuple, tuple]] = None, noun: str = "trial") -> None:
    """Every trial of the front's kind on a matplotlib axis: finished ones grey, stopped and failed
    ones as crosses where their last values are known, the front as a staircase with its trial
    numbers, the knee circled. Energy, accuracy and the other metrics in the units of `search.report.style`.
    `bounds` (from `limits`) fixes the axis limits, so panels side by side compare; `noun` names what
    the numbers count (a supernet's candidates are not trials)."""
    x, y = axes(front)
    sx, sy = scale or scales(front)
    if bounds is not None:
        ax.set_xlim(*bounds[0])
        ax.set_ylim(*bounds[1])
    rows = _drawable(front, x, y)
    members = [r for r in rows if r["on_front"]]
    knee = next((r for r in front.rows() if r["knee"]), None)
    done = [r for r in rows if r["state"] == "COMPLETE"]
    other = [r for r in rows if r["state"] != "COMPLETE"]
    if done:
        ax.scatter([sx(r[x]) for r in done], [sy(r[y]) for r in done], c=OTHER_COLOUR, s=18, label=f"{noun}s", zorder=2)
    if other:
        ax.scatter([sx(r[x]) for r in other], [sy(r[y]) for r in other], c=OTHER_COLOUR, marker="x", s=18,
                   label="stopped / failed (not on the front)", zorder=2)
    if members:
        mx, my = [sx(r[x]) for r in members], [sy(r[y]) for r in members]
        ax.scatter(mx, my, c=FRONT_COLOUR, s=26, zorder=3)
        if x != "trial":
            directions = dict(zip(front.objectives.metrics, front.objectives.directions))
            draw_staircase(ax, mx, my, x_minimised=directions[x] == "minimize", y_maximised=directions[y] == "maximize",
                           limits=bounds, color=FRONT_COLOUR, lw=1.4, label=f"Pareto front ({len(members)})", zorder=3)
        for r in members:
            ax.annotate(str(r["trial"]), (sx(r[x]), sy(r[y])), textcoords="offset points", xytext=(4, -10),
                        fontsize=7, color=FRONT_COLOUR)
    if knee is not None and knee.get(x) is not None:
        ax.scatter([sx(knee[x])], [sy(knee[y])], s=130, facecolors="none", edgecolors="k", lw=1.2,
                   label=f"knee ({noun} {knee['trial']})", zorder=4)
    ax.set_xlabel(sx.label)
    ax.set_ylabel(sy.label)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if rows:
        ax.legend(loc="best", fontsize=8)


def _hover(r: dict[str, Any], sx: Scale, sy: Scale) -> str:
    values = [f"{s.metric}={s.text(r.get(s.metric))}" for s in (sy, sx) if s.metric != "trial"]
    lines = [f"trial {r['trial']}" + (" (Pareto front)" if r["on_front"] else ""), f"mixers: {', '.join(r['mixers'])}",
             f"T={r['T']}", *values, f"state: {r['state']}"]
    return "<br>".join(lines)


def _html(front: Front, path: Path, title: str) -> None:
    import plotly.graph_objects as go

    x, y = axes(front)
    sx, sy = scales(front)
    rows = _drawable(front, x, y)
    members = sorted((r for r in rows if r["on_front"]), key=lambda r: r[x])
    knee = next((r for r in front.rows() if r["knee"]), None)
    directions = dict(zip(front.objectives.metrics, front.objectives.directions))
    fig = go.Figure()
    rest = [r for r in rows if not r["on_front"]]
    fig.add_trace(go.Scatter(
        x=[sx(r[x]) for r in rest], y=[sy(r[y]) for r in rest], mode="markers", name="trials",
        marker=dict(color=OTHER_COLOUR, size=8, symbol=["circle" if r["state"] == "COMPLETE" else "x" for r in rest]),
        text=[_hover(r, sx, sy) for r in rest], hovertemplate="%{text}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[sx(r[x]) for r in members], y=[sy(r[y]) for r in members], mode="lines+markers",
        name=f"Pareto front ({len(members)})",
        line=dict(color=FRONT_COLOUR, shape=plotly_shape(directions.get(x) == "minimize") if x != "trial" else "linear"),
        marker=dict(color=FRONT_COLOUR, size=10),
        text=[_hover(r, sx, sy) for r in members], hovertemplate="%{text}<extra></extra>"))
    if knee is not None and knee.get(x) is not None:
        fig.add_trace(go.Scatter(x=[sx(knee[x])], y=[sy(knee[y])], mode="markers", name=f"knee (trial {knee['trial']})",
                                 marker=dict(symbol="circle-open", size=18, color="black"), hoverinfo="skip"))
    fig.update_layout(title=title, xaxis_title=sx.label, yaxis_title=sy.label, template="plotly_white")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)  # self-contained: opens offline
