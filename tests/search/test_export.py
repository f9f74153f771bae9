"""Export from a small Optuna sqlite study with fake finished trials (the end-to-end is in test_run)."""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from fwformer.cli import ConfigError
from fwformer.config import config_to_dict, load_config
from search.export import export_architecture, main
from search.front import parse_pick

REPO = Path(__file__).resolve().parents[2]

# (val_acc, energy_mj, mixers, T): front = trials 0, 1, 2, 4 (3 is dominated by 1).
TRIALS = [
    (0.50, 0.10, ["identity", "identity"], 1),
    (0.90, 0.30, ["ssa", "identity"], 2),
    (0.95, 1.00, ["ssa", "ssa"], 4),
    (0.60, 0.90, ["identity", "ssa"], 4),
    (0.70, 0.20, ["identity", "ssa"], 1),
]


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    folder = tmp_path_factory.mktemp("optuna")
    url = f"sqlite:///{folder / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="toy", storage=url, directions=["maximize", "minimize"])
    with warnings.catch_warnings():  # experimental in Optuna, and what the runner calls
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["val_acc", "energy_mj"])
    study.set_user_attr("base", "tiny")  # as search.run records it: the preset whose recipe trains in full
    dists = {"mixer_0": CategoricalDistribution(["ssa", "identity"]),
             "mixer_1": CategoricalDistribution(["ssa", "identity"]), "T": CategoricalDistribution([1, 2, 4])}
    for i, (acc, energy, mixers, T) in enumerate(TRIALS):
        cfg = load_config("tiny", [f"mixers=[{','.join(mixers)}]", f"T={T}", "train.epochs=1"])
        study.add_trial(create_trial(
            values=[acc, energy], params={"mixer_0": mixers[0], "mixer_1": mixers[1], "T": T}, distributions=dists,
            user_attrs={"kind": "trained", "config": config_to_dict(cfg), "canonical_key": f"key{i}", "mlflow_run_id": f"run{i}",
                        "metrics": {"val_acc": acc, "energy_mj": energy, "params": 1000 + i}, "seed": 100 + i},
        ))
    # A pruned trial better than everything, and a failed one: neither may ever be picked.
    study.add_trial(create_trial(state=TrialState.PRUNED, params={}, distributions={},
                                 user_attrs={"kind": "trained", "config": config_to_dict(load_config("tiny"))}))
    study.add_trial(create_trial(state=TrialState.FAIL, params={}, distributions={},
                                 user_attrs={"kind": "trained", "error": "boom"}))
    optuna.create_study(study_name="other", storage=url, directions=["maximize", "minimize"])
    return url


@pytest.mark.parametrize("pick, trial", [("knee", 1), ("max-acc", 2), ("min-energy", 0), ("energy<=0.25", 4),
                                         ("energy<=0.3", 1), ("acc>=0.65", 4), ("acc>=0.91", 2), ("acc>=90", 1)])
def test_every_pick(storage, tmp_path, pick, trial):
    out = tmp_path / "best.yaml"
    result = export_architecture("toy", pick, out, storage=storage)
    assert result["trial"] == trial and result["path"] == str(out)
    cfg = load_config(out)  # loads (and validates) as an fwformer config: fwformer.train trains it
    acc, energy, mixers, T = TRIALS[trial]
    assert cfg.block_mixers == mixers and cfg.T == T and cfg.name == f"toy-trial{trial}"
    p = cfg.provenance
    assert p["study"] == "toy" and p["trial"] == trial and p["pick"] == pick
    assert p["objectives"] == {"val_acc": acc, "energy_mj": energy}
    assert p["seed"] == 100 + trial and p["data"]["name"] == "digits" and p["canonical_key"] == f"key{trial}"
    assert p["mlflow_run_id"] == f"run{trial}" and p["code_version"]


def test_explicit_trial_and_force(storage, tmp_path):
    out = tmp_path / "t.yaml"
    assert export_architecture("toy", None, out, storage=storage, trial=3)["trial"] == 3  # off the front is fine
    with pytest.raises(ConfigError, match=r"'.*t\.yaml' exists; pass --force to overwrite it"):
        export_architecture("toy", "knee", out, storage=storage)
    assert load_config(out).provenance["trial"] == 3  # untouched
    export_architecture("toy", "knee", out, storage=storage, force=True)
    assert load_config(out).provenance["trial"] == 1
    with pytest.raises(ConfigError, match=r"trial 5 of study 'toy' is PRUNED; finished trials with a config: 0, 1"):
        export_architecture("toy", None, tmp_path / "p.yaml", storage=storage, trial=5)


def test_pick_that_matches_nothing_says_what_the_front_offers(storage, tmp_path):
    with pytest.raises(ConfigError, match=r"pick 'energy<=0.05' matches no point of the Pareto front; the front "
                                          r"offers: trial 0: val_acc 0.5 / energy_mj 0.1, trial 4: val_acc 0.7 / "
                                          r"energy_mj 0.2, trial 1: val_acc 0.9 / energy_mj 0.3, trial 2: val_acc "
                                          r"0.95 / energy_mj 1 \(study 'toy'\)"):
        export_architecture("toy", "energy<=0.05", tmp_path / "x.yaml", storage=storage)
    with pytest.raises(ConfigError, match=r"pick 'acc>=0.99' matches no point"):
        export_architecture("toy", "acc>=0.99", tmp_path / "x.yaml", storage=storage)
    assert not (tmp_path / "x.yaml").exists()


def test_unknown_study_and_storage(storage, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown study 'tyo' \(did you mean: toy\?\) in storage .*; "
                                          r"it holds: other, toy"):
        export_architecture("tyo", "knee", tmp_path / "x.yaml", storage=storage)
    with pytest.raises(ConfigError, match=r"study 'other' has no COMPLETE trial with a config yet \(no trials\)"):
        export_architecture("other", "knee", tmp_path / "x.yaml", storage=storage)
    with pytest.raises(ConfigError, match=r"no Optuna storage at 'sqlite:///.*nowhere\.db'"):
        export_architecture("toy", "knee", tmp_path / "x.yaml", storage=f"sqlite:///{tmp_path / 'nowhere.db'}")
    assert not (tmp_path / "nowhere.db").exists()


@pytest.mark.parametrize("bad", ["best", "energy<=lots", "max-", "acc=0.5", "energy<0.5"])
def test_bad_picks(bad):
    with pytest.raises(ConfigError, match=r"unknown pick .*expected one of: knee, max-<metric>, min-<metric>, "
                                          r"<metric><=X, <metric>>=X"):
        parse_pick(bad, ["val_acc", "energy_mj"])


def test_cli(storage, tmp_path, capsys):
    out = tmp_path / "cli.yaml"
    main(["--study", "toy", "--pick", "min-energy", "--out", str(out), "--storage", storage])
    assert "trial 0 of study 'toy'" in capsys.readouterr().out
    assert yaml.safe_load(out.read_text())["provenance"]["trial"] == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["--study", "toy", "--pick", "knee", "--out", str(out), "--storage", storage])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().endswith("exists; pass --force to overwrite it")
    main(["--study", "toy", "--out", str(out), "--storage", storage, "--force"])  # default pick: knee
    assert yaml.safe_load(out.read_text())["provenance"]["trial"] == 1
    with pytest.raises(SystemExit):
        main(["--study", "toy", "--pick", "knee", "--trial", "1", "--out", str(out), "--storage", storage])
    assert "give --pick or --trial, not both" in capsys.readouterr().err


def test_cli_is_one_line_and_exit_2_in_a_subprocess(storage, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "search.export", "--study", "nope", "--pick", "knee", "--out",
                           str(tmp_path / "x.yaml"), "--storage", storage], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: unknown study 'nope' in storage '{storage}'; it holds: other, toy"]


def test_an_export_holds_the_full_recipe_unless_asked_for_the_search_fidelity(storage, tmp_path):
    """The trials trained 1 epoch (the search's fidelity); `tiny`'s own recipe is 10 epochs at lr 5e-3."""
    tiny = load_config("tiny")
    full = load_config(export_architecture("toy", "knee", tmp_path / "full.yaml", storage=storage)["path"])
    assert full.train.epochs == tiny.train.epochs == 10 and full.train == tiny.train
    assert full.block_mixers == TRIALS[1][2] and full.T == TRIALS[1][3], "the architecture is the trial's"
    trained = full.provenance["training"]
    assert trained["holds"] == "full" and trained["recipe"] == "tiny" and trained["epochs"] == 10
    assert trained["search_trained"]["epochs"] == 1
    search = load_config(export_architecture("toy", "knee", tmp_path / "search.yaml", storage=storage,
                                             training="search")["path"])
    assert search.train.epochs == 1 and search.provenance["training"]["holds"] == "search"
    assert config_to_dict(search)["train"] == config_to_dict(load_config("tiny", ["train.epochs=1"]))["train"]


def test_the_command_says_which_training_the_export_holds(storage, tmp_path, capsys):
    main(["--study", "toy", "--out", str(tmp_path / "a.yaml"), "--storage", storage])
    assert "it trains with the full recipe of tiny: 10 epochs; the search trained 1" in capsys.readouterr().out
    main(["--study", "toy", "--out", str(tmp_path / "b.yaml"), "--storage", storage, "--training", "search"])
    assert "it trains with the search's fidelity: 1 epochs, as the trial trained" in capsys.readouterr().out


def test_a_study_without_its_base_exports_its_fidelity_only_when_asked(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    study = optuna.create_study(study_name="old", storage=url, directions=["maximize", "minimize"])
    cfg = load_config("tiny", ["train.epochs=1"])
    study.add_trial(create_trial(values=[0.9, 0.1], params={}, distributions={},
                                 user_attrs={"kind": "trained", "config": config_to_dict(cfg)}))
    with pytest.raises(ConfigError, match="--training full needs the base preset of study 'old'.*--training search"):
        export_architecture("old", "knee", tmp_path / "x.yaml", storage=url)
    assert not (tmp_path / "x.yaml").exists()
    assert load_config(export_architecture("old", "knee", tmp_path / "x.yaml", storage=url,
                                           training="search")["path"]).train.epochs == 1


@pytest.mark.parametrize("argv, message", [
    (["--training", "fullest"], "argument --training: invalid choice: 'fullest' (choose from"),
    (["--trainign", "full"], "unrecognized arguments: --trainign full"),
])
def test_a_bad_option_is_one_line_exit_2_and_writes_nothing(storage, tmp_path, capsys, argv, message):
    out = tmp_path / "x.yaml"
    with pytest.raises(SystemExit) as exit_info:
        main(["--study", "toy", "--out", str(out), "--storage", storage, *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()
