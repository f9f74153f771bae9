"""Every architecture trained once, stand-alone, with its curve: val_acc and CPU-seconds per epoch.

Training is seeded and deterministic on the CPU, so a trial stopped at epoch e would have produced
exactly the first e epochs of this curve: an early-stopping strategy is charged the CPU-seconds up
to its stopping epoch, a full trial the whole run (the final energy pass included). A strategy
with an early-stopping rule trains under that rule (`stop`), as the search would, and the cache
keeps the partial curve; a later request that needs more epochs trains the architecture again. The
cache file lets a rerun reuse what was trained; a cache that must not train (`trains = False`, the
`progress` command's replay of a run still under way) raises `NotCached` where it would.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks.common import cpu_model, write_json


class NotCached(Exception):
    """A replay reached an architecture the cache holds no complete curve of, and may not train it."""


class CurveCache:
    trains = True  # False: replay only what is cached (NotCached where a training would be needed)

    def __init__(self, study: Any, path: Optional[Path], log: Callable[[str], None]):
        from fwformer.data import build_datasets

        self.study, self.path, self.log = study, path, log
        self.results: dict[str, dict] = {}
        if path is not None and path.is_file():
            try:
                self.results = dict(json.loads(path.read_text())["results"])
            except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
                from fwformer.errors import ConfigError

                raise ConfigError(f"--cache {path} is not a curve cache (JSON with results, as `run --cache` writes "
                                  f"it): {type(err).__name__}: {err}") from None
            log(f"  cache: {len(self.results)} architectures from {path}")
        self.datasets = build_datasets(study.base)

    def add(self, rows: dict[str, dict]) -> None:
        """Rows trained elsewhere (in worker processes), by key; written to the cache file."""
        self.results.update(rows)
        if rows and self.path is not None:
            write_json(self.path, dict(study=self.study.name, results=self.results))

    def key(self, params: dict) -> str:
        """The architecture's canonical key, remembered: building a trial config takes a tenth of a second."""
        memo = self.__dict__.setdefault("_keys", {})
        choice = tuple(sorted(params.items()))
        if choice not in memo:
            memo[choice] = self.study.space.canonical_key(self.study.trial_config(params))
        return memo[choice]

    def get(self, params: dict) -> Optional[dict]:
        return self.results.get(self.key(params))

    def __call__(self, params: dict, stop: Optional[Callable[[dict], bool]] = None) -> tuple[str, dict]:
        """The architecture's row, trained (under `stop`, when given) unless a complete one is cached."""
        key = self.key(params)
        if key not in self.results or not self.results[key]["complete"]:
            if not self.trains:
                raise NotCached(key)
            cfg = self.study.trial_config(params)
            self.results[key] = self._train(cfg, params, stop)
            if self.path is not None:
                write_json(self.path, dict(study=self.study.name, results=self.results))
            row = self.results[key]
            self.log(f"    trained #{len(self.results)} T{row['T']} {','.join(row['mixers'])}: "
                     f"val_acc {row.get('val_acc', float('nan')):.4f} energy {row.get('energy_mj', float('nan')):.4g} "
                     f"mJ ({row['cpu_s']:.1f} CPU-s)")
        return key, self.results[key]

    def _train(self, cfg: Any, params: dict, stop: Optional[Callable[[dict], bool]]) -> dict:
        from fwformer.train import NonFiniteLossError, train
        from search.records import model_cost

        param_count, bound = model_cost(cfg)
        cpu0 = time.process_time()
        epochs: list[dict] = []

        def on_epoch(metrics: dict) -> bool:
            epochs.append(dict(epoch=int(metrics["epoch"]), val_acc=float(metrics["val_acc"]),
                               cpu_s=time.process_time() - cpu0))
            if stop is not None and stop(metrics):
                raise _Stopped  # the search stops the trial here: no final measurement
            return False

        # The CPU it was trained on: a cache filled over several sessions may span machines whose
        # CPU-seconds differ (an AMD EPYC trained the CIFAR trials 1.8x faster than an Intel Xeon).
        row: dict[str, Any] = dict(mixers=list(cfg.block_mixers), T=cfg.T, params=dict(params),
                                   param_count=param_count, energy_bound_mj=bound, cpu=cpu_model())
        try:
            result = train(cfg, progress=False, datasets=self.datasets, report=on_epoch)
            row.update(val_acc=float(result["val_acc"]), energy_mj=float(result["energy_mj"]), failed=False,
                       complete=True)
        except _Stopped:
            row.update(failed=False, complete=False)
        except NonFiniteLossError as err:
            row.update(failed=True, error=str(err), complete=True)
        row.update(cpu_s=time.process_time() - cpu0, epochs=epochs)
        return row


class _Stopped(Exception):
    """Raised from the epoch callback when the early-stopping rule stops the trial."""
