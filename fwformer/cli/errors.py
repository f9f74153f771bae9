"""User-facing configuration errors and the one place that turns them into exit code 2."""
from __future__ import annotations

import argparse
import difflib
import functools
import sys
from typing import Callable, Iterable, TypeVar

F = TypeVar("F", bound=Callable[..., object])


class ConfigError(ValueError):
    """Bad user input: a key, value or combination that cannot be built.

    The message is one line that names the key or value and says what is allowed.
    """


def closest(value: str, allowed: Iterable[str], n: int = 3) -> str:
    """' (did you mean: a, b?)' for the nearest allowed names, or '' when none is near."""
    matches = difflib.get_close_matches(str(value), list(allowed), n=n, cutoff=0.5)
    return f" (did you mean: {', '.join(matches)}?)" if matches else ""


def exit_on_user_error(main: F) -> F:
    """Decorate a CLI main: a ConfigError becomes one line on stderr and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose mistakes (a missing or unknown option) are ConfigErrors like every other user
    error: one line and exit code 2 under `exit_on_user_error`, with `usage_line` in brackets."""

    def __init__(self, *args, usage_line: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.usage_line = usage_line

    def error(self, message: str):
        raise ConfigError(f"{message} (usage: {self.usage_line})")
