"""The study-file reference and the objectives table, from the structured config itself.

`search.study.schema.StudyConfig` is walked with `dataclasses.fields`: every key as a dotted path,
its type and default, the values the schema or its checks allow, and a description (the field's
own comment, `field_comments`, or `study_notes.DESCRIPTIONS`). The `arch`, `data`, `train` and
`energy` sections of a study are fwformer's config dataclasses with every key optional: their
defaults are fwformer's, which the study's `base` preset may change.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Any

from field_comments import field_comments
from markdown_text import cell, key, value
from study_notes import DESCRIPTIONS

#: Study sections that are fwformer config sections with every field optional (`search.study.schema._partial`).
FWFORMER_SECTIONS = ("arch", "data", "train", "energy")
#: Fields of fwformer's `Config` that a study's `arch` leaves out: the run sections are study sections of their
#: own, and the provenance is written by `search.export`.
NOT_IN_ARCH = ("data", "train", "energy", "provenance")


@dataclass
class Key:
    path: str  # `search.early_stop.rule`, `objectives[].metric`
    type: str
    default: str
    allowed: str
    description: str


def fwformer_sections() -> dict[str, type]:
    from fwformer.config import Config, DataConfig, EnergyConfig, TrainConfig

    return {"arch": Config, "data": DataConfig, "train": TrainConfig, "energy": EnergyConfig}


def allowed_values() -> dict[str, str]:
    """Key -> the values it takes, from the constants the schema and its checks use."""
    from fwformer.config import INIT_SCHEMES, SHORTCUTS, preset_names
    from fwformer.data import DATASETS
    from fwformer.data.augment import RANDAUGMENT_POLICIES
    from fwformer.data.frames import FRAMES_BY
    from fwformer.data.splits import SPLITS
    from fwformer.energy import energy_model_names
    from fwformer.mixers import known_names
    from fwformer.supernet import BATCHNORM, DISTILL, SAMPLING
    from search.study import METRICS, SAMPLERS
    from search.study.schema import DIRECTIONS, EARLY_STOP_RULES, STRATEGIES

    def one_of(values) -> str:
        return ", ".join(f"`{v}`" for v in values)

    mixers = one_of(known_names())
    return {
        "base": one_of(preset_names()) + ", or a YAML file",
        "arch.init": one_of(INIT_SCHEMES),
        "arch.shortcut": one_of(SHORTCUTS),
        "arch.mixers": mixers,
        "data.name": one_of(DATASETS),
        "data.split": one_of(SPLITS),
        "data.frames_by": one_of(FRAMES_BY),
        "data.randaugment_policy": one_of(RANDAUGMENT_POLICIES),
        "energy.model": one_of(energy_model_names()),
        "space.mixers": mixers + "; a bare family name (`dwt`) expands over `wavelets` x `levels`",
        "space.shortcut": one_of(SHORTCUTS),
        "space.wavelets": "PyWavelets' discrete families (`pywt.wavelist(kind='discrete')`)",
        "objectives[].metric": one_of(METRICS),
        "objectives[].direction": one_of(DIRECTIONS) + ", or null",
        "search.strategy": one_of(STRATEGIES),
        "search.sampler": one_of(SAMPLERS),
        "search.sampler_options": "keyword arguments of the sampler's Optuna class",
        "search.early_stop.rule": one_of(EARLY_STOP_RULES),
        "search.supernet.sampling": one_of(SAMPLING),
        "search.supernet.distill": one_of(DISTILL),
        "search.supernet.batchnorm": one_of(BATCHNORM),
    }


def type_text(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return " or ".join(type_text(a) for a in rest) + " or null"
    if origin in (list, typing.List):
        return "list" if not args or args[0] is Any else f"list of {type_text(args[0])}"
    if origin in (dict, typing.Dict):
        return "mapping"
    if tp is Any:
        return "any"
    if dataclasses.is_dataclass(tp):
        return "section"
    return getattr(tp, "__name__", str(tp))


def yaml_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_text(v)}" for k, v in value.items()) + "}"
    if dataclasses.is_dataclass(value):
        return yaml_text({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return str(value)


def yaml_words(text: str) -> str:
    """A Python comment's None, True and False as a study file spells them."""
    return re.sub(r"\b(None|True|False)\b", lambda m: {"None": "null", "True": "true", "False": "false"}[m[1]], text)


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def walk(cls: type, prefix: str, sections: list) -> None:
    """Collect (path, type, field, its class) per section, depth first; a nested dataclass opens its own section."""
    hints = typing.get_type_hints(cls)
    rows: list = []
    sections.append((prefix.rstrip("."), rows))
    nested = []  # (walker, dataclass, prefix), walked after this section's own keys
    for f in dataclasses.fields(cls):
        tp, path = hints[f.name], f"{prefix}{f.name}"
        item = typing.get_args(tp)[0] if typing.get_origin(tp) in (list, typing.List) and typing.get_args(tp) else None
        if not prefix and f.name in FWFORMER_SECTIONS:
            nested.append((walk_arch if f.name == "arch" else walk, fwformer_sections()[f.name], f"{path}."))
        elif dataclasses.is_dataclass(tp):
            nested.append((walk, tp, f"{path}."))
        elif item is not None and dataclasses.is_dataclass(item):  # `objectives`: a list of sections
            rows.append((path, tp, f, cls))
            nested.append((walk, item, f"{path}[]."))
        else:
            rows.append((path, tp, f, cls))
    for walker, sub, sub_prefix in nested:
        walker(sub, sub_prefix, sections)


def walk_arch(config: type, prefix: str, sections: list) -> None:
    """fwformer's `Config` as a study's `arch`: its architecture fields, not its run sections."""
    hints = typing.get_type_hints(config)
    rows: list = []
    sections.append((prefix.rstrip("."), rows))
    for f in dataclasses.fields(config):
        if f.name in NOT_IN_ARCH:
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            walk(hints[f.name], f"{prefix}{f.name}.", sections)
        else:
            rows.append((f"{prefix}{f.name}", hints[f.name], f, config))


def check_arch_matches_schema() -> None:
    """The study's `arch` section holds exactly `Config`'s fields but the run sections (else this page lies)."""
    from fwformer.config import Config
    from search.study.schema import StudyConfig

    arch_type = typing.get_type_hints(StudyConfig)["arch"]
    schema = {f.name for f in dataclasses.fields(arch_type)}
    ours = {f.name for f in dataclasses.fields(Config)} - set(NOT_IN_ARCH)
    if schema != ours:
        raise ValueError(f"the study's arch section has {sorted(schema ^ ours)} unlike fwformer's Config; "
                         f"update docs/gen/pages_study.py NOT_IN_ARCH")


def keys() -> list[tuple[str, list[Key]]]:
    """Every key of a study file, by section."""
    from search.study.schema import StudyConfig

    check_arch_matches_schema()
    sections: list = []
    walk(StudyConfig, "", sections)
    allowed = allowed_values()
    comments: dict[type, dict[str, str]] = {}
    out = []
    for section, rows in sections:
        entries = []
        for path, tp, f, owner in rows:
            if owner not in comments:
                comments[owner] = field_comments(owner)
            description = DESCRIPTIONS.get(path) or yaml_words(comments[owner].get(f.name, ""))
            default = default_of(f)
            entries.append(Key(path, type_text(tp), "" if default is dataclasses.MISSING else yaml_text(default),
                               allowed.get(path, ""), description))
        if entries:
            out.append((section, entries))
    return out


def code(text: str) -> str:
    return f"`{text}`" if text else ""


def render_study_file() -> str:
    lines = [
        "# Study file",
        "",
        "Every key a study file (`studies/NAME.yaml`) may hold, generated from the structured config "
        "(`search.study.schema.StudyConfig`) when this site is built. Any key can also be given on the "
        "command line as a dotlist override: `python -m search.run --study quickstart search.trials=8 "
        "train.epochs=2`. Unknown keys and wrong types are rejected with their key path before anything "
        "starts; the checks of meaning (allowed values, ranges) run after the merge, and a bad value is one "
        "`error:` line with exit code 2.",
        "",
        "The `arch`, `data`, `train` and `energy` sections are fwformer's own config sections: a key left "
        "out takes the value of the study's `base` preset, and the default shown is fwformer's, which that "
        "preset may change (the `tiny` preset, for instance, sets its own widths). See "
        "[studies and search spaces](../guides/studies.md) for what a study is, and "
        "[objectives](objectives.md) for the metrics a study may optimise.",
    ]
    for section, entries in keys():
        title = f"`{section}`" if section else "Top level"
        lines += ["", f"## {title}", "", "| key | type | default | description |", "|---|---|---|---|"]
        for k in entries:
            text = k.description
            if k.allowed:
                text += ("" if text.endswith((".", ";")) else ".") + f" **Allowed:** {k.allowed}."
            lines.append(f"| {key(k.path)} | {k.type} | {value(k.default)} | {cell(text)} |")
    return "\n".join(lines) + "\n"


def render_objectives() -> str:
    from search.study import OBJECTIVES
    from search.study.objectives import ENERGY_BOUND, ZERO

    references = {ZERO: "0", ENERGY_BOUND: "the space's largest energy at firing rate 1", None: "none: the study gives one"}
    lines = [
        "# Objectives",
        "",
        "The metrics a study may declare as objectives (`objectives: [{metric: ..., direction: ...}]`), "
        "generated from the one registry they live in, `search.study.OBJECTIVES`: what the schema accepts, "
        "how figures label them, which way they improve, the hypervolume reference a study gets when it "
        "gives none, and whether a supernet's sub-network can be scored on them (training metrics exist "
        "only for a model trained on its own, so the `supernet` strategy refuses them). Adding an "
        "objective is one entry there, and a trial that reports the metric.",
        "",
        "| metric | label | unit | improves | default reference | pick alias | supernet can score it |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in OBJECTIVES.values():
        unit = "%" if m.fraction else m.unit
        stored = " (stored as a fraction)" if m.fraction else ""
        lines.append(f"| `{m.name}` | {cell(m.label)} | {cell(unit)}{stored} | {m.direction} | {references[m.reference]} | "
                     f"{code(m.alias or '')} | {'yes' if m.supernet else 'no'} |")
    lines += ["", "A study's `direction` may be left null: the metric's own direction is taken. Picks "
              "(`search.export --pick`) accept `max-<metric>`, `min-<metric>`, `<metric><=X` and `<metric>>=X`, "
              "with the aliases above for short."]
    return "\n".join(lines) + "\n"


def all_keys() -> list[str]:
    return [k.path for _, entries in keys() for k in entries]


def descriptions() -> dict[str, str]:
    return {k.path: k.description for _, entries in keys() for k in entries}

