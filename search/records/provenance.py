"""Where a result came from: the code that made it."""
from __future__ import annotations

import subprocess
from pathlib import Path


def code_version() -> str:
    """`git describe` of the source tree when it is a checkout, else the installed package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return f"git {out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return f"fwformer-nas {version('fwformer-nas')}"
    except Exception:
        import fwformer

        return f"fwformer {fwformer.__version__}"
