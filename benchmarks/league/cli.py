"""`python -m benchmarks.league`: the runs not yet in `--json` trained by `--workers` processes, the JSON
rewritten after each, then the table and the plot."""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Optional

from benchmarks.common import CIFAR_SUBSET, PAGES, REPO, check_outputs, machine_info, write_json
from benchmarks.league.figures import plot, table
from benchmarks.league.runs import DATASETS, MEMBRANE_NATIVE, MIXERS, SEEDS, run_key, summarise, train_one
from fwformer.cli import ConfigError, exit_on_user_error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.league",
                                description="A league table of token-mixer families: the same mixer in every block, "
                                            "trained the same way.")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), help=f"among: {', '.join(DATASETS)}")
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    p.add_argument("--mixers", nargs="+", default=None, help="default: one per registered family")
    p.add_argument("--no-membrane", action="store_true", help="skip the membrane-shortcut rows")
    p.add_argument("--workers", type=int, default=2, help="training processes side by side (one thread each)")
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "league.json"))
    p.add_argument("--plot", default=str(PAGES / "league.png"), help="default: the benchmark pages' figure")
    return p


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict:
    import json

    from fwformer.mixers import check_mixer

    args = build_parser().parse_args(argv)
    check_outputs({"--json": args.json, "--plot": args.plot})
    for name in args.datasets:
        if name not in DATASETS:
            raise ConfigError(f"--datasets: unknown dataset '{name}'; expected among: {', '.join(DATASETS)}")
    mixers = args.mixers or MIXERS
    for name in mixers:
        check_mixer(name, grid=(8, 8))
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, but got {args.workers}")
    notes = []
    datasets = list(args.datasets)
    if "cifar" in datasets and not CIFAR_SUBSET.is_file():
        notes.append(f"cifar skipped: {CIFAR_SUBSET} is absent")
        datasets.remove("cifar")
    path = Path(args.json)
    payload = json.loads(path.read_text()) if path.is_file() else {}
    done = {run_key(r["dataset"], r["mixer"], r["shortcut"], r["seed"]): r for r in payload.get("runs", [])}
    jobs = [(d, m, sc, s) for d in datasets for m in mixers
            for sc in (["spike"] + (["membrane"] if m in MEMBRANE_NATIVE and not args.no_membrane else []))
            for s in args.seeds if run_key(d, m, sc, s) not in done]
    if not jobs:  # every run is in --json: a replay, which leaves the file as the runs that trained wrote it
        print(table(payload["rows"]))
        plot(payload["rows"], Path(args.plot))
        print(f"every run is in {path}: wrote {args.plot}", file=sys.stderr)
        return payload
    payload.update(benchmark="league", command="python -m benchmarks.league " + " ".join(sys.argv[1:] if argv is None
                                                                                          else argv),
                   machine=machine_info("cpu"), notes=notes, datasets={d: DATASETS[d] for d in datasets})

    def save() -> None:
        payload["runs"] = sorted(done.values(), key=lambda r: run_key(r["dataset"], r["mixer"], r["shortcut"],
                                                                      r["seed"]))
        payload["rows"] = summarise(payload["runs"])
        write_json(path, payload)

    print(f"{len(jobs)} runs to train ({len(done)} already in {path})", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(train_one, *job): job for job in jobs}
        for i, future in enumerate(as_completed(futures), 1):
            job = futures[future]
            try:
                r = future.result()
            except Exception as err:  # noqa: BLE001 - one failed run is a note, not the end of the league
                notes.append(f"{run_key(*job)} failed: {type(err).__name__}: {err}")
                print(f"[{i}/{len(jobs)}] {run_key(*job)}: FAILED {err}", file=sys.stderr, flush=True)
                continue
            done[run_key(*job)] = r
            print(f"[{i}/{len(jobs)}] {run_key(*job)}: acc {r['val_acc']:.3f}, {1e3 * r['energy_mj']:.3f} uJ, "
                  f"{r['cpu_s']:.0f} CPU-s", file=sys.stderr, flush=True)
            save()
    save()
    print(table(payload["rows"]))
    plot(payload["rows"], Path(args.plot))
    print(f"wrote {path} and {args.plot}", file=sys.stderr)
    return payload


if __name__ == "__main__":
    main()
