"""The committed results of `benchmarks.search_scale` replay: the seeded per-trial runs from their
curves to the same events, the random draws to the same architectures, and the summary, the
interference, the noise and the CIFAR baseline under way to the committed rows (no training)."""
from __future__ import annotations

import gzip
import json

import pytest

from benchmarks.common import REPO

RESULTS = REPO / "benchmarks" / "results"
RAW = RESULTS / "search_scale_raw"


def raw_file(name):
    return json.loads(gzip.decompress((RAW / name).read_bytes()))


def replaying_cache(raw):
    from benchmarks.common import CurveCache
    from benchmarks.search_scale.study import scale_study

    cache = CurveCache(scale_study(raw["dataset"], 120), None, print)
    cache.results = dict(raw["results"])
    cache.trains = False
    return cache


@pytest.mark.parametrize("name, strategy", [
    ("seed0_tpe_early_stop_c200_rounds_e48.json.gz", "tpe"),
    ("seed0_early_stop_energy_g1.json.gz", "tpe+early-stop-energy-g1"),
    pytest.param("seed2_early_stop_median.json.gz", "tpe+early-stop-median", marks=pytest.mark.slow),
])
def test_a_committed_per_trial_run_replays_from_its_curves_to_the_same_events(name, strategy):
    from benchmarks.search_scale.cli import PER_TRIAL
    from benchmarks.search_scale.strategies import per_trial

    raw = raw_file(name)
    committed = next(r for r in raw["runs"] if r["strategy"] == strategy)
    rule, grace = PER_TRIAL[strategy]
    cache = replaying_cache(raw)
    run = per_trial(cache.study, cache, raw["seed"], rule, print, name=strategy, grace_epochs=grace)
    assert "partial" not in run and len(run["events"]) == 120
    assert run["events"] == committed["events"]


def test_the_random_architectures_are_the_committed_draws():
    from benchmarks.common import random_architectures

    raw = raw_file("seed0_fidelity_e24_e48.json.gz")
    cache = replaying_cache(raw)
    committed = [p["key"] for p in raw["fidelity"]["24"]]
    drawn = [cache.key(p) for p in random_architectures(cache.study, 1000 + raw["seed"], n=len(committed) + 5,
                                                         key=cache.key)]
    trained = [k for k in drawn if not raw["results"].get(k, {}).get("failed")]  # a failed training is replaced
    assert trained[:len(committed)] == committed


def test_summarise_interference_and_noise_rebuild_the_committed_rows_and_the_pages_tables(tmp_path, capsys):
    from benchmarks.search_scale.cli import main

    page = (REPO / "docs" / "benchmarks" / "search-scale.md").read_text()
    raws = sorted(map(str, RAW.glob("*.json.gz")))
    main(["summarise", *raws, "--json", str(tmp_path / "rows.json")])
    assert json.loads((tmp_path / "rows.json").read_text()) == json.loads((RESULTS / "search_scale.json").read_text())
    assert [row for row in table_rows(capsys.readouterr().out) if row not in page] == []
    main(["interference", *raws, "--json", str(tmp_path / "interference.json")])
    committed = json.loads((RESULTS / "search_scale_interference.json").read_text())
    assert json.loads((tmp_path / "interference.json").read_text())["rows"] == committed["rows"]
    shown = [row for row in table_rows(capsys.readouterr().out)
             if row.startswith(("| digits | 24 |", "| digits | 48 |", "| digits | 96 |", "| digits | balanced-e24 |"))]
    assert len(shown) == 20 and [row for row in shown if row not in page] == []
    from benchmarks.common import CIFAR_SUBSET

    if not CIFAR_SUBSET.is_file():  # the noise rows load the CIFAR setting's study, which checks its data
        pytest.skip(f"the noise rows need the CIFAR-10 subset at {CIFAR_SUBSET} (../shared/data); the rest passed")
    replicas = tmp_path / "replicas.json.gz"
    replicas.write_bytes((RESULTS / "search_scale_noise_replicas.json.gz").read_bytes())
    main(["noise", *raws, "--cache", str(replicas), "--league", str(RESULTS / "league.json"),
          "--json", str(tmp_path / "noise.json")])
    figures = lambda rows: [{k: v for k, v in r.items() if k not in ("command", "machine", "league")} for r in rows]  # noqa: E731
    assert figures(json.loads((tmp_path / "noise.json").read_text())) == \
        figures(json.loads((RESULTS / "search_scale_noise.json").read_text()))
    assert [row for row in table_rows(capsys.readouterr().out) if row not in page] == []


def table_rows(text):
    return [line for line in text.splitlines() if line.startswith("| ")]


def test_the_raw_files_merge_the_same_whatever_their_order_on_the_command_line(tmp_path):
    """A random architecture scored twice on one supernet keeps the later run's pair (with its inherited
    val_loss), not the one of the file named last."""
    from benchmarks.search_scale.cli import main

    raws = sorted(map(str, RAW.glob("seed*.json.gz")))
    for order, files in (("sorted", raws), ("reversed", raws[::-1])):
        main(["noise", *files, "--cache", str(RESULTS / "search_scale_noise_replicas.json.gz"),
              "--json", str(tmp_path / f"{order}.json")])
    rows = [json.loads((tmp_path / f"{order}.json").read_text())[0] for order in ("sorted", "reversed")]
    assert rows[0]["supernets"] == rows[1]["supernets"]
    assert "tau_loss_first_replica" in rows[0]["supernets"]["supernet e24"]


def test_progress_replays_the_committed_cifar_baseline_under_way(tmp_path, capsys):
    from benchmarks.common import CIFAR_SUBSET
    from benchmarks.search_scale.cli import main

    if not CIFAR_SUBSET.is_file():
        pytest.skip(f"no CIFAR-10 subset at {CIFAR_SUBSET}")
    progress = RESULTS / "search_scale_progress"
    main(["progress", *sorted(map(str, RAW.glob("cifar_*.json.gz"))), "--dataset", "cifar", "--seed", "0",
          "--cache", str(progress / "cifar_seed0_tpe_cache.json"), "--json", str(tmp_path / "p.json")])
    figures = lambda row: {k: v for k, v in row.items() if k not in ("command", "machine")}  # noqa: E731
    assert figures(json.loads((tmp_path / "p.json").read_text())) == \
        figures(json.loads((progress / "cifar_seed0.json").read_text()))
    headline = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("cifar, seed 0:"))
    assert headline in (REPO / "docs" / "benchmarks" / "search-scale.md").read_text()
