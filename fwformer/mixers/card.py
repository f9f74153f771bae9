"""What a mixer is, for its readers: a small card every registered mixer class declares (`Mixer.card`).

The documentation's mixer reference is generated from the registry and these cards, with the
parameter formula computed from the built mixers, so the page cannot drift from the code. A card
holds what the code cannot tell: what the mixer computes, the paper and the reference code it
follows, and what we chose where they are silent. Whether a fixed-weight chip could run it is the
class's `activity_products`, not a card field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

#: Block conventions a paper's own blocks use (the config's `shortcut` values).
SHORTCUTS = ("spike", "membrane")


@dataclass(frozen=True)
class MixerCard:
    #: What the mixer's features compute from its input spikes `x` (Markdown, one paragraph).
    computes: str
    #: The paper it follows, with venue or arXiv number; "our design" for ours.
    paper: str
    #: The reference code: repository @ commit, file, class; says so when none is published.
    code: str
    #: What we chose where the paper and its code are silent, or where we depart from them ("": nothing).
    interpretation: str = ""
    #: The block convention of the paper's own spiking blocks (`spike`: Spikformer's; `membrane`: Spike-driven
    #: Transformer's), None for a paper without spiking blocks or our design; ours run in either (`shortcut`).
    shortcut: Optional[str] = None
    #: Names that stand for a family (`dwt-haar`, `dwt-db2@2`): the contract tests run them and the
    #: reference shows their parameters. Required for a family, empty for a fixed name.
    examples: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.shortcut is not None and self.shortcut not in SHORTCUTS:
            raise ValueError(f"MixerCard.shortcut must be one of: {', '.join(SHORTCUTS)} or None, "
                             f"but got {self.shortcut!r}")
        if isinstance(self.examples, str):
            raise TypeError(f"MixerCard.examples must be a tuple of names, but got the string {self.examples!r}")
