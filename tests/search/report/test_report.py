"""What a study says (search.report and its parts) on small Optuna studies built in memory or in a
temporary sqlite file, with the user attributes a real search stores (search.records); the report
of a real search is checked by the end-to-end tests (test_run, test_supernet_run)."""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import warnings

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from fwformer.cli import ConfigError
from search.front import Front, Objectives, attainment, ranks

MIXERS = ["ssa", "fft2d", "dwt-haar", "dwt-db2@2", "fft2d+dwt-haar", "identity"]
DISTS = {"mixer_0": CategoricalDistribution(MIXERS), "mixer_1": CategoricalDistribution(MIXERS),
         "T": CategoricalDistribution([1, 2, 4])}
ACC_ENERGY = Objectives(("val_acc", "energy_mj"), ("maximize", "minimize"), (0.0, 1.0))
T0 = dt.datetime(2025, 1, 1)


def trial(values, mixers, T, *, state=TrialState.COMPLETE, kind="trained", start=0.0, seconds=10.0, attrs=None):
    """A trial as search.trials.ledger leaves it: its parameters, kind, resolved config (mixers per block, T)
    and metrics; started `start` s after T0 and `seconds` long."""
    t = create_trial(state=state, values=values if state == TrialState.COMPLETE else None,
                     params={"mixer_0": mixers[0], "mixer_1": mixers[1], "T": T}, distributions=DISTS,
                     user_attrs={"kind": kind, "config": {"mixers": list(mixers), "depth": 2, "T": T},
                                 "canonical_key": f"{mixers}-{T}", "metrics": dict(zip(ACC_ENERGY.metrics, values or [])),
                                 **(attrs or {})})
    t.datetime_start = T0 + dt.timedelta(seconds=start)
    t.datetime_complete = T0 + dt.timedelta(seconds=start + seconds)
    return t


def in_memory(trials, *, name="toy", attrs=None):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, directions=list(ACC_ENERGY.directions))
    for t in trials:
        study.add_trial(t)
    for k, v in (attrs or {}).items():
        study.set_user_attr(k, v)
    return study


# ---- the placement map: families from the registry, hybrids toward their parts --------------------
def test_families_come_from_the_registry_and_hybrids_count_toward_both_parts():
    from search.report import Architecture, count

    archs = [Architecture(("fft2d", "dwt-db2@2"), 1), Architecture(("fft2d+dwt-haar", "ssa"), 1),
             Architecture(("fft2d", "dwt-haar"), 2)]
    p = count(archs, label="Pareto front", noun="front members", mixer_choices=MIXERS, T_choices=[1, 2, 4])
    assert p.size == 3 and p.blocks == 2
    assert (p.counts["fft2d", 0], p.via_hybrid["fft2d", 0]) == (3, 1)
    assert (p.counts["dwt", 0], p.via_hybrid["dwt", 0]) == (1, 1)  # dwt-haar as the hybrid's part
    assert (p.counts["dwt", 1], p.via_hybrid["dwt", 1]) == (2, 0)  # dwt-db2@2 and dwt-haar: one family
    assert p.names["dwt", 1] == {"dwt-db2@2": 1, "dwt-haar": 1}
    assert sum(p.counts[f, 0] for f in p.families) == 4, "block 0 adds up to more than 3: the hybrid counts twice"
    # Rows: most frequent first (ties by name), then the space's families never chosen, which stay empty.
    assert p.families == ["dwt", "fft2d", "ssa", "identity"]
    assert p.counts["identity", 0] == 0
    assert (p.T[1], p.T[2], p.T[4], p.T_choices) == (2, 1, 0, [1, 2, 4])
    assert p.words() == ["block 0: fft2d (1 in a hybrid) in 3 of 3 front members",
                         "block 1: dwt (dwt-db2@2 1, dwt-haar 1) in 2 of 3 front members",
                         "T=1 in 2 of 3 front members"]
    tied = count([Architecture(("ssa",), t) for t in (1, 2, 4)], label="front", noun="members")
    assert tied.words() == ["block 0: ssa in 3 of 3 members", "T=1, T=2 and T=4 in 1 of 3 members each"]


def test_a_newly_registered_family_needs_no_list_of_names(monkeypatch):
    from fwformer.mixers import registry
    from search.report import Architecture, count

    monkeypatch.setitem(registry.FAMILIES, "hyena-", object)
    monkeypatch.setitem(registry.FAMILIES, "hyena-fast-", object)
    monkeypatch.setitem(registry.MIXERS, "sdsa", object)
    p = count([Architecture(("hyena-fast-3", "sdsa+hyena-2"), 1), Architecture(("hyena-2", "nosuch"), 1)],
              label="front", noun="members")
    assert p.counts["hyena-fast", 0] == 1 and p.counts["hyena", 0] == 1, "the longest registered prefix wins"
    assert p.counts["sdsa", 1] == 1 and p.counts["hyena", 1] == 1 and p.via_hybrid["hyena", 1] == 1
    assert p.counts["nosuch", 1] == 1, "a name the registry no longer knows is its own family"


def test_best_quarter_takes_whole_ranks_then_the_most_hypervolume():
    from search.report import best_quarter

    # Ranks: 0 -> trials 0, 1; 1 -> trials 2, 3; 2 -> the rest. A quarter of 12 is 3: rank 0 whole,
    # then the one of rank 1 that dominates more (reference (0, 1)): 3 (0.7 x 0.7) before 2 (0.85 x 0.4).
    points = [(0.9, 0.5), (0.8, 0.2), (0.85, 0.6), (0.7, 0.3)] + [(0.1 + 0.01 * i, 0.9) for i in range(8)]
    trials = [trial(list(p), ["ssa", "ssa"], 1) for p in points]
    for n, t in enumerate(trials):
        t.number = n
    assert [t.number for t in best_quarter(trials, ACC_ENERGY)] == [0, 1, 3]
    assert [t.number for t in best_quarter(trials[:4], ACC_ENERGY)] == [1], "one of four: the most hypervolume"
    assert best_quarter([], ACC_ENERGY) == []


# ---- what matters ------------------------------------------------------------------------------------
def test_too_few_trials_say_so_instead_of_importances():
    from search.report import importances

    trials = [trial([0.5 + 0.05 * i, 0.1 * (i + 1)], [MIXERS[i], "ssa"], 1) for i in range(5)]
    results = importances(trials, ACC_ENERGY.metrics, ACC_ENERGY.directions)
    assert [r.objective for r in results] == ["val_acc", "energy_mj"]
    for r in results:
        assert r.values is None and r.trials == 5 and r.needed == 12 and r.top is None
        assert r.reason == "too few finished trials to tell what matters: 5, and fANOVA over 3 parameters needs at least 12"
    with pytest.raises(ConfigError, match=r"unknown importance evaluator 'shap'; expected one of: fanova, ped-anova"):
        importances(trials, ACC_ENERGY.metrics, ACC_ENERGY.directions, evaluator="shap")


def test_fanova_finds_the_parameter_that_decides_each_objective():
    from search.report import importances

    # Accuracy follows block 0's mixer, energy follows T; block 1 is noise.
    trials = [trial([0.9 if i % 2 else 0.6, 0.1 * [1, 2, 4][i % 3]], [["ssa", "identity"][i % 2], MIXERS[(i * 5) % 6]],
                    [1, 2, 4][i % 3]) for i in range(12)]
    acc, energy = importances(trials, ACC_ENERGY.metrics, ACC_ENERGY.directions)
    assert acc.top[0] == "mixer_0" and energy.top[0] == "T"
    assert acc.trials == 12 and acc.name == "fANOVA" and math.isclose(sum(acc.values.values()), 1.0)


# ---- convergence ------------------------------------------------------------------------------------------
def test_hypervolume_follows_the_finishing_order_and_compute_counts_every_attempt():
    from search.report import curve

    trials = [
        trial([0.5, 0.5], ["ssa", "ssa"], 1, start=0, seconds=30),  # finishes second
        trial([0.8, 0.2], ["fft2d", "ssa"], 2, start=0, seconds=10),  # finishes first
        trial(None, ["ssa", "fft2d"], 4, state=TrialState.PRUNED, start=30, seconds=5),
        trial(None, ["identity", "ssa"], 1, state=TrialState.FAIL, start=35, seconds=20),  # interrupted
        trial(None, ["identity", "ssa"], 1, state=TrialState.FAIL, start=60, seconds=1),  # its retry fails
        trial([0.9, 0.1], ["dwt-haar", "ssa"], 2, kind="repeat", start=70, seconds=0),  # never trained
    ]
    for n, t in enumerate(trials):
        t.number = n
    trials[4].set_user_attr("retry_of", 3)
    conv = curve(trials, ACC_ENERGY, resources={"cpu": 2, "gpu": 0})
    assert conv.unit == "CPU-seconds"
    assert [(s.finished, s.number, s.state) for s in conv.steps] == [(1, 1, "COMPLETE"), (2, 0, "COMPLETE"),
                                                                     (3, 2, "PRUNED"), (4, 4, "FAIL")]
    assert [s.compute for s in conv.steps] == [20.0, 80.0, 90.0, 132.0]  # the interrupted attempt's 40 included
    assert conv.steps[0].hypervolume == pytest.approx(0.8 * 0.8)
    assert conv.steps[-1].hypervolume == pytest.approx(Front(trials, ACC_ENERGY).hypervolume)
    assert curve(trials, ACC_ENERGY, resources={"cpu": 1, "gpu": 0.5}).unit == "GPU-seconds"
    assert curve(trials, ACC_ENERGY).unit == "trial-seconds"  # a study that did not record its resources


def test_supernet_view_pairs_inherited_and_trained_scores():
    from search.report import supernet_view

    scored = [trial([0.7, 0.3], ["ssa", "ssa"], 1, kind="supernet"), trial([0.6, 0.1], ["fft2d", "ssa"], 1, kind="supernet"),
              trial([0.5, 0.4], ["identity", "ssa"], 1, kind="supernet")]
    confirmed = [trial([0.8 - 0.1 * i, 0.3 - 0.1 * i], ["ssa", MIXERS[i]], 1,
                       attrs={"supernet_candidate": i, "supernet_scores": {"val_acc": 0.7 - 0.1 * i, "energy_mj": 0.35}})
                 for i in range(3)]
    view = supernet_view(in_memory(confirmed), in_memory(scored, name="toy.supernet"), ACC_ENERGY)
    assert len(view.estimated.candidates) == 3 and view.estimated.numbers == {0, 1}
    assert [v for a, b, _ in view.pairs["val_acc"] for v in (a, b)] == pytest.approx([0.7, 0.8, 0.6, 0.7, 0.5, 0.6])
    assert view.kendall("val_acc") == pytest.approx(1.0)
    assert view.kendall("energy_mj") is None, "a constant estimate ranks nothing"


# ---- comparison ---------------------------------------------------------------------------------------
def test_comparison_uses_one_common_reference_point_and_groups_seeds():
    from search.report import compare, common_reference

    base = {"study_file": "/s/quickstart.yaml"}
    a = in_memory([trial([0.8, 0.2], ["ssa", "ssa"], 1)], name="a",
                  attrs={**base, "overrides": [], "search": {"sampler": "tpe", "seed": 0, "strategy": "trials"}})
    b = in_memory([trial([0.6, 0.1], ["ssa", "ssa"], 1)], name="b",
                  attrs={**base, "overrides": ["name=b", "search.seed=1"], "search": {"sampler": "tpe", "seed": 1}})
    c = in_memory([trial([0.9, 0.5], ["ssa", "ssa"], 1)], name="c", attrs={**base, "overrides": ["search.sampler=nsga2"]})
    own = [Objectives(ACC_ENERGY.metrics, ACC_ENERGY.directions, r) for r in ((0.1, 1.0), (0.0, 0.5), (0.2, 2.0))]
    assert common_reference(own) == (0.0, 2.0), "the worst reference in every objective"
    comp = compare(list(zip([a, b, c], own)))
    assert comp.objectives.reference == (0.0, 2.0)
    assert [e.hypervolume for e in comp.entries] == pytest.approx([0.8 * 1.8, 0.6 * 1.9, 0.9 * 1.5])
    assert comp.entries[0].front.hypervolume == pytest.approx(0.7 * 0.8), "its own reference stays its own"
    assert [e.label for e in comp.entries] == ["a (tpe, seed 0)", "b (tpe, seed 1)", "c"]
    seeds = [g for g in comp.groups if len(g.entries) > 1]
    assert [[e.name for e in g.entries] for g in seeds] == [["a", "b"]], "a and b differ only in name and seed"
    # Attained by at least one of the two runs: both points; by both: the corner they share.
    assert seeds[0].surfaces[1] == [(0.1, 0.6), (0.2, 0.8)]
    assert seeds[0].surfaces[2] == [(0.2, 0.6)]
    latency = Objectives(("val_acc", "latency_ms"), ACC_ENERGY.directions, (0.0, 1.0))
    with pytest.raises(ConfigError, match=r"studies to compare must declare the same objectives, but 'a' has "
                                          r"val_acc \(maximize\), energy_mj \(minimize\) and 'b' has val_acc"):
        compare([(a, own[0]), (b, latency)])


def test_staircase_and_readable_units():
    from search.report import scale_of, staircase

    # Energy (x) minimised: the accuracy of a point holds until the next point's energy is paid.
    assert staircase([0.3, 0.1], [0.9, 0.5], x_minimised=True) == ([0.1, 0.3, 0.3], [0.5, 0.5, 0.9])
    assert staircase([0.1, 0.3], [0.9, 0.5], x_minimised=False) == ([0.1, 0.1, 0.3], [0.9, 0.5, 0.5])
    assert (scale_of("energy_mj", [0.0004, 0.009]).unit, scale_of("energy_mj", [0.0004]).text(0.0004)) == ("µJ", "0.4 µJ")
    assert scale_of("energy_mj", [0.0004, 0.02]).label == "energy per image (mJ)"
    assert scale_of("val_acc").text(0.9725) == "97.25 %"


# ---- the command line, on a sqlite storage: read only, one line for bad input ------------------------------------
@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rdb = optuna.storages.RDBStorage(url)  # one connection for every study: the schema is set up once
    for name, seed in (("toy", 0), ("toy_s1", 1)):
        study = optuna.create_study(study_name=name, storage=rdb, directions=list(ACC_ENERGY.directions))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(ACC_ENERGY.metrics))
        for k, v in {"reference_point": [0.0, 1.0], "study_file": "toy.yaml", "overrides": [f"search.seed={seed}"],
                     "resources": {"cpu": 1.0, "gpu": 0.0}, "search": {"sampler": "random", "seed": seed}}.items():
            study.set_user_attr(k, v)
        for i, (acc, energy, mixers, T) in enumerate([(0.5, 0.1, ["identity", "fft2d"], 1), (0.9, 0.3, ["fft2d", "ssa"], 2),
                                                      (0.95 - 0.1 * seed, 0.8, ["fft2d+dwt-haar", "ssa"], 4),
                                                      (0.6, 0.9, ["identity", "ssa"], 4)]):
            study.add_trial(trial([acc, energy], mixers, T, start=10 * i))
        study.add_trial(trial(None, ["ssa", "ssa"], 1, state=TrialState.PRUNED, start=50))
    optuna.create_study(study_name="other", storage=rdb, directions=["maximize"])
    optuna.create_study(study_name="toy.supernet", storage=rdb, directions=list(ACC_ENERGY.directions))
    return folder, url


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_report_of_a_stored_study_reads_only_and_writes_every_picture(storage, tmp_path, capsys):
    from search.report import main

    folder, url = storage
    before = _digest(folder / "optuna.db")
    report = main(["--study", "toy", "--storage", url, "--out", str(tmp_path / "r")])
    assert _digest(folder / "optuna.db") == before, "the storage was written"
    names = {p.name for p in report.files}
    # toy.supernet makes it a supernet study, one whose candidates were never scored: an empty estimate.
    assert names == {"front.png", "placement.png", "importance.png", "convergence.png", "supernet.png", "report.html",
                     "report.json"}
    assert all((tmp_path / "r" / n).stat().st_size > 0 for n in names)
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5 and "http://" not in page and "https://" not in page
    out = capsys.readouterr().out
    assert "block 0: fft2d (1 in a hybrid) in 2 of 3 front members" in out
    assert "too few finished trials to tell what matters: 4" in out and "too few finished trials" in page


def test_comparison_from_the_command_line(storage, tmp_path, capsys):
    from search.report import main

    _, url = storage
    report = main(["--study", "toy", "--study", "toy_s1", "--storage", url, "--out", str(tmp_path / "c")])
    assert {p.name for p in report.files} == {"comparison.png", "comparison.html", "comparison.json"}
    out = capsys.readouterr().out
    assert "toy (random, seed 0): hypervolume" in out and "seeds of one setting: toy / toy_s1" in out


BAD = {
    "unknown study": (["--study", "nope"], "error: unknown study 'nope' in storage '{url}'; it holds: other, toy, toy_s1"),
    "near miss": (["--study", "toys"], "error: unknown study 'toys' (did you mean: toy, toy_s1?) in storage"),
    "candidate study": (["--study", "toy.supernet"], "error: 'toy.supernet' holds the supernet's candidates of study "
                                                     "'toy', not trained trials; give --study toy"),
    "objectives differ": (["--study", "toy", "--study", "other"], "error: studies to compare must declare the same "
                                                                  "objectives, but 'toy' has"),
    "bad evaluator": (["--study", "toy", "--importance", "shap"], "error: unknown importance evaluator 'shap'"),
    "storages": (["--study", "toy", "--study", "toy_s1", "--study", "other", "--storage", "{url}", "--storage", "{url}"],
                 "error: --storage must be given once (for every study) or once per --study, but got 2"),
    "no study": ([], "error: the following arguments are required: --study"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_2_before_anything_is_written(case, storage, tmp_path, capsys, monkeypatch):
    from search.report import main

    _, url = storage
    args, message = BAD[case]
    monkeypatch.chdir(tmp_path)
    args = [a.format(url=url) for a in args]
    with pytest.raises(SystemExit) as exit_:
        main([*args, *(["--storage", url] if "--storage" not in args and args else [])])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith(message.format(url=url)), err
    assert list(tmp_path.iterdir()) == [], "nothing may be written"


def test_a_missing_or_foreign_storage_is_one_line_and_stays_as_it_was(tmp_path, capsys, monkeypatch):
    from search.report import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["--study", "quickstart"])  # the default storage, sqlite:///optuna.db here, does not exist
    assert exit_.value.code == 2 and not (tmp_path / "optuna.db").exists()
    assert capsys.readouterr().err.strip() == ("error: no Optuna storage at 'sqlite:///optuna.db' (optuna.db does not "
                                               "exist); run the study first or pass --storage")
    foreign = tmp_path / "notes.db"
    foreign.write_text("not a database")
    with pytest.raises(SystemExit):
        main(["--study", "quickstart", "--storage", f"sqlite:///{foreign}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: cannot open Optuna storage 'sqlite:///{foreign}'")
    assert foreign.read_text() == "not a database" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_pareto_ranks_and_attainment_follow_directions():
    assert ranks([[0.9, 1], [0.8, 2], [0.95, 3]], ACC_ENERGY.directions).tolist() == [0, 1, 0]
    surfaces = attainment([[0.9, 1], [0.95, 3], [0.85, 1.5]], ["a", "a", "b"], ACC_ENERGY.directions, [1, 2])
    assert surfaces[1].tolist() == [[0.9, 1.0], [0.95, 3.0]] and surfaces[2].tolist() == [[0.85, 1.5]]


def test_a_report_that_fails_to_draw_costs_a_warning_not_the_study(monkeypatch, capsys, tmp_path):
    import search.report
    from search.run import write_report_artifacts

    def broken(*args, **kwargs):
        raise RuntimeError("no fonts")

    logged = []
    monkeypatch.setattr(search.report, "write_report", broken)
    study = in_memory([trial([0.8, 0.2], ["ssa", "ssa"], 1)])
    log = type("Log", (), {"parent_artifacts": lambda self, *a, **k: logged.append(a)})()
    front = Front.of_study(study, ACC_ENERGY)
    write_report_artifacts(study, front, storage="sqlite:///x.db", folder=tmp_path, log=log, progress=None,
                           supernet=False)
    assert capsys.readouterr().err.strip() == "warning: could not write the study's report: RuntimeError: no fonts"
    assert logged == []
