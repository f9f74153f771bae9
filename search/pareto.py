"""Pareto fronts of a study: non-dominated mask, hypervolume, knee point, plots and a CSV table.

Sorting and hypervolume come from moocore (a maintained C implementation with Python bindings);
directions are handled by a sign flip, so every computation below minimises.

Knee point: among the non-dominated points, each objective is normalised to [0, 1] over the front
(0 = best); with two objectives the knee is the point farthest from the straight line through the
two extreme points, on the side of the ideal point (the bend of the front). With one front point
that point is the knee; with two, or when no point lies below the line, or with more than two
objectives, it is the point nearest the ideal point in the normalised space.

`rows` (for plots and tables) are dicts with at least: number, val_acc, energy_mj, mixers (list),
T, state ("COMPLETE", "PRUNED", "FAIL", ... or an optuna TrialState). Only COMPLETE rows with finite
values enter the front; the others are drawn but never counted.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

#: The objectives of rows: (key, direction), in plot order (x = energy, y = accuracy).
ROW_OBJECTIVES = (("val_acc", "maximize"), ("energy_mj", "minimize"))

Direction = Union[str, Any]  # "maximize" | "minimize" | "max" | "min" | optuna StudyDirection


def _maximise(directions: Sequence[Direction]) -> np.ndarray:
    out = []
    for d in directions:
        name = getattr(d, "name", d)
        name = str(name).lower()
        if name in ("maximize", "max", "maximise"):
            out.append(True)
        elif name in ("minimize", "min", "minimise"):
            out.append(False)
        else:
            raise ValueError(f"direction must be 'maximize' or 'minimize', but got {d!r}")
    return np.array(out, dtype=bool)


def _as_points(points: Any, directions: Sequence[Direction]) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points, dtype=float)
    if pts.size == 0:
        pts = pts.reshape(0, len(directions))
    if pts.ndim != 2 or pts.shape[1] != len(directions):
        raise ValueError(f"points must be [n, {len(directions)}] (one column per direction), but got {list(pts.shape)}")
    return pts, _maximise(directions)


def _minimised(pts: np.ndarray, maximise: np.ndarray) -> np.ndarray:
    return np.where(maximise, -pts, pts)


def pareto_mask(points: Any, directions: Sequence[Direction]) -> np.ndarray:
    """True for every point no other point dominates (duplicates of a front point are all kept)."""
    import moocore

    pts, maximise = _as_points(points, directions)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(_minimised(pts, maximise), keep_weakly=True), dtype=bool)


def hypervolume(points: Any, directions: Sequence[Direction], reference: Sequence[float]) -> float:
    """The volume dominated by `points` and bounded by `reference` (in the objectives' own units and
    directions: for accuracy max / energy min, reference = (worst accuracy, worst energy)).
    Points not strictly better than the reference in every objective add nothing."""
    import moocore

    pts, maximise = _as_points(points, directions)
    ref = _minimised(np.asarray(reference, dtype=float).reshape(1, -1), maximise)[0]
    if ref.shape[0] != pts.shape[1]:
        raise ValueError(f"reference must have {pts.shape[1]} values, but got {list(reference)}")
    pts = _minimised(pts, maximise)
    pts = pts[np.all(np.isfinite(pts), axis=1) & np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(moocore.hypervolume(pts, ref=ref))


def knee_index(points: Any, directions: Sequence[Direction]) -> Optional[int]:
    """Index (into `points`) of the front's knee, as the module docstring defines it; None if empty."""
    pts, maximise = _as_points(points, directions)
    if len(pts) == 0:
        return None
    idx = np.flatnonzero(pareto_mask(pts, directions))
    front = _minimised(pts[idx], maximise)
    lo, hi = front.min(axis=0), front.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    norm = (front - lo) / span  # 0 = best, per objective
    nearest_ideal = int(idx[np.lexsort((*norm.T[::-1], np.linalg.norm(norm, axis=1)))[0]])
    if norm.shape[1] != 2 or len(np.unique(front, axis=0)) < 3:
        return nearest_ideal
    a = norm[np.argmin(norm[:, 0])]  # best in objective 0
    b = norm[np.argmin(norm[:, 1])]  # best in objective 1
    # Signed distance to the line a-b; positive on the ideal's side (towards the origin).
    direction = (b - a) / np.linalg.norm(b - a)
    normal = np.array([direction[1], -direction[0]])
    if np.dot(normal, -a) < 0:
        normal = -normal
    dist = (norm - a) @ normal
    if dist.max() <= 1e-12:
        return nearest_ideal
    return int(idx[int(np.argmax(dist))])


# ---- rows of a study ---------------------------------------------------------------------------
def _state_name(state: Any) -> str:
    return str(getattr(state, "name", state)).upper()


def _row_point(row: Mapping[str, Any]) -> Optional[tuple[float, ...]]:
    try:
        values = tuple(float(row[k]) for k, _ in ROW_OBJECTIVES)
    except (KeyError, TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None


def row_front_mask(rows: Sequence[Mapping[str, Any]]) -> list[bool]:
    """True for rows on the front: COMPLETE, with finite values, not dominated by another such row."""
    usable = [i for i, r in enumerate(rows) if _state_name(r.get("state", "COMPLETE")) == "COMPLETE"
              and _row_point(r) is not None]
    mask = [False] * len(rows)
    if usable:
        pts = [_row_point(rows[i]) for i in usable]
        for i, on in zip(usable, pareto_mask(pts, [d for _, d in ROW_OBJECTIVES])):
            mask[i] = bool(on)
    return mask


def front_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The front's rows, cheapest first (ties: more accurate first)."""
    front = [r for r, on in zip(rows, row_front_mask(rows)) if on]
    return sorted(front, key=lambda r: (float(r["energy_mj"]), -float(r["val_acc"]), r.get("number", 0)))


def knee_row(rows: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    front = front_rows(rows)
    if not front:
        return None
    k = knee_index([_row_point(r) for r in front], [d for _, d in ROW_OBJECTIVES])
    return front[k] if k is not None else None


def _mixers_text(mixers: Any, sep: str = " | ") -> str:
    if isinstance(mixers, str):
        return mixers
    return sep.join(str(m) for m in (mixers or []))


def front_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The front as CSV text, cheapest first: trial, val_acc, energy_mj, T, mixers, knee."""
    knee = knee_row(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trial", "val_acc", "energy_mj", "T", "mixers", "knee"])
    for r in front_rows(rows):
        writer.writerow([r.get("number"), f"{float(r['val_acc']):.6g}", f"{float(r['energy_mj']):.6g}",
                         r.get("T"), _mixers_text(r.get("mixers"), " "), str(r is knee).lower()])
    return out.getvalue()


def _hover(r: Mapping[str, Any], on_front: bool) -> str:
    acc, energy = r.get("val_acc"), r.get("energy_mj")
    lines = [
        f"trial {r.get('number')}" + (" (Pareto front)" if on_front else ""),
        f"mixers: {_mixers_text(r.get('mixers'), ', ')}",
        f"T={r.get('T')}",
        f"val_acc={float(acc):.4f}" if acc is not None else "val_acc=-",
        f"energy={float(energy):.4g} mJ" if energy is not None else "energy=-",
        f"state: {_state_name(r.get('state', 'COMPLETE'))}",
    ]
    return "<br>".join(lines)


def plot_front(rows: Sequence[Mapping[str, Any]], png_path: Optional[Union[str, Path]],
               html_path: Optional[Union[str, Path]], *, title: str = "Pareto front") -> None:
    """A PNG (matplotlib: every trial grey, the front highlighted and joined) and an interactive
    HTML (plotly, self-contained so it opens offline: hover shows trial, mixers per block and T).
    Either path may be None to skip that file. Axes: energy (mJ per image) and accuracy."""
    mask = row_front_mask(rows)
    drawn = [(r, on) for r, on in zip(rows, mask) if _row_point(r) is not None]
    front = front_rows(rows)
    knee = knee_row(rows)
    if png_path is not None:
        _plot_png(drawn, front, knee, Path(png_path), title)
    if html_path is not None:
        _plot_html(drawn, front, knee, Path(html_path), title)


def _plot_png(drawn, front, knee, path: Path, title: str) -> None:
    # The object API with the Agg canvas: no pyplot, no global backend switch, safe in workers.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    done = [r for r, _ in drawn if _state_name(r.get("state", "COMPLETE")) == "COMPLETE"]
    other = [r for r, _ in drawn if _state_name(r.get("state", "COMPLETE")) != "COMPLETE"]
    if done:
        ax.scatter([r["energy_mj"] for r in done], [r["val_acc"] for r in done], c="0.6", s=18, label="trials")
    if other:
        ax.scatter([r["energy_mj"] for r in other], [r["val_acc"] for r in other], c="0.75", marker="x", s=18,
                   label="stopped / failed (not on the front)")
    if front:
        ax.plot([r["energy_mj"] for r in front], [r["val_acc"] for r in front], "-o", c="tab:red", ms=5,
                label="Pareto front", drawstyle="steps-post")
        for r in front:
            ax.annotate(str(r.get("number")), (r["energy_mj"], r["val_acc"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7, color="tab:red")
    if knee is not None:
        ax.scatter([knee["energy_mj"]], [knee["val_acc"]], s=120, facecolors="none", edgecolors="k", label="knee")
    ax.set_xlabel("energy (mJ per image)")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def _plot_html(drawn, front, knee, path: Path, title: str) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    rest = [(r, on) for r, on in drawn if not on]
    fig.add_trace(go.Scatter(
        x=[r["energy_mj"] for r, _ in rest], y=[r["val_acc"] for r, _ in rest], mode="markers", name="trials",
        marker=dict(color="lightgrey", size=8, line=dict(color="grey", width=1)),
        text=[_hover(r, False) for r, _ in rest], hovertemplate="%{text}<extra></extra>",
    ))
    fig.add_trace(go.Scatter(
        x=[r["energy_mj"] for r in front], y=[r["val_acc"] for r in front], mode="lines+markers",
        name="Pareto front", line=dict(color="crimson", shape="hv"), marker=dict(color="crimson", size=10),
        text=[_hover(r, True) for r in front], hovertemplate="%{text}<extra></extra>",
    ))
    if knee is not None:
        fig.add_trace(go.Scatter(
            x=[knee["energy_mj"]], y=[knee["val_acc"]], mode="markers", name="knee",
            marker=dict(symbol="circle-open", size=18, color="black"), hoverinfo="skip",
        ))
    fig.update_layout(title=title, xaxis_title="energy (mJ per image)", yaxis_title="validation accuracy",
                      template="plotly_white")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Self-contained (plotly.js inlined): the quick start runs offline.
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def rows_from_trials(trials: Iterable[Any], metric_names: Sequence[str] = ("val_acc", "energy_mj")) -> list[dict]:
    """Rows from optuna FrozenTrials: values by `metric_names` (falling back to user_attrs
    "metrics"), mixers per block and T from user_attrs "config" (else the params)."""
    rows = []
    for t in trials:
        metrics = dict(t.user_attrs.get("metrics") or {})
        if t.values is not None:
            metrics.update(dict(zip(metric_names, t.values)))
        cfg = t.user_attrs.get("config") or {}
        mixers = cfg.get("mixers") or [v for k, v in sorted(t.params.items()) if k.startswith("mixer_")]
        depth = cfg.get("depth", len(mixers))
        if len(mixers) == 1 and depth and depth > 1:
            mixers = list(mixers) * depth
        rows.append({
            "number": t.number,
            "val_acc": metrics.get("val_acc"),
            "energy_mj": metrics.get("energy_mj"),
            "mixers": list(mixers),
            "T": cfg.get("T", t.params.get("T")),
            "state": _state_name(t.state),
        })
    return rows
