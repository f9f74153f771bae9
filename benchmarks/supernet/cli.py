"""`python -m benchmarks.supernet`: options checked before any work, the supernets trained (or found
finished in `--workdir`), then rank fidelity and the cost to a front, the JSON written at the end."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks.common import REPO, CurveCache, check_outputs, machine_info, read_result_files, write_json
from benchmarks.supernet.cost import per_trial_runs, sharing_cost, summarise, supernet_runs
from benchmarks.supernet.fidelity import fidelity
from benchmarks.supernet.tables import markdown_tables
from benchmarks.supernet.training import train_supernets
from fwformer.cli import ConfigError, exit_on_user_error

DEFAULT_CACHE = REPO / "benchmarks" / "results" / "supernet_cache_quickstart.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.supernet",
                                description="What the one-shot strategy (search.strategy: supernet) buys and costs, "
                                            "on the quickstart space.")
    p.add_argument("--study", default="quickstart")
    p.add_argument("--phase", choices=["fidelity", "cost", "all"], default="all",
                   help="fidelity: rank fidelity only; cost: cost to a front and weight sharing's cost only")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--trials", type=int, default=None, help="per-trial budget (default: the study's search.trials)")
    p.add_argument("--trial-sampler", default="tpe",
                   help="the per-trial strategy's sampler (tpe ranked best in the search-efficiency benchmark)")
    p.add_argument("--supernet-epochs", type=int, nargs="+", default=[12])
    p.add_argument("--sampling", nargs="+", default=["uniform"])
    p.add_argument("--supernet", nargs="+", default=None, metavar="SAMPLING:EPOCHS",
                   help="more supernets for rank fidelity, e.g. balanced:12")
    p.add_argument("--fidelity", type=int, default=30, help="random architectures for rank fidelity")
    p.add_argument("--candidates", type=int, nargs="+", default=[50, 100, 200])
    p.add_argument("--confirm", type=int, nargs="+", default=[2, 3, 4, 6])
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="the stand-alone trainings (a curve cache, JSON)")
    p.add_argument("--workdir", type=Path, default=Path("supernet-bench"))
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--report", nargs="+", default=None, metavar="FILE",
                   help="print the markdown tables of these result files and stop")
    return p


def _variant(text: str) -> tuple[str, int]:
    sampling, _, epochs = text.partition(":")
    if not sampling or not epochs.isdigit() or int(epochs) < 1:
        raise ConfigError(f"--supernet {text!r} must be SAMPLING:EPOCHS, e.g. balanced:12")
    return sampling, int(epochs)


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.report:
        print(markdown_tables(read_result_files(args.report, "--report")))
        return {}
    check_outputs({"--json": args.json, "--cache": args.cache}, {"--workdir": args.workdir})
    variants = [(s, e) for s in args.sampling for e in args.supernet_epochs]
    variants += [_variant(v) for v in args.supernet or []]
    if args.phase == "cost":
        variants = variants[:1]
    import torch

    from search.study import load_study

    torch.set_num_threads(1)  # CPU-seconds then count the work, not the machine's other jobs
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:7.0f}s] {msg}", flush=True)

    overrides = ["search.strategy=supernet", "train.num_threads=1", "train.device=cpu"]
    study = load_study(args.study, overrides + ([f"search.trials={args.trials}"] if args.trials else []))
    cache = CurveCache(study, args.cache, log)
    supernets = train_supernets(study, variants, args.workdir, log)
    payload: dict[str, Any] = dict(command=" ".join(["python -m benchmarks.supernet", *(argv or sys.argv[1:])]),
                                   machine=machine_info(), study=args.study, phase=args.phase)
    payload["supernets"] = {f"{s}-e{e}": dict(cpu_s=c) for (s, e), (_, c) in supernets.items()}
    if args.phase in ("fidelity", "all"):
        payload["fidelity"] = fidelity(study, cache, supernets, args.fidelity, log)
    if args.phase in ("cost", "all"):
        seeds = list(range(args.seeds))
        per_trial = per_trial_runs(study, cache, args.trial_sampler, seeds, log)
        folder, cpu = supernets[variants[0]]
        runs = supernet_runs(study, cache, folder, cpu, seeds, args.candidates, args.confirm, log)
        payload.update(per_trial=per_trial, supernet_runs=runs, default_variant=f"{variants[0][0]}-e{variants[0][1]}",
                       cost=summarise(study, per_trial, runs, cache), sharing=sharing_cost(per_trial, runs))
    if args.json:
        write_json(args.json, payload)
        log(f"wrote {args.json}")
    return payload
