"""The API reference: one page per public package, rendered by mkdocstrings from the docstrings.

The packages come from the code: every layer of `search.LAYERS`, `space`, and every package of
`fwformer.LAYERS` that declares an `__all__`. A new layer gets its page (and its place in the
navigation, `hooks.on_config`) without an edit here.
"""
from __future__ import annotations

import importlib


def packages() -> list[str]:
    import fwformer
    import search

    names = [f"search.{layer}" for layer in search.LAYERS] + ["space"]
    for layer in getattr(fwformer, "LAYERS", ("mixers",)):
        if hasattr(importlib.import_module(f"fwformer.{layer}"), "__all__"):
            names.append(f"fwformer.{layer}")
    return names


def path_of(package: str) -> str:
    return f"reference/api/{package}.md"


def summary(package: str) -> str:
    """The first sentence of the package's docstring, on one line."""
    doc = (importlib.import_module(package).__doc__ or "").strip()
    first = " ".join(doc.split("\n\n")[0].split())
    return first.split(". ")[0].rstrip(".") + "." if first else ""


def render_page(package: str) -> str:
    return f"# `{package}`\n\n::: {package}\n"


def render_index(names: list[str]) -> str:
    lines = [
        "# API reference",
        "",
        "The public names of each package (its `__all__`), rendered from their docstrings when this site "
        "is built. Other packages, the benchmarks and the tests import these names only: a module inside a "
        "package may move. Inside `search`, imports flow up `search.LAYERS` (records, study, front, tracking, "
        "trials, supernet, report, export, run), and across packages from fwformer to space to search to "
        "benchmarks; `tests/test_layers.py` keeps it so.",
        "",
        "| package | what it holds |",
        "|---|---|",
    ]
    lines += [f"| [`{name}`]({name}.md) | {summary(name)} |" for name in names]
    return "\n".join(lines) + "\n"
