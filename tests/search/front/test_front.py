"""The study's front (search.front) and its files (search.report.plots), for default and other objectives."""
from __future__ import annotations

import csv
import io
import math

import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from fwformer.cli import ConfigError
from search.front import Front, Objectives, parse_pick
from search.report import front_csv, plot_front

MIXERS = ["ssa", "fft2d+dwt-haar", "dwt-db2@2", "identity"]
DISTS = {"T": CategoricalDistribution([1, 2, 3])}
ACC_ENERGY = Objectives(("val_acc", "energy_mj"), ("maximize", "minimize"), (0.0, 1.5))
# Points (a, b): the front under max/min is 0, 4, 1, 2 (3 is dominated by 1).
POINTS = [(0.50, 0.10), (0.90, 0.30), (0.95, 1.00), (0.60, 0.90), (0.70, 0.20)]


def trial(number, values, *, state=TrialState.COMPLETE, kind="trained", T=2, metrics=None):
    config = {"mixers": MIXERS, "depth": 4, "T": T}
    return create_trial(state=state, values=values if state == TrialState.COMPLETE else None, params={"T": T},
                        distributions=DISTS, user_attrs={"kind": kind, "config": config, "metrics": metrics or {}})


def study_trials():
    trials = [trial(i, list(p), T=1 + i % 3) for i, p in enumerate(POINTS)]
    trials.append(trial(5, None, state=TrialState.PRUNED, metrics={"val_acc": 0.99, "energy_mj": 0.01}))
    trials.append(trial(6, None, state=TrialState.FAIL))
    trials.append(trial(7, [0.99, 0.01], kind="repeat"))  # a repeat proposal: never on the front itself
    trials.append(trial(8, [float("-inf"), 0.05]))  # Optuna takes infinities (not NaN); never on the front
    for n, t in enumerate(trials):
        t.number = n
    return trials


def test_only_complete_trained_finite_trials_can_be_on_the_front():
    front = Front(study_trials(), ACC_ENERGY)
    assert [t.number for t in front.candidates] == [0, 1, 2, 3, 4]
    assert [t.number for t in front.members] == [0, 4, 1, 2]  # cheapest first
    assert front.numbers == {0, 1, 2, 4} and len(front) == 4
    assert front.knee.number == 1
    assert front.hypervolume == pytest.approx(0.5 * 1.4 + 0.2 * 1.3 + 0.2 * 1.2 + 0.05 * 0.5)
    assert [r["trial"] for r in front.all_rows()] == [0, 1, 2, 3, 4, 5, 6, 8]


def test_other_objectives_change_the_front_order_and_knee():
    # The same points read as (val_acc max, latency_ms min) with a third, ignored column in metrics.
    trials = study_trials()
    latency = Objectives(("val_acc", "latency_ms"), ("maximize", "minimize"), (0.0, 2.0))
    front = Front(trials, latency)
    assert front.numbers == {0, 1, 2, 4}
    assert front.row(trials[1]) | {"mixers": None} == {"trial": 1, "val_acc": 0.9, "latency_ms": 0.3, "T": 2,
                                                        "mixers": None, "state": "COMPLETE", "on_front": True}
    both_max = Objectives(("val_acc", "latency_ms"), ("maximize", "maximize"), (0.0, 0.0))
    assert Front(trials, both_max).numbers == {2}


@pytest.mark.parametrize("pick, number", [("knee", 1), ("max-acc", 2), ("min-energy", 0), ("energy<=0.25", 4),
                                          ("energy<=0.3", 1), ("acc>=0.65", 4), ("acc>=0.91", 2), ("acc>=90", 1),
                                          ("max-val_acc", 2), ("energy_mj<=0.1", 0)])
def test_picks(pick, number):
    assert Front(study_trials(), ACC_ENERGY).pick(pick).number == number


def test_picks_that_match_nothing_or_make_no_sense():
    front = Front(study_trials(), ACC_ENERGY)
    with pytest.raises(ConfigError, match=r"pick 'energy<=0.05' matches no point .* trial 0: val_acc 0\.5 / energy_mj 0\.1"):
        front.pick("energy<=0.05")
    with pytest.raises(ConfigError, match=r"unknown pick 'kne' \(did you mean: knee"):
        parse_pick("kne", ACC_ENERGY.metrics)
    with pytest.raises(ConfigError, match="needs 'latency_ms', which no front trial recorded"):
        front.pick("min-latency_ms")
    with pytest.raises(ConfigError, match="no COMPLETE trial"):
        Front([], ACC_ENERGY).pick("knee")


def test_csv_follows_the_front():
    table = list(csv.DictReader(io.StringIO(front_csv(Front(study_trials(), ACC_ENERGY)))))
    assert [r["trial"] for r in table] == ["0", "4", "1", "2"]
    assert table[2] == {"trial": "1", "val_acc": "0.9", "energy_mj": "0.3", "T": "2",
                        "mixers": "ssa fft2d+dwt-haar dwt-db2@2 identity", "knee": "true"}
    assert front_csv(Front([], ACC_ENERGY)).strip() == "trial,val_acc,energy_mj,T,mixers,knee"


def test_plot_files_are_written_for_any_objectives(tmp_path):
    front = Front(study_trials(), Objectives(("val_acc", "latency_ms"), ("maximize", "minimize"), (0.0, 2.0)))
    png, html = tmp_path / "front.png", tmp_path / "sub" / "front.html"
    plot_front(front, png, html, title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    text = html.read_text()
    assert "trial 1 (Pareto front)" in text and "trial 3" in text and "latency (ms)" in text
    assert "ssa, fft2d+dwt-haar, dwt-db2@2, identity" in text and "T=2" in text
    plot_front(Front([], ACC_ENERGY), tmp_path / "empty.png", None, title="t")  # an empty study still gets a picture
    assert (tmp_path / "empty.png").stat().st_size > 0


def test_values_come_from_objectives_then_recorded_metrics():
    t = trial(0, [0.8, 0.2], metrics={"val_acc": 0.1, "params": 1234})
    front = Front([t], ACC_ENERGY)
    assert front.value(t, "val_acc") == 0.8 and front.value(t, "params") == 1234.0
    assert front.value(t, "latency_ms") is None and not math.isnan(front.hypervolume)
