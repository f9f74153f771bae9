"""`python -m search.run` with `search.strategy=supernet` end to end on the real stack (Ray, Optuna and
MLflow in sqlite), shrunk hard: the supernet, its scored candidates and the confirmed trials land in
MLflow, each labelled; the front and the knee export come from the confirmed trials, and the export trains."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from supernet_study import write_study

REPO = Path(__file__).resolve().parents[3]


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "FWFORMER_SEARCH_TRAINABLE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", *args], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_supernet_study_ends_with_confirmed_trials_in_mlflow_and_an_export_that_trains(tmp_path):
    import optuna
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    from fwformer.config import load_config
    from fwformer.train import train
    from search.records import CANDIDATES_SUFFIX
    from search.supernet import scored

    path = write_study(tmp_path, candidates=4, confirm=2)
    out = _run(tmp_path, "search.run", "--study", str(path))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "supernet: training" in out.stdout and "supernet front:" in out.stdout

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.load_study(study_name="tiny_sn", storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 2 and all(t.user_attrs.get("kind") == "trained" for t in trials)
    assert all(t.state.name == "COMPLETE" for t in trials), [(t.state, t.user_attrs.get("error")) for t in trials]
    confirmed = {t.user_attrs["supernet_candidate"] for t in trials}
    assert len(scored(optuna.load_study(study_name="tiny_sn" + CANDIDATES_SUFFIX, storage=storage))) == 4

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny_sn")
    runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=100)
    by = lambda key, value: [r for r in runs if r.data.tags.get(key) == value]  # noqa: E731
    parent = by("role", "study")
    assert len(parent) == 1 and parent[0].data.tags["strategy"] == "supernet"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id]
    assert len(children) == len(runs) - 1 == 1 + 4 + 2, "the supernet, 4 candidates, 2 trials"
    assert by("role", "supernet")[0].data.tags["evaluation"] == "supernet-training"
    candidates = by("evaluation", "supernet")
    assert len(candidates) == 4 and not any("trial" in r.data.tags for r in candidates)
    assert {int(r.data.tags["candidate"]) for r in candidates if r.data.tags.get("confirmed") == "true"} == confirmed
    trained = by("evaluation", "trained")
    assert len(trained) == 2 and {int(r.data.tags["confirms_candidate"]) for r in trained} == confirmed
    assert all(r.data.tags["trial"] in {str(t.number) for t in trials} for r in trained)
    # The report at the end: the supernet's estimate beside its confirmation, on the parent run too.
    report = {p.name for p in (tmp_path / "ray_results" / "tiny_sn" / "report").iterdir()}
    assert {"supernet.png", "placement.png", "report.html"} <= report
    assert {f"report/{n}" for n in report} == {a.path for a in client.list_artifacts(parent[0].info.run_id, "report")}

    out = _run(tmp_path, "search.export", "--study", "tiny_sn", "--pick", "knee", "--out", "best.yaml",
               "--training", "search")
    assert out.returncode == 0, out.stderr[-2000:]
    cfg = load_config(tmp_path / "best.yaml")
    assert cfg.provenance["trial"] in {t.number for t in trials}
    knee = next(t for t in trials if t.number == cfg.provenance["trial"])
    assert [cfg.block_mixers[i] for i in range(2)] == [knee.params["mixer_0"], knee.params["mixer_1"]]
    assert cfg.T == knee.params["T"]
    result = train(cfg, progress=False)
    assert 0.0 <= result["val_acc"] <= 1.0 and result["epochs"] == 2
