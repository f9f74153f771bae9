"""How every figure of a study reads: axis labels with units, a readable unit for energy, a
colour-blind-safe palette, the Pareto front drawn as the staircase it is, and one way to make and
save a figure.

`search.report.plots` (the front) and `search.report.figures` (the report) draw with these, so a metric has the
same label, unit and scale in every picture.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from search.study import OBJECTIVES

#: Okabe & Ito's palette ("Color Universal Design", 2008): told apart under every common form of
#: colour-vision deficiency and in greyscale print. Black first is left out: it marks the knee.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
FRONT_COLOUR = "#D55E00"  # vermillion: the front against grey trials
OTHER_COLOUR = "#9a9a9a"
#: Sequential and perceptually uniform, readable by colour-blind readers (matplotlib's cividis).
HEATMAP = "cividis"

DPI = 110


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas (the object API: no pyplot, no global backend switch,
    safe in the driver and in any process), laid out by matplotlib's constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


#: What a metric is, and its unit as stored (the trial's result): the objectives' own entries, and
#: the trial number some axes show.
NAMES = {**{m.name: (m.label, m.unit) for m in OBJECTIVES.values()}, "trial": ("trial", "")}


@dataclass(frozen=True)
class Scale:
    """A metric as an axis shows it: `values x factor`, in `unit`."""

    metric: str
    factor: float
    unit: str

    @property
    def name(self) -> str:
        return NAMES.get(self.metric, (self.metric, ""))[0]

    @property
    def label(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def __call__(self, value: Any) -> Any:
        return None if value is None else float(value) * self.factor

    def text(self, value: Any) -> str:
        """`1.234 µJ`, `97.2 %`: a value as the axis reads it, for hover text and tables."""
        if value is None:
            return "-"
        return f"{self(value):.4g}" + (f" {self.unit}" if self.unit else "")


def scale_of(metric: str, values: Iterable[Any] = ()) -> Scale:
    """Accuracy in percent; energy in microjoules when every value is below 0.01 mJ (a small model's
    0.0004 mJ reads as 0.4 µJ); everything else in its stored unit."""
    known = OBJECTIVES.get(metric)
    if known is not None and known.fraction:
        return Scale(metric, 100.0, "%")
    if known is not None and known.unit == "mJ":
        finite = [abs(float(v)) for v in values if v is not None and abs(float(v)) < float("inf")]
        if finite and max(finite) < 0.01:
            return Scale(metric, 1000.0, "µJ")
    return Scale(metric, 1.0, NAMES.get(metric, ("", ""))[1])


def staircase(xs: Sequence[float], ys: Sequence[float], *, x_minimised: bool) -> tuple[list, list]:
    """The vertices of the boundary of what mutually non-dominated points (xs, ys) dominate: from
    each point the next better value in y is reached only by giving up x, so the line runs level,
    then steps. Points in any order; the staircase runs with x ascending."""
    pts = sorted(zip(xs, ys))
    vx, vy = [], []
    for i, (x, y) in enumerate(pts):
        if i:
            px, py = pts[i - 1]
            # x minimised: y_{i-1} holds until x_i is affordable; x maximised: y_i holds from x_{i-1}.
            vx.append(x if x_minimised else px)
            vy.append(py if x_minimised else y)
        vx.append(x)
        vy.append(y)
    return vx, vy


def draw_staircase(ax: Any, xs: Sequence[float], ys: Sequence[float], *, x_minimised: bool, y_maximised: bool,
                   limits: Optional[tuple[tuple[float, float], tuple[float, float]]] = None, **line: Any) -> None:
    """The staircase on a matplotlib axis, continued to the axis edges on the dominated side (where
    the dominated region goes on), without changing the axis limits: `limits` ((x0, x1), (y0, y1)),
    by default the axis' own after autoscaling to what it holds. Several staircases on one axis
    take the same `limits`, fixed after every point is drawn."""
    if not xs:
        return
    if limits is None:
        ax.autoscale_view()
        limits = (ax.get_xlim(), ax.get_ylim())
    (x0, x1), (y0, y1) = limits
    vx, vy = staircase(xs, ys, x_minimised=x_minimised)
    # The worse end of x continues level; the better end drops to the worse edge of y.
    if x_minimised:
        vx, vy = [vx[0], *vx, x1], [y0 if y_maximised else y1, *vy, vy[-1]]
    else:
        vx, vy = [x0, *vx, vx[-1]], [vy[0], *vy, y0 if y_maximised else y1]
    ax.plot(vx, vy, **line)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def plotly_shape(x_minimised: bool) -> str:
    """Plotly's `line_shape` for the same staircase: level first, then the step (x minimised), or
    the step first (x maximised)."""
    return "hv" if x_minimised else "vh"
