"""Everything a search checks before it creates anything: the study, the stores, the resources.

`prepare(args)` returns a `Plan` or raises ConfigError (one line, exit code 2); it writes nothing.
A resumed study takes the overrides it was started with (stored in the Optuna study), then the ones
given now, and keeps its hypervolume reference point.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from fwformer.cli import ConfigError
from search.run.services import check_output_folder, check_ray_address, check_storage, check_tracking
from search.records import default_sqlite, default_tracking_uri, redact, sqlite_path

SETUP_COMPLETE = "setup_complete"  # Optuna study attribute set once the study's records all exist


@dataclass
class Plan:
    study: Any  # search.study.Study
    workdir: Path
    storage: str
    tracking_uri: str
    resume: bool  # continue the stored study (False: create it)
    address: Optional[str]
    reference: list  # the hypervolume reference point, one value per objective
    results_dir: Path
    num_threads: Optional[int] = None
    overrides: list = field(default_factory=list)
    resume_command: str = ""
    half_made: bool = False  # a stored study whose setup never completed: deleted and created again
    storage_path: str = ""  # Ray Tune's storage of trial checkpoints (a shared folder or a URI on a cluster)
    datasets: Optional[tuple] = None  # (train, val, info) the data check built, for the driver's own use


def stored_studies(storage: str) -> dict[str, dict]:
    """{name: user attributes} of the studies in the storage; a missing sqlite file holds none and is
    not created."""
    path = sqlite_path(storage)
    if path is not None and not path.is_file():
        return {}
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        summaries = optuna.get_all_study_summaries(storage=storage, include_best_trial=False)
        return {s.study_name: dict(s.user_attrs) for s in summaries}
    except Exception as err:  # noqa: BLE001 - a bad URL, an unreadable file, a database that is down
        raise ConfigError(f"cannot open Optuna storage '{redact(storage)}': {str(err).splitlines()[0]}") from None


def absolute_data_paths(cfg: Any, workdir: Path) -> None:
    """Trials run in other processes (and folders): relative data paths are made absolute here."""
    for name in ("root", "path"):
        value = getattr(cfg.data, name, None)
        if value and not Path(value).expanduser().is_absolute():
            setattr(cfg.data, name, str((workdir / Path(value).expanduser()).resolve()))


def check_local_resources(resources: Any) -> None:
    cpus = os.cpu_count() or 1
    if resources.cpu > cpus:
        raise ConfigError(f"resources.cpu={resources.cpu:g} per trial, but this machine has {cpus} CPUs; "
                          f"lower resources.cpu or join a cluster with --address")
    if resources.gpu > 0:
        import torch

        gpus = torch.cuda.device_count()
        if gpus == 0 or resources.gpu > gpus:
            raise ConfigError(f"resources.gpu={resources.gpu:g} per trial, but this machine has {gpus} GPU(s); "
                              f"set resources.gpu=0 or join a cluster with GPUs with --address")


def prepare(args: Any) -> Plan:
    from search.study import study_sampler
    from search.study import load_study

    overrides = list(args.overrides)
    study = load_study(args.study, overrides)
    workdir = Path.cwd().resolve()
    storage = args.storage or default_sqlite(workdir, "optuna.db")
    tracking_uri = args.tracking_uri or default_tracking_uri(workdir)
    check_storage(storage)
    check_tracking(tracking_uri)
    if args.address is not None:
        check_ray_address(args.address)
    check_storage_path(args.storage_path, workdir)
    stored = stored_studies(storage)
    half_made = study.name in stored and not stored[study.name].get(SETUP_COMPLETE)
    resume = bool(args.resume) and not half_made
    reference = None
    if resume:
        if study.name not in stored:
            raise ConfigError(f"cannot resume study '{study.name}': it does not exist in {redact(storage)}"
                              + (f" (it holds: {', '.join(sorted(stored))})" if stored else "")
                              + "; start it without --resume")
        attrs = stored[study.name]
        first = [str(o) for o in attrs.get("overrides") or []]
        if first:
            overrides = [*first, *overrides]
            study = load_study(args.study, overrides)
        directions = [d for _, d in attrs.get("objectives") or []]
        if directions and directions != study.directions:
            raise ConfigError(f"study '{study.name}' was created with directions {directions}, but now has "
                              f"{study.directions}; resume it with the same objectives")
        reference = attrs.get("reference_point")
    elif study.name in stored and not half_made:
        raise ConfigError(f"study '{study.name}' already exists in {redact(storage)}; continue it with --resume, "
                          f"or start a new one under another name (name=NEW_NAME)")
    if study.search.strategy == "supernet" and study.search.supernet.checkpoint is not None:
        from search.supernet import check_reusable

        check_reusable(study.search.supernet.checkpoint, study)
    if args.address is None:
        check_local_resources(study.resources)
    datasets = check_training(study)
    study_sampler(study)  # bad sampler options fail here, not later
    reference = reference or study.reference_point()
    missing = [m for m, r in zip(study.metric_names, reference) if r is None]
    if missing:
        raise ConfigError(f"objectives {', '.join(missing)} need a hypervolume reference: set "
                          f"objectives[i].reference in the study")
    absolute_data_paths(study.base, workdir)
    threads = max(1, int(study.resources.cpu)) if study.base.train.num_threads is None else None
    command = ["python -m search.run --study", args.study, "--resume",
               *([f"--storage {redact(args.storage)}"] if args.storage else []),
               *([f"--tracking-uri {redact(args.tracking_uri)}"] if args.tracking_uri else []),
               *([f"--storage-path {args.storage_path}"] if args.storage_path else []),
               *([f"--address {args.address}"] if args.address else [])]
    return Plan(study=study, workdir=workdir, storage=storage, tracking_uri=tracking_uri, resume=resume,
                address=args.address, reference=[float(r) for r in reference],
                results_dir=workdir / "ray_results" / study.name, num_threads=threads, overrides=overrides,
                resume_command=" ".join(command), half_made=half_made,
                storage_path=args.storage_path or str(workdir / "ray_results" / study.name / "tune"),
                datasets=datasets)


def check_training(study: Any) -> tuple:
    """The training settings, and the data loaded once here: a missing file, a malformed array or
    labels that disagree with the model fail now, not in every trial after the study was created.
    Returns the datasets, which the driver reuses instead of loading them again."""
    from fwformer.config import check_train_config
    from fwformer.data import build_datasets

    check_train_config(study.base.train)
    return build_datasets(study.base)


def check_storage_path(storage_path: Optional[str], workdir: Path) -> None:
    """Ray Tune's storage for trial checkpoints: a local (or shared) folder, or a URI pyarrow knows
    (s3://, gs://, ...)."""
    if not storage_path or "://" in storage_path:
        return
    path = Path(storage_path)
    if not path.is_absolute():
        raise ConfigError(f"--storage-path '{storage_path}' must be an absolute folder (shared by every node) or a "
                          f"URI such as s3://bucket/path")
    check_output_folder(path, "--storage-path")
