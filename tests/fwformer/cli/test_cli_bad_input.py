"""The fwformer and benchmark command lines refuse bad path and URL options as `search.run` does:
exit code 2, one `error:` line, nothing written; one shared check per kind of option
(`fwformer.cli`, its `locations`). The search's cases are in tests/search/run/test_bad_input.py."""
from __future__ import annotations

import pytest
from cli_errors import closed_port, refuse


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "empty.json").write_text('{"results": {}}')  # a curve cache with nothing trained yet
    return tmp_path


@pytest.mark.parametrize("uri, expected", [
    ("ftp://host/mlflow", "--tracking-uri 'ftp://host/mlflow' has an unknown scheme 'ftp'"),
    ("http://127.0.0.1:{port}", "MLflow tracking server http://127.0.0.1:{port} does not answer within"),
    ("sqlite:///{dir}/a-file/mlflow.db", "folder '{dir}/a-file' does not exist"),
    ("postgresql://me:secret@127.0.0.1:{port}/mlflow", "postgresql://me:***@127.0.0.1:{port}/mlflow"),
])
def test_train_tracking_uri(uri, expected, workdir, capsys):
    from fwformer.train import main as train

    port = closed_port()
    line = refuse(train, ["--config", "tiny", "--out", str(workdir / "run"), "--tracking-uri",
                          uri.format(port=port, dir=workdir)], capsys, workdir, expected.format(port=port, dir=workdir))
    assert "secret" not in line


def test_train_tracking_uri_from_the_environment(workdir, capsys, monkeypatch):
    from fwformer.train import main as train

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "ftp://host/mlflow")
    refuse(train, ["--config", "tiny", "--out", str(workdir / "run")], capsys, workdir,
           "MLFLOW_TRACKING_URI 'ftp://host/mlflow' has an unknown scheme 'ftp'")


@pytest.mark.parametrize("out, expected", [
    ("/proc/fwformer-run", "--out '/proc/fwformer-run' cannot be written"),
    ("{dir}/a-file/run", "'{dir}/a-file' is not a folder"),
])
def test_train_out_that_cannot_be_made(out, expected, workdir, capsys):
    from fwformer.train import main as train

    refuse(train, ["--config", "tiny", "--out", out.format(dir=workdir)], capsys, workdir, expected.format(dir=workdir))


def test_evaluate_a_missing_checkpoint(workdir, capsys):
    from fwformer.evaluate import main as evaluate

    refuse(evaluate, ["--checkpoint", str(workdir / "nothing-here")], capsys, workdir, "nothing-here")


@pytest.mark.parametrize("module, argv, expected", [
    ("benchmarks.mixers.cli", ["--quick", "--json", "/proc/fw/mixers.json"], "--json '/proc/fw/mixers.json' cannot be"),
    ("benchmarks.league", ["--json", "{dir}/a-file/league.json"], "'{dir}/a-file' is not a folder"),
    ("benchmarks.league", ["--plot", "{dir}"], "--plot '{dir}' is a folder; give a file name"),
    ("benchmarks.search", ["--json", "{dir}/a-file/x.json"], "'{dir}/a-file' is not a folder"),
    ("benchmarks.supernet", ["--workdir", "{dir}/a-file"], "--workdir '{dir}/a-file' is a file, not a folder"),
    ("benchmarks.search_scale.__main__", ["run", "--cache", "c.json", "--workdir", "w", "--raw", "{dir}/a-file/r.json"],
     "'{dir}/a-file' is not a folder"),
    ("benchmarks.search_scale.__main__", ["run", "--strategies", "tpe", "smac", "--cache", "c.json", "--workdir", "w",
                                          "--raw", "r.json"], "--strategies: unknown smac; allowed: tpe,"),
    ("benchmarks.search_scale.__main__", ["run", "--jobs", "0", "--cache", "c.json", "--workdir", "w", "--raw", "r.json"],
     "--jobs must be >= 1, but got 0"),
    ("benchmarks.search_scale.__main__", ["summarise", "{dir}/none.json"], "no raw runs file {dir}/none.json"),
    ("benchmarks.search_scale.__main__", ["training-free", "{dir}/none.json"], "no raw runs file {dir}/none.json"),
    ("benchmarks.search_scale.__main__", ["interference", "{dir}/none.json"], "no raw runs file {dir}/none.json"),
    ("benchmarks.search_scale.__main__", ["noise", "{dir}/none.json", "--cache", "c.json", "--jobs", "0"],
     "--jobs must be >= 1, but got 0"),
    ("benchmarks.search_scale.__main__", ["noise", "{dir}/none.json", "--cache", "c.json"], "no raw runs file {dir}/none.json"),
    ("benchmarks.search_scale.__main__", ["noise", "{dir}/a-file", "--cache", "c.json", "--league", "{dir}/none.json"],
     "--league {dir}/none.json: no such file"),
    ("benchmarks.search_scale.__main__", ["noise", "{dir}/a-file", "--cache", "c.json", "--league", "{dir}/a-file"],
     "--league {dir}/a-file is not a league JSON: it needs runs"),
    ("benchmarks.search_scale.__main__", ["summarise", "{dir}/a-file", "--json", "{dir}/s.json"], "{dir}/a-file is not a raw runs file (JSON"),
    ("benchmarks.search_scale.__main__", ["progress", "--trials", "0", "--cache", "{dir}/a-file", "--json", "{dir}/p.json"],
     "--trials must be >= 1 (the baseline's budget), but got 0"),
    ("benchmarks.search_scale.__main__", ["progress", "--cache", "{dir}/none.json", "--json", "{dir}/p.json"],
     "--cache {dir}/none.json: no such file (`run --strategies tpe --cache FILE` writes it)"),
    ("benchmarks.search_scale.__main__", ["progress", "{dir}/none.json", "--cache", "{dir}/a-file", "--json", "{dir}/p.json"],
     "no raw runs file {dir}/none.json"),
    ("benchmarks.search_scale.__main__", ["progress", "--cache", "{dir}/a-file", "--json", "{dir}/a-file/p.json"],
     "'{dir}/a-file' is not a folder"),
    ("benchmarks.search_scale.__main__", ["progress", "--dataset", "digits", "--cache", "{dir}/a-file", "--json",
                                          "{dir}/p.json"], "--cache {dir}/a-file is not a curve cache (JSON with results"),
    ("benchmarks.search_scale.__main__", ["progress", "--dataset", "digits", "--cache", "{dir}/empty.json", "--json",
                                          "{dir}/p.json"], "--cache {dir}/empty.json holds no trial of the seed-0 TPE run"),
])
def test_benchmark_outputs(module, argv, expected, workdir, capsys):
    import importlib

    main = importlib.import_module(module).main
    refuse(main, [a.format(dir=workdir) for a in argv], capsys, workdir, expected.format(dir=workdir))
