"""Nothing finished is lost: a search on a real two-node Ray cluster survives a node killed mid-trial,
and a search tracking to a real `mlflow server` survives the server going away for longer than
MLflow's own retries. Every server and node listens on 127.0.0.1 and is stopped by its test."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import HERE, kill_group, search_env, start, wait_for

STUDY = """\
name: {name}
base: tiny
data: {{name: digits}}
train: {{epochs: {epochs}, max_steps_per_epoch: {steps}, batch_size: 32, device: cpu, amp: false, num_threads: 1,
         energy_batches: 1, warmup_epochs: 0}}
space: {{depth: 2, mixers: [ssa, fft2d, identity], T: [1, 2]}}
search: {{trials: {trials}, max_concurrent: 1, sampler: random, seed: 1}}
resources: {{cpu: 1, gpu: 0}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_records(workdir: Path, name: str, budget: int, epochs: int, tracking_uri: str) -> tuple:
    """Exactly `budget` finished trials, one MLflow child each, every epoch step logged once."""
    import optuna
    from mlflow.tracking import MlflowClient
    from optuna.trial import TrialState

    from search.records import counted

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / 'optuna.db'}")
    trials = study.get_trials(deepcopy=False)
    done = counted(trials)  # what the budget counts, as the ledger and the hypervolume history count it
    assert len(done) == budget and all(t.state == TrialState.COMPLETE for t in done), \
        [(t.number, t.state.name, t.user_attrs.get("error")) for t in trials]
    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    parent = next(r for r in runs if r.data.tags.get("role") == "study")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(int(c.data.tags["trial"]) for c in children) == sorted(t.number for t in done)
    for child in children:
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "train_loss")]
        assert steps == list(range(1, epochs + 1)), (child.data.tags["trial"], steps)
        assert child.info.status == "FINISHED"
    assert parent.info.status == "FINISHED"
    hv_steps = sorted(m.step for m in client.get_metric_history(parent.info.run_id, "hypervolume"))
    assert sorted(set(hv_steps)) == list(range(1, budget + 1))
    return done, children


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_node_lost_mid_trial_is_retried_from_its_checkpoint_on_the_other_node(tmp_path):
    cluster = subprocess.Popen([sys.executable, str(HERE / "local_cluster.py")], cwd=tmp_path, env=search_env(),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    search = None
    try:
        address = wait_for(cluster, "address ", 300).split("address ")[-1].split()[0]
        assert address.startswith("127.0.0.1:")
        # Trial 0 must outlive its first checkpoint by more than a node takes to join and be killed
        # (on a fast CPU 4 short epochs did not: trial 0 finished and trial 1 was the one killed).
        budget, epochs = 2, 20
        (tmp_path / "cluster.yaml").write_text(STUDY.format(name="cluster", epochs=epochs, steps=30, trials=budget))
        storage = tmp_path / "shared-storage"
        search = start(tmp_path, "--study", "cluster.yaml", "--address", address, "--storage-path", str(storage))
        # Once the first trial has a checkpoint in the shared storage, a second node joins and the
        # first one, the only one trial 0 can be running on, is killed.
        deadline = time.time() + 400
        while not list(storage.glob("*/trial_0_*/checkpoint_*")) and time.time() < deadline and search.poll() is None:
            time.sleep(0.5)
        assert list(storage.glob("*/trial_0_*/checkpoint_*")), "trial 0 never checkpointed"
        for command, answer in (("add", "added"), ("kill-first", "killed")):
            cluster.stdin.write(command + "\n")
            cluster.stdin.flush()
            wait_for(cluster, answer, 120, [])
        out, _ = search.communicate(timeout=600)
        assert search.returncode == 0, out[-4000:]
        assert "infrastructure failure" in out and "restarts it from its last checkpoint" in out, out[-3000:]
        done, _ = check_records(tmp_path, "cluster", budget, epochs, f"sqlite:///{tmp_path / 'mlflow.db'}")
        from search.records import TrialRecord

        retried = [t for t in done if TrialRecord.of(t).infra_failures]
        assert len(retried) == 1 and retried[0].number == 0
        assert any(k in TrialRecord.of(retried[0]).infra_failures[0] for k in ("Actor", "Node", "Worker")), \
            TrialRecord.of(retried[0]).infra_failures
    finally:
        if search is not None:
            kill_group(search)
        try:
            cluster.stdin.write("quit\n")
            cluster.stdin.flush()
            cluster.wait(timeout=60)
        except Exception:  # noqa: BLE001 - the cluster is torn down below either way
            pass
        kill_group(cluster)


def start_mlflow(port: int, folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "art")],
        cwd=folder, env=search_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    import urllib.request

    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    kill_group(proc)
    raise AssertionError("mlflow server did not start")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_tracking_server_outage_longer_than_mlflows_retries_loses_nothing(tmp_path):
    port = free_port()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    server = start_mlflow(port, server_dir)
    search = None
    try:
        budget, epochs = 3, 3
        (tmp_path / "outage.yaml").write_text(STUDY.format(name="outage", epochs=epochs, steps=6, trials=budget))
        uri = f"http://127.0.0.1:{port}"
        search = start(tmp_path, "--study", "outage.yaml", "--tracking-uri", uri)
        seen: list = []
        wait_for(search, f"[  1/{budget}]", 400, seen)
        kill_group(server)  # the server goes away mid-study ...
        wait_for(search, "tracking is behind", 300, seen)
        time.sleep(25)  # ... for longer than MLflow's own retries (1 retry, 20 s timeout here)
        server = start_mlflow(port, server_dir)
        out, _ = search.communicate(timeout=600)
        out = "".join(seen) + out
        assert search.returncode == 0, out[-4000:]
        assert "tracking caught up" in out and "Traceback" not in out, out[-4000:]
        check_records(tmp_path, "outage", budget, epochs, uri)
    finally:
        if search is not None:
            kill_group(search)
        kill_group(server)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_tracking_outage_during_supernet_training_and_again_during_scoring_loses_nothing(tmp_path, monkeypatch):
    """The supernet strategy's phases write through the outbox too: a real `mlflow server` goes away
    during supernet training and again during candidate scoring (each time for longer than MLflow's own
    retries), and the study's records end complete: every run, metric and tag, none twice."""
    from mlflow.tracking import MlflowClient

    from search.run import MLFLOW_ENV
    from supernet_study import Stop, prepare, records, write_study

    for key, value in MLFLOW_ENV.items():  # as `search.run` sets them: one fast retry, then the outbox
        monkeypatch.setenv(key, value)
    port = free_port()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    uri = f"http://127.0.0.1:{port}"
    server = start_mlflow(port, server_dir)
    try:
        r = records(tmp_path, write_study(tmp_path, candidates=6, confirm=2), tracking_uri=uri, retry_every=0.5)
        say, log_candidate, outages = r.progress.say, r.log.candidate, []

        def down() -> None:
            kill_group(server)
            outages.append(time.time())

        def up() -> None:
            nonlocal server
            time.sleep(max(0.0, outages[-1] + 3 - time.time()))  # a few MLflow retries' worth, at least
            server = start_mlflow(port, server_dir)

        def watch(text: str) -> None:
            say(text)
            if "supernet epoch 1/" in text:  # down after the first supernet epoch ...
                down()
            elif text.startswith("candidates: scoring"):  # ... up when scoring starts
                up()
            elif text.startswith("supernet front:"):  # up again for the confirmation
                up()

        def candidate(trial, metrics, key) -> None:
            log_candidate(trial, metrics, key)
            if len(r.log._candidates) == 2:  # down again after the second scored candidate
                down()

        r.progress.say, r.log.candidate = watch, candidate
        prepare(r, Stop())
        assert len(outages) == 2
        text = r.text.getvalue()
        assert text.count("tracking is behind") == 2 and text.count("tracking caught up") == 2, text

        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name("tiny_sn")
        runs = client.search_runs([experiment.experiment_id], max_results=100)
        parent = [x for x in runs if x.data.tags.get("role") == "study"]
        assert len(parent) == 1 and parent[0].data.tags["strategy"] == "supernet"
        supernet = [x for x in runs if x.data.tags.get("role") == "supernet"]
        assert len(supernet) == 1 and supernet[0].info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(supernet[0].info.run_id, "train_loss")] == [1, 2]
        assert r.optuna.user_attrs["supernet_run_id"] == supernet[0].info.run_id
        candidates = [x for x in runs if x.data.tags.get("evaluation") == "supernet"]
        import optuna

        from search.records import CANDIDATES_SUFFIX
        from search.supernet import scored

        scored_numbers = [t.number for t in scored(optuna.load_study(study_name="tiny_sn" + CANDIDATES_SUFFIX,
                                                                     storage=r.plan.storage))]
        assert len(scored_numbers) == 6
        assert sorted(int(x.data.tags["candidate"]) for x in candidates) == sorted(scored_numbers), "each once"
        assert all(x.info.status == "FINISHED" and "val_acc" in x.data.metrics for x in candidates)
        assert sum(x.data.tags.get("confirmed") == "true" for x in candidates) == 2
        assert any(x.data.tags["supernet_front"] == "true" for x in candidates)
        artifacts = [a.path for a in client.list_artifacts(parent[0].info.run_id)]
        assert "supernet_candidates.json" in artifacts
    finally:
        kill_group(server)
