"""Do the services a search needs answer, and can its files be written? Checked before anything is
created, each within a few seconds (the checks shared with every CLI live in `fwformer.cli`): an MLflow server or Ray cluster that is down, or a folder that
cannot be written, is one line naming the address (its password masked) instead of a hang or a
traceback after the study was half made.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from fwformer.cli import (DATABASES, TIMEOUT_S, ConfigError, check_database, check_output_file,  # noqa: F401
                          check_output_folder, check_tracking_uri, redact, unreachable)

def check_storage(url: str, timeout: float = TIMEOUT_S) -> None:
    """The Optuna storage: an RDB URL Optuna can write (sqlite file, or a database server that answers)."""
    scheme = urlparse(url).scheme.split("+")[0]
    if scheme not in ("sqlite", *DATABASES):
        raise ConfigError(f"--storage '{redact(url)}' has an unknown scheme '{scheme}'; expected sqlite:///FILE or a "
                          f"database URL ({', '.join(f'{d}://...' for d in DATABASES[:2])})")
    check_database(url, "--storage", timeout)


def check_tracking(uri: str, timeout: float = TIMEOUT_S) -> None:
    """The MLflow tracking store (`fwformer.cli.check_tracking_uri`, which every CLI shares)."""
    check_tracking_uri(uri, "--tracking-uri", timeout)


def check_ray_address(address: str, timeout: float = TIMEOUT_S) -> None:
    """A Ray cluster answers at `address` (`host:port`, `ray://host:port`, or `auto`: the cluster that
    `ray start --head` started on this machine, or RAY_ADDRESS)."""
    resolved = address
    if address == "auto":
        resolved = os.environ.get("RAY_ADDRESS") or _started_cluster()
        if not resolved:
            raise ConfigError("--address auto: no Ray cluster runs on this machine (start one with "
                              "`ray start --head`, or give --address HOST:PORT)")
    host, _, port = resolved.split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address '{address}' must be HOST:PORT, ray://HOST:PORT or auto")
    why = unreachable(host.strip("[]"), int(port), timeout)
    if why:
        raise ConfigError(f"Ray cluster at {resolved} does not answer within {timeout:g} s ({why}); start it "
                          f"(ray start --head) or check --address")


def _started_cluster() -> Optional[str]:
    """The address `ray start --head` records for `auto` on this machine, if any."""
    import tempfile

    for folder in {Path("/tmp/ray"), Path(tempfile.gettempdir()) / "ray"}:
        record = folder / "ray_current_cluster"
        if record.is_file() and record.read_text().strip():
            return record.read_text().strip()
    return None
