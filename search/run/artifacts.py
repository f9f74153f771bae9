"""The end of a study execution: the front as a table on the terminal, and the plot (PNG, HTML), the
CSV and the knee's exported config, all from one `Front`, in `ray_results/STUDY/front/` and on the
parent run; then the study's report (`search.report`) in `ray_results/STUDY/report/` and in the
parent run's `report/` folder, its findings on the terminal. The front's files come first: a report
that fails to draw costs a warning, never the study's results. MLflow writes go through the outbox,
so an outage delays them and never fails the end of the study."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from search.front import Front
from search.records import redact


def write_front_artifacts(front: Front, *, study_name: str, storage: str, folder: Path, log: Any, progress: Any,
                          finished: int, base: str = "") -> None:
    """Write the files into `folder` (kept: they are the study's too) and queue them for the parent run."""
    progress.front(front.rows())
    if not front.trials:
        return
    out = folder
    out.mkdir(parents=True, exist_ok=True)
    try:
        from search.report import front_csv, plot_front

        files = [out / "pareto_front.png", out / "pareto_front.html", out / "pareto_front.csv"]
        plot_front(front, files[0], files[1], title=f"{study_name}: Pareto front")
        files[2].write_text(front_csv(front))
        if front.knee is not None:
            from search.export import export_from_front

            export_from_front(front, study_name, "knee", out / "knee.yaml", storage=storage, base=base)
            files.append(out / "knee.yaml")
        log.parent_artifacts(files)
        log.parent_metrics({"front_size": float(len(front)), "trials_finished": float(finished)}, step=finished)
    except Exception as err:  # noqa: BLE001 - the study's records are already safe in Optuna and MLflow
        print(f"warning: could not write the front artifacts: {type(err).__name__}: {err}", file=sys.stderr)


def write_report_artifacts(optuna_study: Any, front: Front, *, storage: str, folder: Path, log: Any, progress: Any,
                           supernet: bool) -> None:
    """The study's report into `folder`, its summary on the terminal, its files queued for the parent run
    (nothing for a study without a trained trial, like the front's files)."""
    try:
        from search.records import TrialRecord
        from search.report import write_report

        if not any(TrialRecord.of(t).trained for t in optuna_study.get_trials(deepcopy=False)):
            return

        candidates = None
        if supernet:  # the estimated front lives in the candidate study of the same storage
            from search.front import candidates_of

            candidates = candidates_of(optuna_study, storage)
        report = write_report(optuna_study, folder=folder, candidates=candidates, storage=redact(storage), front=front)
        for line in report.summary:
            progress.say(line)
        log.parent_artifacts(report.files, folder="report", what="the study's report")
    except Exception as err:  # noqa: BLE001 - the front's files and every record are already written
        print(f"warning: could not write the study's report: {type(err).__name__}: {err}", file=sys.stderr)
