"""The worker-memory benchmark's figures as a markdown table (`python -m benchmarks.worker_memory --report FILE`)."""
from __future__ import annotations

from typing import Any


def markdown_table(payload: dict[str, Any]) -> str:
    """Each trial worker's peak RSS, PSS and USS, the session's PSS peak, the same training alone,
    and the import costs, with the command and machine that measured them."""
    m, s, a = payload["machine"], payload["search"], payload["alone"]
    lines = [f"`{payload['command']}` (commit `{m['commit']}`, {m['date']}, {m['cpu']}, {m['cores']} cores, load average "
             f"{', '.join(f'{x:.1f}' for x in m['load_average'])}; Python {m['python']}, torch {m['torch']})", "",
             f"`python -m search.run --study {payload['study']} {' '.join(s['overrides'])}`: {s['seconds']:.0f} s", "",
             "| process | peak RSS MB | peak PSS MB | peak USS MB |", "|---|---|---|---|"]
    for i, w in enumerate(s["workers"], 1):
        lines.append(f"| trial worker {i} | {w['rss']:,.0f} | {w['pss']:,.0f} | {w['uss']:,.0f} |")
    lines.append(f"| the whole session (driver, Ray, workers) | | {s['session_pss_peak_mb']:,.0f} | |")
    lines.append(f"| one trial alone (`fwformer.train`, T {a['T']}, {', '.join(a['mixers'])}) | {a['rss_mb']:,.0f} | "
                 f"{a['pss_mb']:,.0f} | {a['uss_mb']:,.0f} |")
    lines += ["", "Peak RSS of a bare interpreter after importing: " + "; ".join(
        f"`{modules}` {mb:,.0f} MB" for modules, mb in payload["imports_mb"].items())]
    return "\n".join(lines)
