"""How a trained trial ended, decided from what it reported (pure, unit-tested).

The trainable reports every epoch, then one final result (`final: True`): the training result, or
`failed: True` with the error. States:

- COMPLETE: trained to the end, and every objective is a finite number in the result;
- PRUNED: stopped early by the search's rule (its partial values never count as finished);
- FAIL: the model failed (an exception in training, a NaN loss, out of memory), the final result
  lacks an objective, or the trial ended without any final result (its worker died);
- INTERRUPTED: the search was stopping (Ctrl-C, SIGTERM) before the trial finished: it is queued
  again and does not count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

#: Keys Ray Tune adds to every result, and the trainable's own bookkeeping keys.
_NOT_METRICS = {"done", "trial_id", "experiment_tag", "final", "failed", "error", "traceback", "should_checkpoint",
                "__duplicate__", "energy_bound_mj", "timestamp", "training_iteration", "time_this_iter_s",
                "time_total_s", "pid", "hostname", "node_ip", "config", "time_since_restore",
                "iterations_since_restore", "checkpoint_dir_name", "date", "timesteps_total", "episodes_total",
                "timesteps_since_restore"}


@dataclass
class Outcome:
    state: str  # COMPLETE | PRUNED | FAIL | INTERRUPTED
    metrics: dict = field(default_factory=dict)
    error: Optional[str] = None
    traceback: Optional[str] = None

    def values(self, objectives: Sequence[str]) -> Optional[list[float]]:
        return [float(self.metrics[m]) for m in objectives] if self.state == "COMPLETE" else None

    @property
    def epochs(self) -> int:
        return int(self.metrics.get("epochs") or self.metrics.get("epoch") or 0)


def metrics_of(result: Optional[dict]) -> dict[str, Any]:
    """The plain numbers (numpy and torch scalars made plain; NaN stays NaN), None and short strings
    of a result, without Ray's and the trainable's bookkeeping: what a trial reports, logs and keeps."""
    out: dict[str, Any] = {}
    for k, v in (result or {}).items():
        if k in _NOT_METRICS:
            continue
        if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:  # numpy / torch scalars
            v = v.item()
        if v is None or isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) < 500):
            out[k] = v
    return out


def error_line(err: BaseException) -> str:
    """`Type: first line of the message`, short enough for a tag: how a failed trial's error reads
    wherever it is shown, whether the trainable caught it or Ray reported its worker's death."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    line = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return line[:500]


def finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def classify(last_result: Optional[dict], *, objectives: Sequence[str], stopped_early: bool, stopping: bool,
             error: Optional[str] = None) -> Outcome:
    """The outcome of a trial from its last reported result (None when it reported nothing).

    `stopped_early`: the early-stopping rule stopped it; `stopping`: the whole search is stopping;
    `error`: what Ray said when the trial's worker failed outside the trainable's own reporting.
    """
    last = last_result or {}
    metrics = metrics_of(last)
    if last.get("final") and last.get("failed"):
        return Outcome("FAIL", metrics, error=str(last.get("error") or "the trial failed"),
                       traceback=last.get("traceback"))
    if last.get("final"):
        missing = [m for m in objectives if not finite_number(metrics.get(m))]
        if missing:
            return Outcome("FAIL", metrics, error=f"objective(s) {', '.join(missing)} missing or not finite in the result")
        return Outcome("COMPLETE", metrics)
    if stopped_early:
        return Outcome("PRUNED", metrics)
    if stopping:
        return Outcome("INTERRUPTED", metrics, error="interrupted: the search was stopped before the trial finished")
    return Outcome("FAIL", metrics, error=error or "the trial ended without a final result")
