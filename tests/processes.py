"""Running the search's command line as a user would, for the end-to-end tests: its environment,
reading its output until a line appears, and ending a process with everything it started."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def search_env(**extra: str) -> dict:
    """This environment without the user's tracking store, the repo and this folder (test modules
    such as the faulty trainable) importable, plus `extra`."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("MLFLOW_TRACKING_URI", "FWFORMER_SEARCH_TRAINABLE", "FWFORMER_TEST_FAULTS")}
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(HERE), e.get("PYTHONPATH")]))
    e.update(extra)
    return e


def start(workdir: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """`python -m search.run ARGS` in its own session (so it can be stopped with all its children)."""
    return subprocess.Popen([sys.executable, "-m", "search.run", *args], cwd=workdir, env=env or search_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for(proc: subprocess.Popen, text: str, timeout: float = 300, seen: list | None = None) -> str:
    """Read `proc`'s output until a line holds `text`; returns everything read (also kept in `seen`)."""
    seen = [] if seen is None else seen
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"'{text}' never appeared:\n{''.join(seen)[-4000:]}")


def kill_group(proc: subprocess.Popen) -> None:
    """End `proc` and everything in its session (Ray helpers a killed driver orphaned, server workers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
