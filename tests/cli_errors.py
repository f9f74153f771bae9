"""Running a CLI's `main` in-process on bad input: exit code 2, one `error:` line naming what is
wrong, no traceback, nothing written (docs/guides/reliability.md)."""
from __future__ import annotations

import socket

import pytest


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refuse(main, argv, capsys, workdir, expected: str) -> str:
    """Run `main(argv)`; assert it refused as every CLI must and return its error line."""
    before = sorted(p.name for p in workdir.iterdir())
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert exit_info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert expected in lines[0], lines[0]
    assert sorted(p.name for p in workdir.iterdir()) == before, "nothing may be written"
    return lines[0]
