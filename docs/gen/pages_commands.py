"""The command reference: every command's arguments, read from its argparse parser.

Each command module is imported by name and asked for its public `build_parser()`; nothing is run.
A module that cannot be imported or has no `build_parser` is listed on the page as not rendered
(with the reason) instead of failing the build: the benchmark commands are imported defensively.
"""
from __future__ import annotations

import argparse
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from markdown_text import cell, option, prose, value

REPO = Path(__file__).resolve().parents[2]
USAGE_WIDTH = "80"  # columns argparse wraps the usage line at, whatever terminal builds the site
#: Benchmark commands when `benchmarks.COMMANDS` cannot be read.
BENCHMARKS = ("mixers", "league", "search", "worker_memory", "supernet", "search_scale")


def commands() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(section, commands); every command runs as `python -m COMMAND`."""
    try:
        benchmarks = tuple(importlib.import_module("benchmarks").COMMANDS)
    except Exception:  # benchmarks is not an installed package; the site must build without it
        benchmarks = BENCHMARKS
    return (
        ("Search", ("search.run", "search.report", "search.export")),
        ("Model library", ("fwformer.train", "fwformer.evaluate", "fwformer.summary")),
        ("Benchmarks", tuple(f"benchmarks.{name}" for name in benchmarks)),
    )


@dataclass
class Rendered:
    command: str
    parser: Optional[argparse.ArgumentParser]
    reason: str = ""  # why there is no parser


def load(command: str) -> Rendered:
    try:
        module = importlib.import_module(command)
    except Exception as err:  # a command being restructured must not break the site
        return Rendered(command, None, f"`import {command}` failed: {type(err).__name__}: {err}")
    build = getattr(module, "build_parser", None)
    if build is None:
        return Rendered(command, None, f"`{command}` has no public `build_parser()`")
    return Rendered(command, build())


def anchor(command: str) -> str:
    return command.replace(".", "-").replace("_", "-")


def _value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return ", ".join(value(str(c)) for c in action.choices)
    name = action.metavar or (action.dest if not action.option_strings else action.dest.upper())
    if isinstance(name, tuple):
        name = " ".join(name)
    if action.nargs in ("*", "+") or action.nargs == argparse.REMAINDER:
        return value(f"{name} ...") + (" (one or more)" if action.nargs == "+" else "")
    if isinstance(action, argparse._AppendAction):
        return value(name) + " (repeatable)"
    return value(name)


def _default(action: argparse.Action) -> str:
    default = action.default
    if action.required or action.nargs == 0 or default in (None, argparse.SUPPRESS, [], ()):
        return ""
    if isinstance(default, (list, tuple)):  # as it is typed: `--seeds 0 1 2`
        return value(" ".join(map(str, default)))
    text = str(default)
    if text.startswith(str(REPO) + os.sep):  # a path in this checkout, as the command's own folder sees it
        text = text[len(str(REPO)) + 1:]
    return value(text)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        try:
            text = parser._get_formatter()._expand_help(action)
        except (KeyError, TypeError, ValueError):
            pass
    return ("**required.** " if action.required and action.option_strings else "") + text


def render_parser(parser: argparse.ArgumentParser, level: int) -> list[str]:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = USAGE_WIDTH
    try:
        usage = parser.format_usage().strip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    lines = []
    if parser.description:
        lines += [prose(" ".join(parser.description.split())), ""]
    lines += ["```text", usage, "```", ""]
    rows, subcommands = [], []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            subcommands += [(name, sub, helps.get(name) or "") for name, sub in action.choices.items()]
            continue
        name = ", ".join(option(o) for o in action.option_strings) or f"`{action.metavar or action.dest}`"
        value = "" if not action.option_strings else _value(action)
        rows.append(f"| {name} | {value} | {_default(action)} | {cell(_help(parser, action))} |")
    if rows:
        lines += ["| argument | value | default | what it does |", "|---|---|---|---|", *rows, ""]
    for name, sub, text in subcommands:
        lines += [f"{'#' * (level + 1)} `{name}`", ""]
        if text:
            lines += [prose(" ".join(text.split())), ""]
        lines += render_parser(sub, level + 1)
    return lines


def render() -> str:
    lines = [
        "# Commands",
        "",
        "Every command's arguments, generated when this site is built from the command's own argparse "
        "parser (`build_parser()` of its module), so a renamed option cannot leave a stale page. Every "
        "command runs as `python -m COMMAND`; bad input ends it with one `error:` line and exit code 2.",
    ]
    missing = []
    for section, names in commands():
        lines += ["", f"## {section}"]
        for command in names:
            rendered = load(command)
            if rendered.parser is None:
                missing.append(rendered)
                continue
            lines += ["", f"### `python -m {command}` {{ #{anchor(command)} }}", ""]
            lines += render_parser(rendered.parser, 3)
    if missing:
        lines += ["", "## Not rendered", "",
                  "These commands exist, but their options could not be read when this site was built:", ""]
        lines += [f"- `python -m {r.command}`: {r.reason}; run `python -m {r.command} --help`." for r in missing]
    return "\n".join(lines) + "\n"


def rendered_commands() -> list[str]:
    return [c for _, names in commands() for c in names if load(c).parser is not None]
