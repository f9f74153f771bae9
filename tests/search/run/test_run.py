"""End-to-end tests of `python -m search.run` on the real stack: a local Ray, Optuna and MLflow in
sqlite, the `tiny` model on the 8x8 digits. Every search runs as a subprocess in a temporary
working directory, as a user would run it (and so that it can be killed).

One small study (6 trials, 3 epochs of 3 steps, early stopping on, one trial with a NaN loss,
one that raises, later ones reporting accuracy 0) serves most assertions; a second one is stopped
with Ctrl-C, resumed, killed with SIGKILL, and resumed again.
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import kill_group, search_env, start, wait_for


STUDY = """\
name: {name}
base: tiny
data: {{name: digits}}
train: {{epochs: {epochs}, max_steps_per_epoch: 3, batch_size: 32, device: cpu, amp: false, num_threads: 1,
         energy_batches: 1, warmup_epochs: 0}}
space: {{depth: 2, mixers: [ssa, fft2d, identity], T: [1, 2]}}
search:
  trials: {trials}
  max_concurrent: 2
  sampler: random
  seed: {seed}
  early_stop: {{enabled: {early}, grace_epochs: 1, min_trials: 1}}
resources: {{cpu: 1, gpu: 0}}
"""

# Main study: trial 2 gets a NaN loss, trial 3 raises, trials from 4 on report accuracy 0, so the
# early-stopping rule has clear losers (the first two trials train normally and are their peers).
# With the random sampler's seed 5 the first two trials have T=1 and trial 4 is trial 0's mixers at
# T=2: a costlier architecture with a cheaper, more accurate peer at epoch 1, so it must stop there.
MAIN_SEED = 5
FAULTS = "2:nan,3:raise," + ",".join(f"{n}:acc0" for n in range(4, 40))
MAIN_TRIALS = 6
MAIN_EPOCHS = 3


def env(**extra: str) -> dict:
    """The search's environment; faults enter through the trainable seam (tests/search/faulty_trainable.py)."""
    return search_env(**{"FWFORMER_SEARCH_TRAINABLE": "faulty_trainable:run_trial", **extra})


def write_study(workdir: Path, name: str, *, trials: int, epochs: int, early: bool, seed: int = 0) -> Path:
    path = workdir / f"{name}.yaml"
    path.write_text(STUDY.format(name=name, trials=trials, epochs=epochs, early=str(early).lower(), seed=seed))
    return path


def run_search(workdir: Path, *args: str, timeout: float = 400, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search.run", *args], cwd=workdir, env=env(**extra_env),
                          capture_output=True, text=True, timeout=timeout)


def optuna_study(workdir: Path, name: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / 'optuna.db'}")


def mlflow_runs(workdir: Path, name: str) -> tuple:
    """(client, parent run, child runs) of a study's MLflow experiment."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name(name)
    assert exp is not None, f"no MLflow experiment '{name}'"
    runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=1000)
    parents = [r for r in runs if r.data.tags.get("role") == "study"]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) + 1 == len(runs), "every run but the parent is its child"
    return client, parents[0], children


def trained(study) -> list:
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("kind") == "trained"]


def finished_trained(study) -> list:
    """The trials the budget counts (the one definition, `search.records.counted`)."""
    from search.records import counted

    return counted(study.get_trials(deepcopy=False))


# ---- the early-stopping rule (pure) ------------------------------------------------------------------
def test_rule_compares_only_with_cheaper_trials_at_the_same_epoch():
    from search.trials import dominated_at_fidelity as stop

    cheap, dear = 1.0, 5.0
    # Less accurate than every cheaper peer: dominated at this fidelity -> stop.
    assert stop(0.3, dear, [(0.5, cheap), (0.6, cheap), (0.7, cheap)], min_trials=3)
    # The same accuracy on the cheapest model: no cheaper peer exists, so it is never stopped
    # (the low-energy end of the front is protected).
    assert not stop(0.3, 0.5, [(0.5, cheap), (0.6, cheap), (0.7, cheap)], min_trials=3)
    # More expensive peers never count, however accurate.
    assert not stop(0.3, cheap, [(0.9, dear), (0.95, dear), (0.99, dear)], min_trials=1)
    # Too few cheaper peers yet: keep going.
    assert not stop(0.3, dear, [(0.5, cheap), (0.6, cheap)], min_trials=3)
    # Above the median of the cheaper peers: keep going; below a lower percentile: still going.
    assert not stop(0.65, dear, [(0.5, cheap), (0.6, cheap), (0.7, cheap)], min_trials=3)
    assert not stop(0.55, dear, [(0.5, cheap), (0.6, cheap), (0.7, cheap)], percentile=10, min_trials=3)
    # Equal energy counts as "no more expensive"; a NaN accuracy always stops.
    assert stop(0.1, cheap, [(0.5, cheap)], min_trials=1)
    assert stop(float("nan"), cheap, [], min_trials=1)


def test_rule_window_and_settings_come_from_the_study():
    from search.trials import EarlyStopRule
    from search.study import load_study

    study = load_study("quickstart", ["search.early_stop.enabled=true", "search.early_stop.grace_epochs=2",
                                      "search.early_stop.rule=percentile", "search.early_stop.percentile=25"])
    rule = EarlyStopRule.from_study(study)
    assert (rule.enabled, rule.grace_epochs, rule.percentile) == (True, 2, 25.0)
    assert not rule.applies(1, 6) and rule.applies(2, 6) and rule.applies(5, 6)
    assert not rule.applies(6, 6), "never at the last epoch: nothing is left to save"
    assert not EarlyStopRule(enabled=False).applies(3, 6)


# ---- bad input: exit code 2, one line, before Ray starts ----------------------------------------------
BAD_INPUTS = {
    "unknown study": (["--study", "no_such_study"], "unknown study 'no_such_study'"),
    "bad key": (["--study", "{study}", "search.trails=3"], "unknown key 'search.trails'"),
    "bad value": (["--study", "{study}", "search.trials=many"], "search.trials"),
    "bad sampler": (["--study", "{study}", "search.sampler=cmaes"], "search.sampler"),
    "unknown mixer": (["--study", "{study}", "space.mixers=[fft3d]"], "unknown mixer 'fft3d'"),
    "unknown family": (["--study", "{study}", "space.mixers=[dwt]", "space.wavelets=[nosuch]"], "nosuch"),
    "no valid model": (["--study", "{study}", "space.constraints.max_params=10"], "admit no model"),
    "resume missing": (["--study", "{study}", "--resume"], "cannot resume study 'bad'"),
    "exists without resume": (["--study", "{study}", "name=taken"], "already exists"),
    "unknown option": (["--study", "{study}", "--bogus"], "unrecognized arguments: --bogus"),
    "override without value": (["--study", "{study}", "search.trials"], "key=value"),
    "trainable seam": (["--study", "{study}"], "FWFORMER_SEARCH_TRAINABLE='nosuch:run'"),
}


@pytest.fixture(scope="module")
def bad_input_results(tmp_path_factory):
    """All bad-input commands, run side by side (each loads torch for its checks)."""
    import optuna

    workdir = tmp_path_factory.mktemp("bad")
    study = write_study(workdir, "bad", trials=2, epochs=1, early=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    taken = optuna.create_study(study_name="taken", storage=f"sqlite:///{workdir / 'optuna.db'}",
                                directions=["maximize", "minimize"])
    taken.set_user_attr("setup_complete", True)  # a study that exists (one whose setup broke is made again)
    procs = {}
    for case, (args, _) in BAD_INPUTS.items():
        extra = {"FWFORMER_SEARCH_TRAINABLE": "nosuch:run"} if case == "trainable seam" else {}
        procs[case] = subprocess.Popen([sys.executable, "-m", "search.run", *(a.format(study=study) for a in args)],
                                       cwd=workdir, env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
    out = {case: (p.wait(timeout=300), *p.communicate()) for case, p in procs.items()}
    return workdir, out


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_before_ray(case, bad_input_results):
    workdir, results = bad_input_results
    rc, stdout, stderr = results[case]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert rc == 2, (case, stdout, stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and BAD_INPUTS[case][1] in lines[0], lines[0]
    assert "starting study" not in stdout
    assert not (workdir / "ray_results").exists() and not (workdir / "mlflow.db").exists()


@pytest.mark.slow
def test_gpu_request_on_a_machine_without_gpu_is_a_user_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    study = write_study(tmp_path, "gpu", trials=1, epochs=1, early=False)
    r = run_search(tmp_path, "--study", str(study), "resources.gpu=0.5", timeout=120)
    assert r.returncode == 2 and "resources.gpu=0.5" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ---- one study, many assertions --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def main_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("main")
    study = write_study(workdir, "e2e", trials=MAIN_TRIALS, epochs=MAIN_EPOCHS, early=True, seed=MAIN_SEED)
    t0 = time.time()
    r = run_search(workdir, "--study", str(study), FWFORMER_TEST_FAULTS=FAULTS)
    print(f"main study: {time.time() - t0:.0f}s\n{r.stdout}\n{r.stderr[-3000:]}")
    assert r.returncode == 0, r.stdout + r.stderr
    return workdir, r


@pytest.mark.slow
def test_study_runs_and_reports_progress(main_study):
    workdir, r = main_study
    for n in range(1, MAIN_TRIALS + 1):
        assert f"[{n:>3}/{MAIN_TRIALS}]" in r.stdout
    assert "front" in r.stdout and "hypervolume" in r.stdout and "running" in r.stdout and "failed" in r.stdout
    assert "Pareto front (" in r.stdout and "mixers per block" in r.stdout
    # The report's findings: the placement in words; six trials are too few to say what matters.
    assert "placement on the Pareto front (" in r.stdout and "  block 0: " in r.stdout
    assert "too few finished trials to tell what matters" in r.stdout
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db" in r.stdout
    assert (workdir / "optuna.db").is_file() and (workdir / "mlflow.db").is_file()


@pytest.mark.slow
def test_optuna_holds_budget_states_and_records(main_study):
    from optuna.trial import TrialState

    workdir, _ = main_study
    study = optuna_study(workdir, "e2e")
    done = finished_trained(study)
    assert len(done) == MAIN_TRIALS
    assert not [t for t in study.get_trials(deepcopy=False) if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert study.metric_names == ["val_acc", "energy_mj"]
    keys = [t.user_attrs["canonical_key"] for t in done]
    assert len(keys) == len(set(keys)), "an architecture was trained twice"
    for t in done:
        if t.state == TrialState.COMPLETE:
            assert set(t.user_attrs) >= {"config", "canonical_key", "mlflow_run_id", "metrics", "seed"}
            assert list(t.values) == [t.user_attrs["metrics"]["val_acc"], t.user_attrs["metrics"]["energy_mj"]]
    # A repeat proposal is told the earlier outcome and trains nothing.
    for t in study.get_trials(deepcopy=False):
        if "duplicate_of" in t.user_attrs and t.state == TrialState.COMPLETE:
            source = study.trials[t.user_attrs["duplicate_of"]]
            assert list(t.values) == list(source.values)


@pytest.mark.slow
def test_failing_trials_are_recorded_and_the_study_goes_on(main_study):
    from optuna.trial import TrialState

    workdir, _ = main_study
    study = optuna_study(workdir, "e2e")
    failed = {t.number: t for t in trained(study) if t.state == TrialState.FAIL}
    assert "NonFiniteLossError" in failed[2].user_attrs["error"]
    assert "RuntimeError: injected fault" in failed[3].user_attrs["error"]
    assert max(t.number for t in finished_trained(study)) > 3, "trials after the failures ran"
    _, _, children = mlflow_runs(workdir, "e2e")
    by_trial = {int(r.data.tags["trial"]): r for r in children}
    for n in (2, 3):
        run = by_trial[n]
        assert run.info.status == "FAILED" and run.data.tags["state"] == "FAIL"
        assert run.data.tags["error"] == failed[n].user_attrs["error"]


@pytest.mark.slow
def test_mlflow_holds_parent_one_child_per_trial_and_artifacts(main_study):
    workdir, _ = main_study
    study = optuna_study(workdir, "e2e")
    client, parent, children = mlflow_runs(workdir, "e2e")
    assert parent.info.status == "FINISHED"
    assert study.user_attrs["mlflow_parent_run_id"] == parent.info.run_id
    numbers = sorted(int(r.data.tags["trial"]) for r in children)
    assert numbers == sorted(t.number for t in finished_trained(study)), "exactly one child per trial"
    parent_files = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"pareto_front.png", "pareto_front.html", "pareto_front.csv", "knee.yaml", "study.yaml"} <= parent_files
    report = {"front.png", "placement.png", "importance.png", "convergence.png", "report.html", "report.json"}
    assert {p.name for p in (workdir / "ray_results" / "e2e" / "report").iterdir()} == report
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "report")} == {f"report/{n}" for n in report}
    optuna_by_number = {t.number: t for t in trained(study)}
    for run in children:
        t = optuna_by_number[int(run.data.tags["trial"])]
        assert run.info.run_name == f"trial-{t.number:03d}"
        assert {"mixer_0", "mixer_1", "T"} <= set(run.data.params)
        assert run.data.params["mixer_0"] == t.params["mixer_0"] and run.data.params["T"] == str(t.params["T"])
        assert "arch.yaml" in {a.path for a in client.list_artifacts(run.info.run_id)}
        if run.data.tags["state"] == "COMPLETE":
            assert run.info.status == "FINISHED"
            assert t.user_attrs["mlflow_run_id"] == run.info.run_id
            for key in ("val_acc", "energy_mj", "params", "latency_ms", "peak_mem_mb", "images_per_s", "train_time_s"):
                assert key in run.data.metrics, key
            steps = [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")]
            assert steps == list(range(1, MAIN_EPOCHS + 1)), "per-epoch metrics, step = epoch"


@pytest.mark.slow
def test_pareto_tags_csv_and_hypervolume_follow_the_front(main_study):
    import csv

    import numpy as np
    from optuna.trial import TrialState

    from search.front import hypervolume, pareto_mask

    workdir, _ = main_study
    study = optuna_study(workdir, "e2e")
    client, parent, children = mlflow_runs(workdir, "e2e")
    complete = [t for t in trained(study) if t.state == TrialState.COMPLETE]
    mask = pareto_mask([t.values for t in complete], ["maximize", "minimize"])
    front = {t.number for t, on in zip(complete, mask) if on}
    assert front
    tags = {int(r.data.tags["trial"]): r.data.tags["pareto"] for r in children}
    assert tags == {n: ("true" if n in front else "false") for n in tags}
    path = client.download_artifacts(parent.info.run_id, "pareto_front.csv", str(workdir))
    with open(path) as f:
        assert {int(row["trial"]) for row in csv.DictReader(f)} == front
    history = sorted(client.get_metric_history(parent.info.run_id, "hypervolume"), key=lambda m: m.step)
    assert [m.step for m in history] == list(range(1, MAIN_TRIALS + 1))
    values = [m.value for m in history]
    assert all(b >= a for a, b in zip(values, values[1:])), f"hypervolume decreased: {values}"
    reference = study.user_attrs["reference_point"]
    assert math.isclose(values[-1], hypervolume([t.values for t in complete], ["maximize", "minimize"], reference))
    assert np.isfinite(values).all() and values[-1] > 0


@pytest.mark.slow
def test_early_stopped_trials_stay_out_of_the_front(main_study):
    from optuna.trial import TrialState

    workdir, r = main_study
    study = optuna_study(workdir, "e2e")
    pruned = [t for t in trained(study) if t.state == TrialState.PRUNED]
    assert 4 in {t.number for t in pruned}, "trial 4 is dominated at epoch 1 by trial 0 (see MAIN_SEED)"
    _, _, children = mlflow_runs(workdir, "e2e")
    by_trial = {int(c.data.tags["trial"]): c for c in children}
    best = {t.number for t in study.best_trials}
    for t in pruned:
        assert t.values is None and t.number not in best
        assert 1 <= t.user_attrs["stopped_at_epoch"] < MAIN_EPOCHS
        run = by_trial[t.number]
        assert run.data.tags["pareto"] == "false" and run.data.tags["state"] == "PRUNED"
        assert run.info.status == "KILLED"
    assert "stopped " in r.stdout


@pytest.mark.slow
def test_export_then_train_the_knee(main_study, tmp_path, monkeypatch):
    import torch
    import yaml
    from spikingjelly.activation_based import functional

    from fwformer.config import load_config
    from fwformer.data import build_datasets, make_loader, with_data_geometry
    from fwformer.model import build_model
    from fwformer.train import load_checkpoint
    from fwformer.train import main as train_main
    from search.export import main as export_main

    workdir, _ = main_study
    monkeypatch.chdir(workdir)
    export_main(["--study", "e2e", "--pick", "knee", "--out", str(tmp_path / "best.yaml"), "--training", "search"])
    exported = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert exported["provenance"]["study"] == "e2e"
    run = tmp_path / "runs" / "best"
    # 20 steps an epoch instead of the study's 3 (seconds): a model that fires and predicts, whose
    # accuracy depends on its weights, its data and its neuron state.
    result = train_main(["--config", str(tmp_path / "best.yaml"), "train.max_steps_per_epoch=20", "--out", str(run),
                         "--quiet"])
    assert result["energy_mj"] > 0 and result["val_acc"] > 0.2  # ten classes: above chance
    # The reported accuracy and loss are the checkpoint's on the validation split, recounted from its logits.
    state = load_checkpoint(run)
    cfg = with_data_geometry(load_config(state["config"]))
    model = build_model(cfg)
    model.load_state_dict(state["model"])
    model.eval()
    _, val_ds, _ = build_datasets(cfg, normalization=state["normalization"])
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for x, y in make_loader(val_ds, cfg, train=False, device="cpu"):
            functional.reset_net(model)
            logits = model(x)
            correct += int((logits.argmax(dim=1) == y).sum())
            loss_sum += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
    assert result["num_val"] == len(val_ds) and result["val_acc"] == correct / len(val_ds)
    assert result["val_loss"] == pytest.approx(loss_sum / len(val_ds), rel=1e-5)


# ---- interruption: Ctrl-C, SIGKILL, resume -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_interrupted_and_killed_study_resumes_to_exactly_its_budget(tmp_path):
    from optuna.trial import TrialState

    budget = 5
    study_file = write_study(tmp_path, "crash", trials=budget, epochs=2, early=False)
    args = ["--study", str(study_file), f"search.trials={budget}"]

    # 1. Ctrl-C after the first finished trial: a clean stop that says how to resume.
    proc = start(tmp_path, *args, env=env())
    try:
        wait_for(proc, f"[  1/{budget}]")
        os.killpg(proc.pid, signal.SIGINT)  # the terminal sends it to the whole foreground group
        out, _ = proc.communicate(timeout=180)
    finally:
        kill_group(proc)
    assert proc.returncode == 130, out
    assert "--resume" in out and "Traceback" not in out
    study = optuna_study(tmp_path, "crash")
    assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    _, parent, _ = mlflow_runs(tmp_path, "crash")
    assert parent.info.status == "KILLED"

    # 2. Resume (the overrides come from the stored study), then SIGKILL the driver mid-run.
    proc = start(tmp_path, "--study", str(study_file), "--resume", env=env())
    try:
        seen = wait_for(proc, f"[  3/{budget}]")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        time.sleep(2)
        kill_group(proc)
    assert "resuming study 'crash'" in seen

    # 3. Resume again: it ends with exactly the budget, nothing trained twice, no duplicate runs.
    r = run_search(tmp_path, "--study", str(study_file), "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    study = optuna_study(tmp_path, "crash")
    done = finished_trained(study)
    assert len(done) == budget
    assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    keys = [t.user_attrs["canonical_key"] for t in done]
    assert len(keys) == len(set(keys))
    from search.records import interrupted_numbers

    interrupted = interrupted_numbers(study.get_trials(deepcopy=False))
    assert interrupted, "the stops interrupted running trials"
    assert all(study.trials[n].state == TrialState.FAIL for n in interrupted)
    requeued = {t.user_attrs.get("requeued_from") for t in done} - {None}
    assert requeued, "interrupted trials were trained again"

    client, parent, children = mlflow_runs(tmp_path, "crash")
    assert parent.info.status == "FINISHED"
    assert study.user_attrs["mlflow_parent_run_id"] == parent.info.run_id, "the same parent run throughout"
    numbers = [int(c.data.tags["trial"]) for c in children]
    assert sorted(numbers) == sorted(t.number for t in done), "one child per finished trial, none duplicated"
    assert {c.info.status for c in children} == {"FINISHED"}
    steps = [m.step for m in client.get_metric_history(parent.info.run_id, "hypervolume")]
    assert sorted(set(steps)) == list(range(1, budget + 1))
    history = sorted(client.get_metric_history(parent.info.run_id, "hypervolume"), key=lambda m: (m.step, m.timestamp))
    values = [m.value for m in history]
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:])), values

    # 4. Resumed once more, the finished study says there is nothing to do and how to give it more,
    # 5. which works: one more trial, and the study ends with the raised budget.
    r = run_search(tmp_path, "--study", str(study_file), "--resume")
    assert r.returncode == 0 and "nothing to do: study 'crash' has finished its" in r.stdout, r.stdout + r.stderr
    assert f"search.trials=N --resume (N > {budget})" in r.stdout
    r = run_search(tmp_path, "--study", str(study_file), f"search.trials={budget + 1}", "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(finished_trained(optuna_study(tmp_path, "crash"))) == budget + 1
