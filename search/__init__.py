"""The multi-objective mixer search: studies, Pareto fronts, export (and the Ray/Optuna/MLflow runner).

Submodules load lazily so that `import search` stays cheap: `search.study` (load_study),
`search.pareto` (fronts, hypervolume, plots), `search.export` (arch YAML with provenance),
`search.run` (the runner).
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "load_study": "search.study",
    "Study": "search.study",
    "export_architecture": "search.export",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")
