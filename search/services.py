"""Do the services a search needs answer, and can its files be written? Checked before anything is
created, each within a few seconds: an MLflow server or Ray cluster that is down, or a folder that
cannot be written, is one line naming the address (its password masked) instead of a hang or a
traceback after the study was half made.
"""
from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from fwformer.errors import ConfigError
from search.stores import redact, sqlite_path

TIMEOUT_S = 5.0
DATABASES = ("postgresql", "mysql", "mssql", "oracle")  # SQLAlchemy URLs both Optuna and MLflow take
TRACKING_SCHEMES = ("sqlite", "http", "https", *DATABASES)
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521, "http": 80, "https": 443}


def unreachable(host: str, port: int, timeout: float = TIMEOUT_S) -> Optional[str]:
    """None when a TCP connection to host:port opens within `timeout`, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return err.strerror or type(err).__name__


def check_writable_file(path: Path, what: str) -> None:
    """The file can be created or written: its folder exists and is writable."""
    folder = path.parent
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{what} '{path}' is not writable")
        return
    if not folder.is_dir():
        raise ConfigError(f"{what} '{path}': folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"{what} '{path}': folder '{folder}' is not writable")


def check_creatable(path: Path, what: str) -> None:
    """`path` can be written: an existing file we may write, or its nearest existing ancestor is a
    writable folder (the folders between are created)."""
    if path.is_file():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{what} '{path}' is not writable")
        return
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        raise ConfigError(f"{what} '{path}' cannot be written: '{existing}' is not a writable folder")


def check_database(url: str, what: str, timeout: float) -> None:
    parts = urlparse(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        path = sqlite_path(url)
        if path is None or not str(path):
            raise ConfigError(f"{what} '{redact(url)}' must be sqlite:///PATH (three slashes, then the file)")
        check_writable_file(path, what)
    elif scheme in DATABASES:
        why = unreachable(parts.hostname or "localhost", parts.port or DEFAULT_PORTS[scheme], timeout)
        if why:
            raise ConfigError(f"{what} '{redact(url)}' does not answer within {timeout:g} s ({why})")


def check_storage(url: str, timeout: float = TIMEOUT_S) -> None:
    """The Optuna storage: an RDB URL Optuna can write (sqlite file, or a database server that answers)."""
    scheme = urlparse(url).scheme.split("+")[0]
    if scheme not in ("sqlite", *DATABASES):
        raise ConfigError(f"--storage '{redact(url)}' has an unknown scheme '{scheme}'; expected sqlite:///FILE or a "
                          f"database URL ({', '.join(f'{d}://...' for d in DATABASES[:2])})")
    check_database(url, "--storage", timeout)


def check_tracking(uri: str, timeout: float = TIMEOUT_S) -> None:
    """The MLflow tracking store: a sqlite file we can write, a server that answers its /health, or a database."""
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme not in TRACKING_SCHEMES:
        raise ConfigError(f"--tracking-uri '{redact(uri)}' has an unknown scheme '{scheme}'; expected sqlite:///FILE, "
                          f"http(s)://HOST:PORT (an MLflow server) or a database URL (postgresql://..., mysql://...)")
    if scheme in ("http", "https"):
        why = _no_health(uri, timeout)
        if why:
            raise ConfigError(f"MLflow tracking server {redact(uri)} does not answer within {timeout:g} s ({why}); "
                              f"start it (mlflow server --host ... --port ...), or leave out --tracking-uri to track "
                              f"in sqlite:///mlflow.db here")
    else:
        check_database(uri, "--tracking-uri", timeout)


def _no_health(uri: str, timeout: float) -> Optional[str]:
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code} from /health"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return getattr(reason, "strerror", None) or str(reason)


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
