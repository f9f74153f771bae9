"""Name -> mixer class. Names are the contract that configs and search spaces use.

Three kinds of names:
- fixed names (`ssa`, `fft2d`, `identity`, ...), registered with `@register("name")`; a fixed name
  may stand for a family member's options (`@register("fatm", blocks=4)`, the same mixer as
  `fatm@4`), so both spellings resolve to the same class and options;
- families (`dwt-<wavelet>[@level]`, `wavspa-<wavelet>[@level]`, ...), registered with
  `@register_family("dwt-", "dwt-<wavelet>[@level]")`; the class parses and checks its suffix;
- hybrids `<a>+<b>`: parts built side by side and summed before one output neuron.
"""
from __future__ import annotations

from typing import Callable, Optional, TypeVar

from fwformer.cli import ConfigError, closest

M = TypeVar("M", bound=type)

MIXERS: dict[str, type] = {}
_FIXED_OPTIONS: dict[str, dict] = {}  # fixed name -> the keyword options it stands for (usually none)
FAMILIES: dict[str, type] = {}  # prefix -> class
_FAMILY_PATTERNS: dict[str, str] = {}  # prefix -> pattern shown in errors, e.g. dwt-<wavelet>[@level]


def register(name: str, **options) -> Callable[[M], M]:
    def deco(cls: M) -> M:
        assert name not in MIXERS, f"mixer {name!r} registered twice"
        MIXERS[name] = cls
        _FIXED_OPTIONS[name] = dict(options)
        return cls

    return deco


def register_family(prefix: str, pattern: str) -> Callable[[M], M]:
    """A family class implements `parse_suffix(suffix) -> dict` and `check_grid(grid, **options)`,
    both raising ConfigError for bad input, and takes the parsed options as keyword arguments."""

    def deco(cls: M) -> M:
        assert prefix not in FAMILIES, f"mixer family {prefix!r} registered twice"
        FAMILIES[prefix] = cls
        _FAMILY_PATTERNS[prefix] = pattern
        return cls

    return deco


def known_names() -> list[str]:
    """Every fixed name and family pattern, as shown in errors and docs. A fixed name that stands for
    a family member (`fatm`) is shown once, in its family's pattern (`fatm[@<blocks>]`)."""
    plain = [name for name in MIXERS if not _FIXED_OPTIONS.get(name)]
    return sorted(plain) + sorted(_FAMILY_PATTERNS.values()) + ["<a>+<b>"]


def family_patterns() -> dict[str, str]:
    """Family prefix -> the pattern shown in errors and docs (`dwt-` -> `dwt-<wavelet>[@level]`)."""
    return dict(_FAMILY_PATTERNS)


def _unknown(name: str) -> ConfigError:
    candidates = sorted(MIXERS) + sorted(FAMILIES)
    return ConfigError(f"unknown mixer '{name}'{closest(name, candidates)}; expected one of: {', '.join(known_names())}")


def family_prefix(name: str) -> Optional[str]:
    """The registered family prefix a name starts with (the longest: `wavefilter-learned-` before
    `wavefilter-`), or None."""
    return next((p for p in sorted(FAMILIES, key=len, reverse=True) if name.startswith(p)), None)


def family_of(name: str) -> str:
    """The family a single (non-hybrid) name belongs to: a fixed name is its own family, a family
    member its prefix without the dash (`dwt-db2@2` -> `dwt`, the bare name a space accepts). A name
    the registry does not know is its own family, so a study recorded before a mixer was renamed or
    removed can still be read."""
    if name in MIXERS:
        return name
    prefix = family_prefix(name)
    return prefix.rstrip("-@") if prefix else name


def resolve_mixer(name: str) -> tuple[type, dict]:
    """The class and keyword options a single (non-hybrid) name stands for."""
    if name in MIXERS:
        return MIXERS[name], dict(_FIXED_OPTIONS.get(name, {}))
    prefix = family_prefix(name)
    if prefix is not None:
        cls = FAMILIES[prefix]
        return cls, cls.parse_suffix(name[len(prefix):])
    raise _unknown(name)


def hybrid_parts(name: str) -> list[str]:
    return [part.strip() for part in name.split("+")]


def check_mixer(name: str, grid: Optional[tuple[int, int]] = None) -> None:
    """Raise ConfigError if `name` is unknown or (when a grid is given) cannot run on that grid."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"mixer names must be non-empty strings, but got {name!r}")
    parts = hybrid_parts(name)
    if len(parts) > 1 and (any(not p for p in parts) or len(set(parts)) != len(parts)):
        raise ConfigError(f"hybrid mixer '{name}' must join distinct mixer names with '+', e.g. fft2d+dwt-haar")
    for part in parts:
        cls, options = resolve_mixer(part)
        if grid is not None and hasattr(cls, "check_grid"):
            cls.check_grid(tuple(grid), **options)


def create_mixer(name: str, *, dim: int, grid: tuple[int, int], num_heads: int = 1, tau: float = 2.0,
                 surrogate_alpha: float = 4.0, attention=None):
    """Build the mixer `name` for `dim` channels on an `H x W` grid.

    `attention` (`AttentionOptions`, default Spikformer's CIFAR values) reaches every mixer that
    attends, hybrids' parts included.
    """
    check_mixer(name, grid)
    common = dict(dim=dim, grid=tuple(grid), num_heads=num_heads, tau=tau, surrogate_alpha=surrogate_alpha,
                  attention=attention)
    parts = hybrid_parts(name)
    if len(parts) > 1:
        from fwformer.mixers.hybrid import HybridMixer

        return HybridMixer([create_mixer(p, **common) for p in parts], name=name, **common)
    cls, options = resolve_mixer(name)
    mixer = cls(**common, **options)
    mixer.mixer_name = name
    return mixer
