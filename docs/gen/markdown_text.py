"""Text from the code made safe for a Markdown page: `<metric>` in a help string or `<root>` in a
comment is text, not an HTML tag, and a `|` does not split a table cell. Code spans are left alone:
Markdown already shows them verbatim."""
from __future__ import annotations

import html


def _outside_code(text: str, change) -> str:
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans to keep
        return change(text)
    return "`".join(change(p) if i % 2 == 0 else p for i, p in enumerate(parts))


def prose(text: str) -> str:
    """`text` with `<`, `>` and `&` outside code spans escaped."""
    return _outside_code(text, lambda s: html.escape(s, quote=False))


def cell(text: str) -> str:
    """A table cell: one line, escaped as `prose`, with pipes outside code spans escaped too."""
    return _outside_code(" ".join(text.split()), lambda s: html.escape(s, quote=False).replace("|", "\\|"))


def key(path: str) -> str:
    """A dotted key that may break after its dots only (`code.words` in docs/stylesheets/extra.css)."""
    return '<code class="words">' + ".<wbr>".join(html.escape(part) for part in path.split(".")) + "</code>"


def value(text: str) -> str:
    """A value in code that may break between words and after a path's slashes only, never inside a
    word (`spikformer`)."""
    return f'<code class="words">{"/<wbr>".join(html.escape(p) for p in text.split("/"))}</code>' if text else ""


def option(name: str) -> str:
    """A command-line option that never breaks (`code.option`)."""
    return f'<code class="option">{html.escape(name)}</code>'
