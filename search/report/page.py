"""One self-contained HTML page from sections of text, pictures and tables: pictures are embedded
(base64 PNG), styles inline, nothing fetched, so the page opens offline, from an e-mail, or as an
MLflow artifact. Every text is escaped."""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

_NUMBER = re.compile(r"[-+]?(\d[\d,]*\.?\d*|\.\d+)([eE][-+]?\d+)?")
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1180px; margin: 24px auto;
       padding: 0 16px; color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.facts { color: #555; font-size: 0.92em; } img { max-width: 100%; border: 1px solid #eee; }
.read { background: #f6f8fa; border-left: 3px solid #0072B2; padding: 6px 12px; font-size: 0.92em; }
table { border-collapse: collapse; font-size: 0.88em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; } th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.lines { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em; }
"""


class Page:
    def __init__(self, title: str, facts: Sequence[str] = ()):
        self.title = title
        self.parts = [f"<h1>{_e(title)}</h1>"] + [f'<div class="facts">{_e(f)}</div>' for f in facts]

    def section(self, heading: str, *, image: Optional[Path] = None, read: str = "", lines: Iterable[str] = (),
                table: Optional[tuple[Sequence[str], Sequence[Sequence[object]]]] = None, text: str = "") -> None:
        """A heading, then a picture, how to read it, lines of findings, a table and plain text."""
        self.parts.append(f"<h2>{_e(heading)}</h2>")
        if text:
            self.parts.append(f"<p>{_e(text)}</p>")
        if image is not None and Path(image).is_file():
            data = base64.b64encode(Path(image).read_bytes()).decode("ascii")
            self.parts.append(f'<img alt="{_e(heading)}" src="data:image/png;base64,{data}">')
        if read:
            self.parts.append(f'<p class="read"><b>How to read it.</b> {_e(read)}</p>')
        lines = list(lines)
        if lines:
            self.parts.append('<ul class="lines">' + "".join(f"<li>{_e(x)}</li>" for x in lines) + "</ul>")
        if table is not None:
            header, rows = table
            head = "".join(f"<th>{_e(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
            self.parts.append(f"<table><tr>{head}</tr>{body}</table>")

    def html(self) -> str:
        return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(self.title)}</title>'
                f'<style>{_STYLE}</style></head><body>{"".join(self.parts)}</body></html>\n')

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html(), encoding="utf-8")
        return path


def _e(x: object) -> str:
    return html.escape(str(x))


def _cell(c: object) -> str:
    """Numbers right-aligned: floats to 4 significant digits, or a number already formatted as text
    (where more digits matter, e.g. hypervolumes that differ in the fifth)."""
    if isinstance(c, float):
        c = f"{c:.4g}"
    if isinstance(c, (int, str)) and not isinstance(c, bool) and _NUMBER.fullmatch(str(c)):
        return f'<td class="num">{c}</td>'
    return f"<td>{_e(c)}</td>"
