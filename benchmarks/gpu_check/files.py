"""The check's files: JSON written whole (a step killed mid-write leaves the previous version, never
half a file), read back without trusting what a failed step left."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

# The repository the check runs in, and JSON written whole (a step killed mid-write leaves the
# previous version): the benchmarks' own, re-exported for the steps.
from benchmarks.common import REPO, write_json

__all__ = ["REPO", "read_json", "tail", "write_json"]


def read_json(path: Optional[str | Path]) -> Optional[dict]:
    """The file's object, or None when there is no file or it holds no JSON object."""
    if path is None:
        return None
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def tail(text: str, lines: int = 20) -> list[str]:
    return text.rstrip().splitlines()[-lines:]
