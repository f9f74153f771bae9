"""The report's pictures (matplotlib, object API on the Agg canvas: no pyplot, no global backend,
safe in the driver and in any process): the placement map, what matters, convergence, the
supernet's estimate against its confirmation, and the comparison of several studies. Each function
takes what `search.report.placement`, `search.report.importance`, `search.report.convergence` and `search.report.compare`
computed and returns a Figure (`search.report.style.save` writes it). Labels, units and colours: `search.report.style`.
"""
from __future__ import annotations

from typing import Any, Sequence

from search.report.style import FRONT_COLOUR, HEATMAP, OTHER_COLOUR, PALETTE, draw_staircase, new_figure, scale_of

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _note(fig: Any, text: str) -> None:
    """A footnote that travels with the PNG (MLflow shows the picture alone)."""
    import textwrap

    fig.supxlabel(textwrap.fill(text, int(fig.get_figwidth() * 16)), fontsize=7.5, color="0.3")


# ---- placement ------------------------------------------------------------------------------------
def placement_figure(placements: Sequence[Any], *, title: str) -> Any:
    """One panel per Placement: mixer family x block, the share of the architectures in colour, the
    count (and how many of it come from hybrids) in each cell, empty cells light; T as its own row
    beneath."""
    from matplotlib.gridspec import GridSpecFromSubplotSpec

    families = list(dict.fromkeys(f for p in placements for f in p.families))  # one row order: panels compare
    rows = max(len(families), 1)
    n = len(placements)
    fig = new_figure(4.4 * n + 1.0, 0.42 * rows + 2.6)
    outer = fig.add_gridspec(1, n + 1, width_ratios=[1] * n + [0.05])
    cmap = _cmap()
    image = None
    for k, p in enumerate(placements):
        inner = GridSpecFromSubplotSpec(2, 1, subplot_spec=outer[0, k], height_ratios=[rows, 1], hspace=0.08)
        ax, tax = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
        if not p.size:
            ax.text(0.5, 0.5, f"{p.label}: no architecture yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            tax.set_axis_off()
            continue
        grid = [[_shown(p.counts[f, b], p.size) for b in range(p.blocks)] for f in families]
        image = ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, aspect="auto")
        for i, f in enumerate(families):
            for b in range(p.blocks):
                c, h = p.counts[f, b], p.via_hybrid[f, b]
                if c:
                    _cell(ax, b, i, f"{c}" + (f"\n({h} via hybrid)" if h else ""), p.share(f, b))
        ax.set_xticks(range(p.blocks), [f"block {b}" for b in range(p.blocks)], fontsize=8)
        ax.set_yticks(range(len(families)), families, fontsize=8)
        ax.xaxis.tick_top()
        ax.set_title(f"{p.label}: {p.size} architecture{'s' if p.size != 1 else ''}", fontsize=9.5)
        ts = p.T_choices or sorted(p.T)
        tax.imshow([[_shown(p.T[t], p.size) for t in ts]], cmap=cmap, vmin=0, vmax=1, aspect="auto")
        for j, t in enumerate(ts):
            if p.T[t]:
                _cell(tax, j, 0, str(p.T[t]), p.T[t] / p.size)
        tax.set_xticks(range(len(ts)), [f"T={t}" for t in ts], fontsize=8)
        tax.set_yticks([0], ["T"], fontsize=8)
    if image is not None:
        bar = fig.colorbar(image, cax=fig.add_subplot(outer[0, n]))
        bar.set_label("share of the architectures", fontsize=8)
        bar.ax.yaxis.set_major_formatter(_percent())
        bar.ax.tick_params(labelsize=8)
    fig.suptitle(title, fontsize=10.5)
    _note(fig, "A cell counts the architectures with that family in that block; a hybrid a+b counts toward "
               "both a and b (\"via hybrid\"), so a block may add up to more. White: never there.")
    return fig


def _shown(count: int, size: int) -> float:
    return count / size if count else -1.0  # below vmin: the colour map's "under" colour


def _cmap() -> Any:
    import matplotlib

    return matplotlib.colormaps[HEATMAP].with_extremes(under="white")


def _cell(ax: Any, x: int, y: int, text: str, share: float) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=7.5, color="black" if share > 0.55 else "white")


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1, decimals=0)


# ---- what matters -----------------------------------------------------------------------------------
def importance_figure(results: Sequence[Any], *, title: str) -> Any:
    """One panel per objective: the parameters' importance as bars, most important on top; a panel
    whose objective had too few trials says so instead."""
    from search.report.importance import param_label

    longest = max((len(r.values or {}) for r in results), default=0)
    fig = new_figure(3.9 * len(results) + 0.6, 0.32 * max(longest, 4) + 1.6 if longest else 2.0)
    for k, r in enumerate(results):
        ax = fig.add_subplot(1, len(results), k + 1)
        name = scale_of(r.objective).name
        if not r.values:
            ax.text(0.5, 0.5, _wrap(r.reason, 42), ha="center", va="center", fontsize=8.5, transform=ax.transAxes)
            ax.set_axis_off()
            ax.set_title(name, fontsize=9.5)
            continue
        items = list(r.values.items())[::-1]
        ax.barh([param_label(p) for p, _ in items], [v for _, v in items], color=PALETTE[k % len(PALETTE)])
        for j, (_, v) in enumerate(items):
            ax.text(v, j, f" {v:.2f}", va="center", fontsize=7.5)
        ax.set_xlim(0, max(1e-9, max(v for _, v in items)) * 1.25)
        ax.set_xlabel("importance (share of the total)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_title(f"{name}\n{r.name} over {r.trials} trials", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10.5)
    if results:
        _note(fig, f"Evaluator: {results[0].description}; trained COMPLETE trials only, each objective its own target.")
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


# ---- convergence ---------------------------------------------------------------------------------------
def convergence_figure(conv: Any, *, title: str, reference_text: str) -> Any:
    """Hypervolume after every finished trial, against trials and against compute; stopped and
    failed trials marked where they finished."""
    fig = new_figure(9.6, 3.7)
    panels = [("finished", "trials finished"), ("compute", f"compute ({conv.unit})")]
    for k, (attr, label) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        xs = [getattr(s, attr) for s in conv.steps]
        hv = [s.hypervolume for s in conv.steps]
        if xs:
            ax.step(xs, hv, where="post", color=PALETTE[0], lw=1.4, label="hypervolume")
            for state, marker, colour, name in (("PRUNED", "v", PALETTE[4], "stopped early"),
                                                ("FAIL", "X", FRONT_COLOUR, "failed")):
                marked = [s for s in conv.steps if s.state == state]
                if marked:
                    ax.scatter([getattr(s, attr) for s in marked], [s.hypervolume for s in marked], marker=marker,
                               color=colour, s=36, zorder=3, label=f"{name} ({len(marked)})")
            done = [s for s in conv.steps if s.state == "COMPLETE"]
            ax.scatter([getattr(s, attr) for s in done], [s.hypervolume for s in done], color=PALETTE[0], s=10,
                       zorder=3, label=f"completed ({len(done)})")
        else:
            ax.text(0.5, 0.5, "no trial finished yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(label, fontsize=8.5)
        ax.set_ylabel("hypervolume", fontsize=8.5)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if xs:
            ax.legend(fontsize=7.5, loc="lower right")
    running = f"; {conv.running} still running" if conv.running else ""
    fig.suptitle(f"{title}{running}", fontsize=10.5)
    _note(fig, f"Hypervolume of the front of the trials finished so far, reference point {reference_text}. "
               "Compute: each trial's wall-clock time times the resources it held, every attempt included.")
    return fig


# ---- the supernet strategy ---------------------------------------------------------------------------------
def supernet_figure(view: Any, *, title: str) -> Any:
    """The estimated front (inherited weights) and the confirmed one (trained stand-alone) on the
    same axes, then inherited against trained for every confirmed trial, one panel per objective."""
    from search.report.plots import draw_front, limits, scales

    metrics = view.confirmed.objectives.metrics
    fig = new_figure(3.6 * (2 + len(metrics)), 3.8)
    shared = scales(view.estimated, view.confirmed)
    bounds = limits([view.estimated, view.confirmed], shared)  # both fronts on the same axes
    axes = [fig.add_subplot(1, 2 + len(metrics), k + 1) for k in range(2 + len(metrics))]
    draw_front(axes[0], view.estimated, title=f"estimated: {len(view.estimated.candidates)} candidates",
               scale=shared, bounds=bounds, noun="candidate")
    draw_front(axes[1], view.confirmed, title=f"confirmed: {len(view.confirmed.candidates)} trained", scale=shared,
               bounds=bounds)
    for ax, m in zip(axes[2:], metrics):
        pairs = view.pairs.get(m) or []
        s = scale_of(m, [v for p in pairs for v in p[:2]])
        xs, ys = [s(p[0]) for p in pairs], [s(p[1]) for p in pairs]
        ax.scatter(xs, ys, color=PALETTE[0], s=24, zorder=3)
        for p, x, y in zip(pairs, xs, ys):
            ax.annotate(str(p[2]), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
        if xs:
            lo, hi = min(xs + ys), max(xs + ys)
            pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color=OTHER_COLOUR, lw=1, ls="--", label="equal")
            ax.legend(fontsize=7.5, loc="upper left")
        tau = view.kendall(m)
        ax.set_title(f"{s.name}: Kendall tau "
                     + (f"{tau:.2f}" if tau is not None else "n/a") + f" (n={len(pairs)})", fontsize=9)
        ax.set_xlabel(f"inherited weights ({s.unit})" if s.unit else "inherited weights", fontsize=8.5)
        ax.set_ylabel(f"trained stand-alone ({s.unit})" if s.unit else "trained stand-alone", fontsize=8.5)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10.5)
    return fig


# ---- several studies ---------------------------------------------------------------------------------------
def comparison_figure(comp: Any, *, title: str) -> Any:
    """Every study's front as a staircase with its hypervolume at the common reference; beside it,
    when some studies differ only in their seed, those settings' attainment surfaces."""
    metrics, directions = comp.objectives.metrics, comp.objectives.directions
    x, y = (metrics[1], metrics[0])
    d = dict(zip(metrics, directions))
    grouped = [g for g in comp.groups if len(g.entries) > 1]
    fig = new_figure(6.4 * (1 + bool(grouped)), 4.8)
    values = [(e.front.value(t, x), e.front.value(t, y)) for e in comp.entries for t in e.front.members]
    sx, sy = scale_of(x, [v[0] for v in values]), scale_of(y, [v[1] for v in values])
    ax = fig.add_subplot(1, 1 + bool(grouped), 1)
    fronts = []
    for k, e in enumerate(comp.entries):
        xs = [sx(e.front.value(t, x)) for t in e.front.members]
        ys = [sy(e.front.value(t, y)) for t in e.front.members]
        ax.scatter(xs, ys, color=PALETTE[k % len(PALETTE)], marker=MARKERS[k % len(MARKERS)], s=24, zorder=3)
        fronts.append((xs, ys))
    ax.autoscale_view()
    limits = (ax.get_xlim(), ax.get_ylim())  # every staircase runs to the same edges
    stairs = dict(x_minimised=d[x] == "minimize", y_maximised=d[y] == "maximize", limits=limits, lw=1.3)
    for k, (e, (xs, ys)) in enumerate(zip(comp.entries, fronts)):
        draw_staircase(ax, xs, ys, color=PALETTE[k % len(PALETTE)], label=f"{e.label}: HV {e.hypervolume:.5g}",
                       zorder=2, **stairs)
    _axes(ax, sx, sy, "fronts, hypervolume (HV) at the common reference")
    if grouped:
        gx = fig.add_subplot(1, 2, 2)
        styles = ("-", "--", ":")  # attained by one run, by about half, by all
        for k, g in enumerate(grouped):
            n = len(g.entries)
            for style, (level, points) in zip(styles, sorted(g.surfaces.items())):
                who = ("both" if n == 2 else f"all {n}") if level == n else f"at least {level} of {n}"
                draw_staircase(gx, [sx(p[0]) for p in points], [sy(p[1]) for p in points], ls=style,
                               color=PALETTE[k % len(PALETTE)], label=f"{g.label}: attained by {who} runs", **stairs)
        gx.set_xlim(*limits[0])
        gx.set_ylim(*limits[1])
        _axes(gx, sx, sy, "empirical attainment surfaces of seeds of one setting")
    fig.suptitle(title, fontsize=10.5)
    _note(fig, f"Common reference point {comp.reference_text}: the worst of the studies' own reference points "
               "in every objective.")
    return fig


def _axes(ax: Any, sx: Any, sy: Any, title: str) -> None:
    ax.set_xlabel(sx.label)
    ax.set_ylabel(sy.label)
    ax.set_title(title, fontsize=9.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower right")
