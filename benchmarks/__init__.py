"""Benchmarks: what the mixers and the search cost, measured and reproducible from the committed results.

One package per family, each a command (`python -m benchmarks.<family>`, its parser from
`benchmarks.<family>.build_parser()`), results in `benchmarks/results/`, figures in the
documentation's benchmark pages (`docs/benchmarks/`):

    mixers         every mixer's speed, memory and energy beside SSA and identity, on one geometry
    league         every mixer family trained the same way: accuracy against energy
    search         how fast each sampler reaches a front; what `search.run` costs beyond training
    worker_memory  resident memory of a search's trial workers against a training alone
    supernet       what the one-shot strategy buys and costs, on the quickstart space
    search_scale   one-shot and early stopping against per-trial TPE at fw_pareto's size
    gpu_check      the GPU check in one command: tests, mixers, neuron backends, trainings on CUDA
    common         what they share: provenance, result files, statistics, the one train-and-cache
                   helper (`CurveCache`), the per-trial ask/tell loop, random architectures
"""

#: The benchmark commands, `python -m benchmarks.<name>`, in the order the pages present them.
COMMANDS = ("mixers", "league", "search", "worker_memory", "supernet", "search_scale", "gpu_check")

__all__ = ["COMMANDS"]
