"""`python -m benchmarks.mixers`: options checked before anything runs, then every geometry, JSON after each stage."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Optional

from benchmarks.common import check_outputs, machine_info, read_result_files, usable_cores, write_json
from benchmarks.mixers.catalogue import BASELINE, BOUND, CLAIMS, GOALS, MIXERS
from benchmarks.mixers.markdown import markdown_tables
from benchmarks.mixers.memory import memory_child
from benchmarks.mixers.run import Options, bench_geometry
from benchmarks.mixers.subjects import GEOMETRIES
from benchmarks.mixers.table import table
from fwformer.cli import ConfigError, closest, exit_on_user_error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.mixers",
                                description="Every mixer side by side on one model geometry: speed, memory and energy "
                                            "against SSA and identity.")
    p.add_argument("--device", default=None, help="cpu or cuda[:N] (default: cuda when available, else cpu)")
    p.add_argument("--geometry", nargs="+", default=None, metavar="NAME",
                   help=f"geometries to run (default: all; --quick: small): {', '.join(GEOMETRIES)}")
    p.add_argument("--mixers", nargs="+", default=None, metavar="NAME", help=f"default: {' '.join(MIXERS)}")
    p.add_argument("--json", default=None, metavar="FILE", help="write every figure and the machine info here")
    p.add_argument("--repeats", type=int, default=None,
                   help="interleaved rounds (default per geometry: CPU small 15, spikformer-4-384 9, "
                        "spikformer-2-256 9; CUDA 20; --quick 5)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="clock of the headline speed figures: wall time, or this process's CPU time (robust on a "
                        "shared CPU; use with --threads 1); both are recorded in the JSON")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: usable cores)")
    p.add_argument("--batch", type=int, default=None, help="override every geometry's batch size")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds each timed measurement lasts at least (default 0.1)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed calls per model before the rounds (plus the one that sizes a measurement)")
    p.add_argument("--energy-steps", type=int, default=None,
                   help="training steps before measuring firing rates (0: firing rate 1 only)")
    p.add_argument("--energy-checkpoints", type=int, nargs="+", default=(), metavar="STEP",
                   help="training steps at which the firing rates are also measured (how far they have settled)")
    p.add_argument("--energy-only", action="store_true",
                   help="only the energy figures (no speed, memory or isolated-mixer timing); any subset of mixers")
    p.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA (as training uses)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-energy", action="store_true")
    p.add_argument("--no-isolated", action="store_true")
    p.add_argument("--quick", action="store_true", help="small geometry, 5 rounds")
    p.add_argument("--report", nargs="+", default=None, metavar="FILE",
                   help="print the markdown tables of these result files (the benchmark pages' tables) and stop")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    return p


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.report:
        payloads = read_result_files(args.report, "--report")  # --geometry: only those tables
        print("\n".join(markdown_tables(payload, args.geometry) for payload in payloads))
        return {}
    check_outputs({"--json": args.json})
    if args.memory_child:
        print(json.dumps(memory_child(json.loads(args.memory_child))))
        return {}
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} needs CUDA, but torch {torch.__version__} sees no GPU; use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"--device must be cpu or cuda[:N], but got '{device}'")
    if args.clock == "cpu" and device.startswith("cuda"):
        raise ConfigError("--clock cpu measures this process's CPU time, which says nothing about GPU work; "
                          "use --clock wall with --device cuda")
    geometries = args.geometry or (["small"] if args.quick else list(GEOMETRIES))
    for name in geometries:
        if name not in GEOMETRIES:
            raise ConfigError(f"unknown geometry '{name}'{closest(name, GEOMETRIES)}; expected one of: "
                              f"{', '.join(GEOMETRIES)}")
    mixers = args.mixers or MIXERS
    # The ratios need SSA and identity in the same run; an energy-only run may measure any subset
    # (e.g. one long training per process), its ratios then taken from another run.
    if not args.energy_only and (BASELINE not in mixers or BOUND not in mixers):
        raise ConfigError(f"--mixers must include '{BASELINE}' and '{BOUND}' (the ratios' references), "
                          f"but got: {' '.join(mixers)}")
    if args.energy_steps is not None and args.energy_steps < 0:
        raise ConfigError(f"--energy-steps must be >= 0 (0: firing rate 1 only), but got {args.energy_steps}")
    for flag, value in (("--repeats", args.repeats), ("--threads", args.threads), ("--batch", args.batch),
                        ("--energy-checkpoints", min(args.energy_checkpoints, default=None))):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be >= 1, but got {value}")
    threads = args.threads or usable_cores()
    torch.set_num_threads(threads)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    opts = Options(
        device=device, repeats=args.repeats or (5 if args.quick else None), clock=args.clock, threads=threads,
        min_time=args.min_time if args.min_time is not None else 0.1,
        warmup=args.warmup, amp=args.amp, memory=not (args.no_memory or args.energy_only),
        energy=not args.no_energy, isolated=not (args.no_isolated or args.energy_only), batch=args.batch,
        energy_steps=args.energy_steps,
        quick=args.quick, speed=not args.energy_only, energy_checkpoints=tuple(args.energy_checkpoints),
    )

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    payload: dict[str, Any] = dict(
        benchmark="mixers", command="python -m benchmarks.mixers " + " ".join(sys.argv[1:] if argv is None else argv),
        machine=machine_info(device), options=vars(opts), claims=CLAIMS, goals=GOALS, geometries={},
    )
    for name in geometries:
        log(f"geometry {name}")
        start = time.perf_counter()
        def save(partial: dict, name: str = name) -> None:
            payload["geometries"][name] = partial
            if args.json:
                write_json(args.json, payload)

        result = bench_geometry(GEOMETRIES[name], list(mixers), opts, log, save)
        result["wall_s"] = time.perf_counter() - start
        payload["geometries"][name] = result
        print(table(result), flush=True)
        print(flush=True)
        if args.json:  # written after every geometry so a long run keeps what it measured
            write_json(args.json, payload)
    payload["machine"]["load_average_end"] = list(os.getloadavg())
    if args.json:
        log(f"wrote {write_json(args.json, payload)}")
    return payload
