"""Result files: written whole or not at all, and every output option checked before any work."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: str | Path, payload: Any) -> Path:
    return write_whole(path, (json.dumps(payload, indent=1, default=_jsonable) + "\n").encode())


def write_whole(path: str | Path, data: bytes) -> Path:
    """Write `data` whole or not at all: into a temporary file beside `path`, then renamed over it.
    The caches of long benchmarks are rewritten after every training, and a process killed in the
    middle of a plain write would leave a truncated file that loses every training before it."""
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def check_outputs(files: dict[str, Any] = {}, folders: dict[str, Any] = {}) -> None:  # noqa: B006 - read only
    """Every output option of a benchmark CLI (`--json FILE`, `--plot FILE`, `--workdir DIR`, ...) can be
    written, checked before any work with the checks every CLI shares (`fwformer.cli`)."""
    from fwformer.cli import check_output_file, check_output_folder

    for option, path in files.items():
        if path is not None:
            check_output_file(Path(path), option)
    for option, path in folders.items():
        if path is not None:
            check_output_folder(Path(path), option)


def read_result_files(paths: Any, option: str) -> list[Any]:
    """The JSON of each result file named by `option` (e.g. `--report FILE ...`); a missing or unreadable
    one is a one-line error."""
    from fwformer.cli import ConfigError

    out = []
    for path in map(Path, paths):
        try:
            out.append(json.loads(path.read_text()))
        except FileNotFoundError:
            raise ConfigError(f"{option} {path}: no such file") from None
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise ConfigError(f"{option} {path} is not a result file (JSON): {err}") from None
    return out
