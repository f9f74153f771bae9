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

    from search.records import TrialRecord, interrupted_numbers

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / 'optuna.db'}")
    trials = study.get_trials(deepcopy=False)
    interrupted = interrupted_numbers(trials)
    done = [t for t in trials if TrialRecord.of(t).trained and t.number not in interrupted
            and t.state == TrialState.COMPLETE]
    assert len(done) == budget, [(t.number, t.state.name, t.user_attrs.get("error")) for t in trials]
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
        budget, epochs = 2, 4
        (tmp_path / "cluster.yaml").write_text(STUDY.format(name="cluster", epochs=epochs, steps=12, trials=budget))
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
