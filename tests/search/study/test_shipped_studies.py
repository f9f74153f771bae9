"""Every shipped study (every `studies/*.yaml`, so a new file is picked up here) runs end to end
through `python -m search.run`, shrunk to CPU size, on a small dataset written in its genuine
on-disk format: the real Ray, Optuna and MLflow paths, as a user would first try it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from processes import search_env

from search.study import load_study, repo_studies_dir

STUDIES = sorted(p.stem for p in repo_studies_dir().glob("*.yaml"))
TRIALS = 1  # setup, one trial through Ray and the closing report: what a first try exercises
SHRINK = [f"search.trials={TRIALS}", "search.max_concurrent=1", "train.epochs=1", "train.max_steps_per_epoch=2",
          "train.batch_size=4", "train.energy_batches=1", "train.device=cpu", "train.amp=false",
          "train.num_threads=1", "resources.gpu=0", "resources.cpu=1"]


def write_cifar10(root: Path) -> list[str]:
    from formats import write_cifar_folder

    write_cifar_folder(root, "cifar10", per_batch=20)
    return [f"data.root={root}", "data.download=false"]


def write_dvs128_gesture(root: Path) -> list[str]:
    from event_formats import write_dvs128_gesture as write

    write(root, train_users=5)  # five samples per class: enough for the 20 % stratified validation split
    # 64x64 frames with one maxpool less keep the study's 8x8 token grid (docs/guides/datasets.md) at a
    # quarter of the CPU time.
    return [f"data.root={root}", "data.download=false", "data.resize=64", "arch.img_size=64", "arch.sps_pools=3"]


def offline(root: Path) -> list[str]:
    return []


#: dataset name -> writer of a small copy in its genuine format (returns the data overrides).
DATA = {"cifar10": write_cifar10, "dvs128_gesture": write_dvs128_gesture, "digits": offline, "digits_dvs": offline}


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", STUDIES)
def test_shipped_study_runs_end_to_end_on_cpu(name, tmp_path):
    from mlflow.tracking import MlflowClient

    study = load_study(name)
    dataset = study.base.data.name
    assert dataset in DATA, f"study '{name}' reads '{dataset}': add a writer of its genuine format to DATA"
    overrides = DATA[dataset](tmp_path / "data")
    r = subprocess.run([sys.executable, "-m", "search.run", "--study", name, *SHRINK, *overrides], cwd=tmp_path,
                       env=search_env(), capture_output=True, text=True, timeout=580)
    assert r.returncode == 0, r.stdout + r.stderr[-4000:]
    assert f"[  {TRIALS}/{TRIALS}]" in r.stdout and "failed 0" in r.stdout, r.stdout

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id])
    parents = [run for run in runs if run.data.tags.get("role") == "study"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    params = parents[0].data.params
    assert any(k.startswith("space.") for k in params), sorted(params)
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(int(c.data.tags["trial"]) for c in children) == list(range(TRIALS))
    assert all(c.info.status == "FINISHED" and "val_acc" in c.data.metrics for c in children)
