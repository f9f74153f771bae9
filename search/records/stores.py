"""Where a search keeps its records: the Optuna storage and the MLflow tracking store, by URL."""
from __future__ import annotations

import os
from pathlib import Path

from fwformer.cli import redact, sqlite_path  # noqa: F401  (re-exported: the search's store URLs)


def default_sqlite(workdir: Path, name: str) -> str:
    return f"sqlite:///{(workdir / name).resolve()}"


def default_tracking_uri(workdir: Path) -> str:
    """MLFLOW_TRACKING_URI if set, else `sqlite:///mlflow.db` in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default_sqlite(workdir, "mlflow.db")


def experiment_url(server: str, experiment_id: str) -> str:
    """The study's page in the MLflow UI, in its model-training view: MLflow 3.x opens every
    experiment in its GenAI view (traces, no runs in sight) unless the address asks for the other.
    The experiment's `mlflow.experimentKind` tag (search.tracking) does not do it: MLflow 3.17's UI
    takes the view from the address, else from the last click on its GenAI / Model training switch,
    and reads the tag only where that switch is off (seen in its bundled UI code and in a browser)."""
    return f"{server.rstrip('/')}/#/experiments/{experiment_id}?workflowType=machine_learning"


def artifact_url(server: str, experiment_id: str, run_id: str, path: str) -> str:
    """A run's artifact in the MLflow UI, in the same model-training view as `experiment_url`."""
    run = f"{server.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return f"{run}/artifacts/{path}?workflowType=machine_learning"


def ui_server(tracking_uri: str) -> str:
    """The UI's address: the tracking server itself, or the one `mlflow ui` starts by default."""
    return tracking_uri if tracking_uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"


def ui_command(tracking_uri: str, workdir: Path, experiment_id: str) -> str:
    """How to open the study in the MLflow UI on this tracking store."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {experiment_url(tracking_uri, experiment_id)}"
    uri = "sqlite:///mlflow.db" if tracking_uri == default_sqlite(workdir, "mlflow.db") else tracking_uri
    return f"mlflow ui --backend-store-uri {uri}, then open {experiment_url(ui_server(tracking_uri), experiment_id)}"
