"""What a study must satisfy for `search.strategy: supernet`, checked when the study loads (before
anything is created): the space varies only what the supernet shares weights over, every objective
is something a sub-network with inherited weights can be scored on, and event data runs one T.

Whether a given trained supernet can be reused (`search.supernet.checkpoint`) needs the supernet
itself: `search.supernet.check_reusable`, which the run's plan calls."""
from __future__ import annotations

from typing import Any

from fwformer.cli import ConfigError
from search.study.objectives import SUPERNET_METRICS


def check_supernet_study(study: Any) -> None:
    """ConfigError (one line) when `study` cannot run with `search.strategy=supernet`."""
    if study.search.strategy != "supernet":
        return
    for key in study.space.dims:
        raise ConfigError(f"search.strategy=supernet shares weights over mixers and T only, but space.{key} is "
                          f"searched; fix {key} in the study (arch.{key}) or use search.strategy=trials")
    for metric in study.metric_names:
        if metric not in SUPERNET_METRICS:
            raise ConfigError(f"objective '{metric}' cannot be scored on a supernet's sub-networks (a training "
                              f"metric); with search.strategy=supernet the objectives must be among: "
                              f"{', '.join(SUPERNET_METRICS)}")
    from fwformer.data import dataset_info

    if dataset_info(study.base.data).event and len(study.space.T) > 1:
        raise ConfigError(f"search.strategy=supernet on event data needs one T (its frames are integrated for one "
                          f"T), but space.T={list(study.space.T)}; search T with search.strategy=trials")
