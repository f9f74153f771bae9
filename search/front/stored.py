"""A study read back from its Optuna storage, read only: what `search.export` and `search.report`
open. Nothing here creates a study, writes an attribute or creates a storage: a missing sqlite file
is an error (never an empty new database), and an existing one is opened in SQLite's read-only mode,
so even a mistaken write fails instead of changing the file. Other databases are only read.

Errors are one line (ConfigError) naming the storage or study and what it holds.
"""
from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from fwformer.cli import ConfigError, closest
from search.front.front import Objectives
from search.records import CANDIDATES_SUFFIX, redact, sqlite_path

DEFAULT_STORAGE = "sqlite:///optuna.db"


def read_only_url(storage: str) -> str:
    """An sqlite URL as SQLite's read-only URI (`mode=ro`); any other URL unchanged."""
    path = sqlite_path(storage)
    if path is None:
        return storage
    return f"sqlite:///file:{quote(str(path.resolve()), safe='/')}?mode=ro&uri=true"


def open_read_only(storage: str) -> Any:
    """The Optuna storage behind `storage`, for reading; ConfigError when it is missing or unreadable."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = sqlite_path(storage)
    if path is not None and not path.is_file():
        raise ConfigError(f"no Optuna storage at '{redact(storage)}' ({path} does not exist); run the study first "
                          f"or pass --storage")
    try:
        return optuna.storages.RDBStorage(read_only_url(storage))
    except Exception as err:  # noqa: BLE001 - a bad URL, not an Optuna database, a server that is down
        raise ConfigError(f"cannot open Optuna storage '{redact(storage)}': {str(err).splitlines()[0]}") from None


def load_stored_study(study_name: str, storage: str, *, opened: Optional[Any] = None) -> Any:
    """The Optuna study `study_name` of `storage` (opened with `open_read_only` unless `opened` is
    given); ConfigError naming the studies the storage holds when it is not there."""
    import optuna

    opened = opened if opened is not None else open_read_only(storage)
    try:
        names = sorted(optuna.get_all_study_names(storage=opened))
    except Exception as err:  # noqa: BLE001
        raise ConfigError(f"cannot read Optuna storage '{redact(storage)}': {str(err).splitlines()[0]}") from None
    studies = [n for n in names if not n.endswith(CANDIDATES_SUFFIX)]  # candidate studies belong to their study
    if study_name not in names:
        raise ConfigError(f"unknown study '{study_name}'{closest(study_name, studies)} in storage '{redact(storage)}'; "
                          f"it holds: {', '.join(studies) or '(no studies)'}")
    if study_name.endswith(CANDIDATES_SUFFIX) and study_name[:-len(CANDIDATES_SUFFIX)] in studies:
        raise ConfigError(f"'{study_name}' holds the supernet's candidates of study '{study_name[:-len(CANDIDATES_SUFFIX)]}', "
                          f"not trained trials; give --study {study_name[:-len(CANDIDATES_SUFFIX)]}")
    return optuna.load_study(study_name=study_name, storage=opened)


def candidates_of(study: Any, storage: Any) -> Optional[Any]:
    """The supernet strategy's candidate study of `study` (`<study>.supernet`) in the same storage (a
    URL or an opened storage), or None for a study of trained trials only."""
    import optuna

    name = study.study_name + CANDIDATES_SUFFIX
    if name not in optuna.get_all_study_names(storage=storage):
        return None
    return optuna.load_study(study_name=name, storage=storage)


def study_objectives(study: Any) -> Objectives:
    """The objectives an Optuna study was created with (its metric names and directions)."""
    names = study.metric_names or [f"objective_{i}" for i in range(len(study.directions))]
    reference = study.user_attrs.get("reference_point") or [0.0] * len(names)
    return Objectives(tuple(names), tuple(d.name.lower() for d in study.directions), tuple(map(float, reference)))
