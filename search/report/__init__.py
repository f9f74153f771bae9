"""What a study says: its front as files, which mixer sits in which block, what matters, whether
the search converged, and, for several studies, how their fronts compare; figures, plots, styles
and the self-contained HTML page. The command is `python -m search.report`.
"""
from __future__ import annotations

from search.report.compare import common_reference, compare
from search.report.convergence import curve, supernet_view
from search.report.importance import importances
from search.report.placement import Architecture, best_quarter, count
from search.report.plots import front_csv, plot_front
from search.report.report import build_parser, main, write_report
from search.report.style import PALETTE, new_figure, save, scale_of, staircase

__all__ = [
    "build_parser",
    "Architecture",
    "PALETTE",
    "best_quarter",
    "common_reference",
    "compare",
    "count",
    "curve",
    "front_csv",
    "importances",
    "main",
    "new_figure",
    "plot_front",
    "save",
    "scale_of",
    "staircase",
    "supernet_view",
    "write_report",
]
