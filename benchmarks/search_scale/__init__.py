"""One-shot and early stopping against per-trial TPE at the size of `fw_pareto` (issue 20).

    python -m benchmarks.search_scale run --seed 0 --cache C0.json --workdir W0 --raw seed0.json [--fidelity 30]
        [--dataset digits|cifar] [--jobs 2]
    python -m benchmarks.search_scale summarise benchmarks/results/search_scale_raw/*.json.gz
    python -m benchmarks.search_scale training-free benchmarks/results/search_scale_raw/*.json.gz
    python -m benchmarks.search_scale interference benchmarks/results/search_scale_raw/*.json.gz
    python -m benchmarks.search_scale noise benchmarks/results/search_scale_raw/*.json.gz \
        --cache benchmarks/results/search_scale_noise_replicas.json.gz
    python -m benchmarks.search_scale progress benchmarks/results/search_scale_raw/cifar_*.json.gz \
        --dataset cifar --seed 0 --cache benchmarks/results/search_scale_progress/cifar_seed0_tpe_cache.json

`study.py` builds the study (fw_pareto's space on digits with `tiny`, or on the shared CIFAR-10
subset with `cifar-small`), `curves.py` trains each
architecture once and keeps its per-epoch curve and CPU cost, `strategies.py` replays every search
strategy on those curves (`fewshot.py` the sub-supernets of the few-shot split by T), `summary.py`
turns the runs into the result rows, the tables and the plot;
`snasnet.py` (SNASNet's training-free score), `interference.py` (what a few-shot split by one
block could fix) and `noise.py` (the same architectures trained again with another seed: how well
stand-alone accuracy ranks them itself, the ceiling of any score's tau) work on the random
architectures the runs scored; `progress.py` replays a baseline still being trained (over several
sessions, from its committed curve cache) and compares the one-shot runs with it at equal hypervolume.
"""
