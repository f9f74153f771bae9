"""Setting a study up is all or nothing (search.run.setup): a failure before the first trial leaves
nothing behind, and a study whose setup never completed is created again by the next run."""
from __future__ import annotations

import optuna
import pytest

from search.run import SETUP_COMPLETE, prepare
from search.run import open_records

STUDY = "base: tiny\nspace: {depth: 2, mixers: [ssa, identity], T: [1]}\nsearch: {trials: 2}\n"


def args(study, *, resume=False):
    from search.run import build_parser

    return build_parser().parse_args(["--study", str(study), *(["--resume"] if resume else [])])


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mini.yaml").write_text(STUDY)
    return tmp_path


def test_a_failure_while_opening_mlflow_leaves_nothing(workdir, monkeypatch):
    from search.tracking import Tracker

    def broken(self, *a, **k):
        raise RuntimeError("tracking server fell over")

    monkeypatch.setattr(Tracker, "log_parent_text", broken)  # after the parent run exists
    plan = prepare(args(workdir / "mini.yaml"))
    with pytest.raises(RuntimeError, match="fell over"):
        open_records(plan)
    assert sorted(p.name for p in workdir.iterdir()) == ["mini.yaml"]


def test_a_failure_with_existing_stores_removes_only_what_it_made(workdir, monkeypatch):
    from search.tracking import Tracker

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="other", storage=f"sqlite:///{workdir / 'optuna.db'}")
    monkeypatch.setattr(Tracker, "log_parent_text", lambda self, *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        open_records(prepare(args(workdir / "mini.yaml")))
    assert optuna.get_all_study_names(f"sqlite:///{workdir / 'optuna.db'}") == ["other"]


def test_a_half_made_study_is_created_again_by_a_plain_run_or_resume(workdir):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    optuna.create_study(study_name="mini", storage=storage, directions=["maximize", "minimize"])  # killed in setup
    for resume in (False, True):
        plan = prepare(args(workdir / "mini.yaml", resume=resume))
        assert plan.half_made and not plan.resume
    records = open_records(plan)
    assert records.optuna.user_attrs[SETUP_COMPLETE] and records.tracker.parent_id
    with pytest.raises(Exception, match="already exists .* continue it with --resume"):
        prepare(args(workdir / "mini.yaml"))
    assert prepare(args(workdir / "mini.yaml", resume=True)).resume
