"""What every command line of the project shares, and the error every layer raises for bad input.

Modules: `errors` (`ConfigError`, one line naming the key or value and what is allowed; `closest` for
"did you mean"; `exit_on_user_error`, which turns it into one `error:` line and exit code 2; an
`ArgumentParser` whose mistakes are ConfigErrors too), `locations` (checks of output files and
folders, MLflow tracking URIs and database URLs, before any work) and `structured` (OmegaConf
structured configs from YAML and `key=value` overrides, for the model's, a space's and a study's
config). The bottom layer of fwformer: it imports nothing else of it, and no torch.

The names load their module on first use: `from fwformer.cli import ConfigError` (what every layer
needs) does not pull in the network code of `locations`.
"""
from __future__ import annotations

import importlib
from typing import Any

_MODULE_OF = {
    **dict.fromkeys(("ArgumentParser", "ConfigError", "closest", "exit_on_user_error"), "errors"),
    **dict.fromkeys(("DATABASES", "TIMEOUT_S", "TRACKING_SCHEMES", "check_database", "check_output_file",
                     "check_output_folder", "check_tracking_uri", "check_writable_file", "redact", "sqlite_path",
                     "unreachable"), "locations"),
    **dict.fromkeys(("allowed_keys", "expand_shorthands", "merge_structured", "one_line_error", "parse_overrides",
                     "quote_list_items", "split_override", "to_object"), "structured"),
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"fwformer.cli.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'fwformer.cli' has no attribute {name!r}")
