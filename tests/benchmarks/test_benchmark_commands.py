"""Every benchmark family is a command with a parser the documentation can render, and the tables of
the benchmark pages come back from the committed results with the commands the pages state."""
from __future__ import annotations

import importlib

import pytest
from cli_errors import refuse

import benchmarks
from benchmarks.common import REPO

RESULTS = REPO / "benchmarks" / "results"


@pytest.mark.parametrize("name", benchmarks.COMMANDS)
def test_every_command_has_a_parser_and_a_main(name):
    package = importlib.import_module(f"benchmarks.{name}")
    assert package.build_parser().prog == f"python -m benchmarks.{name}"
    assert callable(package.main) and set(package.__all__) >= {"build_parser", "main"}
    assert (REPO / "benchmarks" / name / "__main__.py").is_file(), "`python -m` runs the package"


PAGES = REPO / "docs" / "benchmarks"


def printed_rows(text):
    """The table rows of a command's output (the lines a page must show as they are)."""
    return [line for line in text.splitlines() if line.startswith("| ")]


@pytest.mark.parametrize("command, args, page", [
    ("mixers", ["--report", "mixers_cpu_small_every_family.json"], "mixers.md"),
    ("mixers", ["--report", "mixers_cpu_4-384_speed.json"], "mixers.md"),
    ("mixers", ["--report", "mixers_cpu_small_2-256_speed.json", "--geometry", "spikformer-2-256"], "mixers.md"),
    ("mixers", ["--report", "energy_cpu_4-384_rate1_every_family.json"], "mixers.md"),
    ("mixers", ["--report", "energy_cpu_4-384_trained.json", "energy_cpu_4-384_trained_fft2d.json"], "mixers.md"),
    ("search", ["--report", "search_efficiency.json", "search_overhead.json", "search_overhead_e2.json"], "search.md"),
    ("worker_memory", ["--report", "worker_memory_quickstart.json"], "search.md"),
    ("supernet", ["--report", "supernet_fidelity.json", "supernet_cost_e24.json", "supernet_cost_e12.json"],
     "one-shot.md"),
])
def test_the_pages_tables_come_back_from_the_committed_results(command, args, page, capsys):
    """Every table row the command prints from the committed results is on the page, as printed."""
    main = importlib.import_module(f"benchmarks.{command}").main
    main([str(RESULTS / a) if a.endswith(".json") else a for a in args])
    rows = printed_rows(capsys.readouterr().out)
    text = (PAGES / page).read_text()
    assert len(rows) >= 5 and [row for row in rows if row not in text] == []


def test_the_league_replays_its_table_and_figure_without_training(tmp_path, capsys):
    from benchmarks.league import main

    committed = (RESULTS / "league.json").read_bytes()
    main(["--plot", str(tmp_path / "league.png")])
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert (RESULTS / "league.json").read_bytes() == committed, "a replay leaves the result file as it is"
    assert (tmp_path / "league.png").stat().st_size > 10_000
    text = (PAGES / "league.md").read_text()
    assert len(printed) == 2 * (2 + 31) and [line for line in printed if line not in text] == []


@pytest.mark.parametrize("command", ["mixers", "search", "supernet"])
def test_a_report_of_a_missing_file_is_one_line(command, tmp_path, capsys):
    main = importlib.import_module(f"benchmarks.{command}").main
    refuse(main, ["--report", str(tmp_path / "none.json")], capsys, tmp_path, f"--report {tmp_path}/none.json: no such file")
