"""Several studies side by side: their fronts, their hypervolumes at one common reference point, and,
for studies that differ only in their seed, the empirical attainment surfaces of that setting.

- The studies must declare the same objectives (names and directions), or their fronts do not
  share axes.
- Each study's own hypervolume uses its own reference point (the space's energy ceiling, which
  differs between spaces); compared, they all use the componentwise worst of those reference
  points, so every point that counts in its own study counts here and the numbers can be ranked.
- A setting is a study file with its overrides, `name=` and `search.seed=` left out: studies of one
  setting are seeds of the same experiment. With two or more, the surfaces attained by at least one
  run, by at least half of them and by all of them are drawn (moocore's EAF, `search.front.pareto`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from fwformer.cli import ConfigError
from search.front import pareto
from search.front import Front, Objectives
from search.records import STUDY_SEARCH

_NOT_SETTING = ("name=", "search.seed=")


@dataclass
class Entry:
    name: str
    front: Front  # under the study's own objectives and reference point
    hypervolume: float  # at the common reference point
    label: str  # name with sampler and seed when the study recorded them
    setting: tuple


@dataclass
class Group:
    label: str
    entries: list[Entry]
    surfaces: dict = field(default_factory=dict)  # attained by at least k runs -> points [(x, y)] (x, y: the plot's)


@dataclass
class Comparison:
    objectives: Objectives  # with the common reference point
    entries: list[Entry]
    groups: list[Group]

    @property
    def reference_text(self) -> str:
        return "(" + ", ".join(f"{m} {r:.6g}" for m, r in zip(self.objectives.metrics, self.objectives.reference)) + ")"


def common_reference(objectives: Sequence[Objectives]) -> tuple[float, ...]:
    """The worst of the reference points in every objective (the lowest for a maximised one)."""
    first = objectives[0]
    out = []
    for i, direction in enumerate(first.directions):
        values = [o.reference[i] for o in objectives]
        out.append(min(values) if direction == "maximize" else max(values))
    return tuple(out)


def check_same_objectives(named: Sequence[tuple[str, Objectives]]) -> None:
    first_name, first = named[0]
    for name, o in named[1:]:
        if (o.metrics, o.directions) != (first.metrics, first.directions):
            raise ConfigError(f"studies to compare must declare the same objectives, but '{first_name}' has "
                              f"{_objectives_text(first)} and '{name}' has {_objectives_text(o)}")


def _objectives_text(o: Objectives) -> str:
    return ", ".join(f"{m} ({d})" for m, d in zip(o.metrics, o.directions))


def setting_of(study: Any) -> tuple:
    """(study file, overrides without name= and search.seed=) of the run that created the study."""
    attrs = study.user_attrs
    overrides = tuple(sorted(str(o) for o in attrs.get("overrides") or [] if not str(o).startswith(_NOT_SETTING)))
    return (str(attrs.get("study_file") or study.study_name), overrides)


def label_of(study: Any) -> str:
    """`qs_nsga (nsga2, seed 0)` when the study recorded its sampler and seed, else its name."""
    run = study.user_attrs.get(STUDY_SEARCH) or {}
    shown = [str(run[k]) if k == "sampler" else f"seed {run[k]}" for k in ("sampler", "seed") if run.get(k) is not None]
    if run.get("strategy") not in (None, "trials"):
        shown.append(str(run["strategy"]))
    return study.study_name + (f" ({', '.join(shown)})" if shown else "")


def compare(studies: Sequence[tuple[Any, Objectives]]) -> Comparison:
    """`studies`: (Optuna study, its objectives), at least two, with the same objectives."""
    check_same_objectives([(s.study_name, o) for s, o in studies])
    first = studies[0][1]
    common = Objectives(first.metrics, first.directions, common_reference([o for _, o in studies]))
    entries = []
    for study, objectives in studies:
        front = Front.of_study(study, objectives)
        points = [list(t.values) for t in front.candidates]
        hv = pareto.hypervolume(points, common.directions, common.reference) if points else 0.0
        entries.append(Entry(study.study_name, front, hv, label_of(study), setting_of(study)))
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.setting, []).append(e)
    return Comparison(common, entries, [_group(g, common) for g in groups.values()])


def _group(entries: list[Entry], objectives: Objectives) -> Group:
    label = entries[0].label.split(" (")[0] if len(entries) == 1 else " / ".join(e.name for e in entries)
    group = Group(label, entries)
    n = len(entries)
    if n < 2 or len(objectives.metrics) != 2:
        return group
    points = [list(t.values) for e in entries for t in e.front.members]
    sets = [e.name for e in entries for _ in e.front.members]
    levels = sorted({1, math.ceil(n / 2), n})
    surfaces = pareto.attainment(points, sets, objectives.directions, levels)
    # (x, y) as the plot has them: the second objective across, the first up.
    group.surfaces = {k: [(float(p[1]), float(p[0])) for p in pts] for k, pts in surfaces.items()}
    return group
