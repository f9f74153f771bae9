"""`python -m benchmarks.search`: options checked before any work, then efficiency, then overhead."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Optional

from benchmarks.common import check_outputs, machine_info, read_result_files, write_json
from benchmarks.search.efficiency import SAMPLERS, efficiency
from benchmarks.search.overhead import overhead
from benchmarks.search.tables import markdown_tables, terminal_summary
from fwformer.cli import ConfigError, closest, exit_on_user_error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.search",
                                description="Search efficiency of the samplers, and the overhead of the search machinery.")
    p.add_argument("--study", default="quickstart")
    p.add_argument("override", nargs="*", help="study dotlist overrides (e.g. space.T=[1,2])")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--trials", type=int, default=None, help="trained trials per search (default: the study's)")
    p.add_argument("--epochs", type=int, default=3, help="training epochs per architecture (efficiency part)")
    p.add_argument("--samplers", nargs="+", default=list(SAMPLERS))
    p.add_argument("--threads", type=int, default=None, help="torch threads per training (default: the study's)")
    p.add_argument("--cache", default=None, help="architecture result cache (JSON)")
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 2])
    p.add_argument("--overhead-trials", type=int, default=24, help="trials per search.run (default: quickstart's 24)")
    p.add_argument("--overhead-epochs", type=int, default=6, help="epochs per trial (default: quickstart's 6)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per search.run command")
    p.add_argument("--no-efficiency", action="store_true")
    p.add_argument("--no-overhead", action="store_true")
    p.add_argument("--json", default=None, metavar="FILE")
    p.add_argument("--report", nargs="+", default=None, metavar="FILE",
                   help="print the markdown tables of these result files (the benchmark pages' tables) and stop")
    return p


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    if args.report:
        print("\n".join(markdown_tables(payload) for payload in read_result_files(args.report, "--report")))
        return {}
    check_outputs({"--json": args.json, "--cache": args.cache})
    for flag, value in (("--seeds", args.seeds), ("--trials", args.trials), ("--epochs", args.epochs),
                        ("--overhead-trials", args.overhead_trials)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be >= 1, but got {value}")
    from search.study import SAMPLERS as KNOWN

    for name in args.samplers:
        if name not in KNOWN:
            raise ConfigError(f"unknown sampler '{name}'{closest(name, KNOWN)}; expected one of: {', '.join(KNOWN)}")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    payload: dict[str, Any] = dict(
        benchmark="search", command="python -m benchmarks.search " + " ".join(sys.argv[1:] if argv is None else argv),
        machine=machine_info("cpu"),
    )
    if not args.no_efficiency:
        payload["efficiency"] = efficiency(args, log)
        if args.json:
            write_json(args.json, payload)
    if not args.no_overhead:
        payload["overhead"] = overhead(args, log)
    payload["machine"]["load_average_end"] = list(os.getloadavg())
    print(terminal_summary(payload), flush=True)
    if args.json:
        log(f"wrote {write_json(args.json, payload)}")
    return payload
