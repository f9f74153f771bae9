"""The check's files: JSON written whole (a step killed mid-write leaves the previous version, never
half a file), read back without trusting what a failed step left."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

#: The repository the check runs in; every step runs with it as its working folder.
REPO = Path(__file__).resolve().parents[2]


def write_json(path: str | Path, payload: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(payload, indent=1, default=str) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
