"""Mixer choices of a space: expanding family names and naming identical mixers alike.

The mixer registry (`fwformer.mixers`) is the only list of names: a bare family name is any
registered family prefix without its dash (`dwt` for `dwt-<wavelet>[@level]`), and every name is
checked with `check_mixer`, so the space and the model library cannot drift apart.

Expansion of a family name `F` over `wavelets` x `levels`: `F-<w>` at level 1 and `F-<w>@<L>`
above, in that order; names the family rejects at a level (a family without levels, say) and names
that cannot be built on the token grid (a wavelet whose filters do not reconstruct there) are
dropped, with their reason kept for the report. A wavelet the family does not know at all is an
error. Hybrids expand part by part: `fft2d+dwt` gives `fft2d+dwt-haar`, `fft2d+dwt-db2`, ...
"""
from __future__ import annotations

import itertools
import json
from typing import Optional, Sequence

from fwformer.cli import ConfigError


def family_names() -> dict[str, str]:
    """Bare family name -> registered prefix, e.g. {'dwt': 'dwt-'}; fixed names take precedence."""
    from fwformer.mixers import FAMILIES, MIXERS

    out = {}
    for prefix in FAMILIES:
        bare = prefix.rstrip("-@")
        if bare and bare not in MIXERS:
            out[bare] = prefix
    return out


def _grid_text(grid: tuple[int, int]) -> str:
    return f"{grid[0]}x{grid[1]} token grid"


def expand_family(bare: str, wavelets: Sequence[str], levels: Sequence[int], *, key: str,
                  dropped: dict[str, str]) -> list[str]:
    """Every `<prefix><w>[@L]` the family accepts by name (no grid check here)."""
    from fwformer.mixers import check_mixer

    prefix = family_names()[bare]
    out = []
    for w in wavelets:
        try:
            check_mixer(f"{prefix}{w}")
        except ConfigError as err:
            raise ConfigError(f"{key}.wavelets: '{w}' is not a wavelet the '{bare}' family knows: {err}") from None
        for level in levels:
            name = f"{prefix}{w}" if level == 1 else f"{prefix}{w}@{level}"
            try:
                check_mixer(name)
            except ConfigError as err:
                dropped[name] = str(err)
                continue
            out.append(name)
    return out


def expand_mixer(name: str, *, wavelets: Sequence[str], levels: Sequence[int], grid: Optional[tuple[int, int]],
                 where: str, key: str, dropped: dict[str, str]) -> list[str]:
    """The concrete mixer names one entry of `space.mixers` stands for, all buildable on `grid`."""
    from fwformer.mixers import check_mixer
    from fwformer.mixers.registry import hybrid_parts

    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where} must be a mixer name, but got {name!r}")
    families = family_names()
    parts = hybrid_parts(name)
    generic = any(p in families for p in parts)
    mine: dict[str, str] = {}  # names of this entry dropped, and why
    options = []
    for part in parts:
        if part in families:
            options.append(expand_family(part, wavelets, levels, key=key, dropped=mine))
            continue
        try:
            check_mixer(part)
        except ConfigError as err:
            hint = f"; or a family name to expand over {key}.wavelets and {key}.levels: {', '.join(sorted(families))}" \
                if families else ""
            raise ConfigError(f"{where}: {err}{hint}") from None
        options.append([part])

    kept = []
    for combo in itertools.product(*options):
        if len(set(combo)) != len(combo):
            continue
        full = "+".join(combo)
        try:
            check_mixer(full, grid=grid)
        except ConfigError as err:
            if not generic:
                where_grid = f" on the {_grid_text(grid)}" if grid else ""
                raise ConfigError(f"{where}: '{full}' cannot be built{where_grid}: {err}") from None
            mine[full] = str(err)
            continue
        kept.append(full)
    dropped.update(mine)
    if not kept:
        on = f" on the {_grid_text(grid)}" if grid else ""
        first = next(iter(mine.items()), None)
        raise ConfigError(
            f"{where}: '{name}' expands to no mixer that can be built{on} with "
            f"{key}.wavelets={list(wavelets)} and {key}.levels={list(levels)}"
            + (f" (e.g. {first[0]}: {first[1]})" if first else "")
        )
    return kept


def canonical_mixer(name: str) -> str:
    """One spelling per distinct mixer: hybrid parts sorted, family options parsed by the registry
    (so `dwt-haar` and `dwt-haar@1` agree when the family reads them alike)."""
    from fwformer.mixers.registry import resolve_mixer, hybrid_parts

    tokens = []
    for part in hybrid_parts(name):
        try:
            cls, options = resolve_mixer(part)
        except ConfigError:
            tokens.append(part)
            continue
        if options:
            tokens.append(json.dumps([f"{cls.__module__}.{cls.__qualname__}", options], sort_keys=True, default=str))
        else:
            tokens.append(part)
    return "+".join(sorted(tokens))
