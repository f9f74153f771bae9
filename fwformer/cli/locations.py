"""The checks every command line shares for its path and URL options: one check per kind of option.

- an output file (`--out FILE`, `--json FILE`, `--plot FILE`): `check_output_file`;
- an output folder (`--out DIR` of a training run, `--storage-path`): `check_output_folder`;
- an MLflow tracking URI (`--tracking-uri`): `check_tracking_uri` (scheme, a sqlite file we can
  write, a server that answers /health, a database that accepts connections);
- a database URL (the Optuna storage too): `check_database`.

Each raises a one-line ConfigError naming the option and the value (passwords masked, `redact`)
before any work, and writes nothing: whether a file can be created is tried with a temporary file
in the nearest existing folder, removed at once (permission bits alone lie to root and to
read-only mounts).
"""
from __future__ import annotations

import os
import re
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from fwformer.cli.errors import ConfigError

TIMEOUT_S = 5.0
DATABASES = ("postgresql", "mysql", "mssql", "oracle")  # SQLAlchemy URLs both Optuna and MLflow take
TRACKING_SCHEMES = ("sqlite", "http", "https", *DATABASES)
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521, "http": 80, "https": 443}


def redact(url: str) -> str:
    """`url` with the password of its user info masked: `postgresql://me:***@db/optuna`. For every
    place a store URL is shown or kept (errors, the terminal, MLflow tags, exported files)."""
    return re.sub(r"(?<=://)([^/@:\s]*):[^/@\s]*@", r"\1:***@", str(url))


def sqlite_path(url: str) -> Optional[Path]:
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


# ---- files and folders ---------------------------------------------------------------------------

def _nearest_existing(path: Path) -> Path:
    return next(p for p in (path, *path.parents) if p.exists() or p == p.parent)


def _can_create_in(folder: Path) -> Optional[str]:
    """None when a file can be created in the existing folder `folder`, else why not."""
    if not folder.is_dir():
        return f"'{folder}' is not a folder"
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as err:
        return f"'{folder}' is not writable ({err.strerror or type(err).__name__})"


def check_output_file(path: Path | str, what: str) -> None:
    """`path` can be written as a file: an existing file we may write, or a new one whose folders can be made."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} '{path}' is a folder; give a file name")
    if path.is_file():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{what} '{path}' is not writable")
        why = _can_create_in(path.parent)  # os.access says yes to root on a read-only mount
    else:
        why = _can_create_in(_nearest_existing(path.parent))
    if why:
        raise ConfigError(f"{what} '{path}' cannot be written: {why}")


def check_output_folder(path: Path | str, what: str) -> None:
    """`path` is a folder we can write into, or can be created (with the folders above it)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} '{path}' is a file, not a folder")
    why = _can_create_in(_nearest_existing(path))
    if why:
        raise ConfigError(f"{what} '{path}' cannot be written: {why}")


def check_writable_file(path: Path, what: str) -> None:
    """A store's file (a sqlite database) can be created or written where it is: its folder exists."""
    if not path.parent.is_dir():
        raise ConfigError(f"{what} '{path}': folder '{path.parent}' does not exist")
    check_output_file(path, what)


# ---- services ---------------------------------------------------------------------------------------

def unreachable(host: str, port: int, timeout: float = TIMEOUT_S) -> Optional[str]:
    """None when a TCP connection to host:port opens within `timeout`, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return err.strerror or type(err).__name__


def check_database(url: str, what: str, timeout: float = TIMEOUT_S) -> None:
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


def check_tracking_uri(uri: str, what: str = "--tracking-uri", timeout: float = TIMEOUT_S) -> None:
    """The MLflow tracking store: a sqlite file we can write, a server that answers its /health, or a database."""
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme not in TRACKING_SCHEMES:
        raise ConfigError(f"{what} '{redact(uri)}' has an unknown scheme '{scheme}'; expected sqlite:///FILE, "
                          f"http(s)://HOST:PORT (an MLflow server) or a database URL (postgresql://..., mysql://...)")
    if scheme in ("http", "https"):
        why = _no_health(uri, timeout)
        if why:
            raise ConfigError(f"MLflow tracking server {redact(uri)} does not answer within {timeout:g} s ({why}); "
                              f"start it (mlflow server --host ... --port ...) or give another {what}")
    else:
        check_database(uri, what, timeout)


def _no_health(uri: str, timeout: float) -> Optional[str]:
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code} from /health"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return getattr(reason, "strerror", None) or str(reason)
