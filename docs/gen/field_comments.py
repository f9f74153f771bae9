"""The comment beside a dataclass field, read from its source: the description column of the
study-file reference.

The comment at the end of a field's line, else the comment block directly above it (no blank line
between). A heading comment over several fields (`# Optional width choices; ...` above three of
them) goes to the first only; `study_notes.DESCRIPTIONS` covers the others, and overrides a comment
that reads badly as a description.
"""
from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize

IGNORED = ("type: ignore", "noqa")


def _comments(source: str) -> tuple[dict[int, str], set[int]]:
    """(line -> comment text, the lines that hold nothing but a comment)."""
    text_of, alone = {}, set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string.lstrip("#").strip()
            if any(text.startswith(marker) for marker in IGNORED):
                continue
            text_of[tok.start[0]] = text
            if not tok.line[:tok.start[1]].strip():
                alone.add(tok.start[0])
    return text_of, alone


def field_comments(cls: type) -> dict[str, str]:
    """Field name -> its comment, for the fields of dataclass `cls` that have one."""
    source = textwrap.dedent(inspect.getsource(cls))
    text_of, alone = _comments(source)
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    out: dict[str, str] = {}
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        end = node.end_lineno or node.lineno
        if end in text_of and end not in alone:
            out[node.target.id] = text_of[end]
            continue
        block, line = [], node.lineno - 1
        while line in alone:
            block.insert(0, text_of[line])
            line -= 1
        if block:
            out[node.target.id] = " ".join(block)
    return out
