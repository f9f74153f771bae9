"""Pareto geometry (pure): non-dominated mask, hypervolume and knee point of points in any number of
objectives, each maximised or minimised. `search.front.Front` applies it to a study.

Sorting and hypervolume come from moocore (a maintained C implementation with Python bindings);
directions are handled by a sign flip, so every computation below minimises.

Knee point: among the non-dominated points, each objective is normalised to [0, 1] over the front
(0 = best); with two objectives the knee is the point farthest from the straight line through the
two extreme points, on the side of the ideal point (the bend of the front). With one front point
that point is the knee; with two, or when no point lies below the line, or with more than two
objectives, it is the point nearest the ideal point in the normalised space.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np

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


def ranks(points: Any, directions: Sequence[Direction]) -> np.ndarray:
    """Non-dominated sorting: 0 for the front, 1 for the front of the rest, ... (duplicates alike)."""
    import moocore

    pts, maximise = _as_points(points, directions)
    if len(pts) == 0:
        return np.zeros(0, dtype=int)
    return np.asarray(moocore.pareto_rank(_minimised(pts, maximise)), dtype=int)


def layers(points: Any, directions: Sequence[Direction]) -> list[np.ndarray]:
    """Indices of the points by non-dominated sorting: the front first, then the front of the rest, ..."""
    r = ranks(points, directions)
    return [np.flatnonzero(r == k) for k in np.unique(r)]


def best_subset(points: Any, directions: Sequence[Direction], reference: Sequence[float], k: int) -> list[int]:
    """Indices of k points, best layers of non-dominated sorting first, in the order chosen: greedy
    hypervolume subset selection within each layer (each step adds the point that raises the
    hypervolume of the layer's chosen points most; ties: the earlier point); when a layer runs out,
    or what is left of it adds nothing, the next layer is chosen from the same way, and points that
    added nothing fill up last, in index order."""
    pts, _ = _as_points(points, directions)
    chosen: list[int] = []
    leftover: list[int] = []  # points that added no hypervolume to their layer's choice
    for layer in layers(pts, directions):
        picked: list[int] = []
        rest = [int(i) for i in layer]
        while rest and len(chosen) < k:
            base = hypervolume(pts[picked], directions, reference) if picked else 0.0
            gains = [hypervolume(pts[picked + [i]], directions, reference) - base for i in rest]
            best = max(range(len(rest)), key=lambda j: (gains[j], -rest[j]))
            if gains[best] <= 0:
                break
            picked.append(rest.pop(best))
            chosen.append(picked[-1])
        leftover += sorted(rest)
        if len(chosen) >= k:
            return chosen
    return chosen + leftover[:k - len(chosen)]


def attainment(points: Any, sets: Sequence[Any], directions: Sequence[Direction],
               levels: Sequence[int]) -> dict[int, np.ndarray]:
    """The empirical attainment surfaces of several runs' points (`sets[i]` names the run of point
    i): {k: the points of the surface attained by at least k of the runs}, in the objectives' own
    units and directions, sorted by the first objective. moocore's EAF, at percentiles 100 k / runs."""
    import moocore

    pts, maximise = _as_points(points, directions)
    runs = list(dict.fromkeys(sets))
    if not runs:
        return {k: pts[:0] for k in levels}
    index = np.array([runs.index(s) + 1 for s in sets])
    percent = {k: 100.0 * k / len(runs) for k in levels}
    surfaces = np.asarray(moocore.eaf(_minimised(pts, maximise), index, percentiles=sorted(set(percent.values()))))
    out = {}
    for k, p in percent.items():
        level = _minimised(surfaces[np.isclose(surfaces[:, -1], p)][:, :-1], maximise)
        out[k] = level[np.lexsort(level.T[::-1])]
    return out


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
