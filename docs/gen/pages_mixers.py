"""The mixer reference page, from the mixer registry and each registered class's `MixerCard`.

One section per card: the fixed names and family patterns that carry it (`dwc3`, `dwc5`, `dwc7`
share one), what it computes, the paper, the reference code, our interpretations, whether a
fixed-weight chip could run it (`Mixer.activity_products`) and its parameters per block, fitted on
the built mixers (`param_formula`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import param_formula
from markdown_text import cell, prose

REFERENCE_WIDTH = 384  # Spikformer-4-384's width: the figure papers quote per block


@dataclass
class Entry:
    """The names that share one card."""

    card: object
    cls: type
    labels: list[str] = field(default_factory=list)  # fixed names and family patterns, as users write them
    families: list[str] = field(default_factory=list)  # what `family_of` calls them (report rows, space entries)
    samples: list[str] = field(default_factory=list)  # names to build: fixed names, then the card's examples
    hybrid: bool = False

    @property
    def anchor(self) -> str:
        return "hybrid" if self.hybrid else self.families[0]


def entries() -> list[Entry]:
    """Every registered fixed name and family, grouped by card, plus the hybrid `<a>+<b>`."""
    from fwformer.mixers import FAMILIES, MIXERS
    from fwformer.mixers.hybrid import HybridMixer
    from fwformer.mixers.registry import family_of, family_patterns, resolve_mixer

    by_card: dict[int, Entry] = {}

    def entry_of(cls: type) -> Entry:
        if cls.card is None:
            raise ValueError(f"mixer class {cls.__name__} is registered without a card (fwformer.mixers.card)")
        return by_card.setdefault(id(cls.card), Entry(cls.card, cls))

    for name in sorted(MIXERS):
        entry = entry_of(MIXERS[name])
        _, options = resolve_mixer(name)
        if not options:  # a fixed name standing for a family member (`fatm`) is shown in its family's pattern
            entry.labels.append(f"`{name}`")
        entry.families.append(family_of(name))
        entry.samples.append(name)
    patterns = family_patterns()
    for prefix in sorted(FAMILIES):
        entry = entry_of(FAMILIES[prefix])
        entry.labels.append(f"`{patterns[prefix]}`")
        entry.families.append(prefix.rstrip("-@"))
    for entry in by_card.values():
        entry.families = list(dict.fromkeys(entry.families))
        entry.samples += [n for n in entry.card.examples if n not in entry.samples]
    hybrid = Entry(HybridMixer.card, HybridMixer, labels=["`<a>+<b>`"], families=["(its parts')"],
                   samples=list(HybridMixer.card.examples), hybrid=True)
    return sorted(by_card.values(), key=lambda e: e.labels[0].strip("`")) + [hybrid]


def formulas(entry: Entry) -> list[tuple[str, str, int]]:
    """(name, formula, count at REFERENCE_WIDTH) per sample, merged into one row when all agree."""
    rows = []
    for name in entry.samples:
        coefficients = param_formula.fit(name)
        text = param_formula.formula_text(coefficients)
        if param_formula.depends_on_heads(name):
            text += " (with 1 head; the count depends on the heads)"
        rows.append((name, text, int(param_formula.evaluate(coefficients, REFERENCE_WIDTH))))
    if len({(text, count) for _, text, count in rows}) == 1:
        return [("", rows[0][1], rows[0][2])]
    return rows


def chip(entry: Entry) -> str:
    if entry.hybrid:
        return "if every part is"
    return "no" if entry.cls.activity_products else "yes"


def _formula_cell(rows: list[tuple[str, str, int]]) -> str:
    return "; ".join((f"`{name}` " if name else "") + text for name, text, _ in rows)


def render() -> str:
    all_entries = entries()
    computed = {id(e): formulas(e) for e in all_entries}
    grid = "x".join(map(str, param_formula.GRID))
    lines = [
        "# Mixers",
        "",
        "Every token mixer the registry knows (`fwformer.mixers`), generated when this site is built from "
        "the registry and the card each mixer class declares (`MixerCard`), so the page and the code "
        "cannot disagree. The parameter formulas are not typed: each mixer is built at several widths D "
        f"on the {grid} token grid of the CIFAR models and the polynomial through its parameter counts is "
        "solved for (the tests check it at a width it was not fitted on). BatchNorm statistics are not "
        "parameters.",
        "",
        "Every mixer takes spikes `[T, B, N, D]` on an `H x W` token grid and returns the same shape. "
        "*Computes* is what its features compute from the input spikes `x`: the `spike` block "
        "convention adds the output LIF, the `membrane` one a LIF before it "
        "([block conventions](../guides/model.md#block-conventions)). A mixer whose paper uses the "
        "other convention runs in either; in the other one it is our interpretation. **Chip**: whether "
        "a neuromorphic chip with fixed synaptic weights could run it, that is, no product of two "
        "activity-dependent tensors (`Mixer.activity_products`). Where the papers are silent and what "
        "we chose in general is in [Mixer sources and interpretations](../guides/mixer-notes.md).",
        "",
        f"| name | family | chip | parameters per block ({grid} grid) |",
        "|---|---|---|---|",
    ]
    for e in all_entries:
        names = ", ".join(e.labels)
        lines.append(f"| [{names}](#{e.anchor}) | {', '.join(e.families)} | {chip(e)} | "
                     f"{_formula_cell(computed[id(e)])} |")
    for e in all_entries:
        card = e.card
        lines += ["", f"## {', '.join(e.labels)} {{ #{e.anchor} }}", "", prose(card.computes), "",
                  f"- **Paper:** {prose(card.paper)}", f"- **Reference code:** {prose(card.code)}"]
        if card.interpretation:
            lines.append(f"- **Our interpretation:** {prose(card.interpretation)}")
        if card.shortcut:
            lines.append(f"- **The paper's blocks:** the `{card.shortcut}` convention")
        lines.append(f"- **Chip:** {chip(e)}")
        rows = computed[id(e)]
        lines.append(f"- **Parameters per block** ({grid} grid): " + "; ".join(
            (f"`{name}` " if name else "") + f"{text} ({count:,} at D = {REFERENCE_WIDTH})" for name, text, count in rows))
        if card.examples:
            lines.append("- **Examples:** " + ", ".join(f"`{n}`" for n in card.examples))
    return "\n".join(lines) + "\n"
