"""The statistics the benchmarks report: medians, quartiles, Kendall's tau, and how a figure is printed."""
from __future__ import annotations

import statistics
from typing import Iterable, Optional, Sequence


def median(values: Iterable[Optional[float]]) -> Optional[float]:
    """The median of the values that are not None (None when there are none)."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def quartiles(values: Sequence[Optional[float]]) -> Optional[tuple[float, float]]:
    """First and third quartile (the range below 4 values)."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    if len(values) < 4:
        return (values[0], values[-1])
    q = statistics.quantiles(values, n=4)
    return (q[0], q[2])


def kendall(a: Sequence[float], b: Sequence[float]) -> dict:
    """Kendall's tau-b between two rankings, its p-value and the number of pairs' members."""
    from scipy.stats import kendalltau

    res = kendalltau(a, b)
    return dict(tau=float(res.statistic), p=float(res.pvalue), n=len(a))


def fmt(value: Optional[float], spec: str = ".3g", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)
