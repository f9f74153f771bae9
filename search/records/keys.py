"""Names as keys: one reversible mapping from any name (a mixer, a wavelet, a config path) to a key
that every sink accepts.

Mixer names carry characters that MLflow keys (params, metrics, tags: letters, digits, `_ - . : /`
and space) and file names do not all take: `dwt-bior2.2@2`, `fft2d+dwt-haar`. `safe_key` keeps
letters, digits, `_`, `-` and `.` as they are and writes every other character as a word between
double underscores: `@` is `__at__`, `+` is `__plus__`, anything else `__uXXXX__` (its code point),
and a literal `__` is `__us__`, so

    dwt-bior2.2@2    -> dwt-bior2.2__at__2
    fft2d+dwt-haar   -> fft2d__plus__dwt-haar
    mixer_0          -> mixer_0

The result uses only `[A-Za-z0-9._-]`: valid as an MLflow key, a file or folder name on every
operating system, a Ray trial name, and plain text in CSV/HTML. `name_of_key` inverts it exactly.
A dotted path (`space.dropped.<name>`) is mapped part by part with `safe_path`, keeping its dots.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

_WORDS = {"@": "at", "+": "plus", "__": "us"}
_BY_WORD = {word: text for text, word in _WORDS.items()}
_PLAIN = re.compile(r"[A-Za-z0-9._\-]")
_TOKEN = re.compile(r"__([a-z]+|u[0-9a-f]{4,6})__")


def safe_key(name: str) -> str:
    """`name` spelled with `[A-Za-z0-9._-]` only; reversible with `name_of_key`."""
    text, out, i = str(name), [], 0
    while i < len(text):
        if text.startswith("__", i):
            out.append("__us__")
            i += 2
            continue
        char = text[i]
        if char in _WORDS:
            out.append(f"__{_WORDS[char]}__")
        elif _PLAIN.fullmatch(char):
            out.append(char)
        else:
            out.append(f"__u{ord(char):04x}__")
        i += 1
    return "".join(out)


def name_of_key(key: str) -> str:
    """The name `safe_key` was given; ValueError for text `safe_key` cannot produce."""
    out, i = [], 0
    while i < len(key):
        if key.startswith("__", i):
            m = _TOKEN.match(key, i)
            if m is None:
                raise ValueError(f"'{key}' is not a key made by safe_key (a bare '__' at {i})")
            word = m.group(1)
            if word in _BY_WORD:
                out.append(_BY_WORD[word])
            elif word.startswith("u") and len(word) > 1:
                out.append(chr(int(word[1:], 16)))
            else:
                raise ValueError(f"'{key}' is not a key made by safe_key (unknown word '{word}')")
            i = m.end()
            continue
        if not _PLAIN.fullmatch(key[i]):
            raise ValueError(f"'{key}' is not a key made by safe_key (character {key[i]!r})")
        out.append(key[i])
        i += 1
    return "".join(out)


def safe_path(parts: list[str]) -> str:
    """A dotted key from path parts, each made safe (a part's own dots stay: keys are not split back)."""
    return ".".join(safe_key(p) for p in parts)


def flatten_params(d: Mapping[str, Any], path: tuple = ()) -> dict[str, Any]:
    """Nested params -> `a.b.c` keys, each part made safe: names such as `dwt-bior2.2@2` become keys
    here (`space.dropped.<name>`)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        parts = (*path, str(k))
        if isinstance(v, Mapping):
            out.update(flatten_params(v, parts))
        else:
            out[safe_path(list(parts))] = v
    return out
