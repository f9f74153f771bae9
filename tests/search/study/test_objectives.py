"""A study with objectives other than accuracy/energy: the terminal, the MLflow tags and hypervolume,
the CSV, the knee export and `search.export` all show the same front (search.front)."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from processes import search_env

STUDY = """\
name: latency
base: tiny
data: {name: digits}
train: {epochs: 1, max_steps_per_epoch: 2, batch_size: 32, device: cpu, amp: false, num_threads: 1, energy_batches: 1}
space: {depth: 2, mixers: [ssa, fft2d, identity], T: [1, 2]}
objectives:
  - {metric: val_acc, direction: maximize, reference: 0.0}
  - {metric: latency_ms, direction: minimize, reference: 10000.0}
search: {trials: 4, max_concurrent: 2, sampler: random, seed: 3}
resources: {cpu: 1, gpu: 0}
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_view_of_a_latency_study_shows_the_same_front(tmp_path):
    import optuna
    from mlflow.tracking import MlflowClient

    from search.export import export_architecture
    from search.front import study_objectives
    from search.front import Front

    (tmp_path / "latency.yaml").write_text(STUDY)
    r = subprocess.run([sys.executable, "-m", "search.run", "--study", "latency.yaml"], cwd=tmp_path, env=search_env(),
                       capture_output=True, text=True, timeout=580)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    ostudy = optuna.load_study(study_name="latency", storage=storage)
    assert ostudy.metric_names == ["val_acc", "latency_ms"]
    front = Front.of_study(ostudy, study_objectives(ostudy))
    assert front.members, r.stdout

    # The terminal's table.
    table = r.stdout[r.stdout.index("Pareto front ("):].splitlines()
    assert "latency_ms" in table[1] and "energy_mj" not in table[1]
    assert [int(line.split()[0]) for line in table[2:2 + len(front)]] == [t.number for t in front.members]

    # MLflow: pareto tags, hypervolume, CSV and the knee's config on the parent.
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("latency").experiment_id])
    parent = next(run for run in runs if run.data.tags.get("role") == "study")
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    tagged = {int(c.data.tags["trial"]) for c in children if c.data.tags["pareto"] == "true"}
    assert tagged == front.numbers
    history = sorted(client.get_metric_history(parent.info.run_id, "hypervolume"), key=lambda m: m.step)
    assert history[-1].value == pytest.approx(front.hypervolume)
    with open(client.download_artifacts(parent.info.run_id, "pareto_front.csv", str(tmp_path))) as f:
        rows = list(csv.DictReader(f))
    assert [int(row["trial"]) for row in rows] == [t.number for t in front.members]
    assert set(rows[0]) == {"trial", "val_acc", "latency_ms", "T", "mixers", "knee"}
    assert [int(row["trial"]) for row in rows if row["knee"] == "true"] == [front.knee.number]
    knee_file = yaml.safe_load(Path(client.download_artifacts(parent.info.run_id, "knee.yaml", str(tmp_path))).read_text())
    assert knee_file["provenance"]["trial"] == front.knee.number
    assert set(knee_file["provenance"]["objectives"]) == {"val_acc", "latency_ms"}

    # search.export on the same study.
    exported = export_architecture("latency", "knee", tmp_path / "k.yaml", storage=storage)
    assert exported["trial"] == front.knee.number
    fastest = export_architecture("latency", "min-latency_ms", tmp_path / "f.yaml", storage=storage)
    assert fastest["trial"] == min(front.members, key=lambda t: t.values[1]).number
