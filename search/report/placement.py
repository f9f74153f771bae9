"""Which mixer family sits in which block, over a set of architectures (pure counting).

Families come from the mixer registry (`fwformer.mixers.registry.family_of`): a fixed name is its
own family (`fft2d`), a family member belongs to its prefix (`dwt-db2@2` -> `dwt`). A hybrid
`a+b` counts once toward each of its parts' families in its block, and those counts are kept
apart (`via_hybrid`), so a map can mark them; a block's counts can then add up to more than the
number of architectures. T is counted on its own, once per architecture.

Two sets are read from a study: its Pareto front, and the best quarter of its trials by
non-dominated rank (`best_quarter`), the wider view of the same pattern once the study holds more
than four times as many trials as its front.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from search.front import pareto


@dataclass(frozen=True)
class Architecture:
    mixers: tuple[str, ...]  # one name per block
    T: Any


@dataclass
class Placement:
    label: str  # what was counted, as a title: "Pareto front"
    noun: str  # the same in a sentence: "front members"
    size: int  # architectures counted
    blocks: int
    families: list[str]  # rows: most frequent first, then the space's unused families
    counts: Counter = field(default_factory=Counter)  # (family, block) -> architectures, hybrids included
    via_hybrid: Counter = field(default_factory=Counter)  # (family, block) -> of those, as a hybrid's part
    names: dict = field(default_factory=dict)  # (family, block) -> Counter of the mixer names counted
    T: Counter = field(default_factory=Counter)  # T -> architectures
    T_choices: list = field(default_factory=list)

    def share(self, family: str, block: int) -> float:
        return self.counts[family, block] / self.size if self.size else 0.0

    def words(self) -> list[str]:
        """One line per block, e.g. `block 0: fft2d in 5 of 7 front members`, ties all named; a family
        seen under several names lists them (`dwt (dwt-haar 3, dwt-db2 1)`); then the commonest T."""
        lines = []
        for b in range(self.blocks):
            top = max((self.counts[f, b] for f in self.families), default=0)
            if top:
                named = [self._name(f, b) for f in self.families if self.counts[f, b] == top]
                lines.append(f"block {b}: {_and(named)} in {top} of {self.size} {self.noun}"
                             + (" each" if len(named) > 1 else ""))
        if self.T:
            top = max(self.T.values())
            ts = [f"T={t}" for t in self.T_choices if self.T[t] == top]
            lines.append(f"{_and(ts)} in {top} of {self.size} {self.noun}" + (" each" if len(ts) > 1 else ""))
        return lines

    def _name(self, family: str, block: int) -> str:
        names = self.names.get((family, block), Counter())
        hybrid = self.via_hybrid[family, block]
        detail = [f"{n} {c}" for n, c in names.most_common()] if len(names) > 1 else []
        if hybrid:
            detail.append(f"{hybrid} in a hybrid")
        shown = next(iter(names)) if len(names) == 1 else family
        return shown + (f" ({', '.join(detail)})" if detail else "")


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def family_parts(name: str) -> list[tuple[str, str, bool]]:
    """(family, mixer name, as a hybrid's part) for each part of a block's mixer name."""
    import fwformer.mixers  # noqa: F401 - registers every mixer, so the registry knows all families
    from fwformer.mixers.registry import family_of, hybrid_parts

    parts = hybrid_parts(name)
    return [(family_of(p), p, len(parts) > 1) for p in parts]


def count(architectures: Sequence[Architecture], *, label: str, noun: str, mixer_choices: Iterable[str] = (),
          T_choices: Iterable[Any] = ()) -> Placement:
    """Count families per block and T over `architectures`; the choices of the space (when given)
    add their families and T values as rows that stay empty, so "never chosen" shows too."""
    blocks = max((len(a.mixers) for a in architectures), default=0)
    counts, via, names, ts = Counter(), Counter(), {}, Counter()
    for a in architectures:
        ts[a.T] += 1
        for b, name in enumerate(a.mixers):
            for family, part, in_hybrid in family_parts(name):
                counts[family, b] += 1
                via[family, b] += int(in_hybrid)
                names.setdefault((family, b), Counter())[part] += 1
    totals = Counter()
    for (family, _), n in counts.items():
        totals[family] += n
    space = [f for name in mixer_choices for f, _, _ in family_parts(name)]
    families = sorted(set(totals) | set(space), key=lambda f: (-totals[f], f))
    T_all = sorted(set(ts) | set(T_choices), key=_order)
    return Placement(label=label, noun=noun, size=len(architectures), blocks=blocks, families=families, counts=counts,
                     via_hybrid=via, names=names, T=ts, T_choices=T_all)


def _order(t: Any) -> float:
    try:
        return float(t)
    except (TypeError, ValueError):
        return math.inf


def best_quarter(trials: Sequence[Any], objectives: Any) -> list:
    """The best quarter of `trials` (finished trials with values) by non-dominated rank: whole ranks,
    best first, and of the rank that does not fit whole, the trials that dominate the most together
    (`search.front.pareto.best_subset`, at the study's reference point): ceil(n / 4) trials."""
    if not trials:
        return []
    picked = pareto.best_subset([list(t.values) for t in trials], objectives.directions, objectives.reference,
                                math.ceil(len(trials) / 4))
    return [trials[i] for i in sorted(picked)]


def space_choices(trials: Iterable[Any]) -> tuple[list[str], list]:
    """(mixer names, T values) the study's space offered, from the trials' own distributions."""
    mixers: dict[str, None] = {}
    ts: dict[Any, None] = {}
    for t in trials:
        for name, dist in t.distributions.items():
            choices = getattr(dist, "choices", ())
            if name.startswith("mixer_"):
                mixers.update(dict.fromkeys(choices))
            elif name == "T":
                ts.update(dict.fromkeys(choices))
    return list(mixers), list(ts)
