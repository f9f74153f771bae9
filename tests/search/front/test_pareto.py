"""Pareto geometry against brute force, and the knee on hand examples (the study's front: test_front)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from search.front import hypervolume, knee_index, pareto_mask


def brute_mask(points: np.ndarray, maximise: list[bool]) -> np.ndarray:
    p = np.where(maximise, -points, points)  # minimise everything
    n = len(p)
    return np.array([not any(np.all(p[j] <= p[i]) and np.any(p[j] < p[i]) for j in range(n) if j != i)
                     for i in range(n)], dtype=bool)


def brute_hypervolume(points: np.ndarray, maximise: list[bool], ref: np.ndarray) -> float:
    """Inclusion-exclusion over every subset: the union of the boxes [point, ref]."""
    p = np.where(maximise, -points, points)
    r = np.where(maximise, -ref, ref)
    p = p[np.all(p < r, axis=1)]
    total = 0.0
    for k in range(1, len(p) + 1):
        for subset in itertools.combinations(range(len(p)), k):
            corner = p[list(subset)].max(axis=0)
            total += (-1) ** (k + 1) * float(np.prod(r - corner))
    return total


DIRECTIONS = {
    "min-min": ["minimize", "minimize"],
    "max-min": ["maximize", "minimize"],
    "max-max": ["maximize", "maximize"],
    "3d": ["maximize", "minimize", "minimize"],
}


@pytest.mark.parametrize("kind", list(DIRECTIONS))
@pytest.mark.parametrize("seed", range(6))
def test_mask_and_hypervolume_match_brute_force(kind, seed):
    directions = DIRECTIONS[kind]
    maximise = [d == "maximize" for d in directions]
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 10))
    points = rng.integers(0, 6, size=(n, len(directions))).astype(float)  # small ints: ties and duplicates
    if seed % 2:
        points = rng.random((n, len(directions)))
    assert pareto_mask(points, directions).tolist() == brute_mask(points, maximise).tolist()
    ref = np.where(maximise, -0.5, 6.5)
    assert hypervolume(points, directions, ref) == pytest.approx(brute_hypervolume(points, maximise, ref), abs=1e-9)


def test_hypervolume_edge_cases():
    d = ["maximize", "minimize"]
    assert hypervolume(np.zeros((0, 2)), d, [0, 1]) == 0.0
    assert hypervolume([[0.5, 2.0]], d, [0, 1]) == 0.0  # worse than the reference in energy
    assert hypervolume([[0.5, 0.5]], d, [0, 1]) == pytest.approx(0.25)
    assert hypervolume([[0.5, 0.5], [0.9, 0.8]], d, [0, 1]) == pytest.approx(0.25 + 0.4 * 0.2)
    assert pareto_mask([], d).tolist() == []
    with pytest.raises(ValueError, match="direction must be 'maximize' or 'minimize'"):
        pareto_mask([[1, 2]], ["up", "down"])


def test_knee_on_a_hand_example():
    # accuracy (max) vs energy (min): the front bends at (0.9, 0.3).
    points = [[0.50, 0.10], [0.90, 0.30], [0.95, 1.00], [0.60, 0.90], [0.70, 0.20]]
    d = ["maximize", "minimize"]
    assert knee_index(points, d) == 1
    # Normalised: extremes (0, 1) and (1, 0); (0.9, 0.3) -> (0.111, 0.222) is farthest below the line.
    assert knee_index(points[:1], d) == 0
    # Two points are equally far from the ideal once normalised: the better first objective wins.
    assert knee_index([[0.5, 0.1], [0.9, 0.9]], d) == 1
    assert knee_index([[0.9, 0.9], [0.5, 0.1]], d) == 0
    assert knee_index(np.zeros((0, 2)), d) is None
    # A straight front has no bend: the point nearest the ideal (ties: better first objective).
    assert knee_index([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]], d) == 1
