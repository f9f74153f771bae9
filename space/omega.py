"""Merging YAML and dotlist layers into a structured config, with one-line errors that name the key."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Sequence

from fwformer.errors import ConfigError, closest


def merge_structured(schema: type, *layers: Any, prefix: str = "") -> Any:
    """`OmegaConf.merge(structured(schema), *layers)` as a DictConfig (not an object: fields of type
    Any may hold nested lists); OmegaConf errors become ConfigError naming `prefix.key`."""
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
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise ConfigError(one_line_error(err, schema, prefix)) from None


def parse_dotlist(overrides: Sequence[str]) -> Any:
    """A DictConfig from `key=value` items; list items are quoted so `dwt-db2@2` or `fft2d+ssa` survive."""
    from omegaconf import OmegaConf

    from fwformer.config import quote_list_items, split_override

    items = []
    for item in overrides:
        key, value = split_override(item)
        # Nested lists or mappings (one mixer list per block, objectives) are left as written:
        # quote names with '+' or '@' inside them yourself.
        inner = value.strip()[1:]
        if value.strip().startswith("[") and "[" not in inner and "{" not in inner:
            item = quote_list_items(f"{key}={value}")
        else:
            item = f"{key}={value}"
        items.append(item)
    try:
        return OmegaConf.from_dotlist(items)
    except Exception as err:
        raise ConfigError(f"cannot parse overrides {' '.join(overrides)}: {str(err).splitlines()[0]}") from None


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
    """Field names of the dataclass at `path` inside `schema` (the top level when the path leaves it)."""
    cls = schema
    for part in path:
        part = part.split("[")[0]
        hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
        sub = hints.get(part)
        if sub is None or not dataclasses.is_dataclass(sub):
            break
        cls = sub
    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
