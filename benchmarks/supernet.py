"""What the one-shot strategy (`search.strategy: supernet`) buys and costs, on the quickstart space.

    python -m benchmarks.supernet --json benchmarks/results/supernet.json

1. Rank fidelity: `--fidelity N` architectures drawn uniformly from the space are trained stand-alone
   (the study's training) and scored by each supernet (`--supernet-epochs` x `--sampling`) with
   inherited weights after BN recalibration; Kendall's tau between the two, for accuracy and energy.
2. Cost to a front: the per-trial strategy (ask/tell with `--trial-sampler`, a repeat told its
   earlier outcome, `search.trials` distinct architectures) over `--seeds` seeds, against the supernet
   strategy (supernet training + candidates scored + the best k trained stand-alone), each charged
   the process CPU-seconds its work took. Target: 95% of the best hypervolume any per-trial run
   reached, under the study's reference point and under a "range" reference (the worst accuracy and
   energy measured in this benchmark), as BENCHMARKS.md explains.
3. What weight sharing costs: stand-alone accuracy of the confirmed architectures against the
   per-trial search's front at the same or lower energy, and inherited against stand-alone accuracy.

Everything runs in this process with one torch thread, so CPU-seconds count the work and not the
machine's other jobs. Stand-alone results are cached by canonical key (`--cache`) with the CPU they
cost; an architecture met again is charged that cost again (a search would train it).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks.common import REPO, check_outputs, machine_info, median, write_json
from fwformer.errors import exit_on_user_error

DEFAULT_CACHE = REPO / "benchmarks" / "results" / "supernet_cache_quickstart.json"


class Standalone:
    """Trains architectures of the study exactly as its trials do; cached by canonical key."""

    def __init__(self, study, cache_path: Path, log: Callable[[str], None]):
        from fwformer.data import build_datasets

        self.study, self.cache_path, self.log = study, cache_path, log
        self.cache: dict[str, dict] = json.loads(cache_path.read_text())["results"] if cache_path.is_file() else {}
        self.datasets = build_datasets(study.base)

    def config(self, params: dict):
        cfg = self.study.trial_config(params)
        cfg.train.num_threads, cfg.train.device = 1, "cpu"
        return cfg

    def __call__(self, params: dict) -> tuple[str, dict]:
        from fwformer.train import train

        cfg = self.config(params)
        key = self.study.space.canonical_key(cfg)
        if key not in self.cache:
            wall, cpu = time.perf_counter(), time.process_time()
            result = train(cfg, progress=False, datasets=self.datasets)
            self.cache[key] = dict(val_acc=result["val_acc"], energy_mj=result["energy_mj"], params=result["params"],
                                   cpu_s=time.process_time() - cpu, wall_s=time.perf_counter() - wall,
                                   mixers=list(cfg.block_mixers), T=cfg.T, params_choice=dict(params))
            write_json(self.cache_path, dict(study=self.study.name, results=self.cache))
            row = self.cache[key]
            self.log(f"    trained #{len(self.cache)} T{cfg.T} {','.join(cfg.block_mixers)}: val_acc {row['val_acc']:.4f} "
                     f"energy {row['energy_mj']:.4g} mJ ({row['cpu_s']:.1f} CPU-s)")
        return key, self.cache[key]


def random_architectures(study, n: int, seed: int = 0) -> list[dict]:
    rng, out, keys = random.Random(seed), [], set()
    choices = study.space.choices()
    while len(out) < n:
        params = {k: rng.choice(v) for k, v in choices.items()}
        key = study.space.canonical_key(params)
        if key not in keys and not study.space.check_constraints(study.trial_config(params)):
            keys.add(key)
            out.append(params)
    return out


def train_supernets(study, variants: list[tuple], workdir: Path, log) -> dict:
    """{variant: (checkpoint dir, CPU-s)} for each variant (sampling, epochs[, candidate_lr[, distill[,
    batchnorm]]]); a finished one in `workdir` is not trained again."""
    import dataclasses

    from search.supernet import train_supernet, training_config

    out = {}
    for variant in variants:
        sampling, epochs, lr, distill, norm = (*variant, *(1.0, "none", "shared")[len(variant) - 2:])
        n = dataclasses.replace(study.search.supernet, sampling=sampling, epochs=epochs, candidate_lr=lr,
                                distill=distill, batchnorm=norm)
        cfg = training_config(dataclasses.replace(study, search=dataclasses.replace(study.search, supernet=n)))
        folder = workdir / (f"supernet-{sampling}-e{epochs}" + (f"-lr{lr:g}" if lr != 1.0 else "")
                            + (f"-{distill}" if distill != "none" else "") + (f"-bn{norm}" if norm != "shared" else ""))
        report = lambda m, name=folder.name: log(f"    {name}: epoch {m['epoch']} loss {m['train_loss']:.3f}") and False  # noqa: E731
        out[variant] = (folder, trained_once(folder, lambda on_epoch: train_supernet(
            cfg, folder, report=lambda m: on_epoch(m) or report(m), num_threads=1)))
        log(f"  supernet {folder.name}: {out[variant][1]:.0f} CPU-s")
    return out


def trained_once(folder: Path, train: Callable[[Callable[[dict], None]], Any]) -> float:
    """The CPU-seconds the training in `folder` took, over every run that trained it: `train(on_epoch)`
    runs (and continues a checkpoint there) unless the folder holds a finished training and its cost.

    `train` calls `on_epoch(metrics)` after each epoch's checkpoint; the cost so far is written then
    (`cpu_s.json`: CPU-seconds and epochs), so a training stopped and continued later, in another
    process or session, is charged both parts. An epoch checkpointed but not yet costed when the
    process died is charged the mean epoch of those costed; the epoch under way when it died is
    trained again and not charged (what a search that resumed it would not pay twice either)."""
    from search.supernet import trained_epochs

    cost_file = folder / "cpu_s.json"
    done, planned = trained_epochs(folder)
    ledger = json.loads(cost_file.read_text()) if cost_file.is_file() else None
    if ledger is not None and "epochs" not in ledger:  # written only at the end, before the ledger had epochs
        ledger["epochs"] = done
    if planned and done >= planned and ledger is not None and ledger["epochs"] >= done:
        return ledger["cpu_s"]
    before, costed = (ledger["cpu_s"], ledger["epochs"]) if ledger and 0 < ledger["epochs"] <= done else (0.0, 0)
    before += (done - costed) * (before / costed) if costed else 0.0
    start = time.process_time()

    def on_epoch(metrics: dict) -> None:
        write_json(cost_file, {"cpu_s": before + time.process_time() - start, "epochs": int(metrics["epoch"])})

    train(on_epoch)
    cpu = before + time.process_time() - start
    write_json(cost_file, {"cpu_s": cpu, "epochs": trained_epochs(folder)[0]})
    return cpu


def scorer_of(study, folder: Path, settings, datasets: Optional[tuple] = None):
    """The `SubnetScorer` of the supernet in `folder` (`datasets`: its data, when already built)."""
    import torch

    from fwformer.data import build_datasets
    from search.supernet import SubnetScorer
    from search.supernet import load_supernet

    supernet, cfg, _ = load_supernet(folder)
    return SubnetScorer(supernet, cfg, datasets or build_datasets(cfg), device=torch.device("cpu"),
                        calibration_batches=settings.calibration_batches, val_batches=settings.val_batches,
                        metrics=study.metric_names)


def kendall(a: list[float], b: list[float]) -> dict:
    from scipy.stats import kendalltau

    res = kendalltau(a, b)
    return dict(tau=float(res.statistic), p=float(res.pvalue), n=len(a))


def fidelity(study, standalone: Standalone, supernets: dict, n: int, log) -> dict:
    from search.supernet import choice_of

    archs = random_architectures(study, n)
    rows = [standalone(p)[1] for p in archs]
    out = {}
    for (sampling, epochs), (folder, _) in supernets.items():
        score = scorer_of(study, folder, study.search.supernet)
        cpu = time.process_time()
        inherited = [score(choice_of(study.trial_config(p))) for p in archs]
        per = (time.process_time() - cpu) / len(archs)
        acc = kendall([r["val_acc"] for r in inherited], [r["val_acc"] for r in rows])
        energy = kendall([r["energy_mj"] for r in inherited], [r["energy_mj"] for r in rows])
        ratio = [i["energy_mj"] / r["energy_mj"] for i, r in zip(inherited, rows)]
        out[f"{sampling}-e{epochs}"] = dict(
            acc=acc, energy=energy, cpu_s_per_candidate=per, energy_ratio_median=median(ratio),
            energy_ratio_range=[min(ratio), max(ratio)],
            acc_gap_median=median([r["val_acc"] - i["val_acc"] for i, r in zip(inherited, rows)]),
            inherited=[{k: i[k] for k in ("val_acc", "energy_mj")} for i in inherited])
        log(f"  fidelity {sampling} e{epochs}: tau acc {acc['tau']:.3f} (p {acc['p']:.2g}), tau energy "
            f"{energy['tau']:.3f}, energy inherited/stand-alone {median(ratio):.3f}, {per:.2f} CPU-s per candidate")
    return dict(architectures=archs, standalone=[{k: r[k] for k in ("val_acc", "energy_mj", "cpu_s")} for r in rows],
                supernets=out)


def per_trial_runs(study, standalone: Standalone, sampler_name: str, seeds: list[int], log) -> list[dict]:
    import optuna

    from search.trials import MAX_REPEATS

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from search.study import make_sampler

    runs = []
    for seed in seeds:
        ostudy = optuna.create_study(directions=study.directions,
                                     sampler=make_sampler(sampler_name, seed=seed, budget=study.search.trials))
        seen, cpu, values, misses = set(), [], [], 0
        while len(seen) < study.search.trials and misses < MAX_REPEATS:
            trial = ostudy.ask(study.space.distributions())
            key, row = standalone(trial.params)
            ostudy.tell(trial, [row[m] for m in study.metric_names])
            if key in seen:
                misses += 1
                continue
            misses = 0
            seen.add(key)
            cpu.append((cpu[-1] if cpu else 0.0) + row["cpu_s"])
            values.append([row[m] for m in study.metric_names])
        runs.append(dict(seed=seed, keys=sorted(seen), cpu_s=cpu, values=values))
        log(f"  per-trial {sampler_name} seed {seed}: {len(seen)} trials, {cpu[-1]:.0f} CPU-s")
    return runs


def supernet_runs(study, standalone: Standalone, folder: Path, supernet_cpu: float, seeds: list[int],
                  budgets: list[int], ks: list[int], log) -> list[dict]:
    import optuna

    from search.front import Objectives

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from search.study import make_sampler
    from search.supernet import search_candidates
    from search.supernet import choose

    class NoStop:
        @staticmethod
        def is_set() -> bool:
            return False

    objectives = Objectives.of(study.objectives, study.reference_point())
    score = scorer_of(study, folder, study.search.supernet)
    runs = []
    for seed in seeds:
        cstudy = optuna.create_study(directions=study.directions, sampler=make_sampler(
            study.search.sampler, seed=seed, budget=max(budgets)))
        scored: list[tuple[Any, dict, float]] = []
        start = time.process_time()
        search_candidates(cstudy, study, score, budget=max(budgets), stop=NoStop,
                          on_scored=lambda t, r, k: scored.append((t, r, time.process_time() - start)))
        log(f"  supernet seed {seed}: {len(scored)} candidates, {scored[-1][2]:.0f} CPU-s")
        for budget in budgets:
            pool = scored[:budget]
            for k in ks:
                picked = choose([[r[m] for m in objectives.metrics] for _, r, _ in pool], objectives.directions,
                                objectives.reference, k)
                confirmed = []
                for i in picked:
                    key, row = standalone(dict(pool[i][0].params))
                    confirmed.append(dict(key=key, candidate=pool[i][0].number, inherited=[pool[i][1][m] for m in
                                                                                         objectives.metrics],
                                          standalone=[row[m] for m in objectives.metrics], cpu_s=row["cpu_s"]))
                runs.append(dict(seed=seed, candidates=budget, k=k, confirmed=confirmed,
                                 cpu_s=dict(supernet=supernet_cpu, candidates=pool[-1][2],
                                            confirm=sum(c["cpu_s"] for c in confirmed))))
    return runs


def summarise(study, per_trial: list[dict], supernet: list[dict], standalone: Standalone) -> dict:
    from search.front import hypervolume

    directions = list(study.directions)
    used = [r for r in standalone.cache.values()]
    references = {"study": study.reference_point(),
                  "range": [min(r["val_acc"] for r in used), max(r["energy_mj"] for r in used)]}
    out: dict[str, Any] = {"references": references}
    for name, ref in references.items():
        curves = [[hypervolume(r["values"][:i + 1], directions, ref) for i in range(len(r["values"]))]
                  for r in per_trial]
        best = max(c[-1] for c in curves)
        target = 0.95 * best
        to_target = []
        for r, c in zip(per_trial, curves):
            hit = next((i for i, v in enumerate(c) if v >= target), None)
            to_target.append(None if hit is None else dict(trials=hit + 1, cpu_s=r["cpu_s"][hit]))
        rows = []
        for s in supernet:
            hv = hypervolume([c["standalone"] for c in s["confirmed"]], directions, ref)
            cost = sum(s["cpu_s"].values())
            rows.append(dict(seed=s["seed"], candidates=s["candidates"], k=s["k"], hv_vs_best=hv / best,
                             reached=hv >= target, cpu_s=cost, parts=s["cpu_s"]))
        reached = [t["cpu_s"] for t in to_target if t]
        out[name] = dict(best_per_trial_hv=best, per_trial_final_vs_best=[c[-1] / best for c in curves],
                         per_trial_to_95pct=to_target,
                         per_trial_cpu_to_95pct_median=median(reached) if len(reached) == len(to_target) else None,
                         per_trial_total_cpu=[r["cpu_s"][-1] for r in per_trial], supernet=rows)
    return out


def sharing_cost(study, per_trial: list[dict], supernet: list[dict], standalone: Standalone) -> list[dict]:
    """Per confirmed architecture: inherited vs stand-alone accuracy, and the per-trial runs' best
    stand-alone accuracy at the same or lower energy."""
    rows = []
    for s in supernet:
        for c in s["confirmed"]:
            acc, energy = c["standalone"]
            rivals = []
            for r in per_trial:
                ok = [v[0] for v in r["values"] if v[1] <= energy]
                rivals.append(max(ok) if ok else None)
            rows.append(dict(seed=s["seed"], candidates=s["candidates"], k=s["k"], candidate=c["candidate"],
                             inherited_acc=c["inherited"][0], standalone_acc=acc, energy_mj=energy,
                             per_trial_best_acc_at_energy=rivals))
    return rows


def report(payloads: list[dict]) -> str:
    """Markdown tables of one or more result files (`--report FILE ...`)."""
    lines: list[str] = []
    for payload in payloads:
        m = payload["machine"]
        lines.append(f"`{payload['command']}` (commit `{m['commit']}`, {m['date']}, load average "
                     f"{', '.join(f'{x:.1f}' for x in m['load_average'])})\n")
        if "fidelity" in payload:
            f = payload["fidelity"]
            lines += ["| supernet | training CPU-s | Kendall tau, val_acc (p) | Kendall tau, energy_mj (p) | "
                      "energy inherited / stand-alone, median (range) | stand-alone - inherited val_acc, median | "
                      "CPU-s per candidate |", "|---|---|---|---|---|---|---|"]
            for name, row in f["supernets"].items():
                cpu = payload["supernets"][name]["cpu_s"]
                lo, hi = row["energy_ratio_range"]
                lines.append(f"| {name} | {cpu:.0f} | {row['acc']['tau']:.3f} ({row['acc']['p']:.2g}) | "
                             f"{row['energy']['tau']:.3f} ({row['energy']['p']:.2g}) | {row['energy_ratio_median']:.3f} "
                             f"({lo:.3f}-{hi:.3f}) | {row['acc_gap_median']:.3f} | {row['cpu_s_per_candidate']:.2f} |")
            accs = [r["val_acc"] for r in f["standalone"]]
            cpus = [r["cpu_s"] for r in f["standalone"]]
            lines.append(f"\n{len(accs)} architectures; stand-alone val_acc {min(accs):.3f} to {max(accs):.3f}, "
                         f"training {median(cpus):.0f} CPU-s median ({min(cpus):.0f} to {max(cpus):.0f})\n")
        if "cost" in payload:
            for ref in ("study", "range"):
                c = payload["cost"][ref]
                reach = ", ".join("never" if t is None else f"{t['trials']} trials / {t['cpu_s']:.0f} CPU-s"
                                  for t in c["per_trial_to_95pct"])
                lines += [f"\n{ref} reference {[round(x, 6) for x in payload['cost']['references'][ref]]}: best "
                          f"per-trial hypervolume {c['best_per_trial_hv']:.5g}; per-trial runs reach 95% of it at: "
                          f"{reach} (of {', '.join(f'{x:.0f}' for x in c['per_trial_total_cpu'])} CPU-s in all)\n",
                          "| seed | candidates | k | HV / best per-trial | within 5% | CPU-s: supernet + candidates + "
                          "confirm = total | per-trial CPU-s to 95% / this |", "|---|---|---|---|---|---|---|"]
                base = c["per_trial_cpu_to_95pct_median"]
                for row in c["supernet"]:
                    p = row["parts"]
                    ratio = f"{base / row['cpu_s']:.2f}" if base and row["reached"] else "-"
                    lines.append(f"| {row['seed']} | {row['candidates']} | {row['k']} | {row['hv_vs_best']:.3f} | "
                                 f"{'yes' if row['reached'] else 'no'} | {p['supernet']:.0f} + {p['candidates']:.0f} + "
                                 f"{p['confirm']:.0f} = {row['cpu_s']:.0f} | {ratio} |")
            lines += ["\n| seed | candidates | k | candidate | inherited val_acc | stand-alone val_acc | energy mJ | "
                      "per-trial best val_acc at <= this energy |", "|---|---|---|---|---|---|---|---|"]
            for row in payload["sharing"]:
                rivals = ", ".join("-" if r is None else f"{r:.3f}" for r in row["per_trial_best_acc_at_energy"])
                lines.append(f"| {row['seed']} | {row['candidates']} | {row['k']} | {row['candidate']} | "
                             f"{row['inherited_acc']:.3f} | {row['standalone_acc']:.3f} | {row['energy_mj']:.4g} | {rivals} |")
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.supernet", description=__doc__.splitlines()[0])
    p.add_argument("--study", default="quickstart")
    p.add_argument("--phase", choices=["fidelity", "cost", "all"], default="all",
                   help="fidelity: rank fidelity only; cost: cost to a front and weight sharing's cost only")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--trials", type=int, default=None, help="per-trial budget (default: the study's search.trials)")
    p.add_argument("--trial-sampler", default="tpe", help="the per-trial strategy's sampler (its best: BENCHMARKS.md)")
    p.add_argument("--supernet-epochs", type=int, nargs="+", default=[12])
    p.add_argument("--sampling", nargs="+", default=["uniform"])
    p.add_argument("--supernet", nargs="+", default=None, metavar="SAMPLING:EPOCHS",
                   help="more supernets for rank fidelity, e.g. balanced:12")
    p.add_argument("--fidelity", type=int, default=30, help="random architectures for rank fidelity")
    p.add_argument("--candidates", type=int, nargs="+", default=[50, 100, 200])
    p.add_argument("--confirm", type=int, nargs="+", default=[2, 3, 4, 6])
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--workdir", type=Path, default=Path("supernet-bench"))
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--report", nargs="+", default=None, help="print the markdown tables of these result files")
    return p.parse_args(argv)


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict:
    import torch

    from search.study import load_study

    args = parse_args(argv)
    check_outputs({"--json": args.json, "--cache": args.cache}, {"--workdir": args.workdir})
    if args.report:
        print(report([json.loads(Path(f).read_text()) for f in args.report]))
        return {}
    torch.set_num_threads(1)
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:7.0f}s] {msg}", flush=True)

    overrides = ["search.strategy=supernet", "train.num_threads=1", "train.device=cpu"]
    study = load_study(args.study, overrides + ([f"search.trials={args.trials}"] if args.trials else []))
    standalone = Standalone(study, args.cache, log)
    variants = [(s, e) for s in args.sampling for e in args.supernet_epochs]
    variants += [(v.split(":")[0], int(v.split(":")[1])) for v in args.supernet or []]
    if args.phase == "cost":
        variants = variants[:1]
    supernets = train_supernets(study, variants, args.workdir, log)
    payload: dict[str, Any] = dict(command=" ".join(["python -m benchmarks.supernet", *(argv or sys.argv[1:])]),
                                   machine=machine_info(), study=args.study, phase=args.phase)
    payload["supernets"] = {f"{s}-e{e}": dict(cpu_s=c) for (s, e), (_, c) in supernets.items()}
    if args.phase in ("fidelity", "all"):
        payload["fidelity"] = fidelity(study, standalone, supernets, args.fidelity, log)
    if args.phase in ("cost", "all"):
        seeds = list(range(args.seeds))
        per_trial = per_trial_runs(study, standalone, args.trial_sampler, seeds, log)
        folder, cpu = supernets[variants[0]]
        runs = supernet_runs(study, standalone, folder, cpu, seeds, args.candidates, args.confirm, log)
        payload.update(per_trial=per_trial, supernet_runs=runs, default_variant=f"{variants[0][0]}-e{variants[0][1]}",
                       cost=summarise(study, per_trial, runs, standalone),
                       sharing=sharing_cost(study, per_trial, runs, standalone))
    if args.json:
        write_json(args.json, payload)
        log(f"wrote {args.json}")
    return payload


if __name__ == "__main__":
    main(sys.argv[1:])
