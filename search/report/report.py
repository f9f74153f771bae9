"""What a study says: which mixer wins in which block, what matters, whether the search converged,
and, for several studies, how their fronts compare. PNGs, a JSON of every number, and one
self-contained HTML page.

    python -m search.report --study quickstart                 # reports/quickstart/report.html
    python -m search.report --study quickstart --study qs_nsga # reports/quickstart-vs-qs_nsga/
    python -m search.report --study A --storage sqlite:///a/optuna.db --study B --storage sqlite:///b/optuna.db

The Optuna storage is only read (`search.front.stored`): a finished or a running study, nothing created,
no attribute written. A bad `--study` or `--storage` is one `error:` line and exit code 2, before
anything is written. `search.run` writes the same report at the end of every run into
`ray_results/STUDY/report/` and logs it to the study's parent run (`search.run.artifacts`).

One study: the front (`search.report.plots`), the placement map (`search.report.placement`), parameter importance
per objective (`search.report.importance`), convergence and, for the supernet strategy, estimate against
confirmation (`search.report.convergence`). Several studies: their fronts and hypervolumes at a common
reference point, with attainment surfaces for seeds of one setting (`search.report.compare`).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from fwformer.cli import ArgumentParser, ConfigError, exit_on_user_error

READ_PLACEMENT = ("Rows are mixer families (fixed names, or a family such as dwt for dwt-haar and dwt-db2), columns "
                  "the blocks from input to output; a cell's colour is the share of the architectures with that family "
                  "in that block, its number the count. A hybrid a+b counts toward both parts and says so in its cell. "
                  "A pattern such as spectral mixers early and attention late shows as a diagonal. The row beneath "
                  "counts T.")
READ_QUARTER = (" Left: the Pareto front; right: the best quarter of the trials by non-dominated rank (whole ranks "
                "best first, the last one cut by hypervolume contribution), a wider and less noisy view of the same "
                "question.")
READ_FRONT = ("Every trained trial is a dot (crosses: stopped early or failed, at their last values). The front is "
              "the staircase: no trial lies beyond it in both objectives, and every step buys accuracy with energy. "
              "Numbers are trial numbers; the circled point is the knee, the bend of the front (search.export's "
              "default pick).")
READ_IMPORTANCE = ("For each objective, the share of its variation over the trained trials that each searched "
                   "parameter accounts for (they add up to 1). A parameter near 0 barely changed that objective in "
                   "this study; importances say what mattered, not in which direction.")
READ_CONVERGENCE = ("The hypervolume is the area the front dominates, up to the reference point: it never falls, and a "
                    "curve that has flattened over the last trials says more trials would add little at this "
                    "fidelity. Left against finished trials, right against the compute they used.")
READ_SUPERNET = ("Left two: the front of the candidates as the supernet scored them with inherited weights, and the "
                 "front of the confirmed candidates after stand-alone training. Right: for each confirmed trial, its "
                 "inherited score against its trained one; points on the dashed line were estimated exactly, and "
                 "Kendall's tau says how well the estimate ranks them (1: the same order).")
READ_COMPARISON = ("Each study's front as a staircase, its hypervolume (HV) at one common reference point (the worst of "
                   "the studies' own reference points in every objective), so the numbers can be ranked. Right, when "
                   "several studies differ only in their seed: the surfaces attained by at least one of the runs, by "
                   "at least half and by all; the band between them is the spread due to the seed.")


@dataclass
class Report:
    folder: Path
    files: list[Path] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # the lines for the terminal


@dataclass
class Findings:
    """What one study says, computed once; the pictures, the page, the JSON and the terminal read it."""

    study: Any
    objectives: Any  # search.front.Objectives
    front: Any  # search.front.Front
    placements: list  # search.report.placement.Placement: the front, then the best quarter when it differs
    quarter_note: list[str]  # the best quarter in words
    importances: list  # search.report.importance.Importance, one per objective
    convergence: Any  # search.report.convergence.Convergence
    supernet: Optional[Any]  # search.report.convergence.SupernetView of a supernet study

    @property
    def name(self) -> str:
        return self.study.study_name


# ---- one study ------------------------------------------------------------------------------------
def write_report(study: Any, *, folder: Path, candidates: Optional[Any] = None, evaluator: str = "fanova",
                 storage: str = "", front: Optional[Any] = None) -> Report:
    """The report of Optuna `study` (and of its supernet `candidates` study) into `folder`; `front`,
    when the caller has built the study's front already (the end of a search)."""
    found = findings(study, candidates=candidates, evaluator=evaluator, front=front)
    report = Report(Path(folder))
    pictures = _draw(found, report.folder)
    report.summary = summary(found)
    page = _page(found, pictures, storage, report.summary)
    report.files = [*pictures.values(), page.write(report.folder / "report.html"),
                    _write_json(report.folder / "report.json", _numbers(found))]
    report.summary.append(f"report: {report.folder / 'report.html'}")
    return report


def findings(study: Any, *, candidates: Optional[Any] = None, evaluator: str = "fanova",
             front: Optional[Any] = None) -> Findings:
    from search.report.convergence import curve, supernet_view
    from search.front import Front
    from search.report.importance import importances
    from search.report.placement import best_quarter, space_choices
    from search.records import STUDY_RESOURCES
    from search.front import study_objectives

    trials = study.get_trials(deepcopy=False)
    front = front if front is not None else Front(trials, study_objectives(study))
    objectives = front.objectives
    choices = space_choices(front.trials)
    placements = [_placement(front, front.members, "Pareto front", "front members", choices)]
    quarter = best_quarter(front.candidates, objectives)
    if not {t.number for t in quarter} <= front.numbers:
        placements.append(_placement(front, quarter, "best quarter by non-dominated rank", "trials of the best quarter",
                                     choices))
        note = [f"best quarter: {x}" for x in placements[1].words()]
    else:  # a small study: its front alone holds a quarter of the trials or more
        note = [f"the best quarter by non-dominated rank ({len(quarter)} of the {len(front.candidates)} completed "
                f"trials) lies within the front: no second panel"] if quarter else []
    return Findings(study, objectives, front, placements, note,
                    importances(front.candidates, objectives.metrics, objectives.directions, evaluator=evaluator),
                    curve(trials, objectives, resources=study.user_attrs.get(STUDY_RESOURCES)),
                    supernet_view(study, candidates, objectives) if candidates is not None else None)


def summary(found: Findings) -> list[str]:
    """The lines for the terminal: the placement pattern in words, the most important parameters."""
    first = found.importances[0] if found.importances else None
    return [f"placement on the Pareto front ({len(found.front)} architectures):",
            *(f"  {x}" for x in found.placements[0].words() or ["the front is empty: no trial completed yet"]),
            f"what matters ({first.name}, {first.trials} trials):" if first and first.values else "what matters:",
            *(f"  {_top_line(r)}" for r in found.importances)]


def _draw(found: Findings, out: Path) -> dict[str, Path]:
    from search.report import figures
    from search.report.plots import plot_front
    from search.report.style import save

    name = found.name
    plot_front(found.front, out / "front.png", None, title=f"{name}: Pareto front")
    pictures = {
        "front": out / "front.png",
        "placement": save(figures.placement_figure(found.placements, title=f"{name}: mixer families per block"),
                          out / "placement.png"),
        "importance": save(figures.importance_figure(found.importances, title=f"{name}: what matters"),
                           out / "importance.png"),
        "convergence": save(figures.convergence_figure(found.convergence, title=f"{name}: hypervolume",
                                                       reference_text=_reference_text(found.objectives)),
                            out / "convergence.png")}
    if found.supernet is not None:
        pictures["supernet"] = save(figures.supernet_figure(found.supernet, title=f"{name}: supernet estimate and "
                                                                                  f"confirmation"),
                                    out / "supernet.png")
    return pictures


def _page(found: Findings, pictures: dict[str, Path], storage: str, lines: list[str]) -> Any:
    from search.report.compare import label_of
    from search.report.importance import param_label
    from search.report.page import Page
    from search.report.style import scale_of

    o, front, ranked = found.objectives, found.front, found.importances
    page = Page(f"{found.name}: what the study says", facts=[
        f"{label_of(found.study)}; storage {storage or '-'}; {_states(found.study.get_trials(deepcopy=False))}",
        "objectives: " + ", ".join(f"{m} ({d})" for m, d in zip(o.metrics, o.directions))
        + f"; hypervolume reference point {_reference_text(o)}",
        _written()])
    page.section("In short", lines=[*lines, *_convergence_lines(found.convergence)[:1]])
    sx = {m: scale_of(m, [front.value(t, m) for t in front.members]) for m in o.metrics}
    page.section("Pareto front", image=pictures["front"], read=READ_FRONT, table=(
        ["trial", *(sx[m].label for m in o.metrics), "T", "mixers per block", "knee"],
        [[r["trial"], *(sx[m](r[m]) for m in o.metrics), r["T"], " | ".join(r["mixers"]), "knee" if r["knee"] else ""]
         for r in front.rows()]))
    page.section("Which mixer in which block", image=pictures["placement"],
                 read=READ_PLACEMENT + (READ_QUARTER if len(found.placements) > 1 else ""),
                 lines=[*found.placements[0].words(), *found.quarter_note])
    params = list(dict.fromkeys(p for r in ranked for p in (r.values or {})))
    page.section("What matters", image=pictures["importance"], read=READ_IMPORTANCE,
                 lines=[_top_line(r) for r in ranked], text=f"Evaluator: {ranked[0].description}." if ranked else "",
                 table=([" ", *o.metrics], [[param_label(p), *((r.values or {}).get(p, "-") for r in ranked)]
                                            for p in params]) if params else None)
    page.section("Did the search converge", image=pictures["convergence"], read=READ_CONVERGENCE,
                 lines=_convergence_lines(found.convergence))
    if found.supernet is not None:
        page.section("Supernet: estimated and confirmed", image=pictures["supernet"], read=READ_SUPERNET,
                     lines=_supernet_lines(found.supernet))
    return page


def _placement(front: Any, trials: Sequence[Any], label: str, noun: str, choices: tuple) -> Any:
    from search.report.placement import Architecture, count

    rows = [front.row(t) for t in trials]
    return count([Architecture(tuple(r["mixers"]), r["T"]) for r in rows], label=label, noun=noun,
                 mixer_choices=choices[0], T_choices=choices[1])


def _top_line(r: Any) -> str:
    from search.report.importance import param_label

    if not r.values:
        return f"{r.objective}: {r.reason}"
    ranked = list(r.values.items())
    rest = ", ".join(f"{param_label(p)} {v:.2f}" for p, v in ranked[1:3])
    return f"{r.objective}: {param_label(ranked[0][0])} ({ranked[0][1]:.2f})" + (f"; then {rest}" if rest else "")


def _convergence_lines(conv: Any) -> list[str]:
    if not conv.steps:
        return ["no trial finished yet"]
    last = conv.steps[-1]
    lines = [f"hypervolume {last.hypervolume:.6g} after {last.finished} trials and {last.compute:,.0f} {conv.unit}"]
    gain = conv.last_gain()
    if gain is not None:
        n = max(1, round(len(conv.steps) * 0.25))
        lines.append(f"the last {n} trials added {gain:.2%} of it")
    stopped = sum(s.state == "PRUNED" for s in conv.steps)
    failed = sum(s.state == "FAIL" for s in conv.steps)
    lines.append(f"{stopped} stopped early, {failed} failed" + (f", {conv.running} still running" if conv.running
                                                                 else ""))
    return lines


def _supernet_lines(view: Any) -> list[str]:
    lines = [f"estimated front: {len(view.estimated)} of {len(view.estimated.candidates)} candidates; confirmed front: "
             f"{len(view.confirmed)} of {len(view.confirmed.candidates)} trained",
             f"the convergence's compute counts the confirmed trials only; scoring the candidates took "
             f"{view.scoring_s:,.0f} s in the driver, and the supernet's training is in its MLflow run 'supernet'"]
    for m, pairs in view.pairs.items():
        tau = view.kendall(m)
        lines.append(f"{m}: Kendall tau inherited vs trained " + (f"{tau:.2f}" if tau is not None else "n/a")
                     + f" over {len(pairs)} confirmed trials")
    return lines


def _states(trials: Sequence[Any]) -> str:
    from search.records import TrialRecord

    counts: dict[str, int] = {}
    for t in trials:
        if TrialRecord.of(t).trained:
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return "trained trials: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none")


def _reference_text(objectives: Any) -> str:
    return "(" + ", ".join(f"{m} {r:.6g}" for m, r in zip(objectives.metrics, objectives.reference)) + ")"


def _written() -> str:
    """When and from which code a page was written: the figures change with the code."""
    from search.records import code_version

    return f"written {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')} by {code_version()}"


def _numbers(found: Findings) -> dict:
    """Every number the pictures show, for whoever checks them."""
    o, conv, view = found.objectives, found.convergence, found.supernet
    out = {"study": found.name, "objectives": dict(zip(o.metrics, o.directions)), "reference_point": list(o.reference),
           "front": found.front.rows(),
           "placement": [{"set": p.label, "architectures": p.size,
                          "blocks": {f: [p.counts[f, b] for b in range(p.blocks)] for f in p.families},
                          "via_hybrid": {f: [p.via_hybrid[f, b] for b in range(p.blocks)] for f in p.families},
                          "T": {str(t): p.T[t] for t in p.T_choices}} for p in found.placements],
           "importance": [{"objective": r.objective, "evaluator": r.description, "trials": r.trials,
                           "values": r.values, "reason": r.reason or None} for r in found.importances],
           "convergence": {"unit": conv.unit, "steps": [vars(s) for s in conv.steps]}}
    if view is not None:
        out["supernet"] = {"estimated_front": [r["trial"] for r in view.estimated.rows()],
                           "pairs": {m: [{"trial": n, "inherited": a, "trained": b} for a, b, n in pairs]
                                     for m, pairs in view.pairs.items()},
                           "kendall_tau": {m: view.kendall(m) for m in view.pairs},
                           "scoring_s": view.scoring_s}
    return out


def _write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    return path


# ---- several studies ---------------------------------------------------------------------------------
def write_comparison(studies: Sequence[Any], *, folder: Path, storages: Sequence[str]) -> Report:
    """One plot of the fronts of `studies` (Optuna studies, same objectives) into `folder`."""
    from search.report import figures
    from search.report.compare import compare
    from search.report.page import Page
    from search.front import study_objectives
    from search.report.style import save

    comp = compare([(s, study_objectives(s)) for s in studies])
    report = Report(Path(folder))
    names = " vs ".join(s.study_name for s in studies)
    picture = save(figures.comparison_figure(comp, title=names), report.folder / "comparison.png")
    rows = [[e.label, len(e.front.candidates), len(e.front), f"{e.front.hypervolume:.6g}", f"{e.hypervolume:.6g}",
             storage] for e, storage in zip(comp.entries, storages)]
    lines = [f"{e.label}: hypervolume {e.hypervolume:.6g} at the common reference, front {len(e.front)} of "
             f"{len(e.front.candidates)} trials" for e in comp.entries]
    seeds = [g for g in comp.groups if len(g.entries) > 1]
    lines += [f"seeds of one setting: {g.label}" for g in seeds]
    page = Page(f"{names}: fronts compared", facts=[f"common reference point {comp.reference_text}", _written()])
    page.section("Fronts", image=picture, read=READ_COMPARISON, lines=lines, table=(
        ["study", "completed trials", "front", "hypervolume (its own reference)", "hypervolume (common reference)",
         "storage"], rows))
    report.files = [picture, page.write(report.folder / "comparison.html"), _write_json(
        report.folder / "comparison.json",
        {"reference_point": dict(zip(comp.objectives.metrics, comp.objectives.reference)),
         "studies": [{"study": e.name, "label": e.label, "hypervolume": e.hypervolume,
                      "own_hypervolume": e.front.hypervolume, "front": [r["trial"] for r in e.front.rows()]}
                     for e in comp.entries],
         "seed_groups": [[e.name for e in g.entries] for g in seeds]})]
    report.summary = [*lines, f"report: {report.folder / 'comparison.html'}"]
    return report


# ---- the command line -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from search.report.importance import EVALUATORS
    from search.front import DEFAULT_STORAGE

    p = ArgumentParser(prog="python -m search.report",
                       usage_line="python -m search.report --study NAME [--study NAME ...] [--storage URL ...] "
                                  "[--out DIR] [--importance fanova|ped-anova]",
                       description="Pictures and one HTML page of what a study says (placement map, what matters, "
                                   "convergence), or of several studies' fronts compared. Reads the Optuna storage "
                                   "only.")
    p.add_argument("--study", action="append", required=True,
                   help="an Optuna study name; give it twice or more to compare studies")
    p.add_argument("--storage", action="append", default=None,
                   help=f"Optuna storage URL (default: {DEFAULT_STORAGE}); once for every study, or once per --study "
                        f"in the same order")
    p.add_argument("--out", default=None, help="folder to write into (default: reports/STUDY or reports/A-vs-B)")
    p.add_argument("--importance", default="fanova", help=f"importance evaluator: {' | '.join(EVALUATORS)}")
    return p


def _stores_per_study(studies: Sequence[str], given: Optional[Sequence[str]]) -> list[str]:
    from search.front import DEFAULT_STORAGE

    given = list(given or [DEFAULT_STORAGE])
    if len(given) == 1:
        return given * len(studies)
    if len(given) != len(studies):
        raise ConfigError(f"--storage must be given once (for every study) or once per --study, but got "
                          f"{len(given)} --storage for {len(studies)} --study")
    return given


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> Report:
    from search.report.importance import check_evaluator
    from fwformer.cli import check_output_folder
    from search.front import candidates_of, load_stored_study, open_read_only
    from search.records import redact

    args = build_parser().parse_args(argv)
    evaluator = check_evaluator(args.importance)
    storages = _stores_per_study(args.study, args.storage)
    opened: dict[str, Any] = {}
    studies = []
    for name, storage in zip(args.study, storages):  # every study is checked before anything is written
        if storage not in opened:
            opened[storage] = open_read_only(storage)
        studies.append(load_stored_study(name, storage, opened=opened[storage]))
    if len(studies) > 1:
        from search.report.compare import check_same_objectives
        from search.front import study_objectives

        check_same_objectives([(s.study_name, study_objectives(s)) for s in studies])
    folder = Path(args.out or Path("reports") / "-vs-".join(s.study_name for s in studies))
    check_output_folder(folder, "--out")
    if len(studies) == 1:
        study, storage = studies[0], storages[0]
        report = write_report(study, folder=folder, candidates=candidates_of(study, opened[storage]),
                              evaluator=evaluator, storage=redact(storage))
    else:
        report = write_comparison(studies, folder=folder, storages=[redact(s) for s in storages])
    print("\n".join(report.summary))
    print(f"wrote {len(report.files)} files into {report.folder}/")
    return report

