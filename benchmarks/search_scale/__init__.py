"""One-shot and early stopping against per-trial TPE at the size of `fw_pareto` (issue 20).

    python -m benchmarks.search_scale run --seed 0 --raw /tmp/scale/seed0.json [--fidelity 30]
    python -m benchmarks.search_scale summarise /tmp/scale/seed*.json --json benchmarks/results/search_scale.json

`study.py` builds the study (fw_pareto's space on digits with `tiny`), `curves.py` trains each
architecture once and keeps its per-epoch curve and CPU cost, `strategies.py` replays every search
strategy on those curves, `summary.py` turns the runs into the result rows, the tables and the plot.
"""
