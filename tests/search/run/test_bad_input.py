"""Every class of bad input stops the command before any work: exit code 2, one `error:` line that
names the key or value and what is allowed, no traceback, nothing left on disk (issue: a search
must never waste GPU-days). In-process; the subprocess path of the same CLI is in test_run."""
from __future__ import annotations

import numpy as np
import pytest
from cli_errors import closed_port, refuse


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "not-a-zip.npz").write_bytes(b"this is not an npz archive")
    np.savez(tmp_path / "float-labels.npz", images=np.zeros((4, 8, 8), np.uint8), labels=np.zeros(4, np.float32))
    (tmp_path / "a-file").write_text("x")
    return tmp_path


run = refuse


SEARCH_CASES = {
    "missing data file": (["data=npz", "data.path=missing.npz", "search.trials=3", "train.epochs=1"],
                          "data.path 'missing.npz' does not exist"),
    "data file not an npz": (["data=npz", "data.path=not-a-zip.npz"], "not-a-zip.npz"),
    "float labels": (["data=npz", "data.path=float-labels.npz"], "`labels` must be"),
    "npz without a path": (["data=npz"], "needs data.path"),
    "no epochs": (["train.epochs=0"], "train.epochs must be between 1 and 100000"),
    "negative lr": (["train.lr=-1"], "train.lr must be > 0"),
    "absurd T": (["space.T=[1,100000]"], "space.T must hold values up to 64"),
    "unknown supernet distillation": (["search.strategy=supernet", "search.supernet.distill=kd"],
                                      "search.supernet.distill must be one of: none, inplace, but got 'kd'"),
    "unknown supernet batchnorm": (["search.strategy=supernet", "search.supernet.batchnorm=per_T"],
                                   "search.supernet.batchnorm must be one of: shared, per-T, but got 'per_T'"),
    "unwritable storage": (["--storage", "sqlite:///{dir}/a-file/optuna.db"], "does not exist"),
    "unknown tracking scheme": (["--tracking-uri", "ftp://host/mlflow"], "unknown scheme 'ftp'"),
    "tracking server down": (["--tracking-uri", "http://127.0.0.1:{port}"],
                             "MLflow tracking server http://127.0.0.1:{port} does not answer within"),
    "ray cluster down": (["--address", "127.0.0.1:{port}"], "Ray cluster at 127.0.0.1:{port} does not answer"),
    "password in a storage url": (["--storage", "postgresql://me:secret@127.0.0.1:{port}/optuna"],
                                  "postgresql://me:***@127.0.0.1:{port}/optuna"),
    "relative storage path": (["--storage-path", "ckpts"], "--storage-path 'ckpts' must be an absolute folder"),
    "storage path that is a file": (["--storage-path", "{dir}/a-file"], "is a file, not a folder"),
    # root may write almost anywhere by permission bits; creating a file is what decides
    "storage path that cannot be made": (["--storage-path", "/proc/fwformer-ckpts"],
                                         "--storage-path '/proc/fwformer-ckpts' cannot be written"),
}


@pytest.mark.parametrize("case", list(SEARCH_CASES))
def test_search_run(case, workdir, capsys):
    from search.run import main

    port = closed_port()
    args, expected = SEARCH_CASES[case]
    argv = ["--study", "quickstart", *(a.format(dir=workdir, port=port) for a in args)]
    line = run(main, argv, capsys, workdir, expected.format(port=port))
    assert "secret" not in line


def test_train_and_summary_bound_T(workdir, capsys):
    from fwformer.summary import main as summary
    from fwformer.train import main as train

    run(summary, ["tiny", "T=100000"], capsys, workdir, "T must be at most 64")
    run(train, ["--config", "tiny", "T=100000", "--out", str(workdir / "run")], capsys, workdir, "T must be at most 64")


@pytest.mark.parametrize("out, expected", [
    ("{dir}/a-file/best.yaml", "'{dir}/a-file' is not a folder"),
    ("{dir}", "is a folder; give a file name"),
    ("/proc/fwformer-export/best.yaml", "--out '/proc/fwformer-export/best.yaml' cannot be written"),
])
def test_export_out_that_cannot_be_written(out, expected, workdir, capsys):
    import optuna

    from search.export import main as export

    storage = f"sqlite:///{workdir / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="s", storage=storage, directions=["maximize", "minimize"])
    run(export, ["--study", "s", "--out", out.format(dir=workdir), "--storage", storage], capsys, workdir,
        expected.format(dir=workdir))
