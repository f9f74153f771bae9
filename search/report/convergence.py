"""Did the search converge: the hypervolume of the front after every finished trial, against the
trials and against the compute they took; for the supernet strategy, what the supernet estimated
against what training confirmed.

- Trials count as the budget does (`search.records.counted`), in the order they finished; the
  hypervolume after each is `search.front.Front`'s over the trials finished by then, at the
  study's fixed reference point (the figure MLflow logs as `hypervolume`).
- Compute is each trained trial's wall-clock time (Optuna's start to finish) times the resources a
  trial holds (`resources.gpu` GPUs, else `resources.cpu` CPUs: GPU- or CPU-seconds), summed in
  finishing order, every attempt included (an interrupted attempt used its machine too). A study
  that did not record its resources is measured in trial-seconds.
- Supernet studies: the estimated front is `Front` over the candidate study (`<study>.supernet`,
  scores with inherited weights); the confirmed front is the study's own; every confirmed trial
  pairs its inherited scores with its stand-alone result (Kendall's tau over the pairs). Their
  compute counts the confirmed trials only; the candidates' scoring time is given beside it, the
  supernet's training is in its own MLflow run (the Optuna storage does not hold it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from search.front import Front, Objectives
from search.records import TrialRecord, counted


@dataclass(frozen=True)
class Step:
    finished: int  # trials finished so far, as the budget counts them
    number: int  # the trial that finished
    state: str  # COMPLETE | PRUNED | FAIL
    compute: float  # resource-seconds spent by then
    hypervolume: float


@dataclass
class Convergence:
    steps: list[Step]
    unit: str  # "CPU-seconds" | "GPU-seconds" | "trial-seconds"
    running: int = 0  # trained trials not finished yet (a study still running)

    @property
    def hypervolume(self) -> float:
        return self.steps[-1].hypervolume if self.steps else 0.0

    def last_gain(self, share: float = 0.25) -> Optional[float]:
        """How much of the final hypervolume the last `share` of the trials added (None: too few)."""
        n = len(self.steps)
        if n < 4 or self.hypervolume <= 0:
            return None
        before = self.steps[n - 1 - max(1, round(n * share))].hypervolume
        return (self.hypervolume - before) / self.hypervolume


def unit_and_rate(resources: Optional[dict]) -> tuple[str, float]:
    """The compute unit and resource-seconds per wall-clock second of one trial."""
    resources = resources or {}
    gpu, cpu = float(resources.get("gpu") or 0), float(resources.get("cpu") or 0)
    if gpu > 0:
        return "GPU-seconds", gpu
    if cpu > 0:
        return "CPU-seconds", cpu
    return "trial-seconds", 1.0


def curve(trials: Sequence[Any], objectives: Objectives, *, resources: Optional[dict] = None) -> Convergence:
    unit, rate = unit_and_rate(resources)
    trained = [t for t in trials if TrialRecord.of(t).trained]
    ended = sorted((t for t in trained if t.datetime_complete is not None),
                   key=lambda t: (t.datetime_complete, t.number))
    budget = {t.number for t in counted(trials)}
    steps, done, compute = [], [], 0.0
    for t in ended:
        if t.datetime_start is not None:
            compute += (t.datetime_complete - t.datetime_start).total_seconds() * rate
        if t.number not in budget:
            continue
        done.append(t)
        steps.append(Step(len(done), t.number, t.state.name, compute, Front(done, objectives).hypervolume))
    running = sum(1 for t in trained if t.datetime_complete is None)
    return Convergence(steps, unit, running)


@dataclass
class SupernetView:
    estimated: Front  # over the candidates' inherited-weight scores
    confirmed: Front  # the study's own, of the stand-alone trained trials
    # metric -> [(inherited score, trained value, trial number)] of the confirmed trials
    pairs: dict[str, list[tuple[float, float, int]]] = field(default_factory=dict)
    scoring_s: float = 0.0  # wall-clock seconds the candidates took to score (in the driver)

    def kendall(self, metric: str) -> Optional[float]:
        pairs = self.pairs.get(metric) or []
        if len(pairs) < 3:
            return None
        from scipy.stats import kendalltau

        tau = kendalltau([p[0] for p in pairs], [p[1] for p in pairs]).statistic
        return None if tau != tau else float(tau)  # NaN when one side is constant


def supernet_view(study: Any, candidates: Any, objectives: Objectives) -> SupernetView:
    """`study` the Optuna study, `candidates` its `<study>.supernet` candidate study."""
    from search.records import SUPERNET
    from search.supernet import SCORES_ATTR, confirmed_trials

    confirmed = Front.of_study(study, objectives)
    pairs: dict[str, list] = {m: [] for m in objectives.metrics}
    finished = {t.number for t in confirmed.candidates}
    for t in confirmed_trials(study):
        if t.number not in finished:
            continue
        scores = t.user_attrs.get(SCORES_ATTR) or {}
        for m in objectives.metrics:
            trained = confirmed.value(t, m)
            if isinstance(scores.get(m), (int, float)) and trained is not None:
                pairs[m].append((float(scores[m]), trained, t.number))
    estimated = Front.of_study(candidates, objectives, kind=SUPERNET)
    scoring = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in estimated.trials
                  if t.datetime_start is not None and t.datetime_complete is not None)
    return SupernetView(estimated, confirmed, pairs, scoring)
