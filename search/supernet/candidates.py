"""The candidate search: the study's sampler proposes sub-networks, the supernet scores them.

The candidates live in an Optuna study of their own, `<study>.supernet`, in the study's storage:
the same distributions, directions and sampler as the study, but never the study's own Optuna
study, so no supernet score enters the front of trained trials (`search.front.Front` reads that
one). Each candidate trial records (`search.records.TrialRecord`) its kind `supernet`, canonical
key and metrics. A proposal of an architecture already scored is told its earlier values and does
not count; one outside the space's constraints is told PRUNED. The budget
(`search.supernet.candidates`) counts distinct scored sub-networks, so an interrupted and resumed
search ends with exactly that many; candidates left RUNNING by a killed driver are told FAIL.

MLflow: every scored candidate is a child run of the study's parent run, `candidate-NNN`, tagged
`evaluation=supernet`, `candidate=N`, `canonical_key`, `supernet_front` (true / false) and, for the
ones trained stand-alone afterwards, `confirmed=true`. No `trial` tag: that tag marks trained trials.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable

from search.records import CANDIDATES_SUFFIX, INFEASIBLE, REPEAT, SUPERNET, TrialRecord

EVALUATION_TAG = "evaluation"
CANDIDATE_TAG = "candidate"
#: Proposals in a row that are repeats or infeasible before the space counts as exhausted.
MAX_REPEATS = 200


def open_candidates(storage: str, study: Any) -> Any:
    """The study's candidate Optuna study, created or loaded, sampled by the study's own sampler
    (its start-up sized to the candidates' budget)."""
    import optuna

    from search.study import study_sampler

    def sampler_of(trials_in_storage: int) -> Any:
        return study_sampler(study, trials_in_storage=trials_in_storage, budget=study.search.supernet.candidates)

    name = study.name + CANDIDATES_SUFFIX
    if name in optuna.get_all_study_names(storage=storage):
        stored = optuna.load_study(study_name=name, storage=storage)
        return optuna.load_study(study_name=name, storage=storage,
                                 sampler=sampler_of(len(stored.get_trials(deepcopy=False))))
    cstudy = optuna.create_study(study_name=name, storage=storage, sampler=sampler_of(0), directions=study.directions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        cstudy.set_metric_names(study.metric_names)
    cstudy.set_user_attr("scored_by", "supernet")
    return cstudy


def scored(cstudy: Any) -> list:
    """The COMPLETE candidates the supernet scored (repeats not counted), in trial order."""
    return [t for t in cstudy.get_trials(deepcopy=False)
            if t.state.name == "COMPLETE" and TrialRecord.of(t).kind == SUPERNET]


def fail_running(cstudy: Any) -> int:
    """Candidates a killed driver left RUNNING are told FAIL (and proposed again by the sampler)."""
    from optuna.trial import TrialState

    running = cstudy.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in running:
        cstudy.tell(t.number, state=TrialState.FAIL)
    return len(running)


def search_candidates(cstudy: Any, study: Any, score: Callable[[Any], dict], *, budget: int,
                      on_scored: Callable[[Any, dict, str], None], stop: Any) -> bool:
    """Ask, score and tell until `budget` distinct sub-networks are scored; False when stopped or when
    the sampler proposes only repeats (the space is exhausted)."""
    from optuna.trial import TrialState

    from fwformer.config import architecture
    from search.supernet.evaluate import choice_of
    from search.trials import metrics_of

    distributions = study.space.distributions()
    seen = {TrialRecord.of(t).canonical_key: t for t in scored(cstudy)}
    metrics = study.metric_names
    misses = 0
    while len(seen) < budget:
        if stop.is_set() or misses >= MAX_REPEATS:
            return False
        trial = cstudy.ask(distributions)
        cfg = study.trial_config(trial.params)
        key = study.space.canonical_key(cfg)
        violations = study.space.check_constraints(cfg)
        if violations:
            TrialRecord(kind=INFEASIBLE, canonical_key=key, infeasible=violations).write(trial)
            cstudy.tell(trial, state=TrialState.PRUNED)
            misses += 1
            continue
        if key in seen:
            TrialRecord(kind=REPEAT, canonical_key=key, duplicate_of=seen[key].number).write(trial)
            cstudy.tell(trial, list(seen[key].values))
            misses += 1
            continue
        misses = 0
        result = score(choice_of(cfg))
        record = TrialRecord(kind=SUPERNET, canonical_key=key, config={"mixers": architecture(cfg)["mixers"],
                                                                      "T": cfg.T}, metrics=metrics_of(result))
        record.write(trial)
        values = [float(result[m]) for m in metrics]
        cstudy.tell(trial, values)
        seen[key] = _Told(trial.number, values)
        on_scored(trial, result, key)
    return True


class _Told:
    """What a repeat needs of a candidate told in this session."""

    def __init__(self, number: int, values: list):
        self.number, self.values = number, values


def candidate_run(tracker: Any, trial: Any, metrics: dict, key: str) -> str:
    """The candidate's MLflow child run, created finished."""
    return tracker.open_labelled_child(
        f"candidate-{trial.number:03d}", status="FINISHED", params=dict(trial.params),
        metrics=metrics,  # the tracker logs the numeric ones
        tags={EVALUATION_TAG: SUPERNET, CANDIDATE_TAG: str(trial.number), "canonical_key": key,
              "supernet_front": "false", "state": "COMPLETE"})


def logged_candidates(runs: Iterable[Any]) -> dict[int, str]:
    """{candidate number: run id} of the candidates among the study's child runs `runs`."""
    out: dict[int, str] = {}
    for run in runs:
        tags = run.data.tags
        if tags.get(EVALUATION_TAG) == SUPERNET and CANDIDATE_TAG in tags:
            out.setdefault(int(tags[CANDIDATE_TAG]), run.info.run_id)
    return out


def log_missing(cstudy: Any, log: Any) -> None:
    """Queue the runs of the scored candidates MLflow lacks (a killed driver told Optuna first)."""
    for t in scored(cstudy):
        record = TrialRecord.of(t)
        log.candidate(t, record.metrics or {}, record.canonical_key or "")  # once: known ones are skipped


def front_tags(candidates: set[int], front: set[int], chosen: set[int]) -> dict[int, dict[str, str]]:
    """{candidate number: tags} for the candidates on the supernet's front and the confirmed ones (the
    others keep `supernet_front=false` from their creation)."""
    return {n: {"supernet_front": str(n in front).lower(), **({"confirmed": "true"} if n in chosen else {})}
            for n in candidates if n in front or n in chosen}
