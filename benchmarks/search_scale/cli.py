"""`python -m benchmarks.search_scale run|summarise|training-free|interference|noise|progress`: the
commands and what each writes (the package docstring says what each measures)."""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks.common import PAGES, REPO, check_outputs, machine_info, write_json
from benchmarks.search_scale.study import DATASETS
from fwformer.cli import ConfigError, exit_on_user_error

RESULTS = REPO / "benchmarks" / "results"
DEFAULT_JSON = RESULTS / "search_scale.json"
NOISE_JSON = RESULTS / "search_scale_noise.json"
#: name -> (supernet epochs, candidates scored, k confirmed); "supernet" is the strategy's defaults
#: (4 x train.epochs, 100, 6).
SUPERNETS = {"supernet": (24, 100, 6), "supernet-c200-k12": (24, 200, 12), "supernet-e48": (48, 100, 6),
             "supernet-e48-c200-k12": (48, 200, 12), "supernet-e96": (96, 100, 6), "supernet-balanced": (24, 100, 6),
             "supernet-split-T": (24, 100, 6), "supernet-distill": (24, 100, 6),
             "supernet-bn-per-T": (24, 100, 6), "supernet-balanced-e48": (48, 100, 6)}
#: name -> (supernet epochs, candidates scored, rounds, confirmed per round): confirmation in rounds,
#: each round's choice made on scores corrected by what the rounds before measured.
ROUNDS = {"supernet-rounds": (24, 200, 4, 3)}
#: name -> supernet epochs: inherited against stand-alone accuracy of random architectures, per supernet.
FIDELITY = {"fidelity": 24, "fidelity-e48": 48, "fidelity-e96": 96, "fidelity-balanced": 24,
            "fidelity-lr0.25": 24, "fidelity-lr4": 24, "fidelity-lr16": 24, "fidelity-split-T": 24,
            "fidelity-distill": 24, "fidelity-bn-per-T": 24, "fidelity-balanced-e48": 48}
#: The strategies whose supernet draws paths with `balanced` sampling (FairNAS's count fairness); the rest `uniform`.
BALANCED = {"supernet-balanced", "fidelity-balanced", "fidelity-balanced-e48", "supernet-balanced-e48"}
#: name -> `search.supernet.candidate_lr` of its supernet (the candidate mixers' learning-rate multiplier); the rest 1.
CANDIDATE_LR = {"fidelity-lr0.25": 0.25, "fidelity-lr4": 4.0, "fidelity-lr16": 16.0}
#: The strategies whose supernet trains with in-place distillation from the best path so far (`distill: inplace`).
DISTILLED = {"fidelity-distill", "supernet-distill"}
#: The strategies whose supernet holds every BatchNorm once per T (`batchnorm: per-T`).
PER_T_BN = {"fidelity-bn-per-T", "supernet-bn-per-T"}
#: name -> epochs each sub-supernet of the few-shot split by T (`fewshot.py`) trains on top of its supernet.
SPLIT_T = {"fidelity-split-T": 6, "supernet-split-T": 6}
#: name -> (early-stopping rule, grace epochs; None: the study's 2 of 6, fw_pareto's 10 of 50 scaled)
PER_TRIAL = {"tpe": (None, None), "tpe+early-stop-energy": ("energy", None), "tpe+early-stop-median": ("median", None),
             "tpe+early-stop-energy-g1": ("energy", 1)}


def sampling_of(name: str) -> str:
    return "balanced" if name in BALANCED else "uniform"


def distill_of(name: str) -> str:
    return "inplace" if name in DISTILLED else "none"


def batchnorm_of(name: str) -> str:
    return "per-T" if name in PER_T_BN else "shared"


def supernet_id(name: str, epochs: int) -> Any:
    """How raw runs name a strategy's supernet: its epochs for `uniform` sampling at candidate_lr 1
    (as before the others were measured), else e.g. 'balanced-e24', 'uniform-e24-lr4', 'uniform-e24-inplace'
    or 'uniform-e24-bnper-T'."""
    sampling, lr, split = sampling_of(name), CANDIDATE_LR.get(name, 1.0), SPLIT_T.get(name)
    distill, norm = distill_of(name), batchnorm_of(name)
    if sampling == "uniform" and lr == 1.0 and split is None and distill == "none" and norm == "shared":
        return epochs
    return (f"{sampling}-e{epochs}" + (f"-lr{lr:g}" if lr != 1.0 else "") + (f"-{distill}" if distill != "none" else "")
            + (f"-bn{norm}" if norm != "shared" else "") + (f"-splitT{split}" if split else ""))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.search_scale",
                                description="One-shot and early stopping against per-trial TPE at the size of "
                                            "fw_pareto, on digits or the CIFAR-10 subset.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="replay every strategy for one seed; write the raw runs")
    run.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--trials", type=int, default=120, help="the per-trial budget (fw_pareto's: 120)")
    run.add_argument("--strategies", nargs="+", default=[*SUPERNETS, *FIDELITY, *PER_TRIAL],
                     help="run in this order; `fidelity*` (the random architectures) may sit anywhere in it")
    run.add_argument("--fidelity", type=int, default=30, help="random architectures for inherited-vs-stand-alone tau")
    run.add_argument("--cache", type=Path, required=True, help="the curve cache (JSON; reused when present)")
    run.add_argument("--workdir", type=Path, required=True, help="where the supernets are trained")
    run.add_argument("--raw", type=Path, required=True, help="the raw runs (JSON) for `summarise`")
    run.add_argument("--jobs", type=int, default=1,
                     help="above 1: the random architectures of `fidelity*` are trained stand-alone in this many "
                          "worker processes while the supernet trains (CPU-seconds are counted per process, as before)")
    s = sub.add_parser("summarise", help="rows, tables and the plot from raw runs")
    s.add_argument("raw", nargs="+", type=Path)
    s.add_argument("--json", type=Path, default=DEFAULT_JSON)
    s.add_argument("--plot", type=Path, default=None,
                   help="default: the benchmark pages' figure (docs/benchmarks/search_scale.png) with the default "
                        "--json, else the --json path with .png")
    free = sub.add_parser("training-free", help="SNASNet's score of the random architectures of raw runs: its tau")
    free.add_argument("raw", nargs="+", type=Path)
    free.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "search_scale_training_free.json")
    where = sub.add_parser("interference", help="how much of each supernet's rank error one block's mixer kind explains")
    where.add_argument("raw", nargs="+", type=Path)
    where.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "search_scale_interference.json")
    noise = sub.add_parser("noise", help="the random architectures trained again with another train.seed: "
                                         "how well stand-alone accuracy ranks them itself")
    noise.add_argument("raw", nargs="+", type=Path)
    noise.add_argument("--train-seed", type=int, default=1, help="the replicas' train.seed (the runs used 0)")
    noise.add_argument("--cache", type=Path, required=True,
                       help="the replicas (JSON, gzipped when it ends in .gz; reused when present)")
    noise.add_argument("--jobs", type=int, default=2, help="architectures trained at a time (one thread each)")
    noise.add_argument("--league", type=Path, default=None,
                       help="also read the seed replicas of `benchmarks.league`'s JSON (every block one mixer, one T)")
    noise.add_argument("--json", type=Path, default=NOISE_JSON,
                       help="also decides where the plots go: the benchmark pages' figures with the default, "
                            "else beside it")
    prog = sub.add_parser("progress", help="a TPE baseline still under way, replayed from its curve cache without "
                                           "training, against the one-shot runs of the same dataset and seed")
    prog.add_argument("raw", nargs="*", type=Path,
                      help="raw runs files: their one-shot runs of this dataset and seed are compared, their random "
                           "architectures widen the range reference")
    prog.add_argument("--dataset", choices=sorted(DATASETS), default="cifar")
    prog.add_argument("--seed", type=int, default=0)
    prog.add_argument("--trials", type=int, default=120, help="the baseline's budget (fw_pareto's: 120)")
    prog.add_argument("--cache", type=Path, required=True, help="the curve cache that `run --strategies tpe` is filling")
    prog.add_argument("--json", type=Path, default=None,
                      help="default: benchmarks/results/search_scale_progress/<dataset>_seed<seed>.json, its plot "
                           "the benchmark pages' figure; given: the plot beside it, with .png")
    return p


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    """The options, with what argparse cannot check refused as one line."""
    args = build_parser().parse_args(argv)
    if args.command == "progress" and args.trials < 1:
        raise ConfigError(f"--trials must be >= 1 (the baseline's budget), but got {args.trials}")
    if args.command == "progress" and not args.cache.is_file():
        raise ConfigError(f"--cache {args.cache}: no such file (`run --strategies tpe --cache FILE` writes it)")
    if args.command in ("noise", "run") and args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, but got {args.jobs}")
    if args.command == "run":
        allowed = [*PER_TRIAL, *SUPERNETS, *ROUNDS, *FIDELITY]
        unknown = [s for s in args.strategies if s not in allowed]
        if unknown:
            raise ConfigError(f"--strategies: unknown {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return args


def run(args: argparse.Namespace, argv: list[str]) -> None:
    import torch

    from benchmarks.common import CurveCache
    from benchmarks.search_scale import strategies
    from benchmarks.search_scale.study import scale_study

    check_outputs({"--raw": args.raw, "--cache": args.cache}, {"--workdir": args.workdir})
    torch.set_num_threads(1)  # CPU-seconds then count the work, not the machine's other jobs
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:7.0f}s] {msg}", flush=True)

    study = scale_study(args.dataset, args.trials)
    cache = CurveCache(study, args.cache, log)
    raw: dict[str, Any] = dict(command=" ".join(["python -m benchmarks.search_scale", *argv]), machine=machine_info(),
                               dataset=args.dataset, seed=args.seed, runs=[], fidelity={})

    def save(run: dict) -> None:
        raw["runs"].append(dict(run, dataset=args.dataset))
        raw["results"] = cache.results
        write_json(args.raw, raw)

    background = _train_random_in_background(args, study, cache, log)
    scorers: dict[Any, tuple[Any, float]] = {}

    def scorer(name: str, epochs: int) -> tuple[Any, float]:
        variant = (sampling_of(name), epochs, CANDIDATE_LR.get(name, 1.0), distill_of(name), batchnorm_of(name),
                   SPLIT_T.get(name))
        if variant not in scorers:
            scorers[variant] = _trained_scorer(study, variant, args.workdir, log)
        return scorers[variant]

    for name in args.strategies:  # in the order given: raw runs are written after each
        if name in FIDELITY:  # the same random architectures for every supernet of this seed
            score = scorer(name, FIDELITY[name])[0]
            if background is not None:
                background.join()  # their stand-alone rows are in the cache from here on
                background = None
            raw["fidelity"][str(supernet_id(name, FIDELITY[name]))] = strategies.random_fidelity(
                study, cache, score, args.fidelity, seed=1000 + args.seed)
            write_json(args.raw, dict(raw, results=cache.results))
            log(f"  {name}: {args.fidelity} random architectures scored and trained")
        elif name in PER_TRIAL:
            rule, grace = PER_TRIAL[name]
            save(strategies.per_trial(study, cache, args.seed, rule, log, name=name, grace_epochs=grace))
        elif name in ROUNDS:
            epochs, candidates, rounds, per_round = ROUNDS[name]
            score, cpu = scorer(name, epochs)
            save(strategies.supernet_rounds(study, cache, score, args.seed, cpu, name=name, candidates=candidates,
                                            rounds=rounds, per_round=per_round, log=log))
        else:
            epochs, candidates, k = SUPERNETS[name]
            score, cpu = scorer(name, epochs)
            save(strategies.supernet(study, cache, score, args.seed, cpu, name=name, candidates=candidates,
                                     confirm=k, log=log))
    raw["results"] = cache.results
    write_json(args.raw, raw)
    log(f"wrote {args.raw}")


def _trained_scorer(study: Any, variant: tuple, workdir: Path, log: Any) -> tuple[Any, float]:
    """(scorer, CPU-seconds of the training behind it) of a supernet variant (sampling, epochs,
    candidate_lr, distill, batchnorm, epochs of the few-shot split by T or None), trained in `workdir` unless it is there."""
    from benchmarks.supernet import scorer_of, train_supernets

    *supernet, split_epochs = variant
    (folder, cpu), = train_supernets(study, [tuple(supernet)], workdir, log).values()
    if split_epochs is None:
        return scorer_of(study, folder, study.search.supernet), cpu
    from benchmarks.search_scale.fewshot import ByT, train_split
    from fwformer.data import build_datasets
    from search.supernet import load_supernet

    parent_cfg = load_supernet(folder)[1]
    split = train_split(folder, parent_cfg, split_epochs, workdir, log)
    datasets = build_datasets(parent_cfg)  # once for the sub-supernets: the parent's data
    score = ByT({T: scorer_of(study, sub, study.search.supernet, datasets) for T, (sub, _) in split.items()})
    return score, cpu + sum(c for _, c in split.values())


class _Background:
    """Stand-alone trainings running in worker processes, fed from a thread; `join` puts their rows
    in the cache (only then, so that the cache file has one writer at a time) and re-raises a failure."""

    def __init__(self, cache: Any, work: Any):
        from concurrent.futures import ThreadPoolExecutor

        self.cache, self.rows = cache, {}
        self.pool = ThreadPoolExecutor(1)
        self.future = self.pool.submit(work, self.rows.__setitem__)

    def join(self) -> None:
        try:
            self.future.result()
        finally:
            self.pool.shutdown()
        self.cache.add(self.rows)


def _train_random_in_background(args: argparse.Namespace, study: Any, cache: Any, log: Any) -> Optional[_Background]:
    """With --jobs above 1 and a `fidelity*` strategy: its random architectures, trained stand-alone in
    `--jobs` worker processes while the main process goes on (with the supernet's training)."""
    from benchmarks.common import random_architectures
    from benchmarks.search_scale import noise

    if args.jobs == 1 or not any(name in FIDELITY for name in args.strategies):
        return None
    # The first draws of `strategies.random_fidelity` (it draws more only where a training fails).
    drawn = list(random_architectures(study, 1000 + args.seed, n=args.fidelity, key=cache.key))
    wanted = {cache.key(p): p for p in drawn}
    done = {k: row for k, row in cache.results.items() if row["complete"]}  # a partial curve is trained again
    seed = int(study.base.train.seed)  # the same training as in this process: rows equal to the last digit
    return _Background(cache, lambda on_row: noise.replicate(args.dataset, seed, wanted, done, args.jobs, on_row, log,
                                                              label="stand-alone"))


def summarise(args: argparse.Namespace, argv: list[str]) -> None:
    from benchmarks.search_scale import summary
    from benchmarks.search_scale.study import scale_study

    check_outputs({"--json": args.json, "--plot": args.plot}, {})
    raws = _read_raws(args.raw)
    fidelity = _fidelity(raws)
    epochs_of = {name: supernet_id(name, spec[0]) for name, spec in {**SUPERNETS, **ROUNDS}.items()}
    plot_path = args.plot or _figure(args.json, DEFAULT_JSON, "search_scale.png")
    out, plots, lines = [], [], []
    # Per dataset: its own range reference; a dataset with only random architectures (no search run) has no rows.
    for dataset in sorted({r["dataset"] for raw in raws for r in raw["runs"]}):
        runs, waiting = summary.with_baseline(sorted((r for raw in raws for r in raw["runs"] if r["dataset"] == dataset),
                                                     key=_run_order))
        if waiting:  # a one-shot run is measured against its seed's finished baseline, nothing less
            lines.append(f"{dataset}: left out until their seed's TPE baseline is finished (`progress` compares "
                         f"them with it meanwhile): {', '.join('seed %d %s' % (r['seed'], r['strategy']) for r in waiting)}")
        if not runs:
            continue
        results = _results_of(raws, dataset)
        ranging = [results[k] for k in summary.reference_keys(runs, fidelity, dataset)]
        rows = summary.rows(runs, ranging, fidelity, epochs_of, {dataset: scale_study(dataset, 1).reference_point()})
        out += rows
        plots.append(summary.plot(runs, ranging, plot_path if not plots else
                                  plot_path.with_name(f"{plot_path.stem}_{dataset}{plot_path.suffix}")))
        lines.append(f"{dataset}: range reference {rows[0]['reference']} (over {len(ranging)} of the "
                     f"{len(results)} architectures trained)")
    write_json(args.json, out)
    print(summary.table(out))
    print(f"\n{'; '.join(lines)}; commands: {'; '.join(raw['command'] for raw in raws)}; commits "
          f"{', '.join(sorted({raw['machine']['commit'] for raw in raws}))}\nwrote {args.json} and "
          f"{', '.join(map(str, plots))}")


def _run_order(run: dict) -> tuple:
    """Rows by seed, then per-trial strategies before one-shot ones in the order this module lists
    them: the table reads the same whatever the raw files are called."""
    order = [*PER_TRIAL, *SUPERNETS, *ROUNDS]
    return run["seed"], order.index(run["strategy"]) if run["strategy"] in order else len(order), run["strategy"]


def _figure(json_path: Path, default_json: Path, page_figure: str, suffix: str = "") -> Path:
    """Where a command's figure goes: the benchmark pages' own (`page_figure` in docs/benchmarks/, rebuilt
    in place) when the command writes its default result file, else beside the result file asked for
    (its name, `suffix`, .png)."""
    if json_path.resolve() == default_json.resolve():
        return PAGES / page_figure
    return json_path.with_name(f"{json_path.stem}{suffix}.png")


def progress(args: argparse.Namespace, argv: list[str]) -> None:
    import benchmarks.search_scale.progress as under_way
    from benchmarks.common import CurveCache
    from benchmarks.search_scale import strategies
    from benchmarks.search_scale.study import scale_study

    out = args.json or RESULTS / "search_scale_progress" / f"{args.dataset}_seed{args.seed}.json"
    figure = out.with_suffix(".png") if args.json else PAGES / f"search_scale_progress_{args.dataset}_seed{args.seed}.png"
    check_outputs({"--json": out}, {})
    raws = [r for r in _read_raws(args.raw) if r["dataset"] == args.dataset]
    study = scale_study(args.dataset, args.trials)
    cache = CurveCache(study, args.cache, print)
    cache.trains = False  # replay what the run has trained so far, nothing more
    baseline = strategies.per_trial(study, cache, args.seed, None, print, name="tpe")
    if not baseline["events"]:
        raise ConfigError(f"--cache {args.cache} holds no trial of the seed-{args.seed} TPE run on {args.dataset} yet "
                          f"(`run --dataset {args.dataset} --seed {args.seed} --strategies tpe` fills it)")
    one_shot = [dict(r, dataset=args.dataset) for raw in raws for r in raw["runs"]
                if r["seed"] == args.seed and not r["strategy"].startswith("tpe")]
    results = {**_results_of(raws, args.dataset), **cache.results}
    row = under_way.progress_row(args.dataset, args.seed, baseline, args.trials, one_shot, results, _fidelity(raws))
    plot = under_way.plot(row, figure)
    write_json(out, dict(row, command=" ".join(["python -m benchmarks.search_scale", *argv]), machine=machine_info()))
    print(under_way.table(row))
    print(f"wrote {out} and {plot}")


def training_free(args: argparse.Namespace, argv: list[str]) -> None:
    import torch

    from benchmarks.search_scale import snasnet
    from benchmarks.search_scale.study import scale_study
    from benchmarks.search_scale.summary import training_free_rows

    check_outputs({"--json": args.json}, {})
    raws = _read_raws(args.raw)
    torch.set_num_threads(1)
    out = []
    for dataset in sorted({raw["dataset"] for raw in raws}):
        study = scale_study(dataset, 1)
        fidelity = _fidelity(r for r in raws if r["dataset"] == dataset)
        results = _results_of(raws, dataset)
        keys = sorted({p["key"] for pairs in fidelity.values() for p in pairs})
        cpu = time.process_time()
        scores = dict(zip(keys, snasnet.score_architectures(study, [results[k]["params"] for k in keys])))
        rows = training_free_rows(dataset, scores, results, fidelity, time.process_time() - cpu)
        out.append(dict(rows, command=" ".join(["python -m benchmarks.search_scale", *argv]), machine=machine_info()))
        print(json.dumps({k: v for k, v in out[-1].items() if k not in ("scores", "machine")}, indent=1))
    write_json(args.json, out)
    print(f"wrote {args.json}")


def interference(args: argparse.Namespace, argv: list[str]) -> None:
    from benchmarks.search_scale.interference import interference_rows, table

    check_outputs({"--json": args.json}, {})
    raws = _read_raws(args.raw)
    fidelity = _fidelity(raws)
    out = []
    for dataset in sorted({raw["dataset"] for raw in raws}):
        out += interference_rows(dataset, _results_of(raws, dataset), fidelity)
    print(table(out))
    command = " ".join(["python -m benchmarks.search_scale", *argv])
    write_json(args.json, dict(command=command, machine=machine_info(), rows=out))
    print(f"wrote {args.json}")


def noise(args: argparse.Namespace, argv: list[str]) -> None:
    from benchmarks.search_scale import noise
    from benchmarks.search_scale.study import scale_study
    from benchmarks.search_scale.summary import pooled_pairs, supernet_label

    check_outputs({"--json": args.json, "--cache": args.cache}, {})
    league_runs = _read_league(args.league) if args.league else []
    raws = _read_raws(args.raw)
    fidelity = _fidelity(raws)
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:7.0f}s] {msg}", flush=True)

    cached = noise.load_replicas(args.cache, args.train_seed)
    out, plots = [], []
    for dataset in sorted({raw["dataset"] for raw in raws}):
        results, pooled = _results_of(raws, dataset), pooled_pairs(fidelity, dataset)
        keys = sorted({k for pairs in pooled.values() for k in pairs})

        def save(key: str, row: dict) -> None:
            cached[key] = row
            noise.save_replicas(args.cache, args.train_seed, cached)

        replicas = noise.replicate(dataset, args.train_seed, {k: results[k]["params"] for k in keys}, cached,
                                   args.jobs, save, log)
        seeds = (int(scale_study(dataset, 1).base.train.seed), args.train_seed)  # the runs' training seed, the replicas'
        out.append(dict(noise.noise_rows(dataset, results, replicas, pooled, seeds), source="replicas",
                        command=" ".join(["python -m benchmarks.search_scale", *argv]), machine=machine_info()))
        supernet = next(iter(pooled))  # the default supernet (24 epochs, uniform) sorts first
        plots.append(noise.plot(results, replicas, pooled[supernet], supernet_label(supernet),
                                _figure(args.json, NOISE_JSON, f"search_scale_noise_{dataset}.png", f"_{dataset}")))
    print(noise.table(out))
    if league_runs:
        league = noise.league_agreement(league_runs)
        print(f"\nseed replicas of {args.league}:\n{noise.league_table(league)}")
        out += [dict(row, source="league", league=str(args.league)) for row in league]
    write_json(args.json, out)
    print(f"wrote {args.json} and {', '.join(map(str, plots))}")


def _read_league(path: Path) -> list[dict]:
    """The runs of a `benchmarks.league` JSON."""
    if not path.is_file():
        raise ConfigError(f"--league {path}: no such file (`python -m benchmarks.league --json FILE` writes one)")
    need = {"dataset", "mixer", "shortcut", "seed", "val_acc"}
    try:
        runs = json.loads(path.read_text())["runs"]
        complete = bool(runs) and all(need <= set(r) for r in runs)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        complete = False
    if not complete:
        raise ConfigError(f"--league {path} is not a league JSON: it needs runs, each with {', '.join(sorted(need))}")
    return runs


def _read_raws(paths: list[Path]) -> list[dict]:
    """The raw runs files, oldest run first (the date each records): where two hold the same random
    architecture's pair for one supernet, the later run's replaces the earlier's (it may record more,
    e.g. the inherited val_loss), whatever the files are called and in whatever order they are given."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"no raw runs file {', '.join(missing)} (`run --raw FILE` writes one)")
    raws = []
    for p in paths:  # the committed raw runs are gzipped (benchmarks/results/search_scale_raw/*.json.gz)
        try:
            raw = json.loads(gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_text())
        except (OSError, EOFError, UnicodeDecodeError, ValueError) as err:
            raise ConfigError(f"{p} is not a raw runs file (JSON, or gzipped JSON as .gz): {err}") from None
        if not isinstance(raw, dict) or not {"dataset", "runs", "results"} <= set(raw):
            raise ConfigError(f"{p} is not a raw runs file: it needs dataset, runs and results (`run --raw FILE` writes one)")
        raws.append(raw)
    return sorted(raws, key=_run_date)


def _run_date(raw: dict) -> float:
    import datetime

    date = (raw.get("machine") or {}).get("date")
    return datetime.datetime.fromisoformat(date).timestamp() if date else 0.0


def _results_of(raws: list[dict], dataset: str) -> dict:
    """Architecture key -> its trained row, over every raw file of `dataset`."""
    return {k: v for raw in raws if raw["dataset"] == dataset for k, v in raw["results"].items()}


def _fidelity(raws) -> dict:
    """(dataset, seed, supernet epochs) -> the random architectures' pairs, each architecture once."""
    fidelity: dict = {}
    for raw in raws:  # a list: a raw file from before `fidelity-e48`, scored on the default supernet
        by_epochs = raw["fidelity"] if isinstance(raw["fidelity"], dict) else {FIDELITY["fidelity"]: raw["fidelity"]}
        for epochs, pairs in by_epochs.items():
            supernet = int(epochs) if str(epochs).isdigit() else epochs
            kept = fidelity.setdefault((raw["dataset"], raw["seed"], supernet), {})
            kept.update((p["key"], p) for p in pairs)  # a rerun with a larger --fidelity repeats the first ones
    return {k: list(v.values()) for k, v in fidelity.items()}


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)  # bad input ends here, before any work
    {"run": run, "summarise": summarise, "training-free": training_free, "interference": interference,
     "noise": noise, "progress": progress}[args.command](args, argv)


if __name__ == "__main__":
    main()
