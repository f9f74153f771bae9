"""Structured configs from YAML and `key=value` overrides, for every config of the project (the model's,
a search space's, a study's): one parser of overrides, one merge, one way to report what is wrong.

OmegaConf checks keys and types against a dataclass schema; its errors become one-line
`ConfigError`s that name the full key path and, for an unknown key, the closest allowed ones.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any, Iterable, Sequence

from fwformer.cli.errors import ConfigError, closest


def split_override(item: str) -> tuple[str, str]:
    """'key=value' -> (key, value), with Hydra's '+' prefix dropped from the key."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' is not of the form key=value")
    key, value = item.split("=", 1)
    return key.strip().lstrip("+"), value


def expand_shorthands(overrides: Sequence[str], *, section: str = "data", lists: Iterable[str] = ()) -> list[str]:
    """Rewrite the shorthands OmegaConf would reject: `data=digits` (a section given a name) becomes
    `data.name=digits`, and `K=name` for a list key K in `lists` becomes `K=[name]`."""
    lists = set(lists)
    out = []
    for item in overrides:
        key, value = split_override(item)
        if key == section and not value.lstrip().startswith("{"):
            item = f"{section}.name={value}"
        elif key in lists and not value.lstrip().startswith("["):
            item = f"{key}=[{value}]"
        out.append(item)
    return out


def quote_list_items(item: str) -> str:
    """Quote the items of a flat list value, so names like `dwt-db2@2` or `fft2d+ssa` survive
    OmegaConf's grammar. Nested lists and mappings are left as written."""
    key, value = split_override(item)
    m = re.fullmatch(r"\s*\[(.*)\]\s*", value)
    if not m or "[" in m.group(1) or "{" in m.group(1):
        return f"{key}={value}"
    parts = [p.strip().strip("'\"") for p in m.group(1).split(",") if p.strip()]
    return f"{key}=[" + ",".join(f"'{p}'" for p in parts) + "]"


def parse_overrides(overrides: Sequence[str]) -> Any:
    """A DictConfig from `key=value` items (list items quoted, see `quote_list_items`)."""
    from omegaconf import OmegaConf

    items = [quote_list_items(o) for o in overrides]
    try:
        return OmegaConf.from_dotlist(items)
    except Exception as err:  # the grammar raises several types
        raise ConfigError(f"cannot parse overrides {' '.join(overrides)}: {str(err).splitlines()[0]}") from None


def merge_structured(schema: type, *layers: Any, prefix: str = "") -> Any:
    """`OmegaConf.merge(structured(schema), *layers)` as a DictConfig; errors name `prefix.key`."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.merge(OmegaConf.structured(schema), *layers)
    except OmegaConfBaseException as err:
        raise ConfigError(one_line_error(err, schema, prefix)) from None
    except TypeError as err:  # e.g. `objectives.0.metric=x`: a mapping merged into a list
        where = f" in '{prefix}'" if prefix else ""
        raise ConfigError(f"cannot merge the config layers{where}: {err}; a list is set whole, "
                          f"e.g. objectives=[{{metric: val_acc, direction: maximize}}]") from None


def to_object(schema: type, merged: Any, prefix: str = "") -> Any:
    """The dataclass instance of a merged DictConfig; errors name `prefix.key`."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise ConfigError(one_line_error(err, schema, prefix)) from None


def one_line_error(err: Exception, schema: type, prefix: str = "") -> str:
    key = str(getattr(err, "full_key", "") or "")
    full = f"{prefix}.{key}" if prefix and key else (key or prefix)
    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    if "not in" in first and "Key '" in first:
        allowed = allowed_keys(schema, key.split(".")[:-1])
        leaf = key.split(".")[-1]
        return f"unknown key '{full}'{closest(leaf, allowed)}; allowed keys there: {', '.join(allowed)}"
    return f"bad value for '{full}': {first}" if full else first


def allowed_keys(schema: type, path: Sequence[str]) -> list[str]:
    """Field names of the dataclass at `path` inside `schema` (the deepest dataclass on the path)."""
    cls = schema
    for part in path:
        part = part.split("[")[0]
        hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
        sub = hints.get(part)
        if sub is None or not dataclasses.is_dataclass(sub):
            break
        cls = sub
    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
