"""A trainable for tests, plugged in through the search's seam (`FWFORMER_SEARCH_TRAINABLE=
faulty_trainable:run_trial`, with this folder on PYTHONPATH): it trains like the real one, except for
the trials `FWFORMER_TEST_FAULTS` names (`<trial>:<fault>,...`):

- `raise`: training raises before it starts;
- `nan`: an infinite learning rate, so the loss turns NaN;
- `acc0`: every reported validation accuracy is 0 (a clear loser for the early-stopping rule).
"""
from __future__ import annotations

import os

from search.trials import train_and_report

FAULTS_ENV = "FWFORMER_TEST_FAULTS"


def faults() -> dict[int, str]:
    out = {}
    for item in filter(None, (s.strip() for s in os.environ.get(FAULTS_ENV, "").split(","))):
        number, _, kind = item.partition(":")
        out[int(number)] = kind
    return out


def run_trial(config: dict, shared_data=None) -> None:
    from fwformer.train import train

    fault = faults().get(int(config["number"]))

    def faulty_train(cfg, *, report, **kwargs):
        if fault == "raise":
            raise RuntimeError("injected fault")
        if fault == "nan":
            cfg.train.lr = float("inf")
        if fault != "acc0":
            return train(cfg, report=report, **kwargs)
        result = train(cfg, report=lambda m: report({**m, "val_acc": 0.0}), **kwargs)
        return {**result, "val_acc": 0.0}

    train_and_report(config, faulty_train, shared_data=shared_data)
