"""Terminal progress of a search: one line per finished trial, the front at the end.

Each line: trials finished out of the budget, the trial's outcome and objectives, then the
running totals (done / running / failed / stopped early) and the current front size and
hypervolume. Ray's own output is switched off by the runner, so these lines are what a user sees.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any, Mapping, Optional, Sequence, TextIO

from fwformer.config import expand_block_mixers


def _num(x: Any, digits: int = 4) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return "-"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def arch_text(config: Optional[Mapping[str, Any]]) -> str:
    """`T2 ssa,fft2d,identity,dwt-haar` for a resolved fwformer config."""
    if not config:
        return "-"
    mixers = list(config.get("mixers") or [])
    return f"T{config.get('T')} {','.join(expand_block_mixers(mixers, config.get('depth') or len(mixers) or 1))}"


class Progress:
    def __init__(self, study_name: str, budget: int, objectives: Sequence[tuple[str, str]], *,
                 out: TextIO = sys.stdout):
        self.study_name = study_name
        self.budget = budget
        self.objectives = list(objectives)
        self.out = out
        self.t0 = time.time()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start(self, *, finished: int, resumed: bool, sampler: str, concurrency: int, resources: str,
              storage: str, tracking: str, requeued: Sequence[int] = ()) -> None:
        verb = "resuming" if resumed else "starting"
        self.say(f"{verb} study '{self.study_name}': {finished}/{self.budget} trials finished, sampler {sampler}, "
                 f"up to {concurrency} at a time ({resources} each)")
        if requeued:
            self.say(f"  trials interrupted last time, queued again: {', '.join(map(str, requeued))}")
        self.say(f"  optuna storage {storage}")
        self.say(f"  mlflow tracking {tracking}")

    def trial_finished(self, *, number: int, state: str, metrics: Mapping[str, Any], error: Optional[str],
                       config: Optional[Mapping[str, Any]], counts: Mapping[str, int], running: int,
                       front_size: int, hypervolume: float) -> None:
        finished = sum(counts.values())
        if state == "FAIL":
            what = f"FAILED   {error or ''}"
        else:
            objectives = "  ".join(f"{m} {_num(metrics.get(m))}" for m, _ in self.objectives)
            label = "done    " if state == "COMPLETE" else "stopped "
            where = f" at epoch {metrics.get('epoch')}" if state == "PRUNED" and "epoch" in metrics else ""
            what = f"{label} {objectives}  {arch_text(config)}{where}"
        self.say(f"[{finished:>3}/{self.budget}] trial {number:<3} {what}")
        self.say(f"          done {counts.get('COMPLETE', 0)}  running {running}  failed {counts.get('FAIL', 0)}  "
                 f"stopped early {counts.get('PRUNED', 0)}  |  front {front_size}  hypervolume {_num(hypervolume, 5)}"
                 f"  |  {self.elapsed()}")

    def elapsed(self) -> str:
        s = int(time.time() - self.t0)
        return f"{s // 60}m{s % 60:02d}s"

    def front(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """The front as a table: trial, objectives, T, mixer of every block."""
        if not rows:
            self.say("Pareto front: empty (no trial completed)")
            return
        metrics = [m for m, _ in self.objectives]
        header = ["trial", *metrics, "T", "mixers per block"]
        body = [[str(r["trial"]), *(_num(r.get(m), 4) for m in metrics), str(r.get("T", "-")),
                 " | ".join(r.get("mixers") or [])] for r in rows]
        widths = [max(len(header[i]), *(len(b[i]) for b in body)) for i in range(len(header))]
        self.say(f"Pareto front ({len(rows)} architectures):")
        self.say("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for b in body:
            self.say("  " + "  ".join(c.ljust(w) for c, w in zip(b, widths)))
