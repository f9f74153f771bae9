"""MLflow as the search sees it: the experiment, its parent run and one child run per trial
(`Tracker`), every write keyed by trial number (`TrialLog`) and sent through the `Outbox`, so an
outage of the tracking store delays writes and never loses one.
"""
from __future__ import annotations

from search.tracking.outbox import Outbox, is_transient
from search.tracking.tracker import Tracker
from search.tracking.trial_log import TrialLog

__all__ = [
    "Outbox",
    "Tracker",
    "TrialLog",
    "is_transient",
]
