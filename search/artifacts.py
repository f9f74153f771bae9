"""The end of a study execution: the front as a table on the terminal, and the plot (PNG, HTML), the
CSV and the knee's exported config, all from one `Front`, in `ray_results/STUDY/front/` and on the
parent run."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from search.front import Front


def write_front_artifacts(front: Front, *, study_name: str, storage: str, folder: Path, log: Any, progress: Any,
                          finished: int) -> None:
    """Write the files into `folder` (kept: they are the study's too) and queue them for the parent run."""
    progress.front(front.rows())
    if not front.trials:
        return
    out = folder
    out.mkdir(parents=True, exist_ok=True)
    try:
        from search.plots import front_csv, plot_front

        files = [out / "pareto_front.png", out / "pareto_front.html", out / "pareto_front.csv"]
        plot_front(front, files[0], files[1], title=f"{study_name}: Pareto front")
        files[2].write_text(front_csv(front))
        if front.knee is not None:
            from search.export import export_architecture

            export_architecture(study_name, "knee", out / "knee.yaml", storage=storage, force=True)
            files.append(out / "knee.yaml")
        log.parent_artifacts(files)
        log.parent_metrics({"front_size": float(len(front)), "trials_finished": float(finished)}, step=finished)
    except Exception as err:  # noqa: BLE001 - the study's records are already safe in Optuna and MLflow
        print(f"warning: could not write the front artifacts: {type(err).__name__}: {err}", file=sys.stderr)
